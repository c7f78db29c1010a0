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

Record = tuple[bytes, ...]

_OK, _FAILED = b"H", b"E"  # the first byte through the pipe: the record, or an error
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
    """``encode()`` run in a forked child; :meth:`wait` gives its record or raises the
    ``ValueError`` it raised. ``done`` is called, on a thread of the parent, with the
    record or the error as soon as the child has finished."""

    def __init__(self, encode: Callable[[], Record],
                 done: Callable[[Record | None, BaseException | None], None],
                 mask: set[int | signal.Signals]) -> None:
        """Call with SIGINT and SIGTERM blocked (see :func:`start`); ``mask`` is the
        signal mask to restore, which the child does at once."""
        read_fd, write_fd = os.pipe()
        try:
            self._pid = os.fork()
        except OSError:
            os.close(read_fd)
            os.close(write_fd)
            raise
        if self._pid == 0:  # the child: never returns
            os.close(read_fd)
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            _child(encode, write_fd)
        os.close(write_fd)
        self._done = done
        self._record: Record | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._collect, args=(read_fd,),
                                        name="header", daemon=True)
        self._thread.start()

    def _collect(self, read_fd: int) -> None:
        parts: list[bytes] = []
        try:
            with os.fdopen(read_fd, "rb", buffering=0) as pipe:
                while part := pipe.read(1 << 20):
                    parts.append(part)
        except OSError as exc:
            self._error = OSError(f"reading the header from its encoder failed: {exc}")
        _, status = os.waitpid(self._pid, 0)
        data = b"".join(parts)
        del parts
        if self._error is None:
            if data[:1] == _OK and os.waitstatus_to_exitcode(status) == 0:
                self._record = (memoryview(data)[1:].tobytes(),)
            elif data[:1] == _FAILED:
                self._error = _unpickled(data[1:])
            else:
                self._error = OSError("the process encoding the archive's header ended "
                                      f"without it (wait status {status})")
        self._done(self._record, self._error)

    def wait(self) -> Record:
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._record is not None
        return self._record

    def kill(self) -> None:
        """Stop the child if it still runs (the dump failed) and wait for the rest."""
        if self._thread.is_alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._pid, signal.SIGKILL)
        self._thread.join()


def _child(encode: Callable[[], Record], fd: int) -> None:
    status = 1
    try:
        try:
            out = _OK + b"".join(encode())
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


def start(encode: Callable[[], Record],
          done: Callable[[Record | None, BaseException | None], None]) -> HeaderJob | None:
    """A :class:`HeaderJob` for ``encode``, or None where a child cannot be forked safely
    (no ``fork``, or other threads alive): the caller then encodes by itself."""
    if not hasattr(os, "fork") or not hasattr(signal, "pthread_sigmask") or not _only_thread():
        return None
    # A signal handled inside fork's own hooks (logging's at-fork lock release) would be
    # printed and dropped: a SIGTERM then let the dump run to its end. Blocked across the
    # fork, it is handled once the job is whole, and stops the child too.
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, _STOPS)
    job = None
    try:
        job = HeaderJob(encode, done, mask)
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
