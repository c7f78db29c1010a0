"""What a portable dump reads from the source: hypertables, chunks, caggs and jobs.

Each fact comes from one ``catalog/sql/portable_*.sql`` query, run in the dump's
snapshot; columns that differ between TimescaleDB versions are read through
``to_jsonb`` in the SQL, so one query serves 2.17 to 2.28.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import psycopg

from pystream_migrate.catalog.queries import fetch_all
from pystream_migrate.errors import PreconditionFailed


@dataclass
class SourceFacts:
    """TimescaleDB's objects on the source, keyed by the relation's oid there."""

    hypertables: dict[int, dict[str, Any]] = field(default_factory=dict)
    chunks: dict[int, dict[str, Any]] = field(default_factory=dict)
    caggs: list[dict[str, Any]] = field(default_factory=list)  # parents first
    jobs: list[dict[str, Any]] = field(default_factory=list)

    def cagg_of_mat(self) -> dict[int, dict[str, Any]]:
        return {int(c["mat_relid"]): c for c in self.caggs}


def read_source(conn: psycopg.Connection) -> SourceFacts:
    """Read every fact a portable archive records (in the caller's snapshot)."""
    facts = SourceFacts()
    for h in fetch_all(conn, "portable_hypertables"):
        facts.hypertables[int(h["relid"])] = h
    for c in fetch_all(conn, "portable_chunks"):
        if c["slices"] is None:
            continue  # a chunk without constraints (never seen); nothing to recreate
        facts.chunks[int(c["relid"])] = c
    caggs = fetch_all(conn, "portable_caggs")
    old = [c for c in caggs if not c["finalized"]]
    if old:
        names = ", ".join(f"{c['schema']}.{c['name']}" for c in old)
        raise PreconditionFailed(
            f"continuous aggregate {names} uses the old partial format, which newer "
            "TimescaleDB versions cannot create",
            hint="migrate it on the source first: CALL cagg_migrate('<view>'), then dump again",
        )
    for c in caggs:
        c["pending"] = [json.loads(p) for p in c["pending"]]
        c["pending_raw"] = [json.loads(p) for p in c["pending_raw"]]
    facts.caggs = _parents_first(caggs)
    facts.jobs = fetch_all(conn, "portable_jobs")
    return facts


def _parents_first(caggs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Order continuous aggregates so that each comes after the one it is built on."""
    by_mat = {int(c["mat_relid"]): c for c in caggs}
    done: set[int] = set()
    order: list[dict[str, Any]] = []

    def visit(c: dict[str, Any]) -> None:
        if int(c["mat_relid"]) in done:
            return
        parent = by_mat.get(int(c["raw_relid"]))
        if parent is not None:
            visit(parent)
        done.add(int(c["mat_relid"]))
        order.append(c)

    for c in caggs:
        visit(c)
    return order
