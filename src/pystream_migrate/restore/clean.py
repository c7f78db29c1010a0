"""Dropping objects: the archive's objects before restoring (``--clean``), and the chunks
dropped on the source while it was dumped, after restoring."""

from __future__ import annotations

import sys

import psycopg
from psycopg import sql

from pystream_migrate import portable, timescale
from pystream_migrate.connection import connect
from pystream_migrate.errors import PreconditionFailed
from pystream_migrate.restore import state
from pystream_migrate.restore.context import RestoreContext

# Kinds that disappear with the table they belong to, so --clean need not drop them.
_DROPPED_WITH_TABLE = frozenset({
    "INDEX", "INDEX ATTACH", "CONSTRAINT", "CHECK CONSTRAINT", "TRIGGER", "RULE", "POLICY",
    "ROW SECURITY", "TABLE ATTACH", "SEQUENCE OWNED BY", "MATERIALIZED VIEW DATA",
    "TABLE DATA", "SEQUENCE SET",
})


def clean(ctx: RestoreContext, leader: psycopg.Connection) -> None:
    """Drop the archive's objects from the target, dependents first.

    Parts of a table (indexes, constraints other than foreign keys, triggers, ...) go
    with their table. Foreign keys go first, since they tie tables together, and so do
    column defaults, since a sequence they use would refuse to go. Chunks go with their
    hypertable, through TimescaleDB, unless the target's TimescaleDB catalog does not
    know them (an interrupted restore left plain tables): those are dropped as plain
    tables (``timescale.TargetRelations``).
    """
    selected = [e for e in ctx.entries if e.id in ctx.selected]
    timescale.delete_archive_jobs(leader, selected)
    if ctx.portable_mode:  # the jobs a portable restore made have the target's ids
        portable.delete_restored_jobs(leader, selected)
    chunks = {int(e.info["oid"]) for e in ctx.entries
              if e.kind == "TABLE" and e.chunk and "oid" in e.info}
    target = timescale.TargetRelations.read(leader)
    for e in reversed(ctx.entries):
        if e.id not in ctx.selected or e.kind in _DROPPED_WITH_TABLE:
            continue
        if e.kind == "EXTENSION" and e.name == "timescaledb":
            continue  # restore manages it: created at the archive's version already
        stmt = target.clean_sql(e, chunks)
        if stmt is None:
            stmt = e.drop_sql
        if not stmt:
            continue
        if e.table_oid is not None and e.table_oid in ctx.hypertable_oids:
            # TimescaleDB refuses ONLY on hypertables; it propagates to the chunks.
            stmt = stmt.replace("ALTER TABLE ONLY ", "ALTER TABLE ", 1)
        if ctx.opts.if_exists:
            stmt = add_if_exists(stmt)
        try:
            leader.execute(stmt)  # type: ignore[arg-type]
        except psycopg.Error as exc:
            ctx.fail(e, exc, "clean", leader)


def reset_half_loaded_catalog(ctx: RestoreContext, leader: psycopg.Connection) -> None:
    """An unfinished restore of this archive that stopped inside the catalog load (a
    SIGKILL): TimescaleDB's own drops would fail on half a catalog, and its jobs could
    run on it once restoring mode ends. Its rows go, and its objects are plain ones."""
    if ctx.ts_schema is None or not state.exists(leader):
        return
    try:
        done = state.load(leader, ctx.identity)
    except PreconditionFailed:
        return  # another archive's: its catalog state is not ours to judge
    config = {e.id for e in ctx.entries if e.id in ctx.selected and e.extconfig
              and e.info.get("extension") == "timescaledb"}
    if config & done and config - done:
        rows = timescale.reset_catalog(leader, (ctx.by_id[i] for i in config))
        print(f"pystream-migrate: warning: the interrupted restore had loaded "
              f"{len(config & done)} of {len(config)} TimescaleDB catalog tables: their "
              f"{rows} rows were removed, and its tables and views are dropped as plain ones",
              file=sys.stderr, flush=True)


def drop_vanished_chunks(ctx: RestoreContext) -> None:
    """Chunks dropped on the source during the dump are dropped here too.

    Their tables and catalog rows came with the snapshot, their rows could not. With
    restoring mode off, DROP TABLE goes through TimescaleDB, which removes the chunk's
    catalog rows as well, as drop_chunks did on the source.
    """
    if not ctx.dropped_chunks:
        return
    with connect(ctx.opts.dsn, autocommit=True) as conn:
        for d in ctx.dropped_chunks:
            name = sql.Identifier(d["schema"], d["table"])
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(name))
            print(f"pystream-migrate: warning: chunk {d['schema']}.{d['table']} was "
                  "dropped on the source during the dump; it is left out here too",
                  file=sys.stderr)


def add_if_exists(stmt: str) -> str:
    """The drop statement(s) of an entry, made harmless where the object is already gone."""
    return "\n".join(_one_if_exists(part) for part in stmt.split("\n"))


def _one_if_exists(stmt: str) -> str:
    # Multi-word kinds before their prefixes ("DROP OPERATOR FAMILY" before "DROP OPERATOR").
    for kw in ("DROP OPERATOR FAMILY ", "DROP OPERATOR CLASS ",
               "DROP TEXT SEARCH CONFIGURATION ", "DROP TEXT SEARCH DICTIONARY ",
               "DROP TEXT SEARCH PARSER ", "DROP TEXT SEARCH TEMPLATE ", "DROP USER MAPPING ",
               "DROP ACCESS METHOD ", "DROP CONVERSION ",
               "DROP TABLE ", "DROP VIEW ", "DROP MATERIALIZED VIEW ", "DROP SEQUENCE ",
               "DROP INDEX ", "DROP SCHEMA ", "DROP FUNCTION ", "DROP PROCEDURE ",
               "DROP AGGREGATE ", "DROP TYPE ", "DROP DOMAIN ", "DROP EXTENSION ",
               "DROP TRIGGER ", "DROP RULE ", "DROP POLICY ", "DROP COLLATION ",
               "DROP CAST ", "DROP OPERATOR ", "DROP PUBLICATION ", "DROP SERVER ",
               "DROP FOREIGN TABLE ", "DROP FOREIGN DATA WRAPPER ", "DROP EVENT TRIGGER "):
        if stmt.startswith(kw) and not stmt.startswith(kw + "IF EXISTS"):
            return kw + "IF EXISTS " + stmt[len(kw):]
    # ALTER TABLE [ONLY] t DROP CONSTRAINT c / ALTER COLUMN ... DROP DEFAULT / ... ROW
    # LEVEL SECURITY: the table itself may be gone too.
    kw = "ALTER TABLE "
    if stmt.startswith(kw) and not stmt.startswith(kw + "IF EXISTS"):
        stmt = kw + "IF EXISTS " + stmt[len(kw):]
        head, sep, tail = stmt.rpartition(" DROP CONSTRAINT ")
        if sep and not tail.startswith("IF EXISTS"):
            stmt = head + sep + "IF EXISTS " + tail
    return stmt
