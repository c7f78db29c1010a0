"""Dump: one exported snapshot, catalog queries, N COPY workers, one archive writer.

The leader opens a REPEATABLE READ READ ONLY transaction, exports its snapshot, locks
the non-chunk tables (see catalog/sql/lockable_tables.sql), reads the catalog and
writes the header and TOC. The extension configuration tables (TimescaleDB's catalog)
are copied first, serially, so that they precede every chunk in the stream. Then N
workers copy the remaining tables and chunks, largest first, each in its own short
transaction under the leader's snapshot, and hand their bytes to the archive writer.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import errno
import os
import queue
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import psycopg
from psycopg import sql

from pystream_migrate import __version__, portable
from pystream_migrate.archive import ArchiveWriter, EntryStats, EntryWriter
from pystream_migrate.catalog import Catalog, read_catalog
from pystream_migrate.catalog.queries import fetch_all
from pystream_migrate.connection import connect, describe_target
from pystream_migrate.copyio import copy_out_many
from pystream_migrate.errors import MigrateError, PreconditionFailed
from pystream_migrate.progress import Progress, make_progress
from pystream_migrate.selection import (
    Selection,
    data_excluded,
    select_entries,
    selection_from_args,
)
from pystream_migrate.session import begin_snapshot, configure_reader
from pystream_migrate.timescale import (
    TimescaleInfo,
    annotate,
    extension_info,
    inspect_source,
    relation_roles,
)
from pystream_migrate.toc import Section, TocEntry


@dataclass
class DumpOptions:
    dsn: str
    file: str
    jobs: int = 2
    compress: int = 3
    schema_only: bool = False
    data_only: bool = False
    exclude_table_data: list[str] = field(default_factory=list)
    copy_format: str = "text"
    verbose: int = 0
    progress: str = "none"
    selection: Selection = field(default_factory=Selection)
    portable: bool = False

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> DumpOptions:
        return cls(
            dsn=args.dbname,
            file=args.file,
            jobs=getattr(args, "jobs", 2),
            compress=getattr(args, "compress", 3),
            schema_only=getattr(args, "schema_only", False),
            data_only=getattr(args, "data_only", False),
            exclude_table_data=list(getattr(args, "exclude_table_data", []) or []),
            copy_format=getattr(args, "copy_format", "text"),
            verbose=getattr(args, "verbose", 0),
            progress=getattr(args, "progress", "none"),
            selection=selection_from_args(args),
            portable=getattr(args, "portable", False),
        )


@dataclass
class DumpResult:
    entries: int
    data_entries: int
    rows: int
    raw_bytes: int
    archive_bytes: int
    unsupported: list[str]
    warnings: list[str]


Log = Callable[[str], None]


def _stderr_log(verbose: int) -> Log:
    def log(msg: str) -> None:
        if verbose:
            print(f"pystream-migrate: {msg}", file=sys.stderr, flush=True)

    return log


def run_dump(args: argparse.Namespace) -> int:
    opts = DumpOptions.from_args(args)
    result = dump_database(opts, log=_stderr_log(opts.verbose))
    for item in result.unsupported:
        print(f"pystream-migrate: warning: not carried: {item}", file=sys.stderr)
    for w in result.warnings:
        print(f"pystream-migrate: warning: {w}", file=sys.stderr)
    return 0


def _source_facts(conn: psycopg.Connection) -> dict[str, Any]:
    row = conn.execute(
        "SELECT current_database(), pg_catalog.current_setting('server_version'), "
        "pg_catalog.pg_encoding_to_char(encoding), datcollate, datctype "
        "FROM pg_catalog.pg_database WHERE datname = current_database()"
    ).fetchone()
    assert row is not None
    exts = dict(
        conn.execute("SELECT extname, extversion FROM pg_catalog.pg_extension").fetchall()
    )
    return {
        "database": row[0],
        "server_version": row[1],
        "server_version_num": conn.info.server_version,
        "encoding": row[2],
        "collate": row[3],
        "ctype": row[4],
        "extensions": exts,
    }


def _lock_tables(conn: psycopg.Connection, skip: list[int]) -> int:
    rows = fetch_all(conn, "lockable_tables", {"skip": skip})
    # One statement per batch keeps round trips few; every lock stays held to the end.
    batch = 500
    for i in range(0, len(rows), batch):
        # ONLY: without it, locking a hypertable would lock every one of its chunks.
        names = [sql.SQL("ONLY {}").format(sql.SQL(r["qualified"])) for r in rows[i : i + batch]]
        conn.execute(
            sql.SQL("LOCK TABLE {} IN ACCESS SHARE MODE").format(sql.SQL(", ").join(names))
        )
    return len(rows)


def _binary_fallbacks(conn: psycopg.Connection, relids: list[int]) -> set[int]:
    return {int(r["relid"]) for r in fetch_all(conn, "binary_copy", {"relids": relids})}


def _copy_statement(entry: TocEntry, fmt: str) -> sql.Composed:
    if entry.info.get("portable_rows"):  # portable mode: a chunk's rows, decompressed
        return portable.rows_statement(entry, fmt)
    spec = entry.copy
    assert spec is not None
    table = sql.Identifier(spec.schema, spec.table)
    cols = sql.SQL(", ").join(sql.Identifier(c) for c in spec.columns)
    options = sql.SQL(" (FORMAT binary)") if fmt == "binary" else sql.SQL("")
    if spec.where:
        # Extension configuration tables carry a row filter; only the query form takes it.
        return sql.SQL("COPY (SELECT {} FROM ONLY {} WHERE {}) TO STDOUT{}").format(
            cols, table, sql.SQL(spec.where), options
        )
    # Table form: reads only this table's own heap (never a compressed chunk's rows twice).
    return sql.SQL("COPY {} ({}) TO STDOUT{}").format(table, cols, options)


def _copy_entries(
    conn: psycopg.Connection, entries: list[TocEntry], writer: ArchiveWriter,
    progress: Progress, worker: str, current: list[TocEntry],
) -> list[EntryStats]:
    """Copy entries in the caller's transaction, their COPY statements sent as one query.

    ``current[0]`` is kept on the entry being copied, for the error message.
    """
    stats: list[EntryStats] = []
    open_writers: list[EntryWriter] = []

    def sink_for(i: int) -> Callable[[bytes], None]:
        entry = entries[i]
        current[0] = entry
        ew = writer.open_entry(entry.id)
        open_writers.append(ew)
        progress.start_entry(worker, entry.label)

        def sink(data: bytes) -> None:
            ew.write(data)
            progress.advance(len(data))
        return sink

    def done(i: int, rows: int) -> None:
        stats.append(open_writers[-1].close(rows))
        progress.finish_entry(worker, rows)

    statements = [_copy_statement(e, e.info.get("copy_format", "text")) for e in entries]
    copy_out_many(conn, statements, sink_for, done)
    return stats


def _copy_entry(
    conn: psycopg.Connection, entry: TocEntry, writer: ArchiveWriter, progress: Progress,
    worker: str,
) -> EntryStats:
    return _copy_entries(conn, [entry], writer, progress, worker, [entry])[0]


def _lock_and_copy(
    conn: psycopg.Connection, entry: TocEntry, writer: ArchiveWriter, progress: Progress,
    worker: str,
) -> EntryStats:
    """Lock one table for the length of its copy, then copy it (in the caller's transaction)."""
    spec = entry.copy
    assert spec is not None
    conn.execute(
        sql.SQL("LOCK TABLE ONLY {} IN ACCESS SHARE MODE").format(
            sql.Identifier(spec.schema, spec.table)
        )
    )
    return _copy_entry(conn, entry, writer, progress, worker)


class _Output:
    """The archive's destination: stdout, or FILE written as FILE.partial then renamed."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.fh: BinaryIO
        if path == "-":
            self.fh = sys.stdout.buffer
            self.tmp: Path | None = None
        else:
            target = Path(path)
            if target.is_dir():
                raise MigrateError(f"{path} is a directory", hint="give a file name with -f")
            self.tmp = target.with_name(target.name + ".partial")
            try:
                self.fh = open(self.tmp, "wb")  # noqa: SIM115 - closed in commit/abort
            except OSError as exc:
                raise MigrateError(f"cannot write {path}: {exc.strerror}") from None

    def commit(self) -> None:
        self.fh.flush()
        if self.tmp is not None:
            os.fsync(self.fh.fileno())
            self.fh.close()
            os.replace(self.tmp, self.path)

    def abort(self) -> None:
        if self.tmp is not None:
            with contextlib.suppress(OSError):
                self.fh.close()
            self.tmp.unlink(missing_ok=True)


def _write_error(exc: OSError, path: str) -> MigrateError:
    where = "standard output" if path == "-" else path
    if exc.errno == errno.ENOSPC:
        return MigrateError(
            f"disk full while writing {where}",
            hint="free space or write the archive elsewhere; nothing was kept",
        )
    if exc.errno == errno.EPIPE:
        return MigrateError(f"the reader of {where} went away (broken pipe)")
    return MigrateError(f"cannot write {where}: {exc.strerror or exc}")


def dump_database(opts: DumpOptions, *, log: Log | None = None) -> DumpResult:
    log = log or (lambda _m: None)
    leader = connect(opts.dsn)
    try:
        return _dump(leader, opts, log)
    except psycopg.errors.InsufficientPrivilege as exc:
        # Locking the tables, a catalog query: whatever the role may not read.
        raise PreconditionFailed(
            f"the dumping role {leader.info.user!r} lacks a privilege on the source: "
            f"{exc.diag.message_primary}",
            hint="dump as a superuser or a role with pg_read_all_data",
        ) from None
    finally:
        leader.close()


CATALOG_ATTEMPTS = 3
CATALOG_HELPERS = 2  # at most, and never more than --jobs


def _snapshot_and_catalog(
    leader: psycopg.Connection, opts: DumpOptions, log: Log
) -> tuple[str, dict[str, Any], TimescaleInfo, dict[int, dict[str, Any]], Catalog]:
    """Take the snapshot, lock, read the catalog; start over if the schema changed meanwhile.

    The server's pg_get_*def helpers read the current catalog, not the snapshot. A table
    dropped between the snapshot and its definition being read (drop_chunks, for one:
    chunks cannot all be locked) makes them fail with "cache lookup failed"; a new
    snapshot no longer has that table.
    """
    configure_reader(leader)
    helpers = _catalog_helpers(opts)
    try:
        return _read_source(leader, helpers, opts, log)
    finally:
        for h in helpers:
            h.close()


def _catalog_helpers(opts: DumpOptions) -> list[psycopg.Connection]:
    """Connections that run the heaviest catalog queries ahead (catalog/prefetch.py)."""
    helpers: list[psycopg.Connection] = []
    for _ in range(min(opts.jobs, CATALOG_HELPERS)):
        conn = connect(opts.dsn)
        helpers.append(conn)
        configure_reader(conn)
    return helpers


def _read_source(
    leader: psycopg.Connection, helpers: list[psycopg.Connection], opts: DumpOptions,
    log: Log,
) -> tuple[str, dict[str, Any], TimescaleInfo, dict[int, dict[str, Any]], Catalog]:
    for attempt in range(1, CATALOG_ATTEMPTS + 1):
        snapshot = begin_snapshot(leader)
        try:
            for h in helpers:
                begin_snapshot(h, snapshot)
            facts = _source_facts(leader)
            tsinfo = extension_info(leader)
            roles = relation_roles(leader, tsinfo)
            chunk_relids = [relid for relid, r in roles.items() if r["role"] == "chunk"]
            locked = _lock_tables(leader, chunk_relids)
            log(f"snapshot {snapshot} on {describe_target(opts.dsn)}; locked {locked} tables")
            catalog = read_catalog(leader, helpers)
            inspect_source(leader, tsinfo, catalog)
            return snapshot, facts, tsinfo, roles, catalog
        except (psycopg.errors.InternalError_, psycopg.errors.UndefinedTable) as exc:
            leader.rollback()
            for h in helpers:
                h.rollback()
            if attempt == CATALOG_ATTEMPTS:
                raise MigrateError(
                    f"the source's schema kept changing while it was read "
                    f"({exc.diag.message_primary})",
                    hint="run the dump again when no DDL or retention job is running",
                ) from None
            log(f"the schema changed while it was read ({exc.diag.message_primary}); "
                "starting again from a new snapshot")
    raise AssertionError("unreachable")


def _dump(leader: psycopg.Connection, opts: DumpOptions, log: Log) -> DumpResult:
    snapshot, facts, tsinfo, roles, catalog = _snapshot_and_catalog(leader, opts, log)
    entries = annotate(catalog.entries, roles)
    if opts.portable:  # portable mode (portable/): TimescaleDB objects as API steps
        entries = portable.dump_entries(leader, roles, entries)
    if opts.schema_only:
        # TimescaleDB's catalog is part of the schema: without it a hypertable would
        # come back as a plain table with orphaned chunks.
        entries = [e for e in entries if e.section is not Section.DATA or e.info.get("extconfig")]
    elif opts.data_only:
        entries = [e for e in entries if e.section is Section.DATA]
    entries = select_entries(entries, opts.selection)
    entries = [e for e in entries if not data_excluded(e, opts.exclude_table_data)]
    data = [e for e in entries if e.copy is not None]
    if opts.copy_format == "binary":
        fallback = _binary_fallbacks(leader, [int(e.info["relid"]) for e in data
                                              if e.info.get("relid") is not None])
        for e in data:
            e.info["copy_format"] = "text" if e.info.get("relid") in fallback else "binary"
    log(f"catalog: {len(entries)} entries, {len(data)} with data, "
        f"{len(catalog.unsupported)} unsupported")

    header = {
        "tool": "pystream-migrate",
        "tool_version": __version__,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "source": {**facts, "timescaledb": tsinfo.version,
                   "timescaledb_license": tsinfo.license},
        "portable": opts.portable,
        "options": {"schema_only": opts.schema_only, "data_only": opts.data_only,
                    "copy_format": opts.copy_format, "compress": opts.compress},
        "unsupported": [u.to_json() for u in catalog.unsupported],
        "warnings": list(catalog.warnings),
    }
    dropped: list[TocEntry] = []
    warnings = list(catalog.warnings)
    out = _Output(opts.file)
    try:
        writer = ArchiveWriter(out.fh, header, [e.to_json() for e in entries],
                               level=opts.compress)
        with make_progress(opts.progress) as progress:
            progress.phase("dump", total_bytes=sum(int(e.info.get("est_bytes") or 0)
                                                   for e in data),
                           total_entries=len(data))
            stats = _copy_all(leader, snapshot, opts, data, writer, log, progress, dropped)
        for e in dropped:
            warnings.append(f"{e.label} was dropped while the dump ran (a retention policy "
                            "or drop_chunks); restore leaves this chunk out")
        writer.finish({
            "entries": len(entries),
            "dropped_chunks": [{"entry": e.id, "schema": e.copy.schema if e.copy else None,
                                "table": e.copy.table if e.copy else None} for e in dropped],
            "warnings": warnings,
        })
        out.commit()
    except OSError as exc:
        out.abort()
        raise _write_error(exc, opts.file) from None
    except BaseException:
        out.abort()
        raise
    leader.rollback()
    rows = sum(s.rows for s in stats)
    raw = sum(s.raw_bytes for s in stats)
    log(f"dumped {rows} rows ({raw} bytes raw) into {writer.bytes_written} archive bytes")
    return DumpResult(
        entries=len(entries),
        data_entries=len(data),
        rows=rows,
        raw_bytes=raw,
        archive_bytes=writer.bytes_written,
        unsupported=[u.describe() for u in catalog.unsupported],
        warnings=warnings,
    )


def _copy_all(
    leader: psycopg.Connection,
    snapshot: str,
    opts: DumpOptions,
    data: list[TocEntry],
    writer: ArchiveWriter,
    log: Log,
    progress: Progress,
    dropped: list[TocEntry],
) -> list[EntryStats]:
    """Copy every data entry; chunks dropped meanwhile go to ``dropped``."""
    stats: list[EntryStats] = []
    # Extension configuration first, serially, in foreign-key order: restore loads it
    # before any chunk, also when it reads the archive as a stream.
    config = sorted((e for e in data if e.info.get("extconfig")),
                    key=lambda e: (e.info.get("fk_order", 0), e.id))
    for e in config:
        stats.append(_guarded(e, lambda e=e: _copy_entry(leader, e, writer, progress,
                                                         "leader")))
    rest = [e for e in data if not e.info.get("extconfig")]
    rest.sort(key=lambda e: (-int(e.info.get("est_bytes") or 0), e.id))
    if not rest:
        return stats
    work: queue.Queue[TocEntry] = queue.Queue()
    for e in rest:
        work.put(e)
    failure: list[BaseException] = []
    lock = threading.Lock()
    done = [0]

    def record(batch: list[TocEntry], copied: list[EntryStats]) -> None:
        with lock:
            for entry, st in zip(batch, copied, strict=True):
                stats.append(st)
                done[0] += 1
                if opts.verbose > 1:
                    log(f"[{done[0]}/{len(rest)}] {entry.label}: {st.rows} rows")

    def copy_one(conn: psycopg.Connection, name: str, entry: TocEntry) -> None:
        try:
            st = _guarded(entry, lambda: _lock_and_copy(conn, entry, writer, progress, name))
        except _ChunkDropped:
            progress.finish_entry(name, 0)
            with lock:
                dropped.append(entry)
            return
        record([entry], [st])

    def copy_batch(conn: psycopg.Connection, name: str, batch: list[TocEntry]) -> None:
        # Every table of the batch is locked: none can be dropped under the copy.
        current = [batch[0]]
        copied = _guarded_many(current, lambda: _copy_entries(
            conn, batch, writer, progress, name, current))
        record(batch, copied)

    def worker(name: str) -> None:
        try:
            conn = connect(opts.dsn)
        except BaseException as exc:
            failure.append(exc)
            return
        try:
            configure_reader(conn)
            while not failure:
                batch = _take_batch(work)
                if not batch:
                    return
                if len(batch) > 1 and _lock_batch(conn, snapshot, batch):
                    copy_batch(conn, name, batch)
                    conn.rollback()  # read-only: ends the transaction, releases the locks
                    continue
                # A large table, or a batch one of whose tables is gone: one at a time.
                for entry in batch:
                    begin_snapshot(conn, snapshot)
                    copy_one(conn, name, entry)
                    conn.rollback()
        except BaseException as exc:
            failure.append(exc)
        finally:
            conn.close()

    threads = [threading.Thread(target=worker, args=(f"worker {i + 1}",), daemon=True)
               for i in range(min(opts.jobs, len(rest)))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failure:
        raise failure[0]
    return stats


# Small tables and chunks are copied several to a transaction: one snapshot import and
# one LOCK for the lot. The limits keep the locks a worker holds at once few.
SMALL_ENTRY = 4 * 1024 * 1024
BATCH_ENTRIES = 32
BATCH_BYTES = 32 * 1024 * 1024


def _take_batch(work: queue.Queue[TocEntry]) -> list[TocEntry]:
    try:
        first = work.get_nowait()
    except queue.Empty:
        return []
    batch, size = [first], int(first.info.get("est_bytes") or 0)
    if size >= SMALL_ENTRY:
        return batch
    while len(batch) < BATCH_ENTRIES and size < BATCH_BYTES:
        try:
            nxt = work.get_nowait()
        except queue.Empty:
            break
        batch.append(nxt)
        size += int(nxt.info.get("est_bytes") or 0)
    return batch


def _lock_batch(conn: psycopg.Connection, snapshot: str, batch: list[TocEntry]) -> bool:
    """Start a snapshot transaction and lock every table of the batch; False if one is gone."""
    begin_snapshot(conn, snapshot)
    names = [sql.SQL("ONLY {}").format(sql.Identifier(e.copy.schema, e.copy.table))
             for e in batch if e.copy is not None]
    try:
        conn.execute(sql.SQL("LOCK TABLE {} IN ACCESS SHARE MODE").format(
            sql.SQL(", ").join(names)))
    except psycopg.errors.UndefinedTable:
        conn.rollback()
        return False
    return True


class _ChunkDropped(Exception):
    """A chunk was dropped (e.g. by a retention policy) after the snapshot was taken."""


def _guarded(entry: TocEntry, action: Callable[[], EntryStats]) -> EntryStats:
    """Run one entry's copy; turn a server error into a one-line error naming the entry."""
    return _guarded_many([entry], lambda: [action()])[0]


def _guarded_many(current: list[TocEntry],
                  action: Callable[[], list[EntryStats]]) -> list[EntryStats]:
    """Run copies; a server error becomes a one-line error naming ``current[0]``."""
    try:
        return action()
    except psycopg.errors.UndefinedTable:
        entry = current[0]
        if entry.info.get("chunk"):
            # Nothing can stop drop_chunks short of locking every chunk, which does not
            # fit the lock table; the chunk is left out, consistently, at restore.
            raise _ChunkDropped from None
        raise MigrateError(
            f"{entry.label} was dropped while the dump ran",
            hint="run the dump again; pause retention jobs or DDL on the source during it",
        ) from None
    except psycopg.errors.InsufficientPrivilege as exc:
        msg = exc.diag.message_primary or str(exc).splitlines()[0]
        raise PreconditionFailed(
            f"dump of {current[0].label} failed: {msg}",
            hint="dump as a superuser, the table's owner, or a role with pg_read_all_data; "
                 "where row-level security is on, the role also needs BYPASSRLS",
        ) from None
    except psycopg.Error as exc:
        msg = exc.diag.message_primary or str(exc).splitlines()[0]
        raise MigrateError(f"dump of {current[0].label} failed: {msg}") from None
