"""A worker's job: a batch of chunks or tables, read in one transaction, into Parquet files.

Small units go several to a batch (one snapshot import, one LOCK, their COPY statements
sent as one query: copyio.copy_out_many), as dump does with small tables: with thousands
of chunks the round trips, not the rows, decide the time. A large unit is a batch of its
own. Each unit is read with ``COPY (SELECT ... FROM [ONLY] rel) TO STDOUT (FORMAT csv)``
and written by its own :class:`UnitWriter`; its files are renamed and recorded in the
manifest only once its rows are all written. A failure stops the batch at the unit it
happened in: the units before it are kept, that one and the rest are not.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa
from psycopg import sql

from pystream_migrate import __version__
from pystream_migrate.copyio import copy_out_many
from pystream_migrate.errors import MigrateError, PreconditionFailed
from pystream_migrate.parquet._decode import DecodeError
from pystream_migrate.parquet._filewriter import FileResult, UnitWriter, WriteOptions
from pystream_migrate.parquet._manifest import Manifest
from pystream_migrate.parquet._source import Unit
from pystream_migrate.progress import Progress
from pystream_migrate.session import begin_and_lock

SMALL_UNIT = 4 * 1024 * 1024  # bytes on disk; larger units are a batch of their own
BATCH_UNITS = 32
BATCH_BYTES = 32 * 1024 * 1024


def make_batches(units: list[Unit]) -> list[list[Unit]]:
    """Largest first; small units grouped, within the limits above."""
    batches: list[list[Unit]] = []
    current: list[Unit] = []
    size = 0
    for u in sorted(units, key=lambda u: (-u.est_bytes, u.key)):
        if u.est_bytes >= SMALL_UNIT:
            batches.append([u])
            continue
        if current and (len(current) >= BATCH_UNITS or size + u.est_bytes > BATCH_BYTES):
            batches.append(current)
            current, size = [], 0
        current.append(u)
        size += u.est_bytes
    if current:
        batches.append(current)
    return batches


class BatchExporter:
    """What every worker shares: options, snapshot, manifest, progress and totals."""

    def __init__(self, directory: Path, write: WriteOptions, snapshot: str, snapshot_time: str,
                 database: str, manifest: Manifest) -> None:
        self.directory = directory
        self.write = write
        self.snapshot = snapshot
        self.snapshot_time = snapshot_time
        self.database = database
        self.manifest = manifest
        self.progress = Progress()
        self.lock = threading.Lock()
        self.files = self.rows = self.bytes = 0
        self.warnings: list[str] = []

    def export(self, conn: psycopg.Connection, worker: str, batch: list[Unit]) -> None:
        """Export the batch (run by a worker on its own connection)."""
        if not begin_and_lock(conn, self.snapshot, [u.relation for u in batch]):
            if len(batch) > 1:  # one of them was dropped: find which, one by one
                for unit in batch:
                    self.export(conn, worker, [unit])
                return
            with self.lock:  # drop_chunks after the snapshot: nothing can stop it
                self.warnings.append(f"{batch[0].label} was dropped while the export ran; "
                                     "it was left out")
            return
        writers = [self._writer(u) for u in batch]
        counted: list[int] = []
        try:
            self._copy(conn, worker, batch, writers, counted)
        finally:  # the units complete before a failure are kept
            for unit, writer, rows in zip(batch, writers, counted, strict=False):
                self._commit(unit, writer, rows)
                self.progress.finish_entry(worker, rows)

    def _writer(self, unit: Unit) -> UnitWriter:
        dest = self.directory / unit.table.key
        dest.mkdir(exist_ok=True)
        return UnitWriter(dest, unit.file_name, unit.table.columns, self._metadata(unit),
                          self.write)

    def _metadata(self, unit: Unit) -> dict[str, str]:
        t = unit.table
        info = {
            "source_database": self.database,
            "source_table": {"schema": t.schema, "table": t.name},
            "chunk": ({"schema": unit.chunk_schema, "table": unit.chunk_name,
                       "compressed": unit.compressed} if unit.chunk_name else None),
            "time_range": unit.time_range(),
            "snapshot_time": self.snapshot_time,
            "columns": {c.name: c.pg_type for c in t.columns},
            "notes": {c.name: c.note for c in t.columns if c.note},
            "tool": f"pystream-migrate {__version__}",
        }
        return {"pystream_migrate": json.dumps(info, ensure_ascii=False)}

    def _copy(self, conn: psycopg.Connection, worker: str, batch: list[Unit],
              writers: list[UnitWriter], counted: list[int]) -> None:
        """COPY every unit into its writer, each one's rows to ``counted`` once complete.

        The files stay temporary until committed; on a failure, those of the units not
        complete are removed.
        """
        current = [0]

        def sink_for(i: int) -> Callable[[bytes], None]:
            current[0] = i
            self.progress.start_entry(worker, batch[i].label)
            feed = writers[i].feed

            def sink(data: bytes) -> None:
                feed(data)
                self.progress.advance(len(data))
            return sink

        def done(i: int, rows: int) -> None:
            writers[i].finish()
            written = sum(r.rows for r in writers[i].results)
            if written != rows:
                raise MigrateError(f"{batch[i].label}: the server sent {rows} rows but "
                                   f"{written} were written")
            counted.append(rows)

        try:
            copy_out_many(conn, [_statement(u) for u in batch], sink_for, done)
        except BaseException as exc:
            for w in writers[len(counted):]:
                w.abort()
            raise _explain(exc, batch[current[0]]) from None
        finally:
            with contextlib.suppress(psycopg.Error):
                conn.rollback()

    def _commit(self, unit: Unit, writer: UnitWriter, rows: int) -> None:
        """Rename the unit's files and record them; remove what an earlier run left."""
        old = {f["path"] for f in self.manifest.unit_files(unit.key)}
        entries = self._entries(unit, writer.commit())
        self.manifest.record(unit.key, unit.table.key, unit.table.describe(), entries)
        for path in old - {e["path"] for e in entries}:
            (self.directory / path).unlink(missing_ok=True)
        with self.lock:
            self.files += len(entries)
            self.rows += rows
            self.bytes += sum(e["bytes"] for e in entries)

    def _entries(self, unit: Unit, results: list[FileResult]) -> list[dict[str, Any]]:
        t = unit.table
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        return [{"path": f"{t.key}/{r.name}", "unit": unit.key, "schema": t.schema,
                 "table": t.name, "chunk": unit.chunk_name, "compressed_chunk": unit.compressed,
                 "time_range": unit.time_range(), "rows": r.rows, "bytes": r.bytes,
                 "sha256": r.sha256, "snapshot_time": self.snapshot_time, "exported": now}
                for r in results]


def _statement(unit: Unit) -> sql.Composed:
    # Not ONLY for a chunk: on a compressed chunk, ONLY reads only the rows written since
    # its compression; without it TimescaleDB returns them all, decompressed, once.
    # ONLY for a plain table: an inheritance child is exported as a table of its own.
    only = sql.SQL("") if unit.chunk_name else sql.SQL("ONLY ")
    return sql.SQL("COPY (SELECT {} FROM {}{}) TO STDOUT (FORMAT csv)").format(
        sql.SQL(", ").join(c.select() for c in unit.table.columns), only,
        sql.Identifier(*unit.relation))


def _explain(exc: BaseException, unit: Unit) -> BaseException:
    """A one-line error naming the unit, for what can go wrong while it is exported."""
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        return PreconditionFailed(
            f"export of {unit.label} failed: {exc.diag.message_primary}",
            hint="export as a superuser, the table's owner, or a role with pg_read_all_data; "
                 "where row-level security is on, the role also needs BYPASSRLS")
    if isinstance(exc, psycopg.Error):
        return MigrateError(f"export of {unit.label} failed: "
                            f"{exc.diag.message_primary or str(exc).splitlines()[0]}")
    if isinstance(exc, (DecodeError, pa.ArrowException)):
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return MigrateError(f"export of {unit.label} failed: {first}")
    if isinstance(exc, OSError):
        return MigrateError(f"cannot write the files of {unit.label}: {exc.strerror or exc}")
    return exc
