"""pg_depend's rows (depend.sql), the largest catalog result, held compactly.

At 10 000 chunks pg_depend has ~100 000 rows that matter (ten per chunk), a million
at 100 000 chunks. The query packs them into a few hundred rows (the ids of a pair of
catalogs' dependencies as big-endian integers in one bytea, see depend.sql), and
:class:`Dependencies` turns those into two arrays on a helper's thread
(:mod:`.prefetch`): 16 bytes a dependency, and no Python object for each; they are
held until the very end of the catalog read, through the moment the families' rows
and entries fill the memory most.
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Iterator

from pystream_migrate.catalog.queries import Tuples, each_row
from pystream_migrate.toc import DependencyGroup

Dependency = tuple[str, int, str, int]  # catalog, oid, referenced catalog, its oid


def _pairs(packed: bytes) -> array[int]:
    """A row's ``pairs``: (oid, referenced oid) after one another, as native integers."""
    values = array("q", bytes(packed))
    if sys.byteorder == "little":  # the server sends them big-endian (int8send)
        values.byteswap()
    return values


class Dependencies:
    """The rows of depend.sql (:class:`~.queries.Tuples`, read to the end), in arrays.

    Each row holds one pair of catalogs' dependencies, packed (see depend.sql); iterating
    gives every dependency, a pair of catalogs after another; the catalogs' names are a
    few dozen strings, kept once each.
    """

    def __init__(self, rows: Tuples) -> None:
        self._names: list[str] = []
        number: dict[str, int] = {}
        self._oid = array("q")
        self._ref_oid = array("q")
        # Each row's dependencies: its catalogs' numbers and where they are in the arrays
        # (one pair of catalogs for the row: no catalog kept per dependency).
        self._runs: list[tuple[int, int, int, int]] = []
        if not rows.names:  # no dependency at all
            return
        at = {name: i for i, name in enumerate(rows.names)}
        catalog_at, ref_at, pairs_at = at["catalog"], at["ref_catalog"], at["pairs"]
        for row in each_row(rows.rows):
            catalog, ref_catalog = row[catalog_at], row[ref_at]
            for name in (catalog, ref_catalog):
                if name not in number:
                    number[name] = len(self._names)
                    self._names.append(name)
            pairs = _pairs(row[pairs_at])
            count = len(pairs) // 2
            start = len(self._oid)
            self._runs.append((number[catalog], number[ref_catalog], start, start + count))
            self._oid.extend(pairs[0::2])
            self._ref_oid.extend(pairs[1::2])

    def __len__(self) -> int:
        return len(self._oid)

    def __iter__(self) -> Iterator[Dependency]:
        for catalog, ref_catalog, oids, ref_oids in self.groups():
            for oid, ref_oid in zip(oids, ref_oids, strict=True):
                yield catalog, oid, ref_catalog, ref_oid

    def groups(self) -> Iterator[DependencyGroup]:
        """Every dependency, a row (a pair of catalogs) at a time: (catalog, referenced
        catalog, oids, referenced oids); see toc.resolve_dependencies."""
        names = self._names
        for catalog, ref_catalog, start, end in self._runs:
            yield (names[catalog], names[ref_catalog], self._oid[start:end],
                   self._ref_oid[start:end])

    def close(self) -> None:
        """Nothing to free (as a cursor's close, for :class:`.prefetch.Prefetch`)."""
