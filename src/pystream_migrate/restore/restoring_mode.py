"""TimescaleDB's restoring mode: entering it, and always leaving it, also on interrupts.

Entering and leaving must not be cut in half: an interrupt inside
``timescaledb_post_restore()`` would cancel it and leave the target in restoring mode.
Ctrl-C and SIGTERM are held while either runs, and raised afterwards.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
from psycopg import pq

from pystream_migrate import timescale
from pystream_migrate.connection import connect
from pystream_migrate.errors import MigrateError
from pystream_migrate.restore import state
from pystream_migrate.restore.context import RestoreContext


def sigterm_to_interrupt() -> Callable[[], None]:
    """Turn SIGTERM into KeyboardInterrupt so the restore still leaves restoring mode.

    Returns the function that puts the old handler back.
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, handler)

    def put_back() -> None:
        signal.signal(signal.SIGTERM, old)
    return put_back


@contextlib.contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM until the block is done, then raise KeyboardInterrupt."""
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


def enter(ctx: RestoreContext, leader: psycopg.Connection) -> None:
    """``timescaledb_pre_restore()``: only connections opened after it are restoring."""
    assert ctx.ts_schema is not None
    with interrupts_deferred():
        timescale.pre_restore(leader, ctx.ts_schema)
    ctx.log("target is in TimescaleDB restoring mode")


def leave_leftover(ctx: RestoreContext, leader: psycopg.Connection) -> None:
    """A restore that was killed (SIGKILL, a crash) left the target in restoring mode."""
    if ctx.ts_schema is None:
        return
    if timescale.restoring(leader):
        print("pystream-migrate: warning: the target was still in TimescaleDB restoring "
              "mode (an earlier restore was killed); leaving it before --clean",
              file=sys.stderr, flush=True)
        with interrupts_deferred():
            timescale.post_restore(leader, ctx.ts_schema)


def leave(ctx: RestoreContext, leader: psycopg.Connection) -> None:
    """Leave restoring mode, on the leader's session if it is usable.

    An interrupt can cut one of the leader's statements short (a COPY of the extension's
    catalog, a DDL batch) and leave its session inside a transaction or a COPY:
    post_restore() there would fail, or run in a transaction that is never committed. A
    fresh connection is used then, and whenever the leader fails.
    """
    assert ctx.ts_schema is not None
    with interrupts_deferred():
        if ctx.catalog_incomplete:
            _undo_half_loaded_catalog(ctx)
        try:
            usable = not (leader.closed or leader.broken) and \
                leader.info.transaction_status == pq.TransactionStatus.IDLE
            try:
                if not usable:
                    raise psycopg.InterfaceError("the leader's session is not idle")
                timescale.post_restore(leader, ctx.ts_schema)
            except psycopg.Error:
                with connect(ctx.opts.dsn, autocommit=True) as c:
                    timescale.post_restore(c, ctx.ts_schema)
            ctx.log("target left TimescaleDB restoring mode")
        except (psycopg.Error, MigrateError) as exc:
            print(
                "pystream-migrate: error: THE TARGET IS STILL IN TIMESCALEDB RESTORING MODE "
                f"({exc}); run 'SELECT timescaledb_post_restore();' in the target database",
                file=sys.stderr, flush=True,
            )


def _undo_half_loaded_catalog(ctx: RestoreContext) -> None:
    """The catalog load stopped half-way (a failed table, an interrupt): undo it first.

    Out of restoring mode, TimescaleDB works from its catalog; a half of it (jobs of
    hypertables whose dimensions never loaded) crashes the server: TimescaleDB 2.28's
    retention job dies with a segmentation fault. The rows go, the tables stay as plain
    ones, and the catalog's resume records go too, so that --resume loads it whole again
    (and --clean drops the tables).
    """
    try:
        with connect(ctx.opts.dsn, autocommit=True) as conn:
            rows = timescale.reset_catalog(conn, (ctx.by_id[i] for i in ctx.catalog_ids))
            state.unmark(conn, sorted(ctx.catalog_ids))
    except (psycopg.Error, MigrateError) as exc:
        print("pystream-migrate: error: the TimescaleDB catalog was loaded only in part and "
              f"could not be removed again ({exc}); do not use the target: drop the "
              "database and restore again", file=sys.stderr, flush=True)
        return
    print("pystream-migrate: error: the TimescaleDB catalog was loaded only in part; its "
          f"{rows} rows were removed again, so hypertables, chunks and continuous aggregates "
          "are plain, empty tables and views on the target until --resume or --clean "
          "restores them", file=sys.stderr, flush=True)
