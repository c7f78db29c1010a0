"""The dump side of portable mode: the TOC to write, and how chunk rows are read."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from pystream_migrate.portable._source import read_source
from pystream_migrate.portable._toc import portable_toc
from pystream_migrate.toc import TocEntry


def dump_entries(conn: psycopg.Connection, roles: dict[int, dict[str, Any]],
                 entries: list[TocEntry]) -> list[TocEntry]:
    """The portable TOC for ``entries`` (annotated by timescale.annotate), read in the
    dump's snapshot on ``conn``."""
    if not roles:
        return entries  # no TimescaleDB on the source: nothing to translate
    return portable_toc(entries, roles, read_source(conn))


def rows_statement(entry: TocEntry, fmt: str) -> sql.Composed:
    """``COPY (SELECT cols FROM chunk) TO STDOUT``: the query form (without ONLY) returns
    a compressed chunk's rows decompressed, together with the rows in its own heap,
    each exactly once."""
    spec = entry.copy
    assert spec is not None
    cols = sql.SQL(", ").join(sql.Identifier(c) for c in spec.columns)
    options = sql.SQL(" (FORMAT binary)") if fmt == "binary" else sql.SQL("")
    return sql.SQL("COPY (SELECT {} FROM {}) TO STDOUT{}").format(
        cols, sql.Identifier(spec.schema, spec.table), options)
