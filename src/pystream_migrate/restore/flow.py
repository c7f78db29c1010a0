"""The order of a restore's phases, from the checks to the final report.

1. checks that change nothing: archive readable, target reachable and empty, versions;
2. ``timescaledb_pre_restore()`` (restoring mode), and only then the worker connections;
3. pre-data DDL in TOC order on the leader, many entries per transaction;
4. extension configuration data (TimescaleDB's catalog), serially, in foreign-key order;
5. data, post-data and ANALYZE items on N workers (see ``plan`` and ``scheduler``);
6. ``timescaledb_post_restore()``, always, also when something failed or on Ctrl-C;
7. foreign keys that reference hypertables, then the list of what failed or was skipped.
"""

from __future__ import annotations

import argparse
import sys

import psycopg

from pystream_migrate import portable, timescale
from pystream_migrate.allocator import fix_mmap_threshold
from pystream_migrate.archive import ArchiveReader
from pystream_migrate.collector import collector_held_back
from pystream_migrate.connection import connect
from pystream_migrate.errors import MigrateError
from pystream_migrate.progress import make_progress
from pystream_migrate.restore import checks, clean, ddl, restoring_mode, state, stream
from pystream_migrate.restore.analyze import item_id
from pystream_migrate.restore.context import RestoreContext
from pystream_migrate.restore.data import Source, load_catalog
from pystream_migrate.restore.entry import entry_reader
from pystream_migrate.restore.options import Log, RestoreOptions, RestoreResult
from pystream_migrate.restore.workers import Dispatch
from pystream_migrate.session import configure_writer
from pystream_migrate.toc import Section, TocEntry


def run_restore(args: argparse.Namespace) -> int:
    """The ``restore`` command: restore, then list every failed and skipped item."""
    opts = RestoreOptions.from_args(args)

    def log(msg: str) -> None:
        if opts.verbose:
            print(f"pystream-migrate: {msg}", file=sys.stderr, flush=True)

    result = restore_archive(opts, log=log)
    if result.errors:
        for line in result.errors:
            print(f"pystream-migrate: error: {line}", file=sys.stderr)
        for line in result.skipped:
            print(f"pystream-migrate: skipped: {line}", file=sys.stderr)
        raise MigrateError(
            f"restore finished with {len(result.errors)} failed and {len(result.skipped)} "
            "skipped items (listed above); everything else is restored",
            hint="fix the cause, then run the same restore with --resume to retry exactly "
            "those items",
        )
    return 0


def restore_archive(opts: RestoreOptions, *, log: Log | None = None) -> RestoreResult:
    with collector_held_back():  # see collector.py
        return _restore_archive(opts, log or (lambda _m: None))


def _restore_archive(opts: RestoreOptions, log: Log) -> RestoreResult:
    fix_mmap_threshold()  # large transient buffers out of the heap: allocator.py
    # The TOC becomes compact CompactEntry objects as it is read, never a list of JSON
    # documents; DROP statements are kept only for --clean, and the SQL text waits in an
    # unnamed temporary file until it runs (memory: 100 000s of entries; see entry).
    reader = ArchiveReader.open(opts.file, toc_entry=entry_reader(drop_sql=opts.clean))
    put_back_sigterm = restoring_mode.sigterm_to_interrupt()
    try:
        if reader.seekable:
            # A truncated or damaged file stops here, before anything on the target changes.
            reader.index()
            if opts.verify_archive:
                log("checking every checksum in the archive before restoring")
                reader.verify()
        ctx = RestoreContext(opts, reader, log)
        ctx.progress = make_progress(opts.progress)
        failed = True
        try:
            _run(ctx)
            failed = bool(ctx.result.errors)
            return ctx.result
        finally:
            ctx.progress.close(failed=failed)
    finally:
        put_back_sigterm()
        reader.close()


def _run(ctx: RestoreContext) -> None:
    o = ctx.opts
    if o.create:
        checks.create_database(ctx)
    leader = connect(o.dsn, autocommit=True)
    try:
        configure_writer(leader)
        checks.check_target(ctx, leader)
        if ctx.source.get("timescaledb"):
            checks.ensure_timescaledb(ctx, leader)
        if o.clean and not o.resume:
            # Before restoring mode: dropping a hypertable then goes through
            # TimescaleDB, which removes its chunks and catalog rows too.
            clean.reset_half_loaded_catalog(ctx, leader)  # before its jobs can run
            restoring_mode.leave_leftover(ctx, leader)
            clean.clean(ctx, leader)
            state.drop(leader)  # an unfinished restore's records, if any
        if not o.resume:
            state.create(leader, ctx.identity)
        after = _in_restoring_mode(ctx, leader)
        clean.drop_vanished_chunks(ctx)
        if after:
            ctx.progress.phase("foreign keys to hypertables", total_entries=len(after))
            ddl.run_in_order(ctx, leader, after)
        if ctx.portable is not None and not ctx.result.errors:  # portable mode
            for w in portable.finish(leader, ctx.entries, ctx.portable):
                print(f"pystream-migrate: warning: {w}", file=sys.stderr)
        if not ctx.result.errors:
            state.drop(leader)
    finally:
        leader.close()


def _in_restoring_mode(ctx: RestoreContext, leader: psycopg.Connection) -> list[TocEntry]:
    """Everything between pre_restore and post_restore; what must wait until after."""
    restoring = False
    try:
        if ctx.ts_schema is not None:
            try:
                restoring_mode.enter(ctx, leader)
            except MigrateError:
                if not ctx.opts.resume:
                    state.drop(leader)  # nothing was restored
                raise
            restoring = True
        return _restore_body(ctx, leader)
    finally:
        if restoring:
            restoring_mode.leave(ctx, leader)


def _restore_body(ctx: RestoreContext, leader: psycopg.Connection) -> list[TocEntry]:
    pre = [e for e in ctx.entries if e.section is Section.PRE_DATA and ctx.todo(e)]
    ctx.progress.phase("schema", total_entries=len(pre))
    ddl.run_in_order(ctx, leader, pre)
    ddl.extension_comments(ctx, leader, pre)
    ctx.log(f"pre-data: {len(pre)} entries")
    if ctx.portable is not None:  # portable mode: thresholds, on empty tables
        portable.before_data(leader, ctx.entries, ctx.portable)
    _release_sql(pre)
    data = [e for e in ctx.entries if e.section is Section.DATA and ctx.todo(e)]
    post = [e for e in ctx.entries if e.section is Section.POST_DATA and ctx.todo(e)]
    after = [e for e in post if _references_hypertable(ctx, e)]
    post = [e for e in post if not _references_hypertable(ctx, e)]
    _data_and_post(ctx, leader, data, post)
    return after


def _release_sql(pre: list[TocEntry]) -> None:
    """Pre-data ran: its SQL is not needed again (the data phase's items and scheduler
    then reuse that memory; with 100 000 chunks it is about 40 MB of CREATE TABLE and
    OWNER TO statements)."""
    for e in pre:
        e.create_sql = e.owner_sql = e.acl_sql = e.comment_sql = ""


def _references_hypertable(ctx: RestoreContext, e: TocEntry) -> bool:
    """A foreign key that references a hypertable.

    TimescaleDB implements it as one constraint per chunk, which it creates itself; in
    restoring mode the constraint would only see the hypertable's own, empty, table and
    fail on every referencing row. It waits for restoring mode to end.
    """
    return e.kind == "FK CONSTRAINT" and bool(set(e.ref_table_oids) & ctx.hypertable_oids)


def _data_and_post(ctx: RestoreContext, leader: psycopg.Connection, data: list[TocEntry],
                   post: list[TocEntry]) -> None:
    config = sorted((e for e in data if e.extconfig), key=lambda e: (e.fk_order, e.id))
    others = [e for e in data if not e.extconfig]
    if ctx.reader.seekable:
        ctx.dropped_chunks = list(ctx.reader.footer_extra().get("dropped_chunks", []))
        gone = {int(d["entry"]) for d in ctx.dropped_chunks}
        others = [e for e in others if e.id not in gone]
    analyze = _to_analyze(ctx, others) if ctx.opts.analyze else []
    ctx.progress.phase("restore data", total_bytes=sum(ctx.size(e) for e in data),
                       total_entries=len(data) + len(post) + len(analyze))
    ctx.catalog_ids = {e.id for e in config if e.info.get("extension") == "timescaledb"}
    ctx.catalog_incomplete = bool(ctx.catalog_ids)
    if ctx.reader.seekable:
        failed = load_catalog(ctx, timescale.CatalogLoader(leader), leader,
                              [(e, _reread(ctx, e), None) for e in config])
        ctx.catalog_incomplete = bool(failed & ctx.catalog_ids)
        ctx.log(f"extension catalog: {len(config)} entries loaded serially")
        Dispatch(ctx, others, post, analyze, stream_mode=False).run(feeder=None)
    else:
        dispatch = Dispatch(ctx, others, post, analyze, stream_mode=True)
        dispatch.run(feeder=lambda: stream.feed(ctx, leader, config, dispatch))
    ctx.log(f"data: {ctx.result.rows} rows")


def _reread(ctx: RestoreContext, e: TocEntry) -> Source:
    """How to read an entry's bytes from the file archive (again, if need be)."""
    return lambda: ctx.reader.read_entry(e.id) if e.copy is not None else iter(())


def _to_analyze(ctx: RestoreContext, data: list[TocEntry]) -> list[TocEntry]:
    """The data entries whose tables get an ANALYZE: every selected table and chunk
    (TimescaleDB's catalog excluded), unless a run this one resumes analyzed it."""
    todo = {e.id for e in data}
    return [e for e in ctx.entries
            if e.copy is not None and not e.extconfig and e.id in ctx.selected
            and (e.id in todo or e.id in ctx.done) and item_id(e) not in ctx.done]
