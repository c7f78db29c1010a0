"""Run the catalog queries ahead: the heaviest on helper connections, the rest pipelined.

Reading the catalog is serial on the leader: one query after another, then Python
turning the rows into entries. On a database with thousands of chunks a few queries
(index and constraint definitions, dependencies, columns) take most of the server's
time. Helper connections that imported the leader's snapshot run those while the
leader works through the rest, so the server's time and the leader's Python overlap.
The rest the leader sends all at once in pipeline mode (the caller has entered it):
one round trip for some thirty queries instead of one each, which is what counts
against a distant server. The rows are the same as the leader would read: same
snapshot, same SQL.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, cast

import psycopg

from pystream_migrate.catalog.dependencies import Dependencies
from pystream_migrate.catalog.queries import (
    TupleCursor,
    Tuples,
    execute,
    execute_tuples,
    stream_tuples,
    tuples_of,
)
from pystream_migrate.catalog.spill import SpilledRows
from pystream_migrate.catalog.tables import columns_by_table

# Parameterless queries worth running ahead, costliest first (measured on 4000 chunks).
# The tables family, which comes first of these, waits for its two at once: started
# first, they were ready in 0.13-0.17 s on 4000 chunks, instead of 0.3 + 0.28 s after
# indexes and depend (session 7). The types family comes earlier still, and its query
# (~20 ms) was last: no helper had started it when the family asked, so the leader ran
# it in its pipeline and waited there for every query sent before (0.1 s on 4000
# chunks, session 10); right after the columns, a helper has it ready.
HEAVY_QUERIES = (
    "tables",
    "tables_columns",
    "types",
    "indexes",
    "depend",
    "constraints",
)

# Parameterless queries the families run whatever the database holds, in the order
# they run them; the leader sends them ahead in one pipeline. A query that can fail (one
# that reads an optional extension's catalog) must not be here: in a pipeline one error
# aborts every query after it.
LEADER_QUERIES = (
    "schemas", "extensions_members", "extensions_member_acls", "extensions",
    "extensions_config", "extensions_config_fks", "collations", "types_attributes",
    "types_domain_constraints", "routines", "routines_aggregates", "sequences",
    "tables_identity", "constraints_validate", "constraints_inherited_comments",
    "views_cagg_catalog", "views_columns", "views", "triggers", "triggers_event",
    "rules", "policies_row_security", "policies", "default_privileges",
    "other_access_methods", "other_conversions", "other_casts", "other_operators",
    "other_opfamilies", "other_text_search", "other_foreign_data",
    "other_foreign_tables", "other_publications", "other_unsupported",
)
V14_QUERIES = ("tables_compression",)
# psycopg hands over a pipeline's results only once every query sent has answered: the
# first family waited for all of them (0.12-0.25 s on 4000 chunks). The leader sends
# the queries of the families before the tables first, and the rest once those are in:
# the server runs the rest while the leader turns the first ones into entries.
LEADER_FIRST = LEADER_QUERIES.index("tables_identity")

Rows = list[dict[str, Any]]


Cursor = psycopg.Cursor[dict[str, Any]]

# Results that a helper streams (libpq never holds them whole) into a compact form as
# their rows arrive, on its own thread: at 100 000 chunks libpq would hold pg_depend's
# rows as ~85 MB, the columns' as ~100 MB, the tables' and indexes' as 52 and 70 MB
# (those two go to a file: spill.py). The leader's own fallback gives each converter an
# executed cursor's rows instead (CatalogContext.compact). Rows as tuples (Tuples).
COMPACT: dict[str, Callable[[Tuples], Any]] = {
    "depend": Dependencies,
    "tables_columns": columns_by_table,
    "tables": SpilledRows,
    "indexes": SpilledRows,
}


def _start(conn: psycopg.Connection, name: str) -> Cursor | TupleCursor:
    """Run ``name`` on ``conn``; its rows stay in libpq's result until they are taken
    (as tuples for a COMPACT one).

    libpq keeps a result's values as C strings, a third of the memory of the same rows
    as Python dicts: queries done ahead of time are held in that form, and turned into
    dicts one query at a time, when the family that reads them asks.
    """
    return execute_tuples(conn, name) if name in COMPACT else execute(conn, name)


class Prefetch:
    """Queries started on ``helpers`` (connections inside the leader's snapshot), and
    on ``leader`` (in pipeline mode) those that no helper runs."""

    def __init__(self, helpers: list[psycopg.Connection],
                 names: tuple[str, ...] = HEAVY_QUERIES,
                 leader: psycopg.Connection | None = None,
                 pipeline: psycopg.Pipeline | None = None,
                 helpers_only: tuple[str, ...] = ()) -> None:
        """``helpers_only``: queries run after ``names``, on a helper only (never in the
        leader's pipeline, where one that fails would abort the rest)."""
        self._sent: dict[str, Cursor | TupleCursor] = {}
        self._leader, self._pipeline = leader, pipeline
        self._later: tuple[str, ...] = ()
        if leader is not None:
            assert leader.pgconn.pipeline_status, "the leader must be in pipeline mode"
            ahead = LEADER_QUERIES + (V14_QUERIES if leader.info.server_version >= 140000
                                      else ()) + (() if helpers else names)
            # With the pipeline in hand, in two groups (see LEADER_FIRST).
            first = LEADER_FIRST if pipeline is not None else len(ahead)
            for name in ahead[:first]:
                self._sent[name] = _start(leader, name)
            self._later = ahead[first:]
        names = names + helpers_only if helpers else ()
        self._futures: dict[str, Future[Any]] = {name: Future() for name in names}
        # Each future goes to one helper, in the order of ``names``.
        self._todo: queue.SimpleQueue[tuple[str, Future[Any]]] = queue.SimpleQueue()
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
                convert = COMPACT.get(name)
                fut.set_result(_start(conn, name) if convert is None
                               else convert(stream_tuples(conn, name)))
            except BaseException as exc:  # handed to the leader, which raises it
                fut.set_exception(exc)
                return  # this connection's transaction is dead: leave the rest to others

    def take_cursor(self, name: str) -> Cursor | None:
        """The executed cursor of ``name`` if it was started ahead (waiting for it), else
        None. A query no helper has started yet is taken back: the leader runs it itself.
        The caller reads the rows and closes the cursor.
        """
        assert name not in COMPACT, f"{name} is read by take_compact"
        self._send_later()
        cur = self._sent.pop(name, None)
        if cur is not None:
            return cast(Cursor, cur)  # not a COMPACT one (asserted above)
        fut = self._futures.pop(name, None)
        if fut is None or fut.cancel():
            return None
        result: Cursor = fut.result()
        return result

    def take_compact(self, name: str) -> Any | None:
        """The compact form (COMPACT) of ``name``'s rows if it was started ahead (see
        take_cursor), else None."""
        self._send_later()
        cur = self._sent.pop(name, None)
        if cur is not None:
            return COMPACT[name](tuples_of(cast(TupleCursor, cur)))
        fut = self._futures.pop(name, None)
        if fut is None or fut.cancel():
            return None
        return fut.result()

    def _send_later(self) -> None:
        """The leader's second group, at the first take: the first group's answers come
        all together (pipeline.sync reads each into its cursor), the second's meanwhile."""
        if not self._later:
            return
        assert self._pipeline is not None and self._leader is not None
        self._pipeline.sync()
        for name in self._later:
            self._sent[name] = _start(self._leader, name)
        self._later = ()

    def take(self, name: str) -> Rows | None:
        """The rows of ``name`` if it was started ahead, else None (see take_cursor)."""
        cur = self.take_cursor(name)
        if cur is None:
            return None
        with cur:
            return cur.fetchall()

    def close(self) -> None:
        """Drop what was not taken and wait for the helpers to stop."""
        for cur in self._sent.values():
            cur.close()
        self._sent.clear()
        for fut in self._futures.values():
            fut.cancel()
        for t in self._threads:
            t.join()
        for fut in self._futures.values():  # done ones that were never taken
            if fut.done() and not fut.cancelled() and fut.exception() is None:
                close = getattr(fut.result(), "close", None)  # a cursor; compact: no need
                if close is not None:
                    close()
