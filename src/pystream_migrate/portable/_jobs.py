"""Jobs and policies on the target: the add_* call that recreates each, then alter_job.

A policy is added through its own function (add_retention_policy, ...) so that the
target fills in its own ids (hypertable_id, mat_hypertable_id) in the configuration;
alter_job then sets the rest of the source's configuration, its schedule, whether it
is scheduled, and when it runs next, all in the same statement, so the target's job
scheduler never sees the job half made. User-defined actions are added with add_job.
"""

from __future__ import annotations

import json
from typing import Any

import psycopg
from psycopg import sql

from pystream_migrate.catalog.queries import fetch_all
from pystream_migrate.portable._toc import JOB
from pystream_migrate.toc import TocEntry

# Keys of a policy's configuration that name the source's catalog ids.
_ID_KEYS = ("hypertable_id", "mat_hypertable_id")
_POLICY_SCHEMAS = ("_timescaledb_functions", "_timescaledb_internal")


def _value(v: Any) -> sql.Composable:
    """A policy parameter from its JSON form: an interval as text, or an integer."""
    if v is None:
        return sql.SQL("NULL")
    if isinstance(v, bool) or not isinstance(v, int | str):
        raise ValueError(f"unexpected policy parameter {v!r}")
    if isinstance(v, int):
        return sql.Literal(v)
    return sql.SQL("{}::interval").format(sql.Literal(v))


def _add_call(j: dict[str, Any], ts: str) -> sql.Composable | None:
    """The call that creates the job on the target, or None when it is not carried."""
    cfg = j["config"] or {}
    proc = j["proc_name"]
    rel = sql.SQL("{}::regclass").format(sql.Literal(j["relation"] or ""))
    fn = lambda name: sql.Identifier(ts, name)  # noqa: E731
    if j["proc_schema"] not in _POLICY_SCHEMAS:
        args = [sql.SQL("{}::regproc").format(sql.Literal(_qual(j))),
                sql.SQL("schedule_interval => {}::interval").format(
                    sql.Literal(j["schedule_interval"])),
                sql.SQL("config => {}::jsonb").format(
                    sql.Literal(json.dumps(cfg) if j["config"] is not None else None)),
                sql.SQL("scheduled => false")]
        if j.get("check_func"):
            args.append(sql.SQL("check_config => {}::regproc").format(
                sql.Literal(j["check_func"])))
        return sql.SQL("{}({})").format(fn("add_job"), sql.SQL(", ").join(args))
    if proc == "policy_retention":
        key = "drop_after" if "drop_after" in cfg else "drop_created_before"
        return sql.SQL("{}({}, {} => {})").format(fn("add_retention_policy"), rel,
                                                  sql.Identifier(key), _value(cfg.get(key)))
    if proc == "policy_compression":
        key = "compress_after" if "compress_after" in cfg else "compress_created_before"
        return sql.SQL("{}({}, {} => {})").format(fn("add_compression_policy"), rel,
                                                  sql.Identifier(key), _value(cfg.get(key)))
    if proc == "policy_reorder":
        return sql.SQL("{}({}, {})").format(fn("add_reorder_policy"), rel,
                                            sql.Literal(cfg.get("index_name")))
    if proc == "policy_refresh_continuous_aggregate":
        return sql.SQL("{}({}, start_offset => {}, end_offset => {}, "
                       "schedule_interval => {}::interval)").format(
            fn("add_continuous_aggregate_policy"), rel, _value(cfg.get("start_offset")),
            _value(cfg.get("end_offset")), sql.Literal(j["schedule_interval"]))
    return None


def _qual(j: dict[str, Any]) -> str:
    return sql.Identifier(j["proc_schema"], j["proc_name"]).as_string(None)


def _config(j: dict[str, Any], extra: dict[str, Any]) -> sql.Composable:
    """The source's configuration with the target's ids of the relation it works on.

    The ids are looked up by name in the target's catalog (the job made in the same
    statement is not visible to it yet, so its configuration cannot be read back).
    """
    cfg = j["config"] or {}
    ids = []
    if "hypertable_id" in cfg:
        ids.append(sql.SQL("'hypertable_id', (SELECT h.id FROM _timescaledb_catalog.hypertable h "
                           "WHERE pg_catalog.format('%I.%I', h.schema_name, h.table_name)"
                           "::regclass = {}::regclass)").format(sql.Literal(j["relation"])))
    if "mat_hypertable_id" in cfg:
        ids.append(sql.SQL("'mat_hypertable_id', (SELECT ca.mat_hypertable_id "
                           "FROM _timescaledb_catalog.continuous_agg ca "
                           "WHERE pg_catalog.format('%I.%I', ca.user_view_schema, "
                           "ca.user_view_name)::regclass = {}::regclass)").format(
                               sql.Literal(j["relation"])))
    return sql.SQL("pg_catalog.jsonb_build_object({}) || {}::jsonb").format(
        sql.SQL(", ").join(ids), sql.Literal(json.dumps(extra)))


def job_sql(j: dict[str, Any], ts: str, *, decompress: bool) -> sql.Composable:
    """One statement: create the job, then give it the source's settings."""
    if decompress and j["proc_name"] == "policy_compression":
        return sql.SQL("")
    add = _add_call(j, ts)
    if add is None:
        raise ValueError(f"job {j['job_id']} runs {j['proc_name']}, which the portable "
                         "restore does not know")
    extra = {k: v for k, v in (j["config"] or {}).items() if k not in _ID_KEYS}
    settings = [
        sql.SQL("schedule_interval => {}::interval").format(sql.Literal(j["schedule_interval"])),
        sql.SQL("max_runtime => {}::interval").format(sql.Literal(j["max_runtime"])),
        sql.SQL("max_retries => {}").format(sql.Literal(int(j["max_retries"]))),
        sql.SQL("retry_period => {}::interval").format(sql.Literal(j["retry_period"])),
        sql.SQL("scheduled => {}").format(sql.Literal(bool(j["scheduled"]))),
        sql.SQL("fixed_schedule => {}").format(sql.Literal(bool(j["fixed_schedule"]))),
    ]
    if j["config"] is not None:
        settings.append(sql.SQL("config => {}").format(_config(j, extra)))
    if j.get("next_start"):
        settings.append(sql.SQL("next_start => {}::timestamptz").format(
            sql.Literal(j["next_start"])))
    if j.get("initial_start") and j["fixed_schedule"]:
        settings.append(sql.SQL("initial_start => {}::timestamptz").format(
            sql.Literal(j["initial_start"])))
    if j.get("timezone"):
        settings.append(sql.SQL("timezone => {}").format(sql.Literal(j["timezone"])))
    # The new job's id, for the owner statement that may follow (see job_owners).
    return sql.SQL("SELECT pg_catalog.set_config({}, j.id::text, true) "
                   "FROM {} AS j(id), LATERAL {}(j.id, {});").format(
        sql.Literal(_JOB_ID), add, sql.Identifier(ts, "alter_job"),
        sql.SQL(", ").join(settings))


_JOB_ID = "pystream_migrate.job_id"


def job_owners(conn: psycopg.Connection, entries: list[TocEntry], *,
               superuser: bool) -> list[str]:
    """Give each job the source's owner, where the restoring role can: a superuser sets
    it in the job catalog, if the role exists on the target (the entry's owner
    statement, which --no-owner leaves out). Otherwise the job belongs to the restoring
    role, as its add_* call made it; the warning names those jobs."""
    jobs = [e for e in entries if e.kind == JOB and e.owner]
    if not jobs:
        return []
    found = conn.execute("SELECT pg_catalog.array_agg(rolname::text) FROM pg_catalog.pg_roles "
                         "WHERE rolname = ANY(%s)", ([e.owner for e in jobs],)).fetchone()
    exists = set(found[0] or []) if found else set()
    me = str(conn.info.parameter_status("session_authorization") or "")
    kept = []
    for e in jobs:
        if superuser and e.owner in exists:
            e.owner_sql = sql.SQL(
                "UPDATE _timescaledb_config.bgw_job SET owner = {}::regrole "
                "WHERE id = pg_catalog.current_setting({})::integer;").format(
                sql.Literal(sql.Identifier(str(e.owner)).as_string(None)),
                sql.Literal(_JOB_ID)).as_string(None)
        elif e.owner != me:
            kept.append(f"{e.name} (owner {e.owner})")
    if not kept:
        return []
    why = ("does not exist on the target" if superuser
           else "can be given only by a superuser")
    return [f"jobs {', '.join(kept)} belong to the restoring role {me}: their source "
            f"owner {why}"]


def _job_key(j: dict[str, Any]) -> tuple[Any, ...]:
    """What makes a job the same on source and target: its procedure, the relation it
    works on, and its configuration without the catalog ids."""
    cfg = {k: v for k, v in (j["config"] or {}).items() if k not in _ID_KEYS}
    return (j["proc_schema"], j["proc_name"], j["relation"], json.dumps(cfg, sort_keys=True))


def delete_restored_jobs(conn: psycopg.Connection, entries: list[TocEntry]) -> int:
    """For ``restore --clean``: delete the target's jobs that the archive's JOB entries
    create again (a portable restore gives them ids of the target's own, so they are
    found by what they do); the number deleted.

    Policies would go with the relations ``--clean`` drops, but a user-defined job
    (add_job) outlives them: without this a second restore doubles it.
    """
    wanted = {_job_key(e.info["portable"]) for e in entries if e.kind == JOB}
    target = fetch_all(conn, "portable_target") if wanted else []
    if not target:
        return 0
    delete = sql.Identifier(str(target[0]["schema"]), "delete_job")
    ids = [int(j["job_id"]) for j in fetch_all(conn, "portable_jobs") if _job_key(j) in wanted]
    for job_id in ids:
        conn.execute(sql.SQL("SELECT {}({})").format(delete, sql.Literal(job_id)))
    return len(ids)
