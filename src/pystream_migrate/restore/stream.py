"""Stream dispatch: entries read from a one-pass archive stream, handed to the workers.

The dump interleaves the blocks of the entries it copies in parallel. Reading stdin
once, the dispatcher hands each entry to a worker as soon as its first block arrives.
Until a worker takes an entry, its blocks go to a spool (memory up to a limit, then a
temporary file), so the reader never waits for a busy worker and memory stays bounded.
An entry that is complete in its spool before a worker takes it can be read more than
once (:meth:`StreamedEntry.replay`): small ones are then loaded several to a
transaction, and run again one by one if that transaction fails.
"""

from __future__ import annotations

import queue
import tempfile
import threading
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import psycopg

from pystream_migrate import timescale
from pystream_migrate.errors import ArchiveError
from pystream_migrate.restore.context import RestoreContext
from pystream_migrate.restore.data import load_catalog
from pystream_migrate.toc import TocEntry

if TYPE_CHECKING:
    from pystream_migrate.restore.workers import Dispatch

SPOOL_MEMORY = 8 * 1024 * 1024
_END = object()


class StreamedEntry:
    """One entry's bytes, written by the stream reader, read once by one worker."""

    def __init__(self, entry_id: int) -> None:
        self.entry_id = entry_id
        self._lock = threading.Lock()
        self._attached = False
        self._spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY)  # noqa: SIM115
        self._live: queue.Queue[object] = queue.Queue(maxsize=4)
        self._ended = False
        self._released = False
        self._error: BaseException | None = None
        self._size = 0

    def feed(self, data: bytes) -> None:
        with self._lock:
            if self._released:
                return  # its load is over (a failed COPY may have stopped reading)
            self._size += len(data)
            if not self._attached:
                self._spool.write(data)
                return
        self._live.put(data)

    def complete_size(self) -> int | None:
        """The entry's size if all of it is in the spool and unread, else None."""
        with self._lock:
            if self._ended and not self._attached and self._error is None:
                return self._size
            return None

    def replay(self) -> Iterator[bytes]:
        """Iterate a complete entry's bytes from its spool; may be called again."""
        with self._lock:
            if not self._ended or self._error is not None or self._spool.closed:
                raise RuntimeError(f"entry {self.entry_id} is not complete in its spool")
            self._attached = True
        position = 0
        while True:
            with self._lock:
                self._spool.seek(position)
                data = self._spool.read(1024 * 1024)
            if not data:
                return
            position += len(data)
            yield data

    def release(self) -> None:
        """Free the spool once the entry's load is over; later blocks are dropped.

        A load that failed part-way may have left blocks in the live queue: they are
        drained, so that the stream reader never waits on a queue nobody reads.
        """
        with self._lock:
            self._released = True
            self._spool.close()
        while True:
            try:
                self._live.get_nowait()
            except queue.Empty:
                return

    def end(self) -> None:
        with self._lock:
            self._ended = True
            if not self._attached or self._released:
                return
        self._live.put(_END)

    def fail(self, exc: BaseException) -> None:
        """The stream broke (truncated or corrupt): the consumer must fail this entry."""
        with self._lock:
            self._error = exc
            attached = self._attached
        if attached:
            self._live.put(exc)

    def chunks(self) -> Iterator[bytes]:
        """Iterate the entry's bytes in order; raises the stream's error if it broke."""
        with self._lock:
            self._attached = True
            ended, error = self._ended, self._error
            self._spool.seek(0)
        while True:
            data = self._spool.read(1024 * 1024)
            if not data:
                break
            yield data
        self._spool.close()
        if error is not None:
            raise error
        if ended:
            return
        while True:
            item = self._live.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            assert isinstance(item, bytes)
            yield item


def feed(ctx: RestoreContext, leader: psycopg.Connection, config: list[TocEntry],
         dispatch: Dispatch) -> None:
    """Read the archive stream once: load config entries inline, hand the rest to workers.

    The dump writes TimescaleDB's catalog (config entries) first: the leader loads it,
    serially in foreign-key order, before any chunk arrives. Each other entry is offered
    to the workers when its first block arrives.
    """
    loader = timescale.CatalogLoader(leader)
    failed: set[int] = set()

    def load(e: TocEntry, chunks: Iterable[bytes]) -> None:
        new = load_catalog(ctx, loader, leader, [(e, lambda: chunks, None)])
        failed.update(new)
        dispatch.failed_elsewhere(new)

    # Config entries without rows (SEQUENCE SET of an extension's configuration
    # sequence) are not in the stream: load them first.
    for e in config:
        if e.copy is None:
            load(e, iter(()))
    config_ids = {e.id for e in config if e.copy is not None}
    pending_config: dict[int, list[bytes]] = {}
    streams: dict[int, StreamedEntry] = {}
    wanted = dispatch.data_ids
    try:
        for ev in ctx.reader.stream():
            eid = ev.entry_id
            if eid in config_ids:
                if ev.kind == "data":
                    pending_config.setdefault(eid, []).append(bytes(ev.payload or b""))
                else:
                    chunks = pending_config.pop(eid, [])
                    load(ctx.by_id[eid], iter(chunks))
                    config_ids.discard(eid)
                    if not config_ids:
                        ctx.catalog_incomplete = bool(failed & ctx.catalog_ids)
                        ctx.log(f"extension catalog: {len(config)} entries loaded")
                continue
            if eid not in wanted:
                continue
            if config_ids:
                raise ArchiveError(
                    f"{ctx.reader.describe(eid)} comes before the extension catalog "
                    "in the stream",
                    hint="this archive was not written by pystream-migrate dump",
                )
            st = streams.get(eid)
            if st is None:
                st = streams[eid] = StreamedEntry(eid)
                dispatch.offer_stream(eid, st)
            if ev.kind == "data":
                st.feed(bytes(ev.payload or b""))
            else:
                st.end()
        for eid in config_ids:
            load(ctx.by_id[eid], iter(()))
        ctx.catalog_incomplete = bool(failed & ctx.catalog_ids)
        ctx.dropped_chunks = list(ctx.reader.footer_extra().get("dropped_chunks", []))
        dispatch.stream_finished(set(streams))
    except BaseException as exc:
        for st in streams.values():
            st.fail(exc)
        dispatch.abort(exc)
        raise
