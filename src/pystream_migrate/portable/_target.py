"""The SQL of each portable entry, written for the target's TimescaleDB version.

Portable entries carry facts (dimensions, slices, definitions, schedules); this module
turns them into calls of the target's API when the restore starts, once the target's
version and edition are known. The SQL then runs through the ordinary restore machinery
(DDL batches, the data/post-data scheduler), like any other entry's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from pystream_migrate.catalog.queries import fetch_all, load_sql
from pystream_migrate.portable._jobs import job_sql
from pystream_migrate.portable._toc import (
    CAGG,
    CHUNK,
    COMPRESS,
    COMPRESSION,
    HYPERTABLE,
    JOB,
    WATERMARK,
)
from pystream_migrate.toc import TocEntry


@dataclass(frozen=True)
class Target:
    """What the target's TimescaleDB offers (catalog/sql/portable_target.sql)."""

    version: str
    schema: str  # the extension's schema: create_hypertable() and friends live there
    license: str | None
    superuser: bool
    create_chunk: str | None  # None on the Apache edition (a Timescale License function)
    skip_invalidation: bool
    refresh_options: bool  # refresh_continuous_aggregate(..., options => jsonb)
    decompress: bool = False  # --decompress: leave every chunk uncompressed

    @property
    def apache(self) -> bool:
        return self.license == "apache"

    def fn(self, name: str) -> sql.Composable:
        return sql.Identifier(self.schema, name)


def read_target(conn: psycopg.Connection, *, decompress: bool) -> Target:
    rows = fetch_all(conn, "portable_target")
    r = rows[0]
    # create_chunk() is declared on the Apache edition too, but refuses to run there.
    create_chunk = None if r["license"] == "apache" else r["create_chunk"]
    return Target(str(r["version"]), str(r["schema"]), r["license"], bool(r["superuser"]),
                  create_chunk, bool(r["skip_invalidation"]),
                  bool(r["refresh_options"]), decompress)


def render(entries: list[TocEntry], target: Target) -> None:
    """Fill in the SQL of every portable entry (in place)."""
    for e in entries:
        p = e.info.get("portable")
        if p is None:
            continue
        writer = _WRITERS.get(e.kind)
        if writer is not None:
            e.create_sql = writer(p, target).as_string(None)


def _interval(dim: dict[str, Any]) -> sql.Composable:
    return sql.SQL("{}::bigint").format(sql.Literal(int(dim["interval"])))


def mat_hypertable(schema: str, name: str) -> sql.Composable:
    """The target's materialized hypertable of continuous aggregate schema.name."""
    text = "\n".join(line for line in load_sql("portable_mat_hypertable").splitlines()
                     if not line.startswith("--"))
    return sql.SQL(text.strip()).format(schema=sql.Literal(schema), name=sql.Literal(name))


def _hypertable(p: dict[str, Any], t: Target) -> sql.Composable:
    dims = p["dimensions"]
    first = dims[0]
    args = [sql.SQL("{}::regclass").format(sql.Literal(p["table"])),
            sql.SQL("{}::name").format(sql.Literal(first["column"])),
            sql.SQL("chunk_time_interval => {}").format(_interval(first)),
            sql.SQL("create_default_indexes => false")]
    if first.get("partitioning_func"):
        args.append(sql.SQL("time_partitioning_func => {}::regproc").format(
            sql.Literal(first["partitioning_func"])))
    parts = [sql.SQL("SELECT 1 FROM {}({});").format(t.fn("create_hypertable"),
                                                     sql.SQL(", ").join(args))]
    for d in dims[1:]:
        dargs = [sql.SQL("{}::regclass").format(sql.Literal(p["table"])),
                 sql.SQL("{}::name").format(sql.Literal(d["column"]))]
        if d["open"]:
            dargs.append(sql.SQL("chunk_time_interval => {}").format(_interval(d)))
        else:
            dargs.append(sql.SQL("number_partitions => {}").format(
                sql.Literal(int(d["partitions"]))))
        if d.get("partitioning_func"):
            dargs.append(sql.SQL("partitioning_func => {}::regproc").format(
                sql.Literal(d["partitioning_func"])))
        parts.append(sql.SQL("SELECT 1 FROM {}({});").format(t.fn("add_dimension"),
                                                             sql.SQL(", ").join(dargs)))
    for d in dims:
        if d.get("integer_now_func"):
            parts.append(sql.SQL("SELECT {}({}::regclass, {}::regproc);").format(
                t.fn("set_integer_now_func"), sql.Literal(p["table"]),
                sql.Literal(d["integer_now_func"])))
    return sql.SQL("\n").join(parts)


def _compression(p: dict[str, Any], t: Target) -> sql.Composable:
    if t.decompress:
        return sql.SQL("")
    return sql.SQL("ALTER TABLE {} SET ({});").format(sql.SQL(p["table"]),
                                                      _compression_options(p))


def _compression_options(p: dict[str, Any]) -> sql.Composable:
    """The source's settings. An empty segmentby is said explicitly: the target would
    otherwise choose one (a continuous aggregate's GROUP BY columns, for one)."""
    opts: list[sql.Composable] = [
        sql.SQL("timescaledb.compress = true"),
        sql.SQL("timescaledb.compress_segmentby = {}").format(
            sql.Literal(p.get("segmentby") or ""))]
    if p.get("orderby"):
        opts.append(sql.SQL("timescaledb.compress_orderby = {}").format(
            sql.Literal(p["orderby"])))
    return sql.SQL(", ").join(opts)


def _cagg(p: dict[str, Any], t: Target) -> sql.Composable:
    name = sql.Identifier(p["schema"], p["name"])
    definition = p["definition"].strip().rstrip(";")
    parts = [sql.SQL(
        "CREATE MATERIALIZED VIEW {} WITH (timescaledb.continuous, "
        "timescaledb.materialized_only = {}, timescaledb.create_group_indexes = false) "
        "AS {} WITH NO DATA;").format(name, sql.Literal(bool(p["materialized_only"])),
                                       sql.SQL(definition))]
    mat = p["mat"]
    parts.append(sql.SQL("SELECT {}({}, {});").format(
        t.fn("set_chunk_time_interval"), mat_hypertable(p["schema"], p["name"]),
        _interval(mat["dimensions"][0])))
    if p["compression_enabled"] and not t.decompress:
        parts.append(sql.SQL("ALTER MATERIALIZED VIEW {} SET ({});").format(
            name, _compression_options(mat)))
    return sql.SQL("\n").join(parts)


def _chunk(p: dict[str, Any], t: Target) -> sql.Composable:
    if t.create_chunk is None:
        return sql.SQL("")  # Apache edition: rows go through the hypertable (see checks)
    schema, name = split_ident(p["table"])
    if p["cagg"]:
        view_schema, view_name = split_ident(p["hypertable"])
        on: sql.Composable = mat_hypertable(view_schema, view_name)
    else:
        on = sql.SQL("{}::regclass").format(sql.Literal(p["hypertable"]))
    return sql.SQL("SELECT 1 FROM {}({}, {}::jsonb, {}, {});").format(
        sql.SQL(t.create_chunk.split("(")[0]), on, sql.Literal(json.dumps(p["slices"])),
        sql.Literal(schema), sql.Literal(name))


def _compress(p: dict[str, Any], t: Target) -> sql.Composable:
    if t.decompress:
        return sql.SQL("")
    return sql.SQL("SELECT 1 FROM {}({}::regclass);").format(
        t.fn("compress_chunk"), sql.Literal(p["table"]))


def _watermark(p: dict[str, Any], t: Target) -> sql.Composable:
    """drop_chunks on a continuous aggregate sets its watermark from its materialized rows.

    Nothing is older than the oldest possible time, so nothing is dropped. For integer
    time that is the type's minimum plus one: 2.28 refuses the minimum itself ("invalid
    time range") on an integer continuous aggregate.
    """
    dim = p["mat"]["dimensions"][0]
    kind = dim["type"]
    if kind in ("timestamp with time zone", "timestamp without time zone", "date"):
        oldest: sql.Composable = sql.SQL("{}::{}").format(sql.Literal("4714-11-24 BC"),
                                                         sql.SQL(kind))
    else:
        oldest = sql.SQL("({})::{}").format(sql.SQL(_INT_MIN.get(kind, "-32767")),
                                           sql.SQL(kind))
    return sql.SQL("SELECT 1 FROM {}({}, older_than => {});").format(
        t.fn("drop_chunks"), sql.Literal(p["cagg"]), oldest)


_INT_MIN = {"smallint": "-32767", "integer": "-2147483647",
            "bigint": "-9223372036854775807"}


def split_ident(qualified: str) -> tuple[str, str]:
    """Schema and name of an identifier quoted by catalog.names.ident."""
    schema, _, name = qualified.partition('"."')
    return schema[1:].replace('""', '"'), name[:-1].replace('""', '"')


_WRITERS = {
    HYPERTABLE: _hypertable,
    CAGG: _cagg,
    CHUNK: _chunk,
    COMPRESSION: _compression,
    COMPRESS: _compress,
    WATERMARK: _watermark,
    JOB: lambda p, t: job_sql(p, t.schema, decompress=t.decompress),
}
