"""The header encoded by a forked child while data is written (archive/headerjob.py):
the archive must be the one the writer makes alone, byte for byte (no server).

The writer forks only when no other thread runs, which a test process full of other
tests' threads cannot promise: each case runs in a fresh interpreter (``_fresh``).
"""

from __future__ import annotations

import io
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pystream_migrate.archive import ArchiveReader, ArchiveWriter, headerjob, writer
from pystream_migrate.archive.writer import EntryName

from .test_archive import make_toc, payload

HEADER = {"source": {"postgres": "15"}, "created_at": "2026-11-30T00:00:00+00:00"}


def _names(toc: list[dict[str, Any]]) -> dict[int, EntryName | None]:
    return {d["id"]: EntryName(d["kind"], d["schema"], d["name"]) if d.get("copy") else None
            for d in toc}


def _slow(toc: list[dict[str, Any]], pause: float) -> Iterator[dict[str, Any]]:
    """The TOC's documents after a pause: read by the child, the writes come first."""
    time.sleep(pause)
    yield from toc


def _write(toc: list[dict[str, Any]], data: dict[int, bytes], *, child: bool,
           pause: float = 0.0, split: int | None = None) -> tuple[bytes, ArchiveWriter]:
    """An archive of ``toc`` with ``data``; ``split``: the TOC in two parts from there."""
    out = io.BytesIO()
    head, tail = (toc, None) if split is None else (
        toc[:split], (split, _slow(toc[split:], pause) if child else toc[split:]))
    w = ArchiveWriter(out, HEADER, _slow(head, pause) if child else head, block_size=1000,
                      names=_names(toc) if child else None, toc_tail=tail)
    for entry_id, raw in data.items():
        e = w.open_entry(entry_id)
        e.write(raw)
        e.close(raw.count(b"\n"))
    w.finish({"entries": len(toc)})
    return out.getvalue(), w


def _fresh(case: str) -> None:
    """Run ``case`` (a function of this module) in a new single-threaded interpreter."""
    res = subprocess.run([sys.executable, "-c", f"from tests.test_header_child import "
                          f"{case}; {case}()"], cwd=Path(__file__).resolve().parent.parent,
                         capture_output=True, text=True, timeout=120, check=False)
    assert res.returncode == 0, res.stderr


def test_the_childs_header_makes_the_same_archive_byte_for_byte() -> None:
    _fresh("same_bytes")


def test_what_the_child_finds_wrong_is_raised_as_the_writer_alone_raises_it() -> None:
    _fresh("child_error")


def test_writers_wait_past_the_bound_and_lose_nothing() -> None:
    _fresh("held_bound")


def test_a_fork_that_fails_leaves_the_header_to_the_writer() -> None:
    _fresh("fork_fails")


def test_a_sigterm_during_the_fork_is_raised_and_stops_the_child() -> None:
    _fresh("signal_in_fork")


def test_a_toc_in_two_parts_makes_the_same_archive_byte_for_byte() -> None:
    _fresh("same_bytes_in_parts")


def test_what_a_part_finds_wrong_is_raised_and_parts_must_be_in_order() -> None:
    _fresh("errors_in_parts")


def test_a_toc_in_parts_may_hold_its_highest_id_in_the_middle() -> None:
    _fresh("highest_id_in_the_middle")


def test_the_caller_lets_go_of_the_toc_once_the_header_is_written() -> None:
    _fresh("release_after_header")


def release_after_header() -> None:
    """``release`` is called once, when the header is written: from the children's
    parts once they have exited (so that nothing freed copies a page still shared with
    them), or by the writer alone at once."""
    toc = make_toc(300, data=set())
    for child, split in [(True, None), (True, 150), (False, None), (False, 150)]:
        _release_case(toc, child, split)


def _release_case(toc: list[dict[str, Any]], child: bool, split: int | None) -> None:
    import os

    def reaped(pid: int) -> bool:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return True
        return False

    calls: list[bool] = []  # per call: whether every child had exited
    made: list[ArchiveWriter] = []

    def release() -> None:
        job = made[0]._job if made else None
        calls.append(job is None or all(reaped(pid) for pid, _ in job._children))

    head, tail = (toc, None) if split is None else (
        toc[:split], (split, _slow(toc[split:], 0.3) if child else toc[split:]))
    w = ArchiveWriter(io.BytesIO(), HEADER, _slow(head, 0.3) if child else head,
                      names=_names(toc) if child else None, toc_tail=tail, release=release)
    made.append(w)
    assert (w._job is not None) == child, "no child: tests nothing"
    if w._job is not None:
        assert not calls  # the children still encode
        assert len(w._job._children) == (1 if split is None else 2)
        w.wait_header()
    assert calls == [True]
    w.finish()
    assert calls == [True]


def same_bytes_in_parts() -> None:
    """Two children encode a half each; without fork, the writer does both itself."""
    import os

    toc = make_toc(300, data=set(range(100, 300)))
    data = {i: payload(i, 40 if i % 3 else 3500) for i in range(100, 300)}
    alone, _ = _write(toc, data, child=False)
    assert _write(toc, data, child=False, split=150)[0] == alone
    in_parts, w = _write(toc, data, child=True, pause=0.3, split=150)
    assert w._job is not None and len(w._job._children) == 2, "no children: tests nothing"
    assert in_parts == alone
    fork = os.fork

    def no_fork() -> int:
        raise OSError(11, "Resource temporarily unavailable")

    os.fork = no_fork
    try:
        here, w = _write(toc, data, child=True, split=150)
    finally:
        os.fork = fork
    assert w._job is None and here == alone


def errors_in_parts() -> None:
    toc = make_toc(50)
    toc[37]["name"] = 5  # in the second part
    with pytest.raises(ValueError) as alone:
        ArchiveWriter(io.BytesIO(), HEADER, toc)
    with pytest.raises(ValueError) as raised:
        _write(toc, {1: b"1\n"}, child=True, split=25)
    assert str(raised.value) == str(alone.value)
    # No cycle, but an entry needs one of a higher id: a TOC in parts must depend on
    # lower ids only (every dump's does), the cycle check sees one part.
    toc = make_toc(50)
    toc[3]["deps"] = [40]
    ArchiveWriter(io.BytesIO(), HEADER, toc)  # accepted whole
    with pytest.raises(ValueError, match="in parts must have each entry depend on lower"):
        _write(toc, {1: b"1\n"}, child=True, split=25)
    toc = make_toc(50)
    toc[30]["id"] = 3  # twice, in both parts
    with pytest.raises(ValueError, match="in parts must hold the ids it was announced"):
        _write(toc, {1: b"1\n"}, child=True, split=25)


def highest_id_in_the_middle() -> None:
    """The dump adds the user jobs' statistics after the job catalog with the highest
    id, in the middle of the TOC: ids not ascending, every dependency on a lower id."""
    toc = make_toc(60, data=set(range(1, 61)))
    extra = toc.pop()
    extra["deps"] = [10, 11]
    toc.insert(11, extra)
    data = {i: payload(i, 200) for i in range(1, 61)}
    alone, _ = _write(toc, data, child=False)
    in_parts, w = _write(toc, data, child=True, pause=0.2, split=30)
    assert w._job is not None and len(w._job._children) == 2
    assert in_parts == alone


def signal_in_fork() -> None:
    """A SIGTERM that lands in fork's own hooks (here: sent by one) was printed and
    dropped by Python, and the dump ran on to its end; it must be raised."""
    import os
    import signal

    class Stop(Exception):
        pass

    def stop(signum: int, frame: object) -> None:
        raise Stop

    signal.signal(signal.SIGTERM, stop)
    os.register_at_fork(after_in_parent=lambda: os.kill(os.getpid(), signal.SIGTERM))
    toc = make_toc(20)
    try:
        ArchiveWriter(io.BytesIO(), HEADER, _slow(toc, 0.5), names=_names(toc))
    except Stop:
        pass
    else:
        raise AssertionError("the SIGTERM sent during the fork was lost")
    try:  # the child was stopped and reaped
        os.waitpid(-1, os.WNOHANG)
        raise AssertionError("a child process is left")
    except ChildProcessError:
        pass


def fork_fails() -> None:
    import errno
    import os

    def no_fork() -> int:
        raise OSError(errno.EAGAIN, "Resource temporarily unavailable")

    os.fork = no_fork
    toc = make_toc(20)
    data = {i: payload(i, 300) for i in range(1, 21)}
    alone, _ = _write(toc, data, child=False)
    without, w = _write(toc, data, child=True)
    assert w._job is None and without == alone


def same_bytes() -> None:
    toc = make_toc(300, data=set(range(100, 300)))
    # Entries of several blocks (block_size 1000): their sequence numbers are given as
    # the blocks are made, not as they are written once the header is.
    data = {i: payload(i, 40 if i % 3 else 3500) for i in range(100, 300)}
    alone, _ = _write(toc, data, child=False)
    with_child, w = _write(toc, data, child=True, pause=0.3)
    assert w._job is not None, "no child: this test would test nothing"
    assert with_child == alone
    with ArchiveReader(io.BytesIO(with_child), name="child.psm") as r:
        assert {i: b"".join(r.read_entry(i)) for i in data} == data


def child_error() -> None:
    toc = make_toc(50)
    toc[7]["name"] = 5  # not a string: the format check refuses it
    with pytest.raises(ValueError) as alone:
        ArchiveWriter(io.BytesIO(), HEADER, toc)
    out = io.BytesIO()
    w = ArchiveWriter(out, HEADER, iter(toc), names=_names(toc))
    assert w._job is not None
    e = w.open_entry(1)  # data written meanwhile waits, then is dropped
    e.write(b"1\n")
    with pytest.raises(ValueError) as raised:
        e.close(1)
        w.finish()
    assert str(raised.value) == str(alone.value) and '"name" must be a string' in str(
        alone.value)


def held_bound() -> None:
    writer.HELD_MAX = 1  # every record past the first waits
    toc = make_toc(40)
    data = {i: payload(i, 500) for i in range(1, 41)}
    out = io.BytesIO()
    w = ArchiveWriter(out, HEADER, _slow(toc, 0.2), names=_names(toc))
    assert w._job is not None

    def work(ids: range) -> None:
        for i in ids:
            e = w.open_entry(i)
            e.write(data[i])
            e.close(1)

    threads = [threading.Thread(target=work, args=(range(k, 41, 2),)) for k in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    w.finish()
    with ArchiveReader(io.BytesIO(out.getvalue()), name="held.psm") as r:
        assert {i: b"".join(r.read_entry(i)) for i in data} == data


def test_no_child_while_another_thread_runs() -> None:
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert headerjob.start([lambda: b"x"], lambda payloads, error: None) is None
        toc = make_toc(5)
        w = ArchiveWriter(io.BytesIO(), HEADER, toc, names=_names(toc))
        assert w._job is None  # encoded here, as before
    finally:
        stop.set()
        other.join()


def test_a_large_toc_is_let_go_of_at_once() -> None:
    _fresh("large_toc_let_go")


def large_toc_let_go() -> None:
    """The dump holds its TOC until the header's children are done only below
    dump.HOLD_TOC_BELOW entries: a larger one (here from 1) is let go of as the writer
    is opened, its memory free for the data phase (held, the dump's peak RSS at
    100 000 chunks went from 223 to 277 MB)."""
    import tempfile

    from pystream_migrate import dump
    from pystream_migrate.toc import CopySpec, Section, TocEntry

    def entries() -> list[TocEntry]:
        made = [TocEntry(kind="TABLE", schema="s", name=f"t{i}", section=Section.PRE_DATA,
                         create_sql=f"CREATE TABLE s.t{i} (a int);" + " " * 200, id=i)
                for i in range(1, 3001)]
        made += [TocEntry(kind="TABLE DATA", schema="s", name=f"t{i}", section=Section.DATA,
                          copy=CopySpec("s", f"t{i}", ["a"]), deps=(i,), id=3000 + i)
                 for i in range(1, 3001)]
        return made

    with tempfile.TemporaryDirectory() as tmp:
        for hold_below, held in [(1, False), (1 << 30, True)]:
            dump.HOLD_TOC_BELOW = hold_below
            out = dump._Output(f"{tmp}/x.psm")
            out.open()
            toc = entries()
            w = dump._open_writer(out, {"tool": "test"}, toc, dump.DumpOptions("", ""),
                                  lambda _m: None)
            assert w.header_in_child, "no child: tests nothing"
            if not held:
                assert not toc  # while the children may still encode it
            w.wait_header()
            assert not toc  # once the header is written, whichever the size
            w.abort()
            out.abort()
