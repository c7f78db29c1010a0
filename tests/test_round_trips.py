"""Round trips: a dump's waits for the server do not grow with the number of tables.

Against a distant server each request/response turn costs the round-trip time; the
dump sends its small tables many to a query. The turns are counted by the benchmarks'
delay proxy (benchmarks/delayproxy.py) at zero delay.
"""

from __future__ import annotations

import sys
from pathlib import Path

import psycopg
from psycopg import conninfo

from tests.migrate_support import dump, restore

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from delayproxy import DelayProxy


def _tables(dsn: str, first: int, last: int) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("".join(f"CREATE TABLE public.t{i} (id int PRIMARY KEY, v text);"
                             f"INSERT INTO public.t{i} VALUES ({i}, 'x');"
                             for i in range(first, last)))


def _dump_turns(dsn: str, path: Path) -> int:
    params = conninfo.conninfo_to_dict(dsn)
    with DelayProxy(int(params.get("port") or 5432), 0.0, max_seconds=300) as proxy:
        dump(conninfo.make_conninfo(**{**params, "host": "127.0.0.1",
                                       "port": str(proxy.port)}), path, "-j", "2")
        return proxy.counts.turns


def test_dump_round_trips_do_not_grow_with_the_tables(source_db: str, tmp_path: Path) -> None:
    _tables(source_db, 0, 20)
    few = _dump_turns(source_db, tmp_path / "few.psm")
    _tables(source_db, 20, 400)
    many = _dump_turns(source_db, tmp_path / "many.psm")
    # 380 more tables (and their indexes): a few more scripts, not a wait per table
    # (batches of 32 with four waits each made that 48 more).
    assert many - few <= 8, (few, many)


def _chunks(dsn: str, hours: int) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS public.h (ts timestamptz NOT NULL, v int);"
                     "SELECT create_hypertable('public.h', 'ts', if_not_exists => true, "
                     "chunk_time_interval => interval '1 hour')")
        conn.execute("TRUNCATE public.h")
        conn.execute("INSERT INTO public.h SELECT timestamptz '2024-01-01' + g * interval "
                     "'20 minutes', g FROM generate_series(0, %s) g", (3 * hours - 1,))


def _restore_turns(make_db, archive: Path) -> int:  # type: ignore[no-untyped-def]
    target = make_db("tgt")
    params = conninfo.conninfo_to_dict(target)
    with DelayProxy(int(params.get("port") or 5432), 0.0, max_seconds=300) as proxy:
        restore(conninfo.make_conninfo(**{**params, "host": "127.0.0.1",
                                          "port": str(proxy.port)}), archive, "-j", "2")
        return proxy.counts.turns


def test_restore_round_trips_barely_grow_with_the_chunks(  # type: ignore[no-untyped-def]
        make_db, tmp_path: Path) -> None:
    source = make_db("src", timescaledb=True)
    _chunks(source, 20)
    dump(source, tmp_path / "few.psm")
    _chunks(source, 260)
    dump(source, tmp_path / "many.psm")
    few = _restore_turns(make_db, tmp_path / "few.psm")
    many = _restore_turns(make_db, tmp_path / "many.psm")
    # 240 more chunks (data, an index and an ANALYZE each): a few more batches. One
    # COPY per chunk in its own transaction made that 2.7 turns per chunk (650 more).
    assert many - few <= 40, (few, many)
