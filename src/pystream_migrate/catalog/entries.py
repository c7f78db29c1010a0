"""One constructor for the TOC entry of a named object that has an owner.

Most object families create such entries the same way: the object's SQL name drives
its DROP, ALTER ... OWNER TO, GRANT/REVOKE and COMMENT ON statements.
"""

from __future__ import annotations

from typing import Any

from pystream_migrate.catalog.security import acl_sql, comment_sql, owner_sql
from pystream_migrate.toc import Section, TocEntry


def object_entry(
    kind: str,
    schema: str | None,
    name: str,
    sql_name: str,
    create_sql: str,
    *,
    owner: str | None,
    objects: list[tuple[str, int]],
    acl: list[str] | None = None,
    comment: str | None = None,
    extra_comments: str = "",
    section: Section = Section.PRE_DATA,
    info: dict[str, Any] | None = None,
) -> TocEntry:
    """``sql_name`` is the object as SQL names it after its kind (quoted, with a
    signature for routines and operators): ``"s"."f"(integer)``."""
    comments = "\n".join(c for c in (comment_sql(kind, sql_name, comment), extra_comments) if c)
    return TocEntry(
        kind=kind,
        schema=schema,
        name=name,
        section=section,
        create_sql=create_sql,
        drop_sql=f"DROP {kind} {sql_name};",
        owner=owner,
        owner_sql=owner_sql(kind, sql_name, owner),
        acl_sql=acl_sql(kind, sql_name, owner, acl) if acl is not None else "",
        comment_sql=comments,
        objects=objects,
        info=dict(info or {}),
    )
