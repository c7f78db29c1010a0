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
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from itertools import chain


@dataclass(frozen=True, slots=True)
class Item:
    id: int
    # Small collections (a tuple of one id takes a quarter of a frozenset's memory: a
    # restore of 100 000 chunks has 300 000 items).
    deps: Collection[int] = ()  # must have succeeded; a failure skips this item
    after: Collection[int] = ()  # must have finished, whatever the outcome
    size: int = 0  # bytes; largest first, and counts toward a batch's size
    locks: Collection[int] = ()  # tables: items sharing one never run together
    group: str = ""  # only items of the same group share a batch
    batchable: bool = False  # small: may share a batch
    restore_pass: int = 0  # starts once every item of a lower pass is finished
    gated: bool = False  # not ready until open() is called (its data is not here yet)


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
        self.by_id: dict[int, Item] = {i.id: i for i in self.items}
        self._waiting: dict[int, int] = {}  # item -> number of deps/after not finished
        self._dependents: dict[int, list[int]] = {}
        self._gate_open: set[int] = set()
        self._queued: set[int] = set()
        self._ready: dict[int, list[tuple[int, int]]] = {}  # pass -> heap of (-size, id)
        self._pass_left: dict[int, int] = {}  # pass -> items not finished
        self._running_locks: dict[int, int] = {}
        self._stopped = False
        self._finished_ok: set[int] = set()
        self._taken: set[int] = set()
        self.running = 0
        self.outstanding = len(self.by_id)
        self.passes = self._passes()
        for item in self.by_id.values():
            p = self.passes[item.id]
            self._pass_left[p] = self._pass_left.get(p, 0) + 1
            waits = {d for d in chain(item.deps, item.after)
                     if d in self.by_id and d != item.id}
            self._waiting[item.id] = len(waits)
            for d in waits:
                self._dependents.setdefault(d, []).append(item.id)
        early = set(self.failed_before)
        for item in sorted(self.by_id.values(), key=lambda i: i.id):
            failed_deps = [d for d in item.deps if d in early]
            if failed_deps:
                self._skip(item.id, min(failed_deps))
        for item in self.by_id.values():
            if item.id not in self.skipped and self._waiting[item.id] == 0:
                self._make_ready(item.id)

    def _passes(self) -> dict[int, int]:
        """Each item's pass: its own, or the highest of what it waits for."""
        out: dict[int, int] = {}
        for start in self.by_id:
            stack = [start]
            while stack:
                i = stack[-1]
                if i in out:
                    stack.pop()
                    continue
                item = self.by_id[i]
                todo = [d for d in chain(item.deps, item.after)
                        if d in self.by_id and d not in out and d != i]
                if todo:
                    if len(stack) > len(self.by_id):
                        raise ValueError(f"dependency cycle through item {i}")
                    stack.extend(todo)
                    continue
                out[i] = max([item.restore_pass] + [out[d] for d in chain(item.deps, item.after)
                                                    if d in out])
                stack.pop()
        return out

    # ----------------------------------------------------------------- state changes
    def _make_ready(self, item_id: int) -> None:
        item = self.by_id[item_id]
        if item_id in self._queued or (item.gated and item_id not in self._gate_open):
            return
        self._queued.add(item_id)
        heapq.heappush(self._ready.setdefault(self.passes[item_id], []),
                       (-item.size, item_id))

    def open(self, item_id: int) -> None:
        """A gated item's data is here: it may run once its dependencies are done."""
        if item_id in self._gate_open or item_id not in self.by_id:
            return
        self._gate_open.add(item_id)
        if item_id not in self.skipped and self._waiting.get(item_id) == 0:
            self._make_ready(item_id)

    def fail_outside(self, other_id: int) -> None:
        """Something that is not an item failed: skip the items that need it, if not taken."""
        for item in sorted(self.by_id.values(), key=lambda i: i.id):
            if other_id in item.deps and item.id not in self._taken:
                self._skip(item.id, other_id)

    def stop(self) -> None:
        """Hand out nothing more (the first failure, with --exit-on-error)."""
        self._stopped = True

    def _skip(self, item_id: int, cause: int) -> None:
        if item_id in self.skipped or item_id in self.failed:
            return
        self.skipped[item_id] = cause
        self.skip_log.append((item_id, cause))
        self._finished(item_id, ok=False, cause=cause)

    def finish(self, item_id: int, ok: bool) -> None:
        """An item taken by :meth:`take` is done; a failure skips its dependents."""
        item = self.by_id[item_id]
        for lock in item.locks:
            left = self._running_locks[lock] - 1
            if left:
                self._running_locks[lock] = left
            else:
                del self._running_locks[lock]
        self.running -= 1
        if not ok:
            self.failed.add(item_id)
        self._finished(item_id, ok=ok, cause=item_id)

    def _finished(self, item_id: int, *, ok: bool, cause: int) -> None:
        if ok:
            self._finished_ok.add(item_id)
        self.outstanding -= 1
        self._pass_left[self.passes[item_id]] -= 1
        for d in self._dependents.get(item_id, []):
            if d in self.skipped:
                continue
            if not ok and item_id in self.by_id[d].deps:
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
        return sorted(i for i in self.by_id if i not in ended and i not in self._finished_ok)

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
                heapq.heappush(heap, (-item.size, item.id))
            batch = self._build(heap, self.patient) or self._build(heap, frozenset())
        for item in batch:
            self._taken.add(item.id)
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

    def _build(self, heap: list[tuple[int, int]], skip: frozenset[str]) -> list[Item]:
        """Pop a batch off ``heap`` (items of ``skip`` groups left there), largest first."""
        batch: list[Item] = []
        held: list[tuple[int, int]] = []
        taken_locks: set[int] = set()
        size = 0
        looked = 0  # candidates looked at for a batch: a few batches' worth at most
        max_entries, max_bytes = self.batch_entries, self.batch_bytes
        while heap and looked < 4 * max_entries:
            looked += 1 if batch else 0
            entry = heapq.heappop(heap)
            if entry[1] in self.skipped:
                continue  # skipped while it waited (fail_outside)
            item = self.by_id[entry[1]]
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
