"""The dump's data phase: workers copy tables and chunks under the leader's snapshot.

Round trips, not bytes, are the cost of a small table, and more so on a distant
server. So a worker sends its work as *scripts*: one query holding several short
transactions, each ``BEGIN ... READ ONLY; SET TRANSACTION SNAPSHOT; LOCK TABLE ONLY
<its tables>; COPY <table> TO STDOUT ...; ROLLBACK``. A transaction covers a batch of
small tables (its locks stay few); a script covers a group of batches (one wait for
the server per group, not per table). Large tables go one to a transaction.

A table dropped after the snapshot was taken (a chunk under a retention policy) makes
its batch's LOCK fail: the batches before it are complete, its own tables are copied
one at a time (the dropped chunk is left out and reported), the batches after it go
again in a new script.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import psycopg
from psycopg import pq, sql

from pystream_migrate import portable
from pystream_migrate.archive import ArchiveWriter, EntryStats, EntryWriter
from pystream_migrate.batching import DUMP_BATCH_BYTES, DUMP_BATCH_ENTRIES, SMALL_ENTRY
from pystream_migrate.catalog.names import ident
from pystream_migrate.connection import connect
from pystream_migrate.copyio import copy_statement, run_script
from pystream_migrate.errors import MigrateError, PreconditionFailed
from pystream_migrate.progress import Progress
from pystream_migrate.session import configure_reader
from pystream_migrate.toc import TocEntry, entry_size

# A transaction takes small tables up to batching's DUMP_BATCH_* limits (the locks a
# worker holds at once); a script takes up to GROUP_BATCHES transactions, fewer when
# the queue runs low, so that the last of the work still spreads over every worker.
GROUP_BATCHES = 32

Log = Callable[[str], None]
Script = list[tuple[sql.Composable, TocEntry | None]]  # (statement, entry it copies)


def open_readers(dsn: str, n: int) -> list[Future[psycopg.Connection]]:
    """Start opening ``n`` source connections with the reading settings, in parallel."""
    if n <= 0:
        return []

    def open_one() -> psycopg.Connection:
        conn = connect(dsn)
        try:
            configure_reader(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    pool = ThreadPoolExecutor(max_workers=n, thread_name_prefix="connect")
    futures = [pool.submit(open_one) for _ in range(n)]
    pool.shutdown(wait=False)  # the connections keep opening meanwhile
    return futures


def close_readers(futures: list[Future[psycopg.Connection]]) -> None:
    """Close every connection of :func:`open_readers`, waiting for those still opening."""
    for fut in futures:
        try:
            conn = fut.result()
        except BaseException:
            continue
        conn.close()


def _copy_of(entry: TocEntry) -> tuple[sql.Composable, TocEntry]:
    if entry.info.get("portable_rows"):  # portable mode: a chunk's rows, decompressed
        return portable.rows_statement(entry, entry.copy_format), entry
    # Table form: reads only this table's own heap (never a compressed chunk's rows twice).
    assert entry.copy is not None
    return copy_statement(entry.copy, to_stdout=True,
                          binary=entry.copy_format == "binary"), entry


def _lock(batch: list[TocEntry]) -> sql.SQL:
    # ONLY: without it, locking a hypertable would lock every one of its chunks.
    # Quoted by ident (sql.Identifier's text, without its cost per name: see copyio).
    tables = ", ".join(f"ONLY {ident(e.copy.schema, e.copy.table)}"
                       for e in batch if e.copy is not None)
    return sql.SQL(f"LOCK TABLE {tables} IN ACCESS SHARE MODE")


_BEGIN = sql.SQL("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
_ROLLBACK = sql.SQL("ROLLBACK")


def group_script(conn: psycopg.Connection, snapshot: str,
                 group: list[list[TocEntry]]) -> Script:
    """One query: a snapshot transaction per batch, each locking its tables, then copying."""
    script: Script = []
    if conn.pgconn.transaction_status != pq.TransactionStatus.IDLE:
        script.append((_ROLLBACK, None))  # e.g. a catalog helper's transaction
    # Rendered once for the whole group, not once per batch.
    use_snapshot = sql.SQL(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(
        sql.Literal(snapshot)).as_string(conn))
    for batch in group:
        script += [
            (_BEGIN, None),
            (use_snapshot, None),
            (_lock(batch), None),
            *(_copy_of(e) for e in batch),
            (_ROLLBACK, None),  # read-only: ends it and releases the locks
        ]
    return script


class ChunkDropped(Exception):
    """A chunk was dropped (e.g. by a retention policy) after the snapshot was taken."""


def entry_error(exc: psycopg.Error, entry: TocEntry) -> Exception:
    """The one-line error for a failed copy of ``entry`` (ChunkDropped for a gone chunk)."""
    if isinstance(exc, psycopg.errors.UndefinedTable):
        if entry.chunk:
            # Nothing can stop drop_chunks short of locking every chunk, which does not
            # fit the lock table; the chunk is left out, consistently, at restore.
            return ChunkDropped()
        return MigrateError(
            f"{entry.label} was dropped while the dump ran",
            hint="run the dump again; pause retention jobs or DDL on the source during it",
        )
    msg = exc.diag.message_primary or str(exc).splitlines()[0]
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        return PreconditionFailed(
            f"dump of {entry.label} failed: {msg}",
            hint="dump as a superuser, the table's owner, or a role with pg_read_all_data; "
                 "where row-level security is on, the role also needs BYPASSRLS",
        )
    return MigrateError(f"dump of {entry.label} failed: {msg}")


class Copier:
    """Copies entries into the archive; collects their stats and the dropped chunks."""

    def __init__(self, writer: ArchiveWriter, progress: Progress, snapshot: str,
                 log: Log, verbose: int) -> None:
        self.writer = writer
        self.progress = progress
        self.snapshot = snapshot
        self.log = log
        self.verbose = verbose
        self.stats: list[EntryStats] = []
        self.dropped: list[TocEntry] = []
        self.total = 0
        self._lock = threading.Lock()

    def run(self, conn: psycopg.Connection, script: Script, worker: str,
            current: list[TocEntry], finished: list[TocEntry] | None = None) -> None:
        """Run ``script`` as one query; record each copied entry as soon as it is done.

        ``current[0]`` is kept on the entry being copied, for the error message; the
        entries copied go to ``finished`` too.
        """
        open_writer: list[EntryWriter] = []

        def sink_for(i: int) -> Callable[[bytes], None]:
            entry = script[i][1]
            assert entry is not None
            current[0] = entry
            ew = self.writer.open_entry(entry.id)
            open_writer[:] = [ew]
            self.progress.start_entry(worker, entry.label)

            def sink(data: bytes) -> None:
                ew.write(data)
                self.progress.advance(len(data))
            return sink

        def done(i: int, rows: int) -> None:
            entry = script[i][1]
            if entry is not None:
                self.progress.finish_entry(worker, rows)
                self._record(entry, open_writer[0].close(rows))
                if finished is not None:
                    finished.append(entry)

        run_script(conn, [(st, e is not None) for st, e in script], sink_for, done)

    def _record(self, entry: TocEntry, st: EntryStats) -> None:
        with self._lock:
            self.stats.append(st)
            if self.verbose > 1:
                self.log(f"[{len(self.stats)}/{self.total}] {entry.label}: {st.rows} rows")

    def copy_in_transaction(self, conn: psycopg.Connection, entries: list[TocEntry],
                            worker: str) -> None:
        """Copy ``entries`` in the caller's open transaction, as one query."""
        if not entries:
            return
        current = [entries[0]]
        try:
            self.run(conn, [_copy_of(e) for e in entries], worker, current)
        except psycopg.Error as exc:
            raise entry_error(exc, current[0]) from None

    def copy_group(self, conn: psycopg.Connection, group: list[list[TocEntry]],
                   worker: str) -> None:
        """Copy a group of batches in one script; redo around a table dropped meanwhile."""
        while group:
            current, finished = [group[0][0]], list[TocEntry]()
            try:
                self.run(conn, group_script(conn, self.snapshot, group), worker, current,
                         finished)
                return
            except psycopg.errors.UndefinedTable:
                conn.rollback()
            except psycopg.Error as exc:
                raise entry_error(exc, current[0]) from None
            # A LOCK failed: the batches before it are complete; copy its own tables
            # one at a time, then go on with the rest of the group.
            copied, k = len(finished), 0
            while k < len(group) and copied >= len(group[k]):
                copied -= len(group[k])
                k += 1
            for entry in group[k][copied:] if k < len(group) else []:
                self.copy_single(conn, entry, worker)
            group = group[k + 1:]

    def copy_single(self, conn: psycopg.Connection, entry: TocEntry, worker: str) -> None:
        """Copy one table in its own transaction; a chunk dropped meanwhile is left out."""
        try:
            self.run(conn, group_script(conn, self.snapshot, [[entry]]), worker, [entry])
        except psycopg.Error as exc:
            error = entry_error(exc, entry)
            if not isinstance(error, ChunkDropped):
                raise error from None
            conn.rollback()
            self.progress.finish_entry(worker, 0)
            with self._lock:
                self.dropped.append(entry)


def take_group(work: queue.Queue[TocEntry], jobs: int) -> list[list[TocEntry]]:
    """The next batches for one worker: a large table alone, else up to GROUP_BATCHES."""
    group: list[list[TocEntry]] = []
    # Leave enough in the queue for the other workers: at most a 1/jobs share of it.
    limit = max(1, min(GROUP_BATCHES, work.qsize() // max(1, DUMP_BATCH_ENTRIES * jobs)))
    while len(group) < limit:
        batch = _take_batch(work)
        if not batch:
            break
        group.append(batch)
        if entry_size(batch[0]) >= SMALL_ENTRY:
            break
    return group


def _take_batch(work: queue.Queue[TocEntry]) -> list[TocEntry]:
    try:
        first = work.get_nowait()
    except queue.Empty:
        return []
    batch, size = [first], entry_size(first)
    if size >= SMALL_ENTRY:
        return batch
    while len(batch) < DUMP_BATCH_ENTRIES and size < DUMP_BATCH_BYTES:
        try:
            nxt = work.get_nowait()
        except queue.Empty:
            break
        batch.append(nxt)
        size += entry_size(nxt)
    return batch


def copy_all(copier: Copier, leader: psycopg.Connection,
             readers: list[Future[psycopg.Connection]], data: list[TocEntry]) -> None:
    """Copy every data entry: the extension configuration on the leader, the rest on
    one worker per connection of ``readers``; each connection is closed at the end."""
    # Extension configuration first, serially, in foreign-key order: restore loads it
    # before any chunk, also when it reads the archive as a stream.
    config = sorted((e for e in data if e.extconfig), key=lambda e: (e.fk_order, e.id))
    copier.copy_in_transaction(leader, config, "leader")
    rest = [e for e in data if not e.extconfig]
    rest.sort(key=lambda e: (-entry_size(e), e.id))
    copier.total = len(rest)
    work: queue.Queue[TocEntry] = queue.Queue()
    for e in rest:
        work.put(e)
    failure: list[BaseException] = []
    jobs = len(readers)

    def worker(name: str, opened: Future[psycopg.Connection]) -> None:
        try:
            conn = opened.result()
        except BaseException as exc:
            failure.append(exc)
            return
        try:
            while not failure:
                group = take_group(work, jobs)
                if not group:
                    return
                if len(group) == 1 and len(group[0]) == 1:
                    copier.copy_single(conn, group[0][0], name)
                else:
                    copier.copy_group(conn, group, name)
        except BaseException as exc:
            failure.append(exc)

    threads = [threading.Thread(target=worker, args=(f"worker {i + 1}", fut), daemon=True)
               for i, fut in enumerate(readers[:max(1, min(jobs, len(rest)))])] if rest else []
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        close_readers(readers)
    if failure:
        raise failure[0]
