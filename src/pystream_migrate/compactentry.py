"""A TOC entry in 17 slots, for the many entries of a dump or restore of many chunks.

A dump or restore of 100 000 chunks holds 300 000 entries. A
:class:`~pystream_migrate.toc.TocEntry` has 22 slots (31 before its rare fields moved
to a dict), several of them for what only the dump's catalog readers fill (catalog
identities) or rarely set; with its ``info`` dict it took ~560 bytes per entry before
its strings and numbers. :class:`CompactEntry` has the same
attributes (code written for ``TocEntry`` reads and sets it unchanged) but keeps in
slots only what most entries have:

- the SQL text (CREATE, OWNER TO, GRANT, COMMENT, DROP) in a
  :class:`~pystream_migrate.sqlspool.SqlSpool` (an unnamed temporary file),
  read back when used; text assigned later (``e.create_sql = ...``) stays in memory;
- the flags (chunk, extension configuration, after data, binary COPY) as bits of one
  small integer, shared by every entry;
- ``info`` as a key tuple shared by the entries with the same keys and a value tuple;
  ``e.info`` is a mutable view of them;
- what few entries have (tablespace, referenced tables, foreign-key order, ...) in one
  dict that most entries do not have.

The restore makes them from the archive's TOC documents
(:func:`pystream_migrate.restore.entry.entry_reader`); the dump from the entries its
catalog readers build, as they build them (:meth:`CompactEntry.of`, through
:class:`pystream_migrate.catalog.compact.Keeper`).
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any, cast

from pystream_migrate.compactinfo import TupleMapping, shared_keys
from pystream_migrate.sqlspool import SPOOLED, SqlSpool
from pystream_migrate.toc import CopySpec, Section, TocEntry, typed_info_of

# Bits of CompactEntry._mask after the SPOOLED ones (bit i: SPOOLED[i] is in the spool).
_FLAGS = ("chunk", "extconfig", "after_data")
_FLAG_BIT = {name: 1 << (len(SPOOLED) + i) for i, name in enumerate(_FLAGS)}
_BINARY = 1 << (len(SPOOLED) + len(_FLAGS))
_CHUNK = _FLAG_BIT["chunk"]
# One int object per mask value: every entry with the same mask shares it.
_MASKS = tuple(range(2 * _BINARY))

# What lives in CompactEntry._rare when set, with the value it has otherwise.
_RARE: dict[str, Any] = {
    "tablespace": None, "ref_table_oids": (), "fk_order": 0, "objects": (),
    "extra_deps": (), "split_pre_sql": None, "split_post_sql": None,
}


class CompactEntry:
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

    def to_json(self) -> dict[str, Any]:
        info = dict(zip(self._keys, self._values, strict=True))
        info.update(self.typed_info())
        return TocEntry.document(cast(TocEntry, self), info)

    def typed_info(self) -> dict[str, Any]:
        """As :meth:`TocEntry.typed_info`, from the slots, mask and rare fields directly:
        once per entry in the dump's header."""
        rare = self._rare or {}
        mask = self._mask
        return typed_info_of(self.relid, self.table_oid, rare.get("ref_table_oids", ()),
                             bool(mask & _FLAG_BIT["extconfig"]), rare.get("fk_order", 0),
                             self.est_bytes, bool(mask & _CHUNK),
                             "binary" if mask & _BINARY else "text",
                             bool(mask & _FLAG_BIT["after_data"]))

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
        return f"CompactEntry({self.id}, {self.kind!r}, {self.name!r})"

    @classmethod
    def blank(cls) -> CompactEntry:
        """An entry whose optional parts are unset: no SQL, flags, rare fields or
        extra dependencies (the caller sets the rest)."""
        e = cls()
        e._rare = None
        e._mask = _MASKS[0]
        e._spool = None
        return e

    def spool_texts(self, texts: tuple[str, ...], spool: SqlSpool) -> None:
        """Keep ``texts`` (one per name of SPOOLED) in ``spool``; empty ones are none."""
        mask = 0
        bit = 1
        for text in texts:
            if text:
                mask |= bit
            bit <<= 1
        if mask:
            self._mask = _MASKS[self._mask | mask]
            self._spool = spool
            self._at = spool.put(texts)

    @classmethod
    def of(cls, entry: TocEntry, spool: SqlSpool, info: Mapping[str, Any]) -> CompactEntry:
        """The dump's ``entry`` made compact, its SQL text in ``spool``, ``info`` in
        place of its own. What it creates (``objects``) is left behind: the dump has
        recorded it (toc.Owners)."""
        e = cls.blank()
        e.id, e.kind, e.schema, e.name = entry.id, entry.kind, entry.schema, entry.name
        e.section, e.owner, e.deps, e.copy = (entry.section, entry.owner, entry.deps,
                                               entry.copy)
        e.relid, e.table_oid, e.est_bytes = entry.relid, entry.table_oid, entry.est_bytes
        e._keys, e._values = shared_keys(tuple(info)), tuple(info.values())
        mask = _CHUNK if entry.chunk else 0
        if entry.copy_format == "binary":
            mask |= _BINARY
        # A TocEntry's other rare fields and flags are in its own _rare dict, when set.
        if entry._rare:
            for name, value in entry._rare.items():
                if name in _FLAG_BIT:
                    mask |= _FLAG_BIT[name] if value else 0
                else:
                    e._set_rare(name, value)
        if entry.extra_deps:  # the Keeper has recorded them (toc.Owners) and left none
            e._set_rare("extra_deps", entry.extra_deps)
        e._mask = _MASKS[mask]
        e.spool_texts(entry.sql_texts(), spool)
        return e


def _sql_property(field: int) -> property:
    name, bit = SPOOLED[field], 1 << field

    def get(self: CompactEntry) -> str:
        if self._mask & bit:
            assert self._spool is not None
            return self._spool.get(self._at, field)
        return self._rare.get(name, "") if self._rare is not None else ""

    def put(self: CompactEntry, value: str) -> None:
        self._mask = _MASKS[self._mask & ~bit]
        self._set_rare(name, value)

    return property(get, put)


def _flag_property(name: str) -> property:
    bit = _FLAG_BIT[name]

    def get(self: CompactEntry) -> bool:
        return bool(self._mask & bit)

    def put(self: CompactEntry, value: bool) -> None:
        self._set_bit(bit, bool(value))

    return property(get, put)


def _rare_property(name: str, default: Any) -> property:
    def get(self: CompactEntry) -> Any:
        return self._rare.get(name, default) if self._rare is not None else default

    def put(self: CompactEntry, value: Any) -> None:
        self._set_rare(name, value)

    return property(get, put)


for _i, _name in enumerate(SPOOLED):
    setattr(CompactEntry, _name, _sql_property(_i))
for _name in _FLAGS:
    setattr(CompactEntry, _name, _flag_property(_name))
for _name, _default in _RARE.items():
    setattr(CompactEntry, _name, _rare_property(_name, _default))


class EntryInfo(TupleMapping):
    """An entry's ``info``, kept by the entry as a key tuple and a value tuple (a change
    copies the tuples: dump and restore set a few keys, e.g. portable's ``no_freeze``)."""

    __slots__ = ("_of",)

    def __init__(self, entry: CompactEntry) -> None:
        self._of = entry

    def _holder(self) -> CompactEntry:
        return self._of
