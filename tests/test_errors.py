"""Every error a user can meet: one line that names the problem and the fix."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from pystream_migrate import errors
from pystream_migrate.archive import ArchiveReader, ArchiveWriter
from pystream_migrate.cli import EPILOG
from pystream_migrate.connection import connection_budget
from pystream_migrate.localcluster import LocalCluster
from pystream_migrate.sample import load_sample
from tests.migrate_support import cli, dump, restore, scalar

ROOT = Path(__file__).resolve().parent.parent


def _one_line(res: subprocess.CompletedProcess[str]) -> str:
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, res.stderr
    assert "Traceback" not in res.stderr
    return lines[0]


def _user_relations(dsn: str) -> int:
    return int(scalar(dsn, "SELECT count(*) FROM pg_catalog.pg_class c JOIN "
                      "pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE "
                      "n.nspname NOT IN ('pg_catalog', 'information_schema') "
                      "AND n.nspname NOT LIKE 'pg_toast%'"))  # type: ignore[arg-type]


@pytest.fixture
def archive(make_db, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    source = make_db("src")
    load_sample(source, days=2, devices=2)
    path = tmp_path / "db.psm"
    dump(source, path)
    return path


def _rewrite(src: Path, dst: Path, **source_changes: Any) -> None:
    """Copy an archive, changing facts in its header's 'source' section."""
    with ArchiveReader.open(src) as reader, open(dst, "wb") as out:
        header = dict(reader.header)
        header["source"] = {**header["source"], **source_changes}
        writer = ArchiveWriter(out, header, reader.toc)
        for entry_id, stats in reader.index().items():
            ew = writer.open_entry(entry_id)
            for data in reader.read_entry(entry_id):
                ew.write(data)
            ew.close(stats.rows)
        writer.finish(reader.footer_extra())


def test_documented_exit_codes_match_the_code() -> None:
    usage = (ROOT / "docs" / "usage.md").read_text()
    documented = {int(m.group(1)) for m in re.finditer(r"^\| (\d+) \|", usage, re.M)}
    in_code = {v for k, v in vars(errors).items() if k.startswith("EXIT_")}
    assert documented == in_code
    for code in in_code:
        assert re.search(rf"\b{code}\b", EPILOG), f"--help does not explain exit code {code}"


def test_timescaledb_version_mismatch(archive: Path, target_db: str, tmp_path: Path) -> None:
    other = tmp_path / "other.psm"
    _rewrite(archive, other, timescaledb="2.99.0")
    res = restore(target_db, other, check=False)
    line = _one_line(res)
    assert res.returncode == errors.EXIT_PRECONDITION
    assert "version mismatch" in line and "2.99.0" in line and "2.19" in line
    assert "ALTER EXTENSION timescaledb UPDATE" in line
    assert _user_relations(target_db) == 0


def test_target_postgres_older_than_source(archive: Path, target_db: str,
                                          tmp_path: Path) -> None:
    newer = tmp_path / "newer.psm"
    _rewrite(archive, newer, server_version_num=990000)
    res = restore(target_db, newer, check=False)
    line = _one_line(res)
    assert res.returncode == errors.EXIT_PRECONDITION
    assert "older than the source" in line and "99" in line


def test_target_without_timescaledb_preloaded(archive: Path) -> None:
    with LocalCluster(settings={"shared_preload_libraries": "''"}) as cluster:
        with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
            conn.execute("CREATE DATABASE t")
        res = restore(cluster.dsn("t"), archive, check=False)
        line = _one_line(res)
        assert res.returncode == errors.EXIT_PRECONDITION
        assert "does not preload timescaledb" in line
        assert "shared_preload_libraries" in line
        assert _user_relations(cluster.dsn("t")) == 0


def test_pre_restore_without_privilege(archive: Path, pg_server, make_db) -> None:  # type: ignore[no-untyped-def]
    target = make_db("tgt")
    role = "psm_not_super_" + target.rsplit("_", 1)[-1].split()[0]
    dbname = psycopg.conninfo.conninfo_to_dict(target)["dbname"]
    with psycopg.connect(pg_server.dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
        conn.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
            sql.Identifier(dbname), sql.Identifier(role)))
    with psycopg.connect(target, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION timescaledb")
        conn.execute(sql.SQL("ALTER SCHEMA public OWNER TO {}").format(sql.Identifier(role)))
    try:
        as_role = psycopg.conninfo.make_conninfo(target, user=role)
        res = restore(as_role, archive, "--no-owner", check=False)
        line = _one_line(res)
        assert res.returncode == errors.EXIT_PRECONDITION
        assert "timescaledb_pre_restore()" in line and "superuser" in line
    finally:
        with psycopg.connect(pg_server.dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("ALTER DATABASE {} OWNER TO postgres").format(
                sql.Identifier(dbname)))
            with psycopg.connect(target, autocommit=True) as tconn:
                tconn.execute(sql.SQL("DROP OWNED BY {} CASCADE").format(sql.Identifier(role)))
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_disk_full_while_writing(make_db) -> None:  # type: ignore[no-untyped-def]
    source = make_db("src")
    load_sample(source, days=1, devices=1)
    with open("/dev/full", "wb") as full:
        res = subprocess.run([sys.executable, "-m", "pystream_migrate", "dump", "-d", source,
                              "-f", "-"], stdout=full, stderr=subprocess.PIPE, text=True,
                             timeout=300, check=False)
    # The header goes out while the data is copied (archive/headerjob.py): the data
    # phase's progress line, "stopped", may come before the error.
    progress = [ln for ln in res.stderr.splitlines() if ln.startswith("pystream-migrate: dump:")]
    assert all(ln.endswith("stopped") for ln in progress), res.stderr
    res.stderr = "\n".join(ln for ln in res.stderr.splitlines() if ln not in progress)
    line = _one_line(res)
    assert res.returncode == errors.EXIT_FAILURE
    assert "disk full while writing standard output" in line


@pytest.mark.parametrize("child", [True, False], ids=["header-child", "header-inline"])
def test_a_toc_past_the_formats_limit(make_db, tmp_path: Path, child: bool) -> None:  # type: ignore[no-untyped-def]
    """A database whose TOC is more JSON than a header record holds (1 GiB; here the
    limit is lowered to 4 kB) gets one line that says so, not a traceback, and no file;
    both where a forked child encodes the header and where the dump does."""
    source = make_db("src")
    load_sample(source, days=1, devices=1)
    out = tmp_path / "big.psm"
    prelude = ("import pystream_migrate.archive.header as h, pystream_migrate.archive."
               "headerjob as j; h.MAX_DOCUMENT_SIZE = 4096; "
               + ("" if child else "j._only_thread = lambda: False; ")
               + "from pystream_migrate.cli import main; raise SystemExit(main())")
    res = subprocess.run([sys.executable, "-c", prelude, "dump", "-d", source, "-f", str(out),
                          "-v", "--progress", "none"],
                         capture_output=True, text=True, timeout=300, check=False)
    # The path this case is about:
    assert ("encoded by a child process" in res.stderr) == child, res.stderr
    res.stderr = "\n".join(ln for ln in res.stderr.splitlines()
                           if not ln.startswith("pystream-migrate: ") or "error" in ln)
    line = _one_line(res)
    assert res.returncode == errors.EXIT_FAILURE
    assert "more than the archive format's 1024 MiB of header allows" in line
    assert "-n/-N/-t/-T" in line
    assert not list(tmp_path.iterdir())


def test_corrupt_archive_changes_nothing(archive: Path, target_db: str, tmp_path: Path) -> None:
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0x40
    bad = tmp_path / "bad.psm"
    bad.write_bytes(bytes(data))
    res = restore(target_db, bad, check=False)
    line = _one_line(res)
    assert res.returncode == errors.EXIT_ARCHIVE
    assert "entry" in line
    assert _user_relations(target_db) == 0
    ver = cli("verify", str(bad), check=False)
    assert ver.returncode == errors.EXIT_ARCHIVE


def test_not_an_archive(target_db: str, tmp_path: Path) -> None:
    junk = tmp_path / "junk.psm"
    junk.write_text("PGDMP this is a pg_dump custom archive, not ours\n")
    res = restore(target_db, junk, check=False)
    line = _one_line(res)
    assert res.returncode == errors.EXIT_ARCHIVE
    assert "not a pystream-migrate archive" in line


def test_unsupported_objects_are_named(make_db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    source = make_db("src", timescaledb=True)
    with psycopg.connect(source, autocommit=True) as conn:
        conn.execute("SELECT lo_create(0)")
    path = tmp_path / "lo.psm"
    res = dump(source, path)
    assert "not carried" in res.stderr and "large object" in res.stderr
    listing = cli("list", str(path)).stdout
    assert "NOT CARRIED" in listing and "large object" in listing


def test_wrong_password() -> None:
    with LocalCluster(host_auth="scram-sha-256") as cluster:
        cluster.set_password("right-one")
        dsn = cluster.dsn() + " password=wrong-one"
        res = cli("dump", "-d", dsn, "-f", "x.psm", check=False)
        line = _one_line(res)
        assert res.returncode == errors.EXIT_CONNECTION
        assert "cannot log in" in line and f"127.0.0.1:{cluster.port}" in line
        assert "password authentication failed" in line
        assert "PGPASSWORD" in line  # says where a password can come from
        assert "wrong-one" not in res.stderr and "right-one" not in res.stderr
        # No password at all: the hint says where one goes, and the masker leaves the
        # hint's own "password=..." alone.
        env = {**os.environ, "PGPASSFILE": "/nonexistent/pgpass"}
        env.pop("PGPASSWORD", None)
        res = subprocess.run([sys.executable, "-m", "pystream_migrate", "dump", "-d",
                              cluster.dsn(), "-f", "x.psm"], capture_output=True, text=True,
                             timeout=60, check=False, env=env)
        line = _one_line(res)
        assert res.returncode == errors.EXIT_CONNECTION
        assert "none was given" in line and "password=... in the DSN" in line, line
        assert "***" not in line


def test_more_jobs_than_the_target_takes(archive: Path, target_db: str) -> None:
    """-j beyond the free connections: exit 5 up front, with the numbers and the fix."""
    with psycopg.connect(target_db, autocommit=True) as conn:
        free, why = connection_budget(conn)
        row = conn.execute("SELECT current_setting('max_connections')::int, count(*) "
                           "FROM pg_stat_activity WHERE backend_type = 'client backend'"
                           ).fetchone()
        assert row is not None
        max_connections, in_use = row
        # A superuser's budget: every slot but those in use (this one included).
        assert free == max_connections - in_use
        assert f"max_connections {max_connections}" in why
    jobs = min(free + 1, 256)
    res = restore(target_db, archive, "-j", str(jobs), check=False)
    line = _one_line(res)
    assert res.returncode == errors.EXIT_PRECONDITION
    assert f"-j {jobs} needs {jobs}" in line and "max_connections" in line
    assert "--resume" in line
    assert _user_relations(target_db) == 0


def test_connection_budget_of_a_limited_role(pg_server, make_db) -> None:  # type: ignore[no-untyped-def]
    """A role's CONNECTION LIMIT is part of the budget; superuser slots are not."""
    dsn = make_db("budget")
    role = f"budget_{os.getpid()}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN CONNECTION LIMIT 3").format(
            sql.Identifier(role)))
    try:
        params = dict(psycopg.conninfo.conninfo_to_dict(dsn), user=role)
        with psycopg.connect(**params, autocommit=True) as conn:
            free, why = connection_budget(conn)
        assert free == 2, why  # three, less this one
        assert "the role's CONNECTION LIMIT 3 with 1 in use" in why
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_a_role_that_cannot_read_everything(pg_server, make_db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Row-level security and a missing SELECT grant: exit 5, the table named, no file."""
    source = make_db("src", timescaledb=True)
    role = "psm_limited_" + source.rsplit("_", 1)[-1].split()[0]
    with psycopg.connect(source, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE public.a AS SELECT g AS id FROM generate_series(1, 10) g;"
            "CREATE TABLE public.guarded AS SELECT g AS id FROM generate_series(1, 10) g;"
            "CREATE TABLE public.z AS SELECT g AS id FROM generate_series(1, 10) g;"
            "ALTER TABLE public.guarded ENABLE ROW LEVEL SECURITY;"
            "CREATE POLICY few ON public.guarded USING (id < 5);")
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
        conn.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA public TO {}").format(
            sql.Identifier(role)))
    as_role = psycopg.conninfo.make_conninfo(source, user=role)
    path = tmp_path / "limited.psm"
    try:
        res = cli("dump", "-d", as_role, "-f", str(path), "--progress", "none", check=False)
        line = _one_line(res)
        assert res.returncode == errors.EXIT_PRECONDITION
        assert "public.guarded" in line and "row-level security" in line
        assert "BYPASSRLS" in line
        assert not path.exists() and not list(tmp_path.glob("*.partial"))

        with psycopg.connect(source, autocommit=True) as conn:
            conn.execute(sql.SQL("REVOKE SELECT ON public.z FROM {}").format(
                sql.Identifier(role)))
        res = cli("dump", "-d", as_role, "-f", str(path), "--progress", "none", check=False)
        line = _one_line(res)
        assert res.returncode == errors.EXIT_PRECONDITION
        assert "permission denied for table z" in line and "pg_read_all_data" in line
        assert repr(role) in line
        assert not path.exists()
    finally:
        with psycopg.connect(source, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP OWNED BY {} CASCADE").format(sql.Identifier(role)))
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
