"""What an export reads: the selected tables, their columns, and their chunks in range.

Run on the leader inside the export's snapshot. A hypertable's work is one unit per
chunk (``--since``/``--until`` keep the chunks whose whole range lies after/before the
given time, the way ``drop_chunks(newer_than/older_than)`` picks them); a plain table
is one unit. ``-n/-N/-t/-T`` use :class:`pystream_migrate.selection.Pattern`, as dump
does, except that any subset of the hypertables may be chosen: an export carries no
TimescaleDB catalog.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import psycopg

from pystream_migrate.catalog.queries import fetch_all
from pystream_migrate.errors import MigrateError, UsageError
from pystream_migrate.parquet._layout import (
    chunk_file,
    is_time_type,
    part_file,
    range_value,
    table_dir,
)
from pystream_migrate.parquet._types import ColumnSpec, column_spec
from pystream_migrate.selection import Pattern, Selection


@dataclass
class Table:
    relid: int
    schema: str
    name: str
    est_bytes: int
    hypertable: bool = False
    dimension_id: int | None = None
    time_column: str | None = None
    time_type: str | None = None
    columns: list[ColumnSpec] = field(default_factory=list)

    @cached_property
    def key(self) -> str:
        return table_dir(self.schema, self.name)

    def describe(self) -> dict[str, Any]:
        return {"schema": self.schema, "table": self.name,
                "kind": "hypertable" if self.hypertable else "table",
                "time_column": self.time_column, "time_type": self.time_type,
                "columns": [c.describe() for c in self.columns]}


@dataclass
class Unit:
    """One chunk of a hypertable, or one plain table: what a worker exports at once."""

    table: Table
    est_bytes: int
    chunk_schema: str | None = None
    chunk_name: str | None = None
    range_start: int | None = None
    range_end: int | None = None
    compressed: bool = False

    @property
    def key(self) -> str:
        return f"{self.table.key}/{self.chunk_name}" if self.chunk_name else self.table.key

    @property
    def label(self) -> str:
        name = f"{self.table.schema}.{self.table.name}"
        return f"{name} chunk {self.chunk_name}" if self.chunk_name else name

    @property
    def relation(self) -> tuple[str, str]:
        if self.chunk_schema is not None and self.chunk_name is not None:
            return self.chunk_schema, self.chunk_name
        return self.table.schema, self.table.name

    def file_name(self, n: int) -> str:
        if self.chunk_name is None or self.range_start is None or self.range_end is None:
            return part_file(n)
        return chunk_file(self.range_start, self.range_end, self.table.time_type,
                          self.chunk_name)

    def time_range(self) -> dict[str, Any] | None:
        if self.range_start is None or self.range_end is None:
            return None
        return {"column": self.table.time_column,
                "start": range_value(self.range_start, self.table.time_type),
                "end": range_value(self.range_end, self.table.time_type)}


@dataclass(frozen=True)
class Bound:
    """A --since/--until value in TimescaleDB's internal forms, read by the server."""

    option: str
    text: str
    tz_us: int | None  # as timestamptz, microseconds since 1970 (the session's TimeZone)
    naive_us: int | None  # as timestamp or date, microseconds since 1970 (as if UTC)
    integer: int | None  # for integer time columns

    def internal(self, time_type: str | None, table: str) -> int:
        if time_type == "timestamp with time zone":
            value = self.tz_us
        elif time_type in ("timestamp without time zone", "date"):
            value = self.naive_us
        else:
            value = self.integer
        if value is None:
            kind = "a time" if is_time_type(time_type) else "an integer"
            raise UsageError(f"{self.option} {self.text!r} is not {kind}, and the time "
                             f"column of {table} is {time_type}",
                             hint=f"give {self.option} as a value of that type, or select "
                             "hypertables with one kind of time column (-t)")
        return value


def parse_bound(conn: psycopg.Connection, option: str, text: str) -> Bound:
    """Read a --since/--until value; call outside any transaction that must survive."""
    integer = int(text) if re.fullmatch(r"[-+]?\d+", text.strip()) else None
    tz_us = naive_us = None
    if integer is None:
        try:
            row = conn.execute(
                "SELECT (extract(epoch FROM %(t)s::timestamptz) * 1000000)::bigint, "
                "(extract(epoch FROM %(t)s::timestamp) * 1000000)::bigint", {"t": text}
            ).fetchone()
        except psycopg.errors.DataError as exc:
            conn.rollback()
            raise UsageError(f"{option} {text!r}: {exc.diag.message_primary}",
                             hint="give a time such as 2024-01-01 or '2024-01-01 "
                             "12:00:00+00', or a number for integer time columns") from None
        conn.rollback()
        assert row is not None
        tz_us, naive_us = row
    return Bound(option, text, tz_us, naive_us, integer)


def selected(sel: Selection, schema: str, name: str) -> bool:
    include_s = [Pattern.parse(p, schema_only=True) for p in sel.schemas]
    exclude_s = [Pattern.parse(p, schema_only=True) for p in sel.exclude_schemas]
    if include_s and not any(p.matches(None, schema) for p in include_s):
        return False
    if any(p.matches(None, schema) for p in exclude_s):
        return False
    include_t = [Pattern.parse(p) for p in sel.tables]
    if include_t and not any(p.matches(schema, name) for p in include_t):
        return False
    return not any(Pattern.parse(p).matches(schema, name) for p in sel.exclude_tables)


def select_tables(conn: psycopg.Connection, sel: Selection, timescaledb: bool) -> list[Table]:
    """The tables to export, with their columns and, for hypertables, the time column."""
    roles = ({int(r["relid"]): r for r in fetch_all(conn, "export_hypertables")}
             if timescaledb else {})
    tables: list[Table] = []
    for r in fetch_all(conn, "export_tables"):
        role = roles.get(int(r["relid"]))
        if role is not None and role["role"] == "internal":
            continue
        if not selected(sel, r["schema"], r["name"]):
            continue
        t = Table(int(r["relid"]), r["schema"], r["name"], int(r["est_bytes"] or 0))
        if role is not None:
            t.hypertable = True
            t.dimension_id = role["dimension_id"]
            t.time_column, t.time_type = role["time_column"], role["time_type"]
        tables.append(t)
    _check_distinct_dirs(tables)
    by_relid = {t.relid: t for t in tables}
    if tables:
        for row in fetch_all(conn, "export_columns", {"relids": list(by_relid)}):
            by_relid[int(row["relid"])].columns.append(column_spec(row))
    return tables


def _check_distinct_dirs(tables: list[Table]) -> None:
    seen: dict[str, Table] = {}
    for t in tables:
        other = seen.setdefault(t.key, t)
        if other is not t:
            raise MigrateError(
                f"tables {other.schema!r}.{other.name!r} and {t.schema!r}.{t.name!r} would "
                f"both be written to the directory {t.key!r}",
                hint="export them separately, leaving one out with -T")


def plan_units(conn: psycopg.Connection, tables: list[Table], since: Bound | None,
               until: Bound | None) -> list[Unit]:
    """Every chunk in range of the selected hypertables, and every plain table."""
    units = [Unit(t, t.est_bytes) for t in tables if not t.hypertable]
    hypertables = {t.relid: t for t in tables if t.hypertable and t.dimension_id is not None}
    if not hypertables:
        return units
    rows = fetch_all(conn, "export_chunks", {
        "relids": list(hypertables),
        "dimension_ids": [t.dimension_id for t in hypertables.values()]})
    for r in rows:
        t = hypertables[int(r["hypertable_relid"])]
        start, end = int(r["range_start"]), int(r["range_end"])
        label = f"{t.schema}.{t.name}"
        if since is not None and start < since.internal(t.time_type, label):
            continue
        if until is not None and end > until.internal(t.time_type, label):
            continue
        units.append(Unit(t, int(r["est_bytes"] or 0), r["schema"], r["name"], start, end,
                          bool(r["compressed"])))
    return units
