"""The physical floor: what the server itself needs to move the benchmark dataset.

    python benchmarks/floor.py --dsn SUPERUSER_DSN --source DBNAME [--jobs N]

Measures, for the same tables pystream-migrate copies (every table and chunk that holds
rows; hypertable roots excluded), serially and on N connections:

dump side
- ``server COPY TO '/dev/null'``: the server's own COPY cost, no client, no network;
- ``psycopg COPY TO STDOUT``: the same through psycopg, bytes discarded (``for b in copy``);
- ``libpq loop``: the same with a bare ``pgconn.get_copy_data`` loop (serial only),
  the least a Python client can spend per row;

restore side (into a database that holds the pre-data schema only, made with
``pystream-migrate restore --section pre-data``)
- ``server COPY FROM file``: the server's own load cost;
- ``psycopg COPY FROM STDIN``: the same bytes written by psycopg in 1 MB pieces,
  autocommit, one statement per table;
- ``... + TRUNCATE + FREEZE + txn``: as pystream-migrate loads an entry (BEGIN; TRUNCATE;
  COPY FREEZE; COMMIT), without its resume record;
- ``post-data DDL``: every index and constraint of the source (pg_get_indexdef /
  pg_get_constraintdef), one autocommit statement each, on N connections;
- ``ANALYZE``: every loaded table, one statement each, on N connections.

Every figure is a wall time on this machine; compare them as ratios (see
docs/performance.md). Writes benchmarks/results/floor-LABEL.json when --out is given.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from pystream_migrate.connection import with_dbname  # noqa: E402

TABLES_SQL = """
SELECT n.nspname AS schema, c.relname AS name, c.oid::bigint AS oid,
       pg_catalog.pg_relation_size(c.oid) AS bytes
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r'
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', '_timescaledb_catalog',
                        '_timescaledb_config', '_timescaledb_cache', '_timescaledb_functions',
                        '_timescaledb_debug', 'timescaledb_information',
                        'timescaledb_experimental', 'toolkit_experimental')
  AND NOT EXISTS (SELECT 1 FROM _timescaledb_catalog.hypertable h
                  WHERE h.schema_name = n.nspname AND h.table_name = c.relname)
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d  -- extension members
                  WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid
                    AND d.deptype = 'e')
ORDER BY pg_catalog.pg_relation_size(c.oid) DESC, c.oid
"""

POST_DATA_SQL = """
WITH rels AS (
    SELECT c.oid FROM pg_catalog.pg_class c
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname IN ('bench', '_timescaledb_internal')
      AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                      WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid
                        AND d.deptype = 'e'))
SELECT 1 AS phase, format('ALTER TABLE ONLY %s ADD CONSTRAINT %I %s', con.conrelid::regclass,
                          con.conname, pg_catalog.pg_get_constraintdef(con.oid)) AS stmt
FROM pg_catalog.pg_constraint con JOIN rels ON rels.oid = con.conrelid
WHERE con.contype IN ('p', 'u')
UNION ALL
SELECT 2, pg_catalog.pg_get_indexdef(i.indexrelid)
FROM pg_catalog.pg_index i JOIN rels ON rels.oid = i.indrelid
WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint con WHERE con.conindid = i.indexrelid
                  AND con.contype IN ('p', 'u', 'x'))
UNION ALL
SELECT 3, format('ALTER TABLE ONLY %s ADD CONSTRAINT %I %s', con.conrelid::regclass,
                 con.conname, pg_catalog.pg_get_constraintdef(con.oid))
FROM pg_catalog.pg_constraint con JOIN rels ON rels.oid = con.conrelid
WHERE con.contype = 'f' AND con.conparentid = 0
  -- TimescaleDB checks a foreign key to a hypertable through its catalog, which this
  -- schema-only target lacks: such keys are left out (one in the benchmark dataset).
  AND NOT EXISTS (SELECT 1 FROM _timescaledb_catalog.hypertable h
                  WHERE format('%I.%I', h.schema_name, h.table_name)::regclass = con.confrelid)
ORDER BY 1, 2
"""


def log(msg: str) -> None:
    print(f"floor: {msg}", file=sys.stderr, flush=True)


def parallel(dsn: str, jobs: int, items: list[Any],
             work: Callable[[psycopg.Connection, Any], None], autocommit: bool = True) -> float:
    """Run ``work(conn, item)`` for every item on ``jobs`` connections; the wall time."""
    q: queue.Queue[Any] = queue.Queue()
    for it in items:
        q.put(it)
    errors: list[BaseException] = []
    conns = [psycopg.connect(dsn, autocommit=autocommit) for _ in range(jobs)]

    def run(conn: psycopg.Connection) -> None:
        try:
            while not errors:
                try:
                    it = q.get_nowait()
                except queue.Empty:
                    return
                work(conn, it)
        except BaseException as exc:
            errors.append(exc)

    started = time.monotonic()
    threads = [threading.Thread(target=run, args=(c,)) for c in conns]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - started
    for c in conns:
        c.close()
    if errors:
        raise errors[0]
    return wall


def qname(t: dict[str, Any]) -> sql.Identifier:
    return sql.Identifier(t["schema"], t["name"])


def measure(dsn: str, source_db: str, jobs: int, psm: list[str]) -> dict[str, Any]:
    source = with_dbname(dsn, source_db)
    with psycopg.connect(source, autocommit=True) as conn:
        cur = conn.cursor(row_factory=psycopg.rows.dict_row)
        tables = cur.execute(TABLES_SQL).fetchall()
        post = [r["stmt"] for r in cur.execute(POST_DATA_SQL).fetchall()]
        phases = [r["phase"] for r in cur.execute(POST_DATA_SQL).fetchall()]
    log(f"{len(tables)} tables with rows, {len(post)} post-data statements")
    out: dict[str, Any] = {"tables": len(tables), "post_data_statements": len(post),
                           "jobs": jobs, "seconds": {}}
    sec: dict[str, float] = out["seconds"]

    def record(name: str, wall: float) -> None:
        sec[name] = round(wall, 3)
        log(f"{name}: {wall:.2f}s")

    def server_copy_out(conn: psycopg.Connection, t: dict[str, Any]) -> None:
        conn.execute(sql.SQL("COPY {} TO '/dev/null'").format(qname(t)))

    for j in sorted({1, jobs}):
        record(f"dump: server COPY TO /dev/null -j {j}",
               parallel(source, j, tables, server_copy_out))

    def client_copy_out(conn: psycopg.Connection, t: dict[str, Any]) -> None:
        with conn.cursor() as cur, cur.copy(
                sql.SQL("COPY {} TO STDOUT").format(qname(t))) as copy:
            for _ in copy:
                pass

    for j in sorted({1, jobs}):
        record(f"dump: psycopg COPY TO STDOUT -j {j}",
               parallel(source, j, tables, client_copy_out))

    # A bare libpq loop: the least per-row cost a Python client can have.
    with psycopg.connect(source, autocommit=True) as conn:
        pg = conn.pgconn
        nbytes_total = 0
        started = time.monotonic()
        for t in tables:
            pg.send_query(sql.SQL("COPY {} TO STDOUT").format(qname(t)).as_bytes(conn))
            res = pg.get_result()
            assert res is not None
            while True:
                n, _data = pg.get_copy_data(0)
                if n < 0:
                    break
                nbytes_total += n
            while pg.get_result() is not None:
                pass
        record("dump: libpq get_copy_data loop -j 1", time.monotonic() - started)
        out["copy_bytes"] = nbytes_total

    # The bytes, in files the server can read, for the load side.
    tmp = Path(tempfile.mkdtemp(prefix="psm-floor-"))
    try:
        tmp.chmod(0o755)
        files: dict[int, Path] = {}
        with psycopg.connect(source, autocommit=True) as conn:
            for t in tables:
                path = tmp / f"{t['oid']}.copy"
                with open(path, "wb") as fh, conn.cursor() as cur, cur.copy(
                        sql.SQL("COPY {} TO STDOUT").format(qname(t))) as copy:
                    for data in copy:
                        fh.write(data)
                path.chmod(0o644)
                files[t["oid"]] = path
        load_side(dsn, source_db, jobs, tables, files, post, phases, psm, record)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    out["pystream_migrate"] = tool_reference(dsn, source_db, jobs, psm, record)
    return out


def tool_reference(dsn: str, source_db: str, jobs: int, psm: list[str],
                   record: Callable[[str, float], None]) -> dict[str, Any]:
    """pystream-migrate dump and restore right after the floor, split into phases."""
    import run as bench
    import scaling

    tmp = Path(tempfile.mkdtemp(prefix="psm-floor-tool-"))
    target_db = f"{source_db}_floor_tool"
    try:
        archive = tmp / "db.psm"
        d = bench.run_child("dump", [*psm, "dump", "-d", with_dbname(dsn, source_db), "-f",
                                     str(archive), "-j", str(jobs), "--progress", "none", "-v"])
        record(f"pystream-migrate dump -j {jobs}", d.wall_s)
        target = bench.recreate_db(dsn, target_db)
        r = bench.run_child("restore", [*psm, "restore", "-d", target, "-f", str(archive),
                                        "-j", str(jobs), "--progress", "none", "-v"])
        record(f"pystream-migrate restore -j {jobs} (exit {r.rc})", r.wall_s)
        result = {"dump_s": d.wall_s, "dump_phases": scaling.phases(d, scaling.DUMP_MARKS),
                  "restore_s": r.wall_s, "restore_rc": r.rc,
                  "restore_phases": scaling.phases(r, scaling.RESTORE_MARKS)}
        log(f"phases: {result}")
        return result
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        bench.drop_db(dsn, target_db)


def load_side(dsn: str, source_db: str, jobs: int, tables: list[dict[str, Any]],
              files: dict[int, Path], post: list[str], phases: list[int], psm: list[str],
              record: Callable[[str, float], None]) -> None:
    target_db = f"{source_db}_floor"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(target_db)))
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(
            sql.Identifier(target_db)))
    target = with_dbname(dsn, target_db)
    try:
        archive = Path(tempfile.mkdtemp(prefix="psm-floor-archive-")) / "schema.psm"
        try:
            subprocess.run([*psm, "dump", "-d", with_dbname(dsn, source_db), "-f",
                            str(archive), "--schema-only", "--progress", "none"], check=True)
            started = time.monotonic()
            subprocess.run([*psm, "restore", "-d", target, "-f", str(archive),
                            "--section", "pre-data", "--no-analyze", "--progress", "none"],
                           check=True)
            record("restore: pystream-migrate --section pre-data (reference)",
                   time.monotonic() - started)
        finally:
            shutil.rmtree(archive.parent, ignore_errors=True)

        def truncate_all() -> None:
            with psycopg.connect(target, autocommit=True) as conn:
                for i in range(0, len(tables), 500):
                    names = sql.SQL(", ").join(qname(t) for t in tables[i:i + 500])
                    conn.execute(sql.SQL("TRUNCATE {}").format(names))

        def server_copy_in(conn: psycopg.Connection, t: dict[str, Any]) -> None:
            conn.execute(sql.SQL("COPY {} FROM {}").format(
                qname(t), sql.Literal(str(files[t["oid"]]))))

        def client_copy_in(conn: psycopg.Connection, t: dict[str, Any]) -> None:
            with open(files[t["oid"]], "rb") as fh, conn.cursor() as cur, cur.copy(
                    sql.SQL("COPY {} FROM STDIN").format(qname(t))) as copy:
                while block := fh.read(1 << 20):
                    copy.write(block)

        def psm_style_in(conn: psycopg.Connection, t: dict[str, Any]) -> None:
            with conn.transaction():
                conn.execute(sql.SQL("TRUNCATE ONLY {}").format(qname(t)))
                with open(files[t["oid"]], "rb") as fh, conn.cursor() as cur, cur.copy(
                        sql.SQL("COPY {} FROM STDIN (FREEZE)").format(qname(t))) as copy:
                    while block := fh.read(1 << 20):
                        copy.write(block)

        for j in sorted({1, jobs}):
            record(f"restore data: server COPY FROM file -j {j}",
                   parallel(target, j, tables, server_copy_in))
            truncate_all()
        for j in sorted({1, jobs}):
            record(f"restore data: psycopg COPY FROM STDIN -j {j}",
                   parallel(target, j, tables, client_copy_in))
            truncate_all()
        record(f"restore data: psycopg BEGIN; TRUNCATE; COPY FREEZE; COMMIT -j {jobs}",
               parallel(target, jobs, tables, psm_style_in))

        def ddl(conn: psycopg.Connection, stmt: str) -> None:
            conn.execute(stmt)  # type: ignore[arg-type]

        # Post-data: keys first, then indexes, then foreign keys (each group parallel).
        # FKs that reference a hypertable need restoring mode off; this target is not in it.
        total = 0.0
        for phase in (1, 2, 3):
            stmts = [s for s, p in zip(post, phases, strict=True) if p == phase]
            total += parallel(target, jobs, stmts, ddl)
        record(f"restore post-data: DDL statements -j {jobs}", total)

        def analyze(conn: psycopg.Connection, t: dict[str, Any]) -> None:
            conn.execute(sql.SQL("ANALYZE {}").format(qname(t)))

        record(f"restore analyze: ANALYZE per table -j {jobs}",
               parallel(target, jobs, tables, analyze))
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(target_db)))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="the server's own COPY floor for the dataset")
    p.add_argument("--dsn", required=True, help="superuser DSN (any database)")
    p.add_argument("--source", required=True, help="database holding the generated dataset")
    p.add_argument("--jobs", type=int, default=max(2, os.cpu_count() or 2))
    p.add_argument("--out", help="write the figures as JSON to this file")
    a = p.parse_args(argv)
    py = ROOT / ".venv" / "bin" / "python"
    psm = [str(py if py.exists() else Path(sys.executable)), "-m", "pystream_migrate"]
    result = measure(a.dsn, a.source, a.jobs, psm)
    if a.out:
        Path(a.out).write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
