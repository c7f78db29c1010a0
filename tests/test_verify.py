"""verify: an archive's checksums, and a migrated target against its source."""

from __future__ import annotations

import re
from pathlib import Path

import psycopg

from pystream_migrate.sample import load_sample
from tests.migrate_support import cli, dump, restore, scalar


def test_verify_compares_source_and_target(make_db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    source, target = make_db("src"), make_db("tgt")
    load_sample(source, days=2, devices=2)
    archive = tmp_path / "db.psm"
    dump(source, archive)
    restore(target, archive)
    same = cli("verify", "--source", source, "--target", target)
    assert same.stdout == ""
    assert "source and target match" in same.stderr
    # It says what it compared, in numbers a user can check.
    chunks = scalar(source, "SELECT count(*) FROM timescaledb_information.chunks")
    hypertables = scalar(source, "SELECT count(*) FROM timescaledb_information.hypertables")
    assert f"TimescaleDB's {chunks} chunks" in same.stderr
    assert f"{hypertables} hypertable" in same.stderr
    assert re.search(r"\d+ tables with \d+ rows", same.stderr)

    with psycopg.connect(target, autocommit=True) as conn:
        conn.execute("UPDATE public.devices SET location = 'moved' WHERE id = 1")
        conn.execute("DELETE FROM public.metrics WHERE ts < '2024-01-01 01:00+00'")
        conn.execute("SELECT setval('public.devices_id_seq', 500)")
    diff = cli("verify", "--source", source, "--target", target, check=False)
    assert diff.returncode == 6
    lines = diff.stdout.splitlines()
    assert "table public.devices: same row count (2) but different content" in lines
    assert any(ln.startswith("table _timescaledb_internal._hyper_1_1_chunk: ")
               and "rows on the source" in ln for ln in lines)
    assert any(ln.startswith("sequence public.devices_id_seq:") for ln in lines)
    assert "3 differences" in diff.stderr


def test_verify_archive_from_stdin(make_db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import subprocess
    import sys

    source = make_db("src")
    load_sample(source, days=1, devices=1)
    archive = tmp_path / "db.psm"
    dump(source, archive)
    with open(archive, "rb") as fh:
        res = subprocess.run([sys.executable, "-m", "pystream_migrate", "verify", "-"],
                             stdin=fh, capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr
    assert "every checksum matches" in res.stdout

