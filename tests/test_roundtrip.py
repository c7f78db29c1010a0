"""Dump and restore round trips: the target must equal the source, row by row."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from pystream_migrate.localcluster import LocalCluster
from tests.migrate_support import (
    assert_same_data,
    cli,
    dump,
    pipe_migrate,
    restore,
    scalar,
)
from tests.schema_support import assert_same_schema

SOURCE_SQL = (Path(__file__).parent / "data" / "roundtrip_source.sql").read_text()


@pytest.fixture
def populated_source(source_db: str) -> str:
    with psycopg.connect(source_db, autocommit=True) as conn:
        conn.execute(SOURCE_SQL)  # type: ignore[arg-type]
    return source_db


def _check_equal(source: str, target: str) -> None:
    assert_same_data(source, target)
    assert_same_schema(source, target)
    # Read through the hypertable roots too, as an application would.
    for q in ("SELECT count(*) FROM public.metrics",
              'SELECT count(*) FROM "Fancy Schema"."Int Time"',
              "SELECT sum(length(note)) FROM public.metrics"):
        assert scalar(source, q) == scalar(target, q), q


def _check_target_works(target: str) -> None:
    with psycopg.connect(target, autocommit=True) as conn:
        # A new chunk is created by the extension, outside the restored range.
        conn.execute("INSERT INTO public.metrics (ts, device_id, value) "
                     "VALUES ('2030-01-01', 1, 1)")
        new_id = conn.execute("INSERT INTO public.devices (name) VALUES ('fresh') "
                              "RETURNING id").fetchone()[0]
        assert new_id > 1000
        conn.execute("INSERT INTO public.alerts (device_id, level) VALUES (1, 1)")
        restoring = conn.execute("SHOW timescaledb.restoring").fetchone()[0]
        assert restoring == "off"
        # The foreign key to a hypertable is enforced, for old chunks and new ones.
        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            conn.execute("INSERT INTO public.reading_notes VALUES (100, 1, '2024-01-01 01:00+00')")
        conn.execute("INSERT INTO public.readings VALUES ('2030-01-01', 1, 1)")
        conn.execute("INSERT INTO public.reading_notes VALUES (101, 1, '2030-01-01')")


def test_file_round_trip_j4(populated_source: str, target_db: str, tmp_path: Path) -> None:
    archive = tmp_path / "db.psm"
    dump(populated_source, archive, "-j", "4")
    restore(target_db, archive, "-j", "4")
    _check_equal(populated_source, target_db)
    _check_target_works(target_db)


def test_pipe_round_trip(populated_source: str, target_db: str) -> None:
    pipe_migrate(populated_source, target_db, jobs=2)
    _check_equal(populated_source, target_db)


def test_binary_copy_round_trip(populated_source: str, target_db: str, tmp_path: Path) -> None:
    archive = tmp_path / "db.psm"
    dump(populated_source, archive, "--copy-format", "binary")
    restore(target_db, archive)
    assert_same_data(populated_source, target_db)


def test_non_empty_target_is_refused(populated_source: str, target_db: str,
                                     tmp_path: Path) -> None:
    archive = tmp_path / "db.psm"
    dump(populated_source, archive)
    with psycopg.connect(target_db, autocommit=True) as conn:
        conn.execute("CREATE TABLE public.already_here (x int)")
    res = restore(target_db, archive, check=False)
    assert res.returncode == 5
    assert "not empty" in res.stderr and "already_here" in res.stderr
    assert "--clean" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_truncated_archive_changes_nothing(populated_source: str, target_db: str,
                                           tmp_path: Path) -> None:
    archive = tmp_path / "db.psm"
    dump(populated_source, archive)
    cut = tmp_path / "cut.psm"
    data = archive.read_bytes()
    cut.write_bytes(data[: len(data) * 2 // 3])
    res = restore(target_db, cut, check=False)
    assert res.returncode == 4
    assert "truncated" in res.stderr.lower()
    assert scalar(target_db, "SELECT count(*) FROM pg_catalog.pg_class c JOIN "
                  "pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
                  "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') "
                  "AND n.nspname NOT LIKE 'pg_toast%'") == 0


def test_list_shows_entries_with_rows(populated_source: str, tmp_path: Path) -> None:
    archive = tmp_path / "db.psm"
    dump(populated_source, archive)
    out = cli("list", str(archive)).stdout
    assert "TABLE DATA; public; devices; data" in out
    line = next(ln for ln in out.splitlines() if "TABLE DATA; public; devices;" in ln)
    assert line.split("; ")[6] == "5"
    assert "EXTENSION; -; timescaledb" in out or "EXTENSION; public; timescaledb" in out
    assert cli("verify", str(archive)).returncode == 0
    import json

    doc = json.loads(cli("list", "--json", str(archive)).stdout)
    devices = next(e for e in doc["entries"]
                   if e["kind"] == "TABLE DATA" and e["name"] == "devices")
    assert devices["rows"] == 5 and devices["section"] == "data" and devices["bytes"] > 0
    assert doc["header"]["source"]["timescaledb"]


def test_schema_only_dump(populated_source: str, target_db: str, tmp_path: Path) -> None:
    archive = tmp_path / "schema.psm"
    dump(populated_source, archive, "--schema-only")
    listing = cli("list", str(archive)).stdout
    kinds = [ln.split("; ")[1] for ln in listing.splitlines() if not ln.startswith(";")]
    assert "TABLE" in kinds and "INDEX" in kinds
    data = [ln for ln in listing.splitlines() if "; data; " in ln]
    # Only TimescaleDB's catalog, which makes hypertables hypertables, comes as data.
    assert data and all("; _timescaledb_" in ln for ln in data)
    sections = [ln.split("; ")[4] for ln in listing.splitlines() if not ln.startswith(";")]
    assert sections == sorted(sections, key=["pre-data", "data", "post-data"].index)
    restore(target_db, archive)
    assert_same_schema(populated_source, target_db)
    assert scalar(target_db, "SELECT count(*) FROM public.devices") == 0
    assert scalar(target_db, "SELECT count(*) FROM public.metrics") == 0
    q = "SELECT count(*) FROM show_chunks('public.metrics')"
    assert scalar(target_db, q) == scalar(populated_source, q)


PLAIN_SOURCE_SQL = """
CREATE EXTENSION pg_trgm;
CREATE TABLE public.notes (id serial PRIMARY KEY, body text NOT NULL);
INSERT INTO public.notes (body) SELECT 'note ' || g FROM generate_series(1, 2000) g;
CREATE INDEX notes_body_trgm ON public.notes USING gin (body gin_trgm_ops);
CREATE TABLE public.parts (k int NOT NULL, v int) PARTITION BY RANGE (k);
CREATE TABLE public.parts_low PARTITION OF public.parts FOR VALUES FROM (0) TO (100);
CREATE TABLE public.parts_high PARTITION OF public.parts FOR VALUES FROM (100) TO (200);
INSERT INTO public.parts SELECT g, g * 2 FROM generate_series(0, 199) g;
"""


def test_plain_postgres_without_timescaledb(tmp_path: Path) -> None:
    """A database without TimescaleDB moves to a server that does not even load it."""
    with LocalCluster(settings={"shared_preload_libraries": "''"}) as cluster:
        with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
            conn.execute("CREATE DATABASE plain_source")
            conn.execute("CREATE DATABASE plain_target")
        source, target = cluster.dsn("plain_source"), cluster.dsn("plain_target")
        with psycopg.connect(source, autocommit=True) as conn:
            conn.execute(PLAIN_SOURCE_SQL)  # type: ignore[arg-type]
        archive = tmp_path / "plain.psm"
        dump(source, archive, "-j", "2")
        restore(target, archive, "-j", "2")
        assert_same_data(source, target)
        assert_same_schema(source, target)
        with psycopg.connect(target, autocommit=True) as conn:
            new_id = conn.execute("INSERT INTO public.notes (body) VALUES ('fresh') "
                                  "RETURNING id").fetchone()[0]  # type: ignore[index]
            assert new_id == 2001
            assert conn.execute("SELECT count(*) FROM pg_extension "
                                "WHERE extname = 'timescaledb'").fetchone()[0] == 0  # type: ignore[index]
