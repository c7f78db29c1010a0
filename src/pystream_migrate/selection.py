"""Choosing entries with -n/-N (schemas) and -t/-T (tables), as pg_dump and pg_restore do.

Patterns follow psql's rules: unquoted letters fold to lower case, ``*`` matches any
text and ``?`` one character, double quotes keep text literally, and an unquoted dot
separates schema from name. A table pattern selects the table with everything that
belongs to it: its data, indexes, constraints, triggers, and for a hypertable its
chunks. TimescaleDB's catalog travels as a whole, so a selection must take every
hypertable or none; a selection that splits them is refused, since the restored
catalog would name tables that are not there.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from pystream_migrate.errors import UsageError
from pystream_migrate.toc import Section, TocEntry

RELATION_KINDS = frozenset({"TABLE", "VIEW", "MATERIALIZED VIEW", "SEQUENCE", "FOREIGN TABLE"})


def _part_regex(part: str) -> str:
    out, quoted, i = [], False, 0
    while i < len(part):
        ch = part[i]
        if ch == '"':
            if quoted and i + 1 < len(part) and part[i + 1] == '"':
                out.append('"')
                i += 2
                continue
            quoted = not quoted
        elif quoted:
            out.append(re.escape(ch))
        elif ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        else:
            out.append(re.escape(ch.lower()))
        i += 1
    return "".join(out)


def _split_dot(pattern: str) -> list[str]:
    parts: list[str] = []
    cur: list[str] = []
    quoted = False
    for ch in pattern:
        if ch == '"':
            quoted = not quoted
        if ch == "." and not quoted:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return parts


@dataclass(frozen=True)
class Pattern:
    schema: re.Pattern[str] | None
    name: re.Pattern[str]

    @classmethod
    def parse(cls, text: str, *, schema_only: bool = False) -> Pattern:
        parts = _split_dot(text)
        if schema_only:
            if len(parts) != 1:
                raise UsageError(f"schema pattern {text!r} has a dot; give a schema name")
            return cls(None, re.compile(_part_regex(parts[0]) + r"\Z"))
        if len(parts) > 2:
            raise UsageError(f"table pattern {text!r} has too many dots; use schema.table")
        schema = re.compile(_part_regex(parts[0]) + r"\Z") if len(parts) == 2 else None
        return cls(schema, re.compile(_part_regex(parts[-1]) + r"\Z"))

    def matches(self, schema: str | None, name: str) -> bool:
        if self.schema is not None and not self.schema.match(schema or ""):
            return False
        return self.name.match(name) is not None


@dataclass
class Selection:
    schemas: list[str] = field(default_factory=list)
    exclude_schemas: list[str] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)
    exclude_tables: list[str] = field(default_factory=list)

    @property
    def active(self) -> bool:
        return bool(self.schemas or self.exclude_schemas or self.tables or self.exclude_tables)


def _any(patterns: Iterable[Pattern], schema: str | None, name: str) -> bool:
    return any(p.matches(schema, name) for p in patterns)


def _relation_oid(e: TocEntry) -> int | None:
    if e.kind not in RELATION_KINDS | {"TABLE DATA"}:
        return None
    if e.info.get("oid") is not None:
        return int(e.info["oid"])
    return e.relid


def select_entries(entries: list[TocEntry], sel: Selection) -> list[TocEntry]:
    """The entries a selection keeps, in their original order."""
    if not sel.active:
        return entries
    inc_s = [Pattern.parse(p, schema_only=True) for p in sel.schemas]
    exc_s = [Pattern.parse(p, schema_only=True) for p in sel.exclude_schemas]
    inc_t = [Pattern.parse(p) for p in sel.tables]
    exc_t = [Pattern.parse(p) for p in sel.exclude_tables]

    def schema_ok(schema: str | None) -> bool:
        if inc_s and not _any(inc_s, None, schema or ""):
            return False
        return not _any(exc_s, None, schema or "")

    # Chunks belong to their hypertable: resolve every relation to its owner.
    owner_of: dict[int, int] = {}
    relations: dict[int, TocEntry] = {}
    for e in entries:
        oid = _relation_oid(e)
        if oid is None or e.kind not in RELATION_KINDS:
            continue
        relations[oid] = e
        ht = e.info.get("hypertable_relid")
        if e.chunk and ht is not None:
            owner_of[oid] = int(ht)

    def top(oid: int) -> int:
        return owner_of.get(oid, oid)

    def relation_selected(oid: int) -> bool:
        e = relations.get(top(oid))
        if e is None:
            return False
        if not schema_ok(e.schema):
            return False
        if inc_t and not _any(inc_t, e.schema, e.name):
            return False
        return not _any(exc_t, e.schema, e.name)

    hypertables = [oid for oid, e in relations.items() if e.info.get("hypertable")]
    chosen_ht = [oid for oid in hypertables if relation_selected(oid)]
    if chosen_ht and len(chosen_ht) != len(hypertables):
        names = ", ".join(sorted(f"{relations[o].schema}.{relations[o].name}"
                                 for o in set(hypertables) - set(chosen_ht)))
        raise UsageError(
            f"the selection takes some hypertables but not {names}",
            hint="TimescaleDB's catalog moves as a whole: select every hypertable or none",
        )

    # The schemas of the selected relations come along, so that they can be created.
    needed_schemas = {r.schema for oid, r in relations.items()
                      if not r.chunk and relation_selected(oid)}
    kept: list[TocEntry] = []
    for e in entries:
        if e.extconfig:
            keep = bool(chosen_ht) or not hypertables
        elif e.kind in ("EXTENSION",):
            keep = not (inc_s or inc_t)
        else:
            owner = e.table_oid
            oid = _relation_oid(e)
            if owner is not None:
                keep = relation_selected(int(owner))
            elif oid is not None:
                keep = relation_selected(oid)
            elif e.kind == "SEQUENCE SET" or (e.kind == "SEQUENCE OWNED BY"):
                seq = next((r for r in relations.values() if r.kind == "SEQUENCE"
                            and r.schema == e.schema and r.name == e.name), None)
                keep = seq is not None and relation_selected(int(seq.info["oid"]))
            elif e.kind == "SCHEMA":
                keep = e.name in needed_schemas or (not inc_t and schema_ok(e.name))
            elif inc_t:
                keep = False  # like pg_dump -t: only the tables and what belongs to them
            else:
                keep = schema_ok(e.schema) if e.schema is not None else not inc_s
        if keep:
            kept.append(e)
    return kept


def selection_from_args(args: object) -> Selection:
    """The -n/-N/-t/-T options of a parsed command line."""
    return Selection(
        schemas=list(getattr(args, "schema", None) or []),
        exclude_schemas=list(getattr(args, "exclude_schema", None) or []),
        tables=list(getattr(args, "table", None) or []),
        exclude_tables=list(getattr(args, "exclude_table", None) or []),
    )


def data_excluded(e: TocEntry, patterns: list[str]) -> bool:
    """--exclude-table-data: the table's definition stays, its rows do not."""
    if not patterns or e.section is not Section.DATA or e.copy is None:
        return False
    return _any((Pattern.parse(p) for p in patterns), e.copy.schema, e.copy.table)
