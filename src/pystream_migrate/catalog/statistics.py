"""Catalog reader for extended statistics objects (``CREATE STATISTICS``, post-data).

Each is ``pg_get_statisticsobjdef`` (its kinds, columns and expressions) and, when one
was set, ``ALTER STATISTICS ... SET STATISTICS``; like pg_dump, after the data, where
its table's lock keeps it from running alongside that table's index builds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pystream_migrate.catalog.entries import object_entry
from pystream_migrate.catalog.names import ident
from pystream_migrate.toc import Section, TocEntry

if TYPE_CHECKING:
    from pystream_migrate.catalog import CatalogContext


def collect(ctx: CatalogContext) -> list[TocEntry]:
    entries = []
    for row in ctx.query("statistics"):
        qname = ident(row["schema"], row["name"])
        statements = [f"{row['definition']};"]
        if row["stattarget"] is not None:
            statements.append(f"ALTER STATISTICS {qname} SET STATISTICS {row['stattarget']};")
        entry = object_entry(
            "STATISTICS", row["schema"], row["name"], qname, "\n".join(statements),
            owner=row["owner"], objects=[("pg_statistic_ext", row["oid"])],
            comment=row["comment"], section=Section.POST_DATA)
        entry.table_oid = int(row["table_oid"])
        entries.append(entry)
    return entries
