"""An entry's ``info`` as a compact mapping, for a TOC of many entries.

A dict of a few keys takes ~200 bytes; a dump of 100 000 chunks holds 300 000 of
them (a chunk's relkind, oid, hypertable ...). :class:`TupleMapping` keeps one tuple
of keys, shared by every entry with the same keys, and a tuple of values: ~100-130
bytes. It is a full mutable mapping (the dump sets a few keys after reading the
catalog); a change copies the tuples. The compact entries of dump and restore keep the
two tuples themselves (compactentry.py); :class:`Info` holds them for rows kept long
(the dump's per-chunk ``relation_roles``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any


class TupleMapping(MutableMapping[str, Any]):
    """A mutable mapping held as a key tuple and a value tuple, attributes ``_keys`` and
    ``_values`` of :meth:`_holder` (itself for :class:`Info`; the restore's entry for
    its ``info`` view). A change copies the tuples."""

    __slots__ = ()

    def _holder(self) -> Any:
        return self

    def __getitem__(self, key: str) -> Any:
        of = self._holder()
        try:
            return of._values[of._keys.index(key)]
        except ValueError:
            raise KeyError(key) from None

    def __setitem__(self, key: str, value: Any) -> None:
        of = self._holder()
        try:
            at = of._keys.index(key)
        except ValueError:
            of._keys += (key,)
            of._values += (value,)
            return
        of._values = (*of._values[:at], value, *of._values[at + 1:])

    def __delitem__(self, key: str) -> None:
        of = self._holder()
        try:
            at = of._keys.index(key)
        except ValueError:
            raise KeyError(key) from None
        of._keys = of._keys[:at] + of._keys[at + 1:]
        of._values = of._values[:at] + of._values[at + 1:]

    def __iter__(self) -> Iterator[str]:
        return iter(self._holder()._keys)

    def __len__(self) -> int:
        return len(self._holder()._keys)

    def __contains__(self, key: object) -> bool:
        return key in self._holder()._keys

    def __repr__(self) -> str:
        return repr(dict(self))


class Info(TupleMapping):
    """The dump's compact ``info``: its own key and value tuples."""

    __slots__ = ("_keys", "_values")

    def __init__(self, keys: tuple[str, ...], values: tuple[Any, ...]) -> None:
        self._keys = keys
        self._values = values


def compactor() -> Any:
    """A function making an :class:`Info` of a mapping, sharing equal key tuples."""
    shared: dict[tuple[str, ...], tuple[str, ...]] = {}

    def compact(info: Mapping[str, Any]) -> Info:
        keys = tuple(info)
        return Info(shared.setdefault(keys, keys), tuple(info.values()))

    return compact
