"""N worker threads, each with its own connection, taking items from one shared queue.

The first failure stops every worker after its current item and is raised in the
caller's thread; so is Ctrl-C, which stops the workers the same way.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

import psycopg

from pystream_migrate.connection import connect

T = TypeVar("T")


def run_workers(dsn: str, jobs: int, items: Sequence[T],
                setup: Callable[[psycopg.Connection], None],
                work: Callable[[psycopg.Connection, str, T], None]) -> None:
    """Run ``work(conn, worker_name, item)`` for every item on up to ``jobs`` connections."""
    if not items:
        return
    todo: queue.Queue[T] = queue.Queue()
    for item in items:
        todo.put(item)
    failures: list[BaseException] = []
    stop = threading.Event()

    def worker(name: str) -> None:
        try:
            conn = connect(dsn)
        except BaseException as exc:
            failures.append(exc)
            stop.set()
            return
        try:
            setup(conn)
            while not stop.is_set():
                try:
                    item = todo.get_nowait()
                except queue.Empty:
                    return
                work(conn, name, item)
        except BaseException as exc:
            failures.append(exc)
            stop.set()
        finally:
            conn.close()

    threads = [threading.Thread(target=worker, args=(f"worker {i + 1}",), daemon=True)
               for i in range(min(jobs, len(items)))]
    for t in threads:
        t.start()
    try:
        for t in threads:
            while t.is_alive():
                t.join(0.2)
    except KeyboardInterrupt:
        stop.set()
        raise
    if failures:
        raise failures[0]
