"""Tests of the archive format: round trips, concurrency and damage detection (no database)."""

from __future__ import annotations

import io
import os
import random
import struct
import sys
import threading
import zlib
from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pystream_migrate.archive import (
    DEFAULT_BLOCK_SIZE,
    FORMAT_VERSION,
    ArchiveReader,
    ArchiveWriter,
    EntryStats,
    StreamEvent,
    open_output,
)
from pystream_migrate.archive.format import (
    PREAMBLE,
    RECORD_HEADER,
    TRAILER,
    RecordHeader,
    RecordType,
    dump_json,
    pack_record_header,
    stats_document,
    stats_json,
)
from pystream_migrate.errors import EXIT_ARCHIVE, ArchiveError

HEADER = {"source": {"postgres": "16.2", "timescaledb": "2.14.2"}, "options": {"jobs": 4}}


def toc_entry(entry_id: int, *, data: bool = True) -> dict[str, Any]:
    """A TOC entry as a dump writes it: table data (with a "copy") or a table definition."""
    name = f"t{entry_id}"
    if not data:
        return {"id": entry_id, "kind": "TABLE", "schema": "public", "name": name,
                "section": "pre-data", "extra": [entry_id]}
    return {"id": entry_id, "kind": "TABLE DATA", "schema": "public", "name": name,
            "section": "data", "extra": [entry_id],
            "copy": {"schema": "public", "table": name, "columns": ["a"], "where": None}}


def make_toc(count: int, data: set[int] | None = None) -> list[dict[str, Any]]:
    """Entries 1..count; those in ``data`` (all by default) are data entries."""
    return [toc_entry(i, data=data is None or i in data) for i in range(1, count + 1)]


def describe(entry_id: int) -> str:
    return f"entry {entry_id} (TABLE DATA public.t{entry_id})"


def payload(seed: int, size: int) -> bytes:
    """Partly compressible, partly random bytes."""
    rng = random.Random(seed)
    text = b"".join(b"%d\tvalue %d\n" % (i, rng.randrange(1000)) for i in range(size // 10 + 1))
    noise = rng.randbytes(size // 4)
    return (text[: size - len(noise)] + noise)[:size]


def write_archive(
    entries: dict[int, list[bytes]],
    *,
    toc_size: int | None = None,
    block_size: int = 64,
    extra: dict[str, Any] | None = None,
) -> bytes:
    """Write entries in one thread, round-robin between them so that blocks interleave."""
    out = io.BytesIO()
    toc = make_toc(toc_size or max(entries), set(entries))
    writer = ArchiveWriter(out, HEADER, toc, block_size=block_size)
    open_writers = {entry_id: writer.open_entry(entry_id) for entry_id in entries}
    queues = {entry_id: list(chunks) for entry_id, chunks in entries.items()}
    while any(queues.values()):
        for entry_id, chunks in queues.items():
            if chunks:
                open_writers[entry_id].write(chunks.pop(0))
    for entry_id, entry in open_writers.items():
        entry.close(rows=entry_id * 10)
    writer.finish(extra)
    data = out.getvalue()
    assert writer.bytes_written == len(data)
    return data


def small_archive() -> tuple[bytes, dict[int, bytes]]:
    """Three interleaved entries (one spans several blocks) plus an empty one."""
    entries = {
        1: [b"alpha-" * 20, b"beta-" * 5],
        2: [payload(2, 100)],
        3: [],
        4: [b"x" * 70, b"yz"],
    }
    return write_archive(entries, toc_size=5), {k: b"".join(v) for k, v in entries.items()}


def stream_contents(reader: ArchiveReader) -> tuple[dict[int, bytes], dict[int, EntryStats]]:
    data: dict[int, bytearray] = {}
    stats: dict[int, EntryStats] = {}
    for event in reader.stream():
        assert isinstance(event, StreamEvent)
        if event.kind == "data":
            assert event.payload and event.stats is None and event.entry_id not in stats
            data.setdefault(event.entry_id, bytearray()).extend(event.payload)
        else:
            assert event.kind == "end" and event.payload is None and event.stats is not None
            stats[event.entry_id] = event.stats
    return {entry_id: bytes(data.get(entry_id, b"")) for entry_id in stats}, stats


def random_access_contents(reader: ArchiveReader) -> dict[int, bytes]:
    return {entry_id: b"".join(reader.read_entry(entry_id)) for entry_id in reader.index()}


def walk_records(archive: bytes) -> list[tuple[int, RecordHeader]]:
    """(offset, header) of every record, header record and footer included."""
    records = []
    offset = PREAMBLE.size
    while offset < len(archive) - TRAILER.size:
        header = RecordHeader.unpack(archive[offset : offset + RECORD_HEADER.size])
        records.append((offset, header))
        offset += header.record_length
    assert offset == len(archive) - TRAILER.size
    return records


def message(exc_info: pytest.ExceptionInfo[ArchiveError]) -> str:
    error = exc_info.value
    assert error.exit_code == EXIT_ARCHIVE
    assert error.hint, "every archive error suggests a fix"
    line = error.one_line()
    assert "\n" not in line
    return line


class ChunkyPipe(io.RawIOBase):
    """A non-seekable source that hands out at most ``chunk`` bytes per read."""

    def __init__(self, data: bytes, chunk: int = 7) -> None:
        self._data = memoryview(data)
        self._chunk = chunk

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readinto(self, buffer: Any) -> int:
        size = min(len(buffer), self._chunk, len(self._data))
        buffer[:size] = self._data[:size]
        self._data = self._data[size:]
        return size


class AppendOnlySink(io.RawIOBase):
    """An output that refuses seek and tell, like a pipe."""

    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, chunk: Any) -> int:
        self.data += chunk
        return len(chunk)

    def seekable(self) -> bool:
        return False

    def seek(self, *args: Any) -> int:
        raise AssertionError("the writer must not seek")

    def tell(self) -> int:
        raise AssertionError("the writer must not ask for its position")


# --- round trips ------------------------------------------------------------------------


def test_round_trip_sequential_and_random_access() -> None:
    archive, expected = small_archive()
    reader = ArchiveReader.open(io.BytesIO(archive))
    assert reader.seekable
    assert reader.format_version == FORMAT_VERSION
    assert reader.header["source"] == HEADER["source"]
    assert reader.header["options"] == HEADER["options"]
    assert "toc" not in reader.header
    assert {"tool_version", "created_at"} <= reader.header.keys()
    assert reader.toc == make_toc(5, {1, 2, 3, 4})
    assert reader.describe(2) == describe(2)

    data, stats = stream_contents(reader)
    assert data == expected
    for entry_id, content in expected.items():
        assert stats[entry_id] == EntryStats(
            entry_id=entry_id,
            rows=entry_id * 10,
            raw_bytes=len(content),
            blocks=-(-len(content) // 64),
            checksum=zlib.crc32(content),
        )
    assert reader.index() == stats
    assert random_access_contents(reader) == expected
    assert reader.verify() == stats
    assert reader.footer_extra() == {}
    # a regular file can be streamed again
    assert stream_contents(reader)[0] == expected


def test_blocks_of_entries_written_together_interleave() -> None:
    archive, _ = small_archive()
    order = [(h.type.name, h.entry_id) for _, h in walk_records(archive)]
    blocks = [entry_id for kind, entry_id in order if kind == "BLOCK"]
    assert blocks[:4] == [1, 2, 4, 1]  # round-robin writes, not one entry after another
    assert order[0] == ("HEADER", 0) and order[-1] == ("FOOTER", 0)


def test_file_path_round_trip_with_footer_extra(tmp_path: Path) -> None:
    path = tmp_path / "dump.psm"
    content = payload(7, 5000)
    with open_output(str(path)) as out:
        writer = ArchiveWriter(out, HEADER, make_toc(2, {2}), block_size=1000, level=1)
        with writer.open_entry(2) as entry:
            entry.write(bytearray(content[:1234]))
            entry.write(memoryview(content)[1234:])
            assert entry.close(rows=99).blocks == 5
        writer.finish({"warnings": ["hypertable x has no data"]})
    with ArchiveReader.open(path) as reader:
        assert reader.seekable and reader.name == str(path)
        assert reader.footer_extra() == {"warnings": ["hypertable x has no data"]}
        assert b"".join(reader.read_entry(2)) == content
        assert reader.index()[2].rows == 99
        assert reader.verify()[2].checksum == zlib.crc32(content)
    with ArchiveReader.open(str(path)) as reader:
        assert stream_contents(reader)[0] == {2: content}


def test_write_accepts_any_contiguous_buffer() -> None:
    numbers = array("i", range(1000))
    out = io.BytesIO()
    toc = [{**toc_entry(1), "kind": "TABLE DATA", "schema": None, "name": ""}]
    writer = ArchiveWriter(out, {}, toc, block_size=333)
    entry = writer.open_entry(1)
    entry.write(memoryview(numbers))
    entry.write(b"")
    entry.close(rows=1000)
    writer.finish()
    reader = ArchiveReader.open(io.BytesIO(out.getvalue()))
    assert b"".join(reader.read_entry(1)) == numbers.tobytes()
    assert reader.describe(1) == "entry 1 (TABLE DATA)"


def test_empty_entries() -> None:
    out = io.BytesIO()
    writer = ArchiveWriter(out, HEADER, make_toc(3, {1, 2}))
    for entry_id in (1, 2):
        stats = writer.open_entry(entry_id).close(rows=0)
        assert stats == EntryStats(entry_id, 0, 0, 0, 0)
    writer.finish()
    reader = ArchiveReader.open(io.BytesIO(out.getvalue()))
    events = list(reader.stream())
    assert [(e.kind, e.entry_id) for e in events] == [("end", 1), ("end", 2)]
    assert list(reader.read_entry(1)) == []
    assert reader.index() == {1: EntryStats(1, 0, 0, 0, 0), 2: EntryStats(2, 0, 0, 0, 0)}
    with pytest.raises(ArchiveError) as info:
        reader.read_entry(3)
    assert "entry 3 (TABLE public.t3)" in message(info) and "no data" in message(info)


def test_archive_without_entries() -> None:
    out = io.BytesIO()
    ArchiveWriter(out, {}, []).finish({"note": "schema only"})
    reader = ArchiveReader.open(io.BytesIO(out.getvalue()))
    assert reader.toc == [] and reader.verify() == {} and reader.index() == {}
    assert reader.footer_extra() == {"note": "schema only"}


def test_big_entry_spans_many_blocks() -> None:
    big = payload(11, 3 * DEFAULT_BLOCK_SIZE + 12345)
    for block_size in (DEFAULT_BLOCK_SIZE, 16 * 1024):
        out = io.BytesIO()
        writer = ArchiveWriter(out, HEADER, make_toc(1), block_size=block_size)
        entry = writer.open_entry(1)
        for start in range(0, len(big), 300_007):  # writes straddle block boundaries
            entry.write(big[start : start + 300_007])
        stats = entry.close(rows=5)
        writer.finish()
        assert stats.blocks == -(-len(big) // block_size)
        reader = ArchiveReader.open(io.BytesIO(out.getvalue()))
        chunks = list(reader.read_entry(1))
        assert b"".join(chunks) == big
        assert all(len(chunk) == block_size for chunk in chunks[:-1])
        assert stream_contents(reader)[0] == {1: big}


def test_many_entries_from_many_threads(tmp_path: Path) -> None:
    threads, per_thread = 6, 5
    toc = make_toc(threads * per_thread)
    contents = {e["id"]: payload(e["id"], random.Random(e["id"]).randrange(0, 9000)) for e in toc}
    contents[7] = b""
    path = tmp_path / "parallel.psm"
    with open(path, "wb") as out:
        writer = ArchiveWriter(out, HEADER, toc, block_size=512)
        barrier = threading.Barrier(threads)
        errors: list[BaseException] = []

        def work(worker: int) -> None:
            try:
                barrier.wait()
                rng = random.Random(worker)
                mine = [writer.open_entry(worker * per_thread + i + 1) for i in range(per_thread)]
                positions = dict.fromkeys(mine, 0)
                while positions:
                    entry = rng.choice(list(positions))
                    data = contents[entry.entry_id]
                    start = positions[entry]
                    step = rng.randrange(1, 1500)
                    entry.write(data[start : start + step])
                    if start + step >= len(data):
                        entry.close(rows=len(data))
                        del positions[entry]
                    else:
                        positions[entry] = start + step
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
        for thread in workers:
            thread.start()
        for thread in workers:
            thread.join()
        assert not errors
        writer.finish()

    with ArchiveReader.open(path) as reader:
        data, stats = stream_contents(reader)
        assert data == contents
        assert all(stats[i].rows == len(contents[i]) for i in contents)
        results: dict[int, bytes] = {}

        def read(entry_ids: list[int]) -> None:
            for entry_id in entry_ids:
                results[entry_id] = b"".join(reader.read_entry(entry_id))

        ids = sorted(contents)
        readers = [threading.Thread(target=read, args=(ids[n::4],)) for n in range(4)]
        for thread in readers:
            thread.start()
        for thread in readers:
            thread.join()
        assert results == contents


def test_writer_never_seeks_and_pipe_reader_streams() -> None:
    sink = AppendOnlySink()
    content = payload(3, 4000)
    writer = ArchiveWriter(sink, HEADER, make_toc(2), block_size=300)
    for entry_id in (1, 2):
        entry = writer.open_entry(entry_id)
        entry.write(content)
        entry.close(rows=entry_id)
    writer.finish({"done": True})
    archive = bytes(sink.data)

    reader = ArchiveReader.open(ChunkyPipe(archive))
    assert not reader.seekable and reader.name == "<stream>"
    with pytest.raises(ArchiveError) as info:
        reader.index()
    assert "not a regular file" in message(info)
    assert stream_contents(reader)[0] == {1: content, 2: content}
    # after a complete pass, the footer is known even on a pipe
    assert reader.footer_extra() == {"done": True}
    assert reader.index()[2].rows == 2
    with pytest.raises(ArchiveError) as info:
        reader.stream()
    assert "pipe" in message(info)
    with pytest.raises(ArchiveError):
        reader.read_entry(1)


def test_real_os_pipe_while_writing() -> None:
    read_fd, write_fd = os.pipe()
    content = payload(5, 200_000)
    errors: list[BaseException] = []

    def produce() -> None:
        try:
            with open(write_fd, "wb") as out:
                writer = ArchiveWriter(out, HEADER, make_toc(1), block_size=8192)
                entry = writer.open_entry(1)
                entry.write(content)
                entry.close(rows=1)
                writer.finish()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    producer = threading.Thread(target=produce)
    producer.start()
    with open(read_fd, "rb") as source:
        reader = ArchiveReader.open(source)
        assert not reader.seekable
        assert reader.verify()[1].raw_bytes == len(content)
    producer.join()
    assert not errors


def test_stdin_and_stdout_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    archive, expected = small_archive()
    stdout = io.TextIOWrapper(io.BytesIO())
    monkeypatch.setattr(sys, "stdout", stdout)
    assert open_output("-") is stdout.buffer
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(archive)))
    reader = ArchiveReader.open("-")
    assert reader.name == "<stdin>"
    assert stream_contents(reader)[0] == expected


def test_a_header_past_256_mib_is_written_and_read(tmp_path: Path) -> None:
    """The dump writes ~1.7 kB of TOC a chunk: past ~160 000 chunks the header was more
    than the format's limit then (256 MiB) and the dump stopped. The limit is 1 GiB; a
    reader still parses the header as a stream."""
    big = "x" * (1 << 20)

    def toc() -> Iterator[dict[str, Any]]:  # 260 MiB of JSON, never held whole
        for i in range(1, 261):
            yield {**toc_entry(i, data=i == 1), "create_sql": big}

    path = tmp_path / "big.psm"
    with open(path, "wb") as out:
        writer = ArchiveWriter(out, HEADER, toc())
        with writer.open_entry(1) as e:
            e.write(b"1\n")
            e.close(1)
        writer.finish()
    with open(path, "rb") as f:
        f.seek(PREAMBLE.size)
        assert RecordHeader.unpack(f.read(RECORD_HEADER.size)).raw_length > 1 << 28
    with ArchiveReader.open(path) as reader:
        assert len(reader.toc_by_id) == 260
        assert all(doc["create_sql"] == big for doc in reader.toc_by_id.values())
        assert b"".join(reader.read_entry(1)) == b"1\n"


# --- writer misuse ------------------------------------------------------------------------


def test_writer_rejects_misuse() -> None:
    with pytest.raises(ValueError, match="toc"):
        ArchiveWriter(io.BytesIO(), {"toc": []}, [])
    with pytest.raises(ValueError, match="more than once"):
        # Checked as they stream past: the first entry is complete, the second repeats it.
        entry = {"id": 1, "kind": "TABLE", "name": "t", "section": "pre-data"}
        ArchiveWriter(io.BytesIO(), {}, [entry, dict(entry)])
    with pytest.raises(ValueError, match="integer id"):
        ArchiveWriter(io.BytesIO(), {}, [{"id": "1"}])
    with pytest.raises(ValueError, match="block_size"):
        ArchiveWriter(io.BytesIO(), {}, [], block_size=0)
    writer = ArchiveWriter(io.BytesIO(), {}, make_toc(3))
    with pytest.raises(ValueError, match="not in the archive's TOC"):
        writer.open_entry(9)
    entry = writer.open_entry(1)
    with pytest.raises(ValueError, match="already opened"):
        writer.open_entry(1)
    entry.close(rows=0)
    with pytest.raises(ValueError, match="already closed"):
        entry.write(b"late")
    with pytest.raises(ValueError, match="already opened"):
        writer.open_entry(1)
    with pytest.raises(ValueError, match="rows"):
        writer.open_entry(2).close(rows=-1)


def test_finish_with_an_unclosed_entry_fails() -> None:
    out = io.BytesIO()
    writer = ArchiveWriter(out, {}, make_toc(3))
    writer.open_entry(1).close(rows=0)
    with pytest.raises(RuntimeError), writer.open_entry(2) as entry:
        entry.write(b"partial")
        raise RuntimeError("worker failed")
    with pytest.raises(ArchiveError) as info:
        writer.finish()
    assert describe(2) in message(info) and "never closed" in message(info)
    # the unfinished output is detected by readers as truncated
    with pytest.raises(ArchiveError) as info:
        ArchiveReader.open(io.BytesIO(out.getvalue())).index()
    assert "truncated" in message(info) and describe(1) in message(info)


def test_leaving_entry_context_without_close_is_an_error() -> None:
    writer = ArchiveWriter(io.BytesIO(), {}, make_toc(1))
    with pytest.raises(ValueError, match="close"), writer.open_entry(1):
        pass


# --- not an archive -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        b"PGDMP\x01\x0e\x00" + b"\x00" * 100,
        b"\x1f\x8b\x08\x00gzip",
        b"hello\n",
        b"\x89PNG\r\n\x1a\n",
    ],
)
def test_not_an_archive(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "other.bin"
    path.write_bytes(content)
    with pytest.raises(ArchiveError) as info:
        ArchiveReader.open(path)
    assert "not a pystream-migrate archive" in message(info)
    assert str(path) in message(info)
    with pytest.raises(ArchiveError) as info:
        ArchiveReader.open(ChunkyPipe(content))
    assert "not a pystream-migrate archive" in message(info)


def test_zero_length_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.psm"
    path.write_bytes(b"")
    for source in (path, ChunkyPipe(b""), io.BytesIO()):
        with pytest.raises(ArchiveError) as info:
            ArchiveReader.open(source)
        assert "empty" in message(info) and "not a pystream-migrate archive" in message(info)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ArchiveError) as info:
        ArchiveReader.open(tmp_path / "nope.psm")
    assert "cannot open archive" in message(info)


def test_newer_format_version_is_refused() -> None:
    archive, _ = small_archive()
    body = PREAMBLE.pack(archive[:8], FORMAT_VERSION + 1, 0, 0)[:12]
    patched = body + struct.pack("<I", zlib.crc32(body)) + archive[PREAMBLE.size :]
    with pytest.raises(ArchiveError) as info:
        ArchiveReader.open(io.BytesIO(patched))
    assert f"format version {FORMAT_VERSION + 1}" in message(info)
    assert "upgrade" in message(info)


# --- truncation ---------------------------------------------------------------------------


def expected_incomplete(archive: bytes, cut: int) -> set[int]:
    """Entries with a complete record header in the first ``cut`` bytes but no complete end."""
    started: set[int] = set()
    ended: set[int] = set()
    for offset, header in walk_records(archive):
        if header.type.name in ("BLOCK", "ENTRY_END") and offset + RECORD_HEADER.size <= cut:
            started.add(header.entry_id)
            if header.type.name == "ENTRY_END" and offset + header.record_length <= cut:
                ended.add(header.entry_id)
    return started - ended


def check_truncated(archive: bytes, cut: int) -> None:
    prefix = archive[:cut]
    incomplete = expected_incomplete(archive, cut)
    for source in (io.BytesIO(prefix), ChunkyPipe(prefix, chunk=1000)):
        with pytest.raises(ArchiveError) as info:
            list(ArchiveReader.open(source).stream())
        text = message(info)
        assert ("truncated" in text) if cut else ("empty" in text), (cut, text)
        for entry_id in incomplete:
            assert describe(entry_id) in text, (cut, text)
    with pytest.raises(ArchiveError) as info:
        ArchiveReader.open(io.BytesIO(prefix)).index()
    text = message(info)
    assert ("truncated" in text) if cut else ("empty" in text), (cut, text)
    for entry_id in incomplete:
        assert describe(entry_id) in text, (cut, text)
    if cut > len(archive) // 2:
        with pytest.raises(ArchiveError):
            list(ArchiveReader.open(io.BytesIO(prefix)).read_entry(2))


def test_truncated_at_every_offset_of_a_small_archive() -> None:
    archive, _ = small_archive()
    assert len(archive) < 3000  # keeps this exhaustive test fast
    for cut in range(len(archive)):
        check_truncated(archive, cut)


def test_truncated_at_sampled_offsets_of_a_bigger_archive(tmp_path: Path) -> None:
    entries = {i: [payload(i, 40_000)] for i in range(1, 5)}
    archive = write_archive(entries, block_size=4096)
    records = walk_records(archive)
    block_offsets = [offset for offset, h in records if h.type.name == "BLOCK"]
    rng = random.Random(1)
    cuts = {
        1,
        PREAMBLE.size,  # right after the preamble
        PREAMBLE.size + 10,  # inside the header record's header
        records[1][0] - 5,  # inside the header record's payload
        block_offsets[5] + 3,  # inside a block's record header
        block_offsets[9] + 100,  # inside a block's payload
        records[-1][0],  # right before the footer
        len(archive) - TRAILER.size,  # right before the trailer
        len(archive) - 1,
        *rng.sample(range(len(archive)), 40),
    }
    for cut in sorted(cuts):
        check_truncated(archive, cut)
    # a truncated regular file on disk behaves the same, naming the entry that was cut
    offset, header = records[len(records) // 2]
    path = tmp_path / "cut.psm"
    path.write_bytes(archive[: offset + 40])
    with ArchiveReader.open(path) as reader, pytest.raises(ArchiveError) as info:
        reader.read_entry(header.entry_id)
    assert describe(header.entry_id) in message(info) and "truncated" in message(info)


# --- bit flips and surgery ------------------------------------------------------------------


def owner_of(archive: bytes, position: int) -> tuple[int | None, int]:
    """(entry id, record offset) of the block or entry-end record holding ``position``."""
    for offset, header in walk_records(archive):
        inside = offset <= position < offset + header.record_length
        if inside and header.type.name in ("BLOCK", "ENTRY_END"):
            return header.entry_id, offset
    return None, -1


def test_a_flipped_bit_anywhere_is_detected() -> None:
    archive, expected = small_archive()
    for position in range(len(archive)):
        damaged = bytearray(archive)
        damaged[position] ^= 1 << (position % 8)
        damaged_bytes = bytes(damaged)
        entry_id, record_offset = owner_of(archive, position)

        with pytest.raises(ArchiveError) as info:
            ArchiveReader.open(io.BytesIO(damaged_bytes)).verify()
        text = message(info)
        if entry_id is not None and position < record_offset + RECORD_HEADER.size:
            # the record header itself is not trustworthy: the message gives its position
            assert f"record header at byte {record_offset}" in text, (position, text)
        elif entry_id is not None:
            assert describe(entry_id) in text, (position, text)

        # random access: either an error or exactly the original bytes, never wrong data
        failures: list[str] = []
        try:
            reader = ArchiveReader.open(io.BytesIO(damaged_bytes))
            for entry, content in expected.items():
                try:
                    assert b"".join(reader.read_entry(entry)) == content
                except ArchiveError as exc:
                    failures.append(exc.one_line())
        except ArchiveError as exc:
            failures.append(exc.one_line())
        assert failures, f"flip at byte {position} went unnoticed by random access"
        if entry_id is not None:  # only the entry that owns the damaged record fails
            assert len(failures) == 1 and describe(entry_id) in failures[0], (position, failures)


def surgery(archive: bytes, edit: str) -> tuple[bytes, int]:
    """Drop, repeat or swap block records of one entry; returns (archive, entry id)."""
    blocks = [
        (offset, offset + header.record_length)
        for offset, header in walk_records(archive)
        if header.type.name == "BLOCK" and header.entry_id == 1
    ]
    first, second = blocks[1], blocks[2]
    one, two = archive[first[0] : first[1]], archive[second[0] : second[1]]
    if edit == "missing":
        return archive[: first[0]] + archive[first[1] :], 1
    if edit == "duplicated":
        return archive[: first[1]] + one + archive[first[1] :], 1
    assert edit == "out of order" and first[1] <= second[0]
    return (
        archive[: first[0]] + two + archive[first[1] : second[0]] + one + archive[second[1] :],
        1,
    )


@pytest.mark.parametrize("edit", ["missing", "duplicated", "out of order"])
def test_missing_duplicated_or_reordered_block(edit: str) -> None:
    archive, _ = small_archive()
    damaged, entry_id = surgery(archive, edit)
    with pytest.raises(ArchiveError) as info:
        ArchiveReader.open(ChunkyPipe(damaged)).verify()
    text = message(info)
    assert describe(entry_id) in text and "block" in text, text
    with pytest.raises(ArchiveError):
        reader = ArchiveReader.open(io.BytesIO(damaged))
        for entry in reader.index():
            b"".join(reader.read_entry(entry))


def test_dropped_entry_is_noticed_by_the_footer() -> None:
    archive, _ = small_archive()
    records = walk_records(archive)
    keep = bytearray(archive[: records[1][0]])
    for offset, header in records[1:]:
        if header.entry_id != 4 or header.type.name not in ("BLOCK", "ENTRY_END"):
            keep += archive[offset : offset + header.record_length]
    keep += archive[-TRAILER.size :]
    with pytest.raises(ArchiveError) as info:
        ArchiveReader.open(io.BytesIO(bytes(keep))).verify()
    assert describe(4) in message(info) and "missing" in message(info)


def test_bytes_after_the_trailer_are_rejected() -> None:
    archive, _ = small_archive()
    with pytest.raises(ArchiveError) as info:
        ArchiveReader.open(io.BytesIO(archive + b"\0")).verify()
    assert "after the trailer" in message(info)
    with pytest.raises(ArchiveError) as info:
        ArchiveReader.open(io.BytesIO(archive + b"\0")).index()
    assert "after the trailer" in message(info)


def test_corrupt_chunk_is_never_yielded() -> None:
    entries = {1: [payload(1, 600)]}
    archive = write_archive(entries, block_size=100)
    blocks = [(o, h) for o, h in walk_records(archive) if h.type.name == "BLOCK"]
    offset, header = blocks[3]
    damaged = bytearray(archive)
    damaged[offset + header.record_length - 1] ^= 0x10  # last byte of block 3's payload
    chunks: list[bytes] = []

    def consume(source: Iterator[bytes]) -> None:
        for chunk in source:
            chunks.append(chunk)

    reader = ArchiveReader.open(io.BytesIO(bytes(damaged)))
    with pytest.raises(ArchiveError) as info:
        consume(reader.read_entry(1))
    assert b"".join(chunks) == b"".join(entries[1])[:300]  # blocks 0..2 only
    assert f"block 3 of {describe(1)}" in message(info)


def test_a_toc_of_many_entries_is_written_from_a_generator_and_reads_back() -> None:
    """100 000 entries: the header's JSON (over 4 MiB) is encoded in batches and
    compressed as a stream; the reader gets every document back, in order."""
    count = 100_000
    out = io.BytesIO()
    writer = ArchiveWriter(out, HEADER, (doc for doc in make_toc(count, data={7})))
    assert writer.describe(7) == "entry 7 (TABLE DATA public.t7)"
    writer.open_entry(7).close(rows=0)
    writer.finish()
    reader = ArchiveReader(io.BytesIO(out.getvalue()), name="many.psm")
    assert reader.toc == make_toc(count, data={7})
    assert reader.header["options"] == HEADER["options"]


def _traced_peak(action: Any) -> int:
    """tracemalloc's peak while ``action()`` runs, above what was traced before."""
    import tracemalloc

    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        action()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


def test_a_large_toc_streams_through_writer_and_reader_without_its_documents() -> None:
    """Neither side holds the TOC's documents or its JSON text: per entry, the writer
    keeps a compressed piece of text and an index slot, the reader what ``toc_entry``
    makes of each document. Holding the documents (or the text) costs well over 1 kB
    an entry; the bounds here are a third of that."""
    count = 20_000
    out = io.BytesIO()
    writers: list[ArchiveWriter] = []

    def write() -> None:
        docs = (toc_entry(i, data=i == 7) for i in range(1, count + 1))
        writers.append(ArchiveWriter(out, HEADER, docs))

    assert _traced_peak(write) < 400 * count
    writers[0].open_entry(7).close(rows=0)
    writers[0].finish()
    archive = out.getvalue()
    readers: list[ArchiveReader] = []

    def read() -> None:
        readers.append(ArchiveReader(io.BytesIO(archive), name="many.psm",
                                     toc_entry=lambda doc: doc["id"]))

    assert _traced_peak(read) < 400 * count
    assert readers[0].toc == list(range(1, count + 1))


def test_the_header_is_parsed_piece_by_piece_whatever_its_layout() -> None:
    """The reader parses the header as it decompresses it, 1 MiB at a time: "toc" first,
    white space anywhere, a value longer than a piece, a number across two pieces."""
    import json

    from tests.archive_forge import decode, forge, sample_archive, sample_toc

    records = decode(sample_archive())
    header = records[0].json()
    toc = header.pop("toc")
    long_text = "é" * 700_000  # 1.4 MB of UTF-8, split between pieces mid-character
    text = json.dumps({"toc": toc, **header, "options": {"note": long_text}}, indent=2,
                      ensure_ascii=False)
    # A number that starts 3 bytes before the first piece ends.
    head = '{"a":'
    number = head + " " * ((1 << 20) - 3 - len(head)) + "1234567,"
    records[0] = records[0].__class__(records[0].type, 0, 0,
                                      (number + text[1:]).encode())
    reader = ArchiveReader(io.BytesIO(forge(records)), name="forged.psm")
    assert reader.toc == sample_toc()
    assert reader.header["a"] == 1234567
    assert reader.header["options"] == {"note": long_text}
    assert reader.header["source"] == header["source"]


def test_the_writers_direct_forms_are_the_documented_ones() -> None:
    """The entry-end payload and record header are formatted directly on the write path;
    they must be the bytes the generic forms give (and the reader takes)."""
    for numbers in ((0, 0, 0, 0), (5, 120, 1, 0xFFFFFFFF), (2**40, 2**62, 7, 12345)):
        stats = EntryStats(9, *numbers)
        assert stats_json(stats) == dump_json(stats_document(stats))
    packed = pack_record_header(RecordType.ENTRY_END, 2**40, 3, 56, 44, 0xDEADBEEF)
    assert packed == RECORD_HEADER.pack(int(RecordType.ENTRY_END), 0, 0, 2**40, 3, 56, 44,
                                        0xDEADBEEF, zlib.crc32(packed[:-4]))
    assert RecordHeader.unpack(packed) == RecordHeader(RecordType.ENTRY_END, 2**40, 3, 56,
                                                       44, 0xDEADBEEF)


def test_the_footer_index_items_read_back_as_the_entries_added() -> None:
    """FooterIndex.documents (the writer's footer items, made from its arrays) read back
    through the reader's footer_entry as the entries that were added, by ascending id."""
    from pystream_migrate.archive.footerindex import FooterIndex
    from pystream_migrate.archive.format import EntryStats, FooterEntry, footer_entry

    rng = random.Random(7)
    index, added = FooterIndex(), {}
    for entry_id in rng.sample(range(1, 5000), 500):
        n = rng.randint(0, 3)
        added[entry_id] = FooterEntry(
            EntryStats(entry_id, rng.randint(0, 1 << 40), rng.randint(0, 1 << 50), n,
                       rng.randint(0, (1 << 32) - 1)),
            tuple(rng.randint(0, 1 << 60) for _ in range(n)),
            tuple(rng.randint(1, 1 << 20) for _ in range(n)),
            rng.randint(0, 1 << 60), rng.randint(1, 100))
        index.add(added[entry_id])
    seen: set[int] = set()
    read = []
    for item in index.documents():
        read.append(footer_entry(item, seen))
        seen.add(item["id"])
    assert read == [added[i] for i in sorted(added)]


def test_toc_and_footer_items_encode_as_json_does() -> None:
    """dump_items (orjson) gives dump_json's (json's) bytes for every value both encode,
    and refuses with a TypeError what json refuses (a lone surrogate, a set, a date) and
    an integer beyond 64 bits (which the archive's schema refuses where it types one)."""
    import datetime

    from pystream_migrate.archive.format import dump_items, dump_json

    class Text(str):
        pass

    values: list[Any] = [
        "".join(chr(i) for i in range(0x100)), "é漢字😀\u2028\u2029\ufeff", 'q"\\/',
        (1 << 63) - 1, -(1 << 63), (1 << 64) - 1, True, False, None, 1.5, 0.1, 1e16,
        [1, (2, 3)], {"a": {"b": [], "c": None}}, Text("x"), {1: "x", None: 2},
        {"id": 7, "kind": "TABLE", "deps": [1, 2], "info": {"oid": 16384, "chunk": True}},
    ]
    assert dump_items(values) == dump_json(values)
    for value in values:
        assert dump_items([value]) == dump_json([value])
    for refused in ["\ud800", {1, 2}, datetime.date(2026, 1, 1), 1 << 64]:
        with pytest.raises(TypeError):
            dump_items([refused])
