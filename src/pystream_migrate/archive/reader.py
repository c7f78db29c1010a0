"""Reading an archive: the header on open, then one sequential pass or random access.

:meth:`ArchiveReader.stream` reads start to end and works on pipes. On a regular file,
:meth:`ArchiveReader.index` and :meth:`ArchiveReader.read_entry` use the trailer and the
footer to jump straight to an entry's blocks; every call reads with positional reads
(``os.pread``), so several threads may read entries at once.

Every problem is an :class:`~pystream_migrate.errors.ArchiveError` naming the archive and
the affected entry. No byte is handed out before its record passed all its checks; the
whole-entry checksum can only be checked after the last chunk, so a caller that consumes
chunks as they come must treat the entry as failed when the iterator raises.
"""

from __future__ import annotations

import io
import os
import stat
import sys
import threading
import zlib
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, BinaryIO, Protocol, cast

import zstandard

from pystream_migrate.archive.contents import TocIndex, check_footer, check_header, holds_data
from pystream_migrate.archive.footerindex import FooterIndex
from pystream_migrate.archive.format import (
    FORMAT_VERSION,
    MAGIC,
    PREAMBLE,
    RECORD_HEADER,
    TRAILER,
    EntryStats,
    Footer,
    FooterEntry,
    FormatViolation,
    RecordHeader,
    RecordType,
    StreamEvent,
    check_footer_members,
    decode_payload,
    describe_entry,
    footer_entry,
    load_json_object,
    make_decompressor,
    parse_stats,
    unpack_preamble,
    unpack_trailer,
)
from pystream_migrate.archive.header import parse_header, parse_streamed
from pystream_migrate.archive.spool import StreamSpool
from pystream_migrate.errors import ArchiveError, UsageError

_DAMAGED_HINT = "the archive is corrupt; restore from an intact copy or re-run the dump"
_TRUNCATED_HINT = (
    "the dump did not finish: it was killed, ran out of disk space or lost its pipe; "
    "re-run the dump"
)
_MAX_NAMED = 5  # entries listed by name in one message


# --- byte sources -----------------------------------------------------------------------


_READ_PIECE = 1 << 20  # a length from the file is trusted with this much memory at a time


def _read_fully(fileobj: BinaryIO, size: int) -> bytes:
    """Read ``size`` bytes, fewer only at end of file (raw pipes return short reads).

    Large reads go in pieces, so that what is allocated follows the bytes that arrive,
    not a length that a damaged record header announces.
    """
    first = fileobj.read(min(size, _READ_PIECE))
    if not first or len(first) == size:
        return first or b""
    parts = [first]
    missing = size - len(first)
    while missing:
        chunk = fileobj.read(min(missing, _READ_PIECE))
        if not chunk:
            break
        parts.append(chunk)
        missing -= len(chunk)
    return b"".join(parts)


def _is_random_access(fileobj: BinaryIO) -> bool:
    """A regular file, or an in-memory seekable object such as ``io.BytesIO``."""
    try:
        if not fileobj.seekable():
            return False
    except (AttributeError, OSError, ValueError):
        return False
    try:
        fd = fileobj.fileno()
    except (AttributeError, OSError, ValueError):
        return True
    try:
        return stat.S_ISREG(os.fstat(fd).st_mode)
    except OSError:
        return False


class _PositionalFile:
    """Reads at absolute offsets without a shared file position; thread-safe."""

    def __init__(self, fileobj: BinaryIO) -> None:
        self._file = fileobj
        self._lock = threading.Lock()
        self._fd: int | None = None
        if hasattr(os, "pread"):
            try:
                self._fd = fileobj.fileno()
            except (AttributeError, OSError, ValueError):
                self._fd = None

    def size(self) -> int:
        if self._fd is not None:
            return os.fstat(self._fd).st_size
        with self._lock:
            return self._file.seek(0, io.SEEK_END)

    def read_at(self, offset: int, size: int) -> bytes:
        """Read ``size`` bytes at ``offset``, fewer only at end of file."""
        size = max(0, min(size, self.size() - offset))
        if self._fd is None:
            with self._lock:
                self._file.seek(offset)
                return _read_fully(self._file, size)
        data = os.pread(self._fd, size, offset)
        if len(data) == size or not data:
            return data
        parts = [data]
        done = len(data)
        while done < size:
            chunk = os.pread(self._fd, size - done, offset + done)
            if not chunk:
                break
            parts.append(chunk)
            done += len(chunk)
        return b"".join(parts)


class _Source(Protocol):
    position: int

    def read(self, size: int) -> bytes: ...


class _PipeSource:
    def __init__(self, fileobj: BinaryIO) -> None:
        self._file = fileobj
        self.position = 0

    def read(self, size: int) -> bytes:
        data = _read_fully(self._file, size)
        self.position += len(data)
        return data


class _OffsetSource:
    def __init__(self, positional: _PositionalFile, position: int) -> None:
        self._positional = positional
        self.position = position

    def read(self, size: int) -> bytes:
        data = self._positional.read_at(self.position, size)
        self.position += len(data)
        return data


class _Truncated(Exception):
    def __init__(self, end_at: int, cut: RecordHeader | None) -> None:
        super().__init__(end_at)
        self.end_at = end_at  # where the bytes ran out
        self.cut = cut  # the record whose payload was cut, if its header was complete


class _BadRecordHeader(Exception):
    def __init__(self, offset: int, reason: str, claimed_entry: int) -> None:
        super().__init__(reason)
        self.offset = offset
        self.reason = reason
        self.claimed_entry = claimed_entry  # unverified: only a clue for the message


def _next_record(source: _Source) -> tuple[int, RecordHeader, bytes]:
    offset = source.position
    raw = source.read(RECORD_HEADER.size)
    if len(raw) < RECORD_HEADER.size:
        raise _Truncated(source.position, None)
    try:
        header = RecordHeader.unpack(raw)
    except FormatViolation as exc:
        claimed_entry = RECORD_HEADER.unpack(raw)[3]
        raise _BadRecordHeader(offset, str(exc), claimed_entry) from None
    payload = source.read(header.payload_length)
    if len(payload) < header.payload_length:
        raise _Truncated(source.position, header)
    return offset, header, payload


@dataclass
class _Progress:
    """An entry seen so far during a sequential pass."""

    blocks: int = 0
    raw_bytes: int = 0
    checksum: int = 0
    offsets: array[int] = field(default_factory=lambda: array("Q"))
    lengths: array[int] = field(default_factory=lambda: array("Q"))


# --- the reader -------------------------------------------------------------------------


class ArchiveReader:
    """An open archive. Use :meth:`open`; the constructor takes an open binary file."""

    def __init__(self, fileobj: BinaryIO, *, name: str, owns_file: bool = False,
                 toc_entry: Callable[[dict[str, Any]], Any] | None = None) -> None:
        self.name = name
        self._toc_entry = toc_entry
        self._file = fileobj
        self._owns_file = owns_file
        self.seekable: bool = _is_random_access(fileobj)
        self._positional = _PositionalFile(fileobj) if self.seekable else None
        # A pipe is read ahead by a thread, so its writer never waits on this reader.
        self._spool = None if self.seekable else StreamSpool(fileobj, name=name)
        self._pipe = None if self._spool is None else _PipeSource(cast(BinaryIO, self._spool))
        self._pipe_consumed = False
        self._footer_lock = threading.Lock()
        self._footer: Footer | None = None
        self._toc_by_id: Mapping[int, Any] = {}
        self.format_version = FORMAT_VERSION
        self.header: dict[str, Any] = {}
        # The TOC in archive order: its documents, or what ``toc_entry`` made of each.
        self.toc: list[Any] = []
        source: _Source = self._pipe if self._pipe is not None else self._offset_source(0)
        self._read_header(source)
        self._data_start = source.position

    @classmethod
    def open(cls, source: str | os.PathLike[str] | BinaryIO, *,
             toc_entry: Callable[[dict[str, Any]], Any] | None = None) -> ArchiveReader:
        """Open an archive: a path, ``"-"`` for standard input, or a binary file object.

        The archive must start at offset 0 of a seekable file object. ``toc_entry``
        turns each checked TOC document into what :attr:`toc` keeps (the document
        itself by default); the documents are not kept. Whatever it returns must have
        ``kind``, ``schema``, ``name`` and ``copy`` (as attributes, or keys). If it has
        a ``finished`` method, that is called once every entry is read.
        """
        if isinstance(source, str) and source == "-":
            if sys.stdin is None:
                raise UsageError("standard input is closed: there is no archive to read",
                                 hint="give the archive's FILE, or pipe it in")
            return cls(sys.stdin.buffer, name="<stdin>", toc_entry=toc_entry)
        if isinstance(source, (str, os.PathLike)):
            name = os.fspath(source)
            try:
                fileobj = open(name, "rb")  # noqa: SIM115 - owned by the reader
            except OSError as exc:
                raise ArchiveError(
                    f"cannot open archive {name}: {exc.strerror or exc}",
                    hint="check the path and permissions",
                ) from exc
            try:
                return cls(fileobj, name=name, owns_file=True, toc_entry=toc_entry)
            except BaseException:
                fileobj.close()
                raise
        label = getattr(source, "name", None)
        return cls(source, name=label if isinstance(label, str) else "<stream>",
                   toc_entry=toc_entry)

    @property
    def toc_by_id(self) -> Mapping[int, Any]:
        """The entries of :attr:`toc` by id (the same objects)."""
        return self._toc_by_id

    def describe(self, entry_id: int) -> str:
        """e.g. ``entry 12 (TABLE DATA public.t)``."""
        return describe_entry(entry_id, self._toc_by_id.get(entry_id))

    def close(self) -> None:
        if self._spool is not None:
            self._spool.close()
        if self._owns_file:
            self._file.close()

    def __enter__(self) -> ArchiveReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- random access ------------------------------------------------------------------

    def index(self) -> Mapping[int, EntryStats]:
        """Statistics of every entry with data, from the footer (made as asked for)."""
        entries = self._load_footer().entries
        assert isinstance(entries, FooterIndex)
        return entries.stats()

    def raw_bytes(self, entry_id: int) -> int | None:
        """An entry's uncompressed size from the footer; None if it has no data."""
        entries = self._load_footer().entries
        assert isinstance(entries, FooterIndex)
        return entries.raw_bytes(entry_id)

    def footer_extra(self) -> dict[str, Any]:
        """The free-form dict passed to ``ArchiveWriter.finish``."""
        return dict(self._load_footer().extra)

    def read_entry(self, entry_id: int) -> Iterator[bytes]:
        """Yield the entry's data in order; every block and the whole stream are checked.

        Raises at the end if the whole-stream checksum does not match, after the earlier
        chunks were yielded: the caller must then treat the entry as failed.
        """
        self._require_random_access("read an entry")
        entry = self._load_footer().entries.get(entry_id)
        if entry is None:
            raise ArchiveError(
                f"archive {self.name}: {self.describe(entry_id)} has no data in the archive",
                hint="the entry was dumped without data; restore its definition only",
            )
        return self._read_entry(entry)

    # --- sequential ---------------------------------------------------------------------

    def stream(self) -> Iterator[StreamEvent]:
        """One pass over all records, checking everything; ends with the footer checks.

        A pipe can be streamed once; a regular file any number of times.
        """
        if self._pipe is None:
            return self._stream(self._offset_source(self._data_start))
        if self._pipe_consumed:
            raise ArchiveError(
                f"archive {self.name} was already read once and comes from a pipe",
                hint="read a piped archive in a single pass, or save it to a file first",
            )
        self._pipe_consumed = True
        return self._stream(self._pipe)

    def verify(self) -> dict[int, EntryStats]:
        """Check every checksum in one sequential pass; return the stats of every entry."""
        result: dict[int, EntryStats] = {}
        for event in self.stream():
            if event.stats is not None:
                result[event.entry_id] = event.stats
        return result

    # --- header -------------------------------------------------------------------------

    def _offset_source(self, position: int) -> _OffsetSource:
        assert self._positional is not None
        return _OffsetSource(self._positional, position)

    def _read_header(self, source: _Source) -> None:
        raw = source.read(PREAMBLE.size)
        if not raw:
            raise ArchiveError(
                f"{self.name} is empty: not a pystream-migrate archive",
                hint="the dump wrote nothing; check that it ran and re-run it",
            )
        if not MAGIC.startswith(raw[: len(MAGIC)]):
            raise ArchiveError(
                f"{self.name} is not a pystream-migrate archive",
                hint="pass a file written by 'pystream-migrate dump'",
            )
        if len(raw) < PREAMBLE.size:
            raise self._truncated(source.position, [], "its preamble")
        try:
            version = unpack_preamble(raw)
        except FormatViolation as exc:
            raise self._damaged("the preamble", str(exc)) from None
        if version != FORMAT_VERSION:
            newer = version > FORMAT_VERSION
            raise ArchiveError(
                f"archive {self.name} uses format version {version}, "
                f"this tool reads version {FORMAT_VERSION}",
                hint="upgrade pystream-migrate" if newer else "use an older pystream-migrate",
            )
        try:
            _offset, record, payload = _next_record(source)
        except _Truncated as exc:
            raise self._truncated(exc.end_at, [], "its header record") from None
        except _BadRecordHeader as exc:
            raise self._damaged("the header record", exc.reason) from None
        if record.type is not RecordType.HEADER:
            raise self._damaged("the header record", f"found a {record.type.name} record")
        # Parsed a TOC entry at a time: each is checked, and only what ``toc_entry``
        # makes of it stays (a TOC of 100 000 chunks is ~180 MB of JSON).
        index = TocIndex(keep=self._toc_entry)
        self._toc_entry = None  # the index lets it go (and what it shares) before its check
        try:
            document = parse_header(make_decompressor(), record, payload, index.add)
            check_header(document)
            self._toc_by_id = index.finish_by_id()
        except FormatViolation as exc:
            raise self._damaged("the header record", str(exc)) from None
        self.header = document
        self.toc = list(self._toc_by_id.entries)  # the caller's to change

    # --- sequential pass ----------------------------------------------------------------

    def _stream(self, source: _Source) -> Iterator[StreamEvent]:
        dctx = make_decompressor()
        pending: dict[int, _Progress] = {}
        ended: dict[int, FooterEntry] = {}
        while True:
            try:
                offset, record, payload = _next_record(source)
            except _Truncated as exc:
                cut = [exc.cut.entry_id] if exc.cut and exc.cut.type in _ENTRY_RECORDS else []
                where = "its footer" if exc.cut and exc.cut.type is RecordType.FOOTER else None
                raise self._truncated(
                    exc.end_at, [*pending, *cut], where, last=next(reversed(ended), None)
                ) from None
            except _BadRecordHeader as exc:
                raise self._damaged(
                    self._bad_header_place(exc.offset, exc.claimed_entry, pending), exc.reason
                ) from None
            if record.type is RecordType.BLOCK:
                progress = self._next_block(record, offset, pending, ended)
                what = f"block {record.seq} of {self.describe(record.entry_id)} at byte {offset}"
                data = self._decode(dctx, record, payload, what)
                progress.blocks += 1
                progress.raw_bytes += len(data)
                progress.checksum = zlib.crc32(data, progress.checksum)
                progress.offsets.append(offset)
                progress.lengths.append(record.record_length)
                yield StreamEvent("data", record.entry_id, data, None)
            elif record.type is RecordType.ENTRY_END:
                entry_id = record.entry_id
                progress = self._entry_end_progress(record, offset, pending, ended)
                stats = self._end_stats(dctx, record, payload, offset)
                expected = (progress.raw_bytes, progress.blocks, progress.checksum)
                if (stats.raw_bytes, stats.blocks, stats.checksum) != expected:
                    raise self._damaged(
                        f"the data of {self.describe(entry_id)}",
                        "its size or whole-stream checksum does not match its entry-end record",
                    )
                ended[entry_id] = FooterEntry(
                    stats, progress.offsets, progress.lengths, offset, record.record_length
                )
                yield StreamEvent("end", entry_id, None, stats)
            elif record.type is RecordType.FOOTER:
                footer = self._decode_footer(dctx, record, payload, offset)
                self._check_footer_against_stream(footer, pending, ended)
                self._check_stream_trailer(source, offset, record.record_length)
                with self._footer_lock:
                    if self._footer is None:
                        self._footer = footer
                return
            else:
                raise self._damaged(f"the record at byte {offset}", "a second header record")

    def _next_block(
        self,
        record: RecordHeader,
        offset: int,
        pending: dict[int, _Progress],
        ended: dict[int, FooterEntry],
    ) -> _Progress:
        entry_id = record.entry_id
        if entry_id not in self._toc_by_id:
            raise self._damaged(
                f"the block at byte {offset}", f"it belongs to entry {entry_id}, not in the TOC"
            )
        if not holds_data(self._toc_by_id[entry_id]):
            raise self._damaged(
                f"the block at byte {offset}",
                f"it belongs to {self.describe(entry_id)}, which has no data (no \"copy\")",
            )
        if entry_id in ended:
            raise self._damaged(
                f"block {record.seq} of {self.describe(entry_id)} at byte {offset}",
                "it comes after the entry's end record (duplicated or out of order)",
            )
        progress = pending.setdefault(entry_id, _Progress())
        if record.seq != progress.blocks:
            raise self._damaged(
                f"the data of {self.describe(entry_id)}",
                f"block {record.seq} found at byte {offset} where block {progress.blocks} "
                "was expected (a block is missing, duplicated or out of order)",
            )
        return progress

    def _entry_end_progress(
        self,
        record: RecordHeader,
        offset: int,
        pending: dict[int, _Progress],
        ended: dict[int, FooterEntry],
    ) -> _Progress:
        entry_id = record.entry_id
        if not holds_data(self._toc_by_id.get(entry_id)):
            raise self._damaged(
                f"the entry-end record at byte {offset}",
                f"it belongs to entry {entry_id}, which is not a data entry of the TOC",
            )
        if entry_id in ended:
            raise self._damaged(
                f"the entry-end record of {self.describe(entry_id)} at byte {offset}",
                "the entry was already ended (duplicated record)",
            )
        progress = pending.pop(entry_id, None) or _Progress()
        if record.seq != progress.blocks:
            raise self._damaged(
                f"the data of {self.describe(entry_id)}",
                f"its end record counts {record.seq} blocks but {progress.blocks} were found "
                "(a block is missing or out of order)",
            )
        return progress

    def _check_footer_against_stream(
        self, footer: Footer, pending: dict[int, _Progress], ended: dict[int, FooterEntry]
    ) -> None:
        if pending:
            raise self._damaged(
                f"the data of {self._names(pending)}", "no entry-end record before the footer"
            )
        missing = footer.entries.keys() - ended.keys()
        if missing:
            raise self._damaged(
                f"the data of {self._names(missing)}",
                "listed in the footer but its records are missing",
            )
        unlisted = ended.keys() - footer.entries.keys()
        if unlisted:
            raise self._damaged(
                f"the footer index at {self._names(unlisted)}", "the entry is not listed"
            )
        for entry_id, seen in sorted(ended.items()):
            listed = footer.entries[entry_id]
            if (
                listed.stats != seen.stats
                or list(listed.block_offsets) != list(seen.block_offsets)
                or list(listed.block_lengths) != list(seen.block_lengths)
                or (listed.end_offset, listed.end_length) != (seen.end_offset, seen.end_length)
            ):
                raise self._damaged(
                    f"the footer index at {self.describe(entry_id)}",
                    "it does not match the entry's records",
                )

    def _check_stream_trailer(self, source: _Source, footer_offset: int, length: int) -> None:
        raw = source.read(TRAILER.size)
        if len(raw) < TRAILER.size:
            raise self._truncated(source.position, [], "its trailer")
        try:
            pointer = unpack_trailer(raw)
        except FormatViolation as exc:
            raise self._damaged("the trailer", str(exc)) from None
        if pointer != (footer_offset, length):
            raise self._damaged("the trailer", "it does not point to the footer")
        if source.read(1):
            raise self._damaged("the end of the file", "unexpected bytes after the trailer")

    # --- random access internals --------------------------------------------------------

    def _require_random_access(self, action: str) -> None:
        if self._positional is None:
            raise ArchiveError(
                f"cannot {action} of archive {self.name}: it is not a regular file",
                hint="save the archive to a file for random access, or read it sequentially",
            )

    def _load_footer(self) -> Footer:
        with self._footer_lock:
            if self._footer is None:
                self._require_random_access("read the index")
                self._footer = self._read_footer()
            return self._footer

    def _read_footer(self) -> Footer:
        positional = self._positional
        assert positional is not None
        size = positional.size()
        if size < self._data_start + TRAILER.size:
            raise self._truncation_from_scan(size)
        try:
            footer_offset, footer_length = unpack_trailer(
                positional.read_at(size - TRAILER.size, TRAILER.size)
            )
        except FormatViolation as exc:
            if "magic" in str(exc):
                raise self._truncation_from_scan(size) from None
            raise self._damaged("the trailer", str(exc)) from None
        if (
            footer_offset < self._data_start
            or footer_length < RECORD_HEADER.size
            or footer_offset + footer_length + TRAILER.size != size
        ):
            raise self._damaged("the trailer", "it points outside the file")
        record, payload = self._record_at(footer_offset, footer_length, "the footer")
        if record.type is not RecordType.FOOTER:
            raise self._damaged("the footer", f"found a {record.type.name} record")
        footer = self._decode_footer(make_decompressor(), record, payload, footer_offset)
        for entry_id, entry in footer.entries.items():
            spans = [*zip(entry.block_offsets, entry.block_lengths, strict=True)]
            spans.append((entry.end_offset, entry.end_length))
            if entry_id not in self._toc_by_id or not all(
                start >= self._data_start
                and length >= RECORD_HEADER.size
                and start + length <= footer_offset
                for start, length in spans
            ):
                raise self._damaged(
                    f"the footer index at {self.describe(entry_id)}", "it points outside the data"
                )
        return footer

    def _record_at(self, offset: int, length: int, what: str) -> tuple[RecordHeader, memoryview]:
        assert self._positional is not None
        raw = self._positional.read_at(offset, length)
        if len(raw) < length:
            raise self._truncated(offset + len(raw), [], what)
        try:
            record = RecordHeader.unpack(raw[: RECORD_HEADER.size])
        except FormatViolation as exc:
            raise self._damaged(what, str(exc)) from None
        if record.record_length != length:
            raise self._damaged(what, "its length does not match the footer index")
        return record, memoryview(raw)[RECORD_HEADER.size :]

    def _read_entry(self, entry: FooterEntry) -> Iterator[bytes]:
        stats = entry.stats
        entry_id = stats.entry_id
        who = self.describe(entry_id)
        dctx = make_decompressor()
        what = f"the entry-end record of {who}"
        record, payload = self._record_at(entry.end_offset, entry.end_length, what)
        if (record.type, record.entry_id, record.seq) != (
            RecordType.ENTRY_END,
            entry_id,
            stats.blocks,
        ):
            raise self._damaged(what, "the footer index points to a different record")
        if self._end_stats(dctx, record, payload, entry.end_offset) != stats:
            raise self._damaged(what, "it does not match the footer index")
        raw_bytes = 0
        checksum = 0
        for seq, (offset, length) in enumerate(
            zip(entry.block_offsets, entry.block_lengths, strict=True)
        ):
            what = f"block {seq} of {who} at byte {offset}"
            record, payload = self._record_at(offset, length, what)
            if (record.type, record.entry_id, record.seq) != (RecordType.BLOCK, entry_id, seq):
                raise self._damaged(what, "the footer index points to a different record")
            data = self._decode(dctx, record, payload, what)
            raw_bytes += len(data)
            checksum = zlib.crc32(data, checksum)
            yield data
        if (raw_bytes, checksum) != (stats.raw_bytes, stats.checksum):
            raise self._damaged(
                f"the data of {who}", "its size or whole-stream checksum does not match"
            )

    def _truncation_from_scan(self, size: int) -> ArchiveError:
        """Walk the record headers of a file without a trailer to name what is incomplete."""
        source = self._offset_source(self._data_start)
        pending: set[int] = set()
        last: int | None = None
        while True:
            offset = source.position
            raw = source.read(RECORD_HEADER.size)
            if len(raw) < RECORD_HEADER.size:
                return self._truncated(size, pending, None, last=last)
            try:
                record = RecordHeader.unpack(raw)
            except FormatViolation as exc:
                claimed_entry = RECORD_HEADER.unpack(raw)[3]
                place = self._bad_header_place(offset, claimed_entry, pending)
                return self._damaged(place, str(exc))
            end = offset + record.record_length
            if record.type is RecordType.FOOTER:
                if end + TRAILER.size == size:
                    return self._damaged("the trailer", "its magic is wrong")
                if end + TRAILER.size < size:
                    return self._damaged("the end of the file", "bytes after the trailer")
                return self._truncated(size, [], "its footer or trailer", last=last)
            if end > size:
                return self._truncated(size, [*pending, record.entry_id], None, last=last)
            if record.type is RecordType.BLOCK:
                pending.add(record.entry_id)
            elif record.type is RecordType.ENTRY_END:
                pending.discard(record.entry_id)
                last = record.entry_id
            source.position = end

    # --- decoding helpers ---------------------------------------------------------------

    def _decode(
        self,
        dctx: zstandard.ZstdDecompressor,
        record: RecordHeader,
        payload: bytes | memoryview,
        what: str,
    ) -> bytes:
        try:
            return decode_payload(dctx, record, payload)
        except FormatViolation as exc:
            raise self._damaged(what, str(exc)) from None

    def _end_stats(
        self,
        dctx: zstandard.ZstdDecompressor,
        record: RecordHeader,
        payload: bytes | memoryview,
        offset: int,
    ) -> EntryStats:
        what = f"the entry-end record of {self.describe(record.entry_id)} at byte {offset}"
        try:
            document = load_json_object(decode_payload(dctx, record, payload), "entry end")
            return parse_stats(record.entry_id, document)
        except FormatViolation as exc:
            raise self._damaged(what, str(exc)) from None

    def _decode_footer(
        self,
        dctx: zstandard.ZstdDecompressor,
        record: RecordHeader,
        payload: bytes | memoryview,
        offset: int,
    ) -> Footer:
        try:
            # Item by item: the index of 100 000 chunks is tens of MB as documents.
            entries = FooterIndex()
            rest = parse_streamed(dctx, record, bytes(payload), "footer", "entries",
                                  lambda item: entries.add(footer_entry(item, entries)))
            entries.finish()
            check_footer_members(rest)
            footer = Footer(entries, rest["extra"])
            check_footer(footer, self._toc_by_id)
            return footer
        except FormatViolation as exc:
            raise self._damaged(f"the footer at byte {offset}", str(exc)) from None

    # --- messages -----------------------------------------------------------------------

    def _names(self, entry_ids: Iterable[int]) -> str:
        ordered = sorted(set(entry_ids))
        named = ", ".join(self.describe(entry_id) for entry_id in ordered[:_MAX_NAMED])
        if len(ordered) > _MAX_NAMED:
            named += f" and {len(ordered) - _MAX_NAMED} more"
        return named

    def _bad_header_place(self, offset: int, claimed_entry: int, pending: Iterable[int]) -> str:
        clues = []
        if claimed_entry in self._toc_by_id:
            clues.append(f"apparently of {self.describe(claimed_entry)}")
        pending = list(pending)
        if pending:
            clues.append(f"while reading {self._names(pending)}")
        place = f"the record header at byte {offset}"
        return f"{place} ({'; '.join(clues)})" if clues else place

    def _damaged(self, what: str, reason: str) -> ArchiveError:
        return ArchiveError(f"archive {self.name}: {what} is damaged: {reason}", hint=_DAMAGED_HINT)

    def _truncated(
        self,
        end_at: int,
        incomplete: Iterable[int],
        inside: str | None,
        *,
        last: int | None = None,
    ) -> ArchiveError:
        incomplete = sorted(set(incomplete))
        message = f"archive {self.name} is truncated at byte {end_at}"
        if incomplete:
            verb = "is" if len(incomplete) == 1 else "are"
            message += f": {self._names(incomplete)} {verb} incomplete"
        elif inside:
            message += f", inside {inside}"
        else:
            message += ", before its footer"
        if not incomplete and last is not None:
            message += f" (last complete entry: {self.describe(last)})"
        return ArchiveError(message, hint=_TRUNCATED_HINT)


_ENTRY_RECORDS = (RecordType.BLOCK, RecordType.ENTRY_END)
