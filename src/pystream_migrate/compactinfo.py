"""An entry's ``info`` as a compact mapping, for the restore's TOC of many entries.

A dict of a few keys takes ~200 bytes; a restore of 100 000 chunks reads 300 000 of
them (a chunk's relkind, oid, hypertable ...). :class:`Info` keeps one tuple of keys,
shared by every entry with the same keys, and a tuple of values: ~100-130 bytes. It is
a full mutable mapping (the restore sets a few keys, e.g. portable's ``no_freeze``);
a change copies the tuples.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any


class Info(MutableMapping[str, Any]):
    __slots__ = ("_keys", "_values")

    def __init__(self, keys: tuple[str, ...], values: tuple[Any, ...]) -> None:
        self._keys = keys
        self._values = values

    def __getitem__(self, key: str) -> Any:
        try:
            return self._values[self._keys.index(key)]
        except ValueError:
            raise KeyError(key) from None

    def __setitem__(self, key: str, value: Any) -> None:
        try:
            at = self._keys.index(key)
        except ValueError:
            self._keys += (key,)
            self._values += (value,)
            return
        self._values = (*self._values[:at], value, *self._values[at + 1:])

    def __delitem__(self, key: str) -> None:
        try:
            at = self._keys.index(key)
        except ValueError:
            raise KeyError(key) from None
        self._keys = self._keys[:at] + self._keys[at + 1:]
        self._values = self._values[:at] + self._values[at + 1:]

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def __repr__(self) -> str:
        return repr(dict(self))


def compactor() -> Any:
    """A function making an :class:`Info` of a mapping, sharing equal key tuples."""
    shared: dict[tuple[str, ...], tuple[str, ...]] = {}

    def compact(info: Mapping[str, Any]) -> Info:
        keys = tuple(info)
        return Info(shared.setdefault(keys, keys), tuple(info.values()))

    return compact
