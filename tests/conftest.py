"""Fixtures: a real PostgreSQL + TimescaleDB server, and fresh databases for each test.

The server comes from, in order of preference:
1. ``PYSTREAM_TEST_DSN`` (a superuser DSN; databases are created and dropped on it);
2. testcontainers (image ``timescale/timescaledb``) when a Docker engine answers;
3. a throwaway local cluster (see ``pystream_migrate.localcluster``).

TimescaleDB databases are made on the newest version the server can create; a test may
ask for a version of its own with ``make_db(timescaledb="2.17.2")``.
``PYSTREAM_TEST_LICENSE=apache`` starts the local cluster as the Apache edition.

CI (``.ci/run``) sets ``PYSTREAM_TEST_EXPECT_VERSIONS`` and ``PYSTREAM_TEST_EXPECT_LICENSE``
to what it installed: the run stops at once if the server offers less, so that the tests
of the Timescale License features and of the version rules cannot skip there unnoticed.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import psycopg
import pytest
from psycopg import sql

from pystream_migrate.connection import with_dbname


@dataclass
class Server:
    dsn: str  # superuser DSN (maintenance database)
    pg_version: int  # server_version_num
    timescaledb_version: str  # the version test databases are created on (the newest)
    license: str  # 'apache' or 'timescale'
    origin: str  # 'env', 'container' or 'local'
    timescaledb_versions: tuple[str, ...] = ()  # every version it can create, oldest first

    def db_dsn(self, dbname: str) -> str:
        return with_dbname(self.dsn, dbname)

    @property
    def has_compression(self) -> bool:
        return self.license == "timescale"

    @property
    def has_continuous_aggregates(self) -> bool:
        return self.license == "timescale"


def _docker_available() -> bool:
    try:
        import docker  # type: ignore[import-untyped]

        docker.from_env(timeout=3).ping()
        return True
    except Exception:
        return False


def _creatable_versions(dsn: str) -> list[str]:
    """Every TimescaleDB version the server can create (listed and loadable), oldest first.

    Each is tried on a connection of its own: a session that has loaded one version's
    library cannot load another.
    """
    from pystream_migrate.timescale import available_versions

    with psycopg.connect(dsn, autocommit=True) as conn:
        listed = available_versions(conn)
    creatable = []
    for version in listed:
        try:
            with psycopg.connect(dsn, autocommit=True) as conn, conn.transaction():
                conn.execute(sql.SQL("CREATE EXTENSION timescaledb VERSION {}").format(
                    sql.Literal(version)))
                conn.execute("DROP EXTENSION timescaledb")
        except psycopg.Error:
            continue  # listed (an update script) but not installed as a library
        creatable.append(version)
    return creatable


def _check_expectations(server: Server) -> None:
    """In CI, stop at once if the server offers less than what CI installed."""
    want = os.environ.get("PYSTREAM_TEST_EXPECT_VERSIONS", "").split()
    missing = [v for v in want if v not in server.timescaledb_versions]
    if missing:
        pytest.exit(f"the test server cannot create TimescaleDB {', '.join(missing)}, which CI "
                    f"installed; it offers {', '.join(server.timescaledb_versions)}", 2)
    want_license = os.environ.get("PYSTREAM_TEST_EXPECT_LICENSE")
    if want_license and server.license != want_license:
        pytest.exit(f"the test server's timescaledb.license is {server.license!r}; CI installed "
                    f"the {want_license!r} edition", 2)


def _probe(dsn: str, origin: str) -> Server:
    with psycopg.connect(dsn, autocommit=True) as conn:
        version = conn.info.server_version
        if conn.execute("SELECT 1 FROM pg_available_extensions "
                        "WHERE name = 'timescaledb'").fetchone() is None:
            pytest.exit(f"the test server ({origin}) has no TimescaleDB extension available", 2)
        preload = conn.execute("SHOW shared_preload_libraries").fetchone()[0]
        if "timescaledb" not in preload:
            pytest.exit(f"the test server ({origin}) does not preload timescaledb", 2)
        probe_db = f"psm_probe_{uuid.uuid4().hex[:8]}"
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(probe_db)))
    try:
        versions = _creatable_versions(with_dbname(dsn, probe_db))
        with psycopg.connect(with_dbname(dsn, probe_db), autocommit=True) as conn:
            if not versions:
                pytest.exit(f"the test server ({origin}) cannot create any TimescaleDB version", 2)
            chosen = versions[-1]
            conn.execute(sql.SQL("CREATE EXTENSION timescaledb VERSION {}").format(
                sql.Literal(chosen)))
            lic = conn.execute("SELECT current_setting('timescaledb.license')").fetchone()[0]
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(probe_db)))
    server = Server(dsn, version, chosen, lic, origin, tuple(versions))
    _check_expectations(server)
    return server


def oldest_and_newest(server: Server) -> tuple[str, str]:
    """The oldest and the newest TimescaleDB version the server can create; skips the
    test, saying so, when it offers only one."""
    versions = server.timescaledb_versions
    if len(versions) < 2:
        pytest.skip("two TimescaleDB versions are needed; the test server offers only "
                    f"{', '.join(versions)} (scripts/install-server.sh with "
                    "TIMESCALEDB_SOURCES builds several, as CI does from ../shared/vendor)")
    return versions[0], versions[-1]


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Server]:
    env_dsn = os.environ.get("PYSTREAM_TEST_DSN")
    if env_dsn:
        yield _probe(env_dsn, "env")
        return
    if os.environ.get("PYSTREAM_TEST_NO_DOCKER") != "1" and _docker_available():
        from testcontainers.postgres import PostgresContainer

        image = os.environ.get("PYSTREAM_TEST_IMAGE", "timescale/timescaledb:latest-pg15")
        with PostgresContainer(image, driver=None) as pg:
            dsn = (
                f"host={pg.get_container_host_ip()} port={pg.get_exposed_port(5432)} "
                f"user={pg.username} password={pg.password} dbname={pg.dbname}"
            )
            yield _probe(dsn, "container")
        return
    from pystream_migrate.localcluster import LocalCluster

    settings = {}
    if os.environ.get("PYSTREAM_TEST_LICENSE"):
        settings["timescaledb.license"] = f"'{os.environ['PYSTREAM_TEST_LICENSE']}'"
    with LocalCluster(settings=settings) as cluster:
        yield _probe(cluster.dsn(), "local")


_counter = itertools.count()


@pytest.fixture
def make_db(pg_server: Server) -> Iterator[Callable[..., str]]:
    """Create a fresh database; return its DSN. Every database made is dropped afterwards."""
    made: list[str] = []

    def make(prefix: str = "db", *, timescaledb: bool | str = False) -> str:
        """``timescaledb``: True for the suite's version, or a version string."""
        name = f"psm_{prefix}_{next(_counter)}_{uuid.uuid4().hex[:6]}"
        with psycopg.connect(pg_server.dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        made.append(name)
        dsn = pg_server.db_dsn(name)
        if timescaledb:
            version = pg_server.timescaledb_version if timescaledb is True else timescaledb
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute(sql.SQL("CREATE EXTENSION timescaledb VERSION {}").format(
                    sql.Literal(version)))
        return dsn

    yield make
    with psycopg.connect(pg_server.dsn, autocommit=True) as conn:
        for name in made:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture
def source_db(make_db: Callable[..., str]) -> str:
    """An empty source database with the timescaledb extension created."""
    return make_db("src", timescaledb=True)


@pytest.fixture
def target_db(make_db: Callable[..., str]) -> str:
    """An empty target database (no extensions)."""
    return make_db("tgt")
