"""Parquet export throughput against its floor, and the vectorised parse against a Python loop.

    python benchmarks/export.py [--scale 1] [--chunks 4000] [--jobs 2] [--runs 3] [--dsn DSN]

Generates the benchmark dataset (benchmarks/generate.py) in a throwaway local cluster
(or in database ``bench_source`` on ``--dsn``), then, in K rounds, alternately:

- **floor**: ``COPY (SELECT * FROM [ONLY] rel) TO STDOUT`` of exactly the relations
  export reads (every plain table, every hypertable chunk, compressed ones decompressed),
  on ``--jobs`` connections sharing one snapshot, the bytes discarded by the same libpq
  loop export uses (copyio.copy_out_many): what the server and the wire cost alone;
- **export**: ``pystream-migrate export -j N`` into a fresh directory, as a child process
  (wall time, user+sys CPU and peak RSS from os.wait4).

Rows/s and MB/s (of COPY text) for both; the ratio floor/export is taken per round and
its median reported. Then the hot path alone, in this process, on the rows of the
largest chunk: ``_decode.parse_block`` (pyarrow's CSV reader and whole-array
conversion) against the per-value Python loop it replaces (csv module + int/float/
datetime per value + pa.Table.from_pydict) and against psycopg's own loaders
(fetchall, C per value, then from_pydict).

Writes ``benchmarks/results/export-LABEL-scaleS.{json,md}``.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import os
import queue
import shutil
import statistics
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa
from psycopg import sql

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import generate  # noqa: E402
from pystream_migrate.copyio import copy_out_many  # noqa: E402
from pystream_migrate.parquet._decode import parse_block  # noqa: E402
from pystream_migrate.parquet._export import _configure  # noqa: E402
from pystream_migrate.parquet._source import Unit, plan_units, select_tables  # noqa: E402
from pystream_migrate.selection import Selection  # noqa: E402
from pystream_migrate.session import begin_snapshot  # noqa: E402
from run import (  # noqa: E402
    SOURCE_DB,
    Child,
    machine_info,
    recreate_db,
    server,
    stop_cleanly_on_signals,
)


def units_of(dsn: str) -> list[Unit]:
    with psycopg.connect(dsn) as conn:
        _configure(conn)
        begin_snapshot(conn)
        tables = select_tables(conn, Selection(), True)
        return plan_units(conn, tables, None, None)


def _from(unit: Unit) -> sql.Composable:
    only = sql.SQL("") if unit.chunk_name else sql.SQL("ONLY ")
    return sql.SQL("{}{}").format(only, sql.Identifier(*unit.relation))


def floor(dsn: str, units: list[Unit], jobs: int) -> dict[str, Any]:
    """COPY ... TO STDOUT of every unit on ``jobs`` connections, bytes discarded."""
    todo: queue.Queue[Unit] = queue.Queue()
    for u in sorted(units, key=lambda u: -u.est_bytes):
        todo.put(u)
    totals = {"rows": 0, "bytes": 0}
    lock = threading.Lock()
    with psycopg.connect(dsn) as leader:
        _configure(leader)
        snapshot = begin_snapshot(leader)
        started = time.monotonic()

        def worker() -> None:
            with psycopg.connect(dsn) as conn:
                _configure(conn)
                nbytes = [0]

                def sink(data: bytes) -> None:
                    nbytes[0] += len(data)

                def count(_i: int, rows: int) -> None:
                    with lock:
                        totals["rows"] += rows

                while True:
                    try:
                        u = todo.get_nowait()
                    except queue.Empty:
                        break
                    begin_snapshot(conn, snapshot)
                    copy_out_many(conn, [sql.SQL("COPY (SELECT * FROM {}) TO STDOUT").format(
                        _from(u))], lambda _i: sink, count)
                    conn.rollback()
                with lock:
                    totals["bytes"] += nbytes[0]

        threads = [threading.Thread(target=worker) for _ in range(jobs)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.monotonic() - started
    return {"wall": round(wall, 3), **totals}


def export(dsn: str, out: Path, jobs: int) -> dict[str, Any]:
    shutil.rmtree(out, ignore_errors=True)
    child = Child("export", [sys.executable, "-m", "pystream_migrate", "export", "-d", dsn,
                             "-o", str(out), "-j", str(jobs), "--progress", "none"])
    res = child.reap()
    if res.rc != 0:
        raise SystemExit(f"export failed: {res.stderr}")
    manifest = json.loads((out / "_manifest.json").read_text())
    return {"wall": res.wall_s, "cpu": round(res.user_s + res.sys_s, 2),
            "peak_rss_mb": res.maxrss_mb,
            "rows": sum(f["rows"] for f in manifest["files"]),
            "files": len(manifest["files"]),
            "parquet_bytes": sum(f["bytes"] for f in manifest["files"])}


# ------------------------------------------------------------------ the hot path alone
def _python_loop(data: bytes, unit: Unit) -> pa.Table:
    """What the vectorised path replaces: one Python conversion per value."""
    convert: list[Any] = []
    for c in unit.table.columns:
        t = c.arrow
        if pa.types.is_integer(t):
            convert.append(int)
        elif pa.types.is_floating(t):
            convert.append(float)
        elif pa.types.is_timestamp(t):
            convert.append(lambda v: dt.datetime.fromisoformat(v))
        elif pa.types.is_boolean(t):
            convert.append(lambda v: v == "t")
        elif pa.types.is_decimal(t):
            convert.append(Decimal)
        else:
            convert.append(str)
    cols: list[list[Any]] = [[] for _ in convert]
    for row in csv.reader(io.StringIO(data.decode())):
        for i, v in enumerate(row):
            cols[i].append(convert[i](v) if v != "" else None)
    return pa.Table.from_pydict({c.name: pa.array(v, c.arrow) for c, v in
                                 zip(unit.table.columns, cols, strict=True)})


def _psycopg_loaders(dsn: str, unit: Unit) -> pa.Table:
    with psycopg.connect(dsn) as conn:
        _configure(conn)
        rows = conn.execute(sql.SQL("SELECT * FROM {}").format(_from(unit))).fetchall()
    cols = list(zip(*rows, strict=True)) if rows else [[] for _ in unit.table.columns]
    return pa.Table.from_pydict({c.name: pa.array(list(v), c.arrow) for c, v in
                                 zip(unit.table.columns, cols, strict=True)})


def hot_path(dsn: str, units: list[Unit]) -> dict[str, Any]:
    unit = max((u for u in units if u.chunk_name and u.table.name == "metrics"),
               key=lambda u: u.est_bytes)
    data = bytearray()
    with psycopg.connect(dsn) as conn:
        _configure(conn)
        statement = sql.SQL("COPY (SELECT {} FROM {}) TO STDOUT (FORMAT csv)").format(
            sql.SQL(", ").join(c.select() for c in unit.table.columns), _from(unit))
        copy_out_many(conn, [statement], lambda _i: data.extend, lambda _i, _n: None)
    block = bytes(data)
    out: dict[str, Any] = {"relation": ".".join(unit.relation), "csv_bytes": len(block)}
    for name, fn in [("vectorised parse_block", lambda: parse_block(block,
                                                                     unit.table.columns)),
                     ("Python loop per value", lambda: _python_loop(block, unit)),
                     ("psycopg loaders + from_pydict", lambda: _psycopg_loaders(dsn, unit))]:
        best = None
        for _ in range(3):
            t0 = time.perf_counter()
            table = fn()
            took = time.perf_counter() - t0
            best = took if best is None else min(best, took)
        assert best is not None
        out[name] = {"seconds": round(best, 4), "rows": len(table),
                     "rows_per_second": round(len(table) / best)}
    base = out["vectorised parse_block"]["seconds"]
    out["speedup_vs_python_loop"] = round(out["Python loop per value"]["seconds"] / base, 1)
    out["speedup_vs_psycopg"] = round(out["psycopg loaders + from_pydict"]["seconds"] / base, 1)
    return out


# ------------------------------------------------------------------ report
def summarise(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    def med(key: str, side: str) -> float:
        return statistics.median(r[side][key] for r in rounds)

    mb = rounds[0]["floor"]["bytes"] / 1e6
    rows = rounds[0]["floor"]["rows"]
    return {
        "rows": rows, "copy_text_mb": round(mb, 1),
        "floor_seconds": med("wall", "floor"), "export_seconds": med("wall", "export"),
        "floor_rows_per_second": round(rows / med("wall", "floor")),
        "export_rows_per_second": round(rows / med("wall", "export")),
        "floor_mb_per_second": round(mb / med("wall", "floor"), 1),
        "export_mb_per_second": round(mb / med("wall", "export"), 1),
        "export_over_floor": round(statistics.median(
            r["export"]["wall"] / r["floor"]["wall"] for r in rounds), 2),
        "export_peak_rss_mb": max(r["export"]["peak_rss_mb"] for r in rounds),
        "export_cpu_seconds": med("cpu", "export"),
        "parquet_mb": round(rounds[0]["export"]["parquet_bytes"] / 1e6, 1),
        "files": rounds[0]["export"]["files"],
    }


def markdown(report: dict[str, Any]) -> str:
    s, h = report["summary"], report["hot_path"]
    lines = [
        f"# Parquet export, scale {report['scale']:g}, -j {report['jobs']}, "
        f"{report['runs']} rounds", "",
        f"`{report['command']}` at {report['machine']['code']['commit']}; "
        f"{report['machine']['nproc']} CPUs, load at start "
        f"{report['machine']['loadavg_start']}.", "",
        f"{s['rows']} rows, {s['copy_text_mb']} MB as COPY text, {s['files']} files, "
        f"{s['parquet_mb']} MB of Parquet (zstd).", "",
        "| | wall (median) | rows/s | MB/s (COPY text) | peak RSS |",
        "| --- | ---: | ---: | ---: | ---: |",
        f"| floor: COPY TO STDOUT, -j {report['jobs']} | {s['floor_seconds']:.2f} s | "
        f"{s['floor_rows_per_second']} | {s['floor_mb_per_second']} | |",
        f"| pystream-migrate export -j {report['jobs']} | {s['export_seconds']:.2f} s | "
        f"{s['export_rows_per_second']} | {s['export_mb_per_second']} | "
        f"{s['export_peak_rss_mb']} MB |", "",
        f"Export takes **{s['export_over_floor']}×** the floor's time (median of the "
        f"per-round ratios); its client CPU is {s['export_cpu_seconds']} s.", "",
        f"Hot path alone, on {h['relation']} ({h['csv_bytes']} bytes of CSV):", "",
        "| conversion to Arrow | seconds | rows/s |", "| --- | ---: | ---: |",
    ]
    for key in ("vectorised parse_block", "Python loop per value",
                "psycopg loaders + from_pydict"):
        lines.append(f"| {key} | {h[key]['seconds']} | {h[key]['rows_per_second']} |")
    lines += ["", f"The vectorised path is {h['speedup_vs_python_loop']}× faster than the "
              f"Python loop and {h['speedup_vs_psycopg']}× faster than psycopg's loaders "
              "(the latter includes the query itself).", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    stop_cleanly_on_signals()
    p = argparse.ArgumentParser(description="Parquet export against COPY TO STDOUT")
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--chunks", type=int, default=4000)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--dsn", help="an existing superuser DSN instead of a throwaway cluster")
    p.add_argument("--label", default="this-machine")
    p.add_argument("--out", default=str(HERE / "results"))
    a = p.parse_args(argv)
    work = HERE / "work" / f"export-{os.getpid()}"
    work.mkdir(parents=True, exist_ok=True)
    try:
        with server(a.dsn) as admin_dsn:
            source = recreate_db(admin_dsn, SOURCE_DB)
            print(f"export: generating scale {a.scale}", file=sys.stderr, flush=True)
            # No FK into the hypertable: with it, compress_chunk fails on TimescaleDB 2.28
            # ("found a FK into a chunk while truncating"), and export reads no FK anyway.
            dataset = generate.generate(source, a.scale, a.chunks, fk_to_hypertable=False)
            units = units_of(source)
            rounds = []
            for i in range(a.runs):
                f = floor(source, units, a.jobs)
                e = export(source, work / "out", a.jobs)
                if e["rows"] != f["rows"]:
                    raise SystemExit(f"export wrote {e['rows']} rows, the floor read "
                                     f"{f['rows']}")
                rounds.append({"floor": f, "export": e})
                print(f"export: round {i + 1}: floor {f['wall']}s, export {e['wall']}s, "
                      f"{e['peak_rss_mb']} MB", file=sys.stderr, flush=True)
            report = {"scale": a.scale, "jobs": a.jobs, "runs": a.runs,
                      "command": "python benchmarks/export.py "
                                 + " ".join(argv if argv is not None else sys.argv[1:]),
                      "machine": machine_info(admin_dsn, None), "dataset": dataset,
                      "rounds": rounds, "summary": summarise(rounds),
                      "hot_path": hot_path(source, units)}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"export-{a.label}-scale{a.scale:g}"
    (out / f"{stem}.json").write_text(json.dumps(report, indent=1, default=str) + "\n")
    (out / f"{stem}.md").write_text(markdown(report))
    print(markdown(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
