"""Read a database's schema from its system catalogs into an ordered table of contents.

Each object family has its own module (``collect(ctx) -> list[TocEntry]``) and its
SQL in ``catalog/sql/``. :func:`read_catalog` runs them all inside the caller's
transaction (a REPEATABLE READ snapshot set up by the dump), maps ``pg_depend`` onto
the entries and sorts them (:mod:`pystream_migrate.toc`).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import psycopg

from pystream_migrate.catalog.compact import Keeper
from pystream_migrate.catalog.dependencies import Dependencies, Dependency
from pystream_migrate.catalog.prefetch import COMPACT, Prefetch
from pystream_migrate.catalog.queries import execute_tuples, fetch_all, tuples_of
from pystream_migrate.catalog.spill import SpilledRows
from pystream_migrate.toc import TocEntry, resolve_dependencies, sort_entries

# Object families, in the order they are read. Each is a module of this package.
FAMILIES = (
    "schemas",
    "extensions",
    "collations",
    "types",
    "routines",
    "sequences",
    "tables",
    "constraints",
    "indexes",
    "statistics",
    "views",
    "triggers",
    "rules",
    "policies",
    "default_privileges",
    "other",
)


@dataclass
class Unsupported:
    """An object the tool cannot carry: named at dump time, recorded, shown by list."""

    kind: str
    schema: str | None
    name: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "schema": self.schema, "name": self.name,
                "reason": self.reason}

    def describe(self) -> str:
        qual = f"{self.schema}.{self.name}" if self.schema else self.name
        return f"{self.kind} {qual}: {self.reason}"


@dataclass
class CatalogContext:
    conn: psycopg.Connection
    unsupported: list[Unsupported] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # Extension members (and their internal parts, e.g. array types) -> their extension,
    # as ("pg_type", oid) -> ("pg_extension", oid). Filled by the extensions family;
    # read_catalog makes a dependency on a member a dependency on the extension's entry.
    extension_members: dict[tuple[str, int], tuple[str, int]] = field(default_factory=dict)
    prefetch: Prefetch | None = None

    @property
    def server_version(self) -> int:
        return self.conn.info.server_version

    def query(self, name: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        if params is None and self.prefetch is not None:
            rows = self.prefetch.take(name)
            if rows is not None:
                return rows
        return fetch_all(self.conn, name, params)

    def compact(self, name: str) -> Any:
        """The rows of parameterless ``name`` in their compact form (prefetch.COMPACT)."""
        found = self.prefetch.take_compact(name) if self.prefetch is not None else None
        return (found if found is not None
                else COMPACT[name](tuples_of(execute_tuples(self.conn, name))))

    def dependencies(self) -> Iterable[Dependency]:
        """pg_depend's rows (depend.sql) as (catalog, oid, ref_catalog, ref_oid)."""
        rows: Dependencies = self.compact("depend")
        return rows

    def query_twice(self, name: str) -> SpilledRows:
        """The rows of a parameterless query (one of prefetch.COMPACT's spilled ones),
        readable more than once: each reading makes a dict per row only while the caller
        looks at it; the rows stay in a file (spill.py). Close it after use."""
        rows: SpilledRows = self.compact(name)
        return rows

    def report_unsupported(self, kind: str, schema: str | None, name: str, reason: str) -> None:
        self.unsupported.append(Unsupported(kind, schema, name, reason))


@dataclass
class Catalog:
    entries: list[TocEntry]
    unsupported: list[Unsupported]
    warnings: list[str]
    # The rows of read_catalog's ``ahead`` queries that a helper ran, by name.
    ahead: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def collect_entries(ctx: CatalogContext,
                    keep: Callable[[TocEntry], TocEntry] | None = None) -> list[TocEntry]:
    """Every family's entries, each passed through ``keep`` as its family yields it."""
    entries: list[TocEntry] = []
    for family in FAMILIES:
        module = importlib.import_module(f"pystream_migrate.catalog.{family}")
        found = module.collect(ctx)
        entries.extend(found if keep is None else map(keep, found))
    return entries


def read_catalog(conn: psycopg.Connection,
                 helpers: list[psycopg.Connection] | None = None,
                 ahead: tuple[str, ...] = ()) -> Catalog:
    """Read every object family and return the sorted TOC.

    ``helpers`` are optional connections in the same snapshot as ``conn``; the
    heaviest queries run on them ahead of time, the others are sent ahead on ``conn``
    in pipeline mode (:mod:`.prefetch`). ``ahead``: parameterless queries of the
    caller's, run on a helper once it is free (Catalog.ahead has the rows of those a
    helper started; the caller runs the others).
    """
    # Pipeline mode: the queries sent ahead travel together; one that needs its answer
    # at once (ctx.query with parameters) still gets it, at the cost of a round trip.
    with conn.pipeline() as pipeline:
        prefetch = Prefetch(helpers or [], leader=conn, pipeline=pipeline, helpers_only=ahead)
        ctx = CatalogContext(conn, prefetch=prefetch)
        keeper = Keeper()
        try:
            entries = collect_entries(ctx, keeper)
            resolve_dependencies(
                entries,
                ctx.dependencies(),
                aliases=ctx.extension_members,
                owners=keeper.owners,
            )
            rows = {name: prefetch.take(name) for name in ahead}
        finally:
            prefetch.close()
    del keeper  # its map of owners and extra dependencies
    return Catalog(sort_entries(entries), ctx.unsupported, ctx.warnings,
                   {name: found for name, found in rows.items() if found is not None})
