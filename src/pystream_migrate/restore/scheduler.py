"""Which restore items may run next: dependencies, passes, lock conflicts, largest first.

Pure bookkeeping with no database and no threads (the caller holds a lock around it),
so it can be tested with made-up items. The design is pg_restore's parallel restore
(pg_backup_archiver.c), written afresh:

- an item is ready once every item in its ``deps`` has succeeded and every item in its
  ``after`` has finished (either way); if a dep fails or is skipped, the item is
  skipped, and so are its own dependents;
- items run in restore passes: an item of pass 1 starts only once every item of pass 0
  is finished, instead of depending on each of them (no fan-in edges); an item's pass
  is at least that of everything it waits for;
- two items that lock the same table never run together; lock sets are given once per
  item (an index build locks nothing here: CREATE INDEX takes a SHARE lock, which
  other index builds on the table do not conflict with);
- among ready items the largest goes first (a post-data item weighs its table's data),
  so that the long tail starts early;
- small items (``batchable``) of one ``group`` share a batch, up to a count and a size
  (``group_limits`` per group).
"""

from __future__ import annotations

import heapq
from array import array
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from itertools import chain

from pystream_migrate.positions import Positions
from pystream_migrate.restore.item import Item

__all__ = ["Item", "Scheduler"]

# Bits of Scheduler._flags, one byte per item.
_QUEUED, _GATE_OPEN, _TAKEN, _OK = 1, 2, 4, 8


# A ready item in a heap: one int that orders as (-size, id) does (ids within 32 bits),
# instead of a tuple of two (~60 B less per ready item; 200 000 at 100 000 chunks).
_ID_BIAS = 1 << 31


def _key(item: Item) -> int:
    return (-item.size << 32) | (item.id + _ID_BIAS)


def _id_of(key: int) -> int:
    return (key & 0xFFFFFFFF) - _ID_BIAS


@dataclass
class Scheduler:
    items: Iterable[Item]
    # Ids (items or not) that failed or were skipped already: their dependents are skipped.
    failed_before: Collection[int] = ()
    batch_entries: int = 16
    batch_bytes: int = 16 * 1024 * 1024
    # Per group, (entries, bytes) instead of batch_entries and batch_bytes.
    group_limits: dict[str, tuple[int, int]] = field(default_factory=dict)
    # Groups whose partial batches wait while other items are ready (see take()).
    patient: frozenset[str] = frozenset()
    # Overrides Item.batchable when given (stream items become batchable once complete).
    batchable: Callable[[Item], bool] | None = None
    failed: set[int] = field(default_factory=set, init=False)
    # Skipped item id -> the failed item that caused it.
    skipped: dict[int, int] = field(default_factory=dict, init=False)
    # The same, in the order they were skipped (for callers that report as they go).
    skip_log: list[tuple[int, int]] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        # Per-item state lives in arrays indexed by the item's position (a restore of
        # 100 000 chunks has 300 000 items: a dict or set entry per item and per state
        # costs ~1 kB per chunk, these arrays ~40 B per item in all).
        self._items: list[Item] = list(self.items)
        self._pos = Positions([item.id for item in self._items])  # item id -> position
        if len(self._pos) < len(self._items):  # an id given twice: the last one counts
            last = {item.id: item for item in self._items}
            self._items = [last[i] for i in dict.fromkeys(i.id for i in self._items)]
            self._pos = Positions([item.id for item in self._items])
        n = len(self._items)
        self._flags = bytearray(n)  # _QUEUED | _GATE_OPEN | _TAKEN | _OK
        self._waiting = array("i", bytes(4 * n))  # deps/after not finished yet
        self._dep_start, self._dep_list = self._dependents_csr()
        self._ready: dict[int, list[int]] = {}  # pass -> heap of _key(item)
        self._pass_left: dict[int, int] = {}  # pass -> items not finished
        self._running_locks: dict[int, int] = {}
        self._stopped = False
        self.running = 0
        self.outstanding = n
        self._pass = self._passes()
        for p in self._pass:
            self._pass_left[p] = self._pass_left.get(p, 0) + 1
        early = set(self.failed_before)
        if early:
            for pos in self._by_id_order():
                failed_deps = [d for d in self._items[pos].deps if d in early]
                if failed_deps:
                    self._skip(pos, min(failed_deps))
        for pos, item in enumerate(self._items):
            if item.id not in self.skipped and self._waiting[pos] == 0:
                self._make_ready(pos)

    def _waits(self, pos: int) -> set[int]:
        """Positions of the items that item ``pos`` waits for."""
        item = self._items[pos]
        found = (self._pos.get(d) for d in chain(item.deps, item.after))
        return {d for d in found if d is not None and d != pos}

    def _dependents_csr(self) -> tuple[array[int], array[int]]:
        """Who waits for each item, as one flat array: the dependents of position ``p``
        are ``list[start[p]:start[p + 1]]``, in item order. Fills ``_waiting``."""
        n = len(self._items)
        count = array("i", bytes(4 * (n + 1)))
        for pos in range(n):
            waits = self._waits(pos)
            self._waiting[pos] = len(waits)
            for d in waits:
                count[d + 1] += 1
        for p in range(n):
            count[p + 1] += count[p]
        fill = array("i", count)
        out = array("i", bytes(4 * count[n]))
        for pos in range(n):
            for d in self._waits(pos):
                out[fill[d]] = pos
                fill[d] += 1
        return count, out

    def _dependents(self, pos: int) -> array[int]:
        return self._dep_list[self._dep_start[pos]:self._dep_start[pos + 1]]

    def _by_id_order(self) -> list[int]:
        return sorted(range(len(self._items)), key=lambda p: self._items[p].id)

    def item(self, item_id: int) -> Item:
        """The item with ``item_id``."""
        return self._items[self._pos[item_id]]

    @property
    def by_id(self) -> dict[int, Item]:
        """Item id -> item (built on demand)."""
        return {i.id: i for i in self._items}

    @property
    def passes(self) -> dict[int, int]:
        """Item id -> its restore pass (built on demand)."""
        return {i.id: p for i, p in zip(self._items, self._pass, strict=True)}

    def _passes(self) -> array[int]:
        """Each item's pass: its own, or the highest of what it waits for."""
        n = len(self._items)
        out = array("i", [-1]) * n
        for start in range(n):
            stack = [start]
            while stack:
                i = stack[-1]
                if out[i] >= 0:
                    stack.pop()
                    continue
                waits = self._waits(i)
                todo = [d for d in waits if out[d] < 0]
                if todo:
                    if len(stack) > n:
                        raise ValueError(f"dependency cycle through item {self._items[i].id}")
                    stack.extend(todo)
                    continue
                out[i] = max([self._items[i].restore_pass] + [out[d] for d in waits])
                stack.pop()
        return out

    # ----------------------------------------------------------------- state changes
    def _make_ready(self, pos: int) -> None:
        item = self._items[pos]
        flags = self._flags[pos]
        if flags & _QUEUED or (item.gated and not flags & _GATE_OPEN):
            return
        self._flags[pos] = flags | _QUEUED
        heapq.heappush(self._ready.setdefault(self._pass[pos], []), _key(item))

    def open(self, item_id: int) -> None:
        """A gated item's data is here: it may run once its dependencies are done."""
        pos = self._pos.get(item_id)
        if pos is None or self._flags[pos] & _GATE_OPEN:
            return
        self._flags[pos] |= _GATE_OPEN
        if item_id not in self.skipped and self._waiting[pos] == 0:
            self._make_ready(pos)

    def fail_outside(self, other_id: int) -> None:
        """Something that is not an item failed: skip the items that need it, if not taken."""
        for pos in self._by_id_order():
            if other_id in self._items[pos].deps and not self._flags[pos] & _TAKEN:
                self._skip(pos, other_id)

    def stop(self) -> None:
        """Hand out nothing more (the first failure, with --exit-on-error)."""
        self._stopped = True

    def _skip(self, pos: int, cause: int) -> None:
        item_id = self._items[pos].id
        if item_id in self.skipped or item_id in self.failed:
            return
        self.skipped[item_id] = cause
        self.skip_log.append((item_id, cause))
        self._finished(pos, ok=False, cause=cause)

    def finish(self, item_id: int, ok: bool) -> None:
        """An item taken by :meth:`take` is done; a failure skips its dependents."""
        pos = self._pos[item_id]
        for lock in self._items[pos].locks:
            left = self._running_locks[lock] - 1
            if left:
                self._running_locks[lock] = left
            else:
                del self._running_locks[lock]
        self.running -= 1
        if not ok:
            self.failed.add(item_id)
        self._finished(pos, ok=ok, cause=item_id)

    def _finished(self, pos: int, *, ok: bool, cause: int) -> None:
        if ok:
            self._flags[pos] |= _OK
        item_id = self._items[pos].id
        self.outstanding -= 1
        self._pass_left[self._pass[pos]] -= 1
        for d in self._dependents(pos):
            if self._items[d].id in self.skipped:
                continue
            if not ok and item_id in self._items[d].deps:
                self._skip(d, cause)
                continue
            self._waiting[d] -= 1
            if self._waiting[d] == 0:
                self._make_ready(d)

    # ----------------------------------------------------------------- handing out
    @property
    def done(self) -> bool:
        """Nothing left to hand out or to wait for (after stop(): nothing running)."""
        return self.outstanding == 0 or (self._stopped and self.running == 0)

    def not_run(self) -> list[int]:
        """Items neither finished nor skipped (left over after stop())."""
        ended = self.failed | set(self.skipped)
        return sorted(i.id for i, f in zip(self._items, self._flags, strict=True)
                      if i.id not in ended and not f & _OK)

    def _current_pass(self) -> int | None:
        live = [p for p, n in self._pass_left.items() if n > 0]
        return min(live) if live else None

    def _can_batch(self, item: Item) -> bool:
        return self.batchable(item) if self.batchable is not None else item.batchable

    def take(self) -> list[Item]:
        """The next items to run together (one, or several small ones); [] if none now.

        A partial batch of a ``patient`` group waits while other items are ready: its
        items trickle in (an ANALYZE is ready once its table's indexes are), and a fuller
        batch later costs fewer round trips.
        """
        if self._stopped:
            return []
        current = self._current_pass()
        heap = self._ready.get(current) if current is not None else None
        if not heap:
            return []
        batch = self._build(heap, frozenset())
        if batch and batch[0].group in self.patient and self._partial(batch):
            for item in batch:
                heapq.heappush(heap, _key(item))
            batch = self._build(heap, self.patient) or self._build(heap, frozenset())
        for item in batch:
            self._flags[self._pos[item.id]] |= _TAKEN
            for lk in item.locks:
                self._running_locks[lk] = self._running_locks.get(lk, 0) + 1
        self.running += len(batch)
        return batch

    def _limits(self, group: str) -> tuple[int, int]:
        return self.group_limits.get(group, (self.batch_entries, self.batch_bytes))

    def _partial(self, batch: list[Item]) -> bool:
        entries, nbytes = self._limits(batch[0].group)
        return self._can_batch(batch[-1]) and len(batch) < entries and \
            sum(i.size for i in batch) < nbytes

    def _build(self, heap: list[int], skip: frozenset[str]) -> list[Item]:
        """Pop a batch off ``heap`` (items of ``skip`` groups left there), largest first."""
        batch: list[Item] = []
        held: list[int] = []
        taken_locks: set[int] = set()
        size = 0
        looked = 0  # candidates looked at for a batch: a few batches' worth at most
        max_entries, max_bytes = self.batch_entries, self.batch_bytes
        while heap and looked < 4 * max_entries:
            looked += 1 if batch else 0
            entry = heapq.heappop(heap)
            item_id = _id_of(entry)
            if item_id in self.skipped:
                continue  # skipped while it waited (fail_outside)
            item = self._items[self._pos[item_id]]
            if item.group in skip or any(lk in self._running_locks for lk in item.locks):
                held.append(entry)
                continue
            if batch:
                first = batch[0]
                if not self._can_batch(item) or item.group != first.group or (
                        not taken_locks.isdisjoint(item.locks) and item.group == "data"):
                    held.append(entry)
                    continue
            else:
                max_entries, max_bytes = self._limits(item.group)
            batch.append(item)
            taken_locks.update(item.locks)
            size += item.size
            if not self._can_batch(item) or len(batch) >= max_entries or size >= max_bytes:
                break
        for entry in held:
            heapq.heappush(heap, entry)
        return batch
