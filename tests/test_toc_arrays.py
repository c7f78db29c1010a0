"""The TOC's bookkeeping in arrays (issue #16): who owns what, the needs of each entry,
the dependency graph. Checked against plain-container versions of the same rules."""

from __future__ import annotations

import heapq
import random

import pytest

from pystream_migrate import toc
from pystream_migrate.catalog.compact import Keeper
from pystream_migrate.toc import (
    RARE_FIELDS,
    SECTION_RANK,
    Owners,
    Section,
    TocEntry,
    _lift_sections,
    resolve_dependencies,
    sort_entries,
)

KINDS = ["SCHEMA", "TYPE", "FUNCTION", "TABLE", "VIEW", "TABLE DATA", "INDEX", "TRIGGER",
         "UNKNOWN KIND"]
SECTIONS = [Section.PRE_DATA, Section.DATA, Section.POST_DATA]


def made(kind: str, name: str, objects: list[tuple[str, int]],
         extra: list[tuple[str, int]] | None = None) -> TocEntry:
    return TocEntry(kind=kind, schema="s", name=name, section=Section.PRE_DATA,
                    objects=objects, extra_deps=extra or [])


def test_the_first_entry_added_owns_an_object_whatever_its_position() -> None:
    owners = Owners()
    owners.add(made("TABLE", "late", [("pg_class", 7), ("pg_type", 8)]), 5)
    owners.add(made("TABLE", "early", [("pg_class", 7), ("pg_class", 9)]), 1)
    assert owners.get("pg_class", 7) == 5
    assert owners.get("pg_type", 8) == 5 and owners.get("pg_class", 9) == 1
    assert owners.get("pg_class", 8) is None and owners.get("pg_proc", 7) is None
    # Added after a lookup: sorted again, and the first owner still wins.
    owners.add(made("TABLE", "again", [("pg_class", 7), ("pg_class", 3)]), 0)
    owners.add(made("INDEX", "big", [("pg_class", 0xFFFFFFFF), ("pg_class", 0)]), 2)
    assert owners.get("pg_class", 7) == 5 and owners.get("pg_class", 3) == 0
    assert owners.get("pg_class", 0xFFFFFFFF) == 2 and owners.get("pg_class", 0) == 2


def test_the_keeper_drops_extra_deps_at_once_and_resolve_still_maps_them() -> None:
    keeper = Keeper()
    table = keeper(made("TABLE", "t", [("pg_class", 10)]))
    data = keeper(made("TABLE DATA", "t", [], [("pg_class", 10), ("pg_class", 999)]))
    index = keeper(made("INDEX", "i", [("pg_class", 11)], [("pg_proc", 601)]))
    entries = [table, data, index]
    assert all(not e.extra_deps and not e.objects for e in entries)
    resolve_dependencies(entries, [("pg_class", 11, "pg_class", 10)],
                         aliases={("pg_proc", 601): ("pg_class", 10)}, owners=keeper.owners)
    assert [tuple(e.deps) for e in entries] == [(), (0,), (0,)]
    keeper.spool.close()


def _random_entries(rng: random.Random, n: int) -> tuple[list[TocEntry], list[tuple[
        str, int, str, int]]]:
    """Entries whose pg_depend rows point backwards (no cycle), with duplicates,
    self-references and unknown objects."""
    entries: list[TocEntry] = []
    rows: list[tuple[str, int, str, int]] = []
    for pos in range(n):
        objects = [("pg_class", 1000 + pos)]
        extra = [("pg_class", 1000 + rng.randrange(pos))] if pos and rng.random() < 0.3 else []
        e = TocEntry(kind=rng.choice(KINDS), schema=rng.choice(["a", "b", None]),
                     name=f"n{rng.randrange(n // 3 + 1)}", section=rng.choice(SECTIONS),
                     objects=objects, extra_deps=extra)
        entries.append(e)
        for _ in range(rng.randrange(4)):
            ref = rng.randrange(pos + 1) if rng.random() < 0.9 else n + 5000
            rows.append(("pg_class", 1000 + pos, "pg_class", 1000 + ref))
    rng.shuffle(rows)
    # Shuffled, so that positions and dependencies do not follow each other.
    order = list(range(n))
    rng.shuffle(order)
    moved = {1000 + old: 1000 + new for new, old in enumerate(order)}
    shuffled = [entries[old] for old in order]
    for e in shuffled:
        e.objects = [("pg_class", moved[o]) for _, o in e.objects]
        e.extra_deps = [("pg_class", moved[o]) for _, o in e.extra_deps]
    rows = [(c, moved.get(o, o), rc, moved.get(ro, ro)) for c, o, rc, ro in rows]
    return shuffled, rows


def _plain_resolve(entries: list[TocEntry], rows: list[tuple[str, int, str, int]]
                   ) -> list[tuple[int, ...]]:
    """The rules of resolve_dependencies with a dict and sets."""
    owner: dict[tuple[str, int], int] = {}
    for pos, e in enumerate(entries):
        for obj in e.objects:
            owner.setdefault(obj, pos)
    deps: list[set[int]] = [set() for _ in entries]
    for cat, oid, refcat, refoid in rows:
        a, b = owner.get((cat, oid)), owner.get((refcat, refoid))
        if a is not None and b is not None and a != b:
            deps[a].add(b)
    for pos, e in enumerate(entries):
        for ref in e.extra_deps:
            b = owner.get(ref)
            if b is not None and b != pos:
                deps[pos].add(b)
    return [tuple(sorted(d)) for d in deps]


def _plain_order(entries: list[TocEntry]) -> list[int]:
    """The rules of sort_entries (no cycle) with lists of lists and a tuple key."""
    dependents: list[list[int]] = [[] for _ in entries]
    indegree = [len(e.deps) for e in entries]
    for pos, e in enumerate(entries):
        for d in e.deps:
            dependents[d].append(pos)

    def key(p: int) -> tuple[int, int, str, str, int]:
        e = entries[p]
        return (SECTION_RANK[e.section], e.priority, e.schema or "", e.name, p)

    heap = [key(p) for p, n in enumerate(indegree) if n == 0]
    heapq.heapify(heap)
    order = []
    while heap:
        p = heapq.heappop(heap)[-1]
        order.append(p)
        for nxt in dependents[p]:
            indegree[nxt] -= 1
            if indegree[nxt] == 0:
                heapq.heappush(heap, key(nxt))
    return sorted(order, key=lambda p: SECTION_RANK[entries[p].section])


@pytest.mark.parametrize("dict_objects", [toc.DICT_OBJECTS, 0])  # a dict; the buckets
def test_resolve_and_sort_match_their_plain_versions(
        dict_objects: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(toc, "DICT_OBJECTS", dict_objects)
    for n in (0, 1, 2, 17, 40, 3000):
        entries, rows = _random_entries(random.Random(n), n)
        plain, _ = _random_entries(random.Random(n), n)
        for at, e in enumerate(entries):
            e.info["at"] = at
        expected_deps = _plain_resolve(plain, rows)
        resolve_dependencies(entries, rows)
        assert [tuple(e.deps) for e in entries] == expected_deps
        for e, deps in zip(plain, expected_deps, strict=True):
            e.deps = deps
        _lift_sections(plain)
        expected = _plain_order(plain)
        out = sort_entries(entries)
        assert [e.info["at"] for e in out] == expected
        assert [e.section for e in out] == [plain[p].section for p in expected]
        new_id = {p: i for i, p in enumerate(expected, 1)}
        assert [e.deps for e in out] == [tuple(sorted(new_id[d] for d in plain[p].deps))
                                         for p in expected]
        assert [e.id for e in out] == list(range(1, n + 1))


def test_deps_share_the_int_objects_of_the_ids() -> None:
    entries = [made("TABLE", f"t{i}", [("pg_class", 1000 + i)]) for i in range(600)]
    resolve_dependencies(entries, [("pg_class", 1000 + i, "pg_class", 1000 + i - 1)
                                   for i in range(1, 600)])
    out = sort_entries(entries)
    assert all(e.deps[0] is out[e.id - 2].id for e in out[1:])


def test_deps_alike_are_one_tuple() -> None:
    # Every chunk needs the schema and the hypertable; each data entry needs its table.
    entries = [made("SCHEMA", "s", [("pg_namespace", 1)]),
               made("TABLE", "hyper", [("pg_class", 2)])]
    rows = []
    for i in range(3):
        entries += [made("TABLE", f"c{i}", [("pg_class", 10 + i)]),
                    made("TABLE DATA", f"c{i}", [("data", 10 + i)]),
                    made("INDEX", f"c{i}_i", [("pg_class", 20 + i)])]
        rows += [("pg_class", 10 + i, "pg_namespace", 1), ("pg_class", 10 + i, "pg_class", 2),
                 ("data", 10 + i, "pg_class", 10 + i), ("pg_class", 20 + i, "pg_class", 10 + i)]
    resolve_dependencies(entries, rows)
    out = sort_entries(entries)
    chunks = [e for e in out if e.name.startswith("c") and e.kind == "TABLE"]
    assert len({id(e.deps) for e in chunks}) == 1 and len(chunks[0].deps) == 2
    for c in chunks:
        data, index = (e for e in out if c.id in e.deps)
        assert data.deps is index.deps


def test_rare_fields_take_no_slot_until_set() -> None:
    plain = TocEntry(kind="TABLE", schema="s", name="t", section=Section.PRE_DATA)
    assert plain._rare is None and not set(RARE_FIELDS) & set(TocEntry.__slots__)
    assert [getattr(plain, f) for f in RARE_FIELDS] == list(RARE_FIELDS.values())
    e = TocEntry(kind="FK CONSTRAINT", schema="s", name="fk", section=Section.POST_DATA,
                 tablespace="fast", ref_table_oids=(5, 6), fk_order=2)
    assert (e.tablespace, e.ref_table_oids, e.fk_order, e.after_data) == ("fast", (5, 6), 2,
                                                                          False)
    e.after_data = True
    e.tablespace = None
    assert e._rare == {"ref_table_oids": (5, 6), "fk_order": 2, "after_data": True}
    again = TocEntry.from_json(e.to_json())
    assert again.typed_info() == e.typed_info() == {
        "ref_table_oids": [5, 6], "fk_order": 2, "after_data": True}
    for name in RARE_FIELDS:
        setattr(e, name, RARE_FIELDS[name])
    assert e._rare is None and TocEntry.from_json(e.to_json()).to_json() == e.to_json()
