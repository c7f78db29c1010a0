"""The read-ahead spool between a pipe and the archive reader (no database).

The pipe of ``dump | restore`` must keep flowing while the restore does not read (pre-data
DDL, the catalog load): the writer of a pipe finishes although nobody consumes the
archive yet, and every byte then comes out in order, whatever passed through the spill
file. Errors and the end of the stream reach the reader after the bytes before them.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest

from pystream_migrate.archive import ArchiveReader, ArchiveWriter, spool
from pystream_migrate.archive.spool import SpoolFull, StreamSpool
from pystream_migrate.errors import ArchiveError
from tests.test_archive import HEADER, make_toc, payload, stream_contents

PIPE_STALL_SECONDS = 20.0  # the writer needs well under a second; waits only on failure


def archive_bytes(entries: int, size: int) -> tuple[bytes, dict[int, bytes]]:
    """An archive of ``entries`` entries of ``size`` barely compressible bytes each."""
    out = io.BytesIO()
    contents = {i: payload(i, size) for i in range(1, entries + 1)}
    writer = ArchiveWriter(out, HEADER, make_toc(entries), block_size=64 * 1024)
    for entry_id, content in contents.items():
        entry = writer.open_entry(entry_id)
        entry.write(content)
        entry.close(rows=1)
    writer.finish()
    return out.getvalue(), contents


def write_in_thread(fd: int, data: bytes) -> tuple[threading.Thread, threading.Event]:
    """Write ``data`` to the pipe's write end and close it; the event is set when done."""
    done = threading.Event()

    def run() -> None:
        # A reader that stops at damage closes its end early, as a failed restore does.
        with contextlib.suppress(BrokenPipeError), open(fd, "wb") as out:
            out.write(data)
        done.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, done


@contextlib.contextmanager
def spool_of_written(data: bytes) -> Iterator[StreamSpool]:
    """A spool (1000 bytes of memory) of a pipe whose writer wrote ``data`` and finished."""
    read_fd, write_fd = os.pipe()
    thread, done = write_in_thread(write_fd, data)
    with open(read_fd, "rb") as source:
        sp = StreamSpool(source, memory_limit=1000)
        assert done.wait(PIPE_STALL_SECONDS)
        thread.join()
        yield sp


def test_pipe_writer_finishes_while_nobody_reads_the_archive(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Fails without the spool: the writer blocks on a full pipe after ~64 KiB."""
    monkeypatch.setattr(spool, "MEMORY_LIMIT", 256 * 1024)  # the rest goes through the file
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    archive, contents = archive_bytes(8, 300_000)
    assert len(archive) > 1_000_000  # many times a pipe's capacity and the memory limit
    read_fd, write_fd = os.pipe()
    thread, done = write_in_thread(write_fd, archive)
    with open(read_fd, "rb") as source:
        reader = ArchiveReader.open(source)  # reads the header, as a restore does first
        assert done.wait(PIPE_STALL_SECONDS), "the pipe's writer was blocked"
        thread.join()
        assert stream_contents(reader)[0] == contents  # nothing lost, in order
        reader.close()


def test_regular_file_is_read_without_a_spool(tmp_path: Path) -> None:
    archive, contents = archive_bytes(2, 1000)
    path = tmp_path / "a.psm"
    path.write_bytes(archive)
    with ArchiveReader.open(path) as reader:
        assert reader.seekable and reader._spool is None
        assert stream_contents(reader)[0] == contents


def test_a_slow_reader_gets_every_byte_in_order_through_memory_and_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    rng = random.Random(7)
    data = rng.randbytes(3_000_000)
    read_fd, write_fd = os.pipe()
    write_in_thread(write_fd, data)
    with open(read_fd, "rb") as source:
        # Tiny limits: memory, file, back-pressure at the disk limit and the file's reset
        # all happen many times over.
        sp = StreamSpool(source, memory_limit=50_000, disk_limit=300_000)
        deadline = time.monotonic() + PIPE_STALL_SECONDS
        while not sp.spilled_bytes and time.monotonic() < deadline:
            time.sleep(0.01)  # the reader starts late: memory fills, the file takes over
        got = bytearray()
        while True:
            piece = sp.read(rng.choice((1, 24, 1000, 70_000, 500_000)))
            if not piece:
                break
            got += piece
            if rng.random() < 0.01:
                time.sleep(0.01)  # let the pipe run ahead
        sp.close()
    assert bytes(got) == data
    assert sp.spilled_bytes > 0


def test_the_spill_file_is_in_tmpdir_and_unnamed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    with spool_of_written(b"x" * 500_000) as sp:
        assert sp._file is not None
        where = os.readlink(f"/proc/self/fd/{sp._file.fileno()}")
        assert where.startswith(str(tmp_path)) and where.endswith("(deleted)")
        assert list(tmp_path.iterdir()) == []  # nothing left behind, even on a crash
        assert sp.read(-1) == b"x" * 500_000
        sp.close()


class FailingSource:
    """Hands out ``data`` in pieces, then raises ``error`` instead of ending."""

    def __init__(self, data: bytes, error: BaseException) -> None:
        self._data = data
        self._error = error

    def read(self, size: int) -> bytes:
        if not self._data:
            raise self._error
        piece, self._data = self._data[:1000], self._data[1000:]
        return piece


def test_a_pipe_error_comes_after_the_bytes_before_it() -> None:
    error = OSError(errno.EIO, "Input/output error")
    sp = StreamSpool(FailingSource(b"a" * 5000, error), memory_limit=2500)
    assert sp.read(4000) == b"a" * 4000
    assert sp.read(4000) == b"a" * 1000  # what came before the error first
    with pytest.raises(OSError) as info:
        sp.read(1)
    assert info.value is error
    sp.close()


def test_limits_smaller_than_one_piece_still_pass_everything() -> None:
    """An empty spool takes a piece larger than both limits instead of waiting forever."""
    sp = StreamSpool(FailingSource(b"c" * 5000, EOFError()), memory_limit=100,
                     disk_limit=100)
    assert sp.read(5000) == b"c" * 5000
    sp.close()


def test_a_full_disk_is_one_line_naming_tmpdir(monkeypatch: pytest.MonkeyPatch) -> None:
    """/dev/full answers every write with ENOSPC, as a full TMPDIR does."""

    def full_file(**_kw: Any) -> IO[bytes]:
        return open("/dev/full", "r+b")

    monkeypatch.setattr("tempfile.TemporaryFile", full_file)
    sp = StreamSpool(FailingSource(b"b" * 5000, EOFError()), memory_limit=2000)
    assert sp.read(2000) == b"b" * 2000  # the memory part is intact
    with pytest.raises(SpoolFull) as info:
        sp.read(1)
    line = info.value.one_line()
    assert "\n" not in line and "disk is full" in line and "TMPDIR" in line
    sp.close()


def test_a_truncated_stream_through_the_spool_is_reported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(spool, "MEMORY_LIMIT", 100_000)
    archive, _ = archive_bytes(4, 200_000)
    read_fd, write_fd = os.pipe()
    write_in_thread(write_fd, archive[: len(archive) * 2 // 3])  # the dump died
    with (open(read_fd, "rb") as source, ArchiveReader.open(source) as reader,
          pytest.raises(ArchiveError) as info):
        reader.verify()
    assert "truncated" in info.value.one_line()


def test_a_damaged_stream_through_the_spool_is_reported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(spool, "MEMORY_LIMIT", 100_000)
    archive, _ = archive_bytes(4, 200_000)
    damaged = bytearray(archive)
    damaged[len(archive) // 2] ^= 0x10
    read_fd, write_fd = os.pipe()
    write_in_thread(write_fd, bytes(damaged))
    with (open(read_fd, "rb") as source, ArchiveReader.open(source) as reader,
          pytest.raises(ArchiveError) as info):
        reader.verify()
    assert "damaged" in info.value.one_line()


def test_close_stops_reading_and_frees_the_spool() -> None:
    with spool_of_written(b"z" * 300_000) as sp:
        sp.close()
        deadline = time.monotonic() + PIPE_STALL_SECONDS  # a write under way closes it
        while sp._file is not None and not sp._file.closed and time.monotonic() < deadline:
            time.sleep(0.01)
        assert sp._file is None or sp._file.closed
        with pytest.raises(ValueError):
            sp.read(1)
