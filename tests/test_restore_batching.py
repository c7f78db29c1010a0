"""Small chunks restored in batches (restore/staging.py): one COPY into a staging table,
then one script that moves the rows to their chunks. The failure listing, --resume and
the rows themselves must be exactly what one COPY per chunk gives."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from pystream_migrate.restore.staging import keyed
from tests.migrate_support import assert_same_data, cli, dump, restore, scalar
from tests.test_restore_options import PICKY_SQL, _lines, _refusing_target


def _hypertable(dsn: str, ddl: str, chunks: int, rows: int) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(ddl)  # type: ignore[arg-type]
        conn.execute("SELECT create_hypertable('public.h', 'ts', "
                     "chunk_time_interval => interval '1 hour')")
        conn.execute(
            "INSERT INTO public.h (ts, v) SELECT timestamptz '2024-01-01' + "
            "(g / %s) * interval '1 hour' + (g %% %s) * interval '1 second', g "
            "FROM generate_series(0, %s) g", (rows, rows, chunks * rows - 1))


def _chunk_entries(path: Path) -> dict[str, int]:
    """TABLE DATA entries of chunks: name -> id."""
    out = {}
    for line in cli("list", str(path)).stdout.splitlines():
        parts = [p.strip() for p in line.split(";")]
        if len(parts) > 3 and parts[1] == "TABLE DATA" and parts[3].endswith("_chunk"):
            out[parts[3]] = int(parts[0])
    return out



def _database_setting(dsn: str, name: str, value: str | None) -> None:
    """ALTER DATABASE ... SET name = value (RESET with None), for sessions opened later."""
    dbname = str(psycopg.conninfo.conninfo_to_dict(dsn)["dbname"])
    change = (sql.SQL("SET {} = {}").format(sql.SQL(name), sql.Literal(value))
              if value is not None else sql.SQL("RESET {}").format(sql.SQL(name)))
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER DATABASE {} ").format(sql.Identifier(dbname)) + change)


def _source_with_a_picky_chunk(make_db, chunks: int) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """A hypertable of ``chunks`` chunks of 3 rows; the chunk holding v = 13 (named in
    the result) fails to load where public.picky() refuses."""
    source: str = make_db("src", timescaledb=True)
    with psycopg.connect(source, autocommit=True) as conn:
        conn.execute(PICKY_SQL)  # type: ignore[arg-type]
    _hypertable(source, "CREATE TABLE public.h (ts timestamptz NOT NULL, "
                "v int CHECK (v <> 13 OR public.picky(v) = v))", chunks, 3)
    return source, str(scalar(source, "SELECT tableoid::regclass::text FROM public.h "
                                      "WHERE v = 13"))

def test_chunks_with_dropped_columns_identity_and_generated_columns_batch_correctly(
        source_db: str, target_db: str, tmp_path: Path) -> None:
    """Old chunks keep a dropped column's slot, new ones do not; the staged rows land
    in the right columns of each (compared cell by cell), identity values kept."""
    _hypertable(source_db,
                "CREATE TABLE public.h (ts timestamptz NOT NULL, v int, "
                "gone text DEFAULT 'x', w text DEFAULT 'tab\there', "
                "id int GENERATED ALWAYS AS IDENTITY, "
                "twice int GENERATED ALWAYS AS (v * 2) STORED)", 12, 4)
    with psycopg.connect(source_db, autocommit=True) as conn:
        conn.execute("ALTER TABLE public.h DROP COLUMN gone")
        conn.execute("ALTER TABLE public.h ADD COLUMN late text")
        conn.execute("INSERT INTO public.h (ts, v, w, late) SELECT timestamptz '2024-02-01' "
                     "+ g * interval '1 hour', g, E'new\\nline', 'late ' || g "
                     "FROM generate_series(1, 12) g")
        conn.execute("UPDATE public.h SET late = NULL WHERE v % 5 = 0")
    path = tmp_path / "db.psm"
    dump(source_db, path)
    restore(target_db, path, "-j", "2")
    assert_same_data(source_db, target_db)
    assert scalar(target_db, "SELECT count(*) FROM public.h") == 60
    assert scalar(target_db, "SELECT count(*) FROM public.h WHERE twice <> v * 2") == 0
    assert scalar(target_db, "SELECT count(DISTINCT id) FROM public.h") == 60


def test_a_failing_chunk_in_a_batch_is_named_and_the_others_load(  # type: ignore[no-untyped-def]
        make_db, tmp_path: Path) -> None:
    source, bad = _source_with_a_picky_chunk(make_db, 30)
    path = tmp_path / "db.psm"
    dump(source, path)
    target = _refusing_target(make_db, "tgt")
    res = restore(target, path, "-j", "2", check=False)
    assert res.returncode == 1, res.stderr
    errors = _lines(res, "error")
    assert len(errors) == 2, res.stderr
    assert f"TABLE DATA {bad}" in errors[0] and "picky refuses" in errors[0], errors
    assert "1 failed" in errors[-1]
    assert all(bad in s for s in _lines(res, "skipped"))  # its ANALYZE, nothing else
    with psycopg.connect(target) as conn:
        counts = dict(conn.execute(
            "SELECT c.relname, (xpath('/row/n/text()', query_to_xml("
            "format('SELECT count(*) AS n FROM %I.%I', n.nspname, c.relname), "
            "false, true, '')))[1]::text::int FROM pg_class c JOIN pg_namespace n "
            "ON n.oid = c.relnamespace WHERE c.relname LIKE '\\_hyper\\_%\\_chunk' "
            "AND c.relkind = 'r'").fetchall())
    assert len(counts) == 30
    assert counts.pop(bad.split(".")[-1]) == 0
    assert set(counts.values()) == {3}
    _database_setting(target, "psm.refuse", None)
    restore(target, path, "-j", "2", "--resume")
    assert_same_data(source, target)


def test_resume_waits_for_the_interrupted_restores_sessions(  # type: ignore[no-untyped-def]
        make_db, tmp_path: Path) -> None:
    """A killed restore's backend may still commit a batch (rows and resume record, sent
    as one script) after the client died: --resume must not read the resume records
    before that session ends, or it loads the batch again."""
    source, bad = _source_with_a_picky_chunk(make_db, 10)
    with psycopg.connect(source) as conn:
        rows = conn.execute("SELECT ts, v FROM public.h WHERE tableoid = %s::regclass",
                            (bad,)).fetchall()
    path = tmp_path / "db.psm"
    dump(source, path)
    bad_id = _chunk_entries(path)[bad.split(".")[-1]]
    target = _refusing_target(make_db, "tgt")
    assert restore(target, path, "-j", "2", check=False).returncode == 1
    _database_setting(target, "psm.refuse", None)
    # The "killed restore's" session: its batch commits 2 s after --resume starts.
    orphan = psycopg.connect(target, application_name="pystream-migrate")
    orphan.execute(sql.SQL("INSERT INTO {} (ts, v) VALUES (%s, %s)").format(
        sql.SQL(bad)), rows[0])
    orphan.cursor().executemany(sql.SQL("INSERT INTO {} (ts, v) VALUES (%s, %s)").format(
        sql.SQL(bad)), rows[1:])
    orphan.execute("INSERT INTO _pystream_migrate.done VALUES (%s)", (bad_id,))
    resume = subprocess.Popen([sys.executable, "-m", "pystream_migrate", "restore", "-d",
                               target, "-f", str(path), "-j", "2", "--resume"],
                              stderr=subprocess.PIPE, text=True)
    # The batch commits once --resume says it waits (not after a fixed time: a loaded
    # machine may take longer to start it); a --resume that does not wait reads to the
    # end of its output here, and the assertions below fail.
    assert resume.stderr is not None
    said = []
    for line in resume.stderr:
        said.append(line)
        if "waiting for 1 session(s) of the interrupted restore to end" in line:
            break
    orphan.commit()
    orphan.close()
    _, err = resume.communicate(timeout=300)
    err = "".join(said) + err
    assert resume.returncode == 0, err
    assert "waiting for 1 session(s) of the interrupted restore to end" in err
    assert scalar(target, "SELECT count(*) FROM public.h") == 30
    assert_same_data(source, target)

SLOW_SQL = """
CREATE FUNCTION public.slow(x int) RETURNS int IMMUTABLE LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('psm.slow', true) = 'on' THEN
        PERFORM pg_sleep(0.002);
    END IF;
    RETURN x;
END $$;
"""


@pytest.mark.slow
def test_a_restore_killed_mid_batch_resumes_each_row_once(make_db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """SIGKILL while batches of chunks load; --resume loads every row exactly once."""
    source = make_db("src", timescaledb=True)
    with psycopg.connect(source, autocommit=True) as conn:
        conn.execute(SLOW_SQL)  # type: ignore[arg-type]
    _hypertable(source, "CREATE TABLE public.h (ts timestamptz NOT NULL, "
                "v int CHECK (public.slow(v) = v))", 400, 2)
    path = tmp_path / "db.psm"
    dump(source, path)
    chunks = list(_chunk_entries(path).values())
    assert len(chunks) == 400
    target = make_db("tgt")
    _database_setting(target, "psm.slow", "on")
    proc = subprocess.Popen([sys.executable, "-m", "pystream_migrate", "restore", "-d",
                             target, "-f", str(path), "-j", "2"], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    done = 0
    while time.monotonic() < deadline and proc.poll() is None and not done:
        with contextlib.suppress(psycopg.Error):
            done = int(scalar(target, "SELECT count(*) FROM _pystream_migrate.done "  # type: ignore[arg-type]
                              f"WHERE entry_id IN ({', '.join(map(str, chunks))})"))
        time.sleep(0.02)
    assert done, "no batch of chunks committed before the restore ended"
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    left = 400 - int(scalar(target, "SELECT count(*) FROM _pystream_migrate.done "  # type: ignore[arg-type]
                            f"WHERE entry_id IN ({', '.join(map(str, chunks))})"))
    assert left > 0, "the kill came after every chunk was loaded"
    _database_setting(target, "psm.slow", None)
    restore(target, path, "--resume", "-j", "2")
    assert scalar(target, "SELECT count(*) FROM public.h") == 800
    assert_same_data(source, target)


def test_each_copy_line_gets_its_key() -> None:
    assert keyed(7, b"a\tb\\nc\n\\N\tx\n") == b"7\ta\tb\\nc\n7\t\\N\tx\n"
    assert keyed(12, b"last line without newline") == b"12\tlast line without newline\n"
    assert keyed(1, b"") == b""
