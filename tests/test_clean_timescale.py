"""``restore --clean`` into a target that already holds the archive's TimescaleDB objects.

``--clean`` drops what the archive would create, in an order TimescaleDB accepts
(hypertables take their chunks, compressed chunks and catalog rows with them; nothing
chunk-level that TimescaleDB forbids), on a complete target and after a killed restore.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.migrate_support import assert_same_data, dump, restore, scalar
from tests.test_dump_restore_behaviour import _wait_for_progress
from tests.test_timescale_features import (
    _build_all,
    _need_caggs,
    _need_compression,
    _need_jobs,
    _probe_target,
    _rows,
    _run,
    assert_same_through_roots,
    assert_same_timescale_views,
)

JOBS = ("SELECT proc_name, schedule_interval::text, config::text "
        "FROM timescaledb_information.jobs "
        "WHERE job_id >= 1000 ORDER BY 1, 2, 3")


def _full_source_with_bulk(dsn: str) -> None:
    """Every feature, plus a hypertable large enough to kill a restore in the middle."""
    _need_compression(dsn)
    _need_caggs(dsn)
    _need_jobs(dsn)
    _build_all(dsn)
    _run(dsn, """
        CREATE TABLE public.bulk (ts timestamptz NOT NULL, a int DEFAULT 7, b text);
        SELECT create_hypertable('public.bulk', 'ts', chunk_time_interval => interval '6 hours');
        CREATE INDEX bulk_a ON public.bulk (a);
        INSERT INTO public.bulk SELECT timestamptz '2024-01-01' + g * interval '1 second',
            g % 1000, repeat(md5(g::text), 3) FROM generate_series(1, 200000) g;
    """)


def _dumped(source: str, tmp_path: Path) -> Path:
    """The full source with bulk data, dumped with -j 2."""
    _full_source_with_bulk(source)
    archive = tmp_path / "db.psm"
    dump(source, archive, "-j", "2")
    return archive


def _start_restore(target: str, archive: Path, *,
                   stream: bool = False) -> subprocess.Popen[bytes]:
    """A restore from the file, or (``stream``) from a pipe, read in one pass (stdin
    redirected from the file itself would be seekable: a file archive)."""
    if stream:
        cat = subprocess.Popen(["cat", str(archive)], stdout=subprocess.PIPE)
        assert cat.stdout is not None
        proc = subprocess.Popen(
            [sys.executable, "-m", "pystream_migrate", "restore", "-d", target, "-f",
             "-", "-j", "2"], stdin=cat.stdout, stderr=subprocess.PIPE)
        cat.stdout.close()
        return proc
    return subprocess.Popen(
        [sys.executable, "-m", "pystream_migrate", "restore", "-d", target, "-f",
         str(archive), "-j", "2"], stderr=subprocess.PIPE)


def _assert_same(source: str, target: str) -> None:
    assert_same_data(source, target)
    assert_same_timescale_views(source, target)
    assert_same_through_roots(source, target)
    assert _rows(target, JOBS) == _rows(source, JOBS)
    assert scalar(target, "SHOW timescaledb.restoring") == "off"


@pytest.mark.parametrize("if_exists", [False, True], ids=["clean", "clean-if-exists"])
def test_clean_over_a_complete_timescale_target(source_db: str, target_db: str,
                                                tmp_path: Path, if_exists: bool) -> None:
    archive = _dumped(source_db, tmp_path)
    restore(target_db, archive, "-j", "2")
    flags = ["--clean", "--if-exists"] if if_exists else ["--clean"]
    res = restore(target_db, archive, "-j", "2", *flags, check=False)
    assert res.returncode == 0, res.stderr
    _assert_same(source_db, target_db)
    _probe_target(source_db, target_db)


def test_clean_after_a_killed_timescale_restore(source_db: str, target_db: str,
                                                tmp_path: Path) -> None:
    archive = _dumped(source_db, tmp_path)
    proc = _start_restore(target_db, archive)
    _wait_for_progress(target_db, proc, minimum=40)
    proc.kill()
    proc.communicate(timeout=120)
    res = restore(target_db, archive, "-j", "2", "--clean", "--if-exists", check=False)
    assert res.returncode == 0, res.stderr
    _assert_same(source_db, target_db)



def _trap_catalog_load(target: str, source: str, body: str) -> None:
    """A trigger that fires even with session_replication_role = replica on the catalog's
    dimension table, loaded after its hypertable table. An extension member, so that the
    target still counts as empty."""
    version = scalar(source, "SELECT extversion FROM pg_extension "
                             "WHERE extname = 'timescaledb'")
    _run(target, f"""
        CREATE EXTENSION timescaledb VERSION '{version}';
        CREATE FUNCTION public.trap() RETURNS trigger LANGUAGE plpgsql
            AS $$ BEGIN {body}; RETURN NEW; END $$;
        CREATE TRIGGER trap BEFORE INSERT ON _timescaledb_catalog.dimension
            FOR EACH ROW EXECUTE FUNCTION public.trap();
        ALTER TABLE _timescaledb_catalog.dimension ENABLE ALWAYS TRIGGER trap;
        ALTER EXTENSION timescaledb ADD FUNCTION public.trap();
    """)


def _untrap(target: str) -> None:
    _run(target, "DROP TRIGGER trap ON _timescaledb_catalog.dimension; "
                 "ALTER EXTENSION timescaledb DROP FUNCTION public.trap(); "
                 "DROP FUNCTION public.trap()")


def test_a_failed_catalog_load_is_undone_and_resumable(source_db: str, target_db: str,
                                                       tmp_path: Path) -> None:
    """Half a catalog must not go live: TimescaleDB's retention job segfaults on it."""
    archive = _dumped(source_db, tmp_path)
    _trap_catalog_load(target_db, source_db, "RAISE EXCEPTION 'refused by the test'")
    started = scalar(target_db, "SELECT pg_postmaster_start_time()")
    res = restore(target_db, archive, "-j", "2", check=False)
    assert res.returncode == 1 and "refused by the test" in res.stderr, res.stderr
    assert "catalog was loaded only in part" in res.stderr, res.stderr
    assert scalar(target_db, "SELECT count(*) FROM _timescaledb_catalog.hypertable") == 0
    assert scalar(target_db, "SHOW timescaledb.restoring") == "off"
    time.sleep(3)  # the background jobs start at once when restoring mode ends
    assert scalar(target_db, "SELECT pg_postmaster_start_time()") == started
    _untrap(target_db)
    restore(target_db, archive, "-j", "2", "--resume")
    _assert_same(source_db, target_db)


def test_clean_after_a_restore_killed_inside_the_catalog_load(source_db: str, target_db: str,
                                                              tmp_path: Path) -> None:
    """SIGKILL while the catalog loads: half of it stays, TimescaleDB's drops would fail.

    From a stream, each catalog table loads in a transaction of its own (from a file the
    catalog is one transaction: a kill leaves none of it)."""
    archive = _dumped(source_db, tmp_path)
    _trap_catalog_load(target_db, source_db, "PERFORM pg_sleep(60)")
    proc = _start_restore(target_db, archive, stream=True)
    deadline = time.monotonic() + 120
    while not scalar(target_db, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE "
                                "'%COPY \"_timescaledb_catalog\".\"dimension\"%' "
                                "AND pid <> pg_backend_pid()"):
        assert proc.poll() is None and time.monotonic() < deadline, "no catalog load seen"
        time.sleep(0.05)
    proc.kill()
    proc.communicate(timeout=120)
    _run(target_db, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE query LIKE '%COPY%dimension%' AND pid <> pg_backend_pid()")
    assert scalar(target_db, "SELECT count(*) FROM _timescaledb_catalog.hypertable") > 0
    _untrap(target_db)
    res = restore(target_db, archive, "-j", "2", "--clean", check=False)
    assert res.returncode == 0, res.stderr
    assert "TimescaleDB catalog tables" in res.stderr
    _assert_same(source_db, target_db)
