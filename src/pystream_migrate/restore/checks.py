"""Checks before the target changes: versions, emptiness, resume state; TimescaleDB setup.

Everything here either changes nothing, or (``--create``, ``CREATE EXTENSION``) prepares
an empty target for the archive.
"""

from __future__ import annotations

import sys

import psycopg
from psycopg import sql

from pystream_migrate import connection, portable, timescale
from pystream_migrate.catalog.queries import fetch_all
from pystream_migrate.connection import connect, describe_target, parse_dsn, with_dbname
from pystream_migrate.errors import PreconditionFailed
from pystream_migrate.restore import state
from pystream_migrate.restore.context import RestoreContext


def create_database(ctx: RestoreContext) -> None:
    """``--create``: a new database named by -d, in the source's encoding."""
    params = parse_dsn(ctx.opts.dsn)
    dbname = params.get("dbname")
    if not dbname:
        raise PreconditionFailed("--create needs a database name in -d")
    with connect(with_dbname(ctx.opts.dsn, "postgres"), autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_catalog.pg_database WHERE datname = %s", (dbname,)
        ).fetchone()
        if exists:
            raise PreconditionFailed(
                f"--create: database {dbname!r} already exists",
                hint="drop it first or restore into it without --create",
            )
        enc = ctx.source.get("encoding", "UTF8")
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING {}").format(
                sql.Identifier(dbname), sql.Literal(enc)
            )
        )
    ctx.log(f"created database {dbname}")


def check_target(ctx: RestoreContext, leader: psycopg.Connection) -> None:
    """Server version, connection budget, resume state and emptiness of the target."""
    o = ctx.opts
    where = describe_target(o.dsn)
    src_num = int(ctx.source.get("server_version_num") or 0)
    tgt_num = leader.info.server_version
    if src_num and tgt_num // 10000 < src_num // 10000:
        raise PreconditionFailed(
            f"the target {where} runs PostgreSQL {tgt_num // 10000}, older than the "
            f"source's {src_num // 10000}",
            hint="restore into PostgreSQL of the same major version or newer",
        )
    check_connection_budget(ctx, leader)
    has_state = state.exists(leader)
    if has_state and (o.resume or o.clean):
        state.wait_for_other_sessions(leader, where, _say)
    if o.resume:
        if not has_state:
            raise PreconditionFailed(
                f"--resume: no interrupted restore found on {where}",
                hint="run the restore without --resume",
            )
        ctx.done = state.load(leader, ctx.identity)
        ctx.log(f"resuming: {len(ctx.done)} entries were already done")
        return
    if has_state and not o.clean:
        raise PreconditionFailed(
            f"the target {where} holds an unfinished restore",
            hint="finish it with --resume, or start again with --clean",
        )
    if not (o.clean or o.data_only):
        found = fetch_all(leader, "target_objects")
        if found:
            names = ", ".join(f"{r['kind']} {r['name']}" for r in found[:3])
            raise PreconditionFailed(
                f"the target {where} is not empty (it has {names}"
                f"{', ...' if len(found) > 3 else ''})",
                hint="restore into an empty database, or pass --clean to drop the "
                "archive's objects first",
            )


def _say(message: str) -> None:
    """Always shown: the restore waits for something outside it."""
    print(f"pystream-migrate: {message}", file=sys.stderr, flush=True)


def check_connection_budget(ctx: RestoreContext, leader: psycopg.Connection) -> None:
    """Whether the target accepts the leader plus ``-j`` worker connections (exit 5 with
    the numbers if not; see ``connection.check_connection_budget``)."""
    connection.check_connection_budget(leader, ctx.opts.jobs,
                                       f"the target {describe_target(ctx.opts.dsn)}")


def ensure_timescaledb(ctx: RestoreContext, leader: psycopg.Connection) -> None:
    """Create the archive's TimescaleDB version in an empty target, or check the target's."""
    src_version = ctx.source.get("timescaledb")
    if not src_version:
        return
    if ctx.portable_mode:  # portable mode: any version, through its API
        ctx.portable = portable.prepare(leader, ctx.entries, _extension_schema(ctx),
                                        decompress=ctx.opts.decompress,
                                        no_owner=ctx.opts.no_owner)
        return
    where = describe_target(ctx.opts.dsn)
    info = timescale.extension_info(leader)
    created = info.version is None
    if info.version is None:
        available = timescale.available_versions(leader)
        if not available:
            raise PreconditionFailed(
                f"the archive needs TimescaleDB {src_version}, and the target {where} "
                "does not have the timescaledb extension installed",
                hint=f"install TimescaleDB {src_version} on the target server",
            )
        if src_version not in available:
            raise timescale.missing_version(src_version, available, where)
        preload = leader.execute("SHOW shared_preload_libraries").fetchone()
        if not preload or "timescaledb" not in str(preload[0]):
            raise PreconditionFailed(
                f"the target {where} does not preload timescaledb",
                hint="add timescaledb to shared_preload_libraries and restart the server",
            )
        schema = _extension_schema(ctx)
        if schema != "public":
            leader.execute(
                sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema))
            )
        leader.execute(
            sql.SQL("CREATE EXTENSION timescaledb WITH SCHEMA {} VERSION {}").format(
                sql.Identifier(schema), sql.Literal(src_version)
            )
        )
        info = timescale.extension_info(leader)
        ctx.log(f"created extension timescaledb {info.version}")
    timescale.check_versions(src_version, info)
    timescale.check_license(leader, ctx.entries, info, created=created)
    ctx.ts_schema = info.schema


def _extension_schema(ctx: RestoreContext) -> str:
    for e in ctx.entries:
        if e.kind == "EXTENSION" and e.name == "timescaledb":
            return str(e.info.get("schema") or "public")
    return "public"
