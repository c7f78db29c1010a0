"""Writing one table's or chunk's rows as Parquet: row groups, temporary names, checksums.

:class:`UnitWriter` takes COPY's CSV bytes as they arrive, cuts them at row
boundaries, parses each block (:mod:`._decode`), and writes row groups of exactly
``row_group_size`` rows (the last one smaller), so memory holds about one row group
whatever the table's size. A file is written as ``.<name>.partial`` with its SHA-256
computed on the way, and only :meth:`UnitWriter.commit` renames it; a plain table
moves on to a new file once one reaches ``max_file_bytes``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

from pystream_migrate.parquet._decode import parse_block
from pystream_migrate.parquet._layout import partial_name
from pystream_migrate.parquet._types import ColumnSpec

BLOCK_BYTES = 8 * 1024 * 1024  # CSV text parsed at a time


@dataclass(frozen=True)
class WriteOptions:
    compression: str = "zstd"  # zstd, snappy or none
    row_group_size: int = 131072
    max_file_bytes: int | None = None  # None: one file whatever its size


@dataclass
class FileResult:
    name: str
    rows: int
    bytes: int
    sha256: str


class _HashingFile:
    """A binary file that counts and hashes what is written to it (for pyarrow)."""

    def __init__(self, fh: BinaryIO) -> None:
        self.fh = fh
        self.digest = hashlib.sha256()
        self.size = 0
        self.closed = False

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.size += len(data)
        return self.fh.write(data)

    def flush(self) -> None:
        self.fh.flush()

    def tell(self) -> int:
        return self.size

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def close(self) -> None:
        self.closed = True


class _ParquetFile:
    def __init__(self, directory: Path, name: str, schema: pa.Schema, opts: WriteOptions) -> None:
        self.name = name
        self.final = directory / name
        self.tmp = directory / partial_name(name)
        self.raw = open(self.tmp, "wb")  # noqa: SIM115 - closed in close()/abort()
        self.sink = _HashingFile(self.raw)
        compression = None if opts.compression == "none" else opts.compression
        self.writer = pq.ParquetWriter(pa.PythonFile(self.sink, mode="w"), schema,
                                       compression=compression, store_schema=True)
        self.rows = 0

    def write(self, table: pa.Table) -> None:
        self.writer.write_table(table, row_group_size=len(table) or None)
        self.rows += len(table)

    def close(self) -> FileResult:
        self.writer.close()
        self.raw.close()  # synced before the manifest lists it (Manifest.save)
        return FileResult(self.name, self.rows, self.sink.size, self.sink.digest.hexdigest())

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()
        with contextlib.suppress(OSError):
            self.raw.close()
        self.tmp.unlink(missing_ok=True)


def split_rows(buf: bytearray) -> int:
    """Length of the longest prefix of ``buf`` made of complete CSV rows (0 if none).

    A newline ends a row unless it is inside quotes; COPY doubles quotes inside a
    quoted value, so a newline is outside quotes when the quotes before it are even.
    """
    quotes = buf.count(b'"')
    end = len(buf)
    while True:
        nl = buf.rfind(b"\n", 0, end)
        if nl < 0:
            return 0
        quotes -= buf.count(b'"', nl + 1, end)
        if quotes % 2 == 0:
            return nl + 1
        end = nl


class UnitWriter:
    """One table's or chunk's rows → one Parquet file (several for a large plain table)."""

    def __init__(self, directory: Path, name_for: Callable[[int], str], columns: list[ColumnSpec],
                 metadata: dict[str, str], opts: WriteOptions) -> None:
        self.directory = directory
        self.name_for = name_for
        self.columns = columns
        self.schema = pa.schema([c.field() for c in columns], metadata=metadata)
        self.opts = opts
        self.buf = bytearray()
        self.pending: list[pa.Table] = []
        self.pending_rows = 0
        self.current: _ParquetFile | None = None
        self.done: list[_ParquetFile] = []
        self.results: list[FileResult] = []

    def feed(self, data: bytes) -> None:
        self.buf += data
        if len(self.buf) >= BLOCK_BYTES:
            cut = split_rows(self.buf)
            if cut:
                self._parse(bytes(self.buf[:cut]))
                del self.buf[:cut]

    def finish(self) -> None:
        """Write what is left; the files stay under their temporary names."""
        if self.buf:
            self._parse(bytes(self.buf))
            self.buf.clear()
        self._flush(final=True)
        if self.current is None and not self.results:
            self._file()  # an empty table still gets a file: its schema and metadata
        if self.current is not None:
            self.results.append(self.current.close())
            self.done.append(self.current)
            self.current = None

    def commit(self) -> list[FileResult]:
        """Rename every file to its final name."""
        for f in self.done:
            os.replace(f.tmp, f.final)
        return self.results

    def abort(self) -> None:
        if self.current is not None:
            self.current.abort()
        for f in self.done:
            f.tmp.unlink(missing_ok=True)

    def _parse(self, block: bytes) -> None:
        table = parse_block(block, self.columns)
        self.pending.append(table)
        self.pending_rows += len(table)
        self._flush(final=False)

    def _flush(self, *, final: bool) -> None:
        size = self.opts.row_group_size
        if not self.pending or (self.pending_rows < size and not final):
            return
        table = pa.concat_tables(self.pending).cast(self.schema)
        self.pending = []
        start = 0
        while len(table) - start >= size or (final and start < len(table)):
            self._file().write(table.slice(start, size))
            start += size
            self._next_file_if_full()
        rest = table.slice(start)
        self.pending = [rest] if len(rest) else []
        self.pending_rows = len(rest)

    def _file(self) -> _ParquetFile:
        if self.current is None:
            n = len(self.results)
            self.current = _ParquetFile(self.directory, self.name_for(n), self.schema, self.opts)
        return self.current

    def _next_file_if_full(self) -> None:
        limit = self.opts.max_file_bytes
        if self.current is not None and limit is not None and self.current.sink.size >= limit:
            self.results.append(self.current.close())
            self.done.append(self.current)
            self.current = None

    def file_entries(self) -> list[dict[str, Any]]:
        return [{"file": r.name, "rows": r.rows, "bytes": r.bytes, "sha256": r.sha256}
                for r in self.results]
