"""The TOC as the archive reader indexes it: entries by id, compact for ids 1..n."""

from __future__ import annotations

from typing import Any

import pytest

from pystream_migrate.archive.byid import ById
from pystream_migrate.archive.contents import TocIndex
from pystream_migrate.archive.format import FormatViolation


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
