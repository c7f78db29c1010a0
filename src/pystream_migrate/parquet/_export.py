"""Export: one snapshot, the selected tables locked, N workers writing Parquet files.

The leader reads what to export inside an exported REPEATABLE READ snapshot, locks the
selected tables (``ONLY``, ACCESS SHARE, as dump does), leaves out what an earlier run
completed (the manifest), and keeps the snapshot open while the workers export the rest
(chunks, plain tables) largest first, in batches (:mod:`._batch`), each in a short
transaction that imports the snapshot and locks its chunks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from pystream_migrate.connection import connect
from pystream_migrate.errors import MigrateError, PreconditionFailed, UsageError
from pystream_migrate.parquet._batch import BatchExporter, make_batches
from pystream_migrate.parquet._filewriter import WriteOptions
from pystream_migrate.parquet._layout import PARTIAL_SUFFIX
from pystream_migrate.parquet._manifest import Manifest
from pystream_migrate.parquet._pool import run_workers
from pystream_migrate.parquet._source import (
    Table,
    parse_bound,
    plan_units,
    select_tables,
)
from pystream_migrate.progress import make_progress
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
    todo = [u for u in units if not manifest.complete(u.key)]
    job = BatchExporter(directory, opts.write, snapshot, snapshot_time, facts["database"],
                        manifest)
    with make_progress(opts.progress) as progress:
        job.progress = progress
        progress.phase("export", total_bytes=sum(u.est_bytes for u in todo),
                       total_entries=len(todo))
        try:
            run_workers(opts.dsn, opts.jobs, make_batches(todo), _configure, job.export)
        finally:
            manifest.save()  # what is complete, also when a unit failed
    for t in tables:  # tables with no chunk in range still get their entry
        manifest.data.setdefault("tables", {}).setdefault(t.key, t.describe())
    manifest.save()
    leader.rollback()
    return ExportResult(tables=len(tables), units=len(units), skipped=len(units) - len(todo),
                        files=job.files, rows=job.rows, bytes=job.bytes, warnings=job.warnings)


def _remove_partials(directory: Path) -> None:
    """Files a killed run left under their temporary names."""
    for path in directory.glob(f"*/.*{PARTIAL_SUFFIX}"):
        path.unlink(missing_ok=True)
