"""A fixed-seed fuzz of list, verify and restore over a few hundred damaged archives.

One small real dump is mutated two ways: bytes (flips, overwrites, cuts, inserted or
repeated ranges: the checksums catch those) and contents (JSON values, record fields,
lengths, record order, each forged with valid checksums: the schema and the bounds catch
those). For every mutant, list and verify must never print a traceback, never exceed a
memory bound, never hang, and never exit 0 on a file whose bytes were damaged; a
content mutant that verify accepts must list cleanly too. A sample is restored into the
test server, each in a child process with a memory limit and a timeout.

list and verify run in this process (fast), under an address-space limit and an alarm.
"""

from __future__ import annotations

import contextlib
import io
import json
import random
import resource
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from pystream_migrate.archive.format import RecordType
from pystream_migrate.cli import main
from pystream_migrate.errors import EXIT_ARCHIVE
from tests.archive_forge import Record, decode, dump_of, forge

SEED = 17
BYTE_MUTANTS = 160
CONTENT_MUTANTS = 160
RESTORED = 12  # mutants restored into the server, in child processes
PIPED = 8  # mutants verified through a pipe, in child processes
MEMORY_HEADROOM = 768 << 20  # address space a CLI run may add in this process
RUN_SECONDS = 20


@pytest.fixture
def base_archive(make_db, tmp_path: Path) -> bytes:  # type: ignore[no-untyped-def]
    return dump_of(
        make_db, tmp_path / "base.psm",
        "CREATE TABLE t (id serial PRIMARY KEY, v text, at timestamptz)",
        "CREATE TABLE u (t_id int REFERENCES t, n numeric)",
        "CREATE INDEX u_n ON u (n)",
        "INSERT INTO t (v, at) SELECT 'row ' || g, now() FROM generate_series(1, 300) g",
        "INSERT INTO u SELECT g, g / 7.0 FROM generate_series(1, 300) g",
    )


# --- mutations ----------------------------------------------------------------------------


def mutate_bytes(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    buf = bytearray(data)
    at = rng.randrange(len(buf))
    span = rng.randint(1, 64)
    how = rng.choice(["flip", "overwrite", "cut", "delete", "repeat", "insert"])
    if how == "flip":
        for _ in range(rng.randint(1, 8)):
            buf[rng.randrange(len(buf))] ^= 1 << rng.randrange(8)
    elif how == "overwrite":
        buf[at : at + span] = rng.randbytes(len(buf[at : at + span]))
    elif how == "cut":
        del buf[at:]
    elif how == "delete":
        del buf[at : at + span]
    elif how == "repeat":
        buf[at:at] = buf[at : at + span]
    else:
        buf[at:at] = rng.randbytes(span)
    return f"{how} at {at}", bytes(buf)


def _hostile_value(rng: random.Random) -> Any:
    return rng.choice([
        None, True, False, 0, -1, 1 << 70, "", "x", "pre-data", [], {}, [1, "a"],
        {"schema": "public"}, 1.5, json.loads("[" * 60 + "]" * 60),
    ])


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from _paths(child, (*prefix, i))


def _mutate_json(rng: random.Random, document: Any) -> str:
    paths = [p for p in _paths(document) if p]
    path = rng.choice(paths)
    parent = document
    for key in path[:-1]:
        parent = parent[key]
    key = path[-1]
    if isinstance(parent, dict) and rng.random() < 0.3:
        del parent[key]
        return f"delete {path}"
    parent[key] = _hostile_value(rng)
    return f"set {path} = {str(parent[key])[:30]}"


def mutate_contents(rng: random.Random, records: list[Record]) -> tuple[str, bytes]:
    records = list(records)
    how = rng.choice(["json", "json", "json", "field", "length", "order", "raw json"])
    i = rng.randrange(len(records))
    r = records[i]
    fix_footer = True
    if how == "json":
        documents = [k for k, rec in enumerate(records) if rec.type != RecordType.BLOCK]
        i = rng.choice(documents)
        document = records[i].json()
        what = _mutate_json(rng, document)
        records[i] = records[i].with_json(document)
        fix_footer = records[i].type != RecordType.FOOTER
        return f"{how} record {i}: {what}", forge(records, fix_footer=fix_footer)
    if how == "field":
        field = rng.choice(["type", "entry_id", "seq"])
        value = rng.choice([0, 1, 2, 3, 4, 5, 99, -1, 0xFFFFFFFF])
        if field == "type":
            value = rng.choice([1, 2, 3, 4, 5])
        if field == "seq" and value < 0:
            value = 7
        records[i] = replace(r, **{field: value})
        fix_footer = rng.random() < 0.5
        what = f"{field}={value}"
    elif how == "length":
        field = rng.choice(["raw_length", "payload_length"])
        value = rng.choice([0, 1, len(r.raw) + 1, 1 << 26, (1 << 26) + 1, 0x7FFFFFFF,
                            0xFFFFFFFF])
        records[i] = replace(r, **{field: value})
        what = f"{field}={value}"
    elif how == "order":
        j = rng.randrange(len(records))
        action = rng.choice(["swap", "drop", "duplicate"])
        if action == "swap":
            records[i], records[j] = records[j], records[i]
        elif action == "drop":
            del records[i]
        else:
            records.insert(j, r)
        what = f"{action} {i} {j}"
    else:
        text = r.raw
        at = rng.randrange(len(text) + 1)
        piece = rng.choice([b"[" * 100_000, b"9" * 5000, b"\\ud800", b'"', b"}", b"NaN"])
        records[i] = replace(r, raw=text[:at] + piece + text[at:])
        what = f"insert {piece[:10]!r} at {at}"
    return f"{how} record {i}: {what}", forge(records, fix_footer=fix_footer)


# --- running the CLI in this process, bounded -------------------------------------------


def _address_space() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmSize in /proc/self/status")


@contextlib.contextmanager
def bounded() -> Iterator[None]:
    """Memory limited to what this process uses now plus MEMORY_HEADROOM, and an alarm."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (_address_space() + MEMORY_HEADROOM, hard))

    def alarm(signum: int, frame: Any) -> None:
        raise TimeoutError(f"still running after {RUN_SECONDS}s")

    old = signal.signal(signal.SIGALRM, alarm)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def run_in_process(*args: str) -> tuple[int, str]:
    """Exit code and stderr of one CLI run; any escaping exception is a failure."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        signal.alarm(RUN_SECONDS)
        try:
            code = main(list(args))
        except BaseException as exc:  # what the fuzz is looking for
            code = -1
            err.write(f"Traceback: {type(exc).__name__}: {exc}\n")
        finally:
            signal.alarm(0)
    return code, err.getvalue()


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))


def run_child(*args: str, stdin: Path | None = None) -> tuple[int, str]:
    """Exit code and stderr of the CLI in a child process, bounded in memory and time."""
    try:
        res = subprocess.run([sys.executable, "-m", "pystream_migrate", *args],
                             input=stdin.read_bytes() if stdin else None,
                             stdin=None if stdin else subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             timeout=90, check=False, preexec_fn=_limit_memory)
    except subprocess.TimeoutExpired:
        return -1, "Traceback: hung for 90s"
    return res.returncode, res.stderr.decode(errors="replace")


# --- the fuzz -----------------------------------------------------------------------------


def _check(problems: list[str], what: str, code: int, err: str, damaged: bool) -> None:
    if "Traceback" in err:
        problems.append(f"{what}: {err.strip()[-300:]}")
    elif code == 0 and damaged:
        problems.append(f"{what}: exit 0 on a damaged file")
    elif code not in (0, EXIT_ARCHIVE):
        problems.append(f"{what}: exit {code}: {err.strip()[-200:]}")
    elif code and len(err.strip().splitlines()) != 1:
        problems.append(f"{what}: more than one line: {err.strip()[-300:]}")


def test_fuzzed_archives_fail_cleanly(base_archive: bytes, make_db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(SEED)
    records = decode(base_archive)
    mutants: list[tuple[str, bytes, bool]] = []
    for _ in range(BYTE_MUTANTS):
        what, data = mutate_bytes(rng, base_archive)
        mutants.append((what, data, True))
    for _ in range(CONTENT_MUTANTS):
        what, data = mutate_contents(rng, records)
        mutants.append((what, data, False))
    problems: list[str] = []
    accepted: list[tuple[str, Path]] = []
    rejected: list[tuple[str, Path]] = []
    path = tmp_path / "mutant.psm"
    with bounded():
        for n, (what, data, damaged) in enumerate(mutants):
            if data == base_archive:
                continue
            path.write_bytes(data)
            code, err = run_in_process("verify", str(path))
            _check(problems, f"verify #{n} {what}", code, err, damaged)
            list_code, list_err = run_in_process("list", str(path))
            _check(problems, f"list #{n} {what}", list_code, list_err, False)
            if code == 0 and list_code != 0:
                problems.append(f"list #{n} {what}: verify accepted it, list exits "
                                f"{list_code}: {list_err.strip()}")
            keep = tmp_path / f"mutant-{n}.psm"
            if code == 0 or len(rejected) < RESTORED:
                keep.write_bytes(data)
                (accepted if code == 0 else rejected).append((f"#{n} {what}", keep))
    for what, keep in rejected[:PIPED]:  # the same checks, read through a pipe
        code, err = run_child("verify", "-", stdin=keep)
        _check(problems, f"verify - {what}", code, err, True)
    sample = rng.sample(rejected, min(len(rejected), RESTORED // 2))
    sample += rng.sample(accepted, min(len(accepted), RESTORED - len(sample)))
    for what, keep in sample:
        target = make_db("fuzzt")
        code, err = run_child("restore", "-d", target, "-f", str(keep))
        if "Traceback" in err or code < 0:
            problems.append(f"restore {what}: {err.strip()[-300:]}")
        elif (what, keep) in rejected and code != EXIT_ARCHIVE:
            problems.append(f"restore {what}: verify refused it, restore exits {code}")
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems[:20])
    assert len(mutants) >= 300 and sample
    # The content mutants must reach past the checksums: some are accepted (a changed
    # warning text is still a valid archive), most are refused by the schema or bounds.
    assert 0 < len(accepted) < CONTENT_MUTANTS // 2, len(accepted)
