"""What a table's entries take from its columns, parents and table-level settings.

Every chunk of a hypertable has the same columns (one object for the columns alike,
see :func:`pystream_migrate.catalog.tables.columns_by_table`), parents, owner,
privileges and options; only its name, oids, CHECK constraints and size differ. A
:class:`TableShape` is what follows from the former: the inheritance form, the
column definitions, the per-column ALTERs, privileges and comments, the columns to
copy and which need a DEFAULT entry. Its SQL text has :data:`QNAME` where the
table's quoted name goes. :class:`Shapes` builds one for each kind of table it
meets and hands it out again for the tables alike: on 4000 chunks the tables
family's own work went from 0.25 to 0.14 s of the dump's main thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pystream_migrate.catalog.names import ident
from pystream_migrate.catalog.security import acl_sql, comment_sql

if TYPE_CHECKING:
    from pystream_migrate.catalog import CatalogContext

Row = dict[str, Any]

# Stands for the table's quoted name in a shape's SQL text: PostgreSQL's text cannot
# hold a NUL character, so no name, expression or comment has one.
QNAME = "\x00"

_STORAGE = {"p": "PLAIN", "e": "EXTERNAL", "m": "MAIN", "x": "EXTENDED"}
_COMPRESSION = {"p": "pglz", "l": "lz4"}
_REPLICA_IDENTITY = {"n": "NOTHING", "f": "FULL"}
# Shapes kept at once: the tables come sorted by name, so the chunks of a hypertable
# mostly come together; a database of tables all different clears the cache now and
# then rather than holding one shape per table.
SHAPES_KEPT = 256


@dataclass(frozen=True, slots=True)
class TableShape:
    """The parts of a table's entries that tables alike share (QNAME for its name)."""

    cols: list[Row]  # keeps alive the column objects whose ids make the shape's key
    form: str  # 'plain', 'partition', 'inherits' or 'inherit' (see Shapes.form)
    column_items: list[str]  # CREATE TABLE's column definitions
    suffix: str  # what follows CREATE TABLE's parentheses: INHERITS, PARTITION BY, ...
    tail: str  # REPLICA IDENTITY and the per-column ALTERs
    acl: str  # the table's and its columns' GRANTs and REVOKEs
    column_comments: list[str]  # COMMENT ON COLUMN/SEQUENCE, one per column
    copy_columns: list[str]  # the columns COPY reads (not the generated ones)
    column_objects: list[tuple[str, int]]  # generation expressions, identity sequences
    defaults: list[tuple[Row, bool]]  # columns with a DEFAULT entry: (column, sets it)

    def named(self, text: str, qname: str) -> str:
        """``text`` of this shape with the table's name in."""
        return text.replace(QNAME, qname) if text else text


class Shapes:
    """The shape of each table, built once for the tables alike."""

    def __init__(self, ctx: CatalogContext, columns: dict[int, list[Row]],
                 parent_names: dict[int, Row]) -> None:
        self.ctx = ctx
        self.columns = columns
        self.parent_names = parent_names  # parent oid -> its schema and name
        self._by_name: dict[int, dict[str, Row]] = {}  # parent oid -> name -> column
        self._kept: dict[tuple[Any, ...], TableShape] = {}

    def of(self, t: Row, cols: list[Row], parents: list[int]) -> TableShape:
        key = (tuple(map(id, cols)), tuple(parents), t["is_partition"], t["of_type"],
               t["persistence"], t["partition_key"], t["access_method"],
               tuple(t["options"] or ()), t["replica_identity"], t["owner"],
               tuple(t["acl"]) if t["acl"] is not None else None, t["relkind"])
        shape = self._kept.get(key)
        if shape is None:
            if len(self._kept) >= SHAPES_KEPT:
                self._kept.clear()
            shape = self._kept[key] = self._build(t, cols, parents)
        return shape

    def _build(self, t: Row, cols: list[Row], parents: list[int]) -> TableShape:
        form = self.form(t, cols, parents)
        return TableShape(
            cols=cols,
            form=form,
            column_items=self._column_items(t, cols, parents, form),
            suffix=self._suffix(t, parents, form),
            tail="\n".join(self._tail(t, cols, parents, form)),
            acl=self._acl(t, cols),
            column_comments=[c for c in self._column_comments(cols) if c],
            copy_columns=[c["name"] for c in cols if not c["generated"]],
            column_objects=_column_objects(cols),
            defaults=self._defaults(cols, parents, form),
        )

    # -- the decision between the two inheritance forms -------------------------------

    def form(self, t: Row, cols: list[Row], parents: list[int]) -> str:
        """'plain', 'partition', 'inherits' (pg_dump's form) or 'inherit' (ALTER ... INHERIT)."""
        if t["is_partition"]:
            return "partition"
        if not parents:
            return "plain"
        inherited = self._parent_column_names(parents)
        inherited_set = set(inherited)
        own = [c["name"] for c in cols if c["name"] not in inherited_set]
        actual = [c["name"] for c in cols]
        if actual != inherited + own:
            return "inherit"
        # In the INHERITS form a column that is not inherited must be local.
        if any(not c["is_local"] for c in cols if c["name"] not in inherited_set):
            return "inherit"
        return "inherits"

    def _parent_column_names(self, parents: list[int]) -> list[str]:
        names: list[str] = []
        seen: set[str] = set()
        for parent in parents:
            for col in self.columns.get(parent, []):
                if col["name"] not in seen:
                    seen.add(col["name"])
                    names.append(col["name"])
        return names

    def parent_columns(self, parents: list[int], name: str) -> list[Row]:
        out = []
        for parent in parents:
            by_name = self._by_name.get(parent)
            if by_name is None:
                by_name = {c["name"]: c for c in self.columns.get(parent, [])}
                self._by_name[parent] = by_name
            if name in by_name:
                out.append(by_name[name])
        return out

    def parent_row(self, oid: int) -> Row:
        """A parent's schema and name; one outside the tables read (e.g. owned by an
        extension) is looked up."""
        row = self.parent_names.get(oid)
        if row is None:
            rows = self.ctx.query("tables_relation_name", {"oid": oid})
            row = self.parent_names[oid] = {"schema": rows[0]["schema"],
                                            "name": rows[0]["name"]}
        return row

    # -- CREATE TABLE ----------------------------------------------------------------

    def _column_items(self, t: Row, cols: list[Row], parents: list[int],
                      form: str) -> list[str]:
        if t["of_type"]:
            return [f"{ident(c['name'])} WITH OPTIONS NOT NULL" for c in cols if c["notnull"]]
        return [self._column_def(t, c, parents, form) for c in cols
                if form != "inherits" or c["is_local"]]

    def _column_def(self, t: Row, col: Row, parents: list[int], form: str) -> str:
        parts = [ident(col["name"]), " ", col["type"]]
        if col["collation"]:
            parts.append(f" COLLATE {col['collation']}")
        inherited_generation = (form == "inherits" and col["inhcount"] > 0
                                and self._inherits_generation(col, parents))
        if col["generated"] and not inherited_generation:
            parts.append(f" GENERATED ALWAYS AS ({col['default_expr']}) STORED")
        if col["identity"] and not self._identity_comes_from_parent(t, col, parents):
            parts.append(_identity_clause(col))
        if col["notnull"]:
            parts.append(" NOT NULL")
        return "".join(parts)

    def _inherits_generation(self, col: Row, parents: list[int]) -> bool:
        """Whether INHERITS gives this column its generation expression.

        Only a generated parent column gives one: a child of a plain column writes its
        own. Before PostgreSQL 16 an inheriting column may not even repeat its parent's;
        from 16 on it may have its own, which is then written out.
        """
        generated = [p for p in self.parent_columns(parents, col["name"]) if p["generated"]]
        if self.ctx.server_version < 160000:
            return bool(generated)
        return any(p["default_expr"] == col["default_expr"] for p in generated)

    def _identity_comes_from_parent(self, t: Row, col: Row, parents: list[int]) -> bool:
        # PostgreSQL 17: a partition shares its partitioned parent's identity.
        return bool(t["is_partition"] and col["inhcount"] > 0
                    and any(p["identity"] for p in self.parent_columns(parents, col["name"])))

    def _suffix(self, t: Row, parents: list[int], form: str) -> str:
        out = ""
        if form == "inherits":
            names = ", ".join(ident(p["schema"], p["name"])
                              for p in map(self.parent_row, parents))
            out += f"\nINHERITS ({names})"
        if t["partition_key"]:
            out += f"\nPARTITION BY {t['partition_key']}"
        if t["access_method"] and t["access_method"] != "heap":
            out += f"\nUSING {ident(t['access_method'])}"
        if t["options"]:
            out += f"\nWITH ({', '.join(t['options'])})"
        return out

    # -- after CREATE TABLE ----------------------------------------------------------

    def _tail(self, t: Row, cols: list[Row], parents: list[int], form: str) -> list[str]:
        """REPLICA IDENTITY, then per column: NOT NULL set on a child alone, statistics,
        storage, options, compression, an identity sequence's persistence."""
        only = f"ALTER TABLE ONLY {QNAME}"
        out: list[str] = []
        if t["replica_identity"] in _REPLICA_IDENTITY:
            out.append(f"{only} REPLICA IDENTITY {_REPLICA_IDENTITY[t['replica_identity']]};")
        for col in cols:
            if (form == "inherits" and not col["is_local"] and col["notnull"]
                    and not any(p["notnull"]
                                for p in self.parent_columns(parents, col["name"]))):
                # NOT NULL set on the child alone: INHERITS does not give it.
                out.append(f"{only} ALTER COLUMN {ident(col['name'])} SET NOT NULL;")
            out += column_settings(QNAME, col)
            if (col["seq_oid"] is not None and self.ctx.server_version >= 150000
                    and col["seq_persistence"] != t["persistence"]):
                logged = "UNLOGGED" if col["seq_persistence"] == "u" else "LOGGED"
                seq = ident(col["seq_schema"], col["seq_name"])
                out.append(f"ALTER SEQUENCE {seq} SET {logged};")
        return out

    def _acl(self, t: Row, cols: list[Row]) -> str:
        parts = [acl_sql("TABLE", QNAME, t["owner"], t["acl"])]
        for col in cols:
            if col["acl"] is not None:
                parts.append(acl_sql("TABLE", QNAME, t["owner"], col["acl"],
                                     column=col["name"]))
            if col["seq_oid"] is not None and col["seq_acl"] is not None:
                seq = ident(col["seq_schema"], col["seq_name"])
                parts.append(acl_sql("SEQUENCE", seq, t["owner"], col["seq_acl"]))
        return "\n".join(p for p in parts if p)

    def _column_comments(self, cols: list[Row]) -> list[str]:
        # The names are quoted only for a comment that exists.
        parts = []
        for col in cols:
            if col["comment"] is not None:
                parts.append(comment_sql("COLUMN", f"{QNAME}.{ident(col['name'])}",
                                         col["comment"]))
            if col["seq_oid"] is not None:
                seq = ident(col["seq_schema"], col["seq_name"])
                parts.append(comment_sql("SEQUENCE", seq, col["seq_comment"]))
        return parts

    def _defaults(self, cols: list[Row], parents: list[int],
                  form: str) -> list[tuple[Row, bool]]:
        out = []
        for col in cols:
            sets = col["default_oid"] is not None and not col["generated"]
            # CREATE TABLE ... INHERITS copies the parent's default; this one has none.
            drops = (not sets and form == "inherits" and col["default_oid"] is None
                     and col["inhcount"] > 0
                     and any(p["default_oid"] is not None and not p["generated"]
                             for p in self.parent_columns(parents, col["name"])))
            if sets or drops:
                out.append((col, sets))
        return out


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


def _identity_clause(col: Row) -> str:
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


def _column_objects(cols: list[Row]) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    for col in cols:
        if col["generated"] and col["default_oid"] is not None:
            out.append(("pg_attrdef", col["default_oid"]))
        if col["seq_oid"] is not None:
            out.append(("pg_class", col["seq_oid"]))
    return out
