"""Helpers for round-trip tests: run dump and restore as a user would, compare results."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psycopg

from pystream_migrate.verify import compare_databases


def cli(*args: str, check: bool = True, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    res = subprocess.run(
        [sys.executable, "-m", "pystream_migrate", *args],
        capture_output=True, text=True, timeout=timeout, check=False,
    )
    if check and res.returncode != 0:
        raise AssertionError(
            f"pystream-migrate {' '.join(args[:1])} exited {res.returncode}:\n{res.stderr}"
        )
    return res


def dump(dsn: str, path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return cli("dump", "-d", dsn, "-f", str(path), *extra)


def restore(dsn: str, path: Path, *extra: str, check: bool = True
            ) -> subprocess.CompletedProcess[str]:
    return cli("restore", "-d", dsn, "-f", str(path), *extra, check=check)


def pipe_migrate(source: str, target: str, jobs: int = 2) -> None:
    dumper = subprocess.Popen(
        [sys.executable, "-m", "pystream_migrate", "dump", "-d", source, "-f", "-",
         "-j", str(jobs)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    restorer = subprocess.run(
        [sys.executable, "-m", "pystream_migrate", "restore", "-d", target, "-f", "-",
         "-j", str(jobs)],
        stdin=dumper.stdout, capture_output=True, timeout=600, check=False,
    )
    assert dumper.stdout is not None
    dumper.stdout.close()
    derr = dumper.stderr.read().decode() if dumper.stderr else ""
    assert dumper.wait(timeout=600) == 0, derr
    assert restorer.returncode == 0, restorer.stderr.decode()


def assert_same_data(source: str, target: str) -> None:
    diffs = compare_databases(source, target)
    assert diffs == [], "\n".join(diffs)


def scalar(dsn: str, query: str) -> object:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(query).fetchone()  # type: ignore[arg-type]
        return row[0] if row else None
