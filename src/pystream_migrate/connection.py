"""Opening connections: DSN handling, password masking and one-line connection errors.

libpq does the work: a conninfo string or URI, and the PG* environment variables,
~/.pgpass and service files all behave as they do for psql.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import psycopg
from psycopg import conninfo as _conninfo

from pystream_migrate.errors import ConnectionFailed, UsageError

APPLICATION_NAME = "pystream-migrate"

_PASSWORD_KV = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)
_PASSWORD_URI = re.compile(r"(postgres(?:ql)?://[^:/@\s]*:)([^@\s]*)(@)", re.IGNORECASE)


def mask_password(text: str) -> str:
    """Replace any password in a conninfo string, URI or message with ``***``."""
    text = _PASSWORD_KV.sub(r"\1***", text)
    return _PASSWORD_URI.sub(r"\1***\3", text)


def parse_dsn(dsn: str) -> dict[str, str]:
    """Parse a conninfo string or URI; raise a one-line :class:`UsageError` if it is malformed."""
    try:
        return {k: str(v) for k, v in _conninfo.conninfo_to_dict(dsn).items()
                if v is not None}
    except psycopg.ProgrammingError as exc:
        detail = mask_password(str(exc).splitlines()[0]) if str(exc) else "malformed"
        raise UsageError(
            f"invalid connection string: {detail}",
            hint="use 'host=... dbname=...' or 'postgresql://user@host:port/dbname'",
        ) from None


def describe_target(dsn: str) -> str:
    """A short description of where a DSN points (host:port/dbname), without secrets."""
    params = parse_dsn(dsn)
    import os

    host = params.get("host") or params.get("hostaddr") or os.environ.get("PGHOST") or "localhost"
    port = params.get("port") or os.environ.get("PGPORT") or "5432"
    dbname = params.get("dbname") or os.environ.get("PGDATABASE") or ""
    where = f"{host}:{port}" if not host.startswith("/") else f"{host} (socket, port {port})"
    return f"{where}/{dbname}" if dbname else where


def _explain(exc: psycopg.OperationalError, where: str) -> tuple[str, str | None]:
    raw = mask_password(str(exc))
    lines = [ln.strip() for ln in raw.splitlines() if ln.strip()]
    # libpq prefixes: 'connection failed: connection to server at "h" (ip), port p failed: X'
    detail = lines[-1] if lines else "unknown error"
    for ln in lines:
        m = re.search(r"failed:\s*(.+)$", ln)
        if m and m.group(1).strip():
            detail = m.group(1).strip()
    low = raw.lower()
    if "password authentication failed" in low or "authentication failed" in low:
        return (
            f"cannot log in to {where}: {detail}",
            "check the user name and password (PGPASSWORD or ~/.pgpass)",
        )
    if "no password supplied" in low:
        return (
            f"cannot log in to {where}: the server asks for a password and none was given",
            "set PGPASSWORD, add it to ~/.pgpass, or put password=... in the DSN",
        )
    if "does not exist" in low and "database" in low:
        return (f"cannot connect to {where}: {detail}", "check the dbname, or create the database")
    if "connection refused" in low:
        return (
            f"cannot connect to {where}: connection refused",
            "is the server running and accepting TCP connections on that host and port?",
        )
    if "could not translate host name" in low or "name or service not known" in low:
        return (f"cannot connect to {where}: unknown host name", "check the host in the DSN")
    if "timeout expired" in low or "timed out" in low:
        return (f"cannot connect to {where}: timed out", "check the host, port and firewall")
    return (f"cannot connect to {where}: {detail}", None)


def connect(dsn: str, *, autocommit: bool = False, **kwargs: Any) -> psycopg.Connection:
    """Connect, or raise a one-line :class:`ConnectionFailed` that names host and port."""
    where = describe_target(dsn)
    try:
        conn = psycopg.connect(
            dsn, autocommit=autocommit, application_name=APPLICATION_NAME, **kwargs
        )
    except psycopg.OperationalError as exc:
        message, hint = _explain(exc, where)
        raise ConnectionFailed(message, hint=hint) from None
    return conn


def with_dbname(dsn: str, dbname: str) -> str:
    """Return the DSN with its database name replaced."""
    params: Mapping[str, str] = parse_dsn(dsn)
    return _conninfo.make_conninfo(**{**params, "dbname": dbname})
