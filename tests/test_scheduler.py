"""The restore scheduler on made-up items: no server, no threads."""

from __future__ import annotations

import pytest

from pystream_migrate.restore.scheduler import Item, Scheduler


def item(i: int, *, deps: tuple[int, ...] = (), after: tuple[int, ...] = (), size: int = 0,
         locks: tuple[int, ...] = (), group: str = "post", small: bool = False,
         restore_pass: int = 0, gated: bool = False) -> Item:
    return Item(i, frozenset(deps), frozenset(after), size, frozenset(locks), group, small,
                restore_pass, gated)


def ids(batch: list[Item]) -> list[int]:
    return [i.id for i in batch]


def run_serially(s: Scheduler, fail: set[int] = frozenset()) -> list[int]:  # type: ignore[assignment]
    """Take and finish one batch at a time; the order items ran in."""
    order: list[int] = []
    while not s.done:
        batch = s.take()
        assert batch, "nothing to run but not done"
        for it in batch:
            order.append(it.id)
            s.finish(it.id, ok=it.id not in fail)
    return order


def test_dependencies_first_then_largest_first() -> None:
    s = Scheduler([item(1, size=10), item(2, size=30), item(3, size=20, deps=(1,)),
                   item(4, size=99, deps=(3,))])
    assert run_serially(s) == [2, 1, 3, 4]


def test_items_that_lock_the_same_table_never_run_together() -> None:
    s = Scheduler([item(1, size=3, locks=(7,)), item(2, size=2, locks=(7,)),
                   item(3, size=1, locks=(8,))])
    assert ids(s.take()) == [1]
    assert ids(s.take()) == [3]  # 2 waits for table 7
    assert s.take() == []
    s.finish(1, ok=True)
    assert ids(s.take()) == [2]


def test_an_index_build_locks_nothing_so_it_runs_beside_the_tables_other_items() -> None:
    # A foreign key on table 7 runs; an index on table 7 (no locks) still starts.
    s = Scheduler([item(1, size=5, locks=(7, 8)), item(2, size=4)])
    assert ids(s.take()) == [1]
    assert ids(s.take()) == [2]


def test_small_items_of_one_group_share_a_batch_up_to_the_limits() -> None:
    items = [item(i, size=10, small=True) for i in range(1, 8)]
    items += [item(20, size=10, small=True, group="data"), item(30, size=10**9)]
    s = Scheduler(items, batch_entries=3)
    assert ids(s.take()) == [30]  # large: alone, and first
    assert ids(s.take()) == [1, 2, 3]
    assert ids(s.take()) == [4, 5, 6]
    assert ids(s.take()) == [7]  # 20 is of another group
    assert ids(s.take()) == [20]
    s2 = Scheduler([item(i, size=60, small=True) for i in range(1, 5)], batch_bytes=100)
    assert ids(s2.take()) == [1, 2]  # 120 bytes: the batch is full


def test_data_items_on_one_table_do_not_share_a_batch() -> None:
    s = Scheduler([item(1, size=2, locks=(7,), group="data", small=True),
                   item(2, size=1, locks=(7,), group="data", small=True)])
    assert ids(s.take()) == [1]


def test_a_failure_skips_its_dependents_and_nothing_else() -> None:
    s = Scheduler([
        item(1, size=50),  # fails
        item(2, deps=(1,)),  # skipped
        item(3, deps=(2,)),  # skipped, transitively
        item(4, after=(1,)),  # waits for 1 only to finish: runs
        item(5, size=10),  # independent: runs
    ])
    order = run_serially(s, fail={1})
    assert order == [1, 5, 4]
    assert s.failed == {1}
    assert s.skipped == {2: 1, 3: 1}
    assert s.done and s.not_run() == []


def test_what_failed_before_the_scheduler_skips_its_dependents() -> None:
    s = Scheduler([item(1, deps=(100,)), item(2, deps=(1,)), item(3, deps=(101,))],
                  failed_before={100})
    assert s.skipped == {1: 100, 2: 100}
    assert run_serially(s) == [3]  # 101 is not an item and did not fail: satisfied


def test_a_later_pass_starts_when_the_earlier_one_is_finished() -> None:
    s = Scheduler([item(1, size=5), item(2, size=1), item(3, size=100, restore_pass=1),
                   item(4, size=1000, after=(3,))])  # pass 1 too, through what it waits for
    assert s.passes == {1: 0, 2: 0, 3: 1, 4: 1}
    assert ids(s.take()) == [1]
    assert ids(s.take()) == [2]
    assert s.take() == []
    s.finish(1, ok=False)  # a failure in pass 0 does not hold pass 1 back
    assert s.take() == []
    s.finish(2, ok=True)
    assert ids(s.take()) == [3]


def test_a_gated_item_waits_for_its_data() -> None:
    s = Scheduler([item(1, gated=True, group="data"), item(2, deps=(1,))])
    assert s.take() == []
    s.open(1)
    assert ids(s.take()) == [1]


def test_stop_hands_out_nothing_more() -> None:
    s = Scheduler([item(1, size=2), item(2, size=1)])
    assert ids(s.take()) == [1]
    s.stop()
    assert s.take() == [] and not s.done
    s.finish(1, ok=False)
    assert s.done and s.not_run() == [2]


def test_batchable_can_be_decided_when_taken() -> None:
    complete = {1}
    s = Scheduler([item(1, size=2, group="data"), item(2, size=1, group="data")],
                  batchable=lambda it: it.id in complete)
    assert ids(s.take()) == [1]  # 2 is not complete: not batched with it


def test_many_items_schedule_quickly() -> None:
    items = [item(i, size=i % 97, locks=(i % 50,), small=True, deps=(i - 1,) if i % 3 else ())
             for i in range(1, 20001)]
    s = Scheduler(items)
    assert len(run_serially(s)) == 20000


def test_a_failure_outside_the_scheduler_skips_what_needs_it_unless_taken() -> None:
    s = Scheduler([item(1, size=2), item(2, deps=(50,)), item(3, deps=(2,)),
                   item(4, deps=(50,))])
    assert ids(s.take()) == [1]
    assert ids(s.take()) == [2]
    s.fail_outside(50)
    assert s.skipped == {4: 50}  # 2 already runs
    s.finish(1, ok=True)
    s.finish(2, ok=True)
    assert run_serially(s) == [3]


def test_group_limits_set_each_groups_batch_size() -> None:
    items = [item(i, size=10, small=True, group="data") for i in range(1, 6)]
    items += [item(i, size=10, small=True) for i in range(11, 16)]
    s = Scheduler(items, batch_entries=2, group_limits={"data": (4, 1000)})
    batches = [ids(s.take()) for _ in range(5)]
    assert [1, 2, 3, 4] in batches and [11, 12] in batches


def test_a_partial_batch_of_a_patient_group_waits_while_other_work_is_ready() -> None:
    items = [item(-i, size=50, small=True, group="analyze") for i in range(1, 3)]
    items += [item(10, size=1, small=True, group="data")]
    s = Scheduler(items, patient=frozenset({"analyze"}), group_limits={"analyze": (4, 1000)})
    assert ids(s.take()) == [10]  # smaller, but the two ANALYZE items wait for company
    assert ids(s.take()) == [-2, -1]  # nothing else to do: they go as they are
    full = Scheduler([item(-i, size=50, small=True, group="analyze") for i in range(1, 5)]
                     + [item(10, size=1, small=True, group="data")],
                     patient=frozenset({"analyze"}), group_limits={"analyze": (4, 1000)})
    assert ids(full.take()) == [-4, -3, -2, -1]  # a full batch goes first, largest first


def test_the_bookkeeping_per_item_stays_small_at_many_items() -> None:
    # A restore of 100 000 chunks has 300 000 items (data, index, ANALYZE per chunk). The
    # per-item state is kept in arrays: ~145 B per item traced at the peak of building
    # and running them here; a dict or set entry per item and state took ~430 B.
    import tracemalloc

    n = 6000
    items = [Item(c + 1, (), size=100, locks=(c,), group="data") for c in range(n)]
    items += [Item(n + c + 1, (c + 1,), size=100, group="post") for c in range(n)]
    items += [Item(-(c + 1), (c + 1,), after=(n + c + 1,), size=100, locks=(c,),
                   group="analyze") for c in range(n)]
    tracemalloc.start()
    try:
        s = Scheduler(items)
        assert len(run_serially(s)) == 3 * n
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak / len(items) < 220


def test_an_item_keeps_what_it_was_made_with() -> None:
    a = Item(-7, (1, 2), (3,), 10, (5,), "analyze", True, 3, True)
    assert (a.id, a.deps, a.after, a.size, a.locks) == (-7, (1, 2), (3,), 10, (5,))
    assert (a.group, a.batchable, a.restore_pass, a.gated) == ("analyze", True, 3, True)
    b = Item(8, group="a group of its own")
    assert (b.group, b.batchable, b.restore_pass, b.gated) == ("a group of its own", False,
                                                               0, False)
    assert a == Item(-7, (1, 2), (3,), 10, (5,), "analyze", True, 3, True) != b
    assert len({a, b, Item(8, group="a group of its own")}) == 2
    with pytest.raises(AttributeError):
        a.size = 1  # type: ignore[misc]
