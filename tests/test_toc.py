"""Unit tests of the TOC ordering: dependencies, sections, priorities, cycle splitting."""

from __future__ import annotations

import pytest

from pystream_migrate.toc import (
    CopySpec,
    DependencyCycle,
    Section,
    TocEntry,
    resolve_dependencies,
    sort_entries,
)

PRE, DATA, POST = Section.PRE_DATA, Section.DATA, Section.POST_DATA


def entry(kind: str, name: str, section: Section = PRE, *, oid: int | None = None,
          catalog: str = "pg_class", schema: str | None = "s", **kw: object) -> TocEntry:
    objects = [(catalog, oid)] if oid is not None else []
    return TocEntry(kind=kind, schema=schema, name=name, section=section,
                    create_sql=f"-- {kind} {name}", objects=objects, **kw)  # type: ignore[arg-type]


def labels(entries: list[TocEntry]) -> list[str]:
    return [e.label for e in entries]


def by_label(entries: list[TocEntry]) -> dict[str, TocEntry]:
    return {e.label + ("" if "split_part" not in e.info else "#" + e.info["split_part"]): e
            for e in entries}


def test_dependencies_come_first_whatever_the_priority() -> None:
    # A schema normally sorts first, but this one depends on a function (pg_depend row).
    func = entry("FUNCTION", "f", oid=1, catalog="pg_proc")
    schema = entry("SCHEMA", "late", oid=2, catalog="pg_namespace", schema=None)
    table = entry("TABLE", "t", oid=3)
    entries = [table, schema, func]
    resolve_dependencies(entries, [("pg_namespace", 2, "pg_proc", 1),
                                   ("pg_class", 3, "pg_namespace", 2)])
    out = sort_entries(entries)
    assert labels(out) == ["FUNCTION s.f", "SCHEMA late", "TABLE s.t"]
    ids = {e.label: e.id for e in out}
    assert set(out[1].deps) == {ids["FUNCTION s.f"]}
    assert set(out[2].deps) == {ids["SCHEMA late"]}
    assert [e.id for e in out] == [1, 2, 3]


def test_sections_are_contiguous_and_in_order() -> None:
    entries = [
        entry("INDEX", "i", POST),
        entry("TABLE DATA", "t", DATA),
        entry("TABLE", "t"),
        entry("TRIGGER", "tr", POST),
        entry("SEQUENCE SET", "q", DATA),
        entry("SCHEMA", "s", schema=None),
    ]
    resolve_dependencies(entries, [])
    out = sort_entries(entries)
    assert [e.section for e in out] == [PRE, PRE, DATA, DATA, POST, POST]
    assert labels(out) == ["SCHEMA s", "TABLE s.t", "TABLE DATA s.t", "SEQUENCE SET s.q",
                           "INDEX s.i", "TRIGGER s.tr"]


def test_priority_then_schema_then_name_break_ties() -> None:
    entries = [
        entry("TABLE", "b", schema="a"),
        entry("TABLE", "a", schema="b"),
        entry("TABLE", "a", schema="a"),
        entry("FUNCTION", "z", schema="z"),
        entry("TYPE", "z", schema="z"),
        entry("EXTENSION", "x", schema=None),
    ]
    resolve_dependencies(entries, [])
    out = sort_entries(entries)
    assert labels(out) == ["EXTENSION x", "TYPE z.z", "FUNCTION z.z", "TABLE a.a",
                           "TABLE a.b", "TABLE b.a"]
    # Stable across runs: the same input in another order gives the same output.
    again = [entry(e.kind, e.name, schema=e.schema) for e in reversed(out)]
    resolve_dependencies(again, [])
    assert labels(sort_entries(again)) == labels(out)


def test_extra_deps_and_unknown_objects() -> None:
    a = entry("TABLE", "a", oid=10)
    b = entry("TABLE", "b", oid=11, extra_deps=[("pg_class", 10), ("pg_class", 999)])
    entries = [b, a]
    # Rows about objects no entry creates (built-ins) are ignored, as are self-references.
    resolve_dependencies(entries, [("pg_class", 11, "pg_type", 23),
                                   ("pg_class", 10, "pg_class", 10)])
    out = sort_entries(entries)
    assert labels(out) == ["TABLE s.a", "TABLE s.b"]
    assert set(out[1].deps) == {out[0].id}
    assert set(out[0].deps) == set()


def test_aliases_map_extension_members_onto_the_extension() -> None:
    ext = entry("EXTENSION", "citext", oid=500, catalog="pg_extension", schema=None)
    table = entry("TABLE", "t", oid=20)
    trigger = entry("TRIGGER", "tr", POST, oid=30, catalog="pg_trigger",
                    extra_deps=[("pg_proc", 601)])
    entries = [table, trigger, ext]
    # The table uses the extension's type 600; the trigger calls member function 601.
    rows = [("pg_class", 20, "pg_type", 600), ("pg_trigger", 30, "pg_class", 20)]
    aliases = {("pg_type", 600): ("pg_extension", 500), ("pg_proc", 601): ("pg_extension", 500)}
    resolve_dependencies(entries, rows, aliases=aliases)
    assert set(table.deps) == {2} and set(trigger.deps) == {0, 2}
    # Without the aliases the member rows lead nowhere.
    plain = [entry("TABLE", "t", oid=20), entry("EXTENSION", "citext", oid=500,
                                                 catalog="pg_extension", schema=None)]
    resolve_dependencies(plain, rows)
    assert set(plain[0].deps) == set()
    out = sort_entries(entries)
    assert labels(out) == ["EXTENSION citext", "TABLE s.t", "TRIGGER s.tr"]


def test_section_lifting_moves_a_needed_post_data_entry_into_pre_data() -> None:
    # A view that relies on a primary key (GROUP BY on the key) needs the key in pre-data.
    table = entry("TABLE", "t", oid=1)
    pkey = entry("CONSTRAINT", "t_pkey", POST, oid=2, catalog="pg_constraint")
    view = entry("VIEW", "v", oid=3)
    index = entry("INDEX", "other", POST, oid=4)
    data = entry("TABLE DATA", "t", DATA, extra_deps=[("pg_class", 1)])
    entries = [view, pkey, table, index, data]
    resolve_dependencies(entries, [("pg_constraint", 2, "pg_class", 1),
                                   ("pg_class", 3, "pg_constraint", 2),
                                   ("pg_class", 4, "pg_class", 1)])
    out = sort_entries(entries)
    assert pkey.section is PRE
    assert index.section is POST  # nothing in pre-data needs it
    assert labels(out) == ["TABLE s.t", "CONSTRAINT s.t_pkey", "VIEW s.v", "TABLE DATA s.t",
                           "INDEX s.other"]


def test_data_entries_never_move() -> None:
    # A post-data entry needed by a data entry stays in post-data (data is never lifted,
    # nor are entries lifted into data).
    table = entry("TABLE", "t", oid=1)
    data = entry("TABLE DATA", "t", DATA, oid=5, catalog="data", extra_deps=[("pg_class", 1)])
    refresh = entry("MATERIALIZED VIEW DATA", "mv", POST, extra_deps=[("data", 5)])
    entries = [refresh, data, table]
    resolve_dependencies(entries, [])
    out = sort_entries(entries)
    assert [e.section for e in out] == [PRE, DATA, POST]
    assert data.section is DATA and refresh.section is POST


def test_view_function_cycle_is_split_at_the_view() -> None:
    # v selects f(); f returns SETOF v (row type): a cycle pg_dump breaks with a dummy view.
    view = entry("VIEW", "v", oid=1, split_pre_sql="CREATE VIEW v AS SELECT NULL::int AS a;",
                 split_post_sql="CREATE OR REPLACE VIEW v AS SELECT * FROM f();",
                 info={"split_kind": "RULE"})
    func = entry("FUNCTION", "f", oid=2, catalog="pg_proc")
    table = entry("TABLE", "t", oid=3)
    other = entry("VIEW", "w", oid=4)  # depends on v
    entries = [func, view, table, other]
    resolve_dependencies(entries, [("pg_class", 1, "pg_proc", 2), ("pg_proc", 2, "pg_class", 1),
                                   ("pg_class", 1, "pg_class", 3), ("pg_class", 4, "pg_class", 1)])
    out = sort_entries(entries)
    labelled = by_label(out)
    pre, post, f = labelled["VIEW s.v#pre"], labelled["RULE s.v#post"], labelled["FUNCTION s.f"]
    assert pre.create_sql.startswith("CREATE VIEW v AS SELECT NULL")
    assert post.create_sql.startswith("CREATE OR REPLACE VIEW")
    assert pre.split_pre_sql is None and pre.split_post_sql is None
    position = {id(e): i for i, e in enumerate(out)}
    assert position[id(labelled["TABLE s.t"])] < position[id(pre)] < position[id(f)] \
        < position[id(post)]
    # The dummy keeps its non-cycle dependency; the second part waits for both.
    assert set(pre.deps) == {labelled["TABLE s.t"].id}
    assert {pre.id, f.id} <= set(post.deps)
    assert set(labelled["VIEW s.w"].deps) == {pre.id}
    # Every dependency points backwards in the final order.
    for e in out:
        assert all(d < e.id for d in e.deps), e.label


def test_cycle_prefers_splitting_a_view() -> None:
    table = entry("TABLE", "t", oid=1, split_pre_sql="CREATE TABLE t ();",
                  split_post_sql="ALTER TABLE t ADD CHECK (f());")
    view = entry("VIEW", "v", oid=2, split_pre_sql="CREATE VIEW v AS SELECT 1;",
                 split_post_sql="CREATE OR REPLACE VIEW v AS SELECT 2;")
    entries = [table, view]
    resolve_dependencies(entries, [("pg_class", 1, "pg_class", 2), ("pg_class", 2, "pg_class", 1)])
    out = sort_entries(entries)
    assert len(out) == 3
    assert [e.info.get("split_part") for e in out if e.name == "v"] == ["pre", "post"]
    assert table.create_sql == "-- TABLE t"  # untouched


def test_unbreakable_cycle_names_its_objects() -> None:
    a = entry("TABLE", "a", oid=1)
    b = entry("TYPE", "b", oid=2, catalog="pg_type")
    c = entry("FUNCTION", "c", oid=3, catalog="pg_proc")
    free = entry("SCHEMA", "s", oid=4, catalog="pg_namespace", schema=None)
    entries = [free, a, b, c]
    resolve_dependencies(entries, [("pg_class", 1, "pg_type", 2), ("pg_type", 2, "pg_proc", 3),
                                   ("pg_proc", 3, "pg_class", 1)])
    with pytest.raises(DependencyCycle) as info:
        sort_entries(entries)
    cycle = info.value.labels
    assert set(cycle) == {"TABLE s.a", "TYPE s.b", "FUNCTION s.c"}
    assert cycle[0] == cycle[-1] and len(cycle) == 4
    assert "SCHEMA s" not in str(info.value)
    assert "TABLE s.a" in str(info.value)


def test_json_round_trip_keeps_the_entry() -> None:
    e = entry("TABLE DATA", "t", DATA, copy=CopySpec("s", "t", ["a", "b"], "a > 1"),
              extconfig=True, fk_order=2, relid=7, est_bytes=100, copy_format="binary",
              info={"extension": "x"})
    resolve_dependencies([e], [])
    (out,) = sort_entries([e])
    doc = out.to_json()
    # The typed fields travel as "info" keys: the archive format did not change.
    assert doc["info"] == {"extension": "x", "extconfig": True, "fk_order": 2, "relid": 7,
                           "est_bytes": 100, "copy_format": "binary"}
    back = TocEntry.from_json(doc)
    assert back.to_json() == doc
    assert back.copy == CopySpec("s", "t", ["a", "b"], "a > 1")
    assert (back.extconfig, back.fk_order, back.relid, back.est_bytes, back.copy_format,
            back.info) == (True, 2, 7, 100, "binary", {"extension": "x"})
    assert back.table_oid is None and not back.ref_table_oids and not back.chunk
