"""collector.collector_held_back: the collector's settings while a dump or restore runs,
put back afterwards (tests and the demo call both in one process)."""

from __future__ import annotations

import gc

import pytest

from pystream_migrate.collector import THRESHOLDS, collector_held_back


def test_the_collector_is_held_back_inside_and_put_back_after() -> None:
    before = gc.get_threshold()
    assert before != THRESHOLDS
    with collector_held_back():
        assert gc.get_threshold() == THRESHOLDS
        assert gc.get_freeze_count() > 0  # the modules, out of the collector's sight
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
    with pytest.raises(RuntimeError), collector_held_back():
        raise RuntimeError("a failed dump")
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


def test_cycles_made_inside_are_still_collected() -> None:
    """Young collections still run: cyclic garbage does not pile up."""
    class Node:
        def __init__(self) -> None:
            self.other: Node | None = None

    with collector_held_back():
        for _ in range(200_000):
            a, b = Node(), Node()
            a.other, b.other = b, a
        alive = sum(1 for o in gc.get_objects() if type(o) is Node)
    assert alive < 2 * THRESHOLDS[0]
