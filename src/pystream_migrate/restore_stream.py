"""Feeding entries read from a sequential archive stream to parallel workers.

The dump interleaves the blocks of the entries it copies in parallel. Reading stdin
once, the dispatcher hands each entry to a worker as soon as its first block arrives.
Until a worker takes an entry, its blocks go to a spool (memory up to a limit, then a
temporary file), so the reader never waits for a busy worker and memory stays bounded.
"""

from __future__ import annotations

import queue
import tempfile
import threading
from collections.abc import Iterator

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
        self._error: BaseException | None = None

    def feed(self, data: bytes) -> None:
        with self._lock:
            if not self._attached:
                self._spool.write(data)
                return
        self._live.put(data)

    def end(self) -> None:
        with self._lock:
            self._ended = True
            if not self._attached:
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
