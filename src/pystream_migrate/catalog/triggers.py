"""Catalog reader for triggers and event triggers (post-data).

A trigger is ``pg_get_triggerdef`` plus, when it is not simply enabled, the ``ALTER
TABLE ... DISABLE TRIGGER`` / ``ENABLE REPLICA`` / ``ENABLE ALWAYS`` that restores its
state. Triggers cloned onto partitions come back with their parent's trigger; only a
clone whose state differs from its parent's gets an entry of its own (the ALTER TABLE).
TimescaleDB's ``ts_insert_blocker`` on a hypertable root is an ordinary trigger here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pystream_migrate.catalog.entries import object_entry
from pystream_migrate.catalog.names import ident
from pystream_migrate.catalog.security import comment_sql
from pystream_migrate.toc import Section, TocEntry

if TYPE_CHECKING:
    from pystream_migrate.catalog import CatalogContext

# pg_trigger.tgenabled / pg_event_trigger.evtenabled -> the clause that sets it.
_STATE = {"D": "DISABLE", "R": "ENABLE REPLICA", "A": "ENABLE ALWAYS", "O": "ENABLE"}


def collect(ctx: CatalogContext) -> list[TocEntry]:
    entries: list[TocEntry] = []
    for row in ctx.query("triggers"):
        if row["parent_oid"] is None:
            entries.append(_trigger(row))
        elif row["enabled"] != row["parent_enabled"] or row["enabled"] != "O":
            entries.append(_clone_state(row))
    entries.extend(_event_trigger(row) for row in ctx.query("triggers_event"))
    return entries


def state_sql(table: str, trigger: str, enabled: str) -> str:
    if enabled == "O":
        return ""
    return f"ALTER TABLE {table} {_STATE[enabled]} TRIGGER {ident(trigger)};"


def _trigger(row: dict[str, Any]) -> TocEntry:
    table = ident(row["schema"], row["table_name"])
    on = f"{ident(row['name'])} ON {table}"
    create = "\n".join(s for s in (row["definition"].rstrip(";") + ";",
                                   state_sql(table, row["name"], row["enabled"])) if s)
    return TocEntry(
        kind="TRIGGER",
        schema=row["schema"],
        name=f"{row['table_name']} {row['name']}",
        section=Section.POST_DATA,
        create_sql=create,
        drop_sql=f"DROP TRIGGER {on};",
        comment_sql=comment_sql("TRIGGER", on, row["comment"]),
        objects=[("pg_trigger", row["oid"])],
        table_oid=row["table_oid"],
        info={"trigger": row["name"]},
    )


def _clone_state(row: dict[str, Any]) -> TocEntry:
    """A partition's copy of its parent's trigger, set to its own state afterwards."""
    table = ident(row["schema"], row["table_name"])
    return TocEntry(
        kind="TRIGGER",
        schema=row["schema"],
        name=f"{row['table_name']} {row['name']}",
        section=Section.POST_DATA,
        # The parent's statement may have switched the clones too; set this one again.
        create_sql=f"ALTER TABLE {table} {_STATE[row['enabled']]} TRIGGER {ident(row['name'])};",
        comment_sql=comment_sql("TRIGGER", f"{ident(row['name'])} ON {table}", row["comment"]),
        objects=[("pg_trigger", row["oid"])],
        extra_deps=[("pg_trigger", row["root_oid"]), ("pg_class", row["table_oid"])],
        table_oid=row["table_oid"],
        info={"trigger": row["name"], "cloned": True},
    )


def _event_trigger(row: dict[str, Any]) -> TocEntry:
    name = ident(row["name"])
    create = f"CREATE EVENT TRIGGER {name} ON {ident(row['event'])}"
    if row["tags"]:
        create += f"\n  WHEN TAG IN ({row['tags']})"
    create += f"\n  EXECUTE FUNCTION {row['function']}();"
    if row["enabled"] != "O":
        create += f"\nALTER EVENT TRIGGER {name} {_STATE[row['enabled']]};"
    return object_entry(
        "EVENT TRIGGER", None, row["name"], name, create, owner=row["owner"],
        comment=row["comment"], objects=[("pg_event_trigger", row["oid"])],
        section=Section.POST_DATA, info={"oid": row["oid"]},
    )
