"""TimescaleDB beyond plain hypertables: compression, continuous aggregates, jobs and
policies, tiered chunks, version and license rules, and a read-only dumping role.

Compression, continuous aggregates and jobs need the Timescale License edition; each
test finds out at run time what the test server has and skips, naming what is missing,
when it lacks a feature (the Apache edition, or a single TimescaleDB version).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from pystream_migrate.verify import compare_databases
from tests.conftest import Server, oldest_and_newest
from tests.migrate_support import (
    assert_same_data,
    cli,
    dump,
    pipe_migrate,
    restore,
    scalar,
)
from tests.schema_support import assert_same_schema

READINGS = '"Sensor Data"."Readings"'
HOURLY = '"Sensor Data"."Hourly ✓"'
DAILY = "public.daily"

# Five days of readings: one row every 5 minutes, cycling through 4 devices.
BASE_SQL = """
CREATE SCHEMA "Sensor Data";
CREATE TABLE "Sensor Data"."Readings" (
    ts timestamptz NOT NULL,
    device int NOT NULL,
    temp numeric(8, 3),  -- exact: averages must not depend on the order rows are read
    note text,
    payload jsonb
);
SELECT create_hypertable('"Sensor Data"."Readings"', 'ts',
                         chunk_time_interval => interval '1 day');
CREATE INDEX readings_device_ts ON "Sensor Data"."Readings" (device, ts DESC);
INSERT INTO "Sensor Data"."Readings"
SELECT t, (extract(epoch FROM t)::bigint / 300) % 4,
       round((20 + 10 * sin(extract(epoch FROM t) / 5000))::numeric, 3),
       CASE WHEN extract(minute FROM t) = 0 THEN NULL
            ELSE E'n\\t' || (extract(epoch FROM t)::bigint % 7) END,
       jsonb_build_object('k', extract(epoch FROM t)::bigint)
FROM generate_series(timestamptz '2024-01-01 00:00+00', '2024-01-05 23:55+00',
                     interval '5 minutes') t;
"""
BASE_ROWS = 5 * 288

COMPRESSION_SQL = """
ALTER TABLE "Sensor Data"."Readings" SET (timescaledb.compress,
    timescaledb.compress_segmentby = 'device', timescaledb.compress_orderby = 'ts DESC');
SELECT compress_chunk(c) FROM show_chunks('"Sensor Data"."Readings"',
                                          older_than => timestamptz '2024-01-04') c;
-- Rows written into compressed chunks afterwards: partially compressed chunks.
INSERT INTO "Sensor Data"."Readings" VALUES
    ('2024-01-01 12:02+00', 9, 1.5, 'late', '{"late": true}'),
    ('2024-01-02 00:01+00', 9, 2.5, 'late', NULL);
-- Integer time, compressed whole, no segment by.
CREATE TABLE public.counters (t bigint NOT NULL, v int);
SELECT create_hypertable('public.counters', 't', chunk_time_interval => 100);
INSERT INTO public.counters SELECT g, g % 13 FROM generate_series(1, 450) g;
ALTER TABLE public.counters SET (timescaledb.compress, timescaledb.compress_orderby = 't');
SELECT compress_chunk(c) FROM show_chunks('public.counters') c;
-- Compression enabled, nothing compressed yet.
CREATE TABLE public.spare (ts timestamptz NOT NULL, v int);
SELECT create_hypertable('public.spare', 'ts');
ALTER TABLE public.spare SET (timescaledb.compress, timescaledb.compress_orderby = 'ts');
"""
COMPRESSION_ROWS = 2  # the late rows

CAGG_SQL = """
CREATE MATERIALIZED VIEW "Sensor Data"."Hourly ✓"
    WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
    SELECT time_bucket('1 hour', ts) AS bucket, device, avg(temp) AS avg_temp, count(*) AS n
    FROM "Sensor Data"."Readings" GROUP BY 1, 2 WITH NO DATA;
CALL refresh_continuous_aggregate('"Sensor Data"."Hourly ✓"', '2024-01-01', '2024-01-04');
-- A continuous aggregate on a continuous aggregate, materialized only.
CREATE MATERIALIZED VIEW public.daily
    WITH (timescaledb.continuous, timescaledb.materialized_only = true) AS
    SELECT time_bucket('1 day', bucket) AS day, device, sum(n) AS n
    FROM "Sensor Data"."Hourly ✓" GROUP BY 1, 2 WITH NO DATA;
CALL refresh_continuous_aggregate('public.daily', '2024-01-01', '2024-01-03');
-- Rows after the refresh: invalidations waiting for the next one.
INSERT INTO "Sensor Data"."Readings" VALUES
    ('2024-01-01 05:07+00', 7, 40, 'after refresh', NULL),
    ('2024-01-03 05:07+00', 7, 41, 'after refresh', NULL);
"""
CAGG_ROWS = 2

CAGG_COMPRESSION_SQL = """
ALTER MATERIALIZED VIEW "Sensor Data"."Hourly ✓" SET (timescaledb.compress = true);
SELECT compress_chunk(c) FROM show_chunks('"Sensor Data"."Hourly ✓"') c;
"""

# initial_start a day ahead: no job runs (and changes the source or the target) while
# the test compares them; run_job proves each works on the target.
JOBS_SQL = """
SELECT add_retention_policy('"Sensor Data"."Readings"', drop_after => interval '100 years',
                            initial_start => now() + interval '1 day');
SELECT add_compression_policy('"Sensor Data"."Readings"', compress_after => interval '30 days',
                              initial_start => now() + interval '1 day');
CREATE TABLE public.other (ts timestamptz NOT NULL, v int);
SELECT create_hypertable('public.other', 'ts');
CREATE INDEX other_v ON public.other (v, ts);
INSERT INTO public.other SELECT t, 3 - g % 3 FROM generate_series(1, 30) g,
    LATERAL (SELECT timestamptz '2024-02-01' + g * interval '1 hour' AS t) s;
SELECT add_reorder_policy('public.other', 'other_v', initial_start => now() + interval '1 day');
CREATE TABLE public.job_log (job_id int, config jsonb);
CREATE PROCEDURE public."My Job"(job_id int, config jsonb) LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.job_log VALUES (job_id, config);
END $$;
SELECT add_job('public."My Job"', interval '1 hour', config => '{"k": [1, "two"]}',
               initial_start => now() + interval '1 day');
"""
CAGG_POLICY_SQL = """
SELECT add_continuous_aggregate_policy('"Sensor Data"."Hourly ✓"',
    start_offset => interval '30 days', end_offset => interval '1 hour',
    schedule_interval => interval '1 hour', initial_start => now() + interval '1 day');
"""

# timescaledb_information views compared as sets of rows, with the columns that
# legitimately differ between source and target left out.
INFO_VIEWS: dict[str, tuple[str, ...]] = {
    "hypertables": (),
    "dimensions": (),
    "chunks": (),
    "compression_settings": (),
    "continuous_aggregates": (),
    "jobs": ("next_start",),
    "hypertable_compression_settings": (),
    "chunk_compression_settings": (),
}


# ---------------------------------------------------------------- feature detection

def _license(dsn: str) -> str:
    return str(scalar(dsn, "SELECT current_setting('timescaledb.license', true)"))


def _exists(dsn: str, regclass_or_proc: str, kind: str = "regclass") -> bool:
    return bool(scalar(dsn, f"SELECT to_{kind}('{regclass_or_proc}') IS NOT NULL"))


def _need_tsl(dsn: str, feature: str) -> None:
    lic = _license(dsn)
    if lic != "timescale":
        verb = "need" if feature.endswith("s") else "needs"
        pytest.skip(f"{feature} {verb} the Timescale License edition; the test server's "
                    f"timescaledb.license is {lic!r}")


def _need_compression(dsn: str) -> None:
    _need_tsl(dsn, "compression")
    if not _exists(dsn, "public.compress_chunk", "regproc"):
        pytest.skip("compression needs compress_chunk(), which this TimescaleDB lacks")


def _need_caggs(dsn: str) -> None:
    _need_tsl(dsn, "continuous aggregates")
    if not _exists(dsn, "_timescaledb_catalog.continuous_agg"):
        pytest.skip("this TimescaleDB has no continuous aggregate catalog")


def _need_jobs(dsn: str) -> None:
    _need_tsl(dsn, "jobs and policies")
    if not _exists(dsn, "public.add_job", "regproc"):
        pytest.skip("jobs need add_job(), which this TimescaleDB lacks")


def _statements(script: str) -> Iterator[str]:
    """The statements of a script, one by one (a line ending in ';' outside $$ ends one)."""
    current: list[str] = []
    for line in script.splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("--")):
            continue
        current.append(line)
        text = "\n".join(current)
        if line.rstrip().endswith(";") and text.count("$$") % 2 == 0:
            yield text
            current = []
    if "\n".join(current).strip():
        yield "\n".join(current)


def _run(dsn: str, script: str) -> None:
    """Run each statement on its own (refreshes and compression refuse transaction blocks)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET client_min_messages = error")
        for stmt in _statements(script):
            conn.execute(stmt)  # type: ignore[arg-type]


def _build_all(dsn: str) -> int:
    """Every feature of the issue in one database; returns the Readings row count."""
    _run(dsn, BASE_SQL + COMPRESSION_SQL + CAGG_SQL + CAGG_COMPRESSION_SQL + JOBS_SQL
         + CAGG_POLICY_SQL)
    return BASE_ROWS + COMPRESSION_ROWS + CAGG_ROWS


def _build_what_the_server_has(dsn: str) -> set[str]:
    """The base hypertable plus every licensed feature the server offers."""
    _run(dsn, BASE_SQL)
    have = set()
    if _license(dsn) == "timescale":
        _run(dsn, COMPRESSION_SQL + CAGG_SQL + JOBS_SQL + CAGG_POLICY_SQL)
        have = {"compression", "caggs", "jobs"}
    return have


# ---------------------------------------------------------------- comparison helpers

def _rows(dsn: str, query: str | sql.Composable, *args: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        conn.execute("SET TimeZone = 'UTC'")
        return conn.execute(query, args or None).fetchall()  # type: ignore[arg-type]


def _info_view(dsn: str, view: str, leave_out: tuple[str, ...]) -> list[str] | None:
    """A timescaledb_information view as sorted JSON rows; None when it does not exist."""
    if not _exists(dsn, f"timescaledb_information.{view}"):
        return None
    query = sql.SQL("SELECT (to_jsonb(v) - %s::text[])::text FROM {} v").format(
        sql.Identifier("timescaledb_information", view))
    return sorted(r[0] for r in _rows(dsn, query, list(leave_out)))


def assert_same_timescale_views(source: str, target: str) -> None:
    for view, leave_out in INFO_VIEWS.items():
        a, b = _info_view(source, view, leave_out), _info_view(target, view, leave_out)
        assert a == b, f"timescaledb_information.{view} differs:\nsource {a}\ntarget {b}"


def _fingerprint(dsn: str, relation: str) -> tuple[int, int, int]:
    """Rows, distinct rows and an order-independent digest, read through ``relation``."""
    row = _rows(dsn, f"SELECT count(*), count(DISTINCT x::text), coalesce(sum(("
                f"'x' || substr(md5(x::text), 1, 15))::bit(60)::bigint), 0) FROM {relation} x")
    return int(row[0][0]), int(row[0][1]), int(row[0][2])


def _roots(dsn: str) -> list[str]:
    """Every hypertable (materialized ones included) and continuous aggregate view."""
    query = """
        SELECT format('%I.%I', schema_name, table_name) FROM _timescaledb_catalog.hypertable h
        WHERE NOT coalesce((to_jsonb(h) ->> 'compression_state')::int = 2, false)"""
    names = [r[0] for r in _rows(dsn, query)]
    if _exists(dsn, "timescaledb_information.continuous_aggregates"):
        names += [r[0] for r in _rows(dsn, "SELECT format('%I.%I', view_schema, view_name) "
                                           "FROM timescaledb_information.continuous_aggregates")]
    return sorted(names)


def assert_same_through_roots(source: str, target: str) -> None:
    roots = _roots(source)
    assert roots == _roots(target)
    for root in roots:
        assert _fingerprint(source, root) == _fingerprint(target, root), root


def _archive_entries(path: Path) -> list[dict[str, Any]]:
    return list(json.loads(cli("list", "--json", str(path)).stdout)["entries"])


def _chunk_status(dsn: str) -> dict[str, tuple[int, str | None]]:
    rows = _rows(dsn, """
        SELECT c.table_name, c.status, cc.table_name
        FROM _timescaledb_catalog.chunk c
        LEFT JOIN _timescaledb_catalog.chunk cc ON cc.id = c.compressed_chunk_id""")
    return {r[0]: (int(r[1]), r[2]) for r in rows}


# ---------------------------------------------------------------- fixtures

@pytest.fixture
def full_source(source_db: str) -> str:
    _need_compression(source_db)
    _need_caggs(source_db)
    _need_jobs(source_db)
    _build_all(source_db)
    return source_db


def _enable_chunk_skipping(dsn: str) -> bool:
    """Chunk skipping on Readings.device where this version has it (2.16 and later)."""
    if not _exists(dsn, "public.enable_chunk_skipping", "regproc"):
        return False
    with psycopg.connect(dsn, autocommit=True) as conn:
        if conn.execute("SELECT count(*) FROM pg_settings "
                        "WHERE name = 'timescaledb.enable_chunk_skipping'").fetchone()[0]:
            conn.execute("SET timescaledb.enable_chunk_skipping = on")
        conn.execute(f"SELECT enable_chunk_skipping('{READINGS}', 'device')")
    return True


@pytest.fixture(params=["newest", "oldest"])
def full_source_each_version(request: pytest.FixtureRequest, pg_server: Server,
                             make_db: Callable[..., str]) -> str:
    """The full feature set on the newest and on the oldest TimescaleDB installed.

    Chunk skipping is on where the version has it: on 2.17 it leaves a hypertable-level
    row (chunk_id 0) in chunk_column_stats that the catalog's own foreign key rejects.
    """
    versions = pg_server.timescaledb_versions
    if request.param == "oldest" and len(versions) < 2:
        pytest.skip("a second TimescaleDB version is needed; the test server offers only "
                    f"{versions[0]} (scripts/install-server.sh with TIMESCALEDB_SOURCES "
                    "builds several, as CI does from ../shared/vendor)")
    version = versions[-1] if request.param == "newest" else versions[0]
    source = make_db("src", timescaledb=version)
    _need_compression(source)
    _need_caggs(source)
    _need_jobs(source)
    _build_all(source)
    _enable_chunk_skipping(source)
    return source


# ---------------------------------------------------------------- the acceptance test

def test_everything_round_trips_and_works_on_the_target(full_source_each_version: str,
                                                       target_db: str,
                                                       tmp_path: Path) -> None:
    source, target = full_source_each_version, target_db
    expected_rows = BASE_ROWS + COMPRESSION_ROWS + CAGG_ROWS
    archive = tmp_path / "db.psm"
    res = dump(source, archive, "-j", "3")
    assert "not carried" not in res.stderr, res.stderr
    restore(target, archive, "-j", "3")

    # The whole database: every table and chunk (each read on its own), TimescaleDB's
    # catalog rows, sequences, and verify's TimescaleDB comparison; the schema.
    assert_same_data(source, target)
    assert_same_schema(source, target)
    assert_same_timescale_views(source, target)
    # Read through every root as an application would: the same rows, none twice.
    assert_same_through_roots(source, target)
    rows, distinct, _ = _fingerprint(target, READINGS)
    assert rows == distinct == expected_rows
    # Chunk status flags survive: compressed, and compressed with rows added afterwards.
    status = _chunk_status(target)
    assert status == _chunk_status(source)
    assert any(s & 1 and s & 8 and comp for s, comp in status.values()), status
    assert scalar(target, "SELECT count(*) FROM _timescaledb_catalog.compression_chunk_size") \
        == scalar(source, "SELECT count(*) FROM _timescaledb_catalog.compression_chunk_size") > 0
    assert scalar(target, "SHOW timescaledb.restoring") == "off"

    _probe_target(source, target)


def _probe_target(source: str, target: str) -> None:
    """What a user does next on the target, compared with the same on the source."""
    # A new chunk is created outside the restored range.
    chunks = int(scalar(target, f"SELECT count(*) FROM show_chunks('{READINGS}')"))  # type: ignore[arg-type]
    _run(target, f"INSERT INTO {READINGS} VALUES ('2030-01-01', 1, 1, 'new chunk', NULL)")
    assert scalar(target, f"SELECT count(*) FROM show_chunks('{READINGS}')") == chunks + 1
    _run(target, f"DELETE FROM {READINGS} WHERE ts = '2030-01-01'")

    # A refresh gives the same result on both sides, with new rows and the invalidations
    # the source had pending before the dump.
    backfill = (f"INSERT INTO {READINGS} VALUES ('2024-01-02 07:30+00', 5, 77, 'backfill', "
                "NULL), ('2024-01-05 07:30+00', 5, 78, 'backfill', NULL)")
    refresh = (f"CALL refresh_continuous_aggregate('{HOURLY}', '2024-01-01', '2024-01-07');\n"
               f"CALL refresh_continuous_aggregate('{DAILY}', '2024-01-01', '2024-01-07');")
    for dsn in (source, target):
        _run(dsn, backfill)
        _run(dsn, refresh)
    for view in (HOURLY, DAILY):
        assert _fingerprint(source, view) == _fingerprint(target, view), view
        assert _rows(source, f"SELECT * FROM {view} ORDER BY 1, 2") == \
            _rows(target, f"SELECT * FROM {view} ORDER BY 1, 2")
    assert _fingerprint(target, READINGS) == _fingerprint(source, READINGS)

    # Decompress a partially compressed chunk and compress it again, then compress an
    # uncompressed one: the rows read through the hypertable never change.
    before = _fingerprint(target, READINGS)
    partial = _rows(target, """
        SELECT format('%I.%I', schema_name, table_name) FROM _timescaledb_catalog.chunk
        WHERE status & 9 = 9 ORDER BY id LIMIT 1""")[0][0]
    heap = int(scalar(target, f"SELECT count(*) FROM ONLY {partial}"))  # type: ignore[arg-type]
    _run(target, f"SELECT decompress_chunk('{partial}')")
    assert _fingerprint(target, READINGS) == before
    assert int(scalar(target, f"SELECT count(*) FROM ONLY {partial}")) > heap  # type: ignore[arg-type]
    _run(target, f"SELECT compress_chunk('{partial}')")
    assert scalar(target, f"SELECT count(*) FROM ONLY {partial}") == 0
    plain = _rows(target, f"""
        SELECT format('%I.%I', chunk_schema, chunk_name)
        FROM timescaledb_information.chunks
        WHERE format('%I.%I', hypertable_schema, hypertable_name) = '{READINGS}'
          AND NOT is_compressed ORDER BY range_start LIMIT 1""")[0][0]
    _run(target, f"SELECT compress_chunk('{plain}')")
    assert _fingerprint(target, READINGS) == before
    assert scalar(target, f"SELECT count(*) FROM ONLY {plain}") == 0

    # Every job comes back scheduled, with its schedule and config, and runs.
    jobs = _rows(target, "SELECT job_id, proc_name, scheduled FROM timescaledb_information.jobs "
                         "WHERE job_id >= 1000 ORDER BY 1")
    assert {r[1] for r in jobs} >= {"policy_retention", "policy_compression", "policy_reorder",
                                    "policy_refresh_continuous_aggregate", "My Job"}
    assert all(r[2] for r in jobs)
    with psycopg.connect(target, autocommit=True) as conn:
        for job_id, _proc, _ in jobs:
            conn.execute("CALL run_job(%s)", (job_id,))
    my_job = next(r[0] for r in jobs if r[1] == "My Job")
    assert _rows(target, "SELECT job_id, config FROM public.job_log") == \
        [(my_job, {"k": [1, "two"]})]
    assert _fingerprint(target, READINGS) == before  # the policies changed no rows


# ---------------------------------------------------------------- compression

def test_compressed_chunks_travel_compressed_and_once(source_db: str, target_db: str,
                                                      tmp_path: Path) -> None:
    _need_compression(source_db)
    _run(source_db, BASE_SQL + COMPRESSION_SQL)
    archive = tmp_path / "db.psm"
    dump(source_db, archive)
    entries = [e for e in _archive_entries(archive) if e["kind"] == "TABLE DATA"]
    names = [(e["schema"], e["name"]) for e in entries]
    assert len(names) == len(set(names)), "a table's rows are in the archive twice"
    rows = {e["name"]: e["rows"] for e in entries}
    status = _chunk_status(source_db)
    compressed = {name: comp for name, (s, comp) in status.items() if s & 1}
    assert compressed
    for chunk, comp in compressed.items():
        # The chunk's own heap only (rows written after compression), and its compressed
        # batches as they are: nothing is decompressed on the way.
        assert rows[chunk] == scalar(
            source_db, f"SELECT count(*) FROM ONLY _timescaledb_internal.{chunk}")
        assert comp is not None and 0 < rows[comp] < 50
    assert sum(rows[c] for c in compressed) == COMPRESSION_ROWS

    restore(target_db, archive)
    assert_same_data(source_db, target_db)
    assert_same_through_roots(source_db, target_db)
    assert _chunk_status(target_db) == _chunk_status(source_db)
    assert _fingerprint(target_db, READINGS)[:2] == (BASE_ROWS + COMPRESSION_ROWS,) * 2


def test_compressed_data_through_a_pipe_and_in_binary(source_db: str, make_db,  # type: ignore[no-untyped-def]
                                                      tmp_path: Path) -> None:
    _need_compression(source_db)
    _run(source_db, BASE_SQL + COMPRESSION_SQL)
    piped, binary = make_db("tgt"), make_db("tgt")
    pipe_migrate(source_db, piped, jobs=2)
    archive = tmp_path / "db.psm"
    dump(source_db, archive, "--copy-format", "binary")
    restore(binary, archive)
    for target in (piped, binary):
        assert_same_data(source_db, target)
        assert_same_through_roots(source_db, target)
        assert_same_timescale_views(source_db, target)


# ---------------------------------------------------------------- continuous aggregates

def test_continuous_aggregates_are_carried_and_refresh_alike(source_db: str, target_db: str,
                                                             tmp_path: Path) -> None:
    _need_caggs(source_db)
    _run(source_db, BASE_SQL + CAGG_SQL)
    archive = tmp_path / "db.psm"
    res = dump(source_db, archive)
    assert "CONTINUOUS AGGREGATE" not in res.stderr
    views = {(e["schema"], e["name"]) for e in _archive_entries(archive) if e["kind"] == "VIEW"}
    assert ("Sensor Data", "Hourly ✓") in views and ("public", "daily") in views
    restore(target_db, archive)
    assert_same_data(source_db, target_db)
    assert_same_schema(source_db, target_db)
    assert_same_timescale_views(source_db, target_db)
    assert_same_through_roots(source_db, target_db)
    for table in ("continuous_aggs_watermark", "continuous_aggs_invalidation_threshold",
                  "continuous_aggs_hypertable_invalidation_log",
                  "continuous_aggs_materialization_invalidation_log"):
        query = f"SELECT * FROM _timescaledb_catalog.{table} ORDER BY 1, 2"
        if _exists(source_db, f"_timescaledb_catalog.{table}"):
            assert _rows(source_db, query) == _rows(target_db, query), table
    refresh = (f"CALL refresh_continuous_aggregate('{HOURLY}', NULL, NULL);\n"
               f"CALL refresh_continuous_aggregate('{DAILY}', NULL, NULL);")
    for dsn in (source_db, target_db):
        _run(dsn, refresh)
    for view in (HOURLY, DAILY):
        assert _rows(source_db, f"SELECT * FROM {view} ORDER BY 1, 2") == \
            _rows(target_db, f"SELECT * FROM {view} ORDER BY 1, 2")
    # The pending invalidations were applied: the rows written after the first refresh
    # are in the materialized-only aggregate of aggregate now.
    assert scalar(target_db, f"SELECT sum(n) FROM {DAILY}") == BASE_ROWS + CAGG_ROWS


def test_clean_restore_over_a_previous_one(full_source: str, target_db: str,
                                           tmp_path: Path) -> None:
    archive = tmp_path / "db.psm"
    dump(full_source, archive)
    restore(target_db, archive)
    # Dropping continuous aggregates, compressed hypertables and jobs goes through
    # TimescaleDB; then everything comes back once.
    restore(target_db, archive, "--clean", "--if-exists")
    assert_same_data(full_source, target_db)
    assert_same_timescale_views(full_source, target_db)


# ---------------------------------------------------------------- jobs

def test_jobs_keep_their_ids_schedules_and_config(source_db: str, target_db: str) -> None:
    _need_jobs(source_db)
    _need_compression(source_db)  # one of the policies is a compression policy
    _run(source_db, BASE_SQL + COMPRESSION_SQL + JOBS_SQL)
    _run(source_db, "SELECT alter_job(j.job_id, schedule_interval => interval '17 minutes', "
                    "max_retries => 3, next_start => now() + interval '1 day') "
                    "FROM timescaledb_information.jobs j WHERE j.proc_name = 'My Job'")
    pipe_migrate(source_db, target_db)
    assert_same_data(source_db, target_db)
    assert_same_timescale_views(source_db, target_db)
    query = ("SELECT job_id, schedule_interval, max_retries, config, scheduled "
             "FROM timescaledb_information.jobs WHERE proc_name = 'My Job'")
    assert _rows(target_db, query) == _rows(source_db, query)
    # Their statistics come along: each job runs next when it would have on the source
    # (without them TimescaleDB would run every job as soon as restoring mode ends).
    stats = ("SELECT job_id, next_start, total_runs FROM timescaledb_information.job_stats "
             "WHERE job_id >= 1000 ORDER BY 1")
    assert _rows(target_db, stats) == _rows(source_db, stats)
    assert all(r[1] > _rows(target_db, "SELECT now()")[0][0] for r in _rows(target_db, stats))
    # A new job on the target gets an id the source never used.
    new_id = scalar(target_db, "SELECT add_job('public.\"My Job\"', interval '1 day')")
    assert new_id > scalar(source_db, "SELECT max(job_id) FROM timescaledb_information.jobs")


# ---------------------------------------------------------------- not carried

def test_tiered_chunks_are_reported_and_left_out(source_db: str, target_db: str,
                                                 tmp_path: Path) -> None:
    if not _exists(source_db, "_timescaledb_functions.attach_osm_table_chunk(regclass, regclass)",
                   "regprocedure"):
        pytest.skip("this TimescaleDB cannot attach a tiered (OSM) chunk")
    _run(source_db, """
        CREATE TABLE public.tiered_ht (ts timestamptz NOT NULL, v int);
        SELECT create_hypertable('public.tiered_ht', 'ts');
        INSERT INTO public.tiered_ht VALUES ('2024-01-01', 1);
        CREATE FOREIGN DATA WRAPPER stand_in_fdw;
        CREATE SERVER object_store FOREIGN DATA WRAPPER stand_in_fdw;
        CREATE FOREIGN TABLE public."Tiered ✓" (ts timestamptz NOT NULL, v int)
            SERVER object_store;
        SELECT _timescaledb_functions.attach_osm_table_chunk('public.tiered_ht',
                                                             'public."Tiered ✓"');
    """)
    archive = tmp_path / "db.psm"
    res = dump(source_db, archive)
    warnings = [ln for ln in res.stderr.splitlines() if "not carried: TIERED CHUNK" in ln]
    assert len(warnings) == 1, res.stderr
    assert "TIERED CHUNK public.Tiered ✓: " in warnings[0]
    assert "public.tiered_ht" in warnings[0] and "untier" in warnings[0]
    listing = cli("list", str(archive)).stdout
    assert "; NOT CARRIED: TIERED CHUNK public.Tiered ✓: " in listing
    # Left out consistently: the target's hypertable works, without the tiered rows.
    restore(target_db, archive)
    assert scalar(target_db, "SELECT count(*) FROM public.tiered_ht") == 1
    assert scalar(target_db, "SELECT count(*) FROM _timescaledb_catalog.chunk "
                             "WHERE osm_chunk") == 0
    _run(target_db, "INSERT INTO public.tiered_ht VALUES ('2025-01-01', 2)")
    assert scalar(target_db, "SELECT count(*) FROM public.tiered_ht") == 2
    assert scalar(target_db, "SELECT status FROM _timescaledb_catalog.hypertable "
                             "WHERE table_name = 'tiered_ht'") == 0


def test_hypercore_tables_are_refused(source_db: str, tmp_path: Path) -> None:
    version = scalar(source_db, "SELECT extversion FROM pg_extension "
                                "WHERE extname = 'timescaledb'")
    if not scalar(source_db, "SELECT count(*) FROM pg_am WHERE amname = 'hypercore'"):
        pytest.skip("the hypercore table access method exists only in TimescaleDB 2.18 to "
                    f"2.21; the test server has {version}")
    _need_compression(source_db)
    _run(source_db, BASE_SQL + """
        ALTER TABLE "Sensor Data"."Readings" SET (timescaledb.compress,
            timescaledb.compress_segmentby = 'device');
        SELECT compress_chunk(c, hypercore_use_access_method => true)
        FROM show_chunks('"Sensor Data"."Readings"') c ORDER BY 1 LIMIT 1;
    """)
    chunk = scalar(source_db, "SELECT c.relname FROM pg_class c JOIN pg_am am "
                              "ON am.oid = c.relam WHERE am.amname = 'hypercore' "
                              "ORDER BY c.relnamespace::regnamespace::text, c.relname LIMIT 1")
    # Its rows would be read decompressed while its compressed copy travels too: refused.
    res = cli("dump", "-d", source_db, "-f", str(tmp_path / "db.psm"), check=False)
    assert res.returncode == 5, res.stderr
    assert f"cannot dump TABLE _timescaledb_internal.{chunk}" in res.stderr, res.stderr
    assert "uses the hypercore table access method" in res.stderr
    assert "SET ACCESS METHOD heap" in res.stderr
    assert not (tmp_path / "db.psm").exists()


# ---------------------------------------------------------------- versions and license

@pytest.fixture
def two_versions(pg_server: Server) -> tuple[str, str]:
    """The oldest and the newest TimescaleDB version this server can create."""
    return oldest_and_newest(pg_server)


def _versioned_db(make_db, version: str, *, data: bool) -> str:  # type: ignore[no-untyped-def]
    dsn = make_db("v")
    _run(dsn, f"CREATE EXTENSION timescaledb VERSION '{version}'")
    if data:
        _run(dsn, """
            CREATE TABLE public.m (ts timestamptz NOT NULL, v int);
            SELECT create_hypertable('public.m', 'ts');
            INSERT INTO public.m SELECT t, 1 FROM generate_series(
                timestamptz '2024-01-01', '2024-01-20', interval '1 hour') t;""")
    return dsn


def _untouched(dsn: str) -> bool:
    return scalar(dsn, """
        SELECT count(*) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n
          ON n.oid = c.relnamespace
        WHERE n.nspname IN ('public', '_pystream_migrate')""") == 0


def test_version_rules_name_the_update_to_run(two_versions: tuple[str, str], make_db,  # type: ignore[no-untyped-def]
                                              tmp_path: Path) -> None:
    old, new = two_versions
    old_archive, new_archive = tmp_path / "old.psm", tmp_path / "new.psm"
    old_source = _versioned_db(make_db, old, data=True)
    dump(old_source, old_archive)
    dump(_versioned_db(make_db, new, data=True), new_archive)

    # Older archive, newer target: update the source, then dump again.
    target = _versioned_db(make_db, new, data=False)
    res = restore(target, old_archive, check=False)
    assert res.returncode == 5, res.stderr
    line = res.stderr.strip()
    assert "version mismatch" in line and old in line and new in line
    assert f"restores only into TimescaleDB {old}" in line
    assert "ALTER EXTENSION timescaledb UPDATE" in line and "source" in line
    assert _untouched(target)

    # Newer archive, older target: update the target.
    target = _versioned_db(make_db, old, data=False)
    res = restore(target, new_archive, check=False)
    assert res.returncode == 5, res.stderr
    line = res.stderr.strip()
    assert f"restores only into TimescaleDB {new}" in line
    assert f"ALTER EXTENSION timescaledb UPDATE TO '{new}'" in line and "target" in line
    assert _untouched(target)
    assert scalar(target, "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'") \
        == old

    # Into an empty database the archive's own version is created; the target can then
    # be updated like any other database.
    target = make_db("tgt")
    restore(target, old_archive)
    assert_same_data(old_source, target)
    with psycopg.connect(target, autocommit=True) as conn:
        conn.execute("ALTER EXTENSION timescaledb UPDATE")
    assert scalar(target, "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'") \
        == new
    assert scalar(target, "SELECT count(*) FROM public.m") == \
        scalar(old_source, "SELECT count(*) FROM public.m")


def test_licensed_features_need_a_licensed_target(pg_server: Server, full_source: str,
                                                  tmp_path: Path) -> None:
    from pystream_migrate.localcluster import LocalCluster

    if pg_server.origin != "local":
        pytest.skip("an Apache-licensed target needs a local cluster of the test server's "
                    f"build; the test server is {pg_server.origin!r}")
    archive = tmp_path / "db.psm"
    dump(full_source, archive)
    with LocalCluster(settings={"timescaledb.license": "'apache'"}) as cluster:
        with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
            conn.execute("CREATE DATABASE t")
        target = cluster.dsn("t")
        res = restore(target, archive, check=False)
        assert res.returncode == 5, res.stderr
        line = res.stderr.strip()
        assert "compressed hypertables" in line and "continuous aggregates" in line
        assert "Timescale License" in line and "'apache'" in line
        assert _untouched(target)
        assert scalar(target, "SELECT count(*) FROM pg_extension "
                              "WHERE extname = 'timescaledb'") == 0


# ---------------------------------------------------------------- privileges

def test_a_read_only_role_can_dump(pg_server: Server, source_db: str, target_db: str,
                                   tmp_path: Path) -> None:
    have = _build_what_the_server_has(source_db)
    role, password = f"psm_reader_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    with psycopg.connect(pg_server.dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
            sql.Identifier(role), sql.Literal(password)))
        conn.execute(sql.SQL("GRANT pg_read_all_data TO {}").format(sql.Identifier(role)))
    try:
        reader = make_conninfo(source_db, user=role, password=password)
        assert not scalar(reader, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        archive = tmp_path / "db.psm"
        res = dump(reader, archive, "-j", "2")
        assert "not carried" not in res.stderr, res.stderr
        restore(target_db, archive)
    finally:
        with psycopg.connect(pg_server.dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
    assert_same_data(source_db, target_db)
    assert_same_timescale_views(source_db, target_db)
    if have:
        assert_same_through_roots(source_db, target_db)


def test_target_that_already_has_the_extensions(source_db: str, target_db: str,
                                                tmp_path: Path) -> None:
    have = _build_what_the_server_has(source_db)
    extra = scalar(source_db, "SELECT name FROM pg_available_extensions WHERE name IN "
                              "('hstore', 'pgcrypto', 'citext') ORDER BY name LIMIT 1")
    if extra:
        _run(source_db, f"CREATE EXTENSION {extra}")
    wanted = scalar(source_db, "SELECT obj_description(oid, 'pg_extension') FROM pg_extension "
                               "WHERE extname = 'timescaledb'")
    _run(target_db, "CREATE EXTENSION timescaledb; "
                    "COMMENT ON EXTENSION timescaledb IS 'the target''s own comment'")
    if extra:
        _run(target_db, f"CREATE EXTENSION {extra}; COMMENT ON EXTENSION {extra} IS NULL")
    archive = tmp_path / "db.psm"
    dump(source_db, archive)
    restore(target_db, archive)
    assert_same_data(source_db, target_db)
    comments = "SELECT extname, obj_description(oid, 'pg_extension') FROM pg_extension ORDER BY 1"
    assert _rows(target_db, comments) == _rows(source_db, comments)
    assert dict(_rows(target_db, comments))["timescaledb"] == wanted
    if have:
        assert_same_through_roots(source_db, target_db)


# ---------------------------------------------------------------- verify

def test_verify_compares_compression_caggs_and_jobs(full_source: str, target_db: str) -> None:
    pipe_migrate(full_source, target_db)
    assert compare_databases(full_source, target_db) == []
    _run(target_db, """
        SELECT alter_job(job_id, schedule_interval => interval '3 hours',
                         next_start => now() + interval '1 day')
        FROM timescaledb_information.jobs WHERE proc_name = 'My Job';
        ALTER TABLE public.spare SET (timescaledb.compress_orderby = 'ts DESC');
        ALTER MATERIALIZED VIEW "Sensor Data"."Hourly ✓"
            SET (timescaledb.materialized_only = true);
    """)
    diffs = compare_databases(full_source, target_db)
    kinds = {d.split(" missing on the target: ")[0] for d in diffs if " missing on " in d}
    assert {"timescaledb job", "timescaledb compression setting",
            "timescaledb continuous aggregate"} <= kinds, diffs
