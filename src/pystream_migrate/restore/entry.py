"""The restore's TOC entry: what a restore reads of an entry, in 17 slots.

A restore of 100 000 chunks holds 300 000 entries. A :class:`~pystream_migrate.toc.TocEntry`
has 28 slots, most of them for the dump (catalog identities, cycle splits) or rarely
set; with its ``info`` dict it took ~560 bytes per entry before its strings and
numbers. :class:`RestoreEntry` has the same attributes (code written for ``TocEntry``
reads it unchanged) but keeps in slots only what most entries have:

- the SQL text (CREATE, OWNER TO, GRANT, COMMENT, DROP) in a
  :class:`~pystream_migrate.sqlspool.SqlSpool` (an unnamed temporary file),
  read back when used; text assigned later (``e.create_sql = ...``) stays in memory;
- the flags (chunk, extension configuration, after data, binary COPY) as bits of one
  small integer, shared by every entry;
- ``info`` as a key tuple shared by the entries with the same keys and a value tuple;
  ``e.info`` is a mutable view of them;
- what few entries have (tablespace, referenced tables, foreign-key order, ...) in one
  dict that most entries do not have.

:func:`entry_reader` makes them from the archive's TOC documents, sharing repeated
strings, numbers and number lists (a chunk's table oid is in 4 places of 3 entries).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, MutableMapping
from typing import Any

from pystream_migrate.compactinfo import TupleMapping
from pystream_migrate.sqlspool import SPOOLED, SqlSpool
from pystream_migrate.toc import CopySpec, Section, Strings, TocEntry, _typed_from_info

# Bits of RestoreEntry._mask after the SPOOLED ones (bit i: SPOOLED[i] is in the spool).
_FLAGS = ("chunk", "extconfig", "after_data")
_FLAG_BIT = {name: 1 << (len(SPOOLED) + i) for i, name in enumerate(_FLAGS)}
_BINARY = 1 << (len(SPOOLED) + len(_FLAGS))
# One int object per mask value: every entry with the same mask shares it.
_MASKS = tuple(range(2 * _BINARY))

# What lives in RestoreEntry._rare when set, with the value it has otherwise.
_RARE: dict[str, Any] = {
    "tablespace": None, "ref_table_oids": (), "fk_order": 0, "objects": (),
    "extra_deps": (), "split_pre_sql": None, "split_post_sql": None,
}


class RestoreEntry:
    __slots__ = (
        "_at",
        "_keys",
        "_mask",
        "_rare",
        "_spool",
        "_values",
        "copy",
        "deps",
        "est_bytes",
        "id",
        "kind",
        "name",
        "owner",
        "relid",
        "schema",
        "section",
        "table_oid",
    )
    id: int
    kind: str
    schema: str | None
    name: str
    section: Section
    owner: str | None
    deps: Any
    copy: CopySpec | None
    relid: int | None
    table_oid: int | None
    est_bytes: int
    _keys: tuple[str, ...]
    _values: tuple[Any, ...]
    _rare: dict[str, Any] | None
    _spool: SqlSpool | None
    _at: int
    _mask: int

    label = TocEntry.label
    priority = TocEntry.priority
    sql_texts = TocEntry.sql_texts
    to_json = TocEntry.to_json
    typed_info = TocEntry.typed_info

    @property
    def info(self) -> MutableMapping[str, Any]:
        return EntryInfo(self)

    @info.setter
    def info(self, value: Mapping[str, Any]) -> None:
        self._keys, self._values = tuple(value), tuple(value.values())

    @property
    def copy_format(self) -> str:
        return "binary" if self._mask & _BINARY else "text"

    @copy_format.setter
    def copy_format(self, value: str) -> None:
        self._set_bit(_BINARY, value == "binary")

    def _set_bit(self, bit: int, on: bool) -> None:
        self._mask = _MASKS[self._mask | bit if on else self._mask & ~bit]

    def _set_rare(self, name: str, value: Any) -> None:
        if self._rare is None:
            if value == _RARE.get(name, ""):
                return
            self._rare = {}
        self._rare[name] = value

    def __repr__(self) -> str:
        return f"RestoreEntry({self.id}, {self.kind!r}, {self.name!r})"


def _sql_property(field: int) -> property:
    name, bit = SPOOLED[field], 1 << field

    def get(self: RestoreEntry) -> str:
        if self._mask & bit:
            assert self._spool is not None
            return self._spool.get(self._at, field)
        return self._rare.get(name, "") if self._rare is not None else ""

    def put(self: RestoreEntry, value: str) -> None:
        self._mask = _MASKS[self._mask & ~bit]
        self._set_rare(name, value)

    return property(get, put)


def _flag_property(name: str) -> property:
    bit = _FLAG_BIT[name]

    def get(self: RestoreEntry) -> bool:
        return bool(self._mask & bit)

    def put(self: RestoreEntry, value: bool) -> None:
        self._set_bit(bit, bool(value))

    return property(get, put)


def _rare_property(name: str, default: Any) -> property:
    def get(self: RestoreEntry) -> Any:
        return self._rare.get(name, default) if self._rare is not None else default

    def put(self: RestoreEntry, value: Any) -> None:
        self._set_rare(name, value)

    return property(get, put)


for _i, _name in enumerate(SPOOLED):
    setattr(RestoreEntry, _name, _sql_property(_i))
for _name in _FLAGS:
    setattr(RestoreEntry, _name, _flag_property(_name))
for _name, _default in _RARE.items():
    setattr(RestoreEntry, _name, _rare_property(_name, _default))


class EntryInfo(TupleMapping):
    """An entry's ``info``, kept by the entry as a key tuple and a value tuple (a change
    copies the tuples: the restore sets a few keys, e.g. portable's ``no_freeze``)."""

    __slots__ = ("_of",)

    def __init__(self, entry: RestoreEntry) -> None:
        self._of = entry

    def _holder(self) -> RestoreEntry:
        return self._of


class EntryReader:
    """The restore's entries from the TOC's documents, one call each (see
    :func:`entry_reader`). :meth:`finished` lets go of what the entries read so far
    share while reading (a dict of every name and number): the archive reader calls it
    once the TOC is read."""

    def __init__(self, *, drop_sql: bool, spool: SqlSpool | None) -> None:
        self._drop_sql = drop_sql
        self._spool = spool or SqlSpool()
        self._strings = Strings()
        self._keys: dict[tuple[str, ...], tuple[str, ...]] = {}

    def finished(self) -> None:
        self._strings, self._keys = Strings(), {}

    def __call__(self, d: dict[str, Any]) -> RestoreEntry:
        strings = self._strings
        info = strings.info(d.get("info") or {})
        typed = _typed_from_info(info)
        e = RestoreEntry()
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
        e._keys, e._values = self._keys.setdefault(keys, keys), values
        e._rare = None
        e._mask = _MASKS[0]
        e._spool = None
        for name, value in typed.items():
            setattr(e, name, value)
        texts = tuple(d.get(name, "") if name != "drop_sql" or self._drop_sql else ""
                      for name in SPOOLED)
        if any(texts):
            e._mask = _MASKS[e._mask | sum(1 << i for i, t in enumerate(texts) if t)]
            e._spool = self._spool
            e._at = self._spool.put(texts)
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
