"""Mapping PostgreSQL column types to Arrow types, and to what COPY sends for each.

Every column arrives as COPY's CSV text and is parsed by pyarrow's CSV reader into
``csv_type``; ``kind`` says what :mod:`._decode` does afterwards to reach ``arrow``,
the type the Parquet file holds. The mapping (see docs/usage.md):

- timestamptz → timestamp[us, UTC]; timestamp → timestamp[us]; date → date32;
  time → time64[us]; ``±infinity`` is the type's smallest/largest value, as in
  PostgreSQL itself;
- int2/4/8, float4/8, bool; text, varchar, char(n), name → string; bytea → binary;
  uuid → the arrow.uuid extension (Parquet UUID);
- numeric(p, s) with 1 ≤ p ≤ 38 and 0 ≤ s ≤ p → decimal128(p, s); other numerics →
  string, and the column's metadata says so;
- interval → struct<months: int32, days: int32, nanoseconds: int64>: the layout of
  Arrow's month_day_nano interval, which Parquet cannot store (its INTERVAL type holds
  milliseconds);
- json, jsonb → the arrow.json extension (a string; Parquet JSON);
- one-dimensional arrays of the types above with a plain element (integers, floats,
  bool, text) → list; enums → dictionary-encoded string;
- anything else → its text form as a string, noted in the column's metadata.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from psycopg import sql

INTEGERS = {"int2": pa.int16(), "int4": pa.int32(), "int8": pa.int64()}
FLOATS = {"float4": pa.float32(), "float8": pa.float64()}
STRINGS = {"text", "varchar", "bpchar", "name", "char"}
TIMES = {
    "timestamptz": pa.timestamp("us", "UTC"),
    "timestamp": pa.timestamp("us"),
    "date": pa.date32(),
    "time": pa.time64("us"),
}
INTERVAL = pa.struct([("months", pa.int32()), ("days", pa.int32()),
                      ("nanoseconds", pa.int64())])


def _scalar(base: str) -> pa.DataType | None:
    """The Arrow type of a base type that CSV text parses into directly, if any."""
    if base in INTEGERS:
        return INTEGERS[base]
    if base in FLOATS:
        return FLOATS[base]
    if base == "bool":
        return pa.bool_()
    if base in STRINGS:
        return pa.string()
    return None


@dataclass(frozen=True)
class ColumnSpec:
    """One column: its name, PostgreSQL type, and the way to its Arrow type."""

    name: str
    pg_type: str  # as format_type() writes it
    kind: str  # plain, time, bytea, uuid, interval, json, enum, array, text
    arrow: pa.DataType  # the type in the Parquet file
    note: str | None = None  # why the column is not in its natural Arrow type

    @property
    def csv_type(self) -> pa.DataType:
        """The type pyarrow's CSV reader produces for this column."""
        if self.kind in ("plain", "time"):
            return self.arrow
        if self.kind in ("bytea", "uuid"):
            return pa.binary()
        return pa.string()

    @property
    def fallible(self) -> bool:
        """Legal values the CSV reader cannot parse exist (infinity, BC years, 24:00)."""
        return self.kind == "time"

    def select(self) -> sql.Composable:
        col = sql.Identifier(self.name)
        if self.kind == "array":
            # JSON: pyarrow parses it in C++; PostgreSQL's array text needs a parser.
            return sql.SQL("pg_catalog.array_to_json({})").format(col)
        return col

    def field(self) -> pa.Field:
        meta = {"pg_type": self.pg_type}
        if self.kind == "interval":
            meta["arrow_type"] = "month_day_nano_interval"
        if self.note:
            meta["note"] = self.note
        return pa.field(self.name, self.arrow, metadata=meta)

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "pg_type": self.pg_type,
                               "arrow_type": str(self.arrow)}
        if self.note:
            out["note"] = self.note
        return out


def _text(name: str, pg_type: str, why: str) -> ColumnSpec:
    return ColumnSpec(name, pg_type, "text", pa.string(), f"{why}; exported as its text form")


def _numeric(name: str, pg_type: str, typmod: int) -> ColumnSpec:
    if typmod < 4:
        return _text(name, pg_type, "numeric without a precision does not fit decimal128")
    precision = ((typmod - 4) >> 16) & 0xFFFF
    scale = (typmod - 4) & 0x7FF
    if scale & 0x400:  # an 11-bit signed scale (PostgreSQL 15 allows negative scales)
        scale -= 0x800
    if not (1 <= precision <= 38 and 0 <= scale <= precision):
        return _text(name, pg_type, f"numeric({precision},{scale}) does not fit decimal128")
    return ColumnSpec(name, pg_type, "plain", pa.decimal128(precision, scale))


def _array(row: dict[str, Any]) -> ColumnSpec:
    name, pg_type = row["name"], row["pg_type"]
    elem = _scalar(row["elem"]) if row["elem_schema"] == "pg_catalog" else None
    if elem is None or row["elem"] == "char":
        return _text(name, pg_type, "arrays of this element type have no list mapping")
    if int(row["attndims"] or 0) > 1:
        return _text(name, pg_type, "multi-dimensional arrays have no list mapping")
    return ColumnSpec(name, pg_type, "array", pa.list_(elem))


def column_spec(row: dict[str, Any]) -> ColumnSpec:
    """The spec of one row of export_columns.sql."""
    name, pg_type, base = row["name"], row["pg_type"], row["base"]
    if row["typtype"] == "e":
        return ColumnSpec(name, pg_type, "enum", pa.dictionary(pa.int32(), pa.string()))
    if row["base_schema"] != "pg_catalog":
        return _text(name, pg_type, "no Arrow type for this type")
    if row["elem"] is not None:
        return _array(row)
    scalar = _scalar(base)
    if scalar is not None:
        return ColumnSpec(name, pg_type, "plain", scalar)
    if base in TIMES:
        return ColumnSpec(name, pg_type, "time", TIMES[base])
    if base == "numeric":
        return _numeric(name, pg_type, int(row["typmod"]))
    if base == "bytea":
        return ColumnSpec(name, pg_type, "bytea", pa.binary())
    if base == "uuid":
        return ColumnSpec(name, pg_type, "uuid", pa.uuid())
    if base == "interval":
        return ColumnSpec(name, pg_type, "interval", INTERVAL)
    if base in ("json", "jsonb"):
        return ColumnSpec(name, pg_type, "json", pa.json_())
    return _text(name, pg_type, "no Arrow type for this type")


def arrow_schema(columns: list[ColumnSpec], metadata: dict[str, str]) -> pa.Schema:
    return pa.schema([c.field() for c in columns], metadata=metadata)
