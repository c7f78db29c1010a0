"""The dump's TOC entries made small while the whole catalog is held for sorting.

A dump of 100 000 chunks holds 300 000 entries from the first catalog query until its
header is written: the sort needs all of them. What each keeps meanwhile:

- its SQL text (CREATE, DROP, OWNER TO, GRANT, COMMENT: ~500 bytes a chunk) goes to an
  unnamed temporary file as soon as its entry is built (:func:`spooled`), the same
  :class:`~pystream_migrate.sqlspool.SqlSpool` the restore keeps its TOC's SQL in; it
  is read back once, when the TOC is written;
- what it creates (``objects``: a list and a tuple per catalog object) and what it
  needs beyond ``pg_depend`` (``extra_deps``, ~130 bytes for a single one) go into one
  :class:`~pystream_migrate.toc.Owners` at once, 8-12 bytes an object in its arrays;
- its ``info`` becomes a compact mapping with key tuples shared between entries.

:class:`Keeper` does all of it, entry by entry, as each family yields them: the per
chunk families (tables, indexes) yield one table's entries at a time, so the full
entries never coexist.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Iterable
from typing import Any, cast

from pystream_migrate.compactinfo import Info, compactor
from pystream_migrate.sqlspool import SpooledTocEntry, SqlSpool
from pystream_migrate.toc import Owners, TocEntry

__all__ = ["Keeper", "compact_rows", "forget_extra_deps", "spooled"]

_FIELDS = tuple(f.name for f in dataclasses.fields(TocEntry))
_NONE: list[tuple[str, int]] = cast(list[tuple[str, int]], ())


def spooled(entry: TocEntry, spool: SqlSpool) -> TocEntry:
    """``entry`` with its SQL text in ``spool``: a :class:`SpooledTocEntry` (the tables
    and indexes families make theirs so from the start; others are copied)."""
    if isinstance(entry, SpooledTocEntry):
        entry.spool_out(spool)
        return entry
    copy = SpooledTocEntry.__new__(SpooledTocEntry)
    copy._mask = 0
    for name in _FIELDS:
        setattr(copy, name, getattr(entry, name))
    copy.spool_out(spool)
    return copy


class Keeper:
    """Makes each entry small as its family yields it (see the module's docstring),
    recording what it creates and needs in :attr:`owners` first."""

    def __init__(self) -> None:
        self.spool = SqlSpool()
        self.owners = Owners()
        self._compact = compactor()
        self._count = 0
        self._shared: dict[tuple[Any, ...], Any] = {}  # lists alike: one object

    def __call__(self, entry: TocEntry) -> TocEntry:
        self.owners.add(entry, self._count)
        self._count += 1
        if entry.objects and "oid" not in entry.info:
            # The oid of what the entry creates, kept in the archive: restore-time
            # selection and the scheduler tie indexes, constraints and data to it.
            entry.info["oid"] = entry.objects[0][1]
        entry.objects = entry.extra_deps = _NONE  # both in self.owners now
        kept = spooled(entry, self.spool)
        kept.info = cast(dict[str, Any], self._compact(
            {k: self._share(v) if type(v) is list else v for k, v in entry.info.items()}))
        if kept.copy is not None:  # every chunk of a hypertable has the same columns
            kept.copy.columns = self._share(kept.copy.columns)
        return kept

    def _share(self, values: list[Any]) -> Any:
        """One list for lists alike (a chunk's parents, its columns); read only."""
        try:
            return self._shared.setdefault(tuple(values), values)
        except TypeError:  # a list of lists or dicts: kept as it is
            return values


def forget_extra_deps(entries: list[TocEntry]) -> None:
    """Once dependencies are resolved, the extra ones are in ``deps`` (the
    :class:`Keeper`'s entries have none left: its ``owners`` holds them)."""
    for e in entries:
        e.extra_deps = _NONE


def compact_rows(rows: Iterable[dict[str, Any]]) -> list[Info]:
    """Query rows kept for long (one per chunk): shared key tuples, and one copy of
    each short string value (a role such as 'chunk')."""
    compact = compactor()
    return [compact({k: sys.intern(v) if type(v) is str and len(v) < 32 else v
                     for k, v in r.items()}) for r in rows]
