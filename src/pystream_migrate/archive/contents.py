"""Schema checks of what a dump stores in an archive: header, TOC entries and footer extra.

The byte layout (``format.py``) makes sure every byte is the one that was written; this
module makes sure the JSON documents hold what list, verify and restore rely on, with the
types they expect, before any of them uses it. An archive built to hurt (valid checksums,
hostile contents) then fails here with a one-line error rather than later with a
traceback, a hang or a silently empty table. The rules are written out in
``docs/archive-format.md`` ("Contents"); keep the two in step.

Members this module does not know are accepted and left alone, so that a newer dump
can add some; known members must have their documented types. Problems raise
:class:`~pystream_migrate.archive.format.FormatViolation`.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple, cast

from pystream_migrate.archive.byid import ById
from pystream_migrate.archive.format import MAX_JSON_DEPTH, Footer, FormatViolation, check_depth

SECTIONS = frozenset({"pre-data", "data", "post-data"})
COPY_FORMATS = frozenset({"text", "binary"})
_I64 = (-(1 << 63), (1 << 63) - 1)

Check = Callable[[Any], bool]


def _int(value: Any) -> bool:
    if type(value) is int:  # the common case first
        return _I64[0] <= value <= _I64[1]
    return isinstance(value, int) and not isinstance(value, bool) and _I64[0] <= value <= _I64[1]


def _ints(value: Any) -> bool:
    """A list of integers: the common case (only ints) at C speed, by type, min and max."""
    if not isinstance(value, list):
        return False
    if not value:
        return True
    if set(map(type, value)) == {int}:
        return bool(_I64[0] <= min(value) and max(value) <= _I64[1])
    return all(map(_int, value))


def _count(value: Any) -> bool:
    return _int(value) and value >= 0


def _bool(value: Any) -> bool:
    return isinstance(value, bool)


def _str(value: Any) -> bool:
    return isinstance(value, str)


def _name(value: Any) -> bool:
    return isinstance(value, str) and value != ""


def _optional(check: Check) -> Check:
    return lambda value: value is None or check(value)


def _list_of(check: Check) -> Check:
    return lambda value: isinstance(value, list) and all(map(check, value))


def _one_of(choices: frozenset[str]) -> Check:
    return lambda value: isinstance(value, str) and value in choices


def _object(value: Any) -> bool:
    return isinstance(value, dict)


class _Spec(NamedTuple):
    """What a member's value must be: ``check`` says whether it is; values of the types
    in ``sure`` pass without the call (most do: checking a TOC entry is on the dump's
    and the restore's path once per entry, 300 000 times at 100 000 chunks)."""

    check: Check
    what: str
    sure: frozenset[type] = frozenset()


def _spec(check: Check, what: str, *sure: type) -> _Spec:
    return _Spec(check, what, frozenset(sure))


# None as a value is only allowed where said.
_TEXT = _spec(_str, "a string", str)
_OPT_TEXT = _spec(_optional(_str), "a string or null", str, type(None))
_INT = _spec(_int, "an integer")
_OPT_INT = _spec(_optional(_int), "an integer or null", type(None))
_COUNT = _spec(_count, "a non-negative integer")
_FLAG = _spec(_bool, "true or false", bool)
_INTS = _spec(_ints, "a list of integers")
_OBJECT = _spec(_object, "an object", dict)

ENTRY_REQUIRED = {
    "kind": _spec(_name, "a non-empty string"),
    "name": _TEXT,
    "section": _spec(_one_of(SECTIONS), "one of " + ", ".join(sorted(SECTIONS))),
}
ENTRY_OPTIONAL = {
    "schema": _OPT_TEXT,
    "owner": _OPT_TEXT,
    "tablespace": _OPT_TEXT,
    "create_sql": _TEXT,
    "drop_sql": _TEXT,
    "owner_sql": _TEXT,
    "acl_sql": _TEXT,
    "comment_sql": _TEXT,
    "deps": _INTS,
    "copy": _spec(_optional(_object), "an object or null", dict, type(None)),
    "info": _OBJECT,
}
COPY_REQUIRED = {
    "schema": _TEXT,
    "table": _TEXT,
    "columns": _spec(_list_of(_str), "a list of strings"),
}
COPY_OPTIONAL = {"where": _OPT_TEXT}
# The members of "info" that restore, selection and TimescaleDB's handling read.
INFO_OPTIONAL = {
    "oid": _OPT_INT,
    "relid": _OPT_INT,
    "table_oid": _OPT_INT,
    "hypertable_relid": _OPT_INT,
    "ref_table_oids": _spec(_optional(_ints), "a list of integers or null",
                            type(None)),
    "est_bytes": _spec(_optional(_count), "a non-negative integer or null", type(None)),
    "est_rows": _OPT_INT,
    "fk_order": _INT,
    "extconfig": _FLAG,
    "chunk": _FLAG,
    "hypertable": _FLAG,
    "after_data": _FLAG,
    "copy_format": _spec(_one_of(COPY_FORMATS), "text or binary"),
    "jobs": _INTS,
    "features": _spec(_list_of(_str), "a list of strings"),
    "schema": _OPT_TEXT,
    "extension": _OPT_TEXT,
    "comment": _OPT_TEXT,
    "split_kind": _TEXT,
}
HEADER_OPTIONAL = {
    "tool": _TEXT,
    "tool_version": _TEXT,
    "created_at": _TEXT,
    "created": _TEXT,  # written next to created_at by earlier dumps
    "source": _OBJECT,
    "options": _OBJECT,
    "unsupported": _spec(_list_of(_object), "a list of objects"),
    "warnings": _spec(_list_of(_str), "a list of strings"),
}
SOURCE_OPTIONAL = {
    "database": _OPT_TEXT,
    "server_version": _OPT_TEXT,
    "server_version_num": _OPT_INT,
    "encoding": _OPT_TEXT,
    "collate": _OPT_TEXT,
    "ctype": _OPT_TEXT,
    "extensions": _OBJECT,
    "timescaledb": _OPT_TEXT,
    "timescaledb_license": _OPT_TEXT,
}
UNSUPPORTED_REQUIRED = {"kind": _TEXT, "name": _TEXT, "reason": _TEXT}
UNSUPPORTED_OPTIONAL = {"schema": _OPT_TEXT}
EXTRA_OPTIONAL = {
    "entries": _COUNT,
    "warnings": _spec(_list_of(_str), "a list of strings"),
    "dropped_chunks": _spec(_list_of(_object), "a list of objects"),
}
DROPPED_REQUIRED = {"entry": _INT, "schema": _OPT_TEXT, "table": _OPT_TEXT}


@dataclass(frozen=True)
class _Schema:
    """Members of one kind of JSON object: those it must have, and those it may have."""

    required: Mapping[str, _Spec]
    optional: Mapping[str, _Spec]
    known: Mapping[str, _Spec] = field(init=False)
    required_keys: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "known", {**self.optional, **self.required})
        object.__setattr__(self, "required_keys", frozenset(self.required))


ENTRY = _Schema(ENTRY_REQUIRED, ENTRY_OPTIONAL)
COPY = _Schema(COPY_REQUIRED, COPY_OPTIONAL)
INFO = _Schema({}, INFO_OPTIONAL)
HEADER = _Schema({}, HEADER_OPTIONAL)
SOURCE = _Schema({}, SOURCE_OPTIONAL)
UNSUPPORTED = _Schema(UNSUPPORTED_REQUIRED, UNSUPPORTED_OPTIONAL)
EXTRA = _Schema({}, EXTRA_OPTIONAL)
DROPPED = _Schema(DROPPED_REQUIRED, {})


# Where a document is, for a message: text, or a function that makes it (only when a
# message is made: formatting it for each TOC entry cost more than checking it).
Where = str | Callable[[], str]


def _text(where: Where) -> str:
    return where if isinstance(where, str) else where()


def _members(doc: Mapping[str, Any], where: Where, schema: _Schema) -> None:
    """Required members present, known members of their type, the others not too deep."""
    if not schema.required_keys <= doc.keys():
        missing = next(key for key in schema.required if key not in doc)
        raise FormatViolation(f'{_text(where)} has no "{missing}"')
    known = schema.known
    for key, value in doc.items():
        spec = known.get(key)
        if spec is None:
            if isinstance(value, (dict, list)):
                check_depth(value, MAX_JSON_DEPTH, lambda: f'{_text(where)}: "{key}"')  # noqa: B023 (called at once)
        elif type(value) not in spec.sure and not spec.check(value):
            raise FormatViolation(f'{_text(where)}: "{key}" must be {spec.what}')


def check_entry(entry: Mapping[str, Any]) -> None:
    """One TOC entry (its id was checked by :class:`TocIndex`)."""
    where = _entry_where(entry)
    _members(entry, where, ENTRY)
    _copy_and_info(entry, where)


def _entry_where(entry: Mapping[str, Any]) -> Callable[[], str]:
    return lambda: f"TOC entry {entry['id']}"


def _copy_and_info(entry: Mapping[str, Any], where: Callable[[], str]) -> None:
    copy = entry.get("copy")
    if copy is not None:
        _members(copy, lambda: f'{where()}: "copy"', COPY)
        if entry["section"] != "data":
            raise FormatViolation(f'{where()}: only data entries have a "copy"')
    elif entry["kind"] == "TABLE DATA":
        raise FormatViolation(f'{where()}: a TABLE DATA entry needs a "copy" object')
    if "info" in entry:
        _members(entry["info"], lambda: f'{where()}: "info"', INFO)


# The members of a TOC entry that its builder (TocEntry.document, which the dump's
# header is made of) takes from catalog rows; the others come from typed slots: ids
# and dependencies are positions, the section an enum, the SQL texts strings.
_BUILT_FROM_ROWS = ("kind", "schema", "name", "owner", "tablespace")


def check_built_entry(entry: Mapping[str, Any]) -> None:
    """What :func:`check_entry` checks of an entry the dump built (with every member
    :meth:`~pystream_migrate.toc.TocEntry.document` writes): the members taken from
    catalog rows, "copy" and "info". Five times cheaper, on the header's path once per
    entry (0.075 s of the header child's 0.3 s for 16 446 entries)."""
    known = ENTRY.known
    for key in _BUILT_FROM_ROWS:
        value = entry[key]
        spec = known[key]
        if type(value) not in spec.sure and not spec.check(value):
            raise FormatViolation(f'TOC entry {entry["id"]}: "{key}" must be {spec.what}')
    _copy_and_info(entry, _entry_where(entry))


class TocIndex:
    """TOC entries checked one at a time as they stream past, then as a whole.

    :meth:`add` checks an entry's id and members and keeps ``keep(entry)`` under its id
    (the document itself by default; the archive writer keeps a name, restore its own
    compact entry); :meth:`finish` checks that the dependencies form no cycle. Only the
    dependencies are kept on the side until then, as flat integer arrays: the
    documents themselves need not stay alive.
    """

    def __init__(self, keep: Callable[[dict[str, Any]], Any] | None = None,
                 check: Callable[[dict[str, Any]], None] = check_entry) -> None:
        self.by_id = ById()
        self._keep = keep
        self._check = check
        self._deps = array("q")  # every entry's deps, one after the other
        self._ends = array("q")  # where each entry's deps end in _deps
        # Whether every entry so far depends only on lower ids: then no cycle can form
        # (following dependencies, ids only fall; every dump's TOC is so); the full
        # check runs only otherwise.
        self._backwards = True

    def add(self, entry: Any) -> Any:
        """Check one entry (in TOC order) and return what is kept of it."""
        position = len(self.by_id)
        if not isinstance(entry, dict):
            raise FormatViolation(f"TOC item {position} is not an object")
        entry_id: int = entry.get("id")  # type: ignore[assignment]  # checked next
        if not _int(entry_id) or entry_id < 1:  # 0 is the header's; see archive-format.md
            raise FormatViolation(f"TOC item {position} has no integer id"
                                  if not isinstance(entry_id, int) or isinstance(entry_id, bool)
                                  else f"TOC item {position} has an id out of range "
                                       f"({entry_id}; ids are positive)")
        if entry_id in self.by_id:
            raise FormatViolation(f"TOC id {entry_id} appears more than once")
        self._check(entry)
        deps = entry.get("deps", ())
        if self._backwards and deps and max(deps) >= entry_id:
            self._backwards = False
        self._deps.extend(deps)
        self._ends.append(len(self._deps))
        kept = entry if self._keep is None else self._keep(entry)
        self.by_id.add(entry_id, kept)
        return kept

    def depends_back(self) -> bool:
        """Whether every entry so far depends only on lower ids: a TOC in parts whose
        every part does so has no cycle across them either."""
        return self._backwards

    def finish(self) -> dict[int, Any]:
        """:meth:`finish_by_id`, as a dict."""
        return dict(self.finish_by_id())

    def finish_by_id(self) -> ById:
        """Check the dependencies as a whole; return the kept entries by id. ``keep``
        and what it shares while reading (e.g. strings) are let go first: they are
        not needed any more, and the check needs memory of its own: if ``keep`` has a
        ``finished`` method, it is called."""
        finished = getattr(self._keep, "finished", None)
        if finished is not None:
            finished()
        self._keep = None
        try:
            if not self._backwards:
                _check_acyclic(self.by_id, self._deps, self._ends)
        finally:
            self._deps, self._ends = array("q"), array("q")
        return self.by_id


def _check_acyclic(ids: ById, deps: array[int], ends: array[int]) -> None:
    """Dependencies on entries of the TOC must not form a cycle (restore would wait
    forever). Dependencies on ids the TOC does not hold (entries a dump's selection left
    out) are ignored, as restore ignores them. Flat arrays, not a set per entry: this
    runs over every entry of a TOC with 100 000 chunks."""
    n = len(ids)
    first_id = ids.first_id()
    table = None if first_id is not None else {entry_id: i for i, entry_id in enumerate(ids)}

    def position(entry_id: int) -> int | None:
        if table is not None:
            return table.get(entry_id)
        at = entry_id - cast(int, first_id)
        return at if 0 <= at < n else None

    # Positions and counts fit 32 bits (a TOC of 2**31 entries would not fit in memory).
    waiting = array("i", bytes(4 * n))
    first = array("i", bytes(4 * (n + 2)))  # dependents of i: first[i + 1] .. first[i + 2]
    sources, targets = array("i"), array("i")  # each dependency: d -> i
    start = 0
    for i in range(n):
        end = ends[i]
        for k in range(start, end):
            d = position(deps[k])
            if d is not None and d != i:
                sources.append(d)
                targets.append(i)
                waiting[i] += 1
                first[d + 2] += 1
        start = end
    for i in range(2, n + 2):
        first[i] += first[i - 1]
    dependents = array("i", bytes(4 * len(sources)))
    for d, i in zip(sources, targets, strict=True):
        dependents[first[d + 1]] = i
        first[d + 1] += 1
    del sources, targets
    ready = [i for i in range(n) if waiting[i] == 0]
    done = 0
    while ready:
        i = ready.pop()
        done += 1
        for k in range(first[i], first[i + 1]):
            j = dependents[k]
            waiting[j] -= 1
            if waiting[j] == 0:
                ready.append(j)
    if done != n:
        stuck = sorted(entry_id for i, entry_id in enumerate(ids) if waiting[i])
        raise FormatViolation(f"TOC entries {_few(stuck)} depend on each other in a cycle")


def check_header(document: Mapping[str, Any]) -> None:
    """The header's own members (without "toc"; its entries go through TocIndex)."""
    _members(document, "the header", HEADER)
    if "options" in document:
        check_depth(document["options"], MAX_JSON_DEPTH, 'the header\'s "options"')
    if "source" in document:
        _members(document["source"], 'the header\'s "source"', SOURCE)
        extensions = document["source"].get("extensions", {})
        if not all(isinstance(v, str) for v in extensions.values()):
            raise FormatViolation('the header\'s "source": "extensions" must map names to '
                                  "versions")
    for position, item in enumerate(document.get("unsupported", ())):
        _members(item, f'the header\'s "unsupported" item {position}',
                 UNSUPPORTED)


def holds_data(entry: Any) -> bool:
    """Whether a TOC entry may have block and entry-end records: it has a "copy".

    ``entry`` is a TOC document, or what a :class:`TocIndex` kept of one: an object
    with a ``copy`` attribute, or None."""
    if isinstance(entry, Mapping):
        return entry.get("copy") is not None
    return getattr(entry, "copy", None) is not None


def check_footer(footer: Footer, toc: Mapping[int, Any]) -> None:
    """The footer's "extra", and that every data entry's rows are there or accounted for."""
    extra = footer.extra
    _members(extra, 'the footer\'s "extra"', EXTRA)
    dropped: set[int] = set()
    for position, item in enumerate(extra.get("dropped_chunks", ())):
        _members(item, f'the footer\'s "dropped_chunks" item {position}', DROPPED)
        dropped.add(item["entry"])
    for entry_id in footer.entries:
        if not holds_data(toc.get(entry_id)):
            raise FormatViolation(f"entry {entry_id} has data but no \"copy\" in the TOC")
    missing = sorted(entry_id for entry_id, entry in toc.items()
                     if holds_data(entry) and entry_id not in footer.entries
                     and entry_id not in dropped)
    if missing:
        which = "entry" if len(missing) == 1 else "entries"
        raise FormatViolation(f"data {which} {_few(missing)} without data, not recorded as "
                              "dropped during the dump")


def _few(ids: Iterable[int]) -> str:
    ids = list(ids)
    shown = ", ".join(str(i) for i in ids[:5])
    return shown + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
