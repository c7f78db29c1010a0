"""The TOC as the archive reader indexes it: entries by id, compact for ids 1..n."""

from __future__ import annotations

from typing import Any

import pytest

from pystream_migrate.archive.byid import ById
from pystream_migrate.archive.contents import TocIndex, check_built_entry, check_entry
from pystream_migrate.archive.format import FormatViolation
from pystream_migrate.toc import CopySpec, Section, TocEntry


def doc(i: int, *deps: int) -> dict[str, Any]:
    return {"id": i, "kind": "TABLE", "schema": "s", "name": f"t{i}",
            "section": "pre-data", "deps": list(deps)}


@pytest.mark.parametrize("ids", [[1, 2, 3, 4], [7, 8, 9], [4, 2, 9, 3], [1, 2, 5, 3]])
def test_entries_by_id_in_any_order(ids: list[int]) -> None:
    by_id = ById()
    for i in ids:
        assert by_id.add(i, f"e{i}")
    assert not by_id.add(ids[-1], "again") and not by_id.add(ids[0], "again")
    assert list(by_id) == ids and by_id.entries == [f"e{i}" for i in ids]
    assert dict(by_id) == {i: f"e{i}" for i in ids} and len(by_id) == len(ids)
    for missing in (0, 6, 10, -1):
        if missing not in ids:
            assert missing not in by_id and by_id.get(missing) is None
    assert "1" not in by_id
    consecutive = ids == list(range(ids[0], ids[0] + len(ids)))
    assert (by_id.first_id() is not None) == consecutive  # a repeated id changes nothing


@pytest.mark.parametrize("ids", [[1, 2, 3], [5, 3, 9]])
def test_a_cycle_is_found_whatever_the_ids(ids: list[int]) -> None:
    a, b, c = ids
    index = TocIndex()
    for d in (doc(a), doc(b, c), doc(c, b)):
        index.add(d)
    with pytest.raises(FormatViolation, match="cycle"):
        index.finish()
    index = TocIndex(keep=lambda d: d["name"])
    for d in (doc(a), doc(b, a), doc(c, b, 99)):  # 99: an entry left out of the dump
        index.add(d)
    assert index.finish() == {a: f"t{a}", b: f"t{b}", c: f"t{c}"}
    with pytest.raises(FormatViolation, match="more than once"):
        index.add(doc(b))


@pytest.mark.parametrize("order", [
    [(1,), (2, 1), (3, 2, 4), (4, 3)],  # 3 -> 4 points forward: the full check finds it
    [(1,), (3, 2), (2, 3)],  # ids not ascending
    [(1, 1)],  # an entry that needs itself
])
def test_a_cycle_is_found_past_the_backward_only_shortcut(
        order: list[tuple[int, ...]]) -> None:
    index = TocIndex()
    for i, *deps in order:
        index.add(doc(i, *deps))
    if order == [(1, 1)]:
        assert index.finish() == {1: doc(1, 1)}  # restore ignores a need of itself
        return
    with pytest.raises(FormatViolation, match="cycle"):
        index.finish()


def test_forward_dependencies_without_a_cycle_pass() -> None:
    index = TocIndex()
    for d in (doc(1, 3), doc(2, 1, 99), doc(3)):
        index.add(d)
    assert list(index.finish()) == [1, 2, 3]


def _nested(levels: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(levels):
        value = [value]
    return value


def _built() -> list[dict[str, Any]]:
    """Documents as the dump builds them (TocEntry.document): a table and its data."""
    table = TocEntry(kind="TABLE", schema="s", name="t", section=Section.PRE_DATA,
                     create_sql="CREATE TABLE s.t (a int);", owner="o",
                     info={"oid": 7, "parents": [1, 2]}, id=1)
    data = TocEntry(kind="TABLE DATA", schema="s", name="t", section=Section.DATA,
                    copy=CopySpec("s", "t", ["a"]), relid=7, est_bytes=8192, deps=[1],
                    info={"est_rows": 3}, id=2)
    return [table.to_json(), data.to_json()]


@pytest.mark.parametrize("change", [
    {"name": None}, {"kind": ""}, {"kind": 3}, {"schema": 5}, {"owner": ["o"]},
    {"tablespace": 1}, {"info": {"oid": "7"}}, {"info": {"chunk": 1}},
    {"info": {"est_bytes": -1}}, {"info": {"deep": _nested(40)}},
    {"copy": {"schema": "s", "table": "t", "columns": [1]}},
    {"copy": {"schema": "s", "table": "t"}}, {"copy": None, "kind": "TABLE DATA"},
    {"section": "pre-data"},
])
@pytest.mark.parametrize("which", [0, 1])
def test_the_built_check_refuses_what_the_full_check_refuses(
        change: dict[str, Any], which: int) -> None:
    """The writer checks the dump's own documents with check_built_entry: of what their
    builder takes from catalog rows, it must refuse whatever check_entry refuses."""
    for entry in _built():
        check_entry(entry)
        check_built_entry(entry)
    entry = {**_built()[which], **change}
    try:
        check_entry(entry)
    except FormatViolation as exc:
        with pytest.raises(FormatViolation) as built:
            check_built_entry(entry)
        assert str(built.value) == str(exc)
    else:
        check_built_entry(entry)
