"""Fixtures: a real PostgreSQL + TimescaleDB server, and fresh databases for each test.

The server comes from, in order of preference:
1. ``PYSTREAM_TEST_DSN`` (a superuser DSN; databases are created and dropped on it);
2. testcontainers (image ``timescale/timescaledb``) when a Docker engine answers;
3. a throwaway local cluster (see ``pystream_migrate.localcluster``).
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
    timescaledb_version: str  # the default version of the installed extension
    license: str  # 'apache' or 'timescale'
    origin: str  # 'env', 'container' or 'local'

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


def _probe(dsn: str, origin: str) -> Server:
    with psycopg.connect(dsn, autocommit=True) as conn:
        version = conn.info.server_version
        row = conn.execute(
            "SELECT default_version FROM pg_available_extensions WHERE name = 'timescaledb'"
        ).fetchone()
        if row is None:
            pytest.exit(f"the test server ({origin}) has no TimescaleDB extension available", 2)
        preload = conn.execute("SHOW shared_preload_libraries").fetchone()[0]
        if "timescaledb" not in preload:
            pytest.exit(f"the test server ({origin}) does not preload timescaledb", 2)
        probe_db = f"psm_probe_{uuid.uuid4().hex[:8]}"
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(probe_db)))
    try:
        with psycopg.connect(with_dbname(dsn, probe_db), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION timescaledb")
            lic = conn.execute("SELECT current_setting('timescaledb.license')").fetchone()[0]
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(probe_db)))
    return Server(dsn, version, row[0], lic, origin)


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

    with LocalCluster() as cluster:
        yield _probe(cluster.dsn(), "local")


_counter = itertools.count()


@pytest.fixture
def make_db(pg_server: Server) -> Iterator[Callable[..., str]]:
    """Create a fresh database; return its DSN. Every database made is dropped afterwards."""
    made: list[str] = []

    def make(prefix: str = "db", *, timescaledb: bool = False) -> str:
        name = f"psm_{prefix}_{next(_counter)}_{uuid.uuid4().hex[:6]}"
        with psycopg.connect(pg_server.dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        made.append(name)
        dsn = pg_server.db_dsn(name)
        if timescaledb:
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute("CREATE EXTENSION timescaledb")
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
