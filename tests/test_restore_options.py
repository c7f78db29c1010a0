"""Restore options a user reaches for: --create, --clean, -L, --section, --no-owner."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from pystream_migrate.connection import with_dbname
from pystream_migrate.sample import load_sample
from tests.migrate_support import assert_same_data, cli, dump, restore, scalar


@pytest.fixture
def archive(make_db, tmp_path: Path) -> tuple[str, Path]:  # type: ignore[no-untyped-def]
    source = make_db("src")
    load_sample(source, days=2, devices=3)
    path = tmp_path / "db.psm"
    dump(source, path)
    return source, path


def test_create_makes_the_database(archive: tuple[str, Path], pg_server) -> None:  # type: ignore[no-untyped-def]
    source, path = archive
    name = "psm_created_" + path.parent.name[-8:].replace("-", "_")
    target = with_dbname(pg_server.dsn, name)
    try:
        restore(target, path, "--create")
        assert_same_data(source, target)
        again = restore(target, path, "--create", check=False)
        assert again.returncode == 5 and "already exists" in again.stderr
    finally:
        with psycopg.connect(pg_server.dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)))


@pytest.mark.parametrize("change", [
    # Rows changed since a previous restore.
    "DELETE FROM public.metrics WHERE device_id = 1;"
    "INSERT INTO public.metrics (ts, device_id) VALUES ('2031-01-01', 2)",
    # A table already gone (as after a partial restore): its drops must be skipped, not
    # fatal. CASCADE takes its view, constraints and chunks along.
    "DROP TABLE public.metrics CASCADE",
], ids=["changed-rows", "table-gone"])
def test_clean_restores_over_a_previous_restore(archive: tuple[str, Path], target_db: str,
                                                change: str) -> None:
    source, path = archive
    restore(target_db, path)
    with psycopg.connect(target_db, autocommit=True) as conn:
        conn.execute(change)  # type: ignore[arg-type]
    res = restore(target_db, path, "--clean", "--if-exists")
    assert "error" not in res.stderr
    assert_same_data(source, target_db)


def test_use_list_restores_only_listed_entries(archive: tuple[str, Path], target_db: str,
                                               tmp_path: Path) -> None:
    _source, path = archive
    listing = cli("list", str(path)).stdout
    # Comment out the view, as a user editing the list would.
    edited = "\n".join(";" + ln if "; VIEW; public; daily_avg;" in ln else ln
                       for ln in listing.splitlines())
    list_file = tmp_path / "list.txt"
    list_file.write_text(edited)
    restore(target_db, path, "-L", str(list_file))
    assert scalar(target_db, "SELECT count(*) FROM pg_views WHERE viewname = 'daily_avg'") == 0
    assert scalar(target_db, "SELECT count(*) FROM public.metrics") > 0


def test_sections_one_after_another(archive: tuple[str, Path], target_db: str) -> None:
    source, path = archive
    restore(target_db, path, "--section", "pre-data")
    assert scalar(target_db, "SELECT count(*) FROM public.devices") == 0
    restore(target_db, path, "--section", "data", "--section", "post-data", "--clean",
            "--if-exists")
    assert_same_data(source, target_db)


def test_no_owner_leaves_ownership_to_the_restoring_role(
    archive: tuple[str, Path], target_db: str
) -> None:
    _source, path = archive
    restore(target_db, path, "--no-owner", "--no-privileges", "--no-tablespaces")
    assert scalar(target_db, "SELECT tableowner FROM pg_tables WHERE tablename = 'devices'") \
        == scalar(target_db, "SELECT current_user")


def test_exit_on_error_stops_at_the_first_failure(archive: tuple[str, Path],
                                                  target_db: str) -> None:
    _source, path = archive
    # Data without its tables: every load fails.
    res = restore(target_db, path, "--data-only", "--exit-on-error", check=False)
    assert res.returncode == 1
    errors = [ln for ln in res.stderr.splitlines() if ": error: " in ln]
    assert len(errors) == 1, res.stderr
    assert "does not exist" in errors[0] and "entry" in errors[0]
    assert scalar(target_db, "SHOW timescaledb.restoring") == "off"


@pytest.mark.parametrize("flags", [(), ("--continue-on-error",)])
def test_by_default_every_failure_is_listed(archive: tuple[str, Path], target_db: str,
                                            flags: tuple[str, ...]) -> None:
    """Keep-going is the default; --continue-on-error is still accepted and changes nothing."""
    _source, path = archive
    res = restore(target_db, path, "--data-only", *flags, check=False)
    assert res.returncode == 1
    errors = [ln for ln in res.stderr.splitlines() if ": error: " in ln]
    assert len(errors) > 3
    assert "restore finished with" in errors[-1] and "--resume" in errors[-1]
    assert scalar(target_db, "SHOW timescaledb.restoring") == "off"


# A function that fails on a target database where psm.refuse is on.
PICKY_SQL = """
CREATE FUNCTION public.picky(x int) RETURNS int IMMUTABLE LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('psm.refuse', true) = 'on' THEN
        RAISE EXCEPTION 'picky refuses to work here';
    END IF;
    RETURN x;
END $$;
"""

FAILING_INDEX_SQL = PICKY_SQL + """
CREATE TABLE public.t (a int, b int, c int, d int, e int);
INSERT INTO public.t SELECT g, g, g, g, g FROM generate_series(1, 100) g;
CREATE INDEX t_a ON public.t (a);
CREATE INDEX t_b ON public.t (b);
CREATE INDEX t_c ON public.t (public.picky(c));
CREATE INDEX t_d ON public.t (d);
CREATE INDEX t_e ON public.t (e);
"""


def _refusing_target(make_db, name: str) -> str:  # type: ignore[no-untyped-def]
    """A fresh target database on which public.picky() fails."""
    target: str = make_db(name)
    dbname = psycopg.conninfo.conninfo_to_dict(target)["dbname"]
    with psycopg.connect(target, autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER DATABASE {} SET psm.refuse = 'on'").format(
            sql.Identifier(dbname)))
    return target


FAILING_DATA_SQL = """
CREATE TABLE public.s5 (v int CHECK (public.picky(v) = v));
INSERT INTO public.s5 SELECT g FROM generate_series(1, 20) g;
CREATE INDEX s5_v ON public.s5 (v);
CREATE TABLE public.fine (v int);
INSERT INTO public.fine SELECT g FROM generate_series(1, 20) g;
"""


def _lines(res: subprocess.CompletedProcess[str], tag: str) -> list[str]:
    return [ln for ln in res.stderr.splitlines() if f": {tag}: " in ln]


def _indexes(target: str) -> set[str]:
    with psycopg.connect(target) as conn:
        return {r for (r,) in conn.execute(
            "SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")}


def test_a_failed_item_is_named_its_dependents_skipped_and_the_rest_restored(  # type: ignore[no-untyped-def]
        make_db, tmp_path: Path) -> None:
    """Keep-going (pg_restore's default): failures and skips listed, exit 1, then --resume
    after the cause is fixed runs exactly what was left and finishes the restore."""
    source = make_db("src", timescaledb=True)
    with psycopg.connect(source, autocommit=True) as conn:
        conn.execute(FAILING_INDEX_SQL + FAILING_DATA_SQL)  # type: ignore[arg-type]
    path = tmp_path / "db.psm"
    dump(source, path)

    target = _refusing_target(make_db, "tgt1")
    res = restore(target, path, "-j", "2", check=False)
    assert res.returncode == 1
    errors = _lines(res, "error")
    assert len(errors) == 3, res.stderr
    assert any("INDEX public.t_c" in e and "picky refuses to work here" in e for e in errors)
    assert any("TABLE DATA public.s5" in e and "picky refuses to work here" in e
               for e in errors)
    assert "2 failed and 2 skipped" in errors[-1]
    skipped = _lines(res, "skipped")
    assert len(skipped) == 2, res.stderr
    assert any("INDEX public.s5_v" in s and "TABLE DATA public.s5" in s for s in skipped)
    assert any("ANALYZE of TABLE DATA public.s5" in s for s in skipped)
    # Everything independent of the failures is in, analyzed, and restoring mode is off.
    assert _indexes(target) == {"t_a", "t_b", "t_d", "t_e"}
    assert scalar(target, "SELECT count(*) FROM public.fine") == 20
    assert scalar(target, "SELECT count(*) FROM public.t") == 100
    assert scalar(target, "SELECT count(*) FROM public.s5") == 0
    assert scalar(target, "SELECT last_analyze IS NOT NULL OR last_autoanalyze IS NOT NULL "
                          "FROM pg_stat_user_tables WHERE relname = 'fine'") is True
    assert scalar(target, "SHOW timescaledb.restoring") == "off"

    dbname = psycopg.conninfo.conninfo_to_dict(target)["dbname"]
    with psycopg.connect(target, autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER DATABASE {} RESET psm.refuse").format(
            sql.Identifier(str(dbname))))
    res = restore(target, path, "-j", "2", "--resume", "-v", check=False)
    assert res.returncode == 0, res.stderr
    # Only what failed or was skipped ran again: nothing was loaded twice.
    assert _indexes(target) == {"t_a", "t_b", "t_c", "t_d", "t_e", "s5_v"}
    assert scalar(target, "SELECT count(*) FROM public.fine") == 20
    assert scalar(target, "SELECT count(*) FROM public.t") == 100
    assert scalar(target, "SELECT count(*) FROM public.s5") == 20
    assert scalar(target, "SELECT count(*) FROM pg_namespace "
                          "WHERE nspname = '_pystream_migrate'") == 0
    assert scalar(target, "SHOW timescaledb.restoring") == "off"


def test_exit_on_error_stops_at_a_failing_index(make_db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    source = make_db("src", timescaledb=True)
    with psycopg.connect(source, autocommit=True) as conn:
        conn.execute(FAILING_INDEX_SQL)
    path = tmp_path / "db.psm"
    dump(source, path)
    target = _refusing_target(make_db, "tgt")
    res = restore(target, path, "-j", "1", "--exit-on-error", check=False)
    assert res.returncode == 1
    errors = _lines(res, "error")
    assert len(errors) == 1, res.stderr
    assert "INDEX public.t_c" in errors[0] and "picky refuses to work here" in errors[0]
    assert _lines(res, "skipped") == []
    assert scalar(target, "SHOW timescaledb.restoring") == "off"


def test_a_failing_table_in_a_stream_is_named_and_the_others_load(make_db,  # type: ignore[no-untyped-def]
                                                                  tmp_path: Path) -> None:
    """From stdin, small tables load several to a transaction; a failure names its table."""
    source = make_db("src", timescaledb=True)
    tables = "".join(
        f"CREATE TABLE public.s{i} (v int{' CHECK (public.picky(v) = v)' if i == 5 else ''});"
        f"INSERT INTO public.s{i} SELECT g FROM generate_series(1, 20) g;" for i in range(10))
    with psycopg.connect(source, autocommit=True) as conn:
        conn.execute(PICKY_SQL + tables)  # type: ignore[arg-type]
    path = tmp_path / "db.psm"
    dump(source, path)
    target = _refusing_target(make_db, "tgt")
    with open(path, "rb") as archive_in:
        res = subprocess.run(
            [sys.executable, "-m", "pystream_migrate", "restore", "-d", target, "-f", "-",
             "-j", "1", "--continue-on-error"],
            stdin=archive_in, capture_output=True, text=True, timeout=300, check=False)
    assert res.returncode == 1
    errors = [ln for ln in res.stderr.splitlines() if ": error: " in ln]
    assert len(errors) == 2, res.stderr
    assert "TABLE DATA public.s5" in errors[0] and "picky refuses to work here" in errors[0]
    for i in range(10):
        assert scalar(target, f"SELECT count(*) FROM public.s{i}") == (0 if i == 5 else 20)
