"""Catalog reader for indexes (post-data).

* ``INDEX``: pg_get_indexdef (partial, expression, INCLUDE, unique, opclasses,
  storage options; ``ON ONLY`` for a partitioned table's index), then per-column
  statistics targets, CLUSTER ON and REPLICA IDENTITY USING INDEX. Indexes that back
  a constraint are created by that constraint (see :mod:`constraints`). TimescaleDB
  chunk indexes are ordinary indexes of their chunk tables. Materialized views'
  indexes are read too (never built alongside the view's refresh: both take its lock).
* ``INDEX ATTACH``: a partition's index attached to its partitioned parent's index
  (constraint indexes included), as pg_dump does.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from pystream_migrate.catalog.names import ident, share_strings
from pystream_migrate.catalog.security import comment_sql
from pystream_migrate.toc import Section, TocEntry

if TYPE_CHECKING:
    from pystream_migrate.catalog import CatalogContext

Row = dict[str, Any]

# Pseudo identity of a partition's index attached to its parent's (the attached index's
# oid): a foreign key to a partitioned table waits for these (see :mod:`constraints`).
INDEX_ATTACH = "index attach"


def collect(ctx: CatalogContext) -> Iterator[TocEntry]:
    # Read twice from their file (the oids, then the entries; spill.py): one row's dict
    # at a time rather than one per index of every chunk; and one entry at a time, which
    # the caller makes small (tables.collect) before the next is built.
    with ctx.query_twice("indexes") as rows:
        known = {oid for oid, in rows.columns("oid")}
        for row in rows:
            share_strings(row, "schema", "owner")
            if row["constraint_oid"] is None:
                if not row["valid"] and row["relkind"] != "I":
                    ctx.report_unsupported(
                        "INDEX", row["schema"], row["name"],
                        "the index is invalid (a failed CREATE INDEX CONCURRENTLY?): "
                        "not carried, as pg_dump")
                    continue
                yield _index_entry(row)
            if row["parent_index"] is not None and row["parent_index"] in known:
                yield _attach_entry(row)


def _index_entry(row: Row) -> TocEntry:
    qname = ident(row["schema"], row["name"])
    table = ident(row["table_schema"], row["table_name"])
    statements = [f"{row['definition']};"]
    for attnum, target in zip(row["stat_columns"], row["stat_values"], strict=True):
        statements.append(f"ALTER INDEX {qname} ALTER COLUMN {attnum} SET STATISTICS {target};")
    if row["clustered"]:
        statements.append(f"ALTER TABLE {table} CLUSTER ON {ident(row['name'])};")
    if row["replica_identity"]:
        statements.append(
            f"ALTER TABLE ONLY {table} REPLICA IDENTITY USING INDEX {ident(row['name'])};")
    return TocEntry(
        kind="INDEX",
        schema=row["schema"],
        name=row["name"],
        section=Section.POST_DATA,
        create_sql="\n".join(statements),
        drop_sql=f"DROP INDEX {qname};",
        owner=row["owner"],
        comment_sql=comment_sql("INDEX", qname, row["comment"]),
        tablespace=row["tablespace"],
        objects=[("pg_class", row["oid"])],
        table_oid=row["table_oid"],
        info={"relkind": row["relkind"]},
    )


def _attach_entry(row: Row) -> TocEntry:
    parent = ident(row["parent_schema"], row["parent_name"])
    child = ident(row["schema"], row["name"])
    return TocEntry(
        kind="INDEX ATTACH",
        schema=row["schema"],
        name=row["name"],
        section=Section.POST_DATA,
        create_sql=f"ALTER INDEX {parent} ATTACH PARTITION {child};",
        owner=row["owner"],
        objects=[(INDEX_ATTACH, row["oid"])],
        extra_deps=[("pg_class", row["parent_index"]), ("pg_class", row["oid"])],
        table_oid=row["table_oid"],
        info={"parent_index": row["parent_index"]},
    )
