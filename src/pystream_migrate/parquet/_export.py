"""Export: one snapshot, the selected tables locked, N workers writing Parquet files.

The leader reads what to export inside an exported REPEATABLE READ snapshot, locks the
selected tables (``ONLY``, ACCESS SHARE, as dump does), and keeps the snapshot open
while the workers export the units (chunks, plain tables) largest first, each in a short
transaction that imports it and locks its chunk. A chunk is read with
``COPY (SELECT ... FROM chunk) TO STDOUT (FORMAT csv)``: the query form without ONLY, so
that a compressed chunk's rows come back decompressed, each exactly once.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa
from psycopg import sql

from pystream_migrate import __version__
from pystream_migrate.connection import connect
from pystream_migrate.copyio import copy_out_many
from pystream_migrate.errors import MigrateError, PreconditionFailed, UsageError
from pystream_migrate.parquet._decode import DecodeError
from pystream_migrate.parquet._filewriter import UnitWriter, WriteOptions
from pystream_migrate.parquet._layout import PARTIAL_SUFFIX
from pystream_migrate.parquet._manifest import Manifest
from pystream_migrate.parquet._pool import run_workers
from pystream_migrate.parquet._source import (
    Table,
    Unit,
    parse_bound,
    plan_units,
    select_tables,
)
from pystream_migrate.progress import Progress, make_progress
from pystream_migrate.selection import Selection
from pystream_migrate.session import begin_snapshot, configure_reader

# Time values in UTC and bytea in hex: the forms pyarrow's CSV reader parses at once.
EXPORT_SETTINGS = {"TimeZone": "UTC", "bytea_output": "hex"}


@dataclass
class ExportOptions:
    dsn: str
    directory: str
    jobs: int = 2
    selection: Selection = field(default_factory=Selection)
    since: str | None = None
    until: str | None = None
    write: WriteOptions = field(default_factory=WriteOptions)
    progress: str = "none"


@dataclass
class ExportResult:
    tables: int = 0
    units: int = 0
    skipped: int = 0  # complete from an earlier run
    files: int = 0
    rows: int = 0
    bytes: int = 0
    warnings: list[str] = field(default_factory=list)


def _configure(conn: psycopg.Connection) -> None:
    configure_reader(conn, EXPORT_SETTINGS)


def export_database(opts: ExportOptions) -> ExportResult:
    directory = Path(opts.directory)
    if directory.exists() and not directory.is_dir():
        raise UsageError(f"{directory} exists and is not a directory",
                         hint="give a directory with -o")
    leader = connect(opts.dsn)
    try:
        return _export(leader, opts, directory)
    except psycopg.errors.InsufficientPrivilege as exc:
        raise PreconditionFailed(
            f"the exporting role {leader.info.user!r} lacks a privilege on the source: "
            f"{exc.diag.message_primary}",
            hint="export as a superuser, the tables' owner, or a role with pg_read_all_data",
        ) from None
    finally:
        leader.close()


def _source_facts(conn: psycopg.Connection) -> tuple[dict[str, Any], str, bool]:
    row = conn.execute(
        "SELECT current_database(), current_setting('server_version'), "
        "(SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'timescaledb'), "
        "to_char(transaction_timestamp(), 'YYYY-MM-DD\"T\"HH24:MI:SS.USOF')").fetchone()
    assert row is not None
    facts = {"database": row[0], "server_version": row[1], "timescaledb": row[2]}
    return facts, str(row[3]), row[2] is not None


def _lock(conn: psycopg.Connection, tables: list[Table]) -> None:
    for i in range(0, len(tables), 500):
        names = [sql.SQL("ONLY {}").format(sql.Identifier(t.schema, t.name))
                 for t in tables[i:i + 500]]
        conn.execute(sql.SQL("LOCK TABLE {} IN ACCESS SHARE MODE").format(
            sql.SQL(", ").join(names)))


def _export(leader: psycopg.Connection, opts: ExportOptions, directory: Path) -> ExportResult:
    _configure(leader)
    since = parse_bound(leader, "--since", opts.since) if opts.since else None
    until = parse_bound(leader, "--until", opts.until) if opts.until else None
    snapshot = begin_snapshot(leader)
    facts, snapshot_time, timescaledb = _source_facts(leader)
    tables = select_tables(leader, opts.selection, timescaledb)
    if not tables and opts.selection.active:
        raise UsageError("no table matches the selection",
                         hint="check the -n/-N/-t/-T patterns")
    _lock(leader, tables)
    units = plan_units(leader, tables, since, until)
    options = {"compression": opts.write.compression,
               "row_group_size": opts.write.row_group_size}
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MigrateError(f"cannot create {directory}: {exc.strerror}") from None
    manifest = Manifest.for_export(directory, facts, options)
    _remove_partials(directory)
    todo = sorted((u for u in units if not manifest.complete(u.key)),
                  key=lambda u: (-u.est_bytes, u.key))
    result = ExportResult(tables=len(tables), units=len(units), skipped=len(units) - len(todo))
    job = _Job(opts, directory, snapshot, snapshot_time, facts, manifest, result)
    with make_progress(opts.progress) as progress:
        job.progress = progress
        progress.phase("export", total_bytes=sum(u.est_bytes for u in todo),
                       total_entries=len(todo))
        try:
            run_workers(opts.dsn, opts.jobs, todo, _configure, job.export_unit)
        finally:
            manifest.save()  # what is complete, also when a unit failed
    for t in tables:  # tables with no chunk in range still get their entry
        manifest.data.setdefault("tables", {}).setdefault(t.key, t.describe())
    manifest.save()
    leader.rollback()
    return result


def _remove_partials(directory: Path) -> None:
    """Files a killed run left under their temporary names."""
    for path in directory.glob(f"*/.*{PARTIAL_SUFFIX}"):
        path.unlink(missing_ok=True)


class _Job:
    """What every worker shares: options, snapshot, manifest, progress and totals."""

    def __init__(self, opts: ExportOptions, directory: Path, snapshot: str, snapshot_time: str,
                 facts: dict[str, Any], manifest: Manifest, result: ExportResult) -> None:
        self.opts = opts
        self.directory = directory
        self.snapshot = snapshot
        self.snapshot_time = snapshot_time
        self.facts = facts
        self.manifest = manifest
        self.result = result
        self.progress = Progress()
        self.lock = threading.Lock()

    def metadata(self, unit: Unit) -> dict[str, str]:
        t = unit.table
        info = {
            "source_database": self.facts["database"],
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

    def export_unit(self, conn: psycopg.Connection, worker: str, unit: Unit) -> None:
        begin_snapshot(conn, self.snapshot)
        schema, name = unit.relation
        try:
            conn.execute(sql.SQL("LOCK TABLE ONLY {} IN ACCESS SHARE MODE").format(
                sql.Identifier(schema, name)))
        except psycopg.errors.UndefinedTable:
            conn.rollback()
            with self.lock:  # drop_chunks after the snapshot: nothing stops it
                self.result.warnings.append(f"{unit.label} was dropped while the export "
                                            "ran; it was left out")
            return
        self.progress.start_entry(worker, unit.label)
        dest = self.directory / unit.table.key
        dest.mkdir(exist_ok=True)
        writer = UnitWriter(dest, unit.file_name, unit.table.columns, self.metadata(unit),
                            self.opts.write)
        rows = self._copy(conn, unit, writer)
        old = {f["path"] for f in self.manifest.files if f.get("unit") == unit.key}
        entries = self._entries(unit, writer.commit())
        self.manifest.record(unit.key, unit.table.key, unit.table.describe(), entries)
        for path in old - {e["path"] for e in entries}:
            (self.directory / path).unlink(missing_ok=True)
        with self.lock:
            self.result.files += len(entries)
            self.result.rows += rows
            self.result.bytes += sum(e["bytes"] for e in entries)
        self.progress.finish_entry(worker, rows)

    def _copy(self, conn: psycopg.Connection, unit: Unit, writer: UnitWriter) -> int:
        """COPY the unit's rows into ``writer``; its files stay temporary until commit."""
        schema, name = unit.relation
        # Not ONLY for a chunk: on a compressed chunk, ONLY reads only the rows written
        # since its compression; without it TimescaleDB returns all, decompressed, once.
        # ONLY for a plain table: an inheritance child is exported as a table of its own.
        only = sql.SQL("") if unit.chunk_name else sql.SQL("ONLY ")
        statement = sql.SQL("COPY (SELECT {} FROM {}{}) TO STDOUT (FORMAT csv)").format(
            sql.SQL(", ").join(c.select() for c in unit.table.columns), only,
            sql.Identifier(schema, name))
        counted: list[int] = []

        def sink(data: bytes) -> None:
            writer.feed(data)
            self.progress.advance(len(data))

        try:
            copy_out_many(conn, [statement], lambda _i: sink,
                          lambda _i, rows: counted.append(rows))
            writer.finish()
        except BaseException as exc:
            writer.abort()
            raise _explain(exc, unit) from None
        finally:
            with contextlib.suppress(psycopg.Error):
                conn.rollback()
        written = sum(r.rows for r in writer.results)
        if counted and counted[0] != written:
            writer.abort()
            raise MigrateError(f"{unit.label}: the server sent {counted[0]} rows but "
                               f"{written} were written")
        return written

    def _entries(self, unit: Unit, results: list[Any]) -> list[dict[str, Any]]:
        t = unit.table
        return [{"path": f"{t.key}/{r.name}", "unit": unit.key, "schema": t.schema,
                 "table": t.name, "chunk": unit.chunk_name, "compressed_chunk": unit.compressed,
                 "time_range": unit.time_range(), "rows": r.rows, "bytes": r.bytes,
                 "sha256": r.sha256, "snapshot_time": self.snapshot_time,
                 "exported": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
                for r in results]


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
