"""The SQL text of the restore's TOC entries, in an unnamed temporary file.

A restore of 100 000 chunks reads 300 000 entries; their CREATE, OWNER TO, GRANT,
COMMENT and DROP statements are ~500 bytes per chunk as Python strings, and each runs
once. :class:`~pystream_migrate.restore.entry.RestoreEntry` writes them to a
:class:`SqlSpool` (an unnamed file, gone when the restore ends) as the TOC is read,
and reads them back from it when the entry's attribute is used.
"""

from __future__ import annotations

import os
import struct
import tempfile
import threading

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
