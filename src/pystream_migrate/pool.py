"""The one worker pool: N named threads running one function, the first error kept.

Dump's COPY workers and restore's workers both run here. A worker's exception is kept
(the first one is raised by :meth:`WorkerPool.run` once every thread has ended) and
``on_error`` is told at once, so that the others can stop taking work. The calling
thread can do its own work meanwhile (``during``: restore reads a stream there); an
interrupt in the calling thread (Ctrl-C) calls ``on_interrupt`` (cancel what the
workers run on the server) and waits a little for them before it is raised.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class WorkerPool:
    def __init__(self, jobs: int, work: Callable[[str], None], *,
                 on_error: Callable[[BaseException], None] | None = None) -> None:
        self.names = [f"worker {i + 1}" for i in range(jobs)]
        self.work = work
        self.on_error = on_error
        self.errors: list[BaseException] = []
        self._lock = threading.Lock()

    @property
    def failed(self) -> bool:
        return bool(self.errors)

    def _run_one(self, name: str) -> None:
        try:
            self.work(name)
        except BaseException as exc:
            with self._lock:
                self.errors.append(exc)
            if self.on_error is not None:
                self.on_error(exc)

    def run(self, *, during: Callable[[], None] | None = None,
            on_interrupt: Callable[[], None] | None = None) -> None:
        """Start the workers, run ``during`` here, wait for all; raise the first error."""
        threads = [threading.Thread(target=self._run_one, args=(name,), daemon=True)
                   for name in self.names]
        for t in threads:
            t.start()
        try:
            if during is not None:
                during()
            while any(t.is_alive() for t in threads):
                for t in threads:
                    t.join(timeout=0.5)  # short waits: Ctrl-C reaches this thread
        except BaseException:
            if on_interrupt is not None:
                on_interrupt()
            for t in threads:
                t.join(timeout=10)
            raise
        if self.errors:
            raise self.errors[0]
