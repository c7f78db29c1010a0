"""Catalog reader for row-level security: the per-table switch and the policies.

``ROW SECURITY`` entries turn RLS on (``ENABLE`` and, where set, ``FORCE ROW LEVEL
SECURITY``); ``POLICY`` entries are ``CREATE POLICY`` statements. Both are post-data.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pystream_migrate.catalog.names import ident
from pystream_migrate.catalog.security import comment_sql
from pystream_migrate.toc import Section, TocEntry

if TYPE_CHECKING:
    from pystream_migrate.catalog import CatalogContext

_CMD = {"*": "ALL", "r": "SELECT", "a": "INSERT", "w": "UPDATE", "d": "DELETE"}


def collect(ctx: CatalogContext) -> list[TocEntry]:
    entries = [_row_security(row) for row in ctx.query("policies_row_security")]
    entries.extend(_policy(row) for row in ctx.query("policies"))
    return entries


def _row_security(row: dict[str, Any]) -> TocEntry:
    table = ident(row["schema"], row["table_name"])
    stmts = []
    if row["enabled"]:
        stmts.append(f"ALTER TABLE ONLY {table} ENABLE ROW LEVEL SECURITY;")
    if row["forced"]:
        stmts.append(f"ALTER TABLE ONLY {table} FORCE ROW LEVEL SECURITY;")
    return TocEntry(
        kind="ROW SECURITY",
        schema=row["schema"],
        name=row["table_name"],
        section=Section.POST_DATA,
        create_sql="\n".join(stmts),
        drop_sql=f"ALTER TABLE ONLY {table} NO FORCE ROW LEVEL SECURITY;\n"
                 f"ALTER TABLE ONLY {table} DISABLE ROW LEVEL SECURITY;",
        extra_deps=[("pg_class", row["table_oid"])],
        table_oid=row["table_oid"],
    )


def _policy(row: dict[str, Any]) -> TocEntry:
    table = ident(row["schema"], row["table_name"])
    on = f"{ident(row['name'])} ON {table}"
    create = (f"CREATE POLICY {on}\n  AS {'PERMISSIVE' if row['permissive'] else 'RESTRICTIVE'}"
              f"\n  FOR {_CMD[row['cmd']]}\n  TO {row['roles'] or 'PUBLIC'}")
    if row["using_expr"] is not None:
        create += f"\n  USING ({row['using_expr']})"
    if row["check_expr"] is not None:
        create += f"\n  WITH CHECK ({row['check_expr']})"
    return TocEntry(
        kind="POLICY",
        schema=row["schema"],
        name=f"{row['table_name']} {row['name']}",
        section=Section.POST_DATA,
        create_sql=create + ";",
        drop_sql=f"DROP POLICY {on};",
        comment_sql=comment_sql("POLICY", on, row["comment"]),
        objects=[("pg_policy", row["oid"])],
        table_oid=row["table_oid"],
        info={"policy": row["name"]},
    )
