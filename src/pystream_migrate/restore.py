"""Restore: checks, restoring mode, pre-data, catalog data, parallel data and post-data.

Sequence (see docs/architecture.md):
1. checks that change nothing: archive readable, target reachable and empty, versions;
2. ``timescaledb_pre_restore()``, and only then the worker connections;
3. pre-data DDL in TOC order, in batches (never one transaction for everything);
4. extension configuration data (TimescaleDB's catalog), serially, in foreign-key order;
5. table and chunk data on N workers, largest first, each entry one transaction
   (TRUNCATE + COPY FREEZE + a resume record); every post-data item is queued as soon
   as the data it needs is in, and items that lock the same table never run together;
6. ``timescaledb_post_restore()``, also when something failed; then ANALYZE.
"""

from __future__ import annotations

import argparse
import contextlib
import heapq
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import pq, sql

from pystream_migrate import portable, restore_state, timescale
from pystream_migrate.archive import ArchiveReader
from pystream_migrate.catalog.queries import fetch_all
from pystream_migrate.connection import connect, describe_target, parse_dsn, with_dbname
from pystream_migrate.errors import ArchiveError, MigrateError, PreconditionFailed
from pystream_migrate.progress import Progress, make_progress
from pystream_migrate.restore_stream import StreamedEntry
from pystream_migrate.selection import Selection, select_entries, selection_from_args
from pystream_migrate.session import configure_writer
from pystream_migrate.toc import Section, TocEntry

DDL_BATCH = 200  # pre-data entries per transaction
# Small data entries and post-data items share a transaction, a few at a time: fewer
# commits (each a WAL flush on a real server) and round trips for many small chunks.
SMALL_ENTRY = 4 * 1024 * 1024
BATCH_ENTRIES = 16
BATCH_BYTES = 16 * 1024 * 1024
ANALYZE_BATCH = 50  # tables per ANALYZE statement
# Entries from this size on are loaded with TRUNCATE + COPY FREEZE: frozen rows need no
# anti-wraparound vacuum later. For tiny chunks that TRUNCATE (a new file for the table)
# costs more than it saves. Either way the entry's resume record commits with its rows.
FREEZE_MIN = 64 * 1024


@dataclass
class RestoreOptions:
    dsn: str
    file: str
    jobs: int = 2
    no_owner: bool = False
    no_privileges: bool = False
    no_tablespaces: bool = False
    clean: bool = False
    if_exists: bool = False
    create: bool = False
    sections: list[str] = field(default_factory=list)
    schema_only: bool = False
    data_only: bool = False
    continue_on_error: bool = False
    resume: bool = False
    analyze: bool = True
    use_list: str | None = None
    verify_archive: bool = True
    selection: Selection = field(default_factory=Selection)
    verbose: int = 0
    progress: str = "none"
    mode: str | None = None  # --mode: catalog or portable (default: the archive's)
    decompress: bool = False

    @classmethod
    def from_args(cls, a: argparse.Namespace) -> RestoreOptions:
        return cls(
            dsn=a.dbname, file=a.file, jobs=getattr(a, "jobs", 2),
            no_owner=getattr(a, "no_owner", False),
            no_privileges=getattr(a, "no_privileges", False),
            no_tablespaces=getattr(a, "no_tablespaces", False),
            clean=getattr(a, "clean", False), if_exists=getattr(a, "if_exists", False),
            create=getattr(a, "create", False), sections=list(getattr(a, "section", []) or []),
            schema_only=getattr(a, "schema_only", False),
            data_only=getattr(a, "data_only", False),
            continue_on_error=getattr(a, "continue_on_error", False),
            resume=getattr(a, "resume", False), analyze=not getattr(a, "no_analyze", False),
            use_list=getattr(a, "use_list", None), verbose=getattr(a, "verbose", 0),
            verify_archive=not getattr(a, "skip_archive_check", False),
            selection=selection_from_args(a),
            progress=getattr(a, "progress", "none"),
            mode=getattr(a, "mode", None), decompress=getattr(a, "decompress", False),
        )


@dataclass
class RestoreResult:
    entries: int = 0
    rows: int = 0
    skipped: int = 0  # already done by an interrupted run (--resume)
    errors: list[str] = field(default_factory=list)


Log = Callable[[str], None]


def run_restore(args: argparse.Namespace) -> int:
    opts = RestoreOptions.from_args(args)

    def log(msg: str) -> None:
        if opts.verbose:
            print(f"pystream-migrate: {msg}", file=sys.stderr, flush=True)

    result = restore_archive(opts, log=log)
    if result.errors:
        for e in result.errors:
            print(f"pystream-migrate: error: {e}", file=sys.stderr)
        raise MigrateError(
            f"restore finished with {len(result.errors)} errors (listed above)",
            hint="the target is incomplete; fix the cause and restore again with --clean",
        )
    return 0


def _sigterm_to_interrupt() -> Callable[[], None]:
    """Turn SIGTERM into KeyboardInterrupt so the restore still leaves restoring mode."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, handler)
    return lambda: signal.signal(signal.SIGTERM, old)


@contextlib.contextmanager
def _interrupts_deferred() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM until the block is done, then raise KeyboardInterrupt.

    Entering and leaving TimescaleDB's restoring mode must not be cut in half: an
    interrupt there would cancel timescaledb_post_restore() and leave the target in
    restoring mode.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []

    def hold(signum: int, frame: Any) -> None:
        caught.append(signum)

    old = {s: signal.signal(s, hold) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    if caught:
        raise KeyboardInterrupt


def restore_archive(opts: RestoreOptions, *, log: Log | None = None) -> RestoreResult:
    log = log or (lambda _m: None)
    reader = ArchiveReader.open(opts.file)
    restore_signal = _sigterm_to_interrupt()
    try:
        if reader.seekable:
            # A truncated or damaged file stops here, before anything on the target changes.
            reader.index()
            if opts.verify_archive:
                log("checking every checksum in the archive before restoring")
                reader.verify()
        return _Restore(opts, reader, log).run()
    finally:
        restore_signal()
        reader.close()


class _Restore:
    def __init__(self, opts: RestoreOptions, reader: ArchiveReader, log: Log) -> None:
        self.opts = opts
        self.reader = reader
        self.log = log
        self.header = reader.header
        self.entries = [TocEntry.from_json(d) for d in reader.toc]
        self.by_id = {e.id: e for e in self.entries}
        self.source = self.header.get("source", {})
        self.result = RestoreResult()
        self.count_lock = threading.Lock()
        self.done: set[int] = set()
        self.selected = self._select()
        self.identity = restore_state.archive_identity(self.header)
        self.ts_schema: str | None = None
        self.progress: Progress = make_progress("none")
        self.sizes: dict[int, Any] = reader.index() if reader.seekable else {}
        # Chunks dropped on the source while the dump ran (from the archive's footer).
        self.dropped_chunks: list[dict[str, Any]] = []
        self.hypertable_oids = {int(e.info["oid"]) for e in self.entries
                                if e.kind == "TABLE" and e.info.get("hypertable")
                                and e.info.get("oid") is not None}
        self.after_restoring_mode: list[TocEntry] = []
        # Portable mode (portable/): no TimescaleDB catalog, no restoring mode.
        self.portable_mode = portable.archive_mode(self.header, opts.mode) == "portable"
        self.portable: portable.PortableRestore | None = None

    # ----------------------------------------------------------------- selection
    def _select(self) -> set[int]:
        o = self.opts
        sections = set(o.sections)
        if o.schema_only:
            sections |= {"pre-data", "post-data"}
        if o.data_only:
            sections |= {"data"}
        listed: set[int] | None = None
        if o.use_list:
            listed = _read_list_file(o.use_list)
        chosen = set()
        allowed = {e.id for e in select_entries(self.entries, o.selection)}
        for e in self.entries:
            if e.id not in allowed:
                continue
            if o.schema_only and e.info.get("extconfig"):
                pass  # TimescaleDB's catalog belongs to the schema (see dump --schema-only)
            elif sections and str(e.section) not in sections:
                continue
            if listed is not None and e.id not in listed:
                continue
            chosen.add(e.id)
        return chosen

    # ----------------------------------------------------------------- main flow
    def run(self) -> RestoreResult:
        self.progress = make_progress(self.opts.progress)
        failed = True
        try:
            result = self._run()
            failed = bool(result.errors)
            return result
        finally:
            self.progress.close(failed=failed)

    def _run(self) -> RestoreResult:
        o = self.opts
        if o.create:
            self._create_database()
        leader = connect(o.dsn, autocommit=True)
        try:
            configure_writer(leader)
            self._checks(leader)
            need_ts = self.source.get("timescaledb") is not None and not o.data_only
            if need_ts or self.source.get("timescaledb"):
                self._ensure_timescaledb(leader)
            if o.clean and not o.resume:
                # Before restoring mode: dropping a hypertable then goes through
                # TimescaleDB, which removes its chunks and catalog rows too.
                self._leave_leftover_restoring_mode(leader)
                self._clean(leader)
                restore_state.drop(leader)  # an interrupted restore's records, if any
            if not o.resume:
                restore_state.create(leader, self.identity)
            restoring = False
            try:
                if self.ts_schema is not None:
                    with _interrupts_deferred():
                        try:
                            timescale.pre_restore(leader, self.ts_schema)
                        except MigrateError:
                            if not o.resume:
                                restore_state.drop(leader)  # nothing was restored
                            raise
                        restoring = True
                    self.log("target is in TimescaleDB restoring mode")
                self._restore_body(leader)
            finally:
                if restoring:
                    self._leave_restoring_mode(leader)
            self._drop_vanished_chunks()
            self._run_after_restoring_mode(leader)
            if self.portable is not None and not self.result.errors:  # portable mode
                for w in portable.finish(leader, self.entries, self.portable):
                    print(f"pystream-migrate: warning: {w}", file=sys.stderr)
            if o.analyze and not self.result.errors:
                self._analyze()
            if not self.result.errors:
                restore_state.drop(leader)
        finally:
            leader.close()
        return self.result

    def _leave_leftover_restoring_mode(self, leader: psycopg.Connection) -> None:
        """A restore that was killed (SIGKILL, a crash) left the target in restoring mode."""
        if self.ts_schema is None:
            return
        if timescale.restoring(leader):
            print("pystream-migrate: warning: the target was still in TimescaleDB restoring "
                  "mode (an earlier restore was killed); leaving it before --clean",
                  file=sys.stderr, flush=True)
            with _interrupts_deferred():
                timescale.post_restore(leader, self.ts_schema)

    def _leave_restoring_mode(self, leader: psycopg.Connection) -> None:
        with _interrupts_deferred():
            self._post_restore(leader)

    def _post_restore(self, leader: psycopg.Connection) -> None:
        """Leave restoring mode, on the leader's session if it is usable.

        An interrupt can cut one of the leader's statements short (a COPY of the
        extension's catalog, a DDL batch) and leave its session inside a transaction or
        a COPY: post_restore() there would fail, or run in a transaction that is never
        committed. A fresh connection is used then, and whenever the leader fails.
        """
        assert self.ts_schema is not None
        try:
            usable = not (leader.closed or leader.broken) and \
                leader.info.transaction_status == pq.TransactionStatus.IDLE
            try:
                if not usable:
                    raise psycopg.InterfaceError("the leader's session is not idle")
                timescale.post_restore(leader, self.ts_schema)
            except psycopg.Error:
                with connect(self.opts.dsn, autocommit=True) as c:
                    timescale.post_restore(c, self.ts_schema)
            self.log("target left TimescaleDB restoring mode")
        except (psycopg.Error, MigrateError) as exc:
            print(
                "pystream-migrate: error: THE TARGET IS STILL IN TIMESCALEDB RESTORING MODE "
                f"({exc}); run 'SELECT timescaledb_post_restore();' in the target database",
                file=sys.stderr, flush=True,
            )

    def _drop_vanished_chunks(self) -> None:
        """Chunks dropped on the source during the dump are dropped here too.

        Their tables and catalog rows came with the snapshot, their rows could not. With
        restoring mode off, DROP TABLE goes through TimescaleDB, which removes the chunk's
        catalog rows as well, as drop_chunks did on the source.
        """
        if not self.dropped_chunks:
            return
        with connect(self.opts.dsn, autocommit=True) as conn:
            for d in self.dropped_chunks:
                name = sql.Identifier(d["schema"], d["table"])
                conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(name))
                print(f"pystream-migrate: warning: chunk {d['schema']}.{d['table']} was "
                      "dropped on the source during the dump; it is left out here too",
                      file=sys.stderr)

    def _create_database(self) -> None:
        params = parse_dsn(self.opts.dsn)
        dbname = params.get("dbname")
        if not dbname:
            raise PreconditionFailed("--create needs a database name in -d")
        with connect(with_dbname(self.opts.dsn, "postgres"), autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_catalog.pg_database WHERE datname = %s", (dbname,)
            ).fetchone()
            if exists:
                raise PreconditionFailed(
                    f"--create: database {dbname!r} already exists",
                    hint="drop it first or restore into it without --create",
                )
            enc = self.source.get("encoding", "UTF8")
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING {}").format(
                    sql.Identifier(dbname), sql.Literal(enc)
                )
            )
        self.log(f"created database {dbname}")

    def _checks(self, leader: psycopg.Connection) -> None:
        o = self.opts
        where = describe_target(o.dsn)
        src_num = int(self.source.get("server_version_num") or 0)
        tgt_num = leader.info.server_version
        if src_num and tgt_num // 10000 < src_num // 10000:
            raise PreconditionFailed(
                f"the target {where} runs PostgreSQL {tgt_num // 10000}, older than the "
                f"source's {src_num // 10000}",
                hint="restore into PostgreSQL of the same major version or newer",
            )
        has_state = restore_state.exists(leader)
        if o.resume:
            if not has_state:
                raise PreconditionFailed(
                    f"--resume: no interrupted restore found on {where}",
                    hint="run the restore without --resume",
                )
            self.done = restore_state.load(leader, self.identity)
            self.log(f"resuming: {len(self.done)} entries were already done")
            return
        if has_state and not o.clean:
            raise PreconditionFailed(
                f"the target {where} holds an interrupted restore",
                hint="finish it with --resume, or start again with --clean",
            )
        if not (o.clean or o.data_only):
            found = fetch_all(leader, "target_objects")
            if found:
                names = ", ".join(f"{r['kind']} {r['name']}" for r in found[:3])
                raise PreconditionFailed(
                    f"the target {where} is not empty (it has {names}"
                    f"{', ...' if len(found) > 3 else ''})",
                    hint="restore into an empty database, or pass --clean to drop the "
                    "archive's objects first",
                )

    def _ensure_timescaledb(self, leader: psycopg.Connection) -> None:
        src_version = self.source.get("timescaledb")
        if not src_version:
            return
        if self.portable_mode:  # portable mode: any version, through its API
            self.portable = portable.prepare(leader, self.entries, self._extension_schema(),
                                             resume=self.opts.resume,
                                             decompress=self.opts.decompress)
            return
        where = describe_target(self.opts.dsn)
        info = timescale.extension_info(leader)
        created = info.version is None
        if info.version is None:
            available = timescale.available_versions(leader)
            if not available:
                raise PreconditionFailed(
                    f"the archive needs TimescaleDB {src_version}, and the target {where} "
                    "does not have the timescaledb extension installed",
                    hint=f"install TimescaleDB {src_version} on the target server",
                )
            if src_version not in available:
                raise timescale.missing_version(src_version, available, where)
            preload = leader.execute("SHOW shared_preload_libraries").fetchone()
            if not preload or "timescaledb" not in str(preload[0]):
                raise PreconditionFailed(
                    f"the target {where} does not preload timescaledb",
                    hint="add timescaledb to shared_preload_libraries and restart the server",
                )
            schema = self._extension_schema()
            if schema != "public":
                leader.execute(
                    sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema))
                )
            leader.execute(
                sql.SQL("CREATE EXTENSION timescaledb WITH SCHEMA {} VERSION {}").format(
                    sql.Identifier(schema), sql.Literal(src_version)
                )
            )
            info = timescale.extension_info(leader)
            self.log(f"created extension timescaledb {info.version}")
        timescale.check_versions(src_version, info)
        timescale.check_license(leader, self.entries, info, created=created)
        self.ts_schema = info.schema

    def _extension_schema(self) -> str:
        for e in self.entries:
            if e.kind == "EXTENSION" and e.name == "timescaledb":
                return str(e.info.get("schema") or "public")
        return "public"

    # ----------------------------------------------------------------- body
    def _restore_body(self, leader: psycopg.Connection) -> None:
        pre = [e for e in self.entries if e.section is Section.PRE_DATA and self._todo(e)]
        self.progress.phase("schema", total_entries=len(pre))
        self._run_ddl_batches(leader, pre)
        self._extension_comments(leader, pre)
        self.log(f"pre-data: {len(pre)} entries")
        if self.portable is not None:  # portable mode: thresholds, on empty tables
            portable.before_data(leader, self.entries, self.portable)
        data = [e for e in self.entries if e.section is Section.DATA and self._todo(e)]
        post = [e for e in self.entries if e.section is Section.POST_DATA and self._todo(e)]
        self.after_restoring_mode = [e for e in post if self._references_hypertable(e)]
        post = [e for e in post if not self._references_hypertable(e)]
        self._run_data_and_post(leader, data, post)

    def _references_hypertable(self, e: TocEntry) -> bool:
        """A foreign key that references a hypertable.

        TimescaleDB implements it as one constraint per chunk, which it creates itself;
        in restoring mode the constraint would only see the hypertable's own, empty,
        table and fail on every referencing row. It waits for restoring mode to end.
        """
        if e.kind != "FK CONSTRAINT":
            return False
        refs = {int(r) for r in e.info.get("ref_table_oids") or []}
        return bool(refs & self.hypertable_oids)

    def _run_after_restoring_mode(self, leader: psycopg.Connection) -> None:
        if not self.after_restoring_mode or self.result.errors:
            return
        self.progress.phase("foreign keys to hypertables",
                            total_entries=len(self.after_restoring_mode))
        self._run_ddl_batches(leader, self.after_restoring_mode)

    def _todo(self, e: TocEntry) -> bool:
        if e.id not in self.selected:
            return False
        if e.id in self.done:
            self.result.skipped += 1
            return False
        return True

    def _entry_sql(self, e: TocEntry) -> str:
        o = self.opts
        parts = []
        if e.tablespace and not o.no_tablespaces:
            parts.append(
                sql.SQL("SET default_tablespace = {};").format(sql.Identifier(e.tablespace))
                .as_string(None)
            )
        parts.append(e.create_sql)
        if e.tablespace and not o.no_tablespaces:
            parts.append("SET default_tablespace = '';")
        if not o.no_owner:
            parts.append(e.owner_sql)
        if not o.no_privileges:
            parts.append(e.acl_sql)
        if e.kind != "EXTENSION":  # see _extension_comments
            parts.append(e.comment_sql)
        return "\n".join(p for p in parts if p and p.strip())

    def _extension_comments(self, conn: psycopg.Connection, entries: list[TocEntry]) -> None:
        """COMMENT ON EXTENSION only where it changes something, and never fatally.

        The target usually has the extension with the very same comment already; only
        the extension's owner may comment on it, which on a cloud service is not us.
        """
        for e in entries:
            if e.kind != "EXTENSION" or not e.comment_sql.strip():
                continue
            with conn.transaction():
                row = conn.execute(
                    "SELECT pg_catalog.obj_description(oid, 'pg_extension') "
                    "FROM pg_catalog.pg_extension WHERE extname = %s", (e.name,)
                ).fetchone()
            wanted = e.info.get("comment")
            if row is not None and wanted is not None and row[0] == wanted:
                continue
            try:
                with conn.transaction():
                    conn.execute(e.comment_sql)  # type: ignore[arg-type]
            except psycopg.errors.InsufficientPrivilege:
                print(f"pystream-migrate: warning: the comment on extension {e.name} was "
                      "not restored: only the extension's owner may set it",
                      file=sys.stderr)

    def _clean(self, leader: psycopg.Connection) -> None:
        """Drop the archive's objects from the target, dependents first.

        Parts of a table (indexes, constraints other than foreign keys, triggers, ...)
        go with their table. Foreign keys go first, since they tie tables together, and
        so do column defaults, since a sequence they use would refuse to go. Chunks go
        with their hypertable, through TimescaleDB.
        """
        timescale.delete_archive_jobs(leader, [e for e in self.entries if e.id in self.selected])
        hypertables = {int(e.info["oid"]) for e in self.entries
                       if e.kind == "TABLE" and e.info.get("hypertable") and "oid" in e.info}
        for e in reversed(self.entries):
            if e.id not in self.selected or not e.drop_sql:
                continue
            if e.kind == "EXTENSION" and e.name == "timescaledb":
                continue  # restore manages it: created at the archive's version already
            if e.info.get("chunk") or e.kind in _DROPPED_WITH_TABLE:
                continue
            stmt = e.drop_sql
            table_oid = e.info.get("table_oid")
            if table_oid is not None and int(table_oid) in hypertables:
                # TimescaleDB refuses ONLY on hypertables; it propagates to the chunks.
                stmt = stmt.replace("ALTER TABLE ONLY ", "ALTER TABLE ", 1)
            if self.opts.if_exists:
                stmt = _add_if_exists(stmt)
            try:
                leader.execute(stmt)  # type: ignore[arg-type]
            except psycopg.Error as exc:
                self._fail(e, exc, "clean")

    def _fail(self, e: TocEntry, exc: BaseException, what: str) -> None:
        msg = exc.diag.message_primary if isinstance(exc, psycopg.Error) and exc.diag \
            and exc.diag.message_primary else str(exc).splitlines()[0] if str(exc) else repr(exc)
        text = f"{what} of {e.label} (entry {e.id}) failed: {msg}"
        if not self.opts.continue_on_error:
            if isinstance(exc, MigrateError):
                raise exc
            raise MigrateError(text) from None
        self.result.errors.append(text)

    def _run_ddl_batches(self, conn: psycopg.Connection, entries: list[TocEntry]) -> None:
        """Run DDL entries in order, many per transaction, each batch recorded as done."""
        for i in range(0, len(entries), DDL_BATCH):
            self._run_sql_entries(conn, entries[i : i + DDL_BATCH], "leader")

    # ----------------------------------------------------------------- data + post-data
    def _run_data_and_post(self, leader: psycopg.Connection, data: list[TocEntry],
                           post: list[TocEntry]) -> None:
        config = sorted((e for e in data if e.info.get("extconfig")),
                        key=lambda e: (e.info.get("fk_order", 0), e.id))
        others = [e for e in data if not e.info.get("extconfig")]
        if self.reader.seekable:
            self.dropped_chunks = list(self.reader.footer_extra().get("dropped_chunks", []))
            gone = {int(d["entry"]) for d in self.dropped_chunks}
            others = [e for e in others if e.id not in gone]
        scheduler = _Scheduler(self, others, post)
        sizes = self.sizes
        self.progress.phase(
            "restore data",
            total_bytes=sum(sizes[e.id].raw_bytes if e.id in sizes
                            else int(e.info.get("est_bytes") or 0) for e in data),
            total_entries=len(data) + len(post),
        )
        self.catalog_loader = timescale.CatalogLoader(leader)
        if self.reader.seekable:
            for e in config:
                self._load_config_entry(leader, e, self.reader.read_entry(e.id)
                                        if e.copy is not None else iter(()))
            self.log(f"extension catalog: {len(config)} entries loaded serially")
            scheduler.run(feeder=None)
        else:
            scheduler.run(feeder=lambda: self._feed_stream(leader, config, scheduler))
        self.log(f"data: {self.result.rows} rows")

    def _feed_stream(self, leader: psycopg.Connection, config: list[TocEntry],
                     scheduler: _Scheduler) -> None:
        """Read the archive stream once; load config entries inline, dispatch the rest."""
        # Config entries without rows (SEQUENCE SET of an extension's configuration
        # sequence) are not in the stream: load them first.
        for e in config:
            if e.copy is None:
                self._load_config_entry(leader, e, iter(()))
        config_ids = {e.id for e in config if e.copy is not None}
        pending_config: dict[int, list[bytes]] = {}
        streams: dict[int, StreamedEntry] = {}
        wanted = {e.id for e in scheduler.data}
        try:
            for ev in self.reader.stream():
                eid = ev.entry_id
                if eid in config_ids:
                    if ev.kind == "data":
                        pending_config.setdefault(eid, []).append(bytes(ev.payload or b""))
                    else:
                        chunks = pending_config.pop(eid, [])
                        self._load_config_entry(leader, self.by_id[eid], iter(chunks))
                        config_ids.discard(eid)
                        if not config_ids:
                            self.log(f"extension catalog: {len(config)} entries loaded")
                    continue
                if eid not in wanted:
                    continue
                if config_ids:
                    raise ArchiveError(
                        f"{self.reader.describe(eid)} comes before the extension catalog "
                        "in the stream",
                        hint="this archive was not written by pystream-migrate dump",
                    )
                st = streams.get(eid)
                if st is None:
                    st = streams[eid] = StreamedEntry(eid)
                    scheduler.offer_stream(eid, st)
                if ev.kind == "data":
                    st.feed(bytes(ev.payload or b""))
                else:
                    st.end()
            for eid in config_ids:
                self._load_config_entry(leader, self.by_id[eid], iter(()))
            self.dropped_chunks = list(self.reader.footer_extra().get("dropped_chunks", []))
            scheduler.stream_finished(set(streams))
        except BaseException as exc:
            for st in streams.values():
                st.fail(exc)
            scheduler.abort(exc)
            raise

    def _load_config_entry(self, conn: psycopg.Connection, e: TocEntry,
                           chunks: Iterator[bytes]) -> None:
        """One table or sequence of an extension's catalog, on the leader."""
        with self.catalog_loader.table(e.schema, e.name):
            self._load_entry(conn, e, chunks)

    def _load_entry(self, conn: psycopg.Connection, e: TocEntry,
                    chunks: Iterator[bytes], worker: str = "leader") -> None:
        """Load one data entry in one transaction, recorded as done in the same transaction."""
        self._run_batch(conn, [(e, lambda: self._apply_data(conn, e, chunks))], "load", worker)

    def _load_entries(self, conn: psycopg.Connection,
                      batch: list[tuple[TocEntry, Callable[[], Iterator[bytes]]]],
                      worker: str) -> None:
        """Load small data entries in one transaction (their sources can be read again)."""
        self._run_batch(
            conn,
            [(e, lambda e=e, source=source: self._apply_data(conn, e, source()))
             for e, source in batch],
            "load", worker)

    def _run_sql_entries(self, conn: psycopg.Connection, batch: list[TocEntry],
                         worker: str) -> None:
        """Entries made of SQL only (DDL, indexes, constraints, ...) in one transaction.

        Sent as one script first (one round trip); if that fails, entry by entry, so
        that the error names the entry at fault.
        """
        if len(batch) > 1:
            self.progress.start_entry(worker, f"{batch[0].label} and {len(batch) - 1} more")
            if self._run_script(conn, batch):
                for _ in batch:
                    self.progress.finish_entry(worker, 0)
                with self.count_lock:
                    self.result.entries += len(batch)
                return
        for e in batch:
            self._run_batch(conn, [(e, lambda e=e: self._apply_sql(conn, e))],
                            "creation", worker)

    def _run_script(self, conn: psycopg.Connection, batch: list[TocEntry]) -> bool:
        """Run the entries' SQL and their resume record as one script in one transaction.

        False if it failed: nothing of it stays, and the caller runs the entries one by
        one to name the one at fault (or to report the lost connection).
        """
        script = "\n".join([*(self._entry_sql(e) for e in batch),
                            restore_state.mark_sql([e.id for e in batch]).as_string(conn)])
        try:
            with conn.transaction():
                conn.execute(script)  # type: ignore[arg-type]
        except psycopg.Error:
            return False
        return True

    def _apply_data(self, conn: psycopg.Connection, e: TocEntry,
                    chunks: Iterator[bytes]) -> int:
        if e.copy is not None:
            return _copy_in(conn, e, self._counted(chunks), freeze=self._freeze(e))
        if e.create_sql.strip():
            conn.execute(e.create_sql)  # type: ignore[arg-type]
        return 0

    def _apply_sql(self, conn: psycopg.Connection, e: TocEntry) -> int:
        stmt = self._entry_sql(e)
        if stmt.strip():
            conn.execute(stmt)  # type: ignore[arg-type]
        return 0

    def _run_batch(self, conn: psycopg.Connection,
                   batch: list[tuple[TocEntry, Callable[[], int]]], what: str,
                   worker: str) -> None:
        """Run entries in one transaction together with their resume records.

        If the transaction fails and held several entries, each is run again on its own,
        so that the error names the entry at fault (not on a lost connection: there is
        nothing left to run them on).
        """
        done: list[tuple[TocEntry, int]] = []
        current = batch[0][0]
        try:
            with conn.transaction():
                for e, work in batch:
                    current = e
                    self.progress.start_entry(worker, e.label)
                    done.append((e, work()))
                conn.execute(restore_state.mark_sql([e.id for e, _ in batch]))
        except (psycopg.Error, ArchiveError) as exc:
            if len(batch) > 1 and not (conn.broken or conn.closed):
                for item in batch:
                    self._run_batch(conn, [item], what, worker)
                return
            self.progress.finish_entry(worker, 0)
            self._fail(current, exc, what)
            return
        for _entry, rows in done:
            self.progress.finish_entry(worker, rows)
        with self.count_lock:
            self.result.rows += sum(rows for _, rows in done)
            self.result.entries += len(done)

    def _freeze(self, e: TocEntry) -> bool:
        """Whether to load with TRUNCATE + COPY FREEZE (see FREEZE_MIN).

        Not for TimescaleDB's catalog (CREATE EXTENSION put rows there), and not with
        --data-only, where the tables and any rows in them are the user's.
        """
        if e.info.get("extconfig") or e.info.get("no_freeze") or self.opts.data_only:
            return False
        if self.sizes:
            st = self.sizes.get(e.id)
            size = st.raw_bytes if st is not None else 0
        else:
            size = int(e.info.get("est_bytes") or 0)
        return size >= FREEZE_MIN

    def _counted(self, chunks: Iterator[bytes]) -> Iterator[bytes]:
        for data in chunks:
            self.progress.advance(len(data))
            yield data

    # ----------------------------------------------------------------- analyze
    def _analyze(self) -> None:
        tables = [e.copy for e in self.entries
                  if e.copy is not None and e.id in self.selected and not e.info.get("extconfig")]
        # Each table and chunk on its own. Hypertable roots are left out: analyzing one
        # samples every chunk in one transaction, which needs a lock per chunk.
        gone = {(d["schema"], d["table"]) for d in self.dropped_chunks}
        names = [sql.Identifier(t.schema, t.table) for t in tables
                 if (t.schema, t.table) not in gone]
        if not names:
            return
        started = time.monotonic()
        lock = threading.Lock()
        # Several tables per statement: ANALYZE still takes each in its own transaction.
        pending = [names[i : i + ANALYZE_BATCH] for i in range(0, len(names), ANALYZE_BATCH)]
        pending.reverse()
        errors: list[BaseException] = []

        def work() -> None:
            try:
                with connect(self.opts.dsn, autocommit=True) as conn:
                    while True:
                        with lock:
                            if not pending or errors:
                                return
                            group = pending.pop()
                        conn.execute(sql.SQL("ANALYZE {}").format(sql.SQL(", ").join(group)))
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=work, daemon=True)
                   for _ in range(min(self.opts.jobs, len(names)))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise MigrateError(f"ANALYZE failed: {errors[0]}")
        self.log(f"analyzed {len(names)} tables in {time.monotonic() - started:.1f}s")


def _copy_in(conn: psycopg.Connection, e: TocEntry, chunks: Iterator[bytes], *,
             freeze: bool) -> int:
    spec = e.copy
    assert spec is not None
    table = sql.Identifier(spec.schema, spec.table)
    cols = sql.SQL(", ").join(sql.Identifier(c) for c in spec.columns)
    opts: list[sql.Composable] = []
    if e.info.get("copy_format") == "binary":
        opts.append(sql.SQL("FORMAT binary"))
    if freeze:
        # TRUNCATE in this transaction lets COPY freeze the rows (no vacuum storm later).
        conn.execute(sql.SQL("TRUNCATE ONLY {}").format(table))
        opts.append(sql.SQL("FREEZE"))
    with_opts = sql.SQL(" ({})").format(sql.SQL(", ").join(opts)) if opts else sql.SQL("")
    stmt = sql.SQL("COPY {} ({}) FROM STDIN{}").format(table, cols, with_opts)
    with conn.cursor() as cur:
        with cur.copy(stmt) as copy:
            for data in chunks:
                copy.write(data)
        return cur.rowcount if cur.rowcount >= 0 else 0


# Kinds that disappear with the table they belong to, so --clean need not drop them.
_DROPPED_WITH_TABLE = frozenset({
    "INDEX", "INDEX ATTACH", "CONSTRAINT", "CHECK CONSTRAINT", "TRIGGER", "RULE", "POLICY",
    "ROW SECURITY", "TABLE ATTACH", "SEQUENCE OWNED BY", "MATERIALIZED VIEW DATA",
    "TABLE DATA", "SEQUENCE SET",
})


def _add_if_exists(stmt: str) -> str:
    """The drop statement(s) of an entry, made harmless where the object is already gone."""
    return "\n".join(_one_if_exists(part) for part in stmt.split("\n"))


def _one_if_exists(stmt: str) -> str:
    # Multi-word kinds before their prefixes ("DROP OPERATOR FAMILY" before "DROP OPERATOR").
    for kw in ("DROP OPERATOR FAMILY ", "DROP OPERATOR CLASS ",
               "DROP TEXT SEARCH CONFIGURATION ", "DROP TEXT SEARCH DICTIONARY ",
               "DROP TEXT SEARCH PARSER ", "DROP TEXT SEARCH TEMPLATE ", "DROP USER MAPPING ",
               "DROP ACCESS METHOD ", "DROP CONVERSION ",
               "DROP TABLE ", "DROP VIEW ", "DROP MATERIALIZED VIEW ", "DROP SEQUENCE ",
               "DROP INDEX ", "DROP SCHEMA ", "DROP FUNCTION ", "DROP PROCEDURE ",
               "DROP AGGREGATE ", "DROP TYPE ", "DROP DOMAIN ", "DROP EXTENSION ",
               "DROP TRIGGER ", "DROP RULE ", "DROP POLICY ", "DROP COLLATION ",
               "DROP CAST ", "DROP OPERATOR ", "DROP PUBLICATION ", "DROP SERVER ",
               "DROP FOREIGN TABLE ", "DROP FOREIGN DATA WRAPPER ", "DROP EVENT TRIGGER "):
        if stmt.startswith(kw) and not stmt.startswith(kw + "IF EXISTS"):
            return kw + "IF EXISTS " + stmt[len(kw):]
    # ALTER TABLE [ONLY] t DROP CONSTRAINT c / ALTER COLUMN ... DROP DEFAULT / ... ROW
    # LEVEL SECURITY: the table itself may be gone too.
    kw = "ALTER TABLE "
    if stmt.startswith(kw) and not stmt.startswith(kw + "IF EXISTS"):
        stmt = kw + "IF EXISTS " + stmt[len(kw):]
        head, sep, tail = stmt.rpartition(" DROP CONSTRAINT ")
        if sep and not tail.startswith("IF EXISTS"):
            stmt = head + sep + "IF EXISTS " + tail
    return stmt


def _read_list_file(path: str) -> set[int]:
    """Entry ids from a list file made by 'list' (lines starting with ';' are comments)."""
    ids: set[int] = set()
    try:
        with open(path, encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                text = line.split(";", 1)[0].strip()
                if not text:
                    continue
                head = text.split()[0]
                if not head.isdigit():
                    raise PreconditionFailed(f"{path}:{n}: expected an entry id, got {head!r}")
                ids.add(int(head))
    except OSError as exc:
        raise PreconditionFailed(f"cannot read the list file {path}: {exc.strerror}") from None
    return ids


class _Scheduler:
    """N workers over data entries and post-data items, respecting deps and table locks."""

    def __init__(self, restore: _Restore, data: list[TocEntry], post: list[TocEntry]) -> None:
        self.r = restore
        self.data = data
        self.post = post
        self.cv = threading.Condition()
        self.ready: list[tuple[int, int, int]] = []  # (class, -size, id)
        self.running_locks: dict[int, int] = {}
        self.remaining_deps: dict[int, set[int]] = {}
        self.dependents: dict[int, list[int]] = {}
        self.streams: dict[int, StreamedEntry] = {}
        self.stream_mode = False
        self.stream_done = False
        self.error: BaseException | None = None
        self.outstanding = 0
        self.items: dict[int, TocEntry] = {}
        self.sizes = restore.sizes
        self._plan()

    def _plan(self) -> None:
        data_of_table: dict[int, int] = {}
        for e in self.data:
            relid = e.info.get("relid")
            if relid is not None:
                data_of_table[int(relid)] = e.id
        all_data = {e.id for e in self.data}
        for e in self.data + self.post:
            self.items[e.id] = e
        for e in self.data:
            self.remaining_deps[e.id] = set()
        for e in self.post:
            deps = {d for d in e.deps if d in self.items}
            table_oid = e.info.get("table_oid")
            if table_oid is not None and int(table_oid) in data_of_table:
                deps.add(data_of_table[int(table_oid)])
            for ref in e.info.get("ref_table_oids", []) or []:
                if int(ref) in data_of_table:
                    deps.add(data_of_table[int(ref)])
            if table_oid is None or e.info.get("after_data"):
                deps |= all_data
            if e.kind == "EVENT TRIGGER":
                # Last of all, as pg_restore does: it must not fire on the restore's own DDL.
                deps |= {p.id for p in self.post if p.kind != "EVENT TRIGGER"}
            deps.discard(e.id)
            self.remaining_deps[e.id] = deps
        for item, deps in self.remaining_deps.items():
            for d in deps:
                self.dependents.setdefault(d, []).append(item)
        self.outstanding = len(self.items)

    def _locks(self, e: TocEntry) -> set[int]:
        if e.section is Section.DATA:
            relid = e.info.get("relid")
            return {int(relid)} if relid is not None else set()
        out = set()
        if e.info.get("table_oid") is not None:
            out.add(int(e.info["table_oid"]))
        for ref in e.info.get("ref_table_oids", []) or []:
            out.add(int(ref))
        return out

    def _push(self, item_id: int) -> None:
        e = self.items[item_id]
        if e.section is Section.DATA:
            if self.stream_mode and e.copy is not None and item_id not in self.streams:
                return  # becomes ready when its first block arrives
            heapq.heappush(self.ready, (1, -int(e.info.get("est_bytes") or 0), item_id))
        else:
            heapq.heappush(self.ready, (0, 0, item_id))

    def offer_stream(self, item_id: int, st: StreamedEntry) -> None:
        with self.cv:
            self.streams[item_id] = st
            if not self.remaining_deps.get(item_id):
                heapq.heappush(self.ready, (1, 0, item_id))
            self.cv.notify_all()

    def stream_finished(self, seen: set[int]) -> None:
        """Entries that never appeared in the stream had no blocks: they are empty."""
        with self.cv:
            self.stream_done = True
            for e in self.data:
                if e.copy is not None and e.id not in seen:
                    st = StreamedEntry(e.id)
                    st.end()
                    self.streams[e.id] = st
                    if not self.remaining_deps.get(e.id):
                        heapq.heappush(self.ready, (1, 0, e.id))
            self.cv.notify_all()

    def abort(self, exc: BaseException) -> None:
        with self.cv:
            if self.error is None:
                self.error = exc
            self.cv.notify_all()

    def _size(self, e: TocEntry) -> int:
        st = self.sizes.get(e.id)
        return st.raw_bytes if st is not None else int(e.info.get("est_bytes") or 0)

    def _batchable(self, e: TocEntry) -> bool:
        """Small items share a transaction: a data entry that can be read again if the
        batch has to be redone entry by entry (from a file archive, or complete in its
        stream spool), or a post-data item."""
        if e.section is Section.DATA:
            if not self.stream_mode:
                return self._size(e) < SMALL_ENTRY
            if e.copy is None:
                return True
            st = self.streams.get(e.id)
            size = st.complete_size() if st is not None else None
            return size is not None and size < SMALL_ENTRY
        return e.kind != "EVENT TRIGGER"

    def _take(self) -> list[TocEntry]:
        """The next items to run in one transaction: one, or several small ones."""
        with self.cv:
            while True:
                if self.error is not None or self.outstanding == 0:
                    return []
                skipped: list[tuple[int, int, int]] = []
                batch: list[TocEntry] = []
                taken: set[int] = set()
                size = 0
                while self.ready:
                    cand = heapq.heappop(self.ready)
                    e = self.items[cand[2]]
                    locks = self._locks(e)
                    fits = not batch or (
                        self._batchable(batch[0]) and self._batchable(e)
                        and e.section is batch[0].section
                        and len(batch) < BATCH_ENTRIES and size < BATCH_BYTES)
                    if not fits or any(lk in self.running_locks for lk in locks) or (
                            batch and e.section is Section.DATA and locks & taken):
                        skipped.append(cand)
                        if batch and not fits:
                            break
                        continue
                    batch.append(e)
                    taken |= locks
                    size += self._size(e)
                    if not self._batchable(e):
                        break
                for item in skipped:
                    heapq.heappush(self.ready, item)
                if batch:
                    for e in batch:
                        for lk in self._locks(e):
                            self.running_locks[lk] = self.running_locks.get(lk, 0) + 1
                    return batch
                self.cv.wait(timeout=1.0)

    def _finish(self, e: TocEntry) -> None:
        with self.cv:
            for lk in self._locks(e):
                n = self.running_locks.get(lk, 0) - 1
                if n <= 0:
                    self.running_locks.pop(lk, None)
                else:
                    self.running_locks[lk] = n
            self.outstanding -= 1
            for d in self.dependents.get(e.id, []):
                deps = self.remaining_deps[d]
                deps.discard(e.id)
                if not deps:
                    self._push(d)
            self.cv.notify_all()

    def run(self, feeder: Callable[[], None] | None) -> None:
        self.stream_mode = feeder is not None
        with self.cv:
            for item_id, deps in self.remaining_deps.items():
                if not deps:
                    self._push(item_id)
        if self.outstanding == 0:
            if feeder is not None:
                feeder()
            return
        workers = [threading.Thread(target=self._worker, args=(f"worker {i + 1}",),
                                    daemon=True)
                   for i in range(self.r.opts.jobs)]
        conns: list[psycopg.Connection] = []
        self._conns = conns
        for t in workers:
            t.start()
        try:
            if feeder is not None:
                feeder()
            while any(t.is_alive() for t in workers):
                for t in workers:
                    t.join(timeout=0.5)
        except BaseException as exc:
            self.abort(exc)
            for c in list(conns):
                with contextlib.suppress(Exception):
                    c.cancel_safe()
            for t in workers:
                t.join(timeout=10)
            raise
        if self.error is not None:
            raise self.error

    def _source(self, e: TocEntry) -> Callable[[], Iterator[bytes]]:
        """How to get an entry's bytes (again, for a file archive)."""
        if e.copy is None:
            return lambda: iter(())
        if self.stream_mode:
            st = self.streams[e.id]
            return st.replay if st.complete_size() is not None else st.chunks
        return lambda: self.r.reader.read_entry(e.id)

    def _worker(self, name: str) -> None:
        try:
            conn = connect(self.r.opts.dsn, autocommit=True)
        except BaseException as exc:
            self.abort(exc)
            return
        self._conns.append(conn)
        try:
            configure_writer(conn, durable_commits=False)
            if self.r.portable is not None:  # portable mode: load without invalidations
                portable.prepare_loader(conn, self.r.portable)
            while True:
                batch = self._take()
                if not batch:
                    return
                if batch[0].section is Section.DATA:
                    self.r._load_entries(conn, [(e, self._source(e)) for e in batch], name)
                    if self.stream_mode:
                        for e in batch:
                            if e.id in self.streams:
                                self.streams[e.id].release()
                else:
                    self.r._run_sql_entries(conn, batch, name)
                for e in batch:
                    self._finish(e)
        except BaseException as exc:
            self.abort(exc)
        finally:
            conn.close()
