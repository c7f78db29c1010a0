"""The workers: N connections running what the scheduler hands out, data and post-data.

The scheduler (pure) decides; this module gives it a lock, runs each batch it hands out
on a worker's connection (COPY-in, SQL entries or ANALYZE) and reports back what failed,
and records what the scheduler skipped. With ``--exit-on-error`` the first failure stops
the hand-out; the running batches end and the error is raised.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable

import psycopg

from pystream_migrate import portable
from pystream_migrate.batching import (
    ANALYZE_BATCH,
    DATA_BATCH_BYTES,
    DATA_BATCH_ENTRIES,
    POST_BATCH_ENTRIES,
    RESTORE_BATCH_BYTES,
    RESTORE_BATCH_ENTRIES,
    SMALL_ENTRY,
)
from pystream_migrate.connection import connect
from pystream_migrate.pool import WorkerPool
from pystream_migrate.positions import Positions
from pystream_migrate.restore import analyze, ddl
from pystream_migrate.restore.context import RestoreContext
from pystream_migrate.restore.data import Loadable, load_entries
from pystream_migrate.restore.plan import make_items
from pystream_migrate.restore.scheduler import Item, Scheduler
from pystream_migrate.restore.staging import Stager
from pystream_migrate.restore.stream import StreamedEntry
from pystream_migrate.session import configure_writer
from pystream_migrate.toc import TocEntry


class Dispatch:
    def __init__(self, ctx: RestoreContext, data: list[TocEntry], post: list[TocEntry],
                 analyze_tables: list[TocEntry], *, stream_mode: bool) -> None:
        self.ctx = ctx
        self.stream_mode = stream_mode
        # Entries by id are ctx.by_id's: no dict of every data and post-data entry here.
        self._data = data
        self.data_ids = Positions([e.id for e in data])
        self.cv = threading.Condition()
        self.streams: dict[int, StreamedEntry] = {}
        self.error: BaseException | None = None
        self.sched = Scheduler(
            make_items(data, post, analyze_tables, ctx.size, gated=stream_mode),
            failed_before=ctx.unfinished(),
            batch_entries=RESTORE_BATCH_ENTRIES, batch_bytes=RESTORE_BATCH_BYTES,
            group_limits={"data": (DATA_BATCH_ENTRIES, DATA_BATCH_BYTES),
                          "post": (POST_BATCH_ENTRIES, RESTORE_BATCH_BYTES),
                          "analyze": (ANALYZE_BATCH, RESTORE_BATCH_BYTES)},
            patient=frozenset({"analyze"}),
            batchable=self._batchable if stream_mode else None)
        self._reported = 0
        self._record_skipped()
        self._conns: list[psycopg.Connection] = []

    # ----------------------------------------------------------------- stream side
    def offer_stream(self, item_id: int, st: StreamedEntry) -> None:
        with self.cv:
            self.streams[item_id] = st
            self.sched.open(item_id)
            self.cv.notify_all()

    def stream_finished(self, seen: set[int]) -> None:
        """Entries that never appeared in the stream had no blocks: they are empty."""
        with self.cv:
            for e in self._data:
                if e.id not in seen and e.copy is not None:
                    st = StreamedEntry(e.id)
                    st.end()
                    self.streams[e.id] = st
                    self.sched.open(e.id)
            self.cv.notify_all()

    def failed_elsewhere(self, ids: Iterable[int]) -> None:
        """Entries the leader loaded failed: skip the items that need them."""
        with self.cv:
            for i in ids:
                self.sched.fail_outside(i)
            self._record_skipped()
            self.cv.notify_all()

    def _batchable(self, item: Item) -> bool:
        """From a stream, a data entry may share a transaction only once complete and small."""
        if item.group != "data":
            return item.batchable
        e = self.ctx.by_id[item.id]
        if e.copy is None:
            return True
        st = self.streams.get(item.id)
        size = st.complete_size() if st is not None else None
        return size is not None and size < SMALL_ENTRY

    # ----------------------------------------------------------------- hand-out
    def abort(self, exc: BaseException) -> None:
        with self.cv:
            if self.error is None:
                self.error = exc
            self.sched.stop()
            self.cv.notify_all()

    def _take(self) -> list[Item]:
        with self.cv:
            while True:
                if self.error is not None or self.sched.done:
                    return []
                batch = self.sched.take()
                if batch:
                    return batch
                self.cv.wait(timeout=1.0)

    def _finish(self, batch: list[Item], failed: set[int]) -> None:
        with self.cv:
            for item in batch:
                self.sched.finish(item.id, ok=item.id not in failed)
            self._record_skipped()
            self.cv.notify_all()

    def _record_skipped(self) -> None:
        log = self.sched.skip_log
        new, self._reported = log[self._reported:], len(log)
        for item_id, cause in new:
            if self.sched.item(item_id).group == "analyze":
                self.ctx.skip(self.ctx.by_id[analyze.entry_id(item_id)], cause, "ANALYZE",
                              key=item_id)
            else:
                self.ctx.skip(self.ctx.by_id[item_id], cause)

    # ----------------------------------------------------------------- workers
    def run(self, feeder: Callable[[], None] | None) -> None:
        if self.sched.done:
            if feeder is not None:
                feeder()
            return
        pool = WorkerPool(self.ctx.opts.jobs, self._worker, on_error=self.abort)
        pool.run(during=feeder, on_interrupt=self._cancel)

    def _cancel(self) -> None:
        self.abort(KeyboardInterrupt())
        for c in list(self._conns):
            with contextlib.suppress(Exception):
                c.cancel_safe()

    def _worker(self, name: str) -> None:
        conn = connect(self.ctx.opts.dsn, autocommit=True)
        self._conns.append(conn)
        try:
            configure_writer(conn, durable_commits=False)
            if self.ctx.portable is not None:  # portable mode: load without invalidations
                portable.prepare_loader(conn, self.ctx.portable)
            # Small chunks share a COPY through a staging table (restore/staging.py):
            # not in portable mode (its rows go through TimescaleDB's API), nor with
            # --data-only (the tables are the user's, rules and policies included).
            stager = Stager() if self.ctx.portable is None and not self.ctx.opts.data_only \
                else None
            while True:
                batch = self._take()
                if not batch:
                    return
                self._finish(batch, self._execute(conn, batch, name, stager))
        finally:
            conn.close()

    def _execute(self, conn: psycopg.Connection, batch: list[Item], name: str,
                 stager: Stager | None) -> set[int]:
        """Run one batch; the ids of the items that failed."""
        group = batch[0].group
        if group == "analyze":
            return analyze.run(self.ctx, conn,
                               [self.ctx.by_id[analyze.entry_id(i.id)] for i in batch], name)
        entries = [self.ctx.by_id[i.id] for i in batch]
        if group == "post":
            return ddl.run_sql_entries(self.ctx, conn, entries, name)
        try:
            return load_entries(self.ctx, conn, [self._loadable(e) for e in entries], name,
                                stager)
        finally:
            if self.stream_mode:
                for e in entries:
                    if e.id in self.streams:
                        self.streams[e.id].release()

    def _loadable(self, e: TocEntry) -> Loadable:
        """An entry, how to get its bytes (again, for a file archive or a complete
        spool), and its size if known."""
        if e.copy is None:
            return e, lambda: iter(()), 0
        if self.stream_mode:
            st = self.streams[e.id]
            size = st.complete_size()
            return e, (st.replay if size is not None else st.chunks), size
        return e, lambda: self.ctx.reader.read_entry(e.id), self.ctx.size(e)
