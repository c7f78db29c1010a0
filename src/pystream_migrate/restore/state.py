"""Resume state: which archive a restore on the target is of, and which entries are done.

Two small tables on the target, ``_pystream_migrate.archive`` (the archive's identity)
and ``_pystream_migrate.done`` (finished entry ids; a table's ANALYZE is recorded as
minus its data entry's id). Every entry is recorded in the same transaction that does
its work, so an entry is either done and recorded, or neither. The schema is dropped
when a restore ends with nothing failed; otherwise ``--resume`` runs exactly the entries
that are not recorded: those that failed, were skipped, or never ran.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import sql

from pystream_migrate.connection import APPLICATION_NAME
from pystream_migrate.errors import PreconditionFailed

SCHEMA = "_pystream_migrate"

# How long --resume and --clean wait for the sessions of an interrupted restore to end.
# A killed client's backend runs on until its next read of the socket: a batch sent as
# one script (BEGIN, COPY, INSERTs, resume record, COMMIT) still commits, up to a batch
# of index builds later; reading the resume records before that loads the batch twice
# (tests/test_restore_batching.py, the kill-and-resume test: 1056 rows for 800).
SESSION_WAIT_S = 120.0

_OTHER_SESSIONS = (
    "SELECT pid FROM pg_catalog.pg_stat_activity "
    "WHERE datname = pg_catalog.current_database() AND application_name = %s "
    "AND pid <> pg_catalog.pg_backend_pid() ORDER BY pid"
)


def wait_for_other_sessions(conn: psycopg.Connection, where: str,
                            log: Callable[[str], None],
                            timeout: float = SESSION_WAIT_S) -> None:
    """Wait until no other pystream-migrate session works in the target database: the
    sessions of a killed restore end on their own, after committing or rolling back
    what the server had already received. Refuses (exit 5) after ``timeout``."""
    deadline = time.monotonic() + timeout
    told = False
    while True:
        conn.execute("SELECT pg_catalog.pg_stat_clear_snapshot()")  # a fresh view in a transaction
        pids = [int(r[0]) for r in conn.execute(_OTHER_SESSIONS, (APPLICATION_NAME,))]
        if not pids:
            return
        if time.monotonic() > deadline:
            raise PreconditionFailed(
                f"{len(pids)} other pystream-migrate session(s) still work in {where} "
                f"(pids {', '.join(map(str, pids))})",
                hint="wait for that restore to end, or stop its sessions with "
                "pg_terminate_backend(pid), then run this again",
            )
        if not told:
            log(f"waiting for {len(pids)} session(s) of the interrupted restore to end "
                f"(pids {', '.join(map(str, pids))})")
            told = True
        time.sleep(0.2)


def archive_identity(header: dict[str, Any]) -> str:
    """A stable identity for an archive, from its header."""
    # Earlier dumps wrote "created" next to "created_at" (issue 14); an archive of an
    # older dump keeps the identity it had, so that --resume still recognises it.
    fields = {k: header.get(k) for k in ("source", "tool_version", "options")}
    fields["created"] = header.get("created") or header.get("created_at")
    blob = json.dumps(fields, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def exists(conn: psycopg.Connection) -> bool:
    row = conn.execute(
        "SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = %s", (SCHEMA,)
    ).fetchone()
    return row is not None


def create(conn: psycopg.Connection, identity: str) -> None:
    conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(SCHEMA)))
    conn.execute(
        sql.SQL("CREATE TABLE {}.archive (identity text NOT NULL)").format(sql.Identifier(SCHEMA))
    )
    conn.execute(
        sql.SQL("CREATE TABLE {}.done (entry_id integer PRIMARY KEY)").format(
            sql.Identifier(SCHEMA)
        )
    )
    conn.execute(
        sql.SQL("INSERT INTO {}.archive VALUES (%s)").format(sql.Identifier(SCHEMA)), (identity,)
    )


def load(conn: psycopg.Connection, identity: str) -> set[int]:
    """The finished entries of an interrupted restore of the same archive."""
    row = conn.execute(
        sql.SQL("SELECT identity FROM {}.archive").format(sql.Identifier(SCHEMA))
    ).fetchone()
    if row is None or row[0] != identity:
        raise PreconditionFailed(
            "the interrupted restore on this target was of a different archive",
            hint="resume with the same archive, or start again with --clean",
        )
    rows = conn.execute(
        sql.SQL("SELECT entry_id FROM {}.done").format(sql.Identifier(SCHEMA))
    ).fetchall()
    return {int(r[0]) for r in rows}


def mark_sql(entry_ids: list[int]) -> sql.Composed:
    """A statement that records entries as done; run it in the entry's own transaction."""
    values = sql.SQL(", ").join(sql.SQL("({})").format(sql.Literal(i)) for i in entry_ids)
    return sql.SQL("INSERT INTO {}.done VALUES {} ON CONFLICT DO NOTHING").format(
        sql.Identifier(SCHEMA), values
    )


def unmark(conn: psycopg.Connection, entry_ids: list[int]) -> None:
    """Forget entries as done (their work was undone), if any records are kept."""
    if exists(conn):
        conn.execute(sql.SQL("DELETE FROM {}.done WHERE entry_id = ANY(%s)").format(
            sql.Identifier(SCHEMA)), (entry_ids,))


def drop(conn: psycopg.Connection) -> None:
    conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(SCHEMA)))
