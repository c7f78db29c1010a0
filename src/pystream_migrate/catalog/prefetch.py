"""Run the heaviest catalog queries ahead, on helper connections in the same snapshot.

Reading the catalog is serial on the leader: one query after another, then Python
turning the rows into entries. On a database with thousands of chunks a few queries
(index and constraint definitions, dependencies, columns) take most of the server's
time. Helper connections that imported the leader's snapshot run those while the
leader works through the rest, so the server's time and the leader's Python overlap.
The rows are the same as the leader would read: same snapshot, same SQL.
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future
from typing import Any

import psycopg

from pystream_migrate.catalog.queries import fetch_all

# Parameterless queries worth running ahead, costliest first (measured on 4000 chunks).
HEAVY_QUERIES = (
    "indexes",
    "depend",
    "tables",
    "tables_columns",
    "constraints",
    "tables_checks",
    "types",
)

Rows = list[dict[str, Any]]


class Prefetch:
    """Queries started on ``helpers`` (connections inside the leader's snapshot)."""

    def __init__(self, helpers: list[psycopg.Connection],
                 names: tuple[str, ...] = HEAVY_QUERIES) -> None:
        self._futures: dict[str, Future[Rows]] = {name: Future() for name in names}
        # Each future goes to one helper, in the order of ``names``.
        self._todo: queue.SimpleQueue[tuple[str, Future[Rows]]] = queue.SimpleQueue()
        for item in self._futures.items():
            self._todo.put(item)
        self._threads = [threading.Thread(target=self._run, args=(conn,), daemon=True)
                         for conn in helpers]
        for t in self._threads:
            t.start()

    def _run(self, conn: psycopg.Connection) -> None:
        while True:
            try:
                name, fut = self._todo.get_nowait()
            except queue.Empty:
                return
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                fut.set_result(fetch_all(conn, name))
            except BaseException as exc:  # handed to the leader, which raises it
                fut.set_exception(exc)
                return  # this connection's transaction is dead: leave the rest to others

    def take(self, name: str) -> Rows | None:
        """The rows of ``name`` if a helper has started it (waiting for them), else None.

        A query no helper has started yet is taken back: the leader runs it itself.
        """
        fut = self._futures.pop(name, None)
        if fut is None or fut.cancel():
            return None
        return fut.result()

    def close(self) -> None:
        """Drop what was not taken and wait for the helpers to stop."""
        for fut in self._futures.values():
            fut.cancel()
        for t in self._threads:
            t.join()
