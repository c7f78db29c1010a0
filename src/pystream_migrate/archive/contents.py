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

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pystream_migrate.archive.format import MAX_JSON_DEPTH, Footer, FormatViolation, check_depth

SECTIONS = frozenset({"pre-data", "data", "post-data"})
COPY_FORMATS = frozenset({"text", "binary"})
_I64 = (-(1 << 63), (1 << 63) - 1)

Check = Callable[[Any], bool]


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and _I64[0] <= value <= _I64[1]


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
    return lambda value: isinstance(value, list) and all(check(item) for item in value)


def _one_of(choices: frozenset[str]) -> Check:
    return lambda value: isinstance(value, str) and value in choices


def _object(value: Any) -> bool:
    return isinstance(value, dict)


# (check, what the value must be). None as a value is only allowed where said.
_TEXT = (_str, "a string")
_OPT_TEXT = (_optional(_str), "a string or null")
_INT = (_int, "an integer")
_OPT_INT = (_optional(_int), "an integer or null")
_COUNT = (_count, "a non-negative integer")
_FLAG = (_bool, "true or false")
_INTS = (_list_of(_int), "a list of integers")

ENTRY_REQUIRED = {
    "kind": (_name, "a non-empty string"),
    "name": _TEXT,
    "section": (_one_of(SECTIONS), "one of " + ", ".join(sorted(SECTIONS))),
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
    "copy": (_optional(_object), "an object or null"),
    "info": (_object, "an object"),
}
COPY_REQUIRED = {
    "schema": _TEXT,
    "table": _TEXT,
    "columns": (_list_of(_str), "a list of strings"),
}
COPY_OPTIONAL = {"where": _OPT_TEXT}
# The members of "info" that restore, selection and TimescaleDB's handling read.
INFO_OPTIONAL = {
    "oid": _OPT_INT,
    "relid": _OPT_INT,
    "table_oid": _OPT_INT,
    "hypertable_relid": _OPT_INT,
    "ref_table_oids": (_optional(_list_of(_int)), "a list of integers or null"),
    "est_bytes": (_optional(_count), "a non-negative integer or null"),
    "est_rows": _OPT_INT,
    "fk_order": _INT,
    "extconfig": _FLAG,
    "chunk": _FLAG,
    "hypertable": _FLAG,
    "after_data": _FLAG,
    "copy_format": (_one_of(COPY_FORMATS), "text or binary"),
    "jobs": _INTS,
    "features": (_list_of(_str), "a list of strings"),
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
    "source": (_object, "an object"),
    "options": (_object, "an object"),
    "unsupported": (_list_of(_object), "a list of objects"),
    "warnings": (_list_of(_str), "a list of strings"),
}
SOURCE_OPTIONAL = {
    "database": _OPT_TEXT,
    "server_version": _OPT_TEXT,
    "server_version_num": _OPT_INT,
    "encoding": _OPT_TEXT,
    "collate": _OPT_TEXT,
    "ctype": _OPT_TEXT,
    "extensions": (_object, "an object"),
    "timescaledb": _OPT_TEXT,
    "timescaledb_license": _OPT_TEXT,
}
UNSUPPORTED_REQUIRED = {"kind": _TEXT, "name": _TEXT, "reason": _TEXT}
UNSUPPORTED_OPTIONAL = {"schema": _OPT_TEXT}
EXTRA_OPTIONAL = {
    "entries": _COUNT,
    "warnings": (_list_of(_str), "a list of strings"),
    "dropped_chunks": (_list_of(_object), "a list of objects"),
}
DROPPED_REQUIRED = {"entry": _INT, "schema": _OPT_TEXT, "table": _OPT_TEXT}


@dataclass(frozen=True)
class _Schema:
    """Members of one kind of JSON object: those it must have, and those it may have."""

    required: Mapping[str, tuple[Check, str]]
    optional: Mapping[str, tuple[Check, str]]
    known: Mapping[str, tuple[Check, str]] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "known", {**self.optional, **self.required})


ENTRY = _Schema(ENTRY_REQUIRED, ENTRY_OPTIONAL)
COPY = _Schema(COPY_REQUIRED, COPY_OPTIONAL)
INFO = _Schema({}, INFO_OPTIONAL)
HEADER = _Schema({}, HEADER_OPTIONAL)
SOURCE = _Schema({}, SOURCE_OPTIONAL)
UNSUPPORTED = _Schema(UNSUPPORTED_REQUIRED, UNSUPPORTED_OPTIONAL)
EXTRA = _Schema({}, EXTRA_OPTIONAL)
DROPPED = _Schema(DROPPED_REQUIRED, {})


def _members(doc: Mapping[str, Any], where: str, schema: _Schema) -> None:
    """Required members present, known members of their type, the others not too deep."""
    for key in schema.required:
        if key not in doc:
            raise FormatViolation(f'{where} has no "{key}"')
    known = schema.known
    for key, value in doc.items():
        spec = known.get(key)
        if spec is None:
            if isinstance(value, (dict, list)):
                check_depth(value, MAX_JSON_DEPTH, f'{where}: "{key}"')
        elif not spec[0](value):
            raise FormatViolation(f'{where}: "{key}" must be {spec[1]}')


def check_entry(entry: Mapping[str, Any]) -> None:
    """One TOC entry (its id was checked by ``index_toc``)."""
    where = f"TOC entry {entry['id']}"
    _members(entry, where, ENTRY)
    copy = entry.get("copy")
    if copy is not None:
        _members(copy, f'{where}: "copy"', COPY)
        if entry["section"] != "data":
            raise FormatViolation(f'{where}: only data entries have a "copy"')
    elif entry["kind"] == "TABLE DATA":
        raise FormatViolation(f'{where}: a TABLE DATA entry needs a "copy" object')
    if "info" in entry:
        _members(entry["info"], f'{where}: "info"', INFO)


def check_dependencies(toc: Mapping[int, Mapping[str, Any]]) -> None:
    """Dependencies on entries of the TOC must not form a cycle (restore would wait forever).

    Dependencies on ids the TOC does not hold (entries a dump's selection left out) are
    ignored, as restore ignores them.
    """
    deps = {entry_id: {d for d in entry.get("deps", ()) if d in toc and d != entry_id}
            for entry_id, entry in toc.items()}
    waiting = {entry_id: len(needs) for entry_id, needs in deps.items()}
    dependents: dict[int, list[int]] = {}
    for entry_id, needs in deps.items():
        for d in needs:
            dependents.setdefault(d, []).append(entry_id)
    ready = [entry_id for entry_id, n in waiting.items() if n == 0]
    done = 0
    while ready:
        entry_id = ready.pop()
        done += 1
        for nxt in dependents.get(entry_id, ()):
            waiting[nxt] -= 1
            if waiting[nxt] == 0:
                ready.append(nxt)
    if done != len(toc):
        stuck = sorted(entry_id for entry_id, n in waiting.items() if n)
        raise FormatViolation(f"TOC entries {_few(stuck)} depend on each other in a cycle")


def check_header(document: Mapping[str, Any], toc: Mapping[int, Mapping[str, Any]]) -> None:
    """The header's own members (without "toc"), and every TOC entry."""
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
    for entry in toc.values():
        check_entry(entry)
    check_dependencies(toc)


def holds_data(entry: Mapping[str, Any] | None) -> bool:
    """Whether a TOC entry may have block and entry-end records: it has a "copy"."""
    return entry is not None and entry.get("copy") is not None


def check_footer(footer: Footer, toc: Mapping[int, Mapping[str, Any]]) -> None:
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
