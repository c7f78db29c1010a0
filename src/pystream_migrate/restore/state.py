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
from typing import Any

import psycopg
from psycopg import sql

from pystream_migrate.errors import PreconditionFailed

SCHEMA = "_pystream_migrate"


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
