"""The restore's TOC entries with their SQL text in an unnamed temporary file.

A restore of 100 000 chunks reads 300 000 entries; their CREATE, OWNER TO, GRANT,
COMMENT and DROP statements are ~500 bytes per chunk as Python strings, and each runs
once. :func:`entry_reader` reads entries as :class:`SpooledTocEntry`: each statement
is written to a :class:`SqlSpool` (an unnamed file, gone when the restore ends) as the
TOC is read, and read back from it when the entry's attribute is used. Assigning one
(``e.create_sql = ...``) keeps the new text in memory, as a plain entry does.
"""

from __future__ import annotations

import os
import struct
import tempfile
import threading
from collections.abc import Callable
from typing import Any, cast

from pystream_migrate.restore.compactinfo import compactor
from pystream_migrate.toc import Strings, TocEntry

SPOOLED = ("create_sql", "owner_sql", "acl_sql", "comment_sql", "drop_sql")
_LENGTHS = struct.Struct(f"<{len(SPOOLED)}I")
_FLUSH_AT = 1 << 20


class SqlSpool:
    """Texts appended to an unnamed temporary file, read back by offset (thread-safe)."""

    def __init__(self) -> None:
        # Open as long as the spool (the entries hold it): no context manager fits.
        self._file = tempfile.TemporaryFile(prefix="pystream-migrate-sql-")  # noqa: SIM115
        self._fd = self._file.fileno()
        self._lock = threading.Lock()
        self._buffer = bytearray()
        self._end = 0  # file offset of the buffer's first byte

    def put(self, texts: tuple[str, ...]) -> int:
        """Store ``texts`` (one per name of SPOOLED); their offset for :meth:`get`."""
        parts = [t.encode() for t in texts]
        with self._lock:
            at = self._end + len(self._buffer)
            self._buffer += _LENGTHS.pack(*map(len, parts))
            self._buffer += b"".join(parts)
            if len(self._buffer) >= _FLUSH_AT:
                self._flush()
        return at

    def _flush(self) -> None:
        if self._buffer:
            os.pwrite(self._fd, self._buffer, self._end)
            self._end += len(self._buffer)
            self._buffer = bytearray()

    def get(self, at: int, field: int) -> str:
        """Text number ``field`` of what :meth:`put` stored at ``at``."""
        with self._lock:
            self._flush()
        head = os.pread(self._fd, _LENGTHS.size, at)
        lengths = _LENGTHS.unpack(head)
        start = at + _LENGTHS.size + sum(lengths[:field])
        return os.pread(self._fd, lengths[field], start).decode() if lengths[field] else ""

    def close(self) -> None:
        self._file.close()


def _spooled_property(field: int) -> property:
    name = SPOOLED[field]
    slot = TocEntry.__dict__[name]  # the dataclass's slot: holds text not in the spool
    bit = 1 << field

    def get(self: SpooledTocEntry) -> str:
        if self._mask & bit:
            return self._spool.get(self._at, field)
        return str(slot.__get__(self, type(self)))

    def put(self: SpooledTocEntry, value: str) -> None:
        self._mask &= ~bit
        slot.__set__(self, value)

    return property(get, put)


class SpooledTocEntry(TocEntry):
    """A :class:`TocEntry` whose SQL text lives in a :class:`SqlSpool` until assigned."""

    __slots__ = ("_at", "_mask", "_spool")
    _spool: SqlSpool
    _at: int
    _mask: int

    create_sql = _spooled_property(0)  # type: ignore[assignment]
    owner_sql = _spooled_property(1)  # type: ignore[assignment]
    acl_sql = _spooled_property(2)  # type: ignore[assignment]
    comment_sql = _spooled_property(3)  # type: ignore[assignment]
    drop_sql = _spooled_property(4)  # type: ignore[assignment]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._mask = 0  # bit i: SPOOLED[i] is in the spool
        super().__init__(*args, **kwargs)

    def spool_out(self, spool: SqlSpool) -> None:
        """Move this entry's SQL text into ``spool`` (entries without any keep none)."""
        texts = tuple(slot.__get__(self, SpooledTocEntry) for slot in _SLOTS)
        self._mask = sum(1 << i for i, t in enumerate(texts) if t)
        if self._mask:
            self._spool = spool
            self._at = spool.put(texts)
            for slot in _SLOTS:
                slot.__set__(self, "")


# The dataclass's slots under the spooled names (the properties above shadow them).
_SLOTS = tuple(TocEntry.__dict__[name] for name in SPOOLED)


def entry_reader(*, drop_sql: bool = True,
                 spool: SqlSpool | None = None) -> Callable[[dict[str, Any]], TocEntry]:
    """Like :func:`pystream_migrate.toc.entry_reader`, with each entry's SQL in ``spool``
    (a new one if not given; it lives as long as the entries do) and its ``info`` a
    compact :class:`~pystream_migrate.restore.compactinfo.Info`."""
    strings = Strings()
    target = spool or SqlSpool()
    compact = compactor()

    def read(d: dict[str, Any]) -> TocEntry:
        e = SpooledTocEntry.from_json(d, strings, drop_sql=drop_sql)
        assert isinstance(e, SpooledTocEntry)
        e.spool_out(target)
        e.info = cast(dict[str, Any], compact(e.info))
        return e

    return read
