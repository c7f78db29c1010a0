"""Progress as a user sees it: JSON lines, plain lines in a pipe, a live display in a terminal."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pystream_migrate.sample import load_sample


@pytest.fixture
def sample_source(make_db) -> str:  # type: ignore[no-untyped-def]
    dsn = make_db("src")
    load_sample(dsn, days=3, devices=3)
    return dsn


def _rows(dsn: str) -> int:
    """Rows a migration of ``dsn`` carries: user tables and TimescaleDB's catalog."""
    from pystream_migrate.verify import database_fingerprints

    return sum(fp.rows for fp in database_fingerprints(dsn).values())


def test_json_progress_lines(sample_source: str, tmp_path: Path) -> None:
    res = subprocess.run(
        [sys.executable, "-m", "pystream_migrate", "dump", "-d", sample_source,
         "-f", str(tmp_path / "a.psm"), "--progress", "json"],
        capture_output=True, text=True, timeout=300, check=True)
    events = [json.loads(line) for line in res.stderr.splitlines()]
    assert events[0]["event"] == "phase" and events[0]["phase"] == "dump"
    done = [e for e in events if e["event"] == "done"]
    assert len(done) == 1
    assert done[0]["rows"] == _rows(sample_source)
    assert done[0]["entries_done"] == done[0]["total_entries"] > 0
    assert done[0]["bytes"] > 0


def test_plain_lines_when_not_a_terminal(sample_source: str, make_db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    archive = tmp_path / "a.psm"
    subprocess.run([sys.executable, "-m", "pystream_migrate", "dump", "-d", sample_source,
                    "-f", str(archive), "--progress", "none"], check=True, timeout=300)
    target = make_db("tgt")
    res = subprocess.run(
        [sys.executable, "-m", "pystream_migrate", "restore", "-d", target, "-f", str(archive)],
        capture_output=True, text=True, timeout=300, check=True)
    assert "\x1b[" not in res.stderr  # no terminal control codes in a pipe
    lines = res.stderr.splitlines()
    data = [ln for ln in lines if ln.startswith("pystream-migrate: restore data:")]
    assert data and data[-1].endswith(", done")
    # Every row loaded; TimescaleDB's catalog merges two of its metadata rows into the ones
    # CREATE EXTENSION made, and the server reports those as not inserted.
    loaded = int(data[-1].split(" rows,")[0].rsplit(" ", 1)[1])
    assert _rows(sample_source) - 2 <= loaded <= _rows(sample_source)
    # A finished phase gives its final counts, every entry done, and no estimate.
    done, total = data[-1].split(" entries,")[0].rsplit(" ", 1)[1].split("/")
    assert done == total and "%" not in data[-1]


def test_live_display_in_a_terminal(sample_source: str, tmp_path: Path) -> None:
    primary, secondary = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pystream_migrate", "dump", "-d", sample_source,
         "-f", str(tmp_path / "a.psm"), "-j", "2"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=secondary,
        env={**os.environ, "COLUMNS": "120", "TERM": "xterm-256color"})
    os.close(secondary)
    out = b""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        ready, _, _ = select.select([primary], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(primary, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        elif proc.poll() is not None:
            break
    proc.wait(timeout=60)
    os.close(primary)
    assert proc.returncode == 0, out.decode(errors="replace")
    text = out.decode(errors="replace")
    assert "\x1b[" in text  # drawn with terminal control codes, updated in place
    assert "dump" in text and "rows" in text
    assert f"{_rows(sample_source)} rows" in text


# --- estimates that run short (issue 17 item 4, issue 14) --------------------------------


def _run_phase(display: type, *, estimate: int, written: int, entries: int,
               total_entries: int, failed: bool = False) -> list[str]:
    import io

    from pystream_migrate import progress

    stream = io.StringIO()
    p = display(stream)
    p._last = float("inf")  # no periodic lines: only what is asked for below
    p.phase("dump", total_bytes=estimate, total_entries=total_entries)
    for i in range(entries):
        p.start_entry("w1", f"TABLE DATA public.t{i}")
        p.advance(written // entries)
        p.finish_entry("w1", 10)
    if isinstance(p, progress.PlainProgress):
        stream.write(p._line() + "\n")
    else:
        p._emit("progress")
    p.close(failed=failed)
    return stream.getvalue().splitlines()


def test_plain_line_never_reads_over_100_percent() -> None:
    from pystream_migrate.progress import PlainProgress

    during, end = _run_phase(PlainProgress, estimate=3_500_000, written=7_000_000,
                             entries=49, total_entries=48)
    assert "99% 6.7 MiB of ~6.7 MiB" in during, during  # not "200% ... of ~3.3 MiB"
    assert "49/49 entries" in during  # not 49/48
    assert end.endswith(", done") and "%" not in end and "~" not in end, end
    assert "6.7 MiB, 490 rows, 49/49 entries" in end


def test_plain_line_of_a_finished_phase_says_no_percent() -> None:
    from pystream_migrate.progress import PlainProgress

    *_, end = _run_phase(PlainProgress, estimate=1_000_000, written=720_000, entries=4,
                         total_entries=4)
    assert end.endswith(", done") and "72%" not in end, end  # not "72% ... done"
    *_, stopped = _run_phase(PlainProgress, estimate=1_000_000, written=720_000, entries=4,
                             total_entries=5, failed=True)
    assert "72% " in stopped and stopped.endswith(", stopped")


def test_json_totals_never_below_what_was_done() -> None:
    from pystream_migrate.progress import JsonProgress

    lines = [json.loads(line) for line in _run_phase(
        JsonProgress, estimate=100, written=300, entries=3, total_entries=2)]
    progress_event, done = lines[-2], lines[-1]
    assert progress_event["total_bytes"] >= progress_event["bytes"] == 300
    assert progress_event["total_entries"] >= progress_event["entries_done"] == 3
    assert done["event"] == "done"
    assert (done["bytes"], done["total_bytes"]) == (300, 300)
    assert (done["entries_done"], done["total_entries"]) == (3, 3)
