"""Writing an archive: strictly sequential, from several threads at once.

An :class:`ArchiveWriter` appends records to a binary file object that only needs
``write`` and ``flush`` (a pipe or stdout is fine: it never seeks or asks for its position).
Each worker thread holds its own :class:`EntryWriter`; compression runs in that thread,
outside the lock, and only the append of finished records is serialised. Memory stays
bounded by one block buffer per open entry plus the index kept for the footer.
"""

from __future__ import annotations

import bisect
import pickle
import sys
import threading
import zlib
from array import array
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from functools import partial
from itertools import chain
from types import TracebackType
from typing import Any, BinaryIO, NamedTuple, TypeVar

import zstandard

from pystream_migrate import __version__
from pystream_migrate.archive import headerjob
from pystream_migrate.archive.contents import (
    TocIndex,
    check_built_entry,
    check_entry,
    check_footer,
    check_header,
    holds_data,
)
from pystream_migrate.archive.footerindex import FooterIndex
from pystream_migrate.archive.format import (
    DEFAULT_BLOCK_SIZE,
    DEFAULT_LEVEL,
    MAX_BLOCK_SIZE,
    EntryStats,
    Footer,
    FormatViolation,
    RecordTooLarge,
    RecordType,
    describe_entry,
    encode_record,
    is_count,
    make_compressor,
    pack_preamble,
    pack_trailer,
    stats_json,
)
from pystream_migrate.archive.header import Staged, assemble, encode_listed, stage
from pystream_migrate.errors import ArchiveError

_MAX_SEQ = 0xFFFFFFFF
# Compressed data kept while the header is encoded by a child (headerjob.py) before the
# workers wait for it: 4 000 small chunks are ~1.5 MB; a large table fills it in
# seconds, then waits as it did before the header moved to the child. Each record kept
# also costs a closure and its bytes objects: HELD_ITEM bytes are counted for those.
HELD_MAX = 16 << 20
HELD_ITEM = 400
# Records written together up to this many bytes are joined into one write (a copy of
# the bytes; a large block is written as it is).
_JOIN_MAX = 64 << 10



T = TypeVar("T")


class EntryName(NamedTuple):
    """What the writer (and ``verify FILE``) keeps of a TOC document: its name for
    messages, and whether it holds data."""

    kind: Any
    schema: Any
    name: Any
    copy: bool | None = True  # True: it has a "copy"; None: it has none (holds_data)


def entry_name(doc: dict[str, Any]) -> EntryName:
    """The :class:`EntryName` of a TOC document (``verify FILE`` keeps one per entry)."""
    return EntryName(doc.get("kind"), doc.get("schema"), doc.get("name"),
                     True if doc.get("copy") is not None else None)


def _name_if_data(doc: dict[str, Any]) -> EntryName | None:
    """Data entries' names; nothing of the others (a dump has 100 000s of them)."""
    return None if doc.get("copy") is None else entry_name(doc)


def _checked(run: Callable[[], T]) -> T:
    """``run()``, what is wrong with the header or TOC as ValueError (RecordTooLarge: a
    TOC past the format's limit)."""
    try:
        return run()
    except FormatViolation as exc:
        raise ValueError(f"invalid header or TOC: {exc}") from None
    except RecordTooLarge:
        raise
    except (TypeError, ValueError) as exc:
        raise ValueError(f"header or TOC is not JSON-serialisable: {exc}") from None


# One part of the TOC, given to ArchiveWriter's children: its documents, and the ids
# they must have, in order (None: any).
TocPart = tuple[Iterable[dict[str, Any]], list[int] | None]


def _staged(part: TocPart, built: bool, kept: dict[int, Any] | None = None) -> Staged:
    """A part of the TOC, checked and staged for header.assemble (what a reader would
    refuse is never written; ``built``: documents of TocEntry.document, checked by
    contents.check_built_entry); ``kept`` gets every id with its data entry's name.

    A part of a TOC in several parts must hold its share of the writer's ids, in their
    order (no id twice across parts), and its entries must depend on lower ids only
    (every dump's TOC is so): no part's cycle check sees the others. Raises ValueError
    (RecordTooLarge: a TOC past the format's limit)."""
    docs, ids = part
    index = TocIndex(keep=_no_name if kept is None else _name_if_data,
                     check=check_built_entry if built else check_entry)
    expected = iter(ids or ())

    def add(doc: dict[str, Any]) -> None:
        if ids is not None and (not isinstance(doc, dict)
                                or doc.get("id") != next(expected, None)):
            raise FormatViolation("a TOC encoded in parts must hold the ids it was "
                                  "announced with, in their order")
        index.add(doc)

    def encode() -> Staged:
        staged = stage(RecordType.HEADER, docs, add)
        found = index.finish_by_id()  # the dependency check
        if kept is not None:
            kept.update(found.items())
        if ids is not None and next(expected, None) is not None:
            raise FormatViolation("a TOC encoded in parts must hold the ids it was "
                                  "announced with, in their order")
        if ids is not None and not index.depends_back():
            raise FormatViolation("a TOC encoded in parts must have each entry depend "
                                  "on lower ids only")
        return staged
    return _checked(encode)


def _no_name(doc: dict[str, Any]) -> None:
    return None


def _pickled_part(part: TocPart, built: bool) -> bytes:
    """:func:`_staged`, for the parent (run in a child: headerjob.py)."""
    return pickle.dumps(_staged(part, built), protocol=pickle.HIGHEST_PROTOCOL)


def _again(exc: BaseException) -> BaseException:
    """A new exception like ``exc``, for another thread to raise (OSError: its errno)."""
    if isinstance(exc, OSError):
        return type(exc)(exc.errno, exc.strerror) if exc.errno else type(exc)(str(exc))
    return type(exc)(str(exc))


def open_output(path: str) -> BinaryIO:
    """Open where an archive goes: ``"-"`` is standard output, anything else a new file."""
    if path == "-":
        return sys.stdout.buffer
    return open(path, "wb")


class ArchiveWriter:
    """Writes one archive to ``fileobj``; see ``docs/archive-format.md``.

    The preamble and header record are written by the constructor. Entries are then
    opened with :meth:`open_entry`, written (possibly from several threads, one
    :class:`EntryWriter` per thread) and closed; :meth:`finish` writes the footer and the
    trailer. ``fileobj`` is flushed but never closed.
    """

    def __init__(
        self,
        fileobj: BinaryIO,
        header: dict[str, Any],
        toc: Iterable[dict[str, Any]],
        *,
        level: int = DEFAULT_LEVEL,
        block_size: int = DEFAULT_BLOCK_SIZE,
        names: Mapping[int, EntryName | None] | None = None,
        built: bool = False,
        toc_tail: tuple[int, Iterable[dict[str, Any]]] | None = None,
        release: Callable[[], None] | None = None,
    ) -> None:
        """``names``: every TOC id with its data entry's name (None for the others), as
        the TOC's documents will give them. With it, the header is encoded by a forked
        child where that is safe (``headerjob.py``) and the data written meanwhile
        waits in memory, up to HELD_MAX; :meth:`finish` raises what the child found.
        ``built``: the TOC's documents are :meth:`TocEntry.document`'s, whose members
        from typed slots need no check (see contents.check_built_entry).
        ``toc_tail``: (how many entries ``toc`` gives, the rest of the TOC), with
        ``names`` (in TOC order): ``toc`` and the rest are encoded by two children at
        once (see _staged).
        ``release``: called once the header is written (or has failed), on the thread
        that wrote it: the caller lets go there of what the TOC's documents are made
        of. Let go of any sooner, every object freed would copy its page, still shared
        with the children (copy-on-write): 45 ms of the leader's time on 4000 chunks."""
        if not 1 <= block_size <= MAX_BLOCK_SIZE:
            raise ValueError(f"block_size must be between 1 and {MAX_BLOCK_SIZE}")
        if "toc" in header:
            raise ValueError('the header must not contain a "toc" key; pass the TOC separately')
        document = dict(header)
        document.setdefault("tool_version", __version__)
        document.setdefault("created_at", datetime.now(UTC).isoformat(timespec="seconds"))
        self._file = fileobj
        self._level = level
        self._block_size = block_size
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)  # the header is written
        self._local = threading.local()
        self._position = 0
        self._failure: BaseException | None = None
        self._finished = False
        self._open: dict[int, EntryWriter] = {}
        # The closed entries' footer items, in arrays (~90 bytes each instead of ~500:
        # 100 000 of them at 100 000 chunks).
        self._closed = FooterIndex()
        # While the header is encoded elsewhere: the appends that wait for it, in order.
        self._held: list[Callable[[], None]] | None = None
        self._held_bytes = 0
        self._job: headerjob.HeaderJob | None = None
        self._header_error: BaseException | None = None
        self._document = document
        self._release = release
        _checked(lambda: check_header(document))
        if names is None:  # encoded here, the names kept as they pass
            kept: dict[int, Any] = {}
            whole = _staged((toc if toc_tail is None else chain(toc, toc_tail[1]), None),
                            built, kept)
            self._index(kept)
            del kept
            self._append_raw((pack_preamble(), *self._assemble([whole])))
            self._let_go()
            return
        self._index(names)
        parts: list[TocPart] = [(toc, None)]
        if toc_tail is not None:
            ids = list(names)
            parts = [(toc, ids[:toc_tail[0]]), (toc_tail[1], ids[toc_tail[0]:])]
            del ids
        self._held = []
        self._job = headerjob.start([partial(_pickled_part, part, built) for part in parts],
                                    self._header_done)
        if self._job is None:  # no child: encoded here, one part after the other
            self._held = None
            staged = [_staged(part, built) for part in parts]
            self._append_raw((pack_preamble(), *self._assemble(staged)))
            self._let_go()

    def _let_go(self) -> None:
        release, self._release = self._release, None
        if release is not None:
            release()

    def _index(self, kept: Mapping[int, Any]) -> None:
        # Every id, for open_entry's message (8 bytes each, sorted); the names of the
        # data entries only (a dump has 100 000s of the others).
        self._ids = array("q", sorted(kept))
        self._toc: dict[int, EntryName] = {k: v for k, v in kept.items() if v is not None}

    def _assemble(self, parts: list[Staged]) -> tuple[bytes, ...]:
        compressor = make_compressor(self._level)
        return _checked(lambda: assemble(compressor, RecordType.HEADER, self._document,
                                         "toc", parts))

    def _header_done(self, payloads: list[headerjob.Payload] | None,
                     error: BaseException | None) -> None:
        """The children's parts of the header (or an error) arrived: write the header,
        then what waited. What fails here (a child's ValueError, a full disk) no writer
        saw: each raises it."""
        record = None
        if error is None and payloads is not None:
            try:  # outside the lock: the workers go on holding their data meanwhile
                # From this process's own children, through its own pipes; each let go
                # of once read (at 100 000 chunks a part is ~10 MB).
                parts: list[Staged] = []
                while payloads:
                    parts.append(pickle.loads(payloads.pop(0)))
                record = self._assemble(parts)
                del parts
            except ValueError as exc:
                error = exc
        with self._lock:
            try:
                if error is not None:
                    raise error
                if self._failure is None and record is not None:
                    self._write_locked((pack_preamble(), *record))
                    for append in self._held or ():
                        append()
            except BaseException as exc:
                self._header_error = exc
                self._failure = self._failure or exc
            finally:
                self._held = None
                self._ready.notify_all()
        self._let_go()  # the children have exited: no page is shared any more

    @property
    def header_in_child(self) -> bool:
        """Whether a forked child encodes the header (see ``names``)."""
        return self._job is not None

    def wait_header(self) -> None:
        """Wait until the header is written (encoded by a child: see ``names``); raise
        what stopped it."""
        if self._job is not None:
            self._job.wait()
        with self._lock:
            self._check_usable()

    def abort(self) -> None:
        """Stop encoding the header in the background, if it still runs (the dump
        failed: what is written is thrown away)."""
        if self._job is not None:
            self._job.kill()

    @property
    def bytes_written(self) -> int:
        """Bytes appended to the output so far."""
        return self._position

    @property
    def block_size(self) -> int:
        return self._block_size

    def describe(self, entry_id: int) -> str:
        return describe_entry(entry_id, self._toc.get(entry_id))

    def compressor(self) -> zstandard.ZstdCompressor:
        """The calling thread's compressor (zstd contexts must not be shared)."""
        cctx: zstandard.ZstdCompressor | None = getattr(self._local, "cctx", None)
        if cctx is None:
            cctx = make_compressor(self._level)
            self._local.cctx = cctx
        return cctx

    def open_entry(self, entry_id: int) -> EntryWriter:
        """Start the data of a TOC entry; each id may be opened once. Thread-safe."""
        at = bisect.bisect_left(self._ids, entry_id)
        if at == len(self._ids) or self._ids[at] != entry_id:
            raise ValueError(f"entry {entry_id} is not in the archive's TOC")
        if not holds_data(self._toc.get(entry_id)):
            raise ValueError(f'{self.describe(entry_id)} has no "copy": it cannot have data')
        with self._lock:
            if self._finished:
                raise ValueError("the archive is already finished")
            if entry_id in self._open or entry_id in self._closed:
                raise ValueError(f"{self.describe(entry_id)} was already opened")
            writer = EntryWriter(self, entry_id)
            self._open[entry_id] = writer
        return writer

    def finish(self, extra: dict[str, Any] | None = None) -> None:
        """Write the footer (index + ``extra``) and the trailer, then flush.

        Every opened entry must have been closed; otherwise the archive would be
        incomplete and :class:`ArchiveError` names the entries.
        """
        self.wait_header()
        with self._lock:
            self._check_usable()
            if self._open:
                names = ", ".join(self.describe(entry_id) for entry_id in sorted(self._open))
                raise ArchiveError(
                    f"cannot finish the archive: {names} was opened but never closed",
                    hint="a dump worker failed; the archive is incomplete, re-run the dump",
                )
            try:
                check_footer(Footer(self._closed, dict(extra or {})), self._toc)
            except FormatViolation as exc:
                raise ValueError(f"invalid footer: {exc}") from None
            try:
                record = encode_listed(self.compressor(), RecordType.FOOTER,
                                       {"extra": dict(extra or {})}, "entries",
                                       self._closed.documents())
            except RecordTooLarge:
                raise
            except (TypeError, ValueError) as exc:
                raise ValueError(f"footer extra is not JSON-serialisable: {exc}") from None
            footer_offset = self._position
            self._write_locked(record)
            self._write_locked((pack_trailer(footer_offset, sum(map(len, record))),))
            self._finished = True
            try:
                self._file.flush()
            except BaseException as exc:
                self._failure = exc
                raise

    # --- used by EntryWriter ------------------------------------------------------------

    def _append_raw(self, chunks: tuple[bytes, ...]) -> int:
        """Append ``chunks`` as one unit; return the offset of the first byte."""
        with self._lock:
            self._check_usable()
            return self._write_locked(chunks)

    def _append(self, entry: EntryWriter, record: tuple[bytes, bytes]) -> None:
        """Append a block of ``entry`` (now, or once the header is written)."""
        with self._lock:
            self._check_usable()

            def append() -> None:
                entry._placed(self._write_locked(record), record)
            self._now_or_held(append, len(record[1]))

    def _append_end(self, entry: EntryWriter, last: tuple[bytes, bytes] | None,
                    end: tuple[bytes, bytes], stats: EntryStats) -> None:
        """Append an entry's last block (if any) and its entry-end record; index it."""
        with self._lock:
            self._check_usable()
            del self._open[entry.entry_id]

            def append() -> None:
                # One write for both: a small table's whole data is these two records.
                if last is not None:
                    entry._placed(self._position, last)
                    offset = self._write_locked((*last, *end)) + len(last[0]) + len(last[1])
                else:
                    offset = self._write_locked(end)
                self._closed.add_entry(stats, entry._offsets, entry._lengths, offset,
                                       len(end[0]) + len(end[1]))
            self._now_or_held(append, len(end[1]) + (len(last[1]) if last else 0))

    def _now_or_held(self, append: Callable[[], None], size: int) -> None:
        """Run ``append`` (under the lock), or keep it for when the header is written;
        past HELD_MAX bytes kept, wait for that."""
        if self._held is None:
            append()
            return
        self._held.append(append)
        self._held_bytes += size + HELD_ITEM
        while self._held is not None and self._held_bytes > HELD_MAX:
            self._ready.wait()
        self._check_usable()

    def _check_usable(self) -> None:
        if self._header_error is not None:  # as if this thread had met it
            raise _again(self._header_error)
        if self._failure is not None:
            raise ArchiveError(
                f"cannot write to the archive: an earlier write failed ({self._failure!r})",
                hint="check the output (disk space, broken pipe) and re-run the dump",
            )
        if self._finished:
            raise ValueError("the archive is already finished")

    def _write_locked(self, chunks: tuple[bytes, ...]) -> int:
        """Write ``chunks`` one after the other (joined, when together they are small:
        one call instead of four for a small table's two records); their offset."""
        offset = self._position
        if len(chunks) > 1 and sum(map(len, chunks)) <= _JOIN_MAX:
            chunks = (b"".join(chunks),)
        try:
            for chunk in chunks:
                view = memoryview(chunk)
                while view:
                    written = self._file.write(view)
                    if written is None or written >= len(view):
                        break
                    view = view[written:]
                self._position += len(chunk)
        except BaseException as exc:
            self._failure = exc
            raise
        return offset


class EntryWriter:
    """The data stream of one entry; use from one thread at a time.

    :meth:`write` buffers and emits a compressed block every ``block_size`` bytes;
    :meth:`close` emits the last partial block and the entry-end record. As a context
    manager, leaving the block with an exception leaves the entry unclosed (so the
    archive cannot be finished); leaving it normally without :meth:`close` is an error.
    """

    def __init__(self, archive: ArchiveWriter, entry_id: int) -> None:
        self._archive = archive
        self._entry_id = entry_id
        self._block_size = archive.block_size
        self._buffer = bytearray()
        self._raw_bytes = 0
        self._checksum = 0
        self._offsets: array[int] = array("Q")
        self._blocks = 0  # made so far; their offsets come once they are written
        self._lengths: array[int] = array("Q")
        self._stats: EntryStats | None = None

    @property
    def entry_id(self) -> int:
        return self._entry_id

    @property
    def raw_bytes(self) -> int:
        """Uncompressed bytes written so far."""
        return self._raw_bytes

    @property
    def closed(self) -> bool:
        return self._stats is not None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._stats is not None:
            raise ValueError(f"{self._archive.describe(self._entry_id)} is already closed")
        view = memoryview(data)
        if view.ndim != 1 or view.itemsize != 1:
            view = view.cast("B")
        size = len(view)
        if not size:
            return
        self._checksum = zlib.crc32(view, self._checksum)
        self._raw_bytes += size
        block_size = self._block_size
        buffer = self._buffer
        start = 0
        if buffer:
            start = min(block_size - len(buffer), size)
            buffer += view[:start]
            if len(buffer) < block_size:
                return
            self._emit(buffer)
            buffer.clear()
        while size - start >= block_size:
            self._emit(view[start : start + block_size])
            start += block_size
        if start < size:
            buffer += view[start:]

    def close(self, rows: int) -> EntryStats:
        """Flush the last block and write the entry-end record; return the entry's stats."""
        if self._stats is not None:
            return self._stats
        if not is_count(rows):
            raise ValueError("rows must be a non-negative integer")
        cctx = self._archive.compressor()
        last = self._record(cctx, self._buffer) if self._buffer else None
        self._buffer = bytearray()
        stats = EntryStats(self._entry_id, rows, self._raw_bytes,
                           self._blocks, self._checksum)
        end = encode_record(cctx, RecordType.ENTRY_END, self._entry_id, stats.blocks,
                            stats_json(stats))
        # One lock and write for both: a small table's whole data is these two records.
        self._archive._append_end(self, last, end, stats)
        self._stats = stats
        return stats

    def _record(self, cctx: zstandard.ZstdCompressor,
                data: bytes | bytearray | memoryview) -> tuple[bytes, bytes]:
        seq = self._blocks
        if seq >= _MAX_SEQ:
            raise ValueError(f"{self._archive.describe(self._entry_id)} has too many blocks")
        self._blocks += 1
        return encode_record(cctx, RecordType.BLOCK, self._entry_id, seq, data)

    def _emit(self, data: bytes | bytearray | memoryview) -> None:
        self._archive._append(self, self._record(self._archive.compressor(), data))

    def _placed(self, offset: int, record: tuple[bytes, bytes]) -> None:
        self._offsets.append(offset)
        self._lengths.append(len(record[0]) + len(record[1]))

    def __enter__(self) -> EntryWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None and self._stats is None:
            raise ValueError(
                f"{self._archive.describe(self._entry_id)} left its block without close(rows)"
            )
