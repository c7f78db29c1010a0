"""The restore's TOC entries, made from the archive's TOC documents as they are parsed.

Each document becomes a :class:`~pystream_migrate.compactentry.CompactEntry` (18 slots,
its SQL text in a :class:`~pystream_migrate.sqlspool.SqlSpool`), sharing repeated
strings, numbers and number lists (a chunk's table oid is in 4 places of 3 entries).
"""

from __future__ import annotations

import contextlib
from typing import Any

from pystream_migrate.compactentry import CompactEntry
from pystream_migrate.compactinfo import shared_keys
from pystream_migrate.sqlspool import SPOOLED, SqlSpool
from pystream_migrate.toc import CopySpec, Section, Strings, _typed_from_info


class EntryReader:
    """The restore's entries from the TOC's documents, one call each (see
    :func:`entry_reader`). :meth:`finished` lets go of what the entries read so far
    share while reading (a dict of every name and number): the archive reader calls it
    once the TOC is read."""

    def __init__(self, *, drop_sql: bool, spool: SqlSpool | None) -> None:
        self._drop_sql = drop_sql
        self._spool = spool or SqlSpool()
        self._strings = Strings()

    def finished(self) -> None:
        self._strings = Strings()

    def __call__(self, d: dict[str, Any]) -> CompactEntry:
        strings = self._strings
        info = strings.info(d.get("info") or {})
        typed = _typed_from_info(info)
        e = CompactEntry.blank()
        e.id = strings.value(int(d["id"]))
        e.kind = strings.text(d["kind"])
        e.schema = strings.text(d.get("schema"))
        e.name = strings.text(d["name"])
        e.section = Section(d["section"])
        e.owner = strings.text(d.get("owner"))
        e.deps = strings.shared_tuple(tuple(sorted({strings.value(x) for x in d.get("deps", ())})))
        e.copy = CopySpec.from_json(d["copy"], strings) if d.get("copy") else None
        e.relid = strings.value(typed.pop("relid", None))
        e.table_oid = strings.value(typed.pop("table_oid", None))
        e.est_bytes = strings.value(typed.pop("est_bytes", 0))
        keys, values = tuple(info), tuple(info.values())
        # e.g. every chunk's data has the same values (its estimate, its hypertable);
        # values with a list among them cannot be looked up.
        with contextlib.suppress(TypeError):
            values = strings.shared_tuple(values)
        e._keys, e._values = shared_keys(keys), values
        for name, value in typed.items():
            setattr(e, name, value)
        e.spool_texts(tuple(d.get(name, "") if name != "drop_sql" or self._drop_sql else ""
                            for name in SPOOLED), self._spool)
        tablespace = d.get("tablespace")
        if tablespace:
            e._set_rare("tablespace", strings.text(tablespace))
        return e


def entry_reader(*, drop_sql: bool = True, spool: SqlSpool | None = None) -> EntryReader:
    """The restore's entries from the TOC's documents (for ``ArchiveReader.open(...,
    toc_entry=entry_reader())``), their SQL text in ``spool`` (a new one if not given;
    it lives as long as the entries do). Without ``drop_sql`` the DROP statements are
    left out (only ``restore --clean`` runs those)."""
    return EntryReader(drop_sql=drop_sql, spool=spool)
