"""TOC entries by id, for a TOC whose ids are 1..n in order (as every dump writes them).

A dict from id to entry costs ~45 bytes per entry with its int keys; a restore of
100 000 chunks reads 300 000 entries. :class:`ById` keeps the entries' list and the
first id while the ids come consecutively, and a dict only from the first id that does
not (older or hand-made archives: any distinct integers are valid ids).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any


class ById(Mapping[int, Any]):
    """Entry id -> entry, in the order added; :attr:`entries` is that order."""

    def __init__(self) -> None:
        self.entries: list[Any] = []
        self._first = 0
        self._dict: dict[int, Any] | None = None  # once an id is not the next one

    def add(self, entry_id: int, entry: Any) -> bool:
        """Add ``entry`` under ``entry_id``; False (and nothing added) if the id is there."""
        n = len(self.entries)
        if self._dict is None:
            if n == 0:
                self._first = entry_id
            if entry_id == self._first + n:
                self.entries.append(entry)
                return True
            if entry_id in self:
                return False
            self._dict = {self._first + i: e for i, e in enumerate(self.entries)}
        if entry_id in self._dict:
            return False
        self._dict[entry_id] = entry
        self.entries.append(entry)
        return True

    def first_id(self) -> int | None:
        """The first id while the ids are consecutive (the position of id ``i`` is then
        ``i - first_id()``); None once they are not."""
        return self._first if self._dict is None else None

    def __getitem__(self, entry_id: int) -> Any:
        if self._dict is not None:
            return self._dict[entry_id]
        at = entry_id - self._first
        if type(entry_id) is int and 0 <= at < len(self.entries):
            return self.entries[at]
        raise KeyError(entry_id)

    def __contains__(self, entry_id: object) -> bool:
        if self._dict is not None:
            return entry_id in self._dict
        return type(entry_id) is int and 0 <= entry_id - self._first < len(self.entries)

    def __iter__(self) -> Iterator[int]:
        if self._dict is not None:
            return iter(self._dict)
        return iter(range(self._first, self._first + len(self.entries)))

    def __len__(self) -> int:
        return len(self.entries)
