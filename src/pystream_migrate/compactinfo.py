"""An entry's ``info`` as a compact mapping, for a TOC of many entries.

A dict of a few keys takes ~200 bytes; a dump of 100 000 chunks holds 300 000 of
them (a chunk's relkind, oid, hypertable ...). :class:`TupleMapping` keeps one tuple
of keys, shared by every entry with the same keys, and a tuple of values: ~100-130
bytes. It is a full mutable mapping (the dump sets a few keys after reading the
catalog); a change copies the tuples. The compact entries of dump and restore
(compactentry.py) hold the two tuples; this is the view of them.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any

# Every key tuple made by adding or removing a key, once: annotate adds a key to each
# chunk's table and data entries (200 000 key tuples of ~70 bytes at 100 000 chunks,
# where there are a handful of distinct ones). Few: info keys come from a fixed set.
_KEYS: dict[tuple[str, ...], tuple[str, ...]] = {}


def shared_keys(keys: tuple[str, ...]) -> tuple[str, ...]:
    """The one copy of the key tuple ``keys``."""
    return _KEYS.setdefault(keys, keys)


class TupleMapping(MutableMapping[str, Any]):
    """A mutable mapping held as a key tuple and a value tuple, attributes ``_keys`` and
    ``_values`` of :meth:`_holder` (a compact entry, for its ``info`` view). A change
    copies the tuples."""

    __slots__ = ()

    def _holder(self) -> Any:
        raise NotImplementedError

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
            of._keys = shared_keys((*of._keys, key))
            of._values += (value,)
            return
        of._values = (*of._values[:at], value, *of._values[at + 1:])

    def __delitem__(self, key: str) -> None:
        of = self._holder()
        try:
            at = of._keys.index(key)
        except ValueError:
            raise KeyError(key) from None
        of._keys = shared_keys(of._keys[:at] + of._keys[at + 1:])
        of._values = of._values[:at] + of._values[at + 1:]

    def __iter__(self) -> Iterator[str]:
        return iter(self._holder()._keys)

    def __len__(self) -> int:
        return len(self._holder()._keys)

    def __contains__(self, key: object) -> bool:
        return key in self._holder()._keys

    def __repr__(self) -> str:
        return repr(dict(self))
