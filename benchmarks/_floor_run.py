"""The floor process of dump_floor.py: ``_floor_run.py DSN PLAN.json JOBS [--toc]``.

Prints the seconds it spent reading PLAN.json (dump_floor.py takes them off its time).
Imports nothing of pystream_migrate: a floor pays for no code of the dump's own.
"""

from __future__ import annotations

import json
import os
import queue
import select
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import zstandard
from psycopg import pq

SQL = Path(__file__).resolve().parent.parent / "src" / "pystream_migrate" / "catalog" / "sql"
BATCH, GROUP = 32, 32  # the dump's DUMP_BATCH_ENTRIES and GROUP_BATCHES


def quote(*names: str) -> str:
    return ".".join('"' + n.replace('"', '""') + '"' for n in names)


def query(conn: psycopg.Connection, name: str, **params: object) -> psycopg.Cursor:
    cur = conn.cursor()
    cur.execute((SQL / f"{name}.sql").read_text(),
                {"server_version": conn.info.server_version, **params})
    return cur


def _wait(pgconn: pq.abc.PGconn) -> None:
    select.select([pgconn.socket], [], [])
    pgconn.consume_input()


def _result(pgconn: pq.abc.PGconn) -> pq.abc.PGresult | None:
    while pgconn.is_busy():
        _wait(pgconn)
    return pgconn.get_result()


def run_script(conn: psycopg.Connection, statements: list[str]) -> None:
    """Statements as one query; COPY TO STDOUT data read (libpq, not blocking) and dropped."""
    pgconn = conn.pgconn
    pgconn.send_query(";\n".join(statements).encode())
    while pgconn.flush():
        select.select([], [pgconn.socket], [])
    while (res := _result(pgconn)) is not None:
        if res.status == pq.ExecStatus.COPY_OUT:
            while (n := pgconn.get_copy_data(1)[0]) >= 0:
                if n == 0:
                    _wait(pgconn)
        elif res.status not in (pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK):
            raise RuntimeError(res.error_message.decode())


def copy_of(spec: list) -> str:
    schema, table, columns, where, binary = spec
    names = ", ".join(quote(c) for c in columns)
    opt = " (FORMAT binary)" if binary else ""
    if where:
        return (f"COPY (SELECT {names} FROM ONLY {quote(schema, table)} WHERE {where}) "
                f"TO STDOUT{opt}")
    return f"COPY {quote(schema, table)}{f' ({names})' if columns else ''} TO STDOUT{opt}"


def worker(conn: psycopg.Connection, snapshot: str, work: queue.Queue, jobs: int) -> None:
    run_script(conn, ["ROLLBACK"])
    while True:
        limit = max(1, min(GROUP, work.qsize() // (BATCH * jobs)))
        script: list[str] = []
        for _ in range(limit):
            batch = []
            while len(batch) < BATCH:
                try:
                    batch.append(work.get_nowait())
                except queue.Empty:
                    break
            if not batch:
                break
            script += ["BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
                       f"SET TRANSACTION SNAPSHOT '{snapshot}'",
                       "LOCK TABLE " + ", ".join(f"ONLY {quote(s[0], s[1])}" for s in batch)
                       + " IN ACCESS SHARE MODE",
                       *map(copy_of, batch), "ROLLBACK"]
        if not script:
            return
        run_script(conn, script)


def encode_toc(docs: list[dict]) -> int:
    """The TOC as the writer encodes it: JSON 256 documents at a time, zstd level 1."""
    cobj = zstandard.ZstdCompressor(level=1).compressobj()
    out = 0
    for i in range(0, len(docs), 256):
        out += len(cobj.compress(json.dumps(docs[i:i + 256], separators=(",", ":"),
                                            ensure_ascii=False).encode()))
    return out + len(cobj.flush())


def main() -> None:
    dsn, plan_path, jobs = sys.argv[1], sys.argv[2], int(sys.argv[3])
    t0 = time.perf_counter()
    plan = json.loads(Path(plan_path).read_text())
    load = time.perf_counter() - t0
    pool = ThreadPoolExecutor(jobs + 1)
    # No JIT, as the dump (and pg_dump) read the catalog: compiling the catalog queries
    # takes longer than running them.
    opening = [pool.submit(psycopg.connect, dsn, autocommit=True, options="-c jit=off")
               for _ in range(jobs + 1)]
    leader, *helpers = (f.result() for f in opening)
    leader.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
    snapshot = leader.execute("SELECT pg_catalog.pg_export_snapshot()").fetchone()[0]
    for h in helpers:
        h.execute(f"BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; "
                  f"SET TRANSACTION SNAPSHOT '{snapshot}'")
    heavy: queue.Queue = queue.Queue()
    for name in plan["heavy"]:
        heavy.put(name)

    def helper(conn: psycopg.Connection) -> None:
        while True:
            try:
                name = heavy.get_nowait()
            except queue.Empty:
                return
            with query(conn, name) as cur:
                cur.fetchall()

    running = [pool.submit(helper, h) for h in helpers]
    leader.execute("SELECT current_database(), current_setting('server_version')").fetchall()
    query(leader, "timescale_relations").fetchall()
    names = [r[1] for r in query(leader, "lockable_tables", skip=[]).fetchall()]
    for i in range(0, len(names), 500):
        leader.execute("LOCK TABLE " + ", ".join(f"ONLY {n}" for n in names[i:i + 500])
                       + " IN ACCESS SHARE MODE")
    with leader.pipeline():
        cursors = [query(leader, name) for name in plan["leader"]]
    for cur in cursors:
        cur.fetchall()
    for f in running:
        f.result()
    child = 0
    if "--toc" in sys.argv:
        t1 = time.perf_counter()
        docs = json.loads(Path(plan_path).read_text())["toc"]
        load += time.perf_counter() - t1
        child = os.fork()
        if child == 0:
            encode_toc(docs)
            os._exit(0)
    work: queue.Queue = queue.Queue()
    for spec in plan["copies"]:
        work.put(spec)
    copying = [pool.submit(worker, h, snapshot, work, jobs) for h in helpers]
    for f in copying:
        f.result()
    if child:
        os.waitpid(child, 0)
    leader.execute("ROLLBACK")
    for c in (leader, *helpers):
        c.close()
    print(f"{load:.4f}")


if __name__ == "__main__":
    main()
