"""PostgreSQL's own regression database, moved with dump -j 2 / restore -j 2, as the oracle.

``scripts/build-pg-regress.sh`` builds pg_regress and regress.so from Debian's
``postgresql-<major>`` source package (cached outside the repository). The test runs
``parallel_schedule`` into a throwaway cluster, which leaves the ``regression`` database
with nearly every object kind PostgreSQL has, then moves it and compares source and
target: ``pg_dump -s --no-owner --no-privileges`` of both (pg_dump serves only as an
oracle here), every table's row count and content fingerprint, every materialized
view's, and the sequences. The same database also goes through a schema-only round trip.

The only differences allowed are those pg_dump/pg_restore produce on the same database,
measured in the same run (pg_dump -Fc, pg_restore -j 2 into a third database): for
PostgreSQL 15 that is the column order of inheritance children that pg_dump's
``INHERITS`` form reorders, and matviews whose contents differ after a refresh.
"""

from __future__ import annotations

import os
import pwd
import subprocess
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from pystream_migrate.localcluster import LocalCluster, find_bindir
from pystream_migrate.verify import _fingerprint, _reader, compare_databases
from tests.migrate_support import dump, restore
from tests.schema_support import pg_dump_schema

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
BUILD_SCRIPT = ROOT / "scripts" / "build-pg-regress.sh"
# What the regression suite expects of its server besides the defaults (pg_regress sets
# the same for a temporary instance); no TimescaleDB: this is a plain PostgreSQL database.
REGRESS_SETTINGS = {
    "shared_preload_libraries": "''",
    "max_prepared_transactions": "2",
    "max_connections": "100",
}


@dataclass
class Regress:
    cluster: LocalCluster
    failed_tests: str  # pg_regress's summary line when some of its tests failed

    def dsn(self, dbname: str) -> str:
        return self.cluster.dsn(dbname)

    def create_db(self, name: str) -> str:
        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(
                sql.Identifier(name)))
        return self.dsn(name)


def _build(major: str) -> Path:
    res = subprocess.run(["bash", str(BUILD_SCRIPT), major], capture_output=True, text=True,
                         timeout=1800, check=False)
    said = (res.stderr.strip().splitlines() or ["(nothing)"])[-1]
    if res.returncode == 3:
        pytest.skip(f"the regression database is not available: no deb-src for "
                    f"postgresql-{major} is reachable from this machine ({said})")
    if res.returncode != 0:
        pytest.fail(f"scripts/build-pg-regress.sh {major} failed: {res.stderr[-2000:]}")
    return Path(res.stdout.strip().splitlines()[-1])


def _run_schedule(cluster: LocalCluster, build: Path) -> str:
    """Run parallel_schedule into ``cluster``; returns pg_regress's failure summary.

    With the build's own psql: the suite's scripts are written for their version's.
    """
    assert cluster.datadir is not None
    regress = build / "regress"
    out = cluster.datadir.parent / "regress-out"
    out.mkdir()
    if os.geteuid() == 0:  # the server writes into results/ (COPY TO a file)
        pw = pwd.getpwnam("postgres")
        os.chown(out, pw.pw_uid, pw.pw_gid)
    res = cluster._run([
        str(regress / "pg_regress"), f"--inputdir={regress}", f"--outputdir={out}",
        f"--dlpath={regress}", f"--bindir={build / 'bin'}", "--host=127.0.0.1",
        f"--port={cluster.port}", f"--user={cluster.user}",
        f"--schedule={regress / 'parallel_schedule'}",
    ])
    # 1: some tests' output differs from what they expect (the database is still made).
    assert res.returncode in (0, 1), res.stdout[-3000:] + res.stderr[-2000:]
    return next((ln.strip() for ln in res.stdout.splitlines() if "failed" in ln), "")


@pytest.fixture(scope="module")
def regress() -> Iterator[Regress]:
    bindir = find_bindir()
    path = _build(bindir.parent.name)
    with LocalCluster(settings=REGRESS_SETTINGS, bindir=bindir) as cluster:
        yield Regress(cluster, _run_schedule(cluster, path))


def _pg_tool(cluster: LocalCluster, name: str) -> str:
    assert cluster.bindir is not None
    return str(cluster.bindir / name)


def _pg_restore_reference(r: Regress) -> str:
    """The regression database moved by pg_dump -Fc / pg_restore -j 2: the bar."""
    target = r.create_db("regress_pg_restore")
    archive = r.cluster.datadir.parent / "regress.dump"  # type: ignore[union-attr]
    subprocess.run([_pg_tool(r.cluster, "pg_dump"), "-Fc", "-f", str(archive),
                    "-d", r.dsn("regression")], check=True, capture_output=True)
    # pg_restore reports the errors it ignored and exits 1; what it lost shows below.
    subprocess.run([_pg_tool(r.cluster, "pg_restore"), "-j", "2", "-d", target, str(archive)],
                   check=False, capture_output=True)
    return target


def _matview_fingerprints(dsn: str) -> dict[str, object]:
    with _reader(dsn) as conn:
        names = conn.execute(
            "SELECT n.nspname, c.relname FROM pg_catalog.pg_class c"
            " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
            " WHERE c.relkind = 'm' AND c.relispopulated").fetchall()
        conn.rollback()
        return {f"{s}.{n}": _fingerprint(conn, s, n, None) for s, n in names}


def _data_diffs(source: str, target: str) -> set[str]:
    diffs = set(compare_databases(source, target))
    src, tgt = _matview_fingerprints(source), _matview_fingerprints(target)
    for name in sorted(src.keys() | tgt.keys()):
        if src.get(name) != tgt.get(name):
            diffs.add(f"materialized view {name}: {src.get(name)} on the source, "
                      f"{tgt.get(name)} on the target")
    return diffs


def _schema_diffs(source: Counter[str], target: Counter[str]) -> set[str]:
    return ({f"missing on the target: {s}" for s in source - target}
            | {f"only on the target: {s}" for s in target - source})


def _unexplained(ours: set[str], theirs: set[str], what: str) -> str:
    left = sorted(ours - theirs)
    return f"{len(left)} {what} beyond pg_dump/pg_restore's own:\n" + "\n;\n".join(left)


def test_regression_database_round_trip(regress: Regress, tmp_path: Path) -> None:
    source = regress.dsn("regression")
    reference = _pg_restore_reference(regress)
    archive = tmp_path / "regression.psm"
    dump(source, archive, "-j", "2")
    target = regress.create_db("regress_target")
    restore(target, archive, "-j", "2")

    src_schema = pg_dump_schema(source)
    allowed_schema = _schema_diffs(src_schema, pg_dump_schema(reference))
    schema = _schema_diffs(src_schema, pg_dump_schema(target))
    allowed_data = _data_diffs(source, reference)
    data = _data_diffs(source, target)
    note = f" (pg_regress: {regress.failed_tests})" if regress.failed_tests else ""
    assert schema <= allowed_schema, (
        _unexplained(schema, allowed_schema, "schema differences") + note)
    assert data <= allowed_data, _unexplained(data, allowed_data, "data differences") + note

    # Schema only: the same bar, without the data.
    schema_archive = tmp_path / "regression-schema.psm"
    dump(source, schema_archive, "-s")
    schema_target = regress.create_db("regress_schema_only")
    restore(schema_target, schema_archive, "-j", "2")
    schema_only = _schema_diffs(src_schema, pg_dump_schema(schema_target))
    assert schema_only <= allowed_schema, (
        _unexplained(schema_only, allowed_schema, "schema-only differences") + note)
