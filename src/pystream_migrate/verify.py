"""``verify``: check an archive's checksums, or compare a migrated target with its source.

The database comparison reads each table on its own (chunks one by one, never through
their hypertable, so it never locks every chunk at once) and compares row counts and an
order-independent content fingerprint; then sequence values and TimescaleDB's view of
hypertables, dimensions and chunks.
"""

from __future__ import annotations

import argparse
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import psycopg
from psycopg import sql

from pystream_migrate.archive import ArchiveReader
from pystream_migrate.catalog.queries import fetch_all
from pystream_migrate.connection import connect
from pystream_migrate.errors import DifferencesFound, UsageError
from pystream_migrate.session import configure_reader

# Sum of a 60-bit slice of each row's md5: independent of row order, sensitive to
# every value (the row's text form), summed as numeric so it cannot overflow.
_FINGERPRINT = (
    "SELECT count(*), coalesce(sum(('x' || substr(md5(x::text), 1, 15))::bit(60)::bigint), 0)"
    " FROM ONLY {} AS x"
)


@dataclass(frozen=True)
class TableFingerprint:
    rows: int
    digest: int


def _reader(dsn: str) -> psycopg.Connection:
    conn = connect(dsn)
    configure_reader(conn)
    conn.execute("SET TimeZone = 'UTC'")
    conn.commit()
    return conn


def _fingerprint(conn: psycopg.Connection, schema: str, name: str,
                 where: str | None) -> TableFingerprint:
    query = sql.SQL(_FINGERPRINT).format(sql.Identifier(schema, name))
    if where:
        query = sql.SQL("{} WHERE {}").format(query, sql.SQL(where))
    row = conn.execute(query).fetchone()
    conn.rollback()
    assert row is not None
    return TableFingerprint(int(row[0]), int(row[1]))


def database_fingerprints(dsn: str, jobs: int = 2) -> dict[str, TableFingerprint]:
    """``schema.table`` -> fingerprint for every table a migration carries."""
    with _reader(dsn) as conn:
        tables = fetch_all(conn, "verify_tables")
    result: dict[str, TableFingerprint] = {}

    def work(part: list[dict[str, str]]) -> dict[str, TableFingerprint]:
        out = {}
        with _reader(dsn) as c:
            for t in part:
                out[f"{t['schema']}.{t['name']}"] = _fingerprint(c, t["schema"], t["name"],
                                                                  t["filter"])
        return out

    parts = [tables[i::jobs] for i in range(jobs)]
    with ThreadPoolExecutor(jobs) as pool:
        for part in pool.map(work, parts):
            result.update(part)
    return result


def sequence_values(dsn: str) -> dict[str, tuple[int, bool]]:
    with _reader(dsn) as conn:
        out = {}
        for s in fetch_all(conn, "verify_sequences"):
            row = conn.execute(
                sql.SQL("SELECT last_value, is_called FROM {}").format(
                    sql.Identifier(s["schema"], s["name"]))
            ).fetchone()
            assert row is not None
            out[f"{s['schema']}.{s['name']}"] = (int(row[0]), bool(row[1]))
        return out


def timescale_state(dsn: str) -> list[tuple[str, str]]:
    with _reader(dsn) as conn:
        has = conn.execute(
            "SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'timescaledb'"
        ).fetchone()
        if not has:
            return []
        return [(r["what"], r["item"]) for r in fetch_all(conn, "verify_timescale")]


def compare_databases(source: str, target: str, jobs: int = 2) -> list[str]:
    """Every difference between source and target, one line each; empty when equal."""
    diffs: list[str] = []
    src, tgt = database_fingerprints(source, jobs), database_fingerprints(target, jobs)
    for name in sorted(src.keys() | tgt.keys()):
        a, b = src.get(name), tgt.get(name)
        if a is None:
            diffs.append(f"table {name}: only on the target ({b.rows if b else 0} rows)")
        elif b is None:
            diffs.append(f"table {name}: missing on the target ({a.rows} rows on the source)")
        elif a.rows != b.rows:
            diffs.append(f"table {name}: {a.rows} rows on the source, {b.rows} on the target")
        elif a.digest != b.digest:
            diffs.append(f"table {name}: same row count ({a.rows}) but different content")
    sa, sb = sequence_values(source), sequence_values(target)
    for name in sorted(sa.keys() | sb.keys()):
        if sa.get(name) != sb.get(name):
            diffs.append(f"sequence {name}: {sa.get(name)} on the source, "
                         f"{sb.get(name)} on the target")
    ta, tb = set(timescale_state(source)), set(timescale_state(target))
    for what, item in sorted(ta - tb):
        diffs.append(f"timescaledb {what} missing on the target: {item}")
    for what, item in sorted(tb - ta):
        diffs.append(f"timescaledb {what} only on the target: {item}")
    return diffs


def run_verify(args: argparse.Namespace) -> int:
    if args.file and (args.source or args.target):
        raise UsageError("give either an archive FILE or --source and --target, not both")
    if args.file:
        with ArchiveReader.open(args.file) as reader:
            stats = reader.verify()
        rows = sum(s.rows for s in stats.values())
        print(f"archive {args.file}: OK, {len(reader.toc)} entries, {len(stats)} with data, "
              f"{rows} rows; every checksum matches")
        return 0
    if not (args.source and args.target):
        raise UsageError("verify needs an archive FILE, or both --source and --target")
    diffs = compare_databases(args.source, args.target)
    for line in diffs:
        print(line)
    if diffs:
        raise DifferencesFound(f"{len(diffs)} differences between source and target")
    print("source and target match: every table's rows and content, sequences, and "
          "TimescaleDB's hypertables, dimensions and chunks", file=sys.stderr)
    return 0
