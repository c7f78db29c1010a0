"""Catalog reader for user-defined types: enums, composites, domains, ranges, base types.

Kinds: ``TYPE``, ``DOMAIN`` and ``SHELL TYPE``. A base type (and a range type with a
canonical function) is made in three steps, as pg_dump does: a shell (``CREATE TYPE
s.t;``), then its I/O functions (routines family), then the full ``CREATE TYPE``. The
functions that take or return the type cannot be ordered by ``pg_depend`` (the type and
its functions depend on each other), so they are linked through the pseudo identities
:data:`SHELL_TYPE` and :data:`SHELL_IO_FUNCTION` instead.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from pystream_migrate.catalog.entries import object_entry
from pystream_migrate.catalog.names import ident, literal
from pystream_migrate.catalog.security import comment_sql, owner_sql
from pystream_migrate.toc import Section, TocEntry

if TYPE_CHECKING:
    from pystream_migrate.catalog import CatalogContext

# Pseudo catalog identities (never in pg_depend): a shell type, and a function that the
# full type definition needs but that itself needs only the shell.
SHELL_TYPE = "shell type"
SHELL_IO_FUNCTION = "shell type io function"

_ALIGN = {"c": "char", "s": "int2", "i": "int4", "d": "double"}
_STORAGE = {"p": "plain", "e": "external", "x": "extended", "m": "main"}


def collect(ctx: CatalogContext) -> list[TocEntry]:
    attributes: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in ctx.query("types_attributes"):
        attributes[row["relid"]].append(row)
    constraints: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in ctx.query("types_domain_constraints"):
        constraints[row["type_oid"]].append(row)

    entries: list[TocEntry] = []
    for row in ctx.query("types"):
        typtype = row["typtype"]
        if typtype == "e":
            entries.append(_enum(row))
        elif typtype == "c":
            entries.append(_composite(row, attributes.get(row["relid"], [])))
        elif typtype == "d":
            entries.append(_domain(row, constraints.get(row["oid"], [])))
        elif typtype == "r":
            entries.extend(_range(row))
        elif typtype == "b":
            entries.extend(_base(row))
        elif typtype == "p" and not row["isdefined"]:
            entries.append(_lone_shell(row))
        else:
            ctx.report_unsupported("TYPE", row["schema"], row["name"],
                                   f"type of kind {typtype!r} cannot be created by SQL")
    return entries


def _qualified(row: dict[str, Any]) -> str:
    return ident(row["schema"], row["name"])


def _entry(row: dict[str, Any], kind: str, create_sql: str, *,
           extra_comments: list[str] | None = None) -> TocEntry:
    """The common part of a TYPE/DOMAIN entry: owner, privileges, comment, objects."""
    qual = _qualified(row)
    comments = [comment_sql(kind, qual, row["comment"]), *(extra_comments or [])]
    objects = [("pg_type", row["oid"])]
    if row["array_oid"]:
        objects.append(("pg_type", row["array_oid"]))
    if row["relid"]:
        objects.append(("pg_class", row["relid"]))
    entry = object_entry(
        kind, row["schema"], row["name"], qual, create_sql,
        owner=row["owner"], acl=row["acl"], objects=objects, info={"oid": row["oid"]},
    )
    entry.comment_sql = "\n".join(c for c in comments if c)
    return entry


def _enum(row: dict[str, Any]) -> TocEntry:
    labels = ", ".join(literal(label) for label in row["enum_labels"])
    return _entry(row, "TYPE", f"CREATE TYPE {_qualified(row)} AS ENUM ({labels});")


def _composite(row: dict[str, Any], attrs: list[dict[str, Any]]) -> TocEntry:
    qual = _qualified(row)
    cols = []
    comments = []
    for a in attrs:
        col = f"{ident(a['name'])} {a['type']}"
        if a["collation"]:
            col += f" COLLATE {a['collation']}"
        cols.append(col)
        comments.append(comment_sql("COLUMN", f"{qual}.{ident(a['name'])}", a["comment"]))
    body = ",\n    ".join(cols)
    create = f"CREATE TYPE {qual} AS (\n    {body}\n);" if cols else f"CREATE TYPE {qual} AS ();"
    return _entry(row, "TYPE", create, extra_comments=comments)


def _domain(row: dict[str, Any], cons: list[dict[str, Any]]) -> TocEntry:
    qual = _qualified(row)
    head = f"CREATE DOMAIN {qual} AS {row['domain_base']}"
    if row["collation"]:
        head += f" COLLATE {row['collation']}"
    if row["default_expr"] is not None:
        head += f" DEFAULT {row['default_expr']}"
    elif row["default_text"] is not None:
        head += f" DEFAULT {literal(row['default_text'])}"
    if row["notnull"]:
        head += " NOT NULL"
    inline: list[str] = []
    separate: list[str] = []
    comments: list[str] = []
    for c in cons:
        if c["contype"] == "c":
            clause = f"CONSTRAINT {ident(c['name'])} {c['definition']}"
            if c["validated"]:
                inline.append(clause)
            else:  # pg_get_constraintdef already ends with NOT VALID
                separate.append(f"ALTER DOMAIN {qual} ADD {clause};")
        comments.append(comment_sql("CONSTRAINT", f"{ident(c['name'])} ON DOMAIN {qual}",
                                    c["comment"]))
    checks = [f"ALTER DOMAIN {qual} ADD {clause};" for clause in inline] + separate
    create = "\n".join([f"{head}{''.join(' ' + i for i in inline)};", *separate])
    entry = _entry(row, "DOMAIN", create, extra_comments=comments)
    entry.objects.extend(("pg_constraint", c["oid"]) for c in cons)
    # A CHECK that calls a function taking the domain makes a cycle; the domain can then
    # be made bare first and get its constraints later (unless comments need them early).
    if checks and not any(c["comment"] is not None for c in cons):
        entry.split_pre_sql = f"{head};"
        entry.split_post_sql = "\n".join(checks)
    return entry


def _range(row: dict[str, Any]) -> list[TocEntry]:
    rng = row["range"] or {}
    qual = _qualified(row)
    opts = [f"subtype = {rng['subtype']}"]
    if rng.get("opclass"):
        opts.append(f"subtype_opclass = {rng['opclass']}")
    if rng.get("collation"):
        opts.append(f"collation = {rng['collation']}")
    if rng.get("canonical"):
        opts.append(f"canonical = {rng['canonical']}")
    if rng.get("subtype_diff"):
        opts.append(f"subtype_diff = {rng['subtype_diff']}")
    multi = rng.get("multirange")
    if multi:
        opts.append(f"multirange_type_name = {ident(row['schema'], multi['name'])}")
    body = ",\n    ".join(opts)
    entry = _entry(row, "TYPE", f"CREATE TYPE {qual} AS RANGE (\n    {body}\n);")
    if multi:
        entry.objects.append(("pg_type", multi["oid"]))
        if multi.get("array_oid"):
            entry.objects.append(("pg_type", multi["array_oid"]))
    if not rng.get("canonical_oid"):
        return [entry]
    shell = _shell(row)
    entry.extra_deps += [(SHELL_TYPE, row["oid"]), (SHELL_IO_FUNCTION, rng["canonical_oid"])]
    return [shell, entry]


def _base(row: dict[str, Any]) -> list[TocEntry]:
    b = row["base"]
    qual = _qualified(row)
    opts = [f"INPUT = {b['input']}", f"OUTPUT = {b['output']}"]
    for key, word in (("receive", "RECEIVE"), ("send", "SEND"), ("typmod_in", "TYPMOD_IN"),
                      ("typmod_out", "TYPMOD_OUT"), ("analyze", "ANALYZE"),
                      ("subscript", "SUBSCRIPT")):
        if b.get(key):
            opts.append(f"{word} = {b[key]}")
    length = b["internallength"]
    opts.append(f"INTERNALLENGTH = {'VARIABLE' if length == -1 else length}")
    if b["byval"]:
        opts.append("PASSEDBYVALUE")
    opts.append(f"ALIGNMENT = {_ALIGN[b['align']]}")
    opts.append(f"STORAGE = {_STORAGE[b['storage']]}")
    opts.append(f"CATEGORY = {literal(b['category'])}")
    if b["preferred"]:
        opts.append("PREFERRED = true")
    if row["default_text"] is not None:
        opts.append(f"DEFAULT = {literal(row['default_text'])}")
    if b.get("element"):
        opts.append(f"ELEMENT = {b['element']}")
    if b["delimiter"] != ",":
        opts.append(f"DELIMITER = {literal(b['delimiter'])}")
    if b["collatable"]:
        opts.append("COLLATABLE = true")
    body = ",\n    ".join(opts)
    entry = _entry(row, "TYPE", f"CREATE TYPE {qual} (\n    {body}\n);")
    entry.extra_deps.append((SHELL_TYPE, row["oid"]))
    entry.extra_deps += [(SHELL_IO_FUNCTION, f) for f in b["functions"]]
    return [_shell(row), entry]


def _shell(row: dict[str, Any]) -> TocEntry:
    """``CREATE TYPE s.t;`` ahead of the functions that the full definition names."""
    return TocEntry(
        kind="SHELL TYPE",
        schema=row["schema"],
        name=row["name"],
        section=Section.PRE_DATA,
        create_sql=f"CREATE TYPE {_qualified(row)};",
        owner=row["owner"],
        objects=[(SHELL_TYPE, row["oid"])],
        extra_deps=[("pg_namespace", row["nsp_oid"])],
        info={"oid": row["oid"]},
    )


def _lone_shell(row: dict[str, Any]) -> TocEntry:
    """A shell type that was never completed exists on its own; carry it as such."""
    entry = _entry(row, "SHELL TYPE", f"CREATE TYPE {_qualified(row)};")
    entry.drop_sql = f"DROP TYPE {_qualified(row)};"
    entry.owner_sql = owner_sql("TYPE", _qualified(row), row["owner"])
    entry.comment_sql = comment_sql("TYPE", _qualified(row), row["comment"])
    entry.acl_sql = ""
    return entry
