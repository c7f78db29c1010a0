"""Everything TimescaleDB-specific in one place.

- what the source has (version, license edition, hypertables and chunks);
- annotating the TOC so that restore knows chunks from hypertable roots;
- restoring mode on the target: ``timescaledb_pre_restore()`` and
  ``timescaledb_post_restore()``, and the version rules between source and target.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from pystream_migrate.catalog.queries import fetch_all
from pystream_migrate.errors import PreconditionFailed
from pystream_migrate.toc import TocEntry


@dataclass(frozen=True)
class TimescaleInfo:
    version: str | None  # installed extension version, None when not installed
    license: str | None  # 'apache' or 'timescale'
    schema: str | None  # schema the extension lives in


def extension_info(conn: psycopg.Connection) -> TimescaleInfo:
    row = conn.execute(
        "SELECT e.extversion, n.nspname FROM pg_catalog.pg_extension e "
        "JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace "
        "WHERE e.extname = 'timescaledb'"
    ).fetchone()
    if row is None:
        return TimescaleInfo(None, None, None)
    lic = conn.execute("SELECT pg_catalog.current_setting('timescaledb.license', true)").fetchone()
    return TimescaleInfo(str(row[0]), lic[0] if lic else None, str(row[1]))


def relation_roles(conn: psycopg.Connection, info: TimescaleInfo) -> dict[int, dict[str, Any]]:
    """relid -> {'role': 'hypertable'|'chunk', 'hypertable_id', 'hypertable_relid'}."""
    if info.version is None:
        return {}
    return {int(r["relid"]): r for r in fetch_all(conn, "timescale_relations")}


def annotate(entries: list[TocEntry], roles: dict[int, dict[str, Any]]) -> list[TocEntry]:
    """Mark chunk data entries and drop the data entries of hypertable roots.

    A hypertable root's own heap is always empty (TimescaleDB routes rows to chunks), and
    in restoring mode nothing may be loaded into it, so its data entry is left out.
    """
    kept: list[TocEntry] = []
    for e in entries:
        relid = e.info.get("relid") if e.copy is not None else e.info.get("oid")
        role = None
        if relid is not None and not e.info.get("extconfig") and e.kind in ("TABLE",
                                                                            "TABLE DATA"):
            role = roles.get(int(relid))
        if role is not None:
            if role["role"] == "hypertable":
                if e.copy is not None:
                    continue
                e.info["hypertable"] = True
            else:
                e.info["chunk"] = True
                e.info["hypertable_relid"] = role["hypertable_relid"]
        kept.append(e)
    return kept


def check_versions(source_version: str | None, target: TimescaleInfo) -> None:
    """A catalog-level restore needs the same TimescaleDB version on both sides."""
    if source_version is None:
        return
    if target.version is None:
        return  # restore creates the extension; checked again afterwards
    if target.version != source_version:
        older = "target" if _vkey(target.version) < _vkey(source_version) else "source"
        raise PreconditionFailed(
            f"TimescaleDB version mismatch: the archive was dumped from {source_version}, "
            f"the target has {target.version}",
            hint=(
                f"the archive restores only into TimescaleDB {source_version}; run "
                "'ALTER EXTENSION timescaledb UPDATE' on the "
                f"{older} (then dump again if it was the source)"
            ),
        )


def _vkey(version: str) -> tuple[int, ...]:
    parts = []
    for p in version.split("-")[0].split("."):
        parts.append(int(p) if p.isdigit() else 0)
    return tuple(parts)


def available_version(conn: psycopg.Connection) -> str | None:
    row = conn.execute(
        "SELECT default_version FROM pg_catalog.pg_available_extensions "
        "WHERE name = 'timescaledb'"
    ).fetchone()
    return str(row[0]) if row else None


def available_versions(conn: psycopg.Connection) -> list[str]:
    rows = conn.execute(
        "SELECT version FROM pg_catalog.pg_available_extension_versions "
        "WHERE name = 'timescaledb'"
    ).fetchall()
    return sorted((str(r[0]) for r in rows), key=_vkey)


def pre_restore(conn: psycopg.Connection, schema: str) -> None:
    """Put the target database into restoring mode (only new connections see it)."""
    try:
        conn.execute(
            sql.SQL("SELECT {}.timescaledb_pre_restore()").format(sql.Identifier(schema))
        )
    except psycopg.errors.InsufficientPrivilege as exc:
        raise PreconditionFailed(
            f"timescaledb_pre_restore() was refused: {exc.diag.message_primary}",
            hint="restore as a superuser, or on Timescale Cloud as tsdbadmin, the role "
            "that may run timescaledb_pre_restore()",
        ) from None


def post_restore(conn: psycopg.Connection, schema: str) -> None:
    """Take the target out of restoring mode and restart background workers."""
    conn.execute(sql.SQL("SELECT {}.timescaledb_post_restore()").format(sql.Identifier(schema)))


def restoring(conn: psycopg.Connection) -> bool:
    row = conn.execute(
        "SELECT pg_catalog.current_setting('timescaledb.restoring', true)"
    ).fetchone()
    return bool(row and row[0] == "on")
