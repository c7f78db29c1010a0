"""Portable archives (dump --portable): across TimescaleDB versions, without superuser.

The source is made on the oldest TimescaleDB the server can create and the target on
the newest (2.17.2 and 2.28.3 in CI), and back. Every feature of issue 13 is in one
database: a compressed hypertable with a partially compressed chunk and a space
dimension, an integer-time hypertable with an integer_now function, a hierarchical
continuous aggregate, a continuous aggregate with a join, history whose raw rows were
dropped before the dump, and jobs and policies.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from pystream_migrate.verify import compare
from tests.conftest import Server, oldest_and_newest
from tests.migrate_support import cli, dump, restore, scalar
from tests.test_restore_options import PICKY_SQL
from tests.test_timescale_features import _run

SOURCE_SQL = """
CREATE TABLE public.devices (id int PRIMARY KEY, site text NOT NULL);
INSERT INTO public.devices SELECT g, 'site ' || (g % 2) FROM generate_series(0, 5) g;
CREATE TABLE public.readings (ts timestamptz NOT NULL, device int NOT NULL, temp numeric(8, 3),
                              note text);
SELECT create_hypertable('public.readings', 'ts', 'device', 2,
                         chunk_time_interval => interval '1 day');
CREATE INDEX readings_device_ts ON public.readings (device, ts DESC);
ALTER TABLE public.readings ADD CONSTRAINT readings_unique UNIQUE (device, ts),
    ADD CONSTRAINT readings_device FOREIGN KEY (device) REFERENCES public.devices (id);
INSERT INTO public.readings
SELECT t, (extract(epoch FROM t)::bigint / 300) % 4,
       round((20 + 10 * sin(extract(epoch FROM t) / 5000))::numeric, 3),
       CASE WHEN extract(minute FROM t) = 0 THEN NULL
            ELSE 'n' || (extract(epoch FROM t)::bigint % 7) END
FROM generate_series(timestamptz '2024-01-01 00:00+00', '2024-01-06 23:55+00',
                     interval '5 minutes') t;
ALTER TABLE public.readings SET (timescaledb.compress, timescaledb.compress_segmentby = 'device',
                                 timescaledb.compress_orderby = 'ts DESC');
CREATE MATERIALIZED VIEW public.hourly
    WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
    SELECT time_bucket('1 hour', ts) AS bucket, device, avg(temp) AS avg_temp, count(*) AS n
    FROM public.readings GROUP BY 1, 2 WITH NO DATA;
CALL refresh_continuous_aggregate('public.hourly', '2024-01-01', '2024-01-05');
CREATE MATERIALIZED VIEW public.daily
    WITH (timescaledb.continuous, timescaledb.materialized_only = true) AS
    SELECT time_bucket('1 day', bucket) AS day, device, sum(n) AS n
    FROM public.hourly GROUP BY 1, 2 WITH NO DATA;
CALL refresh_continuous_aggregate('public.daily', '2024-01-01', '2024-01-05');
-- A compressed continuous aggregate with settings of its own (not its GROUP BY columns).
ALTER MATERIALIZED VIEW public.daily SET (timescaledb.compress = true,
    timescaledb.compress_segmentby = '', timescaledb.compress_orderby = 'day DESC, device');
SELECT compress_chunk(c) FROM show_chunks('public.daily') c;
CREATE MATERIALIZED VIEW public.by_site
    WITH (timescaledb.continuous, timescaledb.materialized_only = true) AS
    SELECT time_bucket('1 day', r.ts) AS day, d.site, count(*) AS n
    FROM public.readings r JOIN public.devices d ON d.id = r.device GROUP BY 1, 2 WITH NO DATA;
CALL refresh_continuous_aggregate('public.by_site', '2024-01-01', '2024-01-05');
-- Retention dropped the first day's raw rows; the aggregates keep its buckets.
SELECT drop_chunks('public.readings', older_than => timestamptz '2024-01-02');
SELECT compress_chunk(c) FROM show_chunks('public.readings',
                                          older_than => timestamptz '2024-01-04') c;
-- A row written into a compressed chunk: a partially compressed chunk.
INSERT INTO public.readings VALUES ('2024-01-02 12:02+00', 1, 1.5, 'late');
-- Integer time with an integer_now function, compressed whole.
CREATE TABLE public.counters (t bigint NOT NULL, v int);
SELECT create_hypertable('public.counters', 't', chunk_time_interval => 100);
CREATE FUNCTION public.counters_now() RETURNS bigint LANGUAGE sql STABLE
    AS 'SELECT coalesce(max(t), 0) FROM public.counters';
SELECT set_integer_now_func('public.counters', 'public.counters_now');
INSERT INTO public.counters SELECT g, g % 13 FROM generate_series(1, 450) g;
ALTER TABLE public.counters SET (timescaledb.compress, timescaledb.compress_orderby = 't');
SELECT compress_chunk(c) FROM show_chunks('public.counters', older_than => 300) c;
-- A space dimension with a custom partitioning function.
CREATE FUNCTION public.site_part(val anyelement) RETURNS integer LANGUAGE sql IMMUTABLE
    AS 'SELECT length(val::text) * 7';
CREATE TABLE public.events (ts timestamptz NOT NULL, site text NOT NULL, n int);
SELECT create_hypertable('public.events', 'ts', chunk_time_interval => interval '2 days');
SELECT add_dimension('public.events', 'site', number_partitions => 3,
                     partitioning_func => 'public.site_part');
INSERT INTO public.events SELECT t, repeat('s', 1 + g), g
FROM generate_series(timestamptz '2024-01-01', '2024-01-05', interval '6 hours') t,
     generate_series(0, 3) g;
-- An integer-time continuous aggregate on the integer_now hypertable.
CREATE MATERIALIZED VIEW public.counters_10
    WITH (timescaledb.continuous, timescaledb.materialized_only = true) AS
    SELECT time_bucket(10, t) AS b, sum(v) AS s, count(*) AS n
    FROM public.counters GROUP BY 1 WITH NO DATA;
CALL refresh_continuous_aggregate('public.counters_10', 0, 400);
-- Jobs and policies, a day ahead so that none runs while the test compares.
SELECT add_retention_policy('public.readings', drop_after => interval '100 years',
                            initial_start => now() + interval '1 day');
SELECT add_compression_policy('public.readings', compress_after => interval '30 days',
                              initial_start => now() + interval '1 day');
SELECT add_retention_policy('public.counters', drop_after => 100000,
                            initial_start => now() + interval '1 day');
SELECT add_continuous_aggregate_policy('public.hourly', start_offset => interval '3 days',
    end_offset => interval '1 hour', schedule_interval => interval '1 hour',
    initial_start => now() + interval '1 day');
SELECT add_continuous_aggregate_policy('public.counters_10', start_offset => 200,
    end_offset => 10, schedule_interval => interval '30 minutes',
    initial_start => now() + interval '1 day');
CREATE TABLE public.job_log (job_id int, config jsonb);
CREATE PROCEDURE public.my_job(job_id int, config jsonb) LANGUAGE plpgsql AS $$
BEGIN INSERT INTO public.job_log VALUES (job_id, config); END $$;
SELECT add_job('public.my_job', interval '2 hours', config => '{"k": [1, "two"]}',
               initial_start => now() + interval '1 day');
SELECT alter_job(j.job_id, scheduled => false) FROM timescaledb_information.jobs j
WHERE j.proc_name = 'policy_compression';
"""
CAGGS = ("public.hourly", "public.daily", "public.by_site", "public.counters_10")


def _rows(dsn: str, query: str | sql.Composable) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        conn.execute("SET TimeZone = 'UTC'")
        return conn.execute(query).fetchall()  # type: ignore[arg-type]


def _versions(pg_server: Server) -> tuple[str, str]:
    versions = oldest_and_newest(pg_server)
    if pg_server.license != "timescale":
        pytest.skip("compression, continuous aggregates and jobs need the Timescale License "
                    f"edition; the test server's timescaledb.license is {pg_server.license!r}")
    return versions


def _chunks(dsn: str) -> list[tuple[Any, ...]]:
    """Every chunk: its hypertable (a continuous aggregate by its view), name, range and
    compressed state."""
    return sorted(_rows(dsn, """
        SELECT coalesce(ca.user_view_name, c.hypertable_name), c.chunk_name,
               c.range_start, c.range_end, c.range_start_integer, c.range_end_integer,
               c.is_compressed
        FROM timescaledb_information.chunks c
        LEFT JOIN _timescaledb_catalog.hypertable h
               ON h.schema_name = c.hypertable_schema AND h.table_name = c.hypertable_name
        LEFT JOIN _timescaledb_catalog.continuous_agg ca ON ca.mat_hypertable_id = h.id"""))


def _chunk_rows(dsn: str) -> dict[str, tuple[int, int]]:
    """Rows per chunk, read decompressed: count and an order-independent digest."""
    out = {}
    for schema, name in _rows(dsn, "SELECT chunk_schema, chunk_name "
                                   "FROM timescaledb_information.chunks"):
        row = _rows(dsn, sql.SQL(
            "SELECT count(*), coalesce(sum(('x' || substr(md5(x::text), 1, 15))::bit(60)"
            "::bigint), 0) FROM {} x").format(sql.Identifier(schema, name)))[0]
        out[name] = (int(row[0]), int(row[1]))
    return out


def _partial(dsn: str) -> list[tuple[Any, ...]]:
    """The partially compressed chunks, with the rows in their own heap."""
    out = []
    for schema, name in _rows(dsn, "SELECT schema_name, table_name "
                                   "FROM _timescaledb_catalog.chunk WHERE status & 8 = 8"):
        out.append((name, _rows(dsn, sql.SQL("SELECT count(*) FROM ONLY {}").format(
            sql.Identifier(schema, name)))[0][0]))
    return sorted(out)


def _jobs(dsn: str) -> list[tuple[Any, ...]]:
    return sorted(_rows(dsn, """
        SELECT j.proc_name, coalesce(ca.user_view_name, j.hypertable_name),
               j.schedule_interval, j.max_runtime, j.max_retries, j.retry_period, j.scheduled,
               j.fixed_schedule, j.config - 'hypertable_id' - 'mat_hypertable_id',
               date_trunc('second', j.next_start)
        FROM timescaledb_information.jobs j
        LEFT JOIN _timescaledb_catalog.hypertable h
               ON h.schema_name = j.hypertable_schema AND h.table_name = j.hypertable_name
        LEFT JOIN _timescaledb_catalog.continuous_agg ca ON ca.mat_hypertable_id = h.id
        WHERE j.job_id >= 1000"""), key=repr)


def _cagg_rows(dsn: str, view: str) -> list[tuple[Any, ...]]:
    return _rows(dsn, f"SELECT * FROM {view} ORDER BY 1, 2")


def _refresh_all(dsn: str, *, materialized: bool = False) -> None:
    """Refresh every continuous aggregate, parents first: over all time, or only over
    what the source had materialized (up to 2024-01-05 and 400)."""
    def end(view: str) -> str:
        # 2.28.3 refuses NULL as the end of an integer one ("timestamp out of range").
        if "counters" in view:
            return "400" if materialized else "600"
        return "'2024-01-05'" if materialized else "NULL"

    _run(dsn, "\n".join(f"CALL refresh_continuous_aggregate('{v}', NULL, {end(v)});"
                        for v in CAGGS))


# New rows after the migration: new chunks of every hypertable, and of the continuous
# aggregates' materialized hypertables, named by the target (whose hypertable and chunk
# ids differ from the source's), next to chunks that carry the source's names.
GROW_SQL = """
INSERT INTO public.readings SELECT t, 2, 3.5, 'new'
FROM generate_series(timestamptz '2024-03-01', '2024-03-09', interval '1 hour') t;
INSERT INTO public.events SELECT t, 'sss', 1
FROM generate_series(timestamptz '2024-03-01', '2024-03-09', interval '1 hour') t;
INSERT INTO public.counters SELECT g, 1 FROM generate_series(451, 1450) g;
CALL refresh_continuous_aggregate('public.hourly', '2024-03-01', '2024-03-10');
CALL refresh_continuous_aggregate('public.daily', '2024-03-01', '2024-03-10');
CALL refresh_continuous_aggregate('public.counters_10', 400, 1500);
SELECT compress_chunk(c, true) FROM show_chunks('public.readings',
                                               newer_than => timestamptz '2024-02-01') c;
SELECT compress_chunk(c, true) FROM show_chunks('public.counters', newer_than => 500) c;
"""


def _target_owner(pg_server: Server, make_db: Callable[..., str]) -> str:
    """A target database owned by a role that is not a superuser; the extension is
    created there by the superuser (a cloud service's administrator does that)."""
    role = f"owner_{make_db.__hash__() % 100000}"
    with psycopg.connect(pg_server.dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER").format(sql.Identifier(role)))
    dsn = make_db("tgt")
    dbname = psycopg.conninfo.conninfo_to_dict(dsn)["dbname"]
    with psycopg.connect(pg_server.dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
            sql.Identifier(str(dbname)), sql.Identifier(role)))
    return psycopg.conninfo.make_conninfo(dsn, user=role)


@pytest.fixture(params=["superuser", "owner"])
def target_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _migrate(pg_server: Server, make_db: Callable[..., str], tmp_path: Path,
             source_version: str, target_version: str, kind: str,
             source_sql: str = SOURCE_SQL) -> tuple[str, str]:
    source = make_db("src", timescaledb=source_version)
    _run(source, source_sql)
    if kind == "owner":
        target = _target_owner(pg_server, make_db)
        admin = psycopg.conninfo.make_conninfo(target, user=psycopg.conninfo.conninfo_to_dict(
            pg_server.dsn).get("user") or "postgres")
        _run(admin, f"CREATE EXTENSION timescaledb VERSION '{target_version}';")
    else:
        target = make_db("tgt")
        _run(target, f"CREATE EXTENSION timescaledb VERSION '{target_version}';")
    archive = tmp_path / "db.psm"
    dump(source, archive, "--portable", "-j", "2")
    res = restore(target, archive, "-j", "2", *(["--no-owner"] if kind == "owner" else []))
    assert "error" not in res.stderr, res.stderr
    return source, target


def _assert_same(source: str, target: str, *, pending_carried: bool = True) -> None:
    """``pending_carried``: the restoring role could write the source's pending
    invalidations (a superuser); otherwise a refresh applies them on the source only."""
    assert scalar(target, "SELECT extversion FROM pg_extension "
                          "WHERE extname = 'timescaledb'") != scalar(
        source, "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'")
    assert _chunks(target) == _chunks(source)
    assert _chunk_rows(target) == _chunk_rows(source)
    assert any(c[-1] for c in _chunks(target))
    assert _partial(source) and _partial(target) == _partial(source)
    for view in CAGGS:
        rows = _cagg_rows(source, view)
        assert _cagg_rows(target, view) == rows, view
    # The first day's buckets outlived its raw rows, on both sides.
    assert _rows(target, "SELECT count(*) FROM public.hourly WHERE bucket < '2024-01-02'")[0][0] \
        == 96
    assert _jobs(target) == _jobs(source)
    comparison = compare(source, target)
    assert comparison.diffs == [], "\n".join(comparison.diffs)
    # A refresh of what was materialized changes nothing where the source had nothing
    # pending (counters_10), and applies the same pending changes on both sides; a
    # refresh over all time then gives the same result on both sides.
    before = _cagg_rows(target, "public.counters_10")
    for materialized in (True, False):
        for dsn in (source, target):
            _refresh_all(dsn, materialized=materialized)
        if materialized:
            assert _cagg_rows(target, "public.counters_10") == before
        for view in CAGGS if pending_carried else ("public.counters_10",):
            assert _cagg_rows(target, view) == _cagg_rows(source, view), view
    # The target names its new chunks itself: none collides with a carried name.
    for dsn in (source, target):
        _run(dsn, GROW_SQL)
    def unnamed(dsn: str) -> list[tuple[Any, ...]]:
        return sorted(c[:1] + c[2:] for c in _chunks(dsn))

    assert unnamed(target) == unnamed(source)
    for view in CAGGS if pending_carried else ("public.counters_10",):
        assert _cagg_rows(target, view) == _cagg_rows(source, view), view


def test_dump_portable_reads_every_row_once_and_leaves_the_catalog_out(
        pg_server: Server, make_db: Callable[..., str], tmp_path: Path) -> None:
    old, _new = _versions(pg_server)
    source = make_db("src", timescaledb=old)
    _run(source, SOURCE_SQL)
    archive = tmp_path / "db.psm"
    dump(source, archive, "--portable")
    import json
    listing = json.loads(cli("list", "--json", str(archive)).stdout)
    kinds = {e["kind"] for e in listing["entries"]}
    assert {"HYPERTABLE", "CHUNK", "CONTINUOUS AGGREGATE", "COMPRESS CHUNK", "JOB",
            "CAGG WATERMARK"} <= kinds
    schemas = {e["schema"] for e in listing["entries"] if e["kind"] == "TABLE DATA"}
    assert "_timescaledb_catalog" not in schemas
    assert not any(e["name"].startswith("compress_hyper") for e in listing["entries"])
    rows: dict[str, int] = {}
    for e in listing["entries"]:
        if e["kind"] == "TABLE DATA":  # a partial chunk: its compressed part, its heap
            name = e["name"].removesuffix(" (uncompressed part)")
            rows[name] = rows.get(name, 0) + e["rows"]
    for name, (count, _digest) in _chunk_rows(source).items():
        assert rows[name] == count, name
    assert any(e["name"].endswith(" (uncompressed part)") for e in listing["entries"])


def test_portable_restore_into_a_newer_version(pg_server: Server, make_db: Callable[..., str],
                                               tmp_path: Path, target_kind: str) -> None:
    old, new = _versions(pg_server)
    source, target = _migrate(pg_server, make_db, tmp_path, old, new, target_kind)
    _assert_same(source, target, pending_carried=target_kind == "superuser")


def test_portable_restore_into_an_older_version(pg_server: Server, make_db: Callable[..., str],
                                                tmp_path: Path, target_kind: str) -> None:
    old, new = _versions(pg_server)
    source, target = _migrate(pg_server, make_db, tmp_path, new, old, target_kind)
    _assert_same(source, target, pending_carried=target_kind == "superuser")


@pytest.mark.parametrize("direction", ["newer", "older"])
def test_new_chunks_on_the_target_never_take_a_carried_chunk_name(
        pg_server: Server, make_db: Callable[..., str], tmp_path: Path, target_kind: str,
        direction: str) -> None:
    """The source's chunks 4 to 6 of hypertable 1 keep their names on the target, whose
    own ids for them are 1 to 3: its next new chunk, id 4, must not be _hyper_1_4_chunk."""
    old, new = _versions(pg_server)
    versions = (old, new) if direction == "newer" else (new, old)
    source, target = _migrate(pg_server, make_db, tmp_path, *versions, target_kind, """
        CREATE TABLE public.t (ts int NOT NULL, v int);
        SELECT create_hypertable('public.t', 'ts', chunk_time_interval => 10);
        INSERT INTO public.t SELECT g, g FROM generate_series(0, 29) g;
        SELECT drop_chunks('public.t', older_than => 100);
        INSERT INTO public.t SELECT g, g FROM generate_series(100, 129) g;""")
    assert _chunks(target) == _chunks(source)
    for dsn in (source, target):
        _run(dsn, "INSERT INTO public.t SELECT g, g FROM generate_series(200, 239) g;")
    assert len(_chunks(target)) == 7
    assert _rows(target, "SELECT count(*) FROM public.t")[0][0] == 70


def test_restore_clean_again_replaces_the_jobs_it_made(
        pg_server: Server, make_db: Callable[..., str], tmp_path: Path,
        target_kind: str) -> None:
    """A portable restore's jobs have the target's ids: --clean finds them by what they
    do, so a second restore --clean leaves one of each (a user-defined job outlives
    the relations --clean drops)."""
    old, new = _versions(pg_server)
    source, target = _migrate(pg_server, make_db, tmp_path, old, new, target_kind)
    res = restore(target, tmp_path / "db.psm", "--clean",
                  *(["--no-owner"] if target_kind == "owner" else []))
    assert "error" not in res.stderr, res.stderr
    assert _jobs(target) == _jobs(source)
    assert len(_jobs(target)) == 6


def test_jobs_keep_their_owner_where_the_restoring_role_can_give_it(
        pg_server: Server, make_db: Callable[..., str], tmp_path: Path,
        target_kind: str) -> None:
    """A superuser gives each job its source owner; a database owner keeps the jobs
    itself, and says so."""
    old, new = _versions(pg_server)
    with psycopg.connect(pg_server.dsn, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = 'psm_jobber'").fetchone():
            conn.execute("CREATE ROLE psm_jobber LOGIN")
    source, target = _migrate(pg_server, make_db, tmp_path, old, new, target_kind, """
        CREATE PROCEDURE public.tick(job_id int, config jsonb) LANGUAGE sql AS 'SELECT 1';
        CREATE TABLE public.t (ts timestamptz NOT NULL, v int);
        SELECT create_hypertable('public.t', 'ts');
        SELECT add_retention_policy('public.t', drop_after => interval '100 years',
                                    initial_start => now() + interval '1 day');
        SET ROLE psm_jobber;
        SELECT add_job('public.tick', interval '1 hour',
                       initial_start => now() + interval '1 day');
        RESET ROLE;""")
    query = ("SELECT proc_name, owner::text FROM timescaledb_information.jobs "
             "WHERE job_id >= 1000 ORDER BY 1")
    assert _rows(source, query) == [("policy_retention", "postgres"), ("tick", "psm_jobber")]
    if target_kind == "superuser":
        assert _rows(target, query) == _rows(source, query)
        return
    me = psycopg.conninfo.conninfo_to_dict(target)["user"]  # --no-owner: the role's own
    assert _rows(target, query) == [("policy_retention", me), ("tick", me)]


def test_jobs_whose_owner_cannot_be_given_are_named(pg_server: Server,
                                                     make_db: Callable[..., str]) -> None:
    from pystream_migrate.portable._jobs import job_owners
    from pystream_migrate.toc import Section, TocEntry

    jobs = [TocEntry(id=i, kind="JOB", schema=None, name=f"my_job [{i}]",
                     section=Section.POST_DATA, owner=owner, info={"portable": {}})
            for i, owner in ((1000, "psm_no_such_role"), (1001, "postgres"))]
    with psycopg.connect(make_db("tgt"), autocommit=True) as conn:
        assert job_owners(conn, jobs, superuser=False) == [
            "jobs my_job [1000] (owner psm_no_such_role) belong to the restoring role "
            "postgres: their source owner can be given only by a superuser"]
        assert job_owners(conn, jobs, superuser=True) == [
            "jobs my_job [1000] (owner psm_no_such_role) belong to the restoring role "
            "postgres: their source owner does not exist on the target"]
    assert "UPDATE _timescaledb_config.bgw_job SET owner = '\"postgres\"'::regrole" \
        in jobs[1].owner_sql


@pytest.mark.parametrize("direction", ["newer", "older"])
def test_resume_after_a_failed_load_finishes_the_portable_restore(
        pg_server: Server, make_db: Callable[..., str], tmp_path: Path, target_kind: str,
        direction: str) -> None:
    """A chunk whose rows the target refuses (a CHECK that fails there) fails the first
    restore; once the cause is gone, --resume runs exactly what is left, and the target
    then matches the source as after an uninterrupted restore."""
    old, new = _versions(pg_server)
    versions = (old, new) if direction == "newer" else (new, old)
    picky = PICKY_SQL + """
        CREATE TABLE public.p (ts timestamptz NOT NULL, v int CHECK (public.picky(v) = v));
        SELECT create_hypertable('public.p', 'ts');
        INSERT INTO public.p VALUES ('2024-01-01', 1), ('2024-02-01', 2);
        """
    source = make_db("src", timescaledb=versions[0])
    _run(source, SOURCE_SQL + picky)
    if target_kind == "owner":
        target = _target_owner(pg_server, make_db)
        admin = psycopg.conninfo.make_conninfo(target, user="postgres")
    else:
        target = admin = make_db("tgt")
    _run(admin, f"CREATE EXTENSION timescaledb VERSION '{versions[1]}';")
    dbname = psycopg.conninfo.conninfo_to_dict(target)["dbname"]
    _run(admin, f"ALTER DATABASE {dbname} SET psm.refuse = 'on';")
    archive = tmp_path / "db.psm"
    dump(source, archive, "--portable", "-j", "2")
    flags = ["-j", "2", *(["--no-owner"] if target_kind == "owner" else [])]
    res = restore(target, archive, *flags, check=False)
    assert res.returncode == 1 and "picky refuses to work here" in res.stderr, res.stderr
    _run(admin, f"ALTER DATABASE {dbname} RESET psm.refuse;")
    res = restore(target, archive, *flags, "--resume")
    assert "error" not in res.stderr, res.stderr
    assert _rows(target, "SELECT count(*) FROM public.p") == [(2,)]
    _assert_same(source, target, pending_carried=target_kind == "superuser")


def test_catalog_archive_into_another_version_names_dump_portable(
        pg_server: Server, make_db: Callable[..., str], tmp_path: Path) -> None:
    old, new = _versions(pg_server)
    source = make_db("src", timescaledb=old)
    _run(source, "CREATE TABLE t (ts timestamptz NOT NULL); SELECT create_hypertable('t', 'ts');")
    target = make_db("tgt", timescaledb=new)
    archive = tmp_path / "db.psm"
    dump(source, archive)
    res = restore(target, archive, check=False)
    assert res.returncode == 5
    assert "dump --portable" in res.stderr
    res = restore(target, archive, "--mode", "portable", check=False)
    assert res.returncode == 2 and "dump the source again with --portable" in res.stderr


def _apache(decompress: bool) -> Any:
    from pystream_migrate.portable._target import Target

    return Target("2.19.3", "public", "apache", False, None, False, False, decompress)


def _entry(kind: str, name: str, portable: dict[str, Any]) -> Any:
    from pystream_migrate.toc import Section, TocEntry

    return TocEntry(kind=kind, schema="public", name=name, section=Section.PRE_DATA,
                    info={"portable": portable})


def test_apache_target_is_refused_naming_what_it_cannot_hold() -> None:
    from pystream_migrate.errors import PreconditionFailed
    from pystream_migrate.portable._checks import check_edition

    entries = [_entry("HYPERTABLE", "readings", {"compression": True}),
               _entry("HYPERTABLE", "plain", {"compression": False}),
               _entry("CONTINUOUS AGGREGATE", "hourly", {})]
    with pytest.raises(PreconditionFailed) as caught:
        check_edition(entries, _apache(decompress=True))
    assert "continuous aggregates public.hourly" in caught.value.one_line()
    assert caught.value.exit_code == 5
    with pytest.raises(PreconditionFailed) as caught:
        check_edition(entries[:2], _apache(decompress=False))
    text = caught.value.one_line()
    assert "compressed hypertables public.readings" in text and "--decompress" in text
    assert "plain" not in text
    warnings = check_edition(entries[:2], _apache(decompress=True))
    assert any("public.readings are restored uncompressed" in w for w in warnings)


def _apache_version(pg_server: Server, make_db: Callable[..., str]) -> str:
    """A TimescaleDB version the server builds as the Apache edition (Debian's 2.19.3
    here: it has no Timescale License module, whatever timescaledb.license says)."""
    for version in pg_server.timescaledb_versions:
        dsn = make_db("probe", timescaledb=version)
        if scalar(dsn, "SELECT current_setting('timescaledb.license')") == "apache":
            return version
    pytest.skip("the test server builds no TimescaleDB version as the Apache edition")


APACHE_SOURCE_SQL = """
CREATE TABLE public.m (ts timestamptz NOT NULL, dev int NOT NULL, v float8);
SELECT create_hypertable('public.m', 'ts', chunk_time_interval => interval '1 day');
INSERT INTO public.m SELECT t, g, g * 1.5 FROM generate_series(
    timestamptz '2024-01-01', '2024-01-04 23:00', interval '1 hour') t, generate_series(1, 3) g;
ALTER TABLE public.m SET (timescaledb.compress, timescaledb.compress_segmentby = 'dev');
SELECT compress_chunk(c) FROM show_chunks('public.m', older_than => timestamptz '2024-01-03') c;
INSERT INTO public.m VALUES ('2024-01-01 00:30', 9, 0.5);
SELECT add_compression_policy('public.m', compress_after => interval '30 days',
                              initial_start => now() + interval '1 day');
CREATE TABLE public.plain (ts timestamptz NOT NULL, v int);
SELECT create_hypertable('public.plain', 'ts');
INSERT INTO public.plain VALUES ('2024-01-01', 1), ('2024-02-01', 2);
"""


def test_decompress_into_an_apache_edition_target(pg_server: Server,
                                                  make_db: Callable[..., str],
                                                  tmp_path: Path, target_kind: str) -> None:
    """The Apache edition cannot hold compressed chunks: restore refuses (exit 5) naming
    the compressed hypertable, before anything changes; --decompress loads every row
    uncompressed, through each hypertable, and leaves the compression policy out."""
    old, _new = _versions(pg_server)
    apache = _apache_version(pg_server, make_db)
    source = make_db("src", timescaledb=old)
    _run(source, APACHE_SOURCE_SQL)
    archive = tmp_path / "db.psm"
    dump(source, archive, "--portable")
    if target_kind == "owner":
        target = _target_owner(pg_server, make_db)
        admin = psycopg.conninfo.make_conninfo(target, user="postgres")
        _run(admin, f"CREATE EXTENSION timescaledb VERSION '{apache}';")
    else:
        target = make_db("tgt", timescaledb=apache)
    res = restore(target, archive, "--no-owner", check=False)
    assert res.returncode == 5, res.stderr
    assert "compressed hypertables public.m" in res.stderr and "--decompress" in res.stderr
    assert _rows(target, "SELECT count(*) FROM pg_class WHERE relname IN ('m', 'plain')") \
        == [(0,)]
    res = restore(target, archive, "--no-owner", "--decompress")
    assert "public.m are restored uncompressed" in res.stderr
    digest = ("SELECT count(*), sum(('x' || substr(md5(x::text), 1, 15))::bit(60)::bigint) "
              "FROM {} x")
    for table in ("public.m", "public.plain"):
        assert _rows(target, digest.format(table)) == _rows(source, digest.format(table))
    assert _rows(target, "SELECT count(*) FROM timescaledb_information.chunks "
                         "WHERE is_compressed") == [(0,)]
    assert _rows(target, "SELECT count(*) FROM timescaledb_information.jobs "
                         "WHERE job_id >= 1000") == [(0,)]


def test_portable_archive_through_a_pipe(pg_server: Server, make_db: Callable[..., str]) -> None:
    import subprocess
    import sys

    old, new = _versions(pg_server)
    source = make_db("src", timescaledb=old)
    _run(source, SOURCE_SQL)
    target = make_db("tgt")
    dumper = subprocess.Popen([sys.executable, "-m", "pystream_migrate", "dump", "-d", source,
                               "-f", "-", "--portable"], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL)
    restorer = subprocess.run([sys.executable, "-m", "pystream_migrate", "restore", "-d",
                               target, "-f", "-"], stdin=dumper.stdout, capture_output=True,
                              text=True, timeout=600, check=False)
    assert dumper.wait(timeout=600) == 0
    assert restorer.returncode == 0, restorer.stderr
    assert scalar(target, "SELECT extversion FROM pg_extension "
                          "WHERE extname = 'timescaledb'") == new
    _assert_same(source, target)
