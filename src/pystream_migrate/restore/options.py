"""What to restore: the restore's options, its result, and the entries the options select."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Container
from dataclasses import dataclass, field

from pystream_migrate.errors import PreconditionFailed
from pystream_migrate.selection import Selection, select_entries, selection_from_args
from pystream_migrate.toc import TocEntry

Log = Callable[[str], None]


@dataclass
class RestoreOptions:
    dsn: str
    file: str
    jobs: int = 2
    no_owner: bool = False
    no_privileges: bool = False
    no_tablespaces: bool = False
    clean: bool = False
    if_exists: bool = False
    create: bool = False
    sections: list[str] = field(default_factory=list)
    schema_only: bool = False
    data_only: bool = False
    exit_on_error: bool = False  # stop at the first failure (default: keep going)
    resume: bool = False
    analyze: bool = True
    use_list: str | None = None
    verify_archive: bool = True
    selection: Selection = field(default_factory=Selection)
    verbose: int = 0
    progress: str = "none"
    mode: str | None = None  # --mode: catalog or portable (default: the archive's)
    decompress: bool = False  # portable mode: compressed chunks load uncompressed

    @classmethod
    def from_args(cls, a: argparse.Namespace) -> RestoreOptions:
        return cls(
            dsn=a.dbname, file=a.file, jobs=getattr(a, "jobs", 2),
            no_owner=getattr(a, "no_owner", False),
            no_privileges=getattr(a, "no_privileges", False),
            no_tablespaces=getattr(a, "no_tablespaces", False),
            clean=getattr(a, "clean", False), if_exists=getattr(a, "if_exists", False),
            create=getattr(a, "create", False), sections=list(getattr(a, "section", []) or []),
            schema_only=getattr(a, "schema_only", False),
            data_only=getattr(a, "data_only", False),
            exit_on_error=getattr(a, "exit_on_error", False),
            resume=getattr(a, "resume", False), analyze=not getattr(a, "no_analyze", False),
            use_list=getattr(a, "use_list", None), verbose=getattr(a, "verbose", 0),
            verify_archive=not getattr(a, "skip_archive_check", False),
            selection=selection_from_args(a),
            progress=getattr(a, "progress", "none"),
            mode=getattr(a, "mode", None), decompress=getattr(a, "decompress", False),
        )


@dataclass
class RestoreResult:
    entries: int = 0
    rows: int = 0
    resumed: int = 0  # already done by an interrupted run (--resume)
    # One line per item that failed, naming it and quoting the server's message.
    errors: list[str] = field(default_factory=list)
    # One line per item left out because something it needs failed.
    skipped: list[str] = field(default_factory=list)


class Every(Container[int]):
    """Every entry: what :func:`select` gives when no option narrows it (a set of every
    id of 300 000 entries would take ~20 MB)."""

    def __contains__(self, _id: object) -> bool:
        return True


def select(entries: list[TocEntry], o: RestoreOptions) -> Container[int]:
    """The ids of the entries the options ask for (sections, -L list, -n/-t filters)."""
    sections = set(o.sections)
    if o.schema_only:
        sections |= {"pre-data", "post-data"}
    if o.data_only:
        sections |= {"data"}
    listed = read_list_file(o.use_list) if o.use_list else None
    if not sections and listed is None and not o.selection.active:
        return Every()
    chosen = set()
    allowed = {e.id for e in select_entries(entries, o.selection)}
    for e in entries:
        if e.id not in allowed:
            continue
        if o.schema_only and e.extconfig:
            pass  # TimescaleDB's catalog belongs to the schema (see dump --schema-only)
        elif sections and str(e.section) not in sections:
            continue
        if listed is not None and e.id not in listed:
            continue
        chosen.add(e.id)
    return chosen


def read_list_file(path: str) -> set[int]:
    """Entry ids from a list file made by 'list' (lines starting with ';' are comments)."""
    ids: set[int] = set()
    try:
        with open(path, encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                text = line.split(";", 1)[0].strip()
                if not text:
                    continue
                head = text.split()[0]
                if not head.isdigit():
                    raise PreconditionFailed(f"{path}:{n}: expected an entry id, got {head!r}")
                ids.add(int(head))
    except OSError as exc:
        raise PreconditionFailed(f"cannot read the list file {path}: {exc.strerror}") from None
    return ids
