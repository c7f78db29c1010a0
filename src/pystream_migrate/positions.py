"""Id -> position for many ids that are mostly ranges of consecutive numbers.

A restore of 100 000 chunks has 300 000 scheduler items and 100 000 entries in the
footer's index; their ids are entry ids (and, for ANALYZE items, their negatives), a
few ranges of consecutive numbers. An array over the ids' range takes 4 bytes per id
where a dict takes ~70 with its int keys. Sparse ids get a dict.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence


class Positions:
    """Id -> position in a list of ids (the first, for an id given twice)."""

    def __init__(self, ids: Sequence[int]) -> None:
        self._lo = min(ids, default=0)
        span = max(ids, default=-1) - self._lo + 1
        self._dict: dict[int, int] | None = None
        self._array = array("i")
        if span > 4 * len(ids) + 64:
            self._dict = {}
            for pos, an_id in enumerate(ids):
                self._dict.setdefault(an_id, pos)
            self._len = len(self._dict)
            return
        self._array = array("i", [-1]) * span
        self._len = 0
        for pos, an_id in enumerate(ids):
            if self._array[an_id - self._lo] < 0:
                self._array[an_id - self._lo] = pos
                self._len += 1

    def __len__(self) -> int:
        return self._len

    def get(self, an_id: int) -> int | None:
        if self._dict is not None:
            return self._dict.get(an_id)
        at = an_id - self._lo
        if 0 <= at < len(self._array):
            pos = self._array[at]
            return pos if pos >= 0 else None
        return None

    def __contains__(self, an_id: object) -> bool:
        return type(an_id) is int and self.get(an_id) is not None

    def __getitem__(self, an_id: int) -> int:
        pos = self.get(an_id)
        if pos is None:
            raise KeyError(an_id)
        return pos
