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
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from pystream_migrate.catalog.names import ident, literal, share_strings
from pystream_migrate.catalog.queries import each_row
from pystream_migrate.catalog.security import acl_sql, comment_sql, owner_sql
from pystream_migrate.toc import CopySpec, Section, TocEntry

if TYPE_CHECKING:
    from pystream_migrate.catalog import CatalogContext

Row = dict[str, Any]

_STORAGE = {"p": "PLAIN", "e": "EXTERNAL", "m": "MAIN", "x": "EXTENDED"}
_COMPRESSION = {"p": "pglz", "l": "lz4"}
_REPLICA_IDENTITY = {"n": "NOTHING", "f": "FULL"}


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
        columns_by_name: dict[int, dict[str, Row]] = {}

        for table in tables:
            share_strings(table, "schema", "owner")
            oid = table["oid"]
            builder = _TableBuilder(ctx, table, columns, columns_by_name,
                                    table["checks"] or [], by_oid)
            yield from builder.entries()
            if oid not in by_oid:  # no table inherits its columns: done with them
                columns.pop(oid, None)


def columns_by_table(rows: Iterable[Row]) -> dict[int, list[Row]]:
    """tables_columns.sql's rows (a cursor, which it closes, or a stream), compact: by
    table, and one object for the columns alike (see :func:`_compact_column`)."""
    columns: dict[int, list[Row]] = defaultdict(list)
    shared: dict[tuple[Any, ...], Row] = {}
    for col in each_row(rows):
        columns[col.pop("relid")].append(_compact_column(col, shared))
    return columns


class _Column(dict[str, Any]):
    """A column's row without its NULL fields (most of them, for most columns): such
    a field reads None, as in the row."""

    def __missing__(self, key: str) -> None:
        return None


def _compact_column(row: Row, shared: dict[tuple[Any, ...], Row]) -> Row:
    """The row without its NULLs, and one object for the columns that are alike in
    every way (a column of each chunk of a hypertable): read only, never changed."""
    col = _Column((k, v) for k, v in row.items() if v is not None)
    key = tuple((k, tuple(v) if type(v) is list else v) for k, v in col.items())
    return shared.setdefault(key, col)


def _parent_names(tables: Iterable[Row]) -> dict[int, Row]:
    """The schema and name of each table that is another's parent, by oid."""
    names: dict[int, tuple[str, str]] = {}
    parents: set[int] = set()
    for t in tables:
        names[t["oid"]] = (t["schema"], t["name"])
        parents.update(t["parents"] or ())
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


def column_settings(qname: str, col: Row) -> list[str]:
    """A column's statistics target, storage, options and compression method.

    For tables and materialized views alike; ``col`` has the columns of
    tables_columns.sql of those names, and ``compression`` (None when the default).
    """
    only = f"ALTER TABLE ONLY {qname} ALTER COLUMN {ident(col['name'])}"
    out: list[str] = []
    if col["statistics"] is not None:
        out.append(f"{only} SET STATISTICS {col['statistics']};")
    if col["storage"]:
        out.append(f"{only} SET STORAGE {_STORAGE[col['storage']]};")
    if col["options"]:
        out.append(f"{only} SET ({', '.join(col['options'])});")
    if col.get("compression") in _COMPRESSION:
        out.append(f"{only} SET COMPRESSION {_COMPRESSION[col['compression']]};")
    return out


def qualified(row: Row) -> str:
    return ident(row["schema"], row["name"])


class _TableBuilder:
    """Everything one table contributes to the TOC."""

    def __init__(self, ctx: CatalogContext, table: Row, columns: dict[int, list[Row]],
                 columns_by_name: dict[int, dict[str, Row]], checks: list[Row],
                 by_oid: dict[int, Row]) -> None:
        self.ctx = ctx
        self.t = table
        self.oid: int = table["oid"]
        self.qname = qualified(table)
        self.cols = columns.get(self.oid, [])
        self.all_columns = columns
        self.columns_by_name = columns_by_name  # parent oid -> name -> column, shared
        self.checks = checks
        self.by_oid = by_oid
        self.parents: list[int] = list(table["parents"] or [])
        self.needs_superuser = False

    # -- the decision between the two inheritance forms -------------------------------

    def _parent_column_names(self) -> list[str]:
        names: list[str] = []
        seen: set[str] = set()
        for parent in self.parents:
            for col in self.all_columns.get(parent, []):
                if col["name"] not in seen:
                    seen.add(col["name"])
                    names.append(col["name"])
        return names

    def form(self) -> str:
        """'plain', 'partition', 'inherits' (pg_dump's form) or 'inherit' (ALTER ... INHERIT)."""
        if self.t["is_partition"]:
            return "partition"
        if not self.parents:
            return "plain"
        inherited = self._parent_column_names()
        inherited_set = set(inherited)
        own = [c["name"] for c in self.cols if c["name"] not in inherited_set]
        actual = [c["name"] for c in self.cols]
        if actual != inherited + own:
            return "inherit"
        # In the INHERITS form a column that is not inherited must be local.
        if any(not c["is_local"] for c in self.cols if c["name"] not in inherited_set):
            return "inherit"
        return "inherits"

    # -- pieces ----------------------------------------------------------------------

    def _parent_columns(self, name: str) -> list[Row]:
        out = []
        for parent in self.parents:
            by_name = self.columns_by_name.get(parent)
            if by_name is None:
                by_name = {c["name"]: c for c in self.all_columns.get(parent, [])}
                self.columns_by_name[parent] = by_name
            if name in by_name:
                out.append(by_name[name])
        return out

    def _identity_clause(self, col: Row) -> str:
        kind = "ALWAYS" if col["identity"] == "a" else "BY DEFAULT"
        if col["seq_oid"] is None:
            return f" GENERATED {kind} AS IDENTITY"
        opts = [
            f"SEQUENCE NAME {ident(col['seq_schema'], col['seq_name'])}",
            f"START WITH {col['seq_start']}",
            f"INCREMENT BY {col['seq_increment']}",
            f"MINVALUE {col['seq_min']}",
            f"MAXVALUE {col['seq_max']}",
            f"CACHE {col['seq_cache']}",
            "CYCLE" if col["seq_cycle"] else "NO CYCLE",
        ]
        return f" GENERATED {kind} AS IDENTITY ({' '.join(opts)})"

    def _column_def(self, col: Row, form: str) -> str:
        parts = [ident(col["name"]), " ", col["type"]]
        if col["collation"]:
            parts.append(f" COLLATE {col['collation']}")
        inherited_generation = (form == "inherits" and col["inhcount"] > 0
                                and self._inherits_generation(col))
        if col["generated"] and not inherited_generation:
            parts.append(f" GENERATED ALWAYS AS ({col['default_expr']}) STORED")
        if col["identity"] and not self._identity_comes_from_parent(col):
            parts.append(self._identity_clause(col))
        if col["notnull"]:
            parts.append(" NOT NULL")
        return "".join(parts)

    def _inherits_generation(self, col: Row) -> bool:
        """Whether INHERITS gives this column its generation expression.

        Only a generated parent column gives one: a child of a plain column writes its
        own. Before PostgreSQL 16 an inheriting column may not even repeat its parent's;
        from 16 on it may have its own, which is then written out.
        """
        generated = [p for p in self._parent_columns(col["name"]) if p["generated"]]
        if self.ctx.server_version < 160000:
            return bool(generated)
        return any(p["default_expr"] == col["default_expr"] for p in generated)

    def _identity_comes_from_parent(self, col: Row) -> bool:
        # PostgreSQL 17: a partition shares its partitioned parent's identity.
        return bool(self.t["is_partition"] and col["inhcount"] > 0
                    and any(p["identity"] for p in self._parent_columns(col["name"])))

    def _typed_column_def(self, col: Row) -> str | None:
        if col["notnull"]:
            return f"{ident(col['name'])} WITH OPTIONS NOT NULL"
        return None

    def _check_def(self, chk: Row) -> str:
        return f"CONSTRAINT {ident(chk['name'])} {chk['definition']}"

    def _inline_checks(self, form: str) -> list[Row]:
        if form == "inherits":
            # Inherited ones come with INHERITS.
            return [c for c in self.checks if c["is_local"]]
        return list(self.checks)

    def _create_table(self, form: str, checks: list[Row]) -> str:
        t = self.t
        unlogged = "UNLOGGED " if t["persistence"] == "u" else ""
        items: list[str] = []
        if t["of_type"]:
            items += [d for d in (self._typed_column_def(c) for c in self.cols) if d]
        else:
            for col in self.cols:
                if form == "inherits" and not col["is_local"]:
                    continue
                items.append(self._column_def(col, form))
        items += [self._check_def(c) for c in checks]
        head = f"CREATE {unlogged}TABLE {self.qname}"
        if t["of_type"]:
            head += f" OF {t['of_type']}"
        if items or not t["of_type"]:
            body = ",\n".join(f"    {i}" for i in items)
            head += f" (\n{body}\n)" if items else " (\n)"
        if form == "inherits":
            parents = ", ".join(qualified(self._parent_row(p)) for p in self.parents)
            head += f"\nINHERITS ({parents})"
        if t["partition_key"]:
            head += f"\nPARTITION BY {t['partition_key']}"
        if t["access_method"] and t["access_method"] != "heap":
            head += f"\nUSING {ident(t['access_method'])}"
        if t["options"]:
            head += f"\nWITH ({', '.join(t['options'])})"
        return head + ";"

    def _parent_row(self, oid: int) -> Row:
        row = self.by_oid.get(oid)
        if row is None:
            row = self._load_parent(oid)
        return row

    def _load_parent(self, oid: int) -> Row:
        # A parent outside the tables read (e.g. owned by an extension): name it.
        rows = self.ctx.query("tables_relation_name", {"oid": oid})
        row = {"schema": rows[0]["schema"], "name": rows[0]["name"]}
        self.by_oid[oid] = row
        return row

    def _inherit_statements(self) -> tuple[list[str], list[str]]:
        """ALTER TABLE ... INHERIT, and the binary-upgrade style catalog fix-ups.

        The fix-ups (UPDATE of pg_attribute/pg_constraint) need a superuser.
        """
        inherit = [f"ALTER TABLE ONLY {self.qname} INHERIT {qualified(self._parent_row(p))};"
                   for p in self.parents]
        out: list[str] = []
        regclass = f"{literal(self.qname)}::pg_catalog.regclass"
        nonlocal_cols = [c["name"] for c in self.cols if not c["is_local"]]
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

    def _column_alters(self, form: str) -> list[str]:
        out: list[str] = []
        only = f"ALTER TABLE ONLY {self.qname}"
        for col in self.cols:
            c = ident(col["name"])
            if (form == "inherits" and not col["is_local"] and col["notnull"]
                    and not any(p["notnull"] for p in self._parent_columns(col["name"]))):
                # NOT NULL set on the child alone: INHERITS does not give it.
                out.append(f"{only} ALTER COLUMN {c} SET NOT NULL;")
            out += column_settings(self.qname, col)
            if (col["seq_oid"] is not None and self.ctx.server_version >= 150000
                    and col["seq_persistence"] != self.t["persistence"]):
                logged = "UNLOGGED" if col["seq_persistence"] == "u" else "LOGGED"
                seq = ident(col["seq_schema"], col["seq_name"])
                out.append(f"ALTER SEQUENCE {seq} SET {logged};")
        return out

    # -- entries ---------------------------------------------------------------------

    def entries(self) -> list[TocEntry]:
        t = self.t
        if t["of_type"] and self.parents:
            self.ctx.report_unsupported(
                "TABLE", t["schema"], t["name"],
                "a typed table (OF type) that also inherits is not supported")
            return []
        form = self.form()
        inline = self._inline_checks(form)
        statements = [self._create_table(form, inline)]
        inherit: list[str] = []
        fixups: list[str] = []
        if form == "inherit":
            inherit, fixups = self._inherit_statements()
            statements += inherit + fixups
        tail: list[str] = []
        if t["replica_identity"] in _REPLICA_IDENTITY:
            tail.append(f"ALTER TABLE ONLY {self.qname} REPLICA IDENTITY "
                        f"{_REPLICA_IDENTITY[t['replica_identity']]};")
        tail += self._column_alters(form)
        create_sql = "\n".join(statements + tail)

        split_pre = split_post = None
        if any(c["uses_user_objects"] for c in inline):
            # A CHECK constraint may call a function that needs this table's row type:
            # then the table is created first and its constraints added afterwards
            # (and only then can it inherit: a child must have its parents' checks).
            split_pre = "\n".join([self._create_table(form, []), *tail])
            split_post = "\n".join(
                [f"ALTER TABLE {self.qname} ADD CONSTRAINT {ident(c['name'])} "
                 f"{c['definition']};" for c in inline] + inherit + fixups)

        objects: list[tuple[str, int]] = [("pg_class", self.oid)]
        if t["rowtype"]:
            objects.append(("pg_type", t["rowtype"]))
        if t["rowtype_array"]:
            objects.append(("pg_type", t["rowtype_array"]))
        objects += [("pg_constraint", c["oid"]) for c in inline]
        for col in self.cols:
            if col["generated"] and col["default_oid"] is not None:
                objects.append(("pg_attrdef", col["default_oid"]))
            if col["seq_oid"] is not None:
                objects.append(("pg_class", col["seq_oid"]))

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
            drop_sql=f"DROP TABLE {self.qname};",
            owner=t["owner"],
            owner_sql=owner_sql("TABLE", self.qname, t["owner"]),
            acl_sql=self._acl_sql(),
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
        out += self._default_entries(form)
        if t["relkind"] == "r":
            out.append(self._data_entry())
        return out

    def _acl_sql(self) -> str:
        t = self.t
        parts = [acl_sql("TABLE", self.qname, t["owner"], t["acl"])]
        for col in self.cols:
            if col["acl"] is not None:
                parts.append(acl_sql("TABLE", self.qname, t["owner"], col["acl"],
                                     column=col["name"]))
            if col["seq_oid"] is not None and col["seq_acl"] is not None:
                seq = ident(col["seq_schema"], col["seq_name"])
                parts.append(acl_sql("SEQUENCE", seq, t["owner"], col["seq_acl"]))
        return "\n".join(p for p in parts if p)

    def _comment_sql(self) -> str:
        # The names are quoted only for a comment that exists (once per column of
        # every chunk otherwise, for nothing).
        parts = [comment_sql("TABLE", self.qname, self.t["comment"])]
        for col in self.cols:
            if col["comment"] is not None:
                parts.append(comment_sql("COLUMN", f"{self.qname}.{ident(col['name'])}",
                                         col["comment"]))
            if col["seq_oid"] is not None:
                seq = ident(col["seq_schema"], col["seq_name"])
                parts.append(comment_sql("SEQUENCE", seq, col["seq_comment"]))
        for chk in self.checks:
            if chk["comment"] is not None:
                parts.append(comment_sql("CONSTRAINT", f"{ident(chk['name'])} ON {self.qname}",
                                         chk["comment"]))
        return "\n".join(p for p in parts if p)

    def _attach_entry(self) -> TocEntry:
        parent_oid = self.parents[0]
        parent = qualified(self._parent_row(parent_oid))
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

    def _default_entries(self, form: str) -> list[TocEntry]:
        out: list[TocEntry] = []
        only = f"ALTER TABLE ONLY {self.qname}"
        for col in self.cols:
            sets = col["default_oid"] is not None and not col["generated"]
            # CREATE TABLE ... INHERITS copies the parent's default; this one has none.
            drops = (not sets and form == "inherits" and col["default_oid"] is None
                     and col["inhcount"] > 0
                     and any(p["default_oid"] is not None and not p["generated"]
                             for p in self._parent_columns(col["name"])))
            if not (sets or drops):
                continue  # most columns: nothing to build
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
        columns = [c["name"] for c in self.cols if not c["generated"]]
        return TocEntry(
            kind="TABLE DATA",
            schema=t["schema"],
            name=t["name"],
            section=Section.DATA,
            owner=t["owner"],
            extra_deps=[("pg_class", self.oid)],
            copy=CopySpec(t["schema"], t["name"], columns),
            relid=self.oid,
            table_oid=self.oid,
            est_bytes=int(t["est_bytes"] or 0),
            info={"est_rows": max(int(t["reltuples"]), 0)},
        )
