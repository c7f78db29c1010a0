"""Extensions, and the configuration rows and sequence values they ask a dump to carry.

``CREATE EXTENSION IF NOT EXISTS`` without a VERSION clause (the version is recorded in
``info['version']``); plpgsql exists in every database and is left out. The objects an
extension creates are not entries of their own: :attr:`CatalogContext.extension_members`
maps each of them onto the extension, so that depending on one (a column of an
extension's type, a trigger calling TimescaleDB's ``insert_blocker``) orders the
dependent object after ``CREATE EXTENSION``.

Privileges changed on members after CREATE EXTENSION (compared with ``pg_init_privs``)
are repeated in the extension entry's ``acl_sql``.

Tables listed in ``pg_extension.extconfig`` get a ``TABLE DATA`` entry (COPY with the
extension's row filter) and sequences a ``SEQUENCE SET`` entry. TimescaleDB keeps its
catalog (hypertables, chunks, dimensions, jobs, ...) in such tables. Their data entries
are ordered among themselves by the foreign keys between them (``info['fk_order']``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from pystream_migrate.catalog.names import ident, literal
from pystream_migrate.catalog.security import acl_sql, comment_sql
from pystream_migrate.toc import CopySpec, Section, TocEntry

if TYPE_CHECKING:
    from pystream_migrate.catalog import CatalogContext

# Present in every database (created by initdb), so never created by a restore.
BUILTIN_EXTENSIONS = frozenset({"plpgsql"})

# Pseudo-catalog under which a configuration table's data entry registers the table's
# oid, so that the data entries of referencing tables can depend on it.
CONFIG_DATA = "extconfig data"

_WHERE = re.compile(r"^\s*where\b", re.IGNORECASE)


def collect(ctx: CatalogContext) -> list[TocEntry]:
    ctx.extension_members.update(
        ((r["catalog"], int(r["oid"])), ("pg_extension", int(r["ext_oid"])))
        for r in ctx.query("extensions_members")
    )
    member_acls: dict[int, list[str]] = {}
    for r in ctx.query("extensions_member_acls"):
        member_acls.setdefault(int(r["ext_oid"]), []).append(
            acl_sql(r["kind"], r["name"], r["owner"], r["acl"]))
    entries = [_extension_entry(r, member_acls.get(int(r["oid"]), []))
               for r in ctx.query("extensions") if r["name"] not in BUILTIN_EXTENSIONS]
    entries.extend(_config_entries(ctx))
    return entries


def _extension_entry(r: dict[str, Any], member_acls: list[str]) -> TocEntry:
    """The extension; its ``acl_sql`` repeats privilege changes made on its members."""
    name = ident(r["name"])
    return TocEntry(
        kind="EXTENSION",
        schema=None,
        name=r["name"],
        section=Section.PRE_DATA,
        create_sql=f"CREATE EXTENSION IF NOT EXISTS {name} WITH SCHEMA {ident(r['schema'])};",
        drop_sql=f"DROP EXTENSION {name};",
        owner=r["owner"],
        acl_sql="\n".join(member_acls),
        comment_sql=comment_sql("EXTENSION", name, r["comment"]),
        objects=[("pg_extension", int(r["oid"]))],
        info={"version": r["version"], "schema": r["schema"],
              "relocatable": r["relocatable"], "comment": r["comment"]},
    )


def normalize_condition(condition: str | None) -> str | None:
    """``" WHERE key <> 'uuid' "`` -> ``"key <> 'uuid'"``; empty -> None."""
    if condition is None:
        return None
    text = _WHERE.sub("", condition, count=1).strip()
    return text or None


def fk_levels(relids: list[int], fks: list[tuple[int, int]]) -> tuple[dict[int, int], list[int]]:
    """Load order levels: 0 for a table referencing no other, else 1 + its referenced tables'.

    ``fks`` are ``(relid, referenced relid)``. Returns the levels and the tables of any
    foreign-key cycle (whose edges back into the cycle are then ignored).
    """
    refs: dict[int, set[int]] = {r: set() for r in relids}
    for a, b in fks:
        if a != b and a in refs and b in refs:
            refs[a].add(b)
    level: dict[int, int] = {}
    cyclic: list[int] = []
    visiting: set[int] = set()

    def visit(rel: int) -> int:
        if rel in level:
            return level[rel]
        visiting.add(rel)
        below = -1
        for ref in sorted(refs[rel]):
            if ref in visiting:
                cyclic.append(rel)
                continue
            below = max(below, visit(ref))
        visiting.discard(rel)
        level[rel] = below + 1
        return level[rel]

    for rel in relids:
        visit(rel)
    return level, cyclic


def _config_entries(ctx: CatalogContext) -> list[TocEntry]:
    rows = ctx.query("extensions_config")
    if not rows:
        return []
    tables = [r for r in rows if r["relkind"] == "r"]
    sequences = [r for r in rows if r["relkind"] == "S"]
    entries: list[TocEntry] = []
    for r in rows:
        if r["relkind"] not in ("r", "S"):
            ctx.report_unsupported(
                "TABLE DATA", r["schema"], r["name"],
                f"configuration relation of extension {r['extension']} has relkind "
                f"{r['relkind']!r}; only plain tables and sequences are carried")

    table_ids = [int(r["relid"]) for r in tables]
    referenced_ids = set(table_ids)
    fks = [(int(f["relid"]), int(f["ref_relid"])) for f in ctx.query("extensions_config_fks")
           if int(f["relid"]) in referenced_ids and int(f["ref_relid"]) in referenced_ids]
    levels, cyclic = fk_levels(table_ids, fks)
    for rel in cyclic:
        r = next(t for t in tables if int(t["relid"]) == rel)
        ctx.warnings.append(
            f"extension configuration table {r['schema']}.{r['name']} is part of a foreign-key "
            "cycle; its rows may be loaded before the rows it references")
    referenced: dict[int, list[int]] = {rel: [] for rel in table_ids}
    for a, b in fks:
        if a != b and levels.get(b, 0) < levels.get(a, 0):
            referenced[a].append(b)

    for r in tables:
        relid = int(r["relid"])
        entries.append(TocEntry(
            kind="TABLE DATA",
            schema=r["schema"],
            name=r["name"],
            section=Section.DATA,
            owner=None,
            objects=[(CONFIG_DATA, relid)],
            extra_deps=[("pg_extension", int(r["ext_oid"]))]
            + [(CONFIG_DATA, ref) for ref in referenced[relid]],
            copy=CopySpec(r["schema"], r["name"], list(r["columns"]),
                          normalize_condition(r["condition"])),
            relid=relid,
            extconfig=True,
            est_bytes=int(r["est_bytes"]),
            fk_order=levels[relid],
            info={"extension": r["extension"], "est_rows": int(r["est_rows"])},
        ))

    for r in sequences:  # each with its state now: last_value, is_called
        target = literal(ident(r["schema"], r["name"]))
        called = "true" if r["is_called"] else "false"
        entries.append(TocEntry(
            kind="SEQUENCE SET",
            schema=r["schema"],
            name=r["name"],
            section=Section.DATA,
            create_sql=f"SELECT pg_catalog.setval({target}, {int(r['last_value'])}, "
                       f"{called});",
            extra_deps=[("pg_extension", int(r["ext_oid"]))],
            relid=int(r["relid"]),
            extconfig=True,
            info={"extension": r["extension"]},
        ))
    return entries
