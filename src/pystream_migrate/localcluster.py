"""A throwaway local PostgreSQL cluster with TimescaleDB preloaded.

Used by the test suite and by ``pystream-migrate demo``. initdb and pg_ctl run as an
unprivileged OS user (the ``postgres`` user when we are root), in a temporary directory,
on a free TCP port on 127.0.0.1, with trust authentication for local connections only.
``stop()`` shuts the server down and removes the directory.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pystream_migrate.errors import PreconditionFailed

SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "shared_preload_libraries": "'timescaledb'",
    "timescaledb.telemetry_level": "off",
    "max_connections": "100",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "shared_buffers": "256MB",
    "max_wal_size": "4GB",
    "log_min_messages": "warning",
    "timescaledb.max_background_workers": "4",
    "max_worker_processes": "16",
}


def find_bindir() -> Path:
    """The bin directory of the newest PostgreSQL that has TimescaleDB installed."""
    explicit = os.environ.get("PYSTREAM_PG_BINDIR")
    if explicit:
        return Path(explicit)
    candidates = []
    for initdb in glob.glob("/usr/lib/postgresql/*/bin/initdb"):
        version = Path(initdb).parent.parent.name
        if glob.glob(f"/usr/share/postgresql/{version}/extension/timescaledb.control"):
            candidates.append((int(version) if version.isdigit() else 0, Path(initdb).parent))
    if not candidates:
        raise PreconditionFailed(
            "no PostgreSQL server with the TimescaleDB extension is installed here",
            hint="run scripts/install-server.sh, or set PYSTREAM_PG_BINDIR",
        )
    return max(candidates)[1]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LocalCluster:
    """Start with :meth:`start`, stop with :meth:`stop` (or use it as a context manager)."""

    settings: dict[str, str] = field(default_factory=dict)
    bindir: Path | None = None
    # Authentication over TCP; "trust" needs no password. With "scram-sha-256", set one
    # through the Unix socket (always trusted) with set_password().
    host_auth: str = "trust"
    port: int = 0
    datadir: Path | None = None
    _root: Path | None = None
    _user: str | None = None

    @property
    def user(self) -> str:
        return "postgres"

    def dsn(self, dbname: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.port} user={self.user} dbname={dbname}"

    def _run(self, args: list[str]) -> subprocess.CompletedProcess[str]:
        kwargs: dict[str, Any] = {}
        if os.geteuid() == 0:
            try:
                pw = pwd.getpwnam(self._user or "postgres")
            except KeyError:
                raise PreconditionFailed(
                    "running as root and there is no 'postgres' OS user to run the server as",
                    hint="create one with 'useradd --system postgres'",
                ) from None
            kwargs = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}
        return subprocess.run(
            args, capture_output=True, text=True, check=False, cwd="/", **kwargs
        )

    def start(self) -> LocalCluster:
        self.bindir = self.bindir or find_bindir()
        self._root = Path(tempfile.mkdtemp(prefix="pystream-pg-"))
        self.datadir = self._root / "data"
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self._root, pw.pw_uid, pw.pw_gid)
        self._root.chmod(0o700)
        res = self._run(
            [
                str(self.bindir / "initdb"),
                "-D", str(self.datadir),
                "-U", self.user,
                "--auth-local=trust",
                f"--auth-host={self.host_auth}",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ]
        )
        if res.returncode != 0:
            self._cleanup()
            raise PreconditionFailed(f"initdb failed: {res.stderr.strip().splitlines()[-1:]}")
        self.port = self.port or free_port()
        conf = {**SETTINGS, "port": str(self.port),
                "unix_socket_directories": f"'{self._root}'", **self.settings}
        with open(self.datadir / "postgresql.auto.conf", "a", encoding="utf-8") as fh:
            for key, value in conf.items():
                fh.write(f"{key} = {value}\n")
        res = self._run(
            [str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-w", "-t", "60",
             "-l", str(self._root / "server.log"), "start"]
        )
        if res.returncode != 0:
            log = (self._root / "server.log").read_text(errors="replace")[-2000:]
            self._cleanup()
            raise PreconditionFailed(f"the local PostgreSQL server did not start: {log.strip()}")
        return self

    def set_password(self, password: str) -> None:
        """Give the superuser a password, over the Unix socket (trusted)."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(host=str(self._root), port=self.port, user=self.user,
                             dbname="postgres", autocommit=True) as conn:
            conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                sql.Identifier(self.user), sql.Literal(password)))

    def stop(self) -> None:
        if self.datadir and self.datadir.exists() and self.bindir is not None:
            self._run([str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "fast",
                       "-w", "stop"])
        self._cleanup()

    def _cleanup(self) -> None:
        if self._root and self._root.exists():
            shutil.rmtree(self._root, ignore_errors=True)
        self._root = None

    def __enter__(self) -> LocalCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
