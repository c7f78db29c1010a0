"""Catalog reader for table constraints restored after the data (post-data).

* ``CONSTRAINT``: PRIMARY KEY, UNIQUE and EXCLUDE, ``ALTER TABLE ONLY ... ADD
  CONSTRAINT``, with the index's storage options (which pg_get_constraintdef leaves
  out), CLUSTER ON and REPLICA IDENTITY USING INDEX. On a partitioned table the
  constraint is added to the parent ONLY and to each partition; the partitions'
  indexes are then attached by ``INDEX ATTACH`` entries (see :mod:`indexes`).
* ``FK CONSTRAINT``: foreign keys; copies that a partition receives from its
  partitioned parent's foreign key (conparentid) are left to that parent. A foreign key
  to a partitioned table waits for every ``INDEX ATTACH`` of the referenced key's
  partition indexes: until the last is attached, the key is not valid and cannot be
  referenced.
* ``CHECK CONSTRAINT``: local NOT VALID checks, added after the data as pg_dump does
  (valid checks are inline in CREATE TABLE, see :mod:`tables`). A child table created
  after its parent's NOT VALID check holds a valid copy of it; the restored copy
  (made when the parent's check is added) is validated by a second such entry.

Domain constraints belong to the types family.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pystream_migrate.catalog.indexes import INDEX_ATTACH
from pystream_migrate.catalog.names import ident
from pystream_migrate.catalog.security import comment_sql
from pystream_migrate.toc import Section, TocEntry

if TYPE_CHECKING:
    from pystream_migrate.catalog import CatalogContext

Row = dict[str, Any]

_KIND = {"p": "CONSTRAINT", "u": "CONSTRAINT", "x": "CONSTRAINT",
         "f": "FK CONSTRAINT", "c": "CHECK CONSTRAINT"}


def collect(ctx: CatalogContext) -> list[TocEntry]:
    entries = [_entry(row) for row in ctx.query("constraints")]
    entries += [_validate_entry(row) for row in ctx.query("constraints_validate")]
    for row in ctx.query("constraints_inherited_comments"):
        ctx.report_unsupported(
            "COMMENT", row["schema"], f"{row['table_name']} {row['name']}",
            "comment on an inherited NOT VALID CHECK constraint is not carried")
    return entries


def with_index_options(row: Row) -> str | None:
    """A PRIMARY KEY/UNIQUE definition with ``WITH (storage options)`` in its place.

    pg_get_constraintdef omits the index's options of these; they go after the column
    list (and INCLUDE), before the DEFERRABLE flags. Returns None when the definition
    does not have the expected shape.
    """
    definition: str = row["definition"]
    tail = ""
    if row["deferrable"]:
        tail = " DEFERRABLE" + (" INITIALLY DEFERRED" if row["deferred"] else "")
    if tail:
        if not definition.endswith(tail):
            return None
        definition = definition[: -len(tail)]
    return f"{definition} WITH ({', '.join(row['index_options'])}){tail}"


def _entry(row: Row) -> TocEntry:
    table = ident(row["schema"], row["table_name"])
    name = ident(row["name"])
    contype = row["contype"]
    # Foreign keys and CHECK constraints cannot be added to a partitioned table ONLY;
    # a CHECK constraint must reach the inheritance children too.
    only = ("" if contype == "c" or (contype == "f" and row["relkind"] == "p")
            else "ONLY ")
    definition = row["definition"]
    statements: list[str] = []
    objects: list[tuple[str, int]] = [("pg_constraint", row["oid"])]
    tablespace = None
    if contype in ("p", "u", "x"):
        index = ident(row["schema"], row["index_name"])
        objects.append(("pg_class", row["index_oid"]))
        tablespace = row["index_tablespace"]
        after: list[str] = []
        # pg_get_constraintdef gives an exclusion constraint's options, not a key's.
        if row["index_options"] and contype in ("p", "u"):
            full = with_index_options(row)
            if full is None:
                after.append(f"ALTER INDEX {index} SET ({', '.join(row['index_options'])});")
            else:
                definition = full
        statements.append(f"ALTER TABLE {only}{table} ADD CONSTRAINT {name} {definition};")
        statements += after
        if row["clustered"]:
            statements.append(f"ALTER TABLE {table} CLUSTER ON {ident(row['index_name'])};")
        if row["replica_identity"]:
            statements.append(f"ALTER TABLE ONLY {table} REPLICA IDENTITY USING INDEX "
                              f"{ident(row['index_name'])};")
    else:
        statements.append(f"ALTER TABLE {only}{table} ADD CONSTRAINT {name} {definition};")

    comments = [comment_sql("CONSTRAINT", f"{name} ON {table}", row["comment"])]
    if row["index_name"] is not None:
        comments.append(comment_sql("INDEX", ident(row["schema"], row["index_name"]),
                                    row["index_comment"]))
    info: dict[str, Any] = {"contype": contype}
    if row["index_oid"] is not None:
        info["index_oid"] = row["index_oid"]
    # A foreign key: the restore waits for these tables' data too (see its scheduler).
    ref_table_oids = list(row["ref_table_oids"]) if contype == "f" else []
    # A CHECK added to the children too: their rows must be in first, or loading them
    # would be checked against a constraint they need not satisfy.
    after_data = contype == "c" and bool(row["has_children"])
    extra_deps = [(INDEX_ATTACH, oid) for oid in row["ref_index_parts"] or ()]
    return TocEntry(
        kind=_KIND[contype],
        schema=row["schema"],
        name=f"{row['table_name']} {row['name']}",
        section=Section.POST_DATA,
        create_sql="\n".join(statements),
        drop_sql=f"ALTER TABLE {only}{table} DROP CONSTRAINT {name};",
        owner=row["owner"],
        comment_sql="\n".join(c for c in comments if c),
        tablespace=tablespace,
        objects=objects,
        extra_deps=extra_deps,
        table_oid=row["relid"],
        ref_table_oids=ref_table_oids,
        after_data=after_data,
        info=info,
    )


def _validate_entry(row: Row) -> TocEntry:
    table = ident(row["schema"], row["table_name"])
    return TocEntry(
        kind="CHECK CONSTRAINT",
        schema=row["schema"],
        name=f"{row['table_name']} {row['name']}",
        section=Section.POST_DATA,
        create_sql=f"ALTER TABLE {table} VALIDATE CONSTRAINT {ident(row['name'])};",
        owner=row["owner"],
        extra_deps=[("pg_class", row["relid"])]
        + [("pg_constraint", oid) for oid in row["ancestor_constraints"]],
        table_oid=row["relid"],
        after_data=True,
        info={"contype": "c", "validate": True},
    )
