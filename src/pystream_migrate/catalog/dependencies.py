"""pg_depend's rows (depend.sql), the largest catalog result, held compactly.

At 10 000 chunks pg_depend has ~100 000 rows that matter (ten per chunk), a million
at 100 000 chunks. The query packs them into a few hundred rows (the ids of a pair of
catalogs' dependencies as big-endian integers in one bytea, see depend.sql), and
:class:`Dependencies` turns those into four arrays on a helper's thread
(:mod:`.prefetch`): 18 bytes a dependency, and no Python object for each; they are
held until the very end of the catalog read, through the moment the families' rows
and entries fill the memory most.
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Iterable, Iterator
from typing import Any

from pystream_migrate.catalog.queries import each_row

Dependency = tuple[str, int, str, int]  # catalog, oid, referenced catalog, its oid


def _pairs(row: dict[str, Any]) -> array[int]:
    """A row's ``pairs``: (oid, referenced oid) after one another, as native integers."""
    values = array("q", bytes(row["pairs"]))
    if sys.byteorder == "little":  # the server sends them big-endian (int8send)
        values.byteswap()
    return values


class Dependencies:
    """The rows of depend.sql (an executed cursor, which it closes, or a stream), in arrays.

    Each row holds one pair of catalogs' dependencies, packed (see depend.sql); iterating
    gives every dependency, a pair of catalogs after another; the catalogs' names are a
    few dozen strings, kept once each.
    """

    def __init__(self, rows: Iterable[dict[str, Any]]) -> None:
        self._names: list[str] = []
        number: dict[str, int] = {}
        self._catalog = array("H")
        self._oid = array("q")
        self._ref_catalog = array("H")
        self._ref_oid = array("q")
        for row in each_row(rows):
            for name in (row["catalog"], row["ref_catalog"]):
                if name not in number:
                    number[name] = len(self._names)
                    self._names.append(name)
            pairs = _pairs(row)
            count = len(pairs) // 2
            self._catalog.extend(array("H", [number[row["catalog"]]]) * count)
            self._oid.extend(pairs[0::2])
            self._ref_catalog.extend(array("H", [number[row["ref_catalog"]]]) * count)
            self._ref_oid.extend(pairs[1::2])

    def __len__(self) -> int:
        return len(self._oid)

    def __iter__(self) -> Iterator[Dependency]:
        names = self._names
        for catalog, oid, ref_catalog, ref_oid in zip(
                self._catalog, self._oid, self._ref_catalog, self._ref_oid, strict=True):
            yield names[catalog], oid, names[ref_catalog], ref_oid

    def close(self) -> None:
        """Nothing to free (as a cursor's close, for :class:`.prefetch.Prefetch`)."""
