"""The dump's TOC entries made small while the whole catalog is held for sorting.

A dump of 100 000 chunks holds 300 000 entries from the first catalog query until its
header is written: the sort needs all of them. :class:`Keeper` turns each entry, as its
family yields it, into a :class:`~pystream_migrate.compactentry.CompactEntry` (17 slots
instead of 22; the restore holds the same):

- its SQL text (CREATE, DROP, OWNER TO, GRANT, COMMENT: ~500 bytes a chunk) goes to an
  unnamed temporary file, the same :class:`~pystream_migrate.sqlspool.SqlSpool` the
  restore keeps its TOC's SQL in; it is read back once, when the TOC is written;
- what it creates (``objects``: a list and a tuple per catalog object) and what it
  needs beyond ``pg_depend`` (``extra_deps``, ~130 bytes for a single one) go into one
  :class:`~pystream_migrate.toc.Owners` at once, 8-12 bytes an object in its arrays,
  and are left behind;
- its ``info`` is a key tuple shared between entries and a value tuple, lists alike
  (a chunk's parents, its columns) one object.

The per chunk families (tables, indexes) yield one table's entries at a time, so the
full entries never coexist.

The first :data:`COMPACT_FROM` entries stay as they are, apart from what :attr:`owners`
took over: compacting one (its texts to the spool and back, its info into tuples) cost
~5 µs of the leader's time, 0.08 s for the 16 446 entries of 4000 chunks, where the
memory saved is some 15 MB.
"""

from __future__ import annotations

from typing import Any, cast

from pystream_migrate.compactentry import CompactEntry
from pystream_migrate.sqlspool import SqlSpool
from pystream_migrate.toc import Owners, TocEntry

__all__ = ["Keeper"]

_NONE: list[tuple[str, int]] = cast(list[tuple[str, int]], ())

# Entries kept whole before the Keeper compacts the rest: ~1 kB each with their SQL text.
COMPACT_FROM = 20_000


class Keeper:
    """Makes each entry small as its family yields it (see the module's docstring),
    recording what it creates and needs in :attr:`owners` first."""

    def __init__(self, compact_from: int | None = None) -> None:
        """``compact_from``: how many entries stay whole (None: COMPACT_FROM)."""
        self._whole = COMPACT_FROM if compact_from is None else compact_from
        self.spool = SqlSpool()
        self.owners = Owners()
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
        info = entry.info  # the entry's own, let go with it
        for key, value in info.items():
            if type(value) is list:
                info[key] = self._share(value)  # a value replaced: the keys stay
        # Code written for TocEntry reads and sets a CompactEntry unchanged.
        kept = entry if self._count <= self._whole else cast(
            TocEntry, CompactEntry.of(entry, self.spool, info))
        if kept.copy is not None:  # every chunk of a hypertable has the same columns
            kept.copy.columns = self._share(kept.copy.columns)
        return kept

    def _share(self, values: list[Any]) -> Any:
        """One list for lists alike (a chunk's parents, its columns); read only."""
        try:
            return self._shared.setdefault(tuple(values), values)
        except TypeError:  # a list of lists or dicts: kept as it is
            return values
