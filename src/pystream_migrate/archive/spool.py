"""A read-ahead spool between a pipe and the archive reader.

``dump ... -f - | restore ... -f -``: the restore reads nothing from its stdin while it
runs pre-data DDL and loads TimescaleDB's catalog, which takes many round trips to the
target. Without a spool the pipe (64 KiB) fills within milliseconds and the dump stops
writing, and with it its COPYs on the source, until the restore reads again: the two
sides take turns instead of overlapping. :class:`StreamSpool` keeps one thread reading
the pipe the whole time and hands the bytes, in order, to the one thread that reads
the archive.

Where the bytes wait: in memory up to :data:`MEMORY_LIMIT`, then in an unnamed temporary
file (``tempfile.TemporaryFile``: in ``$TMPDIR``, else ``/tmp``; unlinked at once, so it
never outlives the process) up to :data:`DISK_LIMIT`. Memory first, because once the
data phase runs the restore mostly keeps up, and bytes that pass straight through
memory cost no write and read back. The file, because one pre-data phase over a slow
network can last minutes while the dump writes at disk speed. Past the disk limit the
spool stops reading until the reader has drained the file: the pipe then pushes back on
the dump as it would without a spool, and nothing is lost. A full disk is a one-line
error naming the directory, raised where the reader reaches the bytes that could not be
kept. Every byte before an error of the pipe (or its end) is handed out first.
"""

from __future__ import annotations

import collections
import io
import os
import tempfile
import threading
import time
from collections.abc import Callable
from typing import IO, Protocol

from pystream_migrate.errors import MigrateError, disk_reason

MEMORY_LIMIT = 32 * 1024 * 1024
DISK_LIMIT = 4 * 1024 * 1024 * 1024
_PIECE = 1024 * 1024  # one read from the pipe takes at most this much


class Readable(Protocol):
    def read(self, size: int, /) -> bytes | None: ...


def _unlocked_read(source: Readable) -> Callable[[int], bytes | None]:
    """How the filling thread reads: past a buffered reader's lock, from its raw file.

    A thread blocked in ``sys.stdin.buffer.read1`` holds that object's lock, and the
    interpreter aborts at exit when it cannot take it ("could not acquire lock ... at
    interpreter shutdown"): a restore that fails while the dump still writes would die
    with that instead of its one-line error. The raw file has no lock. The buffered
    reader must not have read ahead (nobody reads a pipe before it is opened as an
    archive), else its buffered bytes would be skipped.
    """
    raw = getattr(source, "raw", None) if isinstance(source, io.BufferedReader) else None
    if isinstance(raw, io.RawIOBase):
        return raw.read
    read1: Callable[[int], bytes | None] | None = getattr(source, "read1", None)
    return read1 or source.read


class SpoolFull(MigrateError):
    """The temporary directory cannot hold the spooled stream."""


class StreamSpool:
    """A one-producer (the pipe), one-consumer (:meth:`read`) byte queue with a spill file.

    Order is kept by one rule: bytes go to memory only while the file holds nothing
    unread, so whatever is in memory always comes before whatever is in the file.
    """

    def __init__(self, source: Readable, *, name: str = "<stdin>",
                 memory_limit: int | None = None, disk_limit: int | None = None) -> None:
        self.name = name
        self._source = source
        self._memory_limit = MEMORY_LIMIT if memory_limit is None else memory_limit
        self._disk_limit = DISK_LIMIT if disk_limit is None else disk_limit
        self._cond = threading.Condition()
        self._memory: collections.deque[bytes] = collections.deque()
        self._memory_bytes = 0
        self._head = 0  # bytes of _memory[0] already handed out
        self._file: IO[bytes] | None = None
        self._written = 0  # the file's end (only the filling thread moves it, or resets)
        self._read = 0  # the file's bytes handed out (only the consumer moves it)
        self._ended = False
        self._error: BaseException | None = None
        self._closed = False
        self._busy = 0  # reads and writes of the file under way outside the lock
        self.spilled_bytes = 0  # bytes that went through the file, for the log
        self._thread = threading.Thread(target=self._fill, name="archive-spool", daemon=True)
        self._thread.start()

    # --- the consumer -------------------------------------------------------------------

    def read(self, size: int = -1) -> bytes:
        """``size`` bytes, fewer only at the end of the stream; waits for them to arrive.

        Raises the pipe's error (or :class:`SpoolFull`) once every byte before it was read.
        """
        if size < 0:
            size = 1 << 62
        parts: list[bytes] = []
        missing = size
        while missing:
            piece = self._take(missing, have_some=bool(parts))
            if not piece:
                break
            parts.append(piece)
            missing -= len(piece)
        return b"".join(parts)

    def _take(self, size: int, *, have_some: bool) -> bytes:
        with self._cond:
            while True:
                if self._closed:
                    raise ValueError("read from a closed archive spool")
                if self._memory:
                    return self._take_memory(size)
                if self._read < self._written:
                    start = self._read
                    count = min(size, self._written - start)
                    spill = self._file_in_use()
                    break
                if self._error is not None:
                    if have_some:
                        return b""  # hand out what came before; the next read raises
                    raise self._error
                if self._ended:
                    return b""
                self._cond.wait()
        # The filling thread only appends past _written and never resets the file while
        # bytes in it are unread, so this read needs no lock.
        try:
            data = os.pread(spill.fileno(), count, start)
        finally:
            self._file_done()
        with self._cond:
            self._read += len(data)
            self._cond.notify_all()
        return data

    def _take_memory(self, size: int) -> bytes:
        head = self._memory[0]
        end = self._head + size
        if self._head == 0 and end >= len(head):
            data = self._memory.popleft()
        else:
            data = head[self._head:end]
            if end >= len(head):
                self._memory.popleft()
                self._head = 0
            else:
                self._head = end
        self._memory_bytes -= len(data)
        self._cond.notify_all()
        return data

    def close(self) -> None:
        """Stop reading the pipe and free memory and file (the thread ends after its read)."""
        with self._cond:
            self._closed = True
            self._memory.clear()
            self._memory_bytes = 0
            if self._file is not None and not self._busy:
                self._file.close()  # else the last read or write under way closes it
            self._cond.notify_all()

    def _file_in_use(self) -> IO[bytes]:
        """The spill file, kept open until :meth:`_file_done` (call with the lock held)."""
        assert self._file is not None
        self._busy += 1
        return self._file

    def _file_done(self) -> None:
        with self._cond:
            self._busy -= 1
            if self._closed and not self._busy and self._file is not None:
                self._file.close()

    # --- the filling thread -------------------------------------------------------------

    def _fill(self) -> None:
        read = _unlocked_read(self._source)
        try:
            while True:
                data = read(_PIECE)
                if data is None:  # a non-blocking file with nothing to read yet
                    time.sleep(0.01)
                    continue
                if not data:
                    break
                if not self._put(bytes(data)):
                    return
        except BaseException as exc:  # handed to the consumer, in order
            with self._cond:
                self._error = exc
                self._cond.notify_all()
            return
        with self._cond:
            self._ended = True
            self._cond.notify_all()

    def _put(self, data: bytes) -> bool:
        """Queue one piece; False once the spool is closed."""
        with self._cond:
            while True:
                if self._closed:
                    return False
                if self._read == self._written:  # the file holds nothing unread
                    if self._written:
                        self._reset_file()
                    # An empty spool takes any piece: limits below one piece must
                    # not stop the stream.
                    if (not self._memory_bytes
                            or self._memory_bytes + len(data) <= self._memory_limit):
                        self._memory.append(data)
                        self._memory_bytes += len(data)
                        self._cond.notify_all()
                        return True
                if self._written + len(data) <= self._disk_limit:
                    break
                self._cond.wait()  # disk limit: wait until the reader drained the file
            self._open_file()
            spill = self._file_in_use()
            at = self._written
        try:
            self._write(spill, data, at)
        finally:
            self._file_done()
        with self._cond:
            self._written += len(data)
            self.spilled_bytes += len(data)
            self._cond.notify_all()
        return True

    def _open_file(self) -> None:
        if self._file is None:
            try:
                self._file = tempfile.TemporaryFile(  # noqa: SIM115 - closed by close()
                    prefix="pystream-migrate-spool-")
            except OSError as exc:
                raise self._spool_error(exc) from None

    def _write(self, spill: IO[bytes], data: bytes, at: int) -> None:
        view = memoryview(data)
        try:
            while view:
                done = os.pwrite(spill.fileno(), view, at)
                view = view[done:]
                at += done
        except OSError as exc:
            raise self._spool_error(exc) from None

    def _reset_file(self) -> None:
        """Everything in the file was read: start it over, giving its space back."""
        assert self._file is not None
        os.ftruncate(self._file.fileno(), 0)
        self._written = self._read = 0

    def _spool_error(self, exc: OSError) -> MigrateError:
        where = tempfile.gettempdir()
        reason = disk_reason(exc)
        return SpoolFull(
            f"cannot keep reading archive {self.name} ahead of the restore: writing its "
            f"spool file in {where} failed: {reason}",
            hint="point TMPDIR at a directory with free space (the spool holds up to "
            f"{self._disk_limit >> 20} MiB), or restore from an archive file",
        )
