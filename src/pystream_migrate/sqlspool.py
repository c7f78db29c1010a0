"""The SQL text of TOC entries in an unnamed temporary file: for the dump's catalog
and the restore's TOC, 300 000 entries at 100 000 chunks.

Their CREATE, OWNER TO, GRANT, COMMENT and DROP statements are ~500 bytes per chunk as
Python strings, and each is used once or twice. A :class:`SpooledTocEntry` writes them
to a :class:`SqlSpool` (an unnamed file, gone when the process ends) and reads them
back when the attribute is used; assigning one (``e.create_sql = ...``) keeps the new
text in memory, as a plain entry does. The dump builds its many entries (a chunk's
table, data and index) as spooled entries from the start (catalog/compact.py).
"""

from __future__ import annotations

import os
import struct
import tempfile
import threading
from typing import Any

from pystream_migrate.toc import TocEntry

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
        return self.get_all(at)[field]

    def get_all(self, at: int) -> tuple[str, ...]:
        """Every text :meth:`put` stored at ``at``, from one read (a few hundred bytes)."""
        with self._lock:
            self._flush()
        head = os.pread(self._fd, _LENGTHS.size, at)
        lengths = _LENGTHS.unpack(head)
        body = os.pread(self._fd, sum(lengths), at + _LENGTHS.size)
        out = []
        start = 0
        for length in lengths:
            out.append(body[start:start + length].decode())
            start += length
        return tuple(out)

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

    def sql_texts(self) -> tuple[str, str, str, str, str]:
        texts = list(self._spool.get_all(self._at)) if self._mask else [""] * len(SPOOLED)
        for i, slot in enumerate(_SLOTS):
            if not self._mask & 1 << i:  # assigned since, or never spooled
                texts[i] = str(slot.__get__(self, SpooledTocEntry))
        create, owner, acl, comment, drop = texts
        return create, owner, acl, comment, drop

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
