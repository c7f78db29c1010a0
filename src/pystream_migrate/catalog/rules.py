"""Catalog reader for rewrite rules (post-data), apart from views' ``_RETURN`` rules.

A rule is ``pg_get_ruledef`` plus ``ALTER TABLE ... DISABLE RULE`` (or ``ENABLE
REPLICA`` / ``ENABLE ALWAYS``) when it is not simply enabled.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pystream_migrate.catalog.names import ident
from pystream_migrate.catalog.security import comment_sql
from pystream_migrate.toc import Section, TocEntry

if TYPE_CHECKING:
    from pystream_migrate.catalog import CatalogContext

_STATE = {"D": "DISABLE", "R": "ENABLE REPLICA", "A": "ENABLE ALWAYS"}


def collect(ctx: CatalogContext) -> list[TocEntry]:
    return [_rule(row) for row in ctx.query("rules")]


def _rule(row: dict[str, Any]) -> TocEntry:
    table = ident(row["schema"], row["table_name"])
    on = f"{ident(row['name'])} ON {table}"
    create = row["definition"].strip().rstrip(";") + ";"
    if row["enabled"] in _STATE:
        create += f"\nALTER TABLE {table} {_STATE[row['enabled']]} RULE {ident(row['name'])};"
    return TocEntry(
        kind="RULE",
        schema=row["schema"],
        name=f"{row['table_name']} {row['name']}",
        section=Section.POST_DATA,
        create_sql=create,
        drop_sql=f"DROP RULE {on};",
        comment_sql=comment_sql("RULE", on, row["comment"]),
        objects=[("pg_rewrite", row["oid"])],
        table_oid=row["table_oid"],
        info={"rule": row["name"]},
    )
