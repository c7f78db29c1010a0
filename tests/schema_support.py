"""Helpers for schema round-trip tests: read a TOC, apply its DDL, compare with pg_dump -s."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter

import psycopg
import pytest

from pystream_migrate.catalog import Catalog, read_catalog
from pystream_migrate.session import begin_snapshot, configure_reader, configure_writer
from pystream_migrate.toc import Section


def read_toc(dsn: str) -> Catalog:
    with psycopg.connect(dsn) as conn:
        configure_reader(conn)
        begin_snapshot(conn)
        catalog = read_catalog(conn)
        conn.rollback()
    return catalog


def apply_schema(dsn: str, catalog: Catalog, *, owners: bool = False,
                 privileges: bool = True) -> None:
    """Run every pre-data and post-data statement of the TOC, in order, on ``dsn``."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        configure_writer(conn)
        for entry in catalog.entries:
            if entry.section is Section.DATA:
                continue
            parts = [entry.create_sql]
            if owners:
                parts.append(entry.owner_sql)
            if privileges:
                parts.append(entry.acl_sql)
            parts.append(entry.comment_sql)
            for stmt in parts:
                if stmt.strip():
                    try:
                        conn.execute(stmt)  # type: ignore[arg-type]
                    except psycopg.Error as exc:
                        raise AssertionError(
                            f"{entry.label} failed: {exc}\n--- SQL:\n{stmt}"
                        ) from exc


def pg_dump_schema(dsn: str, *, privileges: bool = False) -> Counter[str]:
    """The statements of ``pg_dump -s --no-owner`` (as a multiset), for an oracle check."""
    if shutil.which("pg_dump") is None:
        pytest.skip("pg_dump is not installed: the schema oracle needs it")
    args = ["pg_dump", "-s", "--no-owner", "-d", dsn]
    if not privileges:
        args.append("--no-privileges")
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    statements: Counter[str] = Counter()
    for stmt in re.split(r";\n", out):
        # \restrict / \unrestrict (pg_dump >= 15.14) carry a random key on every run.
        lines = [ln for ln in stmt.splitlines()
                 if ln.strip() and not ln.startswith(("--", "\\restrict", "\\unrestrict"))]
        text = "\n".join(lines).strip()
        if not text or text.startswith(("SET ", "SELECT pg_catalog.set_config")):
            continue
        statements[text] += 1
    return statements


def assert_same_schema(source_dsn: str, target_dsn: str, *, privileges: bool = False) -> None:
    src = pg_dump_schema(source_dsn, privileges=privileges)
    tgt = pg_dump_schema(target_dsn, privileges=privileges)
    missing = src - tgt
    extra = tgt - src
    msg = []
    if missing:
        msg.append("missing on target:\n" + "\n;\n".join(sorted(missing)))
    if extra:
        msg.append("extra on target:\n" + "\n;\n".join(sorted(extra)))
    assert not missing and not extra, "\n\n".join(msg)
