"""Dump and restore under pressure: concurrent writes, interruption and resume, scale."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from pystream_migrate.archive.reader import ArchiveReader
from tests.conftest import Server
from tests.migrate_support import assert_same_data, dump, restore, scalar

WRITER_SQL = """
CREATE TABLE public.ledger (n bigint NOT NULL, s bigint NOT NULL);
INSERT INTO public.ledger VALUES (0, 0);
CREATE TABLE public.readings (ts timestamptz NOT NULL, v bigint NOT NULL);
SELECT create_hypertable('public.readings', 'ts', chunk_time_interval => interval '1 hour');
"""


def _write_continuously(dsn: str, stop: threading.Event, counter: list[int]) -> None:
    """Insert and delete rows; the ledger always holds the count and sum of readings."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        i = 0
        while not stop.is_set():
            i += 1
            with conn.transaction():
                conn.execute(
                    "INSERT INTO public.readings SELECT timestamptz '2024-01-01' "
                    "+ (%s %% 48) * interval '1 hour' + g * interval '1 second', %s "
                    "FROM generate_series(1, 20) g", (i, i))
                conn.execute("UPDATE public.ledger SET n = n + 20, s = s + 20 * %s", (i,))
                if i % 3 == 0:
                    deleted = conn.execute(
                        "DELETE FROM public.readings WHERE v = %s RETURNING v", (i - 1,)
                    ).fetchall()
                    conn.execute("UPDATE public.ledger SET n = n - %s, s = s - %s",
                                 (len(deleted), sum(r[0] for r in deleted)))
            counter[0] = i


def test_dump_is_one_point_in_time(source_db: str, target_db: str, tmp_path: Path) -> None:
    with psycopg.connect(source_db, autocommit=True) as conn:
        conn.execute(WRITER_SQL)  # type: ignore[arg-type]
    stop, counter = threading.Event(), [0]
    writer = threading.Thread(target=_write_continuously, args=(source_db, stop, counter))
    writer.start()
    try:
        while counter[0] < 100:  # 48 chunks exist and writes are flowing
            time.sleep(0.05)
        before = counter[0]
        archive = tmp_path / "db.psm"
        dump(source_db, archive, "-j", "3")
        during = counter[0] - before
    finally:
        stop.set()
        writer.join()
    assert during > 0, "the writer made no commits while the dump ran"
    restore(target_db, archive)
    n, s = psycopg.connect(target_db).execute("SELECT n, s FROM public.ledger").fetchone()
    rows, total = psycopg.connect(target_db).execute(
        "SELECT count(*), coalesce(sum(v), 0) FROM public.readings").fetchone()
    assert (rows, total) == (n, s), "the archive mixes rows from different points in time"
    assert rows > 0


def _slow_source(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE public.big (ts timestamptz NOT NULL, a int, b text);"
            "SELECT create_hypertable('public.big', 'ts', chunk_time_interval => interval "
            "'6 hours');"
            "CREATE INDEX big_a ON public.big (a);"
            "INSERT INTO public.big SELECT timestamptz '2024-01-01' + g * interval '1 second',"
            " g % 1000, repeat(md5(g::text), 3) FROM generate_series(1, 300000) g;"
            "CREATE TABLE public.plain AS SELECT g AS id FROM generate_series(1, 1000) g;"
        )


def _restore_slow_source(source_db: str, target_db: str,
                         tmp_path: Path) -> tuple[Path, subprocess.Popen[bytes]]:
    """Dump a source that takes a while to restore; start restoring it with -j 2."""
    _slow_source(source_db)
    archive = tmp_path / "db.psm"
    dump(source_db, archive)
    proc = subprocess.Popen(
        [sys.executable, "-m", "pystream_migrate", "restore", "-d", target_db, "-f",
         str(archive), "-j", "2"], stderr=subprocess.PIPE)
    return archive, proc


def _wait_for_progress(target: str, proc: subprocess.Popen[bytes], minimum: int) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            done = scalar(target, "SELECT count(*) FROM _pystream_migrate.done")
        except psycopg.Error:
            done = 0
        if isinstance(done, int) and done >= minimum:
            return
        time.sleep(0.05)
    raise AssertionError("the restore made no progress to interrupt")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_interrupted_restore_resumes_without_duplicates(
    source_db: str, target_db: str, tmp_path: Path, sig: signal.Signals
) -> None:
    archive, proc = _restore_slow_source(source_db, target_db, tmp_path)
    _wait_for_progress(target_db, proc, minimum=30)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode != 0
    if sig == signal.SIGTERM:
        assert b"interrupted" in err
        assert scalar(target_db, "SHOW timescaledb.restoring") == "off", err.decode()
    # A plain restore now refuses, and says how to go on.
    again = restore(target_db, archive, check=False)
    assert again.returncode == 5 and "--resume" in again.stderr
    restore(target_db, archive, "--resume", "-j", "2")
    assert_same_data(source_db, target_db)
    assert scalar(target_db, "SHOW timescaledb.restoring") == "off"
    assert scalar(target_db, "SELECT count(*) FROM pg_namespace "
                  "WHERE nspname = '_pystream_migrate'") == 0


def test_clean_starts_over_after_a_killed_restore(source_db: str, target_db: str,
                                                  tmp_path: Path) -> None:
    """SIGKILL leaves restoring mode on and the resume records behind; --clean copes."""
    archive, proc = _restore_slow_source(source_db, target_db, tmp_path)
    _wait_for_progress(target_db, proc, minimum=30)
    proc.kill()
    proc.communicate(timeout=120)
    assert scalar(target_db, "SHOW timescaledb.restoring") == "on"
    res = restore(target_db, archive, "--clean", "-j", "2")
    assert "still in TimescaleDB restoring mode" in res.stderr
    assert_same_data(source_db, target_db)
    assert scalar(target_db, "SHOW timescaledb.restoring") == "off"
    assert scalar(target_db, "SELECT count(*) FROM pg_namespace "
                  "WHERE nspname = '_pystream_migrate'") == 0


def _wait_until(dsn: str, query: str, proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if scalar(dsn, query):
            return
        time.sleep(0.05)
    raise AssertionError(f"the restore never reached the point where {what}")


def test_interrupt_while_leaving_restoring_mode_still_leaves_it(
    source_db: str, target_db: str, tmp_path: Path
) -> None:
    """SIGTERM that lands inside timescaledb_post_restore() must not cancel it."""
    dbname = psycopg.conninfo.conninfo_to_dict(target_db)["dbname"]
    _archive, proc = _restore_slow_source(source_db, target_db, tmp_path)
    _wait_until(target_db, "SELECT EXISTS (SELECT FROM pg_db_role_setting s JOIN pg_database d"
                " ON d.oid = s.setdatabase WHERE d.datname = current_database()"
                " AND 'timescaledb.restoring=on' = ANY (s.setconfig))", proc,
                "the target is in restoring mode")
    # An open transaction that changed the same database settings holds the row that
    # timescaledb_post_restore() must update: the restore waits inside it.
    blocker = psycopg.connect(target_db)
    try:
        blocker.execute(psycopg.sql.SQL("ALTER DATABASE {} SET work_mem = '8MB'").format(
            psycopg.sql.Identifier(dbname)))
        _wait_until(target_db, "SELECT EXISTS (SELECT FROM pg_stat_activity WHERE query LIKE"
                    " '%timescaledb_post_restore%' AND wait_event_type = 'Lock')", proc,
                    "it waits in timescaledb_post_restore()")
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
    finally:
        blocker.rollback()
        blocker.close()
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err.decode()
    assert b"interrupted" in err
    assert scalar(target_db, "SHOW timescaledb.restoring") == "off"


def _hypertable_with_six_chunks(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE public.blocker (x int);"
            "CREATE TABLE public.m (ts timestamptz NOT NULL, v int);"
            "SELECT create_hypertable('public.m', 'ts', chunk_time_interval => interval '1 day');"
            "CREATE INDEX m_v ON public.m (v);"
            "INSERT INTO public.m SELECT timestamptz '2024-01-01 00:00+00' + g * interval "
            "'1 hour', g FROM generate_series(0, 24 * 6 - 1) g;"
        )


DROP_TWO = "SELECT drop_chunks('public.m', older_than => timestamptz '2024-01-03 00:00+00')"


def _wait_until_dump_waits_for_a_lock(dsn: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if scalar(dsn, "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                  "'pystream-migrate' AND wait_event_type = 'Lock'"):
            return
        time.sleep(0.05)
    raise AssertionError("the dump never waited for a lock")


def _start_dump(dsn: str, archive: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "pystream_migrate", "dump", "-d", dsn, "-f", str(archive),
         "-v"], stderr=subprocess.PIPE, text=True)


def test_chunks_dropped_while_the_schema_is_read_give_a_consistent_dump(
    source_db: str, target_db: str, tmp_path: Path
) -> None:
    _hypertable_with_six_chunks(source_db)
    holder = psycopg.connect(source_db)
    holder.execute("LOCK TABLE public.blocker IN ACCESS EXCLUSIVE MODE")
    archive = tmp_path / "db.psm"
    proc = _start_dump(source_db, archive)
    try:
        # The dump has its snapshot and waits for its lock on public.blocker, while a
        # retention job drops the two oldest chunks.
        _wait_until_dump_waits_for_a_lock(source_db)
        with psycopg.connect(source_db, autocommit=True) as conn:
            assert len(conn.execute(DROP_TWO).fetchall()) == 2
    finally:
        holder.rollback()
        holder.close()
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "starting again from a new snapshot" in err
    restore(target_db, archive)
    assert_same_data(source_db, target_db)
    assert scalar(target_db, "SELECT count(*) FROM show_chunks('public.m')") == 4


def test_chunks_dropped_while_data_is_copied_are_left_out_consistently(
    source_db: str, target_db: str, tmp_path: Path
) -> None:
    _hypertable_with_six_chunks(source_db)
    with psycopg.connect(source_db, autocommit=True) as conn:
        # The largest table is copied first and keeps the only worker busy for a while.
        conn.execute("CREATE TABLE public.big AS SELECT g, repeat(md5(g::text), 8) AS t "
                     "FROM generate_series(1, 400000) g")
    archive = tmp_path / "db.psm"
    partial = archive.with_name(archive.name + ".partial")
    proc = subprocess.Popen(
        [sys.executable, "-m", "pystream_migrate", "dump", "-d", source_db, "-f", str(archive),
         "-j", "1"], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not partial.exists():  # the catalog is read; the data is being copied
        assert time.monotonic() < deadline and proc.poll() is None, "the dump did not start"
        time.sleep(0.01)
    with psycopg.connect(source_db, autocommit=True) as conn:
        assert len(conn.execute(DROP_TWO).fetchall()) == 2
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert err.count("was dropped while the dump ran") == 2, err
    res = restore(target_db, archive)
    assert res.stderr.count("left out here too") == 2
    assert_same_data(source_db, target_db)
    assert scalar(target_db, "SELECT count(*) FROM show_chunks('public.m')") == 4


def test_a_dropped_worker_connection_fails_clearly(source_db: str, target_db: str,
                                                   tmp_path: Path) -> None:
    _archive, proc = _restore_slow_source(source_db, target_db, tmp_path)
    deadline = time.monotonic() + 120
    killed = 0
    while not killed and time.monotonic() < deadline and proc.poll() is None:
        killed = int(scalar(target_db, (  # type: ignore[arg-type]
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = 'pystream-migrate' AND query LIKE '%COPY %FROM STDIN%' "
            # A worker's COPY: not the leader's load of TimescaleDB's catalog, whose
            # failure also undoes the catalog (a second error line, tested elsewhere).
            "AND query NOT LIKE '%\\_timescaledb\\_catalog%' "
            "AND query NOT LIKE '%bgw\\_job\\_stat%' "
            "AND state = 'active'")) or 0)
        time.sleep(0.02)
    assert killed, "no COPY was seen to interrupt"
    _, out = proc.communicate(timeout=120)
    err = out.decode()
    assert proc.returncode == 1
    errors = [ln for ln in err.splitlines() if ": error: " in ln]
    assert len(errors) == 1, err
    assert "TABLE DATA" in errors[0] and "entry" in errors[0]
    # The server's own words: "terminating connection ..." or, when the COPY was
    # sending, "server closed the connection unexpectedly".
    assert "terminat" in errors[0] or "closed the connection" in errors[0]
    assert scalar(target_db, "SHOW timescaledb.restoring") == "off"


def test_large_tables_are_loaded_frozen(source_db: str, target_db: str, tmp_path: Path) -> None:
    _slow_source(source_db)
    archive = tmp_path / "db.psm"
    dump(source_db, archive)
    restore(target_db, archive)
    with psycopg.connect(target_db, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION pg_visibility")
        chunk = conn.execute("SELECT c FROM show_chunks('public.big') c LIMIT 1").fetchone()[0]
        pages, frozen = conn.execute(
            "SELECT relpages, (SELECT all_frozen FROM pg_visibility_map_summary(%s::regclass)) "
            "FROM pg_class WHERE oid = %s::regclass", (str(chunk), str(chunk))).fetchone()
    assert pages > 0 and frozen == pages, "COPY FREEZE should leave every page frozen"


def test_data_only_keeps_what_the_target_has(make_db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    source, target = make_db("src", timescaledb=True), make_db("tgt")
    with psycopg.connect(source, autocommit=True) as conn:
        conn.execute("CREATE TABLE public.plain (id int, big text);"
                     "INSERT INTO public.plain SELECT g, repeat('x', 200) "
                     "FROM generate_series(1, 2000) g")
    schema, data = tmp_path / "schema.psm", tmp_path / "data.psm"
    dump(source, schema, "--schema-only")
    dump(source, data, "--data-only")
    restore(target, schema)
    with psycopg.connect(target, autocommit=True) as conn:
        conn.execute("INSERT INTO public.plain VALUES (0, 'already here')")
    restore(target, data, "--data-only")
    assert scalar(target, "SELECT count(*) FROM public.plain") == 2001
    assert scalar(target, "SELECT big FROM public.plain WHERE id = 0") == "already here"


def test_chunks_dropped_in_the_middle_of_a_script_leave_the_rest_complete(
    source_db: str, target_db: str, tmp_path: Path
) -> None:
    """A worker sends 100 small chunks as one script of several batch transactions; the
    chunks dropped meanwhile sit in later batches. The batches before are kept, the
    failing batch is copied one table at a time, the batches after it go again."""
    with psycopg.connect(source_db, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE public.m (t bigint NOT NULL, v int);"
            "SELECT create_hypertable('public.m', 't', chunk_time_interval => 1);"
            "INSERT INTO public.m SELECT g, g FROM generate_series(1, 100) g;"
            # The largest table is copied first and keeps the only worker busy a while.
            "CREATE TABLE public.big AS SELECT g, repeat(md5(g::text), 8) AS t "
            "FROM generate_series(1, 400000) g;")
    archive = tmp_path / "db.psm"
    partial = archive.with_name(archive.name + ".partial")
    proc = subprocess.Popen(
        [sys.executable, "-m", "pystream_migrate", "dump", "-d", source_db, "-f", str(archive),
         "-j", "1", "-vv"], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not partial.exists():  # the catalog is read; the data is being copied
        assert time.monotonic() < deadline and proc.poll() is None, "the dump did not start"
        time.sleep(0.01)
    with psycopg.connect(source_db, autocommit=True) as conn:
        # Chunks 60..69: by name (_hyper_N_60_chunk ...) they sort into a later batch.
        gone = conn.execute("SELECT drop_chunks('public.m', older_than => 70, "
                            "newer_than => 60)").fetchall()
    assert len(gone) == 10
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert err.count("was dropped while the dump ran") == 10, err
    copied = [ln for ln in err.splitlines() if "TABLE DATA" in ln and " rows" in ln]
    assert len(copied) == len(set(copied)), "a table was copied twice"
    restore(target_db, archive)
    assert_same_data(source_db, target_db)
    assert scalar(target_db, "SELECT count(*) FROM show_chunks('public.m')") == 90


def test_entries_kept_whole_or_compact_give_the_same_toc(
        make_db: Callable[..., str], tmp_path: Path) -> None:
    """The dump keeps its first catalog entries whole and compacts the rest (from
    catalog.compact.COMPACT_FROM, here 3, so that this small TOC mixes both): the TOC
    is the same, document for document, as with every entry whole."""
    source = make_db("src", timescaledb=True)
    with psycopg.connect(source, autocommit=True) as conn:
        conn.execute("CREATE TABLE m (t timestamptz NOT NULL, v int DEFAULT 1, "
                     "g int GENERATED ALWAYS AS (v * 2) STORED)")
        conn.execute("SELECT create_hypertable('m', 't', chunk_time_interval => "
                     "interval '1 day')")
        conn.execute("CREATE INDEX ON m (v, t)")
        conn.execute("INSERT INTO m SELECT g, 1 FROM generate_series("
                     "'2024-01-01'::timestamptz, '2024-01-05', interval '6 hours') g")
        conn.execute("CREATE TABLE k (id serial PRIMARY KEY, note text)")
        conn.execute("CREATE TABLE r (id int REFERENCES k, n int CHECK (n > 0))")
        conn.execute("COMMENT ON TABLE r IS 'refs'")
        conn.execute("CREATE VIEW v AS SELECT k.id, r.n FROM k JOIN r USING (id)")
    tocs = []
    for name, prelude in [("whole", ""), ("mixed", "import pystream_migrate.catalog.compact "
                                                   "as c; c.COMPACT_FROM = 3; ")]:
        out = tmp_path / f"{name}.psm"
        code = prelude + "from pystream_migrate.cli import main; raise SystemExit(main())"
        res = subprocess.run([sys.executable, "-c", code, "dump", "-d", source, "-f", str(out),
                              "--progress", "none"],
                             capture_output=True, text=True, timeout=300, check=False)
        assert res.returncode == 0, res.stderr
        with ArchiveReader.open(str(out)) as reader:
            tocs.append(list(reader.toc_by_id.items()))
    assert len(tocs[0]) > 3 * 10
    assert tocs[0] == tocs[1]


def test_a_toc_in_two_parts_with_user_jobs_dumps_and_restores(
        pg_server: Server, make_db: Callable[..., str], tmp_path: Path) -> None:
    """The dump adds the user jobs' statistics with the TOC's highest id in its middle;
    the header of a TOC in two halves (from dump.HEADER_SPLIT entries, here 4) must
    still be written, and the archive restore as the one of a single child."""
    if not pg_server.has_compression:
        pytest.skip("user jobs (a compression policy) need the Timescale License edition; "
                    f"the test server's timescaledb.license is {pg_server.license!r}")
    source = make_db("src", timescaledb=True)
    with psycopg.connect(source, autocommit=True) as conn:
        conn.execute("CREATE TABLE m (t timestamptz NOT NULL, v int)")
        conn.execute("SELECT create_hypertable('m', 't', chunk_time_interval => "
                     "interval '1 day')")
        conn.execute("INSERT INTO m SELECT g, 1 FROM generate_series("
                     "'2024-01-01'::timestamptz, '2024-01-10', interval '6 hours') g")
        conn.execute("ALTER TABLE m SET (timescaledb.compress)")
        # Paused: the policy compressing chunks meanwhile would change the source.
        conn.execute("SELECT alter_job(add_compression_policy('m', interval '7 days'), "
                     "scheduled => false)")
    out = tmp_path / "parts.psm"
    prelude = ("import pystream_migrate.dump as d; d.HEADER_SPLIT = 4; "
               "from pystream_migrate.cli import main; raise SystemExit(main())")
    res = subprocess.run([sys.executable, "-c", prelude, "dump", "-d", source, "-f", str(out),
                          "-v", "--progress", "none"],
                         capture_output=True, text=True, timeout=300, check=False)
    assert res.returncode == 0, res.stderr
    assert "encoded by a child process" in res.stderr  # the path this case is about
    target = make_db("dst")
    restore(target, out, "-j", "2")
    assert_same_data(source, target)
    jobs = "SELECT count(*) FROM timescaledb_information.jobs WHERE job_id >= 1000"
    assert scalar(target, jobs) == scalar(source, jobs) == 1
