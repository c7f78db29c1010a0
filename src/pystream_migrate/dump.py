"""Dump: one exported snapshot, catalog queries, N COPY workers, one archive writer.

The leader opens a REPEATABLE READ READ ONLY transaction, exports its snapshot, locks
the non-chunk tables (see catalog/sql/lockable_tables.sql), reads the catalog and
writes the header and TOC. The extension configuration tables (TimescaleDB's catalog)
are copied first, serially, so that they precede every chunk in the stream. Then N
workers copy the remaining tables and chunks, largest first, each in its own short
transaction under the leader's snapshot, and hand their bytes to the archive writer.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import re
import stat
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import psycopg
from psycopg import sql

from pystream_migrate import __version__, portable
from pystream_migrate.allocator import fix_mmap_threshold, limit_arenas
from pystream_migrate.archive import ArchiveWriter
from pystream_migrate.archive.format import DEFAULT_LEVEL, MAX_DOCUMENT_SIZE, RecordTooLarge
from pystream_migrate.archive.writer import EntryName
from pystream_migrate.catalog import Catalog, read_catalog
from pystream_migrate.catalog.queries import fetch_all
from pystream_migrate.collector import collector_held_back
from pystream_migrate.connection import connect, describe_target
from pystream_migrate.dump_data import Copier, close_readers, copy_all, open_readers
from pystream_migrate.errors import Interrupted, MigrateError, PreconditionFailed, Terminated
from pystream_migrate.progress import make_progress
from pystream_migrate.relroles import RelationRoles
from pystream_migrate.selection import (
    Selection,
    data_excluded,
    select_entries,
    selection_from_args,
)
from pystream_migrate.session import begin_snapshot, configure_reader
from pystream_migrate.timescale import (
    EXTENSION_INFO_COLUMNS,
    INSPECT_QUERIES,
    TimescaleInfo,
    annotate,
    info_of,
    inspect_source,
    relation_roles,
)
from pystream_migrate.toc import Section, TocEntry, entry_size


@dataclass
class DumpOptions:
    dsn: str
    file: str
    jobs: int = 2
    compress: int = DEFAULT_LEVEL
    schema_only: bool = False
    data_only: bool = False
    exclude_table_data: list[str] = field(default_factory=list)
    copy_format: str = "text"
    verbose: int = 0
    progress: str = "none"
    selection: Selection = field(default_factory=Selection)
    portable: bool = False

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> DumpOptions:
        return cls(
            dsn=args.dbname,
            file=args.file,
            jobs=getattr(args, "jobs", 2),
            compress=getattr(args, "compress", DEFAULT_LEVEL),
            schema_only=getattr(args, "schema_only", False),
            data_only=getattr(args, "data_only", False),
            exclude_table_data=list(getattr(args, "exclude_table_data", []) or []),
            copy_format=getattr(args, "copy_format", "text"),
            verbose=getattr(args, "verbose", 0),
            progress=getattr(args, "progress", "none"),
            selection=selection_from_args(args),
            portable=getattr(args, "portable", False),
        )


@dataclass
class DumpResult:
    entries: int
    data_entries: int
    rows: int
    raw_bytes: int
    archive_bytes: int
    unsupported: list[str]
    warnings: list[str]


Log = Callable[[str], None]


def _stderr_log(verbose: int) -> Log:
    def log(msg: str) -> None:
        if verbose:
            print(f"pystream-migrate: {msg}", file=sys.stderr, flush=True)

    return log


def run_dump(args: argparse.Namespace) -> int:
    opts = DumpOptions.from_args(args)
    result = dump_database(opts, log=_stderr_log(opts.verbose))
    for item in result.unsupported:
        print(f"pystream-migrate: warning: not carried: {item}", file=sys.stderr)
    for w in result.warnings:
        print(f"pystream-migrate: warning: {w}", file=sys.stderr)
    return 0


def _source_facts(conn: psycopg.Connection) -> tuple[dict[str, Any], TimescaleInfo]:
    """The header's "source" facts and TimescaleDB's (what timescale.extension_info
    reads, in a round trip of its own): one query, one round trip."""
    row = conn.execute(
        "SELECT current_database(), pg_catalog.current_setting('server_version'), "
        "pg_catalog.pg_encoding_to_char(encoding), datcollate, datctype, "
        "(SELECT pg_catalog.json_object_agg(extname, extversion) "
        "FROM pg_catalog.pg_extension), " + EXTENSION_INFO_COLUMNS + " "
        "FROM pg_catalog.pg_database WHERE datname = current_database()"
    ).fetchone()
    assert row is not None
    exts: dict[str, str] = dict(row[5] or {})
    return {
        "database": row[0],
        "server_version": row[1],
        "server_version_num": conn.info.server_version,
        "encoding": row[2],
        "collate": row[3],
        "ctype": row[4],
        "extensions": exts,
    }, info_of(*row[6:9])


def _lock_tables(conn: psycopg.Connection, skip: list[int]) -> int:
    rows = fetch_all(conn, "lockable_tables", {"skip": skip})
    # One statement per batch keeps round trips few; every lock stays held to the end.
    batch = 500
    for i in range(0, len(rows), batch):
        # ONLY: without it, locking a hypertable would lock every one of its chunks.
        names = [sql.SQL("ONLY {}").format(sql.SQL(r["qualified"])) for r in rows[i : i + batch]]
        conn.execute(
            sql.SQL("LOCK TABLE {} IN ACCESS SHARE MODE").format(sql.SQL(", ").join(names))
        )
    return len(rows)


def _binary_fallbacks(conn: psycopg.Connection, relids: list[int]) -> set[int]:
    return {int(r["relid"]) for r in fetch_all(conn, "binary_copy", {"relids": relids})}


_FD_DIRECTORY = re.compile(r"/proc/[^/]+/fd")  # where /dev/stdout and /dev/fd/N lead
_MAX_LINKS = 40  # as the kernel's ELOOP limit


def _destination(path: str) -> tuple[str, bool]:
    """Where ``path`` really leads, and whether it must be written in place.

    Symlinks are followed one by one (a dangling one to the file it names). A path that
    goes through a file descriptor (``/dev/stdout``, ``/dev/fd/63`` from ``>(cmd)``) or
    ends at anything but a regular file (a FIFO, ``/dev/null``) is written in place:
    there is no rename to make atomic, and a rename would destroy it.
    """
    current = os.path.abspath(path)
    for _ in range(_MAX_LINKS):
        parent = os.path.realpath(os.path.dirname(current))
        current = os.path.join(parent, os.path.basename(current))
        if _FD_DIRECTORY.fullmatch(parent):
            return current, True
        if not os.path.islink(current):
            break
        current = os.path.join(parent, os.readlink(current))
    else:
        raise MigrateError(f"cannot write {path}: too many levels of symbolic links")
    try:
        mode = os.stat(current).st_mode
    except FileNotFoundError:
        return current, False
    except OSError as exc:
        raise MigrateError(f"cannot write {path}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(mode):
        raise MigrateError(f"{path} is a directory", hint="give a file name with -f")
    return current, not stat.S_ISREG(mode)


class _Output:
    """The archive's destination: stdout; a regular FILE, written as FILE.partial then
    renamed; or anything else (a FIFO, a device, ``/dev/fd/N``), written in place."""

    def __init__(self, path: str) -> None:
        """Nothing is made yet (:meth:`open`): the caller holds this object before any
        file exists, so that an interrupt landing anywhere after can remove it."""
        self.path = path
        self.fh: BinaryIO | None = None
        self.tmp: str | None = None
        self.final = path

    def open(self) -> None:
        if self.path == "-":
            self.fh = sys.stdout.buffer
            return
        self.final, in_place = _destination(self.path)
        target = self.final if in_place else self.final + ".partial"
        # Known before the file exists: an interrupt (SIGTERM, Ctrl-C) that lands as it
        # is made still removes it (abort).
        self.tmp = None if in_place else target
        try:
            self.fh = open(target, "wb")  # noqa: SIM115 - closed in commit/abort
        except OSError as exc:
            self.tmp = None
            raise MigrateError(f"cannot write {self.path}: {exc.strerror or exc}") from None

    def commit(self) -> None:
        assert self.fh is not None
        self.fh.flush()
        if self.path == "-":
            return
        if self.tmp is not None:
            os.fsync(self.fh.fileno())
        self.fh.close()
        if self.tmp is not None:
            os.replace(self.tmp, self.final)

    def interrupted(self, exc: KeyboardInterrupt) -> Interrupted:
        """What an interrupt left: nothing, or an incomplete stream the reader must drop."""
        how = "by SIGTERM" if isinstance(exc, Terminated) else "by Ctrl-C"
        if self.tmp is not None:
            return Interrupted(f"the dump was interrupted {how}; {self.path} was not written",
                               hint="run the dump again")
        where = "standard output" if self.path == "-" else self.path
        return Interrupted(f"the dump was interrupted {how}; the archive written to {where} "
                           "is incomplete", hint="its reader sees it as truncated; run the "
                           "dump again")

    def abort(self) -> None:
        if self.path == "-":
            return
        if self.fh is not None:
            with contextlib.suppress(OSError):
                self.fh.close()
        if self.tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.tmp)


def _write_error(exc: OSError, path: str) -> MigrateError:
    where = "standard output" if path == "-" else path
    if exc.errno == errno.ENOSPC:
        return MigrateError(
            f"disk full while writing {where}",
            hint="free space or write the archive elsewhere; nothing was kept",
        )
    if exc.errno == errno.EPIPE:
        return MigrateError(f"the reader of {where} went away (broken pipe)")
    return MigrateError(f"cannot write {where}: {exc.strerror or exc}")


def _too_large(entries: int) -> MigrateError:
    return MigrateError(
        f"the table of contents of {entries} entries is more than the archive format's "
        f"{MAX_DOCUMENT_SIZE >> 20} MiB of header allows (about 1.7 kB a chunk); nothing "
        "was kept",
        hint="dump the database in parts with -n/-N/-t/-T (a hypertable's chunks go with it)",
    )


def dump_database(opts: DumpOptions, *, log: Log | None = None) -> DumpResult:
    with collector_held_back():  # see collector.py
        return _dump_database(opts, log or (lambda _m: None))


def _dump_database(opts: DumpOptions, log: Log) -> DumpResult:
    limit_arenas()  # before any thread: see allocator.py
    fix_mmap_threshold()  # large transient buffers out of the heap: allocator.py
    # The workers' connections open while the leader connects and reads the catalog;
    # the first ones help read it (catalog/prefetch.py).
    readers = open_readers(opts.dsn, max(1, opts.jobs))
    try:
        leader = connect(opts.dsn)
    except BaseException:
        close_readers(readers)
        raise
    try:
        return _dump(leader, readers, opts, log)
    except psycopg.errors.InsufficientPrivilege as exc:
        # Locking the tables, a catalog query: whatever the role may not read.
        raise PreconditionFailed(
            f"the dumping role {leader.info.user!r} lacks a privilege on the source: "
            f"{exc.diag.message_primary}",
            hint="dump as a superuser or a role with pg_read_all_data",
        ) from None
    finally:
        close_readers(readers)
        leader.close()


CATALOG_ATTEMPTS = 3
CATALOG_HELPERS = 2  # at most, and never more than --jobs


def _snapshot_and_catalog(
    leader: psycopg.Connection, readers: list[Future[psycopg.Connection]],
    opts: DumpOptions, log: Log
) -> tuple[str, dict[str, Any], TimescaleInfo, RelationRoles, Catalog]:
    """Take the snapshot, lock, read the catalog; start over if the schema changed meanwhile.

    The server's pg_get_*def helpers read the current catalog, not the snapshot. A table
    dropped between the snapshot and its definition being read (drop_chunks, for one:
    chunks cannot all be locked) makes them fail with "cache lookup failed"; a new
    snapshot no longer has that table.
    """
    configure_reader(leader)
    # Connections that run the heaviest catalog queries ahead (catalog/prefetch.py);
    # they become workers afterwards.
    helpers = [fut.result() for fut in readers[:min(opts.jobs, CATALOG_HELPERS)]]
    return _read_source(leader, helpers, opts, log)


def _read_source(
    leader: psycopg.Connection, helpers: list[psycopg.Connection], opts: DumpOptions,
    log: Log,
) -> tuple[str, dict[str, Any], TimescaleInfo, RelationRoles, Catalog]:
    for attempt in range(1, CATALOG_ATTEMPTS + 1):
        snapshot = begin_snapshot(leader)
        try:
            if helpers:  # each import is a round trip: all at once
                with ThreadPoolExecutor(len(helpers)) as pool:
                    list(pool.map(begin_snapshot, helpers, [snapshot] * len(helpers)))
            facts, tsinfo = _source_facts(leader)
            roles = relation_roles(leader, tsinfo)
            locked = _lock_tables(leader, roles.chunk_relids())
            log(f"snapshot {snapshot} on {describe_target(opts.dsn)}; locked {locked} tables")
            catalog = read_catalog(leader, helpers,
                                   ahead=INSPECT_QUERIES if tsinfo.version else ())
            inspect_source(leader, tsinfo, catalog)
            return snapshot, facts, tsinfo, roles, catalog
        except (psycopg.errors.InternalError_, psycopg.errors.UndefinedTable) as exc:
            leader.rollback()
            for h in helpers:
                h.rollback()
            if attempt == CATALOG_ATTEMPTS:
                raise MigrateError(
                    f"the source's schema kept changing while it was read "
                    f"({exc.diag.message_primary})",
                    hint="run the dump again when no DDL or retention job is running",
                ) from None
            log(f"the schema changed while it was read ({exc.diag.message_primary}); "
                "starting again from a new snapshot")
    raise AssertionError("unreachable")


def _documents(entries: list[TocEntry]) -> Iterator[dict[str, Any]]:
    """The TOC's documents, letting go of each entry once it is written (``entries`` is
    emptied): only the data entries stay, in the caller's own list. At 100 000 chunks
    the others take some 60 MB, which the header's encoding and the footer's index then
    reuse."""
    entries.reverse()
    while entries:
        yield entries.pop().to_json()


def _header(facts: dict[str, Any], tsinfo: TimescaleInfo, opts: DumpOptions,
            catalog: Catalog) -> dict[str, Any]:
    """The archive header's document, without its TOC."""
    return {
        "tool": "pystream-migrate",
        "tool_version": __version__,
        "source": {**facts, "timescaledb": tsinfo.version,
                   "timescaledb_license": tsinfo.license},
        "portable": opts.portable,
        "options": {"schema_only": opts.schema_only, "data_only": opts.data_only,
                    "copy_format": opts.copy_format, "compress": opts.compress},
        "unsupported": [u.to_json() for u in catalog.unsupported],
        "warnings": list(catalog.warnings),
    }


# TOC entries from which the header is encoded by two children at once: on 4000
# chunks (16 446 entries) one child's 0.27 s of encoding outlasted the copy's 0.27 s
# by 0.05-0.2 s, all of it waited for.
HEADER_SPLIT = 4096


# TOC entries below which the parent lets go of them only once the header is written
# (ArchiveWriter's release): freed while the header's children still share their pages,
# each page touched is copied, 45 ms of the leader's time on 4000 chunks (16 446
# entries). A larger TOC is let go of at once, its memory reused by the data phase: held,
# the dump's peak RSS at 100 000 chunks went from 223 to 277 MB.
HOLD_TOC_BELOW = 20_000


def _open_writer(out: _Output, header: dict[str, Any], entries: list[TocEntry],
                 opts: DumpOptions, log: Log) -> ArchiveWriter:
    """The archive's writer, its header on the way; ``entries`` is emptied, once the
    header is written for a TOC of fewer than HOLD_TOC_BELOW entries."""
    # The header is encoded by a child process while the workers copy (headerjob.py):
    # the writer gets each id with its data entry's name from here.
    names = {e.id: EntryName(e.kind, e.schema, e.name) if e.copy is not None else None
             for e in entries}
    assert out.fh is not None
    # A large TOC in two halves, each encoded by a child of its own (both cores while
    # the workers copy).
    tail = entries[len(entries) // 2:] if len(entries) >= HEADER_SPLIT else []
    del entries[len(entries) - len(tail):]

    def release() -> None:
        # Encoded by the children (or here, letting go of each entry): only the data
        # entries stay, in the caller's ``data``; the memory freed holds the data phase's.
        entries.clear()
        tail.clear()

    held = len(entries) + len(tail) < HOLD_TOC_BELOW
    writer = ArchiveWriter(out.fh, header, _documents(entries), level=opts.compress,
                           names=names, built=True,
                           toc_tail=(len(entries), _documents(tail)) if tail else None,
                           release=release if held else None)
    del names
    if not held:
        release()
    log("header and TOC: " + ("encoded by a child process while the data is copied"
                              if writer.header_in_child else "written"))
    return writer


def _abort(writer: ArchiveWriter | None, out: _Output) -> None:
    if writer is not None:
        writer.abort()
    out.abort()


def _dump(leader: psycopg.Connection, readers: list[Future[psycopg.Connection]],
          opts: DumpOptions, log: Log) -> DumpResult:
    snapshot, facts, tsinfo, roles, catalog = _snapshot_and_catalog(leader, readers, opts,
                                                                    log)
    entries = annotate(catalog.entries, roles)
    if opts.portable:  # portable mode (portable/): TimescaleDB objects as API steps
        entries = portable.dump_entries(leader, roles, entries)
    if opts.schema_only:
        # TimescaleDB's catalog is part of the schema: without it a hypertable would
        # come back as a plain table with orphaned chunks.
        entries = [e for e in entries if e.section is not Section.DATA or e.extconfig]
    elif opts.data_only:
        entries = [e for e in entries if e.section is Section.DATA]
    entries = select_entries(entries, opts.selection)
    entries = [e for e in entries if not data_excluded(e, opts.exclude_table_data)]
    data = [e for e in entries if e.copy is not None]
    if opts.copy_format == "binary":
        fallback = _binary_fallbacks(leader, [e.relid for e in data if e.relid is not None])
        for e in data:
            e.copy_format = "text" if e.relid in fallback else "binary"
    log(f"catalog: {len(entries)} entries, {len(data)} with data, "
        f"{len(catalog.unsupported)} unsupported")

    header = _header(facts, tsinfo, opts, catalog)
    dropped: list[TocEntry] = []
    warnings = list(catalog.warnings)
    out = _Output(opts.file)  # opened inside the try: no interrupt can miss the file
    writer: ArchiveWriter | None = None
    entry_count = len(entries)
    try:
        out.open()
        catalog.entries = []
        writer = _open_writer(out, header, entries, opts, log)
        with make_progress(opts.progress) as progress:
            progress.phase("dump", total_bytes=sum(entry_size(e) for e in data),
                           total_entries=len(data))
            copier = Copier(writer, progress, snapshot, log, opts.verbose)
            copy_all(copier, leader, readers, data)
            writer.wait_header()  # a failure to write it stops this phase
            stats, dropped = copier.stats, copier.dropped
        for e in dropped:
            warnings.append(f"{e.label} was dropped while the dump ran (a retention policy "
                            "or drop_chunks); restore leaves this chunk out")
        writer.finish({
            "entries": entry_count,
            "dropped_chunks": [{"entry": e.id, "schema": e.copy.schema if e.copy else None,
                                "table": e.copy.table if e.copy else None} for e in dropped],
            "warnings": warnings,
        })
        out.commit()
    except OSError as exc:
        _abort(writer, out)
        raise _write_error(exc, opts.file) from None
    except RecordTooLarge:
        _abort(writer, out)
        raise _too_large(entry_count) from None
    except KeyboardInterrupt as exc:
        _abort(writer, out)
        raise out.interrupted(exc) from None
    except BaseException:
        _abort(writer, out)
        raise
    leader.rollback()
    rows = sum(s.rows for s in stats)
    raw = sum(s.raw_bytes for s in stats)
    log(f"dumped {rows} rows ({raw} bytes raw) into {writer.bytes_written} archive bytes")
    return DumpResult(
        entries=entry_count,
        data_entries=len(data),
        rows=rows,
        raw_bytes=raw,
        archive_bytes=writer.bytes_written,
        unsupported=[u.describe() for u in catalog.unsupported],
        warnings=warnings,
    )
