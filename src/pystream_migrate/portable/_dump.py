"""The dump side of portable mode: the TOC to write, and how chunk rows are read."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import psycopg
from psycopg import sql

from pystream_migrate.portable._source import read_source
from pystream_migrate.portable._toc import portable_toc
from pystream_migrate.toc import TocEntry


def dump_entries(conn: psycopg.Connection, roles: Mapping[int, dict[str, Any]],
                 entries: list[TocEntry]) -> list[TocEntry]:
    """The portable TOC for ``entries`` (annotated by timescale.annotate), read in the
    dump's snapshot on ``conn``."""
    if not roles:
        return entries  # no TimescaleDB on the source: nothing to translate
    return portable_toc(entries, roles, read_source(conn))


def rows_statement(entry: TocEntry, fmt: str) -> sql.Composed:
    """The COPY that reads a chunk's rows (``info["portable_rows"]``):

    - ``True``: ``COPY (SELECT cols FROM chunk)``; the query form (without ONLY) returns
      a compressed chunk's rows decompressed, with the rows in its own heap, each once;
    - ``"heap"``: only the rows in the chunk's own heap (``FROM ONLY chunk``), which a
      partially compressed chunk holds next to its compressed batches;
    - ``"compressed"``: the other rows of such a chunk: all of them, less one of each
      row of the heap (rows compared by their text form, which tells apart any two
      values that differ, and works for types without equality).
    """
    spec = entry.copy
    assert spec is not None
    chunk = sql.Identifier(spec.schema, spec.table)
    part = entry.info.get("portable_rows")
    options = sql.SQL(" (FORMAT binary)") if fmt == "binary" else sql.SQL("")
    if part == "compressed":
        cols = sql.SQL(", ").join(sql.Identifier("s", c) for c in spec.columns)
        # MATERIALIZED: over a partial chunk, 2.17 plans an Append of two sorted parts
        # where the window needs one order (a MergeAppend), and counts wrong.
        query = sql.SQL(
            "WITH heap AS MATERIALIZED (SELECT h::text AS r, count(*) AS n "
            "FROM ONLY {chunk} h GROUP BY 1), "
            "every AS MATERIALIZED (SELECT x.*, x::text AS pystream_row FROM {chunk} x) "
            "SELECT {cols} FROM (SELECT e.*, row_number() OVER (PARTITION BY e.pystream_row) "
            "AS pystream_n FROM every e) s "
            "LEFT JOIN heap ON heap.r = s.pystream_row "
            "WHERE s.pystream_n > coalesce(heap.n, 0)").format(chunk=chunk, cols=cols)
    else:
        cols = sql.SQL(", ").join(sql.Identifier(c) for c in spec.columns)
        only = sql.SQL("ONLY ") if part == "heap" else sql.SQL("")
        query = sql.SQL("SELECT {} FROM {}{}").format(cols, only, chunk)
    return sql.SQL("COPY ({}) TO STDOUT{}").format(query, options)
