"""-n/-N/-t/-T and --exclude-table-data, in dump and in restore."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from pystream_migrate.selection import Pattern
from tests.migrate_support import cli, dump, restore, scalar


@pytest.mark.parametrize(
    ("pattern", "schema", "name", "expected"),
    [
        ("devices", "public", "devices", True),
        ("DEVICES", "public", "devices", True),
        ('"DEVICES"', "public", "devices", False),
        ('"Big T"', "s", "Big T", True),
        ("public.dev*", "public", "devices", True),
        ("public.dev*", "other", "devices", False),
        ("d?vices", "public", "devices", True),
        ('"a.b".t', "a.b", "t", True),
        ("*.t", "x", "t", True),
    ],
)
def test_patterns_follow_psql_rules(pattern: str, schema: str, name: str,
                                    expected: bool) -> None:
    assert Pattern.parse(pattern).matches(schema, name) is expected


SETUP = """
CREATE SCHEMA keep; CREATE SCHEMA skip;
CREATE TABLE keep.a (id int PRIMARY KEY, v text);
CREATE INDEX a_v ON keep.a (v);
CREATE TABLE skip.b (id int REFERENCES keep.a (id));
CREATE TABLE public."Big T" (x int);
CREATE TABLE public.metrics (ts timestamptz NOT NULL, v int);
SELECT create_hypertable('public.metrics', 'ts', chunk_time_interval => interval '1 day');
CREATE TABLE public.metrics2 (ts timestamptz NOT NULL, v int);
SELECT create_hypertable('public.metrics2', 'ts', chunk_time_interval => interval '1 day');
INSERT INTO keep.a SELECT g, 'v' || g FROM generate_series(1, 10) g;
INSERT INTO skip.b VALUES (1), (2);
INSERT INTO public."Big T" VALUES (1);
INSERT INTO public.metrics SELECT timestamptz '2024-01-01' + g * interval '6 hours', g
FROM generate_series(0, 20) g;
INSERT INTO public.metrics2 SELECT * FROM public.metrics;
"""


@pytest.fixture
def source(source_db: str) -> str:
    with psycopg.connect(source_db, autocommit=True) as conn:
        conn.execute(SETUP)  # type: ignore[arg-type]
    return source_db


def _tables(dsn: str) -> set[str]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT schemaname || '.' || tablename FROM pg_tables WHERE schemaname NOT IN "
            "('pg_catalog', 'information_schema', '_timescaledb_catalog', "
            "'_timescaledb_config', '_timescaledb_internal', '_timescaledb_cache')"
        ).fetchall()
    return {r[0] for r in rows}


def test_dump_one_table(source: str, target_db: str, tmp_path: Path) -> None:
    archive = tmp_path / "a.psm"
    dump(source, archive, "-t", "keep.a")
    restore(target_db, archive)
    assert _tables(target_db) == {"keep.a"}
    assert scalar(target_db, "SELECT count(*) FROM keep.a") == 10
    assert scalar(target_db, "SELECT count(*) FROM pg_indexes WHERE indexname = 'a_v'") == 1


def test_restore_excluding_a_schema(source: str, target_db: str, tmp_path: Path) -> None:
    archive = tmp_path / "a.psm"
    dump(source, archive)
    with psycopg.connect(target_db, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA keep")
    restore(target_db, archive, "-N", "skip", "-N", "keep", "--clean", "--if-exists")
    assert _tables(target_db) == {'public.Big T', "public.metrics", "public.metrics2"}
    assert scalar(target_db, "SELECT count(*) FROM public.metrics") == 21


def test_all_hypertables_with_their_chunks(source: str, target_db: str, tmp_path: Path) -> None:
    archive = tmp_path / "a.psm"
    dump(source, archive, "-t", "public.metrics*")
    restore(target_db, archive)
    assert _tables(target_db) == {"public.metrics", "public.metrics2"}
    assert scalar(target_db, "SELECT count(*) FROM public.metrics2") == 21
    assert scalar(target_db, "SELECT count(*) FROM show_chunks('public.metrics')") == 6


def test_a_selection_that_splits_hypertables_is_refused(source: str, tmp_path: Path) -> None:
    res = cli("dump", "-d", source, "-f", str(tmp_path / "a.psm"), "-t", "metrics",
              check=False)
    assert res.returncode == 2
    assert "public.metrics2" in res.stderr and "every hypertable or none" in res.stderr
    assert not (tmp_path / "a.psm").exists()


def test_exclude_table_data(source: str, target_db: str, tmp_path: Path) -> None:
    archive = tmp_path / "a.psm"
    dump(source, archive, "--exclude-table-data", '"Big T"')
    restore(target_db, archive)
    assert scalar(target_db, 'SELECT count(*) FROM public."Big T"') == 0
    assert scalar(target_db, "SELECT count(*) FROM keep.a") == 10
