"""The command line as a user meets it: help, version, and one-line errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pystream_migrate import __version__


def run_cli(*args: str, input: bytes | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pystream_migrate", *args],
        capture_output=True, text=True, timeout=120, check=False,
        input=input.decode() if input is not None else None,
    )


@pytest.mark.parametrize("sub", [[], ["dump"], ["restore"], ["list"], ["verify"], ["demo"]])
def test_help_prints_usage(sub: list[str]) -> None:
    res = run_cli(*sub, "--help")
    assert res.returncode == 0
    assert res.stdout.startswith("usage: pystream-migrate")
    if sub in (["dump"], ["restore"]):
        assert "--dbname" in res.stdout and "--jobs" in res.stdout and "--file" in res.stdout


def test_version() -> None:
    res = run_cli("--version")
    assert res.returncode == 0
    assert res.stdout.strip() == f"pystream-migrate {__version__}"


def test_unreachable_host_is_one_line_without_password() -> None:
    res = run_cli("dump", "-d", "host=127.0.0.1 port=1 password=secret", "-f", "x")
    assert res.returncode == 3
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert "127.0.0.1:1" in lines[0]
    assert "connection refused" in lines[0]
    assert "secret" not in res.stderr + res.stdout
    assert "Traceback" not in res.stderr


def test_uri_password_is_masked_in_errors() -> None:
    res = run_cli("dump", "-d", "postgresql://bob:hunter2@127.0.0.1:1/db", "-f", "x")
    assert res.returncode == 3
    assert "hunter2" not in res.stderr + res.stdout
    assert len(res.stderr.strip().splitlines()) == 1


def test_malformed_dsn_is_a_usage_error() -> None:
    res = run_cli("dump", "-d", "host=127.0.0.1 port=1 password='secret", "-f", "x")
    assert res.returncode == 2
    assert "invalid connection string" in res.stderr
    assert "secret" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_bad_jobs_value_is_rejected() -> None:
    res = run_cli("dump", "-d", "dbname=x", "-f", "x", "-j", "0")
    assert res.returncode == 2
    assert "--jobs" in res.stderr or "-j" in res.stderr


def test_unknown_role_is_one_line(pg_server) -> None:  # type: ignore[no-untyped-def]
    from pystream_migrate.connection import parse_dsn

    params = parse_dsn(pg_server.dsn)
    dsn = f"host={params.get('host', '127.0.0.1')} port={params.get('port', '5432')} " \
          "user=no_such_role password=topsecret dbname=postgres"
    res = run_cli("dump", "-d", dsn, "-f", "x")
    assert res.returncode == 3
    assert len(res.stderr.strip().splitlines()) == 1
    assert "no_such_role" in res.stderr
    assert "topsecret" not in res.stderr


def test_demo_runs_and_cleans_up(pg_server) -> None:  # type: ignore[no-untyped-def]
    import re
    import socket

    res = run_cli("demo")
    assert res.returncode == 0, res.stderr
    assert "verify: source and target match" in res.stderr
    assert "the server and its data are removed" in res.stderr
    port = int(re.search(r"server on 127\.0\.0\.1:(\d+)", res.stderr).group(1))  # type: ignore[union-attr]
    with socket.socket() as s, pytest.raises(ConnectionRefusedError):
        s.connect(("127.0.0.1", port))  # the demo's server is gone
