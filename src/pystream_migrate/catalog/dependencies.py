"""pg_depend's rows (depend.sql), the largest catalog result, held compactly.

At 10 000 chunks the query returns ~100 000 rows (ten per chunk); libpq keeps them
as some 110 bytes each, and a helper connection (:mod:`.prefetch`) holds its result
until the very end of the catalog read, through the moment the families' rows and
entries fill the memory most. :class:`Dependencies` turns the rows into four
arrays on the helper's thread as they stream in (libpq never holds the whole
result): 18 bytes a row.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator
from typing import Any

from pystream_migrate.catalog.queries import each_row

Dependency = tuple[str, int, str, int]  # catalog, oid, referenced catalog, its oid


def dependency_rows(rows: Iterable[dict[str, Any]]) -> Iterator[Dependency]:
    """The rows of depend.sql (an executed cursor, or a stream), one at a time; closes
    the cursor at the end."""
    for r in each_row(rows):
        yield r["catalog"], r["oid"], r["ref_catalog"], r["ref_oid"]


class Dependencies:
    """The rows of depend.sql (an executed cursor, which it closes, or a stream), in arrays.

    Iterating gives the rows in their order; the catalogs' names are a few dozen
    strings, kept once each.
    """

    def __init__(self, rows: Iterable[dict[str, Any]]) -> None:
        self._names: list[str] = []
        number: dict[str, int] = {}
        self._catalog = array("H")
        self._oid = array("q")
        self._ref_catalog = array("H")
        self._ref_oid = array("q")
        for catalog, oid, ref_catalog, ref_oid in dependency_rows(rows):
            for name in (catalog, ref_catalog):
                if name not in number:
                    number[name] = len(self._names)
                    self._names.append(name)
            self._catalog.append(number[catalog])
            self._oid.append(oid)
            self._ref_catalog.append(number[ref_catalog])
            self._ref_oid.append(ref_oid)

    def __len__(self) -> int:
        return len(self._oid)

    def __iter__(self) -> Iterator[Dependency]:
        names = self._names
        for catalog, oid, ref_catalog, ref_oid in zip(
                self._catalog, self._oid, self._ref_catalog, self._ref_oid, strict=True):
            yield names[catalog], oid, names[ref_catalog], ref_oid

    def close(self) -> None:
        """Nothing to free (as a cursor's close, for :class:`.prefetch.Prefetch`)."""
