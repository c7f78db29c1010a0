"""The restore side of portable mode: the steps that are not plain TOC entries.

Everything else a portable archive holds runs through the ordinary restore (see
``_target.render``). What is left is ordering that a transaction cannot hold:

- before any row is loaded, each continuous aggregate is refreshed up to the source's
  invalidation threshold while its tables are still empty: that moves the target's
  threshold there and clears the target's invalidation log below it, without computing
  anything (``refresh_continuous_aggregate`` refuses to run inside a transaction);
- rows are then loaded without logging invalidations (``timescaledb.skip_cagg_invalidation``
  where the target has it, 2.28; as a superuser on older versions, with
  ``session_replication_role = replica``, which silences their invalidation triggers), so
  the materialized rows loaded from the archive stay valid and history whose raw rows
  were dropped on the source survives the next refresh;
- at the end, the source's pending invalidations (ranges that its next refresh would
  recompute) are written to the target's logs, which needs a superuser; otherwise they
  are named in a warning.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from pystream_migrate.catalog.queries import fetch_all
from pystream_migrate.errors import PreconditionFailed
from pystream_migrate.portable._checks import check_edition
from pystream_migrate.portable._jobs import job_owners
from pystream_migrate.portable._names import clear_chunk_names
from pystream_migrate.portable._target import (
    Target,
    mat_hypertable,
    read_target,
    render,
    split_ident,
)
from pystream_migrate.portable._toc import CAGG, CHUNK
from pystream_migrate.toc import Section, TocEntry

# TimescaleDB's smallest time value (ts_time_get_min) for timestamps and dates, and the
# integer types' minima: a threshold at the minimum means "never refreshed".
_NEVER = {"timestamp with time zone": -210866803200000000,
          "timestamp without time zone": -210866803200000000,
          "date": -210866803200000000, "smallint": -32768, "integer": -2147483648,
          "bigint": -9223372036854775808}
_TO_TIME = {"timestamp with time zone": "to_timestamp",
            "timestamp without time zone": "to_timestamp_without_timezone",
            "date": "to_date"}


@dataclass
class PortableRestore:
    """The state a portable restore keeps between its steps."""

    target: Target
    warnings: list[str] = field(default_factory=list)
    silenced: bool = False  # loaders write rows without logging invalidations


def prepare(conn: psycopg.Connection, entries: list[TocEntry], schema: str, *,
            decompress: bool, no_owner: bool = False) -> PortableRestore:
    """Create the extension if the target lacks it (its default version), check the
    target's edition and write every portable entry's SQL, before anything else changes."""
    if not fetch_all(conn, "portable_target"):
        _create_extension(conn, schema)
    target = read_target(conn, decompress=decompress)
    state = PortableRestore(target, check_edition(entries, target))
    state.silenced = target.skip_invalidation or target.superuser
    through_root = {(e.schema, e.name): e.info["portable"]["hypertable"]
                    for e in entries if e.kind == CHUNK} if target.create_chunk is None else {}
    for e in entries:
        if e.section is Section.DATA and e.info.get("portable_rows") and e.copy is not None:
            # Rows go into a chunk made moments ago: no TRUNCATE + FREEZE (a TRUNCATE of
            # a chunk is a change continuous aggregates would log).
            e.info["no_freeze"] = True
            root = e.info.get("heap_root") or through_root.get((e.copy.schema, e.copy.table))
            if root is not None:
                e.copy.schema, e.copy.table = split_ident(root)
    render(entries, target)
    if not no_owner:
        state.warnings += job_owners(conn, entries, superuser=target.superuser)
    clear_chunk_names(conn, entries, target)
    return state


def _create_extension(conn: psycopg.Connection, schema: str) -> None:
    preload = conn.execute("SHOW shared_preload_libraries").fetchone()
    if not preload or "timescaledb" not in str(preload[0]):
        raise PreconditionFailed(
            "the target does not preload timescaledb",
            hint="add timescaledb to shared_preload_libraries and restart the server")
    try:
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        conn.execute(sql.SQL("CREATE EXTENSION timescaledb WITH SCHEMA {}").format(
            sql.Identifier(schema)))
    except psycopg.errors.InsufficientPrivilege as exc:
        raise PreconditionFailed(
            f"the target has no timescaledb extension, and creating it was refused: "
            f"{exc.diag.message_primary}",
            hint="have an administrator run CREATE EXTENSION timescaledb in the target "
            "database, then restore again") from None
    except psycopg.errors.UndefinedFile:
        raise PreconditionFailed("the target server has no TimescaleDB installed",
                                 hint="install TimescaleDB on the target server") from None


def prepare_loader(conn: psycopg.Connection, state: PortableRestore) -> None:
    """Set up a connection that loads rows (outside a transaction)."""
    if state.target.skip_invalidation:
        conn.execute("SET timescaledb.skip_cagg_invalidation = on")
    elif state.target.superuser:
        conn.execute("SET session_replication_role = replica")


def before_data(conn: psycopg.Connection, entries: list[TocEntry],
                state: PortableRestore) -> None:
    """Move each continuous aggregate's invalidation threshold to the source's, on empty
    tables (autocommit connection; parents first, as the TOC orders them)."""
    for e in entries:
        if e.kind != CAGG:
            continue
        p = e.info["portable"]
        time_type = p["mat"]["dimensions"][0]["type"]
        threshold = p.get("threshold")
        if threshold is None or int(threshold) <= _NEVER.get(time_type, -(2**63)):
            continue
        if _threshold_on_target(conn, p) >= int(threshold):
            continue  # --resume: done before the interruption, and rows may be in now
        conn.execute("SET client_min_messages = warning")
        # One pass, not batches: 2.28 otherwise refreshes chunk by chunk and stops the
        # threshold at the last (empty) chunk.
        single = sql.SQL(", options => '{\"buckets_per_batch\": 0}'") \
            if state.target.refresh_options else sql.SQL("")
        conn.execute(sql.SQL("CALL {}({}, NULL, {}{})").format(
            sql.Identifier(state.target.schema, "refresh_continuous_aggregate"),
            sql.Literal(sql.Identifier(p["schema"], p["name"]).as_string(None)),
            _time_value(int(threshold), time_type), single))
        conn.execute("RESET client_min_messages")


def _threshold_on_target(conn: psycopg.Connection, p: dict[str, Any]) -> int:
    """The invalidation threshold of the hypertable a continuous aggregate aggregates,
    on the target (the lowest value if it has none yet)."""
    rows = fetch_all(conn, "portable_target_threshold",
                     {"schema": p["schema"], "name": p["name"]})
    return int(rows[0]["watermark"]) if rows and rows[0]["watermark"] is not None \
        else -(2**63)


def _time_value(value: int, time_type: str) -> sql.Composable:
    fn = _TO_TIME.get(time_type)
    if fn is None:
        return sql.SQL("{}::{}").format(sql.Literal(value), sql.SQL(time_type))
    return sql.SQL("{}({})").format(sql.Identifier("_timescaledb_functions", fn),
                                    sql.Literal(value))


def finish(conn: psycopg.Connection, entries: list[TocEntry],
           state: PortableRestore) -> list[str]:
    """Carry the source's pending invalidations; return the warnings to show."""
    warnings = list(state.warnings)
    if not state.silenced:
        warnings.append("the target logged the restored rows as changes: the next refresh "
                        "of each continuous aggregate recomputes them from the raw rows "
                        "(history whose raw rows were dropped is lost then); restore as a "
                        "superuser or into TimescaleDB 2.28 or later to avoid it")
    for e in entries:
        if e.kind != CAGG:
            continue
        p = e.info["portable"]
        threshold = int(p.get("threshold") or -(2**63))
        pending = [r for r in p.get("pending", []) if int(r[0]) < threshold]
        pending_raw = p.get("pending_raw", [])
        if not pending and not pending_raw:
            continue
        if not state.target.superuser:
            warnings.append(
                f"continuous aggregate {e.schema}.{e.name}: {len(pending) + len(pending_raw)} "
                "ranges awaiting its next refresh on the source were not carried (writing "
                "them needs a superuser); refresh it over "
                + ", ".join(json.dumps(r) for r in pending + pending_raw)
                + " (TimescaleDB's internal time values) to apply them")
            continue
        _write_pending(conn, p, pending, pending_raw)
    return warnings


def _write_pending(conn: psycopg.Connection, p: dict[str, object],
                   pending: list[list[int]], pending_raw: list[list[int]]) -> None:
    mat = mat_hypertable(str(p["schema"]), str(p["name"]))
    with conn.transaction():
        for lo, hi in pending:
            conn.execute(sql.SQL(
                "INSERT INTO _timescaledb_catalog.continuous_aggs_materialization_invalidation_log "
                "SELECT h.id, {}, {} FROM _timescaledb_catalog.hypertable h "
                "WHERE pg_catalog.format('%I.%I', h.schema_name, h.table_name)::regclass = {} "
                "AND NOT EXISTS (SELECT 1 FROM "
                "_timescaledb_catalog.continuous_aggs_materialization_invalidation_log l "
                "WHERE l.materialization_id = h.id "
                "AND l.lowest_modified_value = {} AND l.greatest_modified_value = {})"
            ).format(sql.Literal(lo), sql.Literal(hi), mat, sql.Literal(lo), sql.Literal(hi)))
        for lo, hi in pending_raw:
            conn.execute(sql.SQL(
                "INSERT INTO _timescaledb_catalog.continuous_aggs_hypertable_invalidation_log "
                "SELECT ca.raw_hypertable_id, {}, {} FROM _timescaledb_catalog.continuous_agg ca "
                "JOIN _timescaledb_catalog.hypertable h ON h.id = ca.mat_hypertable_id "
                "WHERE pg_catalog.format('%I.%I', h.schema_name, h.table_name)::regclass = {} "
                "AND NOT EXISTS (SELECT 1 FROM "
                "_timescaledb_catalog.continuous_aggs_hypertable_invalidation_log l "
                "WHERE l.hypertable_id = ca.raw_hypertable_id "
                "AND l.lowest_modified_value = {} AND l.greatest_modified_value = {})"
            ).format(sql.Literal(lo), sql.Literal(hi), mat, sql.Literal(lo), sql.Literal(hi)))
