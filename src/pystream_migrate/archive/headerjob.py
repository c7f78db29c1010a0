"""The header record encoded by a forked child while the dump copies its data.

Encoding the header is Python from end to end, one TOC entry at a time: each entry's
document, its format check, JSON, zstd. That was 0.5 s of a 3 s dump of 4 000 chunks,
during which the data waited, and the interpreter's lock keeps a thread from doing it
beside the copy workers. A child process forked at that moment has its own copy of the
entries (copy-on-write), encodes the record on the machine's other core and sends it
through a pipe; the parent's workers copy meanwhile, and the archive writer holds their
records until the header is written (``writer.py``).

The child only encodes and writes to its pipe; it never touches the parent's
connections or files and leaves with ``os._exit``, so no finaliser of the parent's
objects (a psycopg connection's goodbye, a buffered file's flush) runs twice. It is
forked only where that is safe: a platform with ``fork`` and no other thread alive
(a lock another thread held would stay locked in the child); elsewhere the caller
encodes in its own process, as before.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import threading
from collections.abc import Callable

Payload = bytes | memoryview  # what a child's encode() returns, for the parent to use

_OK, _FAILED = b"H", b"E"  # the first byte through the pipe: the payload, or an error
_STOPS = {signal.SIGINT, signal.SIGTERM}


def _only_thread() -> bool:
    """Whether this process runs one thread (OS threads too, where /proc says)."""
    if threading.active_count() != 1:
        return False
    try:
        with open("/proc/self/status", "rb") as f:
            for line in f:
                if line.startswith(b"Threads:"):
                    return int(line.split()[1]) == 1
    except (OSError, ValueError):
        pass
    return True


class HeaderJob:
    """Each of ``encodes`` run in a forked child of its own; ``done`` is called, on a
    thread of the parent, with their payloads in order, or the first ``ValueError`` one
    of them raised, as soon as every child has finished; :meth:`wait` waits for that
    and raises the error."""

    def __init__(self, encodes: list[Callable[[], bytes]],
                 done: Callable[[list[Payload] | None, BaseException | None], None],
                 mask: set[int | signal.Signals]) -> None:
        """Call with SIGINT and SIGTERM blocked (see :func:`start`); ``mask`` is the
        signal mask to restore, which each child does at once. Every child is forked
        before any thread starts here."""
        self._children: list[tuple[int, int]] = []  # pid, the read end of its pipe
        try:
            for encode in encodes:
                self._children.append(self._fork(encode, mask))
        except OSError:
            self._stop_children()
            raise
        self._done = done
        self._lock = threading.Lock()
        self._left = len(self._children)
        self._payloads: list[Payload | None] = [None] * self._left
        self._error: BaseException | None = None
        self._threads = [threading.Thread(target=self._collect, args=(i, pid, fd),
                                          name="header", daemon=True)
                         for i, (pid, fd) in enumerate(self._children)]
        for t in self._threads:
            t.start()

    def _fork(self, encode: Callable[[], bytes],
              mask: set[int | signal.Signals]) -> tuple[int, int]:
        read_fd, write_fd = os.pipe()
        try:
            pid = os.fork()
        except OSError:
            os.close(read_fd)
            os.close(write_fd)
            raise
        if pid == 0:  # the child: never returns
            os.close(read_fd)
            for _, fd in self._children:  # the earlier children's, not its own
                os.close(fd)
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            _child(encode, write_fd)
        os.close(write_fd)
        return pid, read_fd

    def _stop_children(self) -> None:
        for pid, fd in self._children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            os.close(fd)

    def _collect(self, i: int, pid: int, read_fd: int) -> None:
        parts: list[bytes] = []
        error: BaseException | None = None
        try:
            with os.fdopen(read_fd, "rb", buffering=0) as pipe:
                while part := pipe.read(1 << 20):
                    parts.append(part)
        except OSError as exc:
            error = OSError(f"reading the header from its encoder failed: {exc}")
        _, status = os.waitpid(pid, 0)
        data = b"".join(parts)
        del parts
        if error is None:
            if data[:1] == _OK and os.waitstatus_to_exitcode(status) == 0:
                self._payloads[i] = memoryview(data)[1:]  # no copy of it
            elif data[:1] == _FAILED:
                error = _unpickled(data[1:])
            else:
                error = OSError("the process encoding the archive's header ended "
                                f"without it (wait status {status})")
        with self._lock:
            self._error = self._error or error
            self._left -= 1
            if self._left:
                return
        if self._error is not None:
            self._done(None, self._error)
        else:
            payloads = [p for p in self._payloads if p is not None]
            self._payloads = []  # done's to keep or let go of, one at a time
            self._done(payloads, None)

    def wait(self) -> None:
        """Wait for every child and ``done``; raise the error if one failed."""
        for t in self._threads:
            t.join()
        if self._error is not None:
            raise self._error

    def kill(self) -> None:
        """Stop the children still running (the dump failed) and wait for the rest."""
        for (pid, _), t in zip(self._children, self._threads, strict=True):
            if t.is_alive():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        for t in self._threads:
            t.join()


def _child(encode: Callable[[], bytes], fd: int) -> None:
    status = 1
    try:
        try:
            out = _OK + encode()
            status = 0
        except ValueError as exc:
            out = _FAILED + _pickled(exc)
        view = memoryview(out)
        while view:
            view = view[os.write(fd, view):]
    except BaseException:
        status = 1
    finally:
        os._exit(status)


def _pickled(exc: ValueError) -> bytes:
    """The child's error for the parent, its class kept (RecordTooLarge is told apart)."""
    try:
        return pickle.dumps(exc)
    except Exception:  # an argument that does not pickle: the message will do
        return pickle.dumps(ValueError(str(exc)))


def _unpickled(data: bytes) -> BaseException:
    # From the child this process forked, through its own pipe: nothing else writes it.
    try:
        exc = pickle.loads(data)
    except Exception as failure:
        return ValueError(f"the header's encoder failed, and its error is unreadable: "
                          f"{failure}")
    return exc if isinstance(exc, ValueError) else ValueError(str(exc))


def start(encodes: list[Callable[[], bytes]],
          done: Callable[[list[Payload] | None, BaseException | None], None]
          ) -> HeaderJob | None:
    """A :class:`HeaderJob` for ``encodes``, or None where children cannot be forked
    safely (no ``fork``, or other threads alive): the caller then encodes by itself."""
    if not hasattr(os, "fork") or not hasattr(signal, "pthread_sigmask") or not _only_thread():
        return None
    # A signal handled inside fork's own hooks (logging's at-fork lock release) would be
    # printed and dropped: a SIGTERM then let the dump run to its end. Blocked across the
    # forks, it is handled once the job is whole, and stops the children too.
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, _STOPS)
    job = None
    try:
        job = HeaderJob(encodes, done, mask)
    except OSError:  # no process or pipe to spare (EAGAIN, ENOMEM, EMFILE): do it here
        pass
    finally:
        try:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        except BaseException:  # the signal that waited, raised here
            if job is not None:
                job.kill()
            raise
    return job
