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
from concurrent.futures import Future
from typing import Any

import psycopg
from psycopg.rows import dict_row

from pystream_migrate.catalog.queries import fetch_all, load_sql, query_args

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

Rows = list[dict[str, Any]]


class Prefetch:
    """Queries started on ``helpers`` (connections inside the leader's snapshot), and
    on ``leader`` (in pipeline mode) those that no helper runs."""

    def __init__(self, helpers: list[psycopg.Connection],
                 names: tuple[str, ...] = HEAVY_QUERIES,
                 leader: psycopg.Connection | None = None) -> None:
        self._sent: dict[str, psycopg.Cursor[dict[str, Any]]] = {}
        if leader is not None:
            ahead = LEADER_QUERIES + (V14_QUERIES if leader.info.server_version >= 140000
                                      else ())
            self._send(leader, ahead + (() if helpers else names))
        if not helpers:
            names = ()
        self._futures: dict[str, Future[Rows]] = {name: Future() for name in names}
        # Each future goes to one helper, in the order of ``names``.
        self._todo: queue.SimpleQueue[tuple[str, Future[Rows]]] = queue.SimpleQueue()
        for item in self._futures.items():
            self._todo.put(item)
        self._threads = [threading.Thread(target=self._run, args=(conn,), daemon=True)
                         for conn in helpers]
        for t in self._threads:
            t.start()

    def _send(self, leader: psycopg.Connection, names: tuple[str, ...]) -> None:
        assert leader.pgconn.pipeline_status, "the leader must be in pipeline mode"
        for name in names:
            cur = leader.cursor(row_factory=dict_row)
            cur.execute(load_sql(name), query_args(leader))  # type: ignore[arg-type]
            self._sent[name] = cur

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
        cur = self._sent.pop(name, None)
        if cur is not None:
            with cur:
                return cur.fetchall()
        fut = self._futures.pop(name, None)
        if fut is None or fut.cancel():
            return None
        return fut.result()

    def close(self) -> None:
        """Drop what was not taken and wait for the helpers to stop."""
        for cur in self._sent.values():
            cur.close()
        self._sent.clear()
        for fut in self._futures.values():
            fut.cancel()
        for t in self._threads:
            t.join()
