"""The SQL text of TOC entries in an unnamed temporary file: for the dump's catalog
and the restore's TOC, 300 000 entries at 100 000 chunks. The first megabytes stay in
memory (a TOC of a few thousand chunks never needs the file).

Their CREATE, OWNER TO, GRANT, COMMENT and DROP statements are ~500 bytes per chunk as
Python strings, and each is used once or twice. A
:class:`~pystream_migrate.compactentry.CompactEntry` writes them to a :class:`SqlSpool`
(an unnamed file, gone when the process ends) and reads them back when the attribute is
used; assigning one (``e.create_sql = ...``) keeps the new text in memory, as a plain
entry does.
"""

from __future__ import annotations

import os
import struct
import tempfile
import threading
from array import array
from typing import IO

from pystream_migrate.errors import temp_file_failed

SPOOLED = ("create_sql", "owner_sql", "acl_sql", "comment_sql", "drop_sql")
_LENGTHS = struct.Struct(f"<{len(SPOOLED)}I")
_FLUSH_AT = 1 << 20
# Characters of text kept in memory, as the strings themselves, before the file is used
# (then they all go to it): a TOC of a few thousand chunks (~5 MB of SQL at 4 000) is
# never encoded, written and read back (7 us an entry, 0.1 s of the dump at 4 000
# chunks); one of 100 000 (~150 MB) goes to the file as before.
SPOOL_IN_MEMORY = 8 << 20


class SqlSpool:
    """Texts kept as they are until they add up to ``hold`` characters, then appended to
    an unnamed temporary file; read back by what :meth:`put` returned (thread-safe)."""

    def __init__(self, hold: int = SPOOL_IN_MEMORY) -> None:
        self._file: IO[bytes] | None = None
        self._fd = -1
        self._hold = hold
        self._held: list[tuple[str, ...]] | None = []  # None once in the file
        self._held_size = 0
        self._moved = array("q")  # the file offsets of the texts once held
        self._lock = threading.Lock()
        self._buffer = bytearray()
        self._end = 0  # file offset of the buffer's first byte

    def put(self, texts: tuple[str, ...]) -> int:
        """Store ``texts`` (one per name of SPOOLED); where they are, for :meth:`get`
        (held ones: a negative number)."""
        with self._lock:
            if self._held is not None:
                self._held.append(texts)
                self._held_size += sum(map(len, texts))
                if self._held_size >= self._hold:
                    self._move_held()
                return -len(self._moved or self._held)
            return self._append(texts)

    def _move_held(self) -> None:
        assert self._held is not None
        for texts in self._held:
            self._moved.append(self._append(texts))
        self._held = None

    def _append(self, texts: tuple[str, ...]) -> int:
        parts = [t.encode() for t in texts]
        at = self._end + len(self._buffer)
        self._buffer += _LENGTHS.pack(*map(len, parts))
        self._buffer += b"".join(parts)
        if len(self._buffer) >= _FLUSH_AT:
            self._flush()
        return at

    def _flush(self) -> None:
        if not self._buffer:
            return
        try:
            if self._file is None:
                # Open as long as the spool (the entries hold it): no context manager fits.
                self._file = tempfile.TemporaryFile(prefix="pystream-migrate-sql-")  # noqa: SIM115
                self._fd = self._file.fileno()
            os.pwrite(self._fd, self._buffer, self._end)
        except OSError as exc:
            raise temp_file_failed(exc, "the TOC's SQL text") from None
        self._end += len(self._buffer)
        self._buffer = bytearray()

    @property
    def in_file(self) -> bool:
        """Whether the texts went to the file."""
        return self._held is None

    def get(self, at: int, field: int) -> str:
        """Text number ``field`` of what :meth:`put` stored at ``at``."""
        return self.get_all(at)[field]

    def get_all(self, at: int) -> tuple[str, ...]:
        """Every text :meth:`put` stored at ``at``, from one read (a few hundred bytes)."""
        with self._lock:
            if at < 0:
                if self._held is not None:
                    return self._held[-at - 1]
                at = self._moved[-at - 1]
            self._flush()  # once reading starts, the buffer goes to the file
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
        self._held = None
        if self._file is not None:
            self._file.close()
