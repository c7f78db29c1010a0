"""Catalog reader for tables: definitions, column defaults, partition attachment, data.

Per table it emits:

* ``TABLE`` (pre-data): ``CREATE TABLE`` with the columns in their original order
  (types, collations, NOT NULL, generated and identity columns), the validated CHECK
  constraints inline, then per-column storage/statistics/options/compression and the
  replica identity. An inheritance child takes one of two forms:

  - ``INHERITS (parents)`` (pg_dump's form) when its column order is what that form
    produces: the parents' columns first, then its own;
  - otherwise every column in its own order, then ``ALTER TABLE ONLY ... INHERIT``,
    and for columns/constraints that were not local in the source the catalog fix-up
    pg_dump --binary-upgrade uses (superuser only: ``info['needs_superuser']``).

  Partitions are created as plain tables and attached by a ``TABLE ATTACH`` entry.
* ``DEFAULT`` (pre-data): one per column default, so that a default calling a
  function or sequence never makes a cycle with the table.
* ``TABLE DATA`` (data): one per table that holds rows (not partitioned parents).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from pystream_migrate.catalog.names import ident, literal, share_strings
from pystream_migrate.catalog.queries import Tuples, each_row
from pystream_migrate.catalog.security import comment_sql, owner_sql
from pystream_migrate.catalog.tableshape import Shapes
from pystream_migrate.toc import CopySpec, Section, TocEntry

if TYPE_CHECKING:
    from pystream_migrate.catalog import CatalogContext
    from pystream_migrate.catalog.spill import SpilledRows

Row = dict[str, Any]



def collect(ctx: CatalogContext) -> Iterator[TocEntry]:
    """The tables' entries, one table at a time: the caller keeps each entry small (its
    SQL in the dump's spool) before the next table's are built."""
    # The tables' rows (each with its CHECK constraints) are read twice from their file
    # (spill.py) rather than kept as dicts (2 kB a chunk): once for the names of the
    # parents, once to build the entries.
    with ctx.query_twice("tables") as tables:
        columns: dict[int, list[Row]] = ctx.compact("tables_columns")
        _merge_column_extras(ctx, columns)
        by_oid = _parent_names(tables)
        shapes = Shapes(ctx, columns, by_oid)
        for table in tables:
            share_strings(table, "schema", "owner")
            oid = table["oid"]
            yield from _TableBuilder(ctx, table, shapes, table["checks"] or []).entries()
            if oid not in by_oid:  # no table inherits its columns: done with them
                columns.pop(oid, None)


def columns_by_table(rows: Tuples) -> dict[int, list[Row]]:
    """tables_columns.sql's rows (:class:`~.queries.Tuples`, read to the end), compact:
    by table, and one object for the columns alike (a column of each chunk of a
    hypertable), made once: a :class:`_Column`, read only, never changed."""
    if not rows.names:  # no column at all
        return {}
    relid_at = rows.names.index("relid")
    names = rows.names[:relid_at] + rows.names[relid_at + 1:]
    columns: dict[int, list[Row]] = defaultdict(list)
    shared: dict[tuple[Any, ...], Row] = {}
    for row in each_row(rows.rows):
        values = row[:relid_at] + row[relid_at + 1:]
        try:
            col = shared.get(values)
        except TypeError:  # a list among them (options, privileges): as a tuple
            values = tuple(tuple(v) if type(v) is list else v for v in values)
            col = shared.get(values)
        if col is None:
            col = shared[values] = _compact_column(names, row[:relid_at] + row[relid_at + 1:])
        columns[row[relid_at]].append(col)
    return columns


class _Column(dict[str, Any]):
    """A column's row without its NULL fields (most of them, for most columns): such
    a field reads None, as in the row."""

    def __missing__(self, key: str) -> None:
        return None


def _compact_column(names: tuple[str, ...], values: tuple[Any, ...]) -> Row:
    """The column's row without its NULLs."""
    return _Column((k, v) for k, v in zip(names, values, strict=True) if v is not None)


def _parent_names(tables: SpilledRows) -> dict[int, Row]:
    """The schema and name of each table that is another's parent, by oid."""
    names: dict[int, tuple[str, str]] = {}
    parents: set[int] = set()
    for oid, schema, name, its_parents in tables.columns("oid", "schema", "name", "parents"):
        names[oid] = (schema, name)
        parents.update(its_parents or ())
    return {oid: {"schema": names[oid][0], "name": names[oid][1]}
            for oid in parents if oid in names}


def _merge_column_extras(ctx: CatalogContext, columns: dict[int, list[Row]]) -> None:
    """Add identity sequences and compression methods (rare, so queried apart)."""
    extras = ctx.query("tables_identity")
    if ctx.server_version >= 140000:
        extras += ctx.query("tables_compression")
    _merge_extras(columns, extras)


def _merge_extras(columns: dict[int, list[Row]], extras: list[Row]) -> None:
    for extra in extras:
        cols = columns.get(extra["relid"], [])
        for at, col in enumerate(cols):
            if col["name"] == extra["column_name"]:  # a copy: columns may be shared
                cols[at] = _Column({**col, **{k: v for k, v in extra.items()
                                              if k not in ("relid", "column_name")}})


def qualified(row: Row) -> str:
    return ident(row["schema"], row["name"])


class _TableBuilder:
    """Everything one table contributes to the TOC: its shape (tableshape.py), shared
    with the tables alike, with its own name, oids, CHECK constraints and size."""

    def __init__(self, ctx: CatalogContext, table: Row, shapes: Shapes,
                 checks: list[Row]) -> None:
        self.ctx = ctx
        self.t = table
        self.oid: int = table["oid"]
        self.qname = qualified(table)
        self.shapes = shapes
        self.parents: list[int] = list(table["parents"] or [])
        self.shape = shapes.of(table, shapes.columns.get(self.oid, []), self.parents)
        self.checks = checks
        self.needs_superuser = False

    def _check_def(self, chk: Row) -> str:
        return f"CONSTRAINT {ident(chk['name'])} {chk['definition']}"

    def _inline_checks(self, form: str) -> list[Row]:
        if form == "inherits":
            # Inherited ones come with INHERITS.
            return [c for c in self.checks if c["is_local"]]
        return list(self.checks)

    def _create_table(self, checks: list[Row]) -> str:
        t = self.t
        unlogged = "UNLOGGED " if t["persistence"] == "u" else ""
        items = self.shape.column_items + [self._check_def(c) for c in checks]
        head = f"CREATE {unlogged}TABLE {self.qname}"
        if t["of_type"]:
            head += f" OF {t['of_type']}"
        if items or not t["of_type"]:
            body = ",\n".join(f"    {i}" for i in items)
            head += f" (\n{body}\n)" if items else " (\n)"
        return head + self.shape.suffix + ";"

    def _inherit_statements(self) -> tuple[list[str], list[str]]:
        """ALTER TABLE ... INHERIT, and the binary-upgrade style catalog fix-ups.

        The fix-ups (UPDATE of pg_attribute/pg_constraint) need a superuser.
        """
        inherit = [f"ALTER TABLE ONLY {self.qname} INHERIT "
                   f"{qualified(self.shapes.parent_row(p))};" for p in self.parents]
        out: list[str] = []
        regclass = f"{literal(self.qname)}::pg_catalog.regclass"
        nonlocal_cols = [c["name"] for c in self.shape.cols if not c["is_local"]]
        if nonlocal_cols:
            names = ", ".join(literal(n) for n in nonlocal_cols)
            out.append(
                "UPDATE pg_catalog.pg_attribute SET attislocal = false"
                f" WHERE attrelid = {regclass} AND attname IN ({names});"
            )
        nonlocal_checks = [c["name"] for c in self.checks if not c["is_local"]]
        if nonlocal_checks:
            names = ", ".join(literal(n) for n in nonlocal_checks)
            out.append(
                "UPDATE pg_catalog.pg_constraint SET conislocal = false"
                f" WHERE conrelid = {regclass} AND conname IN ({names});"
            )
        if nonlocal_cols or nonlocal_checks:
            self.needs_superuser = True
        return inherit, out

    # -- entries ---------------------------------------------------------------------

    def entries(self) -> list[TocEntry]:
        t, shape, qname = self.t, self.shape, self.qname
        if t["of_type"] and self.parents:
            self.ctx.report_unsupported(
                "TABLE", t["schema"], t["name"],
                "a typed table (OF type) that also inherits is not supported")
            return []
        form = shape.form
        inline = self._inline_checks(form)
        statements = [self._create_table(inline)]
        inherit: list[str] = []
        fixups: list[str] = []
        if form == "inherit":
            inherit, fixups = self._inherit_statements()
            statements += inherit + fixups
        tail = shape.named(shape.tail, qname)
        create_sql = "\n".join([*statements, tail] if tail else statements)

        split_pre = split_post = None
        if any(c["uses_user_objects"] for c in inline):
            # A CHECK constraint may call a function that needs this table's row type:
            # then the table is created first and its constraints added afterwards
            # (and only then can it inherit: a child must have its parents' checks).
            split_pre = "\n".join([self._create_table([]), tail] if tail
                                   else [self._create_table([])])
            split_post = "\n".join(
                [f"ALTER TABLE {qname} ADD CONSTRAINT {ident(c['name'])} "
                 f"{c['definition']};" for c in inline] + inherit + fixups)

        objects: list[tuple[str, int]] = [("pg_class", self.oid)]
        if t["rowtype"]:
            objects.append(("pg_type", t["rowtype"]))
        if t["rowtype_array"]:
            objects.append(("pg_type", t["rowtype_array"]))
        objects += [("pg_constraint", c["oid"]) for c in inline]
        objects += shape.column_objects

        info: dict[str, Any] = {"relkind": t["relkind"], "parents": self.parents,
                                "form": form}
        if self.needs_superuser:
            info["needs_superuser"] = True
        if t["is_partition"]:
            info["is_partition"] = True

        entry = TocEntry(
            kind="TABLE",
            schema=t["schema"],
            name=t["name"],
            section=Section.PRE_DATA,
            create_sql=create_sql,
            drop_sql=f"DROP TABLE {qname};",
            owner=t["owner"],
            owner_sql=owner_sql("TABLE", qname, t["owner"]),
            acl_sql=shape.named(shape.acl, qname),
            comment_sql=self._comment_sql(),
            tablespace=t["tablespace"],
            objects=objects,
            split_pre_sql=split_pre,
            split_post_sql=split_post,
            info=info,
        )
        if split_pre is not None:
            entry.info["split_kind"] = "CHECK CONSTRAINT"
        out: list[TocEntry] = [entry]
        if t["is_partition"]:
            out.append(self._attach_entry())
        if shape.defaults:
            out += self._default_entries()
        if t["relkind"] == "r":
            out.append(self._data_entry())
        return out

    def _comment_sql(self) -> str:
        parts = [comment_sql("TABLE", self.qname, self.t["comment"])]
        parts += [self.shape.named(c, self.qname) for c in self.shape.column_comments]
        for chk in self.checks:
            if chk["comment"] is not None:
                parts.append(comment_sql("CONSTRAINT", f"{ident(chk['name'])} ON {self.qname}",
                                         chk["comment"]))
        return "\n".join(p for p in parts if p)

    def _attach_entry(self) -> TocEntry:
        parent_oid = self.parents[0]
        parent = qualified(self.shapes.parent_row(parent_oid))
        return TocEntry(
            kind="TABLE ATTACH",
            schema=self.t["schema"],
            name=self.t["name"],
            section=Section.PRE_DATA,
            create_sql=(f"ALTER TABLE ONLY {parent} ATTACH PARTITION {self.qname} "
                        f"{self.t['partition_bound']};"),
            owner=self.t["owner"],
            extra_deps=[("pg_class", parent_oid), ("pg_class", self.oid)],
            table_oid=self.oid,
            info={"parent_oid": parent_oid},
        )

    def _default_entries(self) -> list[TocEntry]:
        out: list[TocEntry] = []
        only = f"ALTER TABLE ONLY {self.qname}"
        for col, sets in self.shape.defaults:
            c = ident(col["name"])
            base = {
                "kind": "DEFAULT",
                "schema": self.t["schema"],
                "name": f"{self.t['name']} {col['name']}",
                "section": Section.PRE_DATA,
                "owner": self.t["owner"],
                "extra_deps": [("pg_class", self.oid)],
                "table_oid": self.oid,
                "info": {"column": col["name"]},
            }
            if sets:
                out.append(TocEntry(
                    create_sql=f"{only} ALTER COLUMN {c} SET DEFAULT {col['default_expr']};",
                    drop_sql=f"{only} ALTER COLUMN {c} DROP DEFAULT;",
                    objects=[("pg_attrdef", col["default_oid"])],
                    **base,
                ))
            else:
                out.append(TocEntry(create_sql=f"{only} ALTER COLUMN {c} DROP DEFAULT;", **base))
        return out

    def _data_entry(self) -> TocEntry:
        t = self.t
        return TocEntry(
            kind="TABLE DATA",
            schema=t["schema"],
            name=t["name"],
            section=Section.DATA,
            owner=t["owner"],
            extra_deps=[("pg_class", self.oid)],
            copy=CopySpec(t["schema"], t["name"], self.shape.copy_columns),
            relid=self.oid,
            table_oid=self.oid,
            est_bytes=int(t["est_bytes"] or 0),
            info={"est_rows": max(int(t["reltuples"]), 0)},
        )
