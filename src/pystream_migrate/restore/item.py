"""One unit of the restore scheduler's work: an entry's data or post-data, or an ANALYZE.

A restore of 100 000 chunks has 300 000 items. An :class:`Item` keeps its id, its
collections and its size in slots, and its group, pass and two flags packed in one
small int shared by the items alike: 80 bytes where a frozen dataclass of nine fields
took 104.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

_GROUPS: list[str] = []  # group code -> name
_GROUP_CODE: dict[str, int] = {}
_BITS: dict[int, int] = {}  # one int object per packed value
_BATCHABLE, _GATED, _PASS_SHIFT, _GROUP_SHIFT = 1, 2, 2, 20


class Item:
    """Immutable once made (as a frozen dataclass: equal and hashed by its fields)."""

    __slots__ = ("_bits", "after", "deps", "id", "locks", "size")
    id: int
    # Small collections (a tuple of one id takes a quarter of a frozenset's memory).
    deps: Collection[int]  # must have succeeded; a failure skips this item
    after: Collection[int]  # must have finished, whatever the outcome
    size: int  # bytes; largest first, and counts toward a batch's size
    locks: Collection[int]  # tables: items sharing one never run together
    _bits: int

    def __init__(self, id: int, deps: Collection[int] = (),
                 after: Collection[int] = (), size: int = 0, locks: Collection[int] = (),
                 group: str = "", batchable: bool = False, restore_pass: int = 0,
                 gated: bool = False) -> None:
        if not 0 <= restore_pass < 1 << (_GROUP_SHIFT - _PASS_SHIFT):
            raise ValueError(f"restore pass {restore_pass} out of range")
        code = _GROUP_CODE.get(group)
        if code is None:
            code = _GROUP_CODE[group] = len(_GROUPS)
            _GROUPS.append(group)
        bits = (code << _GROUP_SHIFT | restore_pass << _PASS_SHIFT
                | (_BATCHABLE if batchable else 0) | (_GATED if gated else 0))
        for name, value in (("id", id), ("deps", deps), ("after", after), ("size", size),
                            ("locks", locks), ("_bits", _BITS.setdefault(bits, bits))):
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"an Item is immutable (cannot set {name})")

    @property
    def group(self) -> str:  # only items of the same group share a batch
        return _GROUPS[self._bits >> _GROUP_SHIFT]

    @property
    def batchable(self) -> bool:  # small: may share a batch
        return bool(self._bits & _BATCHABLE)

    @property
    def restore_pass(self) -> int:  # starts once every item of a lower pass is finished
        return (self._bits >> _PASS_SHIFT) & ((1 << (_GROUP_SHIFT - _PASS_SHIFT)) - 1)

    @property
    def gated(self) -> bool:  # not ready until Scheduler.open() (its data is not here yet)
        return bool(self._bits & _GATED)

    def _fields(self) -> tuple[Any, ...]:
        return (self.id, self.deps, self.after, self.size, self.locks, self.group,
                self.batchable, self.restore_pass, self.gated)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Item) and self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        return (f"Item(id={self.id!r}, deps={self.deps!r}, after={self.after!r}, "
                f"size={self.size!r}, locks={self.locks!r}, group={self.group!r}, "
                f"batchable={self.batchable!r}, restore_pass={self.restore_pass!r}, "
                f"gated={self.gated!r})")
