"""Catalog reader for views and materialized views.

A view is ``CREATE VIEW ... AS <pg_get_viewdef>``; it can also be made in two steps (a
stand-in view with the same columns, then ``CREATE OR REPLACE VIEW``) so that the TOC
sorter can break dependency loops through it. A materialized view is created empty
(``WITH NO DATA``) in pre-data, with its columns' statistics targets, storage, options
and compression; a populated one gets a post-data ``MATERIALIZED VIEW
DATA`` entry that refreshes it after the table data. Indexes on materialized views
belong to the indexes family.

TimescaleDB continuous aggregates are carried as what they are in the catalogs: the
user view, the partial and direct views (plain views in ``_timescaledb_internal``) and
the materialized hypertable (a table, with its chunks). What makes them a continuous
aggregate (``_timescaledb_catalog.continuous_agg``, the watermark, the invalidation
logs, the refresh policy) is TimescaleDB's catalog, carried as extension configuration
data. Their entries are marked ``info['continuous_aggregate']`` ('user', 'partial'
or 'direct').
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from pystream_migrate.catalog.names import ident
from pystream_migrate.catalog.security import acl_sql, comment_sql, owner_sql
from pystream_migrate.catalog.tableshape import column_settings
from pystream_migrate.toc import Section, TocEntry

if TYPE_CHECKING:
    from pystream_migrate.catalog import CatalogContext

# Pseudo identity of a materialized view's refresh, for ordering refreshes among
# themselves (one materialized view reading another must be refreshed after it).
MATVIEW_DATA = "matview data"


def collect(ctx: CatalogContext) -> list[TocEntry]:
    caggs = _continuous_aggregate_views(ctx)
    columns: dict[int, list[dict[str, Any]]] = defaultdict(list)
    compression = {}
    if ctx.server_version >= 140000:
        compression = {(r["relid"], r["column_name"]): r["compression"]
                       for r in ctx.query("tables_compression")}
    for col in ctx.query("views_columns"):
        col["compression"] = compression.get((col["relid"], col["name"]))
        columns[col["relid"]].append(col)
    entries: list[TocEntry] = []
    for row in ctx.query("views"):
        cols = columns.get(row["oid"], [])
        if row["relkind"] == "v":
            entry = _view(row, cols)
            cagg = caggs.get((row["schema"], row["name"]))
            if cagg is not None:
                entry.info["continuous_aggregate"] = cagg["role"]
                # restore --clean: TimescaleDB drops a continuous aggregate (with its
                # partial and direct views and materialized hypertable) only this way.
                # Each of the three views carries the drop, so that it runs at the first
                # of them in reverse order, before what this aggregate is built on.
                entry.drop_sql = ("DROP MATERIALIZED VIEW IF EXISTS "
                                  f"{ident(cagg['user_schema'], cagg['user_name'])};")
            entries.append(entry)
        else:
            entries.extend(_matview(row, cols))
    return entries


def _continuous_aggregate_views(ctx: CatalogContext) -> dict[tuple[str, str], dict[str, Any]]:
    """(schema, name) -> {'role': 'user'|'partial'|'direct', 'user_schema', 'user_name'}."""
    if not ctx.query("views_cagg_catalog")[0]["present"]:
        return {}
    return {(row["schema"], row["name"]): row for row in ctx.query("views_caggs")}


def _definition(row: dict[str, Any]) -> str:
    return row["definition"].strip().rstrip(";").rstrip()


def _objects(row: dict[str, Any]) -> list[tuple[str, int]]:
    objects = [("pg_class", row["oid"])]
    for key, catalog in (("type_oid", "pg_type"), ("array_oid", "pg_type"),
                         ("rule_oid", "pg_rewrite")):
        if row[key]:
            objects.append((catalog, row[key]))
    return objects


def _set_defaults(qual: str, cols: list[dict[str, Any]]) -> list[str]:
    """``ALTER VIEW ... SET DEFAULT`` for the columns of a view that have a default."""
    return [f"ALTER VIEW {qual} ALTER COLUMN {ident(c['name'])} SET DEFAULT {c['default_expr']};"
            for c in cols if c["default_expr"] is not None]


def _common(row: dict[str, Any], kind: str, cols: list[dict[str, Any]],
            create: str) -> TocEntry:
    qual = ident(row["schema"], row["name"])
    acls = [acl_sql(kind, qual, row["owner"], row["acl"])]
    acls += [acl_sql(kind, qual, row["owner"], c["acl"], column=c["name"]) for c in cols]
    comments = [comment_sql(kind, qual, row["comment"])]
    comments += [comment_sql("COLUMN", f"{qual}.{ident(c['name'])}", c["comment"])
                 for c in cols]
    entry = TocEntry(
        kind=kind,
        schema=row["schema"],
        name=row["name"],
        section=Section.PRE_DATA,
        create_sql=create,
        drop_sql=f"DROP {kind} {qual};",
        owner=row["owner"],
        owner_sql=owner_sql(kind, qual, row["owner"]),
        acl_sql="\n".join(a for a in acls if a),
        comment_sql="\n".join(c for c in comments if c),
        tablespace=row["tablespace"],
        objects=_objects(row),
        relid=row["oid"],
    )
    entry.objects += [("pg_attrdef", c["default_oid"]) for c in cols if c["default_oid"]]
    return entry


def _view(row: dict[str, Any], cols: list[dict[str, Any]]) -> TocEntry:
    qual = ident(row["schema"], row["name"])
    with_opts = f" WITH ({row['options']})" if row["options"] else ""
    check = f"\n  WITH {row['check_option'].upper()} CHECK OPTION" if row["check_option"] else ""
    body = f"{with_opts} AS\n{_definition(row)}{check};"
    defaults = _set_defaults(qual, cols)
    entry = _common(row, "VIEW", cols, "\n".join([f"CREATE VIEW {qual}{body}", *defaults]))
    # Stand-in with the same column names, types and collations, then the real query.
    stand_in = []
    for c in cols:
        expr = f"NULL::{c['type']}"
        if c["collation"]:
            expr += f" COLLATE {c['collation']}"
        stand_in.append(f"{expr} AS {ident(c['name'])}")
    entry.split_pre_sql = f"CREATE VIEW {qual} AS\n SELECT {', '.join(stand_in)};"
    entry.split_post_sql = "\n".join([f"CREATE OR REPLACE VIEW {qual}{body}", *defaults])
    return entry


def _matview(row: dict[str, Any], cols: list[dict[str, Any]]) -> list[TocEntry]:
    qual = ident(row["schema"], row["name"])
    head = f"CREATE MATERIALIZED VIEW {qual}"
    if row["access_method"]:
        head += f" USING {row['access_method']}"
    options = ", ".join(o for o in (row["options"], row["toast_options"]) if o)
    if options:
        head += f" WITH ({options})"
    create = "\n".join([f"{head} AS\n{_definition(row)}\n  WITH NO DATA;",
                        *(s for c in cols for s in column_settings(qual, c))])
    entry = _common(row, "MATERIALIZED VIEW", cols, create)
    if not row["populated"]:
        return [entry]  # an unpopulated materialized view stays unpopulated
    data = TocEntry(
        kind="MATERIALIZED VIEW DATA",
        schema=row["schema"],
        name=row["name"],
        section=Section.POST_DATA,
        create_sql=f"REFRESH MATERIALIZED VIEW {qual};",
        objects=[(MATVIEW_DATA, row["oid"])],
        extra_deps=[("pg_class", row["oid"])]
        + [(MATVIEW_DATA, other) for other in row["reads_matviews"]],
        # table_oid: restore takes the matview's lock (not alongside its index builds).
        relid=row["oid"], table_oid=row["oid"], after_data=True,
    )
    return [entry, data]
