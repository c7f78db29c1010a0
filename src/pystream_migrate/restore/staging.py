"""Rows of many small chunks of one hypertable in one COPY, distributed on the server.

A COPY FROM STDIN costs two round trips; on thousands of tiny chunks that, not the
bytes, is the time of a restore over a distance. So the small chunks of a batch that
share a *shape* (the same hypertable and the same column list, hence the same column
types) are loaded as one COPY into a staging table of this session, each line prefixed
with its entry's key in the batch, and then one ``INSERT INTO chunk (cols) SELECT ...
FROM staging WHERE k = key`` per chunk moves them, all in the batch's one script and
transaction (see :mod:`pystream_migrate.restore.data`).

- Only TimescaleDB chunks in text format with a column list (not the catalog, not
  binary COPY): a chunk's columns have its hypertable's types, whatever its column
  order or dropped columns, so one staging table, made from the batch's first chunk
  (``CREATE TABLE AS SELECT cols FROM ONLY chunk WITH NO DATA``), fits every chunk of
  the shape. The INSERT names the columns, so a chunk's physical order does not matter.
- The rows go into each chunk table itself, never into the hypertable: in restoring
  mode TimescaleDB's insert path is off. ``OVERRIDING SYSTEM VALUE`` keeps identity
  values as COPY does; generated columns are not in the column list. Triggers, rules
  and row-level security are post-data: they do not exist yet while data loads. Staged
  entries are below ``FREEZE_MIN`` (they would not load with FREEZE anyway).
- A staging table is ``ON COMMIT DELETE ROWS`` with an index on the key (without it
  each INSERT scans the whole batch: measured, the index makes the distribution about
  3x faster at 128 chunks of 60 rows). It is created by the first batch of its shape
  on a connection and kept for the session; if that batch fails, its creation is
  rolled back with it and the next batch creates it again. Temporary tables need the
  TEMPORARY privilege on the database (PUBLIC has it by default); a role refused it
  loads chunk by chunk.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from pystream_migrate.batching import FREEZE_MIN, STAGE_MAX
from pystream_migrate.copyio import ScriptStatement
from pystream_migrate.toc import TocEntry

assert STAGE_MAX <= FREEZE_MIN  # a staged entry never needs TRUNCATE + COPY FREEZE

Shape = tuple[int, tuple[str, ...]]


def shape(e: TocEntry) -> Shape | None:
    """The staging shape of a data entry; None if it cannot be staged."""
    spec = e.copy
    if (not e.chunk or spec is None or e.copy_format != "text" or not spec.columns
            or spec.where or e.extconfig):
        return None
    hypertable = e.info.get("hypertable_relid")
    return None if hypertable is None else (int(hypertable), tuple(spec.columns))


def keyed(key: int, data: bytes) -> bytes:
    """COPY text lines with ``key<TAB>`` in front of each (a newline in a value is
    escaped in text format, so every newline ends a line)."""
    if not data:
        return b""
    if not data.endswith(b"\n"):
        data += b"\n"
    prefix = b"%d\t" % key
    return prefix + data[:-1].replace(b"\n", b"\n" + prefix) + b"\n"


@dataclass
class StagedGroup:
    """Entries of one shape in one batch, with their keys (1, 2, ...)."""

    table: str
    create: bool
    entries: list[tuple[TocEntry, Callable[[], bytes]]] = field(default_factory=list)


@dataclass
class Stager:
    """One connection's staging tables, one per shape."""

    tables: dict[Shape, str] = field(default_factory=dict)
    _pending: dict[Shape, str] = field(default_factory=dict)
    # Off once the role was refused something in a staged batch (no TEMPORARY privilege
    # on the database, say): the batches then load chunk by chunk, as before staging.
    enabled: bool = True
    _staged: bool = False  # the batch being built or run stages something

    def group(self, s: Shape) -> StagedGroup:
        """The staging table for a shape in the batch being built."""
        self._staged = True
        name = self.tables.get(s) or self._pending.get(s)
        if name is not None:
            return StagedGroup(name, create=s in self._pending)
        name = f"pystream_stage_{len(self.tables) + len(self._pending) + 1}"
        self._pending[s] = name
        return StagedGroup(name, create=True)

    def committed(self) -> None:
        """The batch committed: the tables it created exist now."""
        self.tables.update(self._pending)
        self._pending.clear()
        self._staged = False

    def rolled_back(self, exc: BaseException) -> None:
        """The batch failed: what it created is gone; a refusal turns staging off."""
        if self._staged and isinstance(exc, psycopg.errors.InsufficientPrivilege):
            self.enabled = False
        self._pending.clear()
        self._staged = False


def statements(group: StagedGroup) -> tuple[list[ScriptStatement], list[int | None]]:
    """The group's statements, and for each entry the index of its INSERT (None if it
    has no rows): creation if new, the one COPY, an INSERT per chunk."""
    first = group.entries[0][0]
    assert first.copy is not None
    columns = first.copy.columns
    stage = sql.Identifier("pg_temp", group.table)
    staged = [sql.Identifier(f"c{i + 1}") for i in range(len(columns))]
    out: list[ScriptStatement] = []
    if group.create:
        out.append((sql.SQL(
            "CREATE TEMP TABLE {} ON COMMIT DELETE ROWS AS SELECT NULL::pg_catalog.int4 AS k, "
            "{} FROM ONLY {} WITH NO DATA").format(
                stage, sql.SQL(", ").join(sql.SQL("{} AS {}").format(sql.Identifier(c), a)
                                          for c, a in zip(columns, staged, strict=True)),
                sql.Identifier(first.copy.schema, first.copy.table)), None))
        out.append((sql.SQL("CREATE INDEX ON {} (k)").format(stage), None))
    bodies = [load() for _, load in group.entries]
    out.append((sql.SQL("COPY {} FROM STDIN").format(stage), _lines(bodies)))
    where: list[int | None] = []
    for key, ((e, _), body) in enumerate(zip(group.entries, bodies, strict=True), start=1):
        if not body:
            where.append(None)
            continue
        assert e.copy is not None
        where.append(len(out))
        out.append((sql.SQL(
            "INSERT INTO {} ({}) OVERRIDING SYSTEM VALUE SELECT {} FROM {} WHERE k = {}").format(
                sql.Identifier(e.copy.schema, e.copy.table),
                sql.SQL(", ").join(sql.Identifier(c) for c in e.copy.columns),
                sql.SQL(", ").join(staged), stage, sql.Literal(key)), None))
    return out, where


def _lines(bodies: list[bytes]) -> Iterable[bytes]:
    def gen() -> Iterator[bytes]:
        for key, body in enumerate(bodies, start=1):
            if body:
                yield keyed(key, body)
    return gen()
