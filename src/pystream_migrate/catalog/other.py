"""The remaining object kinds that no other family reads.

Casts, transforms, operators, operator families and classes, access methods,
conversions, text search parsers, templates, dictionaries and configurations, foreign
data wrappers, servers, user mappings and foreign tables (pre-data), and publications
with their tables and schemas (post-data). Extension members are left out everywhere
(CREATE EXTENSION makes them).

Reported as unsupported (see ``sql/other_unsupported.sql``): procedural languages
created outside extensions, subscriptions and large objects.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pystream_migrate.catalog.entries import object_entry
from pystream_migrate.catalog.names import ident, literal
from pystream_migrate.catalog.security import acl_sql, comment_sql, owner_sql
from pystream_migrate.toc import Section, TocEntry

if TYPE_CHECKING:
    from pystream_migrate.catalog import CatalogContext

Row = dict[str, Any]


def collect(ctx: CatalogContext) -> list[TocEntry]:
    entries: list[TocEntry] = []
    readers: list[Callable[[CatalogContext], list[TocEntry]]] = [
        _access_methods, _conversions, _casts, _transforms, _operators, _operator_families,
        _text_search,
        _foreign_data, _foreign_tables, _publications,
    ]
    for read in readers:
        entries.extend(read(ctx))
    for r in ctx.query("other_unsupported"):
        ctx.report_unsupported(r["kind"], r["schema"], r["name"], r["reason"])
    return entries


def _options(text: str | None) -> str:
    return f" OPTIONS ({text})" if text else ""


# --- access methods -------------------------------------------------------------------

_AM_TYPES = {"i": "INDEX", "t": "TABLE"}


def _access_methods(ctx: CatalogContext) -> list[TocEntry]:
    entries = []
    for r in ctx.query("other_access_methods"):
        am_type = _AM_TYPES.get(r["type"])
        if am_type is None:
            ctx.report_unsupported("ACCESS METHOD", None, r["name"],
                                   f"unknown access method type {r['type']!r}")
            continue
        name = ident(r["name"])
        entries.append(object_entry(
            "ACCESS METHOD", None, r["name"], name,
            f"CREATE ACCESS METHOD {name} TYPE {am_type} HANDLER {r['handler']};",
            owner=None, comment=r["comment"], objects=[("pg_am", int(r["oid"]))],
        ))
    return entries


# --- conversions ----------------------------------------------------------------------


def _conversions(ctx: CatalogContext) -> list[TocEntry]:
    entries = []
    for r in ctx.query("other_conversions"):
        name = ident(r["schema"], r["name"])
        default = "DEFAULT " if r["is_default"] else ""
        entries.append(object_entry(
            "CONVERSION", r["schema"], r["name"], name,
            f"CREATE {default}CONVERSION {name} FOR {literal(r['source_encoding'])} "
            f"TO {literal(r['target_encoding'])} FROM {r['func']};",
            owner=r["owner"], comment=r["comment"],
            objects=[("pg_conversion", int(r["oid"]))],
        ))
    return entries


# --- casts ----------------------------------------------------------------------------

_CAST_CONTEXT = {"e": "", "a": " AS ASSIGNMENT", "i": " AS IMPLICIT"}


def _casts(ctx: CatalogContext) -> list[TocEntry]:
    entries = []
    for r in ctx.query("other_casts"):
        target = f"({r['source']} AS {r['target']})"
        if r["method"] == "f":
            how = f"WITH FUNCTION {r['func']}"
        elif r["method"] == "i":
            how = "WITH INOUT"
        else:
            how = "WITHOUT FUNCTION"
        entries.append(object_entry(
            "CAST", None, target, target,
            f"CREATE CAST {target} {how}{_CAST_CONTEXT.get(r['context'], '')};",
            owner=None, comment=r["comment"], objects=[("pg_cast", int(r["oid"]))],
        ))
    return entries


# --- operators ------------------------------------------------------------------------


def _operators(ctx: CatalogContext) -> list[TocEntry]:
    entries = []
    for r in ctx.query("other_operators"):
        qualified = f"{ident(r['schema'])}.{r['name']}"
        signature = f"{qualified} ({r['leftarg'] or 'NONE'}, {r['rightarg'] or 'NONE'})"
        parts = [f"FUNCTION = {r['func']}"]
        if r["leftarg"]:
            parts.append(f"LEFTARG = {r['leftarg']}")
        if r["rightarg"]:
            parts.append(f"RIGHTARG = {r['rightarg']}")
        for key, col in (("COMMUTATOR", "commutator"), ("NEGATOR", "negator"),
                         ("RESTRICT", "restrict_func"), ("JOIN", "join_func")):
            if r[col]:
                parts.append(f"{key} = {r[col]}")
        if r["hashes"]:
            parts.append("HASHES")
        if r["merges"]:
            parts.append("MERGES")
        entries.append(object_entry(
            "OPERATOR", r["schema"],
            f"{r['name']} ({r['leftarg'] or 'NONE'}, {r['rightarg'] or 'NONE'})", signature,
            f"CREATE OPERATOR {qualified} ({', '.join(parts)});",
            owner=r["owner"], comment=r["comment"],
            objects=[("pg_operator", int(r["oid"]))],
        ))
    return entries


# --- operator families and classes ----------------------------------------------------


def _operator_families(ctx: CatalogContext) -> list[TocEntry]:
    rows = ctx.query("other_opfamilies")
    if not rows:
        return []
    # The families of our classes too: a class may belong to a family that is not ours.
    families = sorted({int(r["family_oid"]) for r in rows})
    class_oids = {int(r["oid"]) for r in rows if r["kind"] == "class"}
    loose: dict[int, list[Row]] = defaultdict(list)
    bound: dict[int, list[Row]] = defaultdict(list)
    for m in ctx.query("other_opmembers", {"families": families}):
        if m["class_oid"] is None:
            loose[int(m["family_oid"])].append(m)
        elif int(m["class_oid"]) in class_oids:
            bound[int(m["class_oid"])].append(m)
    entries = []
    for r in rows:
        qualified = ident(r["schema"], r["name"])
        using = f"{qualified} USING {ident(r['method'])}"
        oid = int(r["oid"])
        if r["kind"] == "family":
            members = loose.get(oid, [])
            stmts = [f"CREATE OPERATOR FAMILY {using};"]
            if members:
                stmts.append(f"ALTER OPERATOR FAMILY {using} ADD\n    "
                             + ",\n    ".join(m["clause"] for m in members) + ";")
            entries.append(object_entry(
                "OPERATOR FAMILY", r["schema"], f"{r['name']} USING {r['method']}", using,
                "\n".join(stmts), owner=r["owner"], comment=r["comment"],
                objects=[("pg_opfamily", oid)]
                + [(m["catalog"], int(m["oid"])) for m in members],
            ))
            continue
        members = bound.get(oid, [])
        items = [m["clause"] for m in members]
        if r["storage"]:
            items.append(f"STORAGE {r['storage']}")
        if not items:
            # Nothing after AS is a syntax error; a STORAGE of the indexed type itself
            # changes nothing (pg_dump writes the same).
            items.append(f"STORAGE {r['for_type']}")
        default = "DEFAULT " if r["is_default"] else ""
        entries.append(object_entry(
            "OPERATOR CLASS", r["schema"], f"{r['name']} USING {r['method']}", using,
            f"CREATE OPERATOR CLASS {qualified}\n    {default}FOR TYPE {r['for_type']} "
            f"USING {ident(r['method'])} FAMILY {r['family']} AS\n    "
            + ",\n    ".join(items) + ";",
            owner=r["owner"], comment=r["comment"],
            objects=[("pg_opclass", oid)] + [(m["catalog"], int(m["oid"])) for m in members],
        ))
    return entries


# --- transforms -----------------------------------------------------------------------


def _transforms(ctx: CatalogContext) -> list[TocEntry]:
    entries = []
    for r in ctx.query("other_transforms"):
        name = f"FOR {r['type']} LANGUAGE {r['language']}"
        functions = [f"{way} SQL WITH FUNCTION {r[key]}"
                     for way, key in (("FROM", "from_sql"), ("TO", "to_sql")) if r[key]]
        entries.append(object_entry(
            "TRANSFORM", None, name, name,
            f"CREATE TRANSFORM {name} ({', '.join(functions)});",
            owner=None, comment=r["comment"], objects=[("pg_transform", int(r["oid"]))],
        ))
    return entries


# --- text search ----------------------------------------------------------------------

_TS_PARTS = {
    "TEXT SEARCH PARSER": ("pg_ts_parser", ("START", "GETTOKEN", "END", "HEADLINE", "LEXTYPES")),
    "TEXT SEARCH TEMPLATE": ("pg_ts_template", ("INIT", "LEXIZE")),
    "TEXT SEARCH DICTIONARY": ("pg_ts_dict", ("TEMPLATE",)),
    "TEXT SEARCH CONFIGURATION": ("pg_ts_config", ("PARSER",)),
}


def _text_search(ctx: CatalogContext) -> list[TocEntry]:
    rows = ctx.query("other_text_search")
    configs = [int(r["oid"]) for r in rows if r["kind"] == "TEXT SEARCH CONFIGURATION"]
    mappings: dict[int, list[Row]] = defaultdict(list)
    if configs:
        for m in ctx.query("other_ts_mappings", {"configs": configs}):
            mappings[int(m["cfg_oid"])].append(m)
    entries = []
    for r in rows:
        kind = r["kind"]
        catalog, keys = _TS_PARTS[kind]
        qualified = ident(r["schema"], r["name"])
        parts = [f"{key} = {r['parts'][key]}" for key in keys if r["parts"].get(key)]
        if r["options"]:
            parts.append(r["options"])
        stmts = [f"CREATE {kind} {qualified} ({', '.join(parts)});"]
        # Equal dictionary lists for several token types make one ADD MAPPING.
        grouped: dict[str, list[str]] = {}
        for m in mappings.get(int(r["oid"]), []):
            grouped.setdefault(m["dictionaries"], []).append(m["token"])
        for dicts, tokens in grouped.items():
            stmts.append(f"ALTER {kind} {qualified} ADD MAPPING FOR {', '.join(tokens)} "
                         f"WITH {dicts};")
        entries.append(object_entry(
            kind, r["schema"], r["name"], qualified, "\n".join(stmts), owner=r["owner"],
            comment=r["comment"], objects=[(catalog, int(r["oid"]))],
        ))
    return entries


# --- foreign data wrappers, servers, user mappings ------------------------------------


def _foreign_data(ctx: CatalogContext) -> list[TocEntry]:
    entries = []
    for r in ctx.query("other_foreign_data"):
        kind = r["kind"]
        if kind == "FOREIGN DATA WRAPPER":
            name = ident(r["name"])
            clauses = ""
            if r["handler"]:
                clauses += f" HANDLER {r['handler']}"
            if r["validator"]:
                clauses += f" VALIDATOR {r['validator']}"
            create = f"CREATE FOREIGN DATA WRAPPER {name}{clauses}{_options(r['options'])};"
            catalog = "pg_foreign_data_wrapper"
        elif kind == "SERVER":
            name = ident(r["name"])
            clauses = ""
            if r["server_type"] is not None:
                clauses += f" TYPE {literal(r['server_type'])}"
            if r["server_version"] is not None:
                clauses += f" VERSION {literal(r['server_version'])}"
            create = (f"CREATE SERVER {name}{clauses} FOREIGN DATA WRAPPER "
                      f"{ident(r['wrapper'])}{_options(r['options'])};")
            catalog = "pg_foreign_server"
        else:
            who = "PUBLIC" if r["name"] is None else ident(r["name"])
            name = f"FOR {who} SERVER {ident(r['server'])}"
            if not r["options_visible"]:
                ctx.warnings.append(
                    f"USER MAPPING {name}: its options are not visible to this user; it is "
                    "carried without options")
            entries.append(TocEntry(
                kind="USER MAPPING",
                schema=None,
                name=f"USER MAPPING {r['name'] or 'PUBLIC'} SERVER {r['server']}",
                section=Section.PRE_DATA,
                create_sql=f"CREATE USER MAPPING {name}{_options(r['options'])};",
                drop_sql=f"DROP USER MAPPING {name};",
                objects=[("pg_user_mapping", int(r["oid"]))],
            ))
            continue
        entries.append(object_entry(
            kind, None, r["name"], name, create, owner=r["owner"], acl=r["acl"],
            comment=r["comment"], objects=[(catalog, int(r["oid"]))],
        ))
    return entries


# --- foreign tables -------------------------------------------------------------------


def _foreign_tables(ctx: CatalogContext) -> list[TocEntry]:
    tables = ctx.query("other_foreign_tables")
    if not tables:
        return []
    parts: dict[int, list[Row]] = defaultdict(list)
    for p in ctx.query("other_foreign_columns", {"relids": [int(t["oid"]) for t in tables]}):
        parts[int(p["relid"])].append(p)
    entries = []
    for t in tables:
        oid = int(t["oid"])
        if t["is_partition"] or t["inherits"]:
            ctx.report_unsupported("FOREIGN TABLE", t["schema"], t["name"],
                                   "foreign tables that are partitions or inheritance "
                                   "children are not carried")
            continue
        columns = [p for p in parts[oid] if p["kind"] == "column"]
        checks = [p for p in parts[oid] if p["kind"] == "check"]
        generated = [c["name"] for c in columns if c["generated"]]
        if generated:
            ctx.report_unsupported("FOREIGN TABLE", t["schema"], t["name"],
                                   "generated columns of foreign tables are not carried: "
                                   + ", ".join(generated))
            continue
        entries.append(_foreign_table_entry(t, columns, checks))
    return entries


def _foreign_table_entry(t: Row, columns: list[Row], checks: list[Row]) -> TocEntry:
    qualified = ident(t["schema"], t["name"])
    objects: list[tuple[str, int]] = [("pg_class", int(t["oid"])),
                                      ("pg_type", int(t["type_oid"]))]
    lines = []
    for c in columns:
        line = f"{ident(c['name'])} {c['type']}{_options(c['options'])}"
        if c["collation"]:
            line += f" COLLATE {c['collation']}"
        if c["not_null"]:
            line += " NOT NULL"
        if c["default_expr"] is not None:
            line += f" DEFAULT {c['default_expr']}"
            objects.append(("pg_attrdef", int(c["default_oid"])))
        lines.append(line)
    stmts = [f"CREATE FOREIGN TABLE {qualified} (\n    " + ",\n    ".join(lines)
             + f"\n) SERVER {ident(t['server'])}{_options(t['options'])};"]
    comments = [comment_sql("FOREIGN TABLE", qualified, t["comment"])]
    for c in checks:
        stmts.append(f"ALTER FOREIGN TABLE {qualified} ADD CONSTRAINT {ident(c['name'])} "
                     f"{c['default_expr']};")
        objects.append(("pg_constraint", int(c["default_oid"])))
        if c["comment"] is not None:
            comments.append(comment_sql("CONSTRAINT", f"{ident(c['name'])} ON {qualified}",
                                        c["comment"]))
    acls = [acl_sql("FOREIGN TABLE", qualified, t["owner"], t["acl"])]
    for c in columns:
        comments.append(comment_sql("COLUMN", f"{qualified}.{ident(c['name'])}", c["comment"]))
        acls.append(acl_sql("FOREIGN TABLE", qualified, t["owner"], c["acl"],
                            column=c["name"]))
    return TocEntry(
        kind="FOREIGN TABLE",
        schema=t["schema"],
        name=t["name"],
        section=Section.PRE_DATA,
        create_sql="\n".join(stmts),
        drop_sql=f"DROP FOREIGN TABLE {qualified};",
        owner=t["owner"],
        owner_sql=owner_sql("FOREIGN TABLE", qualified, t["owner"]),
        acl_sql="\n".join(s for s in acls if s),
        comment_sql="\n".join(s for s in comments if s),
        objects=objects,
        relid=int(t["oid"]),
    )


# --- publications ---------------------------------------------------------------------


def _publications(ctx: CatalogContext) -> list[TocEntry]:
    pubs = ctx.query("other_publications")
    if not pubs:
        return []
    entries = []
    for p in pubs:
        name = ident(p["name"])
        ops = [op for op, flag in (("insert", p["pub_insert"]), ("update", p["pub_update"]),
                                   ("delete", p["pub_delete"]),
                                   ("truncate", p["pub_truncate"])) if flag]
        with_opts = [f"publish = {literal(', '.join(ops))}"]
        if p["via_root"]:
            with_opts.append("publish_via_partition_root = true")
        for_all = " FOR ALL TABLES" if p["all_tables"] else ""
        entries.append(object_entry(
            "PUBLICATION", None, p["name"], name,
            f"CREATE PUBLICATION {name}{for_all} WITH ({', '.join(with_opts)});",
            owner=p["owner"], comment=p["comment"],
            objects=[("pg_publication", int(p["oid"]))], section=Section.POST_DATA,
        ))
    v15 = ctx.server_version >= 150000
    for r in ctx.query("other_publication_tables_15" if v15 else "other_publication_tables"):
        table = ident(r["schema"], r["name"])
        cols = f" ({', '.join(ident(c) for c in r['columns'])})" if r["columns"] else ""
        where = f" WHERE ({r['row_filter']})" if r["row_filter"] else ""
        pub = ident(r["publication"])
        entries.append(TocEntry(
            kind="PUBLICATION TABLE",
            schema=r["schema"],
            name=f"{r['publication']} {r['name']}",
            section=Section.POST_DATA,
            create_sql=f"ALTER PUBLICATION {pub} ADD TABLE ONLY {table}{cols}{where};",
            drop_sql=f"ALTER PUBLICATION {pub} DROP TABLE ONLY {table};",
            objects=[("pg_publication_rel", int(r["oid"]))],
            extra_deps=[("pg_publication", int(r["pub_oid"]))],
        ))
    if v15:
        for r in ctx.query("other_publication_schemas"):
            pub = ident(r["publication"])
            schema = ident(r["schema"])
            entries.append(TocEntry(
                kind="PUBLICATION TABLES IN SCHEMA",
                schema=r["schema"],
                name=f"{r['publication']} {r['schema']}",
                section=Section.POST_DATA,
                create_sql=f"ALTER PUBLICATION {pub} ADD TABLES IN SCHEMA {schema};",
                drop_sql=f"ALTER PUBLICATION {pub} DROP TABLES IN SCHEMA {schema};",
                objects=[("pg_publication_namespace", int(r["oid"]))],
                extra_deps=[("pg_publication", int(r["pub_oid"]))],
            ))
    return entries
