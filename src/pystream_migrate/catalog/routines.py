"""Catalog reader for functions, procedures and aggregates.

Functions and procedures come from ``pg_get_functiondef``; aggregates are rebuilt as
``CREATE AGGREGATE`` from ``pg_aggregate``. Owner, comment and privilege statements
name a routine by its identity signature, e.g. ``FUNCTION "s"."f"(integer, text)``.

Functions written in a procedural language that no extension installs cannot be
carried (the language would be missing on the target): they are reported instead.
The I/O functions of a user-defined base type are tied to its shell type entry (see
:mod:`pystream_migrate.catalog.types`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pystream_migrate.catalog.entries import object_entry
from pystream_migrate.catalog.names import ident, literal
from pystream_migrate.catalog.types import SHELL_IO_FUNCTION, SHELL_TYPE
from pystream_migrate.toc import TocEntry

if TYPE_CHECKING:
    from pystream_migrate.catalog import CatalogContext

_KIND = {"f": "FUNCTION", "w": "FUNCTION", "p": "PROCEDURE"}
_MODIFY = {"r": "READ_ONLY", "s": "SHAREABLE", "w": "READ_WRITE"}
_PARALLEL = {"s": "SAFE", "r": "RESTRICTED"}


def collect(ctx: CatalogContext) -> list[TocEntry]:
    entries: list[TocEntry] = []
    reported_languages: set[str] = set()
    for row in ctx.query("routines"):
        if row["language_is_pl"] and not row["language_from_extension"]:
            if row["language"] not in reported_languages:
                reported_languages.add(row["language"])
                ctx.report_unsupported("LANGUAGE", None, row["language"],
                                       "procedural language not installed by an extension")
            ctx.report_unsupported(_KIND[row["prokind"]], row["schema"], row["name"],
                                   f"written in language {row['language']}, which no "
                                   "extension installs")
            continue
        entries.append(_routine(row))
    entries.extend(_aggregate(row) for row in ctx.query("routines_aggregates"))
    return entries


def signature(row: dict[str, Any], *, aggregate: bool = False) -> str:
    """``"s"."f"(identity args)``, as owner/comment/privilege statements name a routine."""
    args = row["identity_args"]
    if aggregate and not args:
        args = "*"
    return f"{ident(row['schema'], row['name'])}({args})"


def _common(row: dict[str, Any], kind: str, create_sql: str, sig: str) -> TocEntry:
    return object_entry(
        kind, row["schema"], row["name"], sig, create_sql,
        owner=row["owner"], acl=row["acl"], comment=row["comment"],
        objects=[("pg_proc", row["oid"])],
        info={"oid": row["oid"], "signature": sig},
    )


def _routine(row: dict[str, Any]) -> TocEntry:
    kind = _KIND[row["prokind"]]
    definition = row["definition"].rstrip()
    if not definition.endswith(";"):
        definition += ";"
    entry = _common(row, kind, definition, signature(row))
    if row["shell_type_oid"] is not None:
        # Needs only the shell of the type it reads or writes; the full type needs it.
        entry.objects = [(SHELL_IO_FUNCTION, row["oid"])]
        entry.extra_deps = [(SHELL_TYPE, row["shell_type_oid"]),
                            ("pg_namespace", row["nsp_oid"])]
    return entry


def _aggregate(row: dict[str, Any]) -> TocEntry:
    sig = signature(row, aggregate=True)
    args = row["args"] or "*"
    default_modify = "r" if row["aggkind"] == "n" else "w"
    opts = [f"SFUNC = {row['sfunc']}", f"STYPE = {row['stype']}"]
    if row["sspace"]:
        opts.append(f"SSPACE = {row['sspace']}")
    if row["finalfunc"]:
        opts.append(f"FINALFUNC = {row['finalfunc']}")
        if row["finalfunc_extra"]:
            opts.append("FINALFUNC_EXTRA")
    if row["finalfunc_modify"] != default_modify:
        opts.append(f"FINALFUNC_MODIFY = {_MODIFY[row['finalfunc_modify']]}")
    for key, word in (("combinefunc", "COMBINEFUNC"), ("serialfunc", "SERIALFUNC"),
                      ("deserialfunc", "DESERIALFUNC")):
        if row[key]:
            opts.append(f"{word} = {row[key]}")
    if row["initcond"] is not None:
        opts.append(f"INITCOND = {literal(row['initcond'])}")
    if row["msfunc"]:
        opts.append(f"MSFUNC = {row['msfunc']}")
        opts.append(f"MINVFUNC = {row['minvfunc']}")
        opts.append(f"MSTYPE = {row['mstype']}")
        if row["msspace"]:
            opts.append(f"MSSPACE = {row['msspace']}")
        if row["mfinalfunc"]:
            opts.append(f"MFINALFUNC = {row['mfinalfunc']}")
            if row["mfinalfunc_extra"]:
                opts.append("MFINALFUNC_EXTRA")
        if row["minitcond"] is not None:
            opts.append(f"MINITCOND = {literal(row['minitcond'])}")
    if row["mfinalfunc_modify"] != default_modify:
        opts.append(f"MFINALFUNC_MODIFY = {_MODIFY[row['mfinalfunc_modify']]}")
    if row["sortop"]:
        opts.append(f"SORTOP = {row['sortop']}")
    if row["parallel"] in _PARALLEL:
        opts.append(f"PARALLEL = {_PARALLEL[row['parallel']]}")
    if row["aggkind"] == "h":
        opts.append("HYPOTHETICAL")
    body = ",\n    ".join(opts)
    create = f"CREATE AGGREGATE {ident(row['schema'], row['name'])}({args}) (\n    {body}\n);"
    return _common(row, "AGGREGATE", create, sig)
