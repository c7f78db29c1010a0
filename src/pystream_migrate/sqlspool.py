"""The SQL text of TOC entries in an unnamed temporary file: for the dump's catalog
and the restore's TOC, 300 000 entries at 100 000 chunks.

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

from pystream_migrate.errors import temp_file_failed

SPOOLED = ("create_sql", "owner_sql", "acl_sql", "comment_sql", "drop_sql")
_LENGTHS = struct.Struct(f"<{len(SPOOLED)}I")
_FLUSH_AT = 1 << 20


class SqlSpool:
    """Texts appended to an unnamed temporary file, read back by offset (thread-safe)."""

    def __init__(self) -> None:
        try:
            # Open as long as the spool (the entries hold it): no context manager fits.
            self._file = tempfile.TemporaryFile(prefix="pystream-migrate-sql-")  # noqa: SIM115
        except OSError as exc:
            raise temp_file_failed(exc, "the TOC's SQL text") from None
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
            try:
                os.pwrite(self._fd, self._buffer, self._end)
            except OSError as exc:
                raise temp_file_failed(exc, "the TOC's SQL text") from None
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
