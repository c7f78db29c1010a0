"""Schemas: every schema outside the system ones that no extension created.

``public`` exists in every new database, so it is never created; like pg_dump, only
what differs from what CREATE DATABASE gives is carried: its owner when not the
default one, its comment when not the standard one, and its privileges when they are
not the initial ones recorded in ``pg_init_privs``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pystream_migrate.catalog.entries import object_entry
from pystream_migrate.catalog.names import ident
from pystream_migrate.catalog.security import acl_sql, comment_sql, owner_sql
from pystream_migrate.toc import Section, TocEntry

if TYPE_CHECKING:
    from pystream_migrate.catalog import CatalogContext

PUBLIC = "public"
PUBLIC_COMMENT = "standard public schema"


def collect(ctx: CatalogContext) -> list[TocEntry]:
    return [_public_entry(r) if r["name"] == PUBLIC else _schema_entry(r)
            for r in ctx.query("schemas")]


def _schema_entry(r: dict[str, Any]) -> TocEntry:
    name = ident(r["name"])
    return object_entry(
        "SCHEMA", None, r["name"], name, f"CREATE SCHEMA {name};",
        owner=r["owner"], acl=r["acl"], comment=r["comment"],
        objects=[("pg_namespace", int(r["oid"]))],
    )


def _public_entry(r: dict[str, Any]) -> TocEntry:
    name = ident(PUBLIC)
    acl = ""
    initial = r["initial_acl"]
    effective = r["effective_acl"]
    if initial is None or sorted(initial) != sorted(effective):
        acl = acl_sql("SCHEMA", name, r["owner"], effective)
    comment = r["comment"]
    comment_stmt = ""
    if comment != PUBLIC_COMMENT:
        # No comment at all must also be carried: the new database has the standard one.
        comment_stmt = comment_sql("SCHEMA", name, comment if comment is not None else "")
    return TocEntry(
        kind="SCHEMA",
        schema=None,
        name=PUBLIC,
        section=Section.PRE_DATA,
        create_sql="",  # exists in every database
        drop_sql="",
        owner=r["owner"],
        owner_sql="" if r["default_owner"] else owner_sql("SCHEMA", name, r["owner"]),
        acl_sql=acl,
        comment_sql=comment_stmt,
        objects=[("pg_namespace", int(r["oid"]))],
        info={"builtin": True},
    )
