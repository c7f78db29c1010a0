"""The state one restore shares between its phases, and its record of what failed.

The error policy lives here: a failed entry is recorded with the server's message and
the restore goes on (pg_restore's default), or with ``--exit-on-error`` the first
failure stops it. Entries that need a failed or skipped entry are skipped and recorded.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import psycopg

from pystream_migrate import portable
from pystream_migrate.archive import ArchiveReader
from pystream_migrate.compactentry import CompactEntry
from pystream_migrate.errors import MigrateError
from pystream_migrate.progress import Progress, make_progress
from pystream_migrate.restore import state
from pystream_migrate.restore.options import Log, RestoreOptions, RestoreResult, select
from pystream_migrate.toc import Section, TocEntry, entry_size


class ConnectionLost(MigrateError):
    """The connection to the target broke: nothing more can run on it."""


def server_message(exc: BaseException) -> str:
    """The server's one-line message for an error (or the error's first line)."""
    if isinstance(exc, psycopg.Error) and exc.diag and exc.diag.message_primary:
        return exc.diag.message_primary
    text = str(exc)
    return text.splitlines()[0] if text else repr(exc)


class RestoreContext:
    def __init__(self, opts: RestoreOptions, reader: ArchiveReader, log: Log) -> None:
        self.opts = opts
        self.reader = reader
        self.log = log
        self.header = reader.header
        if all(isinstance(e, (TocEntry, CompactEntry)) for e in reader.toc):  # entry_reader()
            self.entries: list[TocEntry] = reader.toc
            self.by_id: Mapping[int, TocEntry] = reader.toc_by_id
        else:
            self.entries = [TocEntry.from_json(d) for d in reader.toc]
            self.by_id = {e.id: e for e in self.entries}
        self.source: dict[str, Any] = self.header.get("source", {})
        self.result = RestoreResult()
        self.lock = threading.Lock()
        self.done: set[int] = set()  # finished by an interrupted run (--resume)
        self.selected = select(self.entries, opts)
        self.identity = state.archive_identity(self.header)
        self.ts_schema: str | None = None
        self.progress: Progress = make_progress("none")
        # Chunks dropped on the source while the dump ran (from the archive's footer).
        self.dropped_chunks: list[dict[str, Any]] = []
        self.hypertable_oids = {int(e.info["oid"]) for e in self.entries
                                if e.kind == "TABLE" and e.info.get("hypertable")
                                and e.info.get("oid") is not None}
        # TimescaleDB's catalog tables' entries, and whether their load has begun and not
        # (yet, or ever) completed: half a catalog must not go live (restoring_mode.leave).
        # Portable mode (portable/): no TimescaleDB catalog, no restoring mode.
        self.portable_mode = portable.archive_mode(self.header, opts.mode) == "portable"
        self.portable: portable.PortableRestore | None = None
        self.catalog_ids: set[int] = set()
        self.catalog_incomplete = False
        self.failed: dict[int, str] = {}  # entry id -> its line in the final report
        self.skipped: dict[int, int] = {}  # entry id -> the failed entry that caused it

    def size(self, e: TocEntry) -> int:
        """:func:`entry_size`: a data entry's size as a file archive's footer measured it
        (0 without data there), else the source's estimate."""
        if self.reader.seekable and e.section is Section.DATA:
            return self.reader.raw_bytes(e.id) or 0
        return entry_size(e)

    def todo(self, e: TocEntry) -> bool:
        """Selected, and not finished by an interrupted run (counted as resumed then)."""
        if e.id not in self.selected:
            return False
        if e.id in self.done:
            self.result.resumed += 1
            return False
        return True

    # ----------------------------------------------------------------- error policy
    def fail(self, e: TocEntry, exc: BaseException, what: str,
             conn: psycopg.Connection | None = None, *, key: int | None = None) -> None:
        """Record a failed entry; raise with --exit-on-error or when the connection is gone.

        ``key`` is the id it is recorded under (an ANALYZE item's is minus its entry's).
        """
        text = f"{what} of {e.label} (entry {e.id}) failed: {server_message(exc)}"
        with self.lock:
            self.failed[e.id if key is None else key] = text
            self.result.errors.append(text)
        if conn is not None and (conn.broken or conn.closed):
            raise ConnectionLost(text, hint="the connection to the target was lost")
        if self.opts.exit_on_error:
            if isinstance(exc, MigrateError):
                raise exc
            raise MigrateError(text) from None

    def blocked_by(self, e: TocEntry) -> int | None:
        """A failed or skipped entry this one needs, if any."""
        with self.lock:
            for d in sorted(e.deps):
                if d in self.failed:
                    return d
                if d in self.skipped:
                    return self.skipped[d]
        return None

    def skip(self, e: TocEntry, cause: int, what: str = "", *, key: int | None = None) -> None:
        """Record an entry left out because ``cause`` failed."""
        culprit = self.by_id.get(abs(cause))
        because = f"{culprit.label} (entry {culprit.id})" if culprit else f"entry {cause}"
        if cause < 0:
            because = f"ANALYZE of {because}"
        label = f"{what} of {e.label}" if what else e.label
        key = e.id if key is None else key
        with self.lock:
            if key in self.skipped or key in self.failed:
                return
            self.skipped[key] = cause
            self.result.skipped.append(
                f"{label} (entry {e.id}) skipped: it needs {because}, which failed")

    def unfinished(self) -> set[int]:
        """Entries that failed or were skipped: a later step that needs one skips itself."""
        with self.lock:
            return set(self.failed) | set(self.skipped)
