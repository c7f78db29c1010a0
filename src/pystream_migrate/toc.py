"""The table of contents: objects, their dependencies, sections and restore order.

Catalog readers produce :class:`TocEntry` objects that name the catalog objects they
create (``objects``: ``(catalog, oid)`` pairs such as ``("pg_class", 16384)``). Once
``pg_depend`` (and any explicit ``extra_deps``) are mapped onto entries, :func:`sort_entries`
orders them: section by section (pre-data, data, post-data), dependencies first, and
within that by kind priority, schema and name, so the order is stable across runs.

Dependency cycles are broken the way pg_dump breaks them: an entry that knows how to
split itself (``split_pre_sql`` / ``split_post_sql``, e.g. a view first created as a
dummy, or a table whose CHECK constraint is added later) is split in two. A cycle with
no splittable entry is an error that names the objects in it.
"""

from __future__ import annotations

import heapq
import sys
from array import array
from bisect import bisect_left
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Generic, TypeVar, cast, overload


class Section(StrEnum):
    PRE_DATA = "pre-data"
    DATA = "data"
    POST_DATA = "post-data"


SECTION_RANK = {Section.PRE_DATA: 0, Section.DATA: 1, Section.POST_DATA: 2}

# Lower runs first when dependencies allow. Loosely pg_dump's type priorities.
KIND_PRIORITY: dict[str, int] = {
    "SCHEMA": 1,
    "EXTENSION": 2,
    "COLLATION": 3,
    "SHELL TYPE": 4,
    "TYPE": 5,
    "DOMAIN": 5,
    "FUNCTION": 6,
    "PROCEDURE": 6,
    "AGGREGATE": 7,
    "OPERATOR": 8,
    "OPERATOR CLASS": 8,
    "OPERATOR FAMILY": 8,
    "ACCESS METHOD": 8,
    "CONVERSION": 9,
    "CAST": 9,
    "TRANSFORM": 9,
    "TEXT SEARCH PARSER": 9,
    "TEXT SEARCH TEMPLATE": 9,
    "TEXT SEARCH DICTIONARY": 9,
    "TEXT SEARCH CONFIGURATION": 9,
    "FOREIGN DATA WRAPPER": 9,
    "SERVER": 9,
    "USER MAPPING": 9,
    "SEQUENCE": 10,
    "TABLE": 11,
    "FOREIGN TABLE": 11,
    "VIEW": 12,
    "MATERIALIZED VIEW": 12,
    "TABLE ATTACH": 13,
    "DEFAULT": 14,
    "SEQUENCE OWNED BY": 15,
    "CHECK CONSTRAINT": 16,
    "TABLE DATA": 20,
    "SEQUENCE SET": 21,
    "INDEX": 30,
    "INDEX ATTACH": 31,
    "STATISTICS": 32,
    "CONSTRAINT": 30,
    "FK CONSTRAINT": 33,
    "TRIGGER": 34,
    "RULE": 34,
    "POLICY": 35,
    "ROW SECURITY": 35,
    # Post-data like pg_dump: only after every object (and its own grants) exists, so
    # that the defaults never add privileges to restored objects.
    "DEFAULT ACL": 35,
    "EVENT TRIGGER": 36,
    "PUBLICATION": 37,
    "PUBLICATION TABLE": 38,
    "PUBLICATION TABLES IN SCHEMA": 38,
    "MATERIALIZED VIEW DATA": 40,
    "TIMESCALEDB": 50,
}
DEFAULT_PRIORITY = 25


@dataclass(slots=True)
class CopySpec:
    """How to read and load one table's rows: table-form COPY of the listed columns."""

    schema: str
    table: str
    columns: list[str]
    where: str | None = None  # extension config filter (pg_extension.extcondition)

    def to_json(self) -> dict[str, Any]:
        return {"schema": self.schema, "table": self.table, "columns": self.columns,
                "where": self.where}

    @classmethod
    def from_json(cls, d: dict[str, Any], strings: Strings | None = None) -> CopySpec:
        if strings is None:
            return cls(d["schema"], d["table"], list(d["columns"]), d.get("where"))
        return cls(strings.text(d["schema"]), strings.text(d["table"]),
                   strings.columns(d["columns"]), d.get("where"))


class Strings:
    """One copy of each repeated string while a TOC is read (names, schemas, owners,
    kinds, column lists): a chunk's name appears in its table, its data and its copy
    spec, its owner and schema in every entry. Dropped once the TOC is read."""

    def __init__(self) -> None:
        self._seen: dict[str, str] = {}
        self._columns: dict[tuple[str, ...], list[str]] = {}
        self._numbers: dict[Any, Any] = {}
        self._tuples: dict[tuple[Any, ...], tuple[Any, ...]] = {}

    def text(self, value: str | None) -> Any:
        if value is None:
            return None
        return self._seen.setdefault(value, value)

    def columns(self, names: list[str]) -> list[str]:
        """One list per distinct column list: every chunk of a hypertable has its columns.
        Shared: nothing changes a CopySpec's columns once it is read."""
        key = tuple(names)
        found = self._columns.get(key)
        if found is None:
            found = self._columns[key] = [self.text(n) for n in names]
        return found

    def value(self, value: Any) -> Any:
        """One copy of each number beyond the few Python keeps once, and of each list of
        such numbers: a chunk's table oid is in three of its entries (four times), its
        hypertable's in two, an entry's id in the deps of others. The lists are shared:
        nothing changes an entry's "info" lists once it is read."""
        if type(value) is int:
            return value if -5 <= value <= 256 else self._numbers.setdefault(value, value)
        if type(value) is list and all(type(v) is int for v in value):
            key = tuple(value)
            found = self._numbers.get(key)
            if found is None:
                found = self._numbers[key] = [self.value(v) for v in value]
            return found
        return value

    def shared_tuple(self, value: tuple[Any, ...]) -> tuple[Any, ...]:
        """One copy of each tuple: e.g. the dependencies of a chunk's data and index
        (its table), of every chunk's table (its schema and hypertable)."""
        return self._tuples.setdefault(value, value)

    def info(self, info: dict[str, Any]) -> dict[str, Any]:
        """Keys (and short string values, numbers and lists of numbers) of an entry's
        "info", shared."""
        return {sys.intern(k): self.text(v) if isinstance(v, str) and len(v) < 64
                else self.value(v) for k, v in info.items()}


# pg_depend's rows of one pair of catalogs: (catalog, referenced catalog, oids,
# referenced oids), see resolve_dependencies.
DependencyGroup = tuple[str, str, Sequence[int], Sequence[int]]

# Entries read from an archive share these: the catalog identities (and extra
# dependencies) of an entry are filled only by the dump's catalog readers. A tuple, so
# that anything appending to one fails loudly instead of changing every entry.
_NO_OBJECTS: list[tuple[str, int]] = cast(list[tuple[str, int]], ())


# Fields that few entries set (none of a chunk's): kept in one dict, ``_rare``, made
# only for an entry that sets one: their seven slots took 48 bytes an entry more than
# that one, 14 MB for the 300 000 entries of a dump of 100 000 chunks. Their defaults:
RARE_FIELDS: dict[str, Any] = {
    "tablespace": None, "split_pre_sql": None, "split_post_sql": None,
    "ref_table_oids": (), "extconfig": False, "fk_order": 0, "after_data": False,
}


T = TypeVar("T")


class _Rare(Generic[T]):
    """A field of :class:`TocEntry` kept in its ``_rare`` dict while not at its default."""

    __slots__ = ("_default", "_name")

    def __init__(self, name: str) -> None:
        self._name = name
        self._default: T = RARE_FIELDS[name]

    @overload
    def __get__(self, entry: None, owner: type) -> _Rare[T]: ...
    @overload
    def __get__(self, entry: TocEntry, owner: type) -> T: ...

    def __get__(self, entry: TocEntry | None, owner: type) -> T | _Rare[T]:
        if entry is None:
            return self
        rare = entry._rare
        return self._default if rare is None else cast(T, rare.get(self._name, self._default))

    def __set__(self, entry: TocEntry, value: T) -> None:
        if value is not self._default:
            if entry._rare is None:
                entry._rare = {}
            entry._rare[self._name] = value
        elif entry._rare is not None:
            entry._rare.pop(self._name, None)
            if not entry._rare:
                entry._rare = None


@dataclass(slots=True, init=False)
class TocEntry:
    kind: str
    schema: str | None
    name: str
    section: Section
    create_sql: str
    drop_sql: str
    owner: str | None
    owner_sql: str
    acl_sql: str
    comment_sql: str
    # Catalog identities this entry creates, e.g. ("pg_class", oid); used to map pg_depend.
    objects: list[tuple[str, int]]
    # Catalog identities this entry needs beyond what pg_depend says.
    extra_deps: list[tuple[str, int]]
    # Ids of the entries that must be restored before this one (filled by resolve/sort;
    # a sorted tuple once sorted or read: a set of one id takes four times the memory).
    deps: Collection[int]
    copy: CopySpec | None
    # What dump and restore read about an entry, typed. In the archive's JSON these are
    # keys of "info" (see TYPED_INFO), so the format is the same as before they were fields.
    relid: int | None  # data: the table whose rows it carries
    table_oid: int | None  # the table it belongs to and locks (index, trigger, ...)
    est_bytes: int  # data: estimated COPY size, from the source's statistics
    chunk: bool  # a TimescaleDB chunk
    copy_format: str  # data: "text" or "binary" COPY
    # Everything else the catalog knows (informational; restore does not schedule on it).
    info: dict[str, Any]
    id: int
    _rare: dict[str, Any] | None  # the RARE_FIELDS set to other than their defaults

    # Not annotated, so that they are no dataclass fields (and no slots).
    tablespace = _Rare[str | None]("tablespace")
    # Alternative two-step form used to break dependency cycles (see module docstring).
    split_pre_sql = _Rare[str | None]("split_pre_sql")
    split_post_sql = _Rare[str | None]("split_post_sql")
    ref_table_oids = _Rare[Sequence[int]]("ref_table_oids")  # tables a foreign key references
    extconfig = _Rare[bool]("extconfig")  # an extension's configuration data
    fk_order = _Rare[int]("fk_order")  # extconfig data: load after every level below
    after_data = _Rare[bool]("after_data")  # post-data that must wait for all data

    def __init__(self, kind: str, schema: str | None, name: str, section: Section,
                 create_sql: str = "", drop_sql: str = "", owner: str | None = None,
                 owner_sql: str = "", acl_sql: str = "", comment_sql: str = "",
                 tablespace: str | None = None, objects: list[tuple[str, int]] | None = None,
                 extra_deps: list[tuple[str, int]] | None = None, deps: Collection[int] = (),
                 split_pre_sql: str | None = None, split_post_sql: str | None = None,
                 copy: CopySpec | None = None, relid: int | None = None,
                 table_oid: int | None = None, ref_table_oids: Sequence[int] = (),
                 extconfig: bool = False, fk_order: int = 0, est_bytes: int = 0,
                 chunk: bool = False, copy_format: str = "text", after_data: bool = False,
                 info: dict[str, Any] | None = None, id: int = 0) -> None:
        self.kind, self.schema, self.name, self.section = kind, schema, name, section
        self.create_sql, self.drop_sql, self.owner = create_sql, drop_sql, owner
        self.owner_sql, self.acl_sql, self.comment_sql = owner_sql, acl_sql, comment_sql
        self.objects = [] if objects is None else objects
        self.extra_deps = [] if extra_deps is None else extra_deps
        self.deps, self.copy, self.relid, self.table_oid = deps, copy, relid, table_oid
        self.est_bytes, self.chunk, self.copy_format = est_bytes, chunk, copy_format
        self.info = {} if info is None else info
        self.id = id
        self._rare = None
        if (tablespace is not None or split_pre_sql is not None or split_post_sql is not None
                or ref_table_oids or extconfig or fk_order or after_data):  # few entries
            self.tablespace, self.split_pre_sql, self.split_post_sql = (
                tablespace, split_pre_sql, split_post_sql)
            self.ref_table_oids, self.extconfig = ref_table_oids, extconfig
            self.fk_order, self.after_data = fk_order, after_data

    @property
    def label(self) -> str:
        qual = f"{self.schema}.{self.name}" if self.schema else self.name
        return f"{self.kind} {qual}"

    @property
    def priority(self) -> int:
        return KIND_PRIORITY.get(self.kind, DEFAULT_PRIORITY)

    def sql_texts(self) -> tuple[str, str, str, str, str]:
        """CREATE, OWNER TO, GRANT, COMMENT and DROP (a spooled entry: one read)."""
        return self.create_sql, self.owner_sql, self.acl_sql, self.comment_sql, self.drop_sql

    def to_json(self) -> dict[str, Any]:
        return self.document({**self.info, **self.typed_info()})

    def document(self, info: dict[str, Any]) -> dict[str, Any]:
        """The archive's document of this entry, with ``info`` as its "info"."""
        create, owner, acl, comment, drop = self.sql_texts()
        return {
            "id": self.id,
            "kind": self.kind,
            "schema": self.schema,
            "name": self.name,
            "section": str(self.section),
            "create_sql": create,
            "drop_sql": drop,
            "owner": self.owner,
            "owner_sql": owner,
            "acl_sql": acl,
            "comment_sql": comment,
            "tablespace": self.tablespace,
            "deps": sorted(self.deps),
            "copy": self.copy.to_json() if self.copy else None,
            "info": info,
        }

    def typed_info(self) -> dict[str, Any]:
        """The typed fields that differ from their defaults, as the archive's "info" keys."""
        if self._rare is None:  # most entries: no rare field set
            return typed_info_of(self.relid, self.table_oid, (), False, 0, self.est_bytes,
                                 self.chunk, self.copy_format, False)
        return typed_info_of(self.relid, self.table_oid, self.ref_table_oids, self.extconfig,
                             self.fk_order, self.est_bytes, self.chunk, self.copy_format,
                             self.after_data)

    @classmethod
    def from_json(cls, d: dict[str, Any], strings: Strings | None = None, *,
                  drop_sql: bool = True) -> TocEntry:
        """An entry from its archive document. With ``strings`` (one for the whole TOC),
        repeated names and values are shared between entries; without ``drop_sql`` its
        DROP statement is left out (only ``restore --clean`` runs those)."""
        s = strings or Strings()
        info = s.info(d.get("info") or {})
        typed = _typed_from_info(info)
        return cls(
            kind=s.text(d["kind"]),
            schema=s.text(d.get("schema")),
            name=s.text(d["name"]),
            section=Section(d["section"]),
            create_sql=d.get("create_sql", ""),
            drop_sql=d.get("drop_sql", "") if drop_sql else "",
            owner=s.text(d.get("owner")),
            owner_sql=d.get("owner_sql", ""),
            acl_sql=d.get("acl_sql", ""),
            comment_sql=d.get("comment_sql", ""),
            tablespace=s.text(d.get("tablespace")),
            objects=_NO_OBJECTS,
            extra_deps=_NO_OBJECTS,
            deps=tuple(sorted(set(d.get("deps", ())))),
            copy=CopySpec.from_json(d["copy"], s) if d.get("copy") else None,
            info=info,
            id=int(d["id"]),
            **typed,
        )


def entry_reader(*, drop_sql: bool = True) -> Callable[[dict[str, Any]], TocEntry]:
    """``TocEntry.from_json`` for the documents of one TOC, sharing their repeated strings
    (for ``ArchiveReader.open(..., toc_entry=entry_reader())``)."""
    strings = Strings()
    return lambda d: TocEntry.from_json(d, strings, drop_sql=drop_sql)


# The typed fields kept as "info" keys in the archive, with their defaults.
TYPED_INFO: dict[str, Any] = {
    "relid": None, "table_oid": None, "ref_table_oids": (), "extconfig": False,
    "fk_order": 0, "est_bytes": 0, "chunk": False, "copy_format": "text",
    "after_data": False,
}


def typed_info_of(relid: int | None, table_oid: int | None, ref_table_oids: Sequence[int],
                  extconfig: bool, fk_order: int, est_bytes: int, chunk: bool,
                  copy_format: str, after_data: bool) -> dict[str, Any]:
    """The typed fields that differ from their defaults (TYPED_INFO), as the archive's
    "info" keys, in TYPED_INFO's order: once per entry in the dump's header."""
    out: dict[str, Any] = {}
    if relid is not None:
        out["relid"] = relid
    if table_oid is not None:
        out["table_oid"] = table_oid
    if ref_table_oids:
        out["ref_table_oids"] = list(ref_table_oids)
    if extconfig:
        out["extconfig"] = extconfig
    if fk_order != 0:
        out["fk_order"] = fk_order
    if est_bytes != 0:
        out["est_bytes"] = est_bytes
    if chunk:
        out["chunk"] = chunk
    if copy_format != "text":
        out["copy_format"] = copy_format
    if after_data:
        out["after_data"] = after_data
    return out


def _typed_from_info(info: dict[str, Any]) -> dict[str, Any]:
    """Take the typed fields out of an archive entry's "info" (which keeps the rest)."""
    typed: dict[str, Any] = {}
    for name in TYPED_INFO:
        if name not in info:
            continue
        value = info.pop(name)
        if value is None:
            continue
        if name in ("relid", "table_oid", "fk_order", "est_bytes"):
            value = int(value)
        elif name == "ref_table_oids":
            value = tuple(int(v) for v in value)
        elif name in ("extconfig", "chunk", "after_data"):
            value = bool(value)
        typed[name] = value
    return typed


def entry_size(e: TocEntry, measured: Mapping[int, int] | None = None) -> int:
    """An entry's data size in bytes: as the archive measured it, else the estimate.

    The one size rule of dump and restore: what orders the largest first, what counts as
    small enough to share a transaction (:mod:`pystream_migrate.batching`), and what a
    post-data item of a table weighs (its table's size).
    """
    if measured is not None:
        size = measured.get(e.id)
        if size is not None:
            return size
    return e.est_bytes


class DependencyCycle(Exception):
    def __init__(self, labels: Sequence[str]) -> None:
        super().__init__("dependency cycle that cannot be broken: " + " -> ".join(labels))
        self.labels = list(labels)


class Owners:
    """Which entry creates each catalog object: ``(catalog, oid)`` -> the entry's position,
    and what each entry needs beyond ``pg_depend`` (its ``extra_deps``).

    In arrays (:class:`_Objects`, 8 bytes an object once sorted): at 100 000 chunks
    there are half a million objects, which a dict of ints took ~100 bytes each for.
    Filled as entries are read (:meth:`add`), so that the dump can drop each entry's
    ``objects`` and ``extra_deps`` at once (:mod:`pystream_migrate.catalog.compact`).
    The first entry added for an object owns it.
    """

    def __init__(self) -> None:
        self._catalogs: dict[str, _Objects] = {}
        # The extra dependencies: the needing entry's position; the needed catalog's
        # number (its place in _catalogs) << 32 | the needed oid.
        self._needing = array("q")
        self._needed = array("q")

    def _objects(self, catalog: str) -> _Objects:
        objects = self._catalogs.get(catalog)
        if objects is None:
            objects = self._catalogs[catalog] = _Objects(len(self._catalogs))
        return objects

    def add(self, entry: TocEntry, pos: int) -> None:
        for catalog, oid in entry.objects:
            self._objects(catalog).add(oid, pos)
        for catalog, oid in entry.extra_deps:
            self._needing.append(pos)
            self._needed.append(self._objects(catalog).number << 32 | oid)

    def get(self, catalog: str, oid: int) -> int | None:
        find = self.finder(catalog)
        return find(oid) if find is not None else None

    def finder(self, catalog: str) -> Callable[[int], int | None] | None:
        """Who creates each object of ``catalog``, as a function of its oid (None if no
        entry creates any): for a run of lookups, the arrays looked up once."""
        objects = self._catalogs.get(catalog)
        if objects is None:
            return None
        if objects.added:
            objects.sort()
        if objects.table is not None:
            return objects.table.get
        oids, owners, starts = objects.oids, objects.owners, objects.starts
        base, shift, last = objects.base, objects.shift, len(starts) - 1

        def find(oid: int) -> int | None:
            bucket = (oid - base) >> shift
            if bucket < 0 or bucket >= last:
                return None
            end = starts[bucket + 1]
            at = bisect_left(oids, oid, starts[bucket], end)
            return owners[at] if at < end and oids[at] == oid else None
        return find

    def extra_deps(self) -> Iterator[tuple[int, tuple[str, int]]]:
        """``(position, (catalog, oid))``: what the entries added need beyond pg_depend."""
        names = list(self._catalogs)
        for pos, needed in zip(self._needing, self._needed, strict=True):
            yield pos, (names[needed >> 32], needed & _LOW32)

    @classmethod
    def of(cls, entries: Sequence[TocEntry]) -> Owners:
        owners = cls()
        for pos, e in enumerate(entries):
            owners.add(e, pos)
        return owners


_LOW32 = 0xFFFFFFFF
DICT_OBJECTS = 50_000


class _Objects:
    """One catalog's objects and their owners' positions (for :class:`Owners`): added as
    ``oid << 32 | order of adding`` (12 bytes with the position), sorted on the first
    lookup after an :meth:`add` into ascending ``oids`` with their first ``owners`` (8
    bytes). ``starts`` cuts the oids into buckets of ``1 << shift`` oids from ``base``,
    ~16 objects each, so that a lookup bisects one bucket: a third of the time of
    bisecting all (a dict lookup takes a quarter of that). A catalog of up to
    DICT_OBJECTS objects is also looked up through a dict, ``table``: on 4000 chunks
    resolving pg_depend's 40 000 rows took 0.06 s through the buckets (~100 bytes an
    object more, 5 MB at most per catalog; past ~15 000 chunks pg_class keeps only these)."""

    __slots__ = ("added", "added_at", "base", "number", "oids", "owners", "shift", "starts",
                 "table")

    def __init__(self, number: int) -> None:
        self.number = number
        self.added = array("Q")
        self.added_at = array("i")  # the positions, by order of adding
        self.oids = array("I")
        self.owners = array("i")
        self.base = self.shift = 0
        self.starts = array("i", [0])  # bucket b: oids[starts[b]:starts[b + 1]]
        self.table: dict[int, int] | None = None

    def add(self, oid: int, pos: int) -> None:
        if self.oids and not self.added:  # sorted before: those were added first
            self.added = array("Q", [o << 32 | i for i, o in enumerate(self.oids)])
            self.added_at = self.owners
            self.oids, self.owners, self.table = array("I"), array("i"), None
        self.added.append(oid << 32 | len(self.added_at))
        self.added_at.append(pos)

    def sort(self) -> None:
        oids, owners, added_at = array("I"), array("i"), self.added_at
        for key in sorted(self.added):  # by oid, then by order of adding: the first wins
            oid = key >> 32
            if not oids or oids[-1] != oid:
                oids.append(oid)
                owners.append(added_at[key & _LOW32])
        self.oids, self.owners = oids, owners
        self.added, self.added_at = array("Q"), array("i")
        self.base = oids[0]
        self.shift = max(0, ((oids[-1] - self.base + 1) * 16 // len(oids)).bit_length() - 1)
        starts = self.starts = array("i", [0]) * (((oids[-1] - self.base) >> self.shift) + 2)
        for oid in oids:
            starts[((oid - self.base) >> self.shift) + 1] += 1
        for bucket in range(1, len(starts)):
            starts[bucket] += starts[bucket - 1]
        self.table = dict(zip(oids, owners, strict=True)) if len(oids) <= DICT_OBJECTS else None


def resolve_dependencies(
    entries: list[TocEntry],
    depend_rows: Iterable[tuple[str, int, str, int]],
    *,
    aliases: Mapping[tuple[str, int], tuple[str, int]] | None = None,
    owners: Owners | None = None,
) -> None:
    """Fill ``deps`` (as list positions) from pg_depend rows and each entry's ``extra_deps``.

    ``depend_rows`` are ``(catalog, oid, ref_catalog, ref_oid)``. Rows whose ends are not
    created by any entry (built-in objects) are ignored.

    ``aliases`` maps an object that no entry creates onto one that an entry does: an
    extension member onto its extension (``("pg_extension", oid)``). Depending on the
    member then means depending on the extension's entry, e.g. a table with a column of
    an extension's type, or a trigger calling a function of the extension.

    ``owners``: who creates what and who needs what beyond pg_depend, if already known
    (the dump's :class:`~pystream_migrate.catalog.compact.Keeper` records both as it
    reads the entries); else read from the entries' ``objects`` and ``extra_deps``.
    """
    owner_of = owners if owners is not None else Owners.of(entries)
    alias = aliases or {}
    ref_finders: dict[str, Callable[[int], int | None]] = {}

    def ref_finder(catalog: str) -> Callable[[int], int | None]:
        found = ref_finders.get(catalog)
        if found is None:
            found = ref_finders[catalog] = _ref_finder(owner_of, catalog, alias)
        return found

    needs = _Needs(len(entries))
    for cat, refcat, oids, ref_oids in _dependency_groups(depend_rows):
        find = owner_of.finder(cat)
        if find is None:
            continue
        find_ref = ref_finder(refcat)
        add = needs.add
        for oid, ref_oid in zip(oids, ref_oids, strict=True):
            a = find(oid)
            if a is not None:
                b = find_ref(ref_oid)
                if b is not None and a != b:
                    add(a, b)
    for pos, (refcat, refoid) in owner_of.extra_deps():
        b = ref_finder(refcat)(refoid)
        if b is not None and b != pos:
            needs.add(pos, b)
    for pos, found in needs.grouped():
        e = entries[pos]
        e.deps = tuple(sorted(set(found).union(e.deps)) if e.deps else found)


def _dependency_groups(
        rows: Iterable[tuple[str, int, str, int]]) -> Iterable[DependencyGroup]:
    """``rows`` as (catalog, referenced catalog, oids, referenced oids): a lookup of each
    catalog once per group rather than once per row. pg_depend's compact form
    (catalog/dependencies.py) has them grouped already."""
    groups = getattr(rows, "groups", None)
    if groups is not None:
        found: Iterable[DependencyGroup] = groups()
        return found
    by_pair: dict[tuple[str, str], tuple[list[int], list[int]]] = {}
    for cat, oid, refcat, refoid in rows:
        oids, ref_oids = by_pair.setdefault((cat, refcat), ([], []))
        oids.append(oid)
        ref_oids.append(refoid)
    return [(cat, refcat, oids, ref_oids)
            for (cat, refcat), (oids, ref_oids) in by_pair.items()]


def _ref_finder(owners: Owners, catalog: str,
                alias: Mapping[tuple[str, int], tuple[str, int]]) -> Callable[[int], int | None]:
    """Who creates an object of ``catalog``, or what it is an alias of (an extension's
    member: the extension)."""
    find = owners.finder(catalog)
    if not alias:
        return find or _nobody

    def find_or_alias(oid: int) -> int | None:
        pos = find(oid) if find is not None else None
        if pos is None:
            other = alias.get((catalog, oid))
            if other is not None:
                pos = owners.get(*other)
        return pos
    return find_or_alias


def _nobody(oid: int) -> None:
    return None


class _Needs:
    """Which position needs which, as one int each (needing above needed position), in
    up to 16 arrays by needing position: grouped one array at a time, so that sorting
    makes Python ints of a sixteenth of them at once (a set per entry would take ~200
    bytes each, for 300 000 entries at 100 000 chunks; a million needs in one sort,
    44 MB)."""

    def __init__(self, count: int) -> None:
        self._shift = max(0, (count - 1).bit_length() - 4)
        self._parts = [array("q") for _ in range(((count - 1) >> self._shift) + 1)]

    def add(self, needing: int, needed: int) -> None:
        self._parts[needing >> self._shift].append(needing << 32 | needed)

    def grouped(self) -> Iterator[tuple[int, list[int]]]:
        """Each needing position (ascending) with the positions it needs (ascending,
        each once)."""
        for part in self._parts:
            pos, last = -1, -1
            needed: list[int] = []
            for need in sorted(part):
                if need == last:
                    continue
                last = need
                if need >> 32 != pos:
                    if needed:
                        yield pos, needed
                    pos, needed = need >> 32, []
                needed.append(need & _LOW32)
            if needed:
                yield pos, needed
            del part[:]


def _lift_sections(entries: list[TocEntry]) -> None:
    """An entry cannot wait for a later section: move such dependencies earlier.

    For example a view that relies on a primary key (GROUP BY functional dependency)
    needs that constraint in pre-data, as pg_dump does.
    """
    changed = True
    while changed:
        changed = False
        for e in entries:
            for d in e.deps:
                dep = entries[d]
                if SECTION_RANK[dep.section] > SECTION_RANK[e.section]:
                    if dep.section is Section.DATA or e.section is Section.DATA:
                        # A data entry never moves; schema may wait for data only via
                        # a post-data entry such as MATERIALIZED VIEW DATA.
                        continue
                    dep.section = e.section
                    changed = True


def _find_cycle(remaining: set[int], entries: list[TocEntry]) -> list[int]:
    """Return one dependency cycle among ``remaining`` as positions, following deps."""
    # Walk from any node along deps inside remaining until a node repeats.
    start = min(remaining)
    path: list[int] = []
    seen: dict[int, int] = {}
    node = start
    while node not in seen:
        seen[node] = len(path)
        path.append(node)
        nxt = [d for d in entries[node].deps if d in remaining]
        if not nxt:  # not part of a cycle; restart from another remaining node
            remaining_wo = remaining - set(path)
            if not remaining_wo:
                return []
            node = min(remaining_wo)
            path, seen = [], {}
            continue
        node = min(nxt)
    return path[seen[node]:]


def _split(entries: list[TocEntry], pos: int, cycle: set[int]) -> None:
    """Split entry ``pos`` into a first part (without the cycle's deps) and a second part."""
    e = entries[pos]
    assert e.split_pre_sql is not None and e.split_post_sql is not None
    post = TocEntry(
        kind=e.info.get("split_kind", e.kind),
        schema=e.schema,
        name=e.name,
        section=e.section,
        create_sql=e.split_post_sql,
        deps=set(e.deps) | {pos},
        info={**e.info, "split_part": "post"},
        **{name: getattr(e, name) for name in TYPED_INFO},
    )
    e.create_sql = e.split_pre_sql
    e.deps = {d for d in e.deps if d not in cycle}
    e.split_pre_sql = e.split_post_sql = None
    e.info["split_part"] = "pre"
    # Entries that depended on the object keep depending on its first part (``pos``),
    # which breaks the cycle; only the second part keeps the cycle's dependencies.
    entries.append(post)


def sort_entries(entries: list[TocEntry]) -> list[TocEntry]:
    """Order entries for restore and renumber them 1..n; ``deps`` become entry ids.

    ``deps`` must hold list positions on input (as :func:`resolve_dependencies` leaves them).
    """
    _lift_sections(entries)
    while True:
        order = _topological_order(entries)
        if len(order) == len(entries):
            break
        remaining = set(range(len(entries))) - set(order)
        cycle = _find_cycle(remaining, entries)
        splittable = [p for p in cycle if entries[p].split_pre_sql is not None]
        if not splittable:
            raise DependencyCycle([entries[p].label for p in cycle] + [entries[cycle[0]].label])
        # Prefer splitting views, then anything else, as pg_dump does.
        splittable.sort(key=lambda p: (entries[p].kind != "VIEW", entries[p].priority, p))
        _split(entries, splittable[0], set(cycle))

    # Sections must be contiguous: order is by section first wherever deps allow, and
    # _lift_sections removed backward edges, so a stable sort by section keeps deps valid.
    by_section: dict[int, list[TocEntry]] = {r: [] for r in sorted(SECTION_RANK.values())}
    for p in order:
        by_section[SECTION_RANK[entries[p].section]].append(entries[p])
    result = [e for part in by_section.values() for e in part]
    del by_section
    for i, e in enumerate(result, 1):
        e.id = i
    # An entry's id is the one int object each of its dependents' deps refers to, and
    # deps alike are one tuple: every chunk's table needs its schema and hypertable, its
    # data and its index need its table (60 000 tuples -> 20 000 at 20 000 chunks).
    shared: dict[tuple[int, ...], tuple[int, ...]] = {}
    for e in result:
        deps = tuple(sorted({entries[d].id for d in e.deps}))
        e.deps = shared.setdefault(deps, deps)
    return result


def _topological_order(entries: list[TocEntry]) -> array[int]:
    """Positions, dependencies first and else by section, kind priority, schema, name
    and position; shorter than ``entries`` if some are in a dependency cycle.

    In arrays: indegree, each entry's dependents as one slice of ``targets`` (a list of
    lists took ~60 bytes an entry at 300 000 entries) and the heap's key as one int,
    the entry's rank in that order (a tuple took ~100 bytes, for the ~200 000 entries
    ready at once at 100 000 chunks).
    """
    n = len(entries)
    indegree = array("i", [0]) * n
    starts = array("i", [0]) * (n + 1)  # dependents of d: targets[starts[d]:starts[d+1]]
    for pos, e in enumerate(entries):
        indegree[pos] = len(e.deps)
        for d in e.deps:
            starts[d + 1] += 1
    for d in range(n):
        starts[d + 1] += starts[d]
    targets = array("i", [0]) * starts[n]
    filled = array("i", starts)
    for pos, e in enumerate(entries):
        for d in e.deps:
            targets[filled[d]] = pos
            filled[d] += 1
    del filled
    rank, at_rank = _ranks(entries)
    heap = [rank[p] for p in range(n) if indegree[p] == 0]
    heapq.heapify(heap)
    order = array("i")
    while heap:
        pos = at_rank[heapq.heappop(heap)]
        order.append(pos)
        for at in range(starts[pos], starts[pos + 1]):
            nxt = targets[at]
            indegree[nxt] -= 1
            if indegree[nxt] == 0:
                heapq.heappush(heap, rank[nxt])
    return order


def _ranks(entries: list[TocEntry]) -> tuple[array[int], array[int]]:
    """Each position's rank by (section, kind priority, schema, name, position), and the
    position at each rank. Sorted one (section, priority) group at a time, so that the
    tuple keys of one group (100 000 chunk tables) exist at once, not of all entries."""
    groups: dict[tuple[int, int], array[int]] = {}
    for pos, e in enumerate(entries):
        key = (SECTION_RANK[e.section], e.priority)
        found = groups.get(key)
        if found is None:
            found = groups[key] = array("i")
        found.append(pos)
    rank = array("i", [0]) * len(entries)
    at_rank = array("i")
    for group in sorted(groups):
        members = groups.pop(group)
        keys = [(entries[p].schema or "", entries[p].name, p) for p in members]
        keys.sort()  # no key function: a third less time than sorted(key=...)
        for _, _, pos in keys:
            rank[pos] = len(at_rank)
            at_rank.append(pos)
        del keys
    return rank, at_rank
