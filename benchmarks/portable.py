"""Portable restore against catalog restore, on the benchmark dataset, in one command.

    python benchmarks/portable.py [--scale S] [--chunks N] [--runs K] [--jobs N]

Starts a throwaway local cluster (or uses ``--dsn``), generates the dataset once
(benchmarks/generate.py; compression and a continuous aggregate need the Timescale
License edition), dumps it twice (catalog mode, and ``--portable``), then runs K rounds
of three restores into fresh databases of the same TimescaleDB version: the catalog
archive, the portable archive, and the portable archive with ``--decompress`` (the same
work without compressing chunks again, so the difference is what compressing again
costs), and then compresses those chunks on the --decompress target in one session, to
measure that cost on its own. Restores run with --no-analyze, so that ANALYZE (which
reads far more of uncompressed chunks) does not blur the comparison. Each restore is
verified against the source. Reported per restore: wall time, the restore process's
CPU, and the server's CPU (the postmaster's own and its exited children's, from /proc,
so background workers add a little noise). Results:
benchmarks/results/portable-LABEL-scaleS.json and .md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from psycopg import sql

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import generate  # noqa: E402
from pystream_migrate import verify  # noqa: E402
from pystream_migrate.connection import with_dbname  # noqa: E402
from run import admin, recreate_db, run_child, server  # noqa: E402

MODES = {
    "catalog": ("db.psm", []),
    "portable": ("db-portable.psm", []),
    "portable --decompress": ("db-portable.psm", ["--decompress"]),
}


def server_cpu_s(dsn: str) -> float:
    """CPU seconds the server has used so far: the postmaster with its reaped children."""
    with admin(dsn) as conn:
        pid = int(conn.execute("SELECT pg_backend_pid()").fetchone()[0])  # type: ignore[index]
    ppid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    fields = Path(f"/proc/{ppid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
    return ticks / 100.0


def restore_once(admin_dsn: str, source: str, work: Path, mode: str, jobs: int,
                 run: int) -> dict[str, Any]:
    archive, extra = MODES[mode]
    target = recreate_db(admin_dsn, f"bench_portable_{run}")
    time.sleep(1.0)
    cpu_before = server_cpu_s(admin_dsn)
    res = run_child(mode, [sys.executable, "-m", "pystream_migrate", "restore", "-d", target,
                           "-f", str(work / archive), "-j", str(jobs), "--progress", "none",
                           "--no-analyze", *extra])
    time.sleep(1.0)  # let the restore's backends exit and be reaped
    cpu_after = server_cpu_s(admin_dsn)
    if res.rc != 0:
        raise SystemExit(f"{mode} restore failed: {res.stderr[-3:]}")
    diffs = verify.compare(source, target, jobs, logical=mode != "catalog").diffs
    compressed = diffs if mode != "portable --decompress" else [
        d for d in diffs if "compress" not in d]
    return {"mode": mode, "run": run, "wall_s": res.wall_s,
            "client_cpu_s": round(res.user_s + res.sys_s, 2),
            "server_cpu_s": round(cpu_after - cpu_before, 2),
            "correct": not compressed, "differences": len(diffs)}


def compress_directly(admin_dsn: str, source: str, run: int) -> dict[str, Any]:
    """Compress, on the --decompress target, the chunks the source has compressed: the
    cost of compressing again, measured on its own."""
    target = f"bench_portable_{run}"
    with admin(source) as conn:
        chunks = [r[0] for r in conn.execute(
            "SELECT format('%I.%I', chunk_schema, chunk_name) FROM timescaledb_information.chunks "
            "WHERE is_compressed AND hypertable_schema = 'bench'").fetchall()]
        settings = conn.execute(
            "SELECT format('%I.%I', hypertable_schema, hypertable_name), segmentby, orderby "
            "FROM timescaledb_information.hypertable_compression_settings s "
            "JOIN timescaledb_information.hypertables h "
            "ON format('%I.%I', h.hypertable_schema, h.hypertable_name)::regclass = s.hypertable"
        ).fetchall()
    dsn = with_dbname(admin_dsn, target)
    with admin(dsn) as conn:
        for table, segmentby, orderby in settings:
            opts: list[sql.Composable] = [sql.SQL("timescaledb.compress")]
            if segmentby:
                opts.append(sql.SQL("timescaledb.compress_segmentby = {}").format(
                    sql.Literal(segmentby)))
            if orderby:
                opts.append(sql.SQL("timescaledb.compress_orderby = {}").format(
                    sql.Literal(orderby)))
            conn.execute(sql.SQL("ALTER TABLE {} SET ({})").format(
                sql.SQL(table), sql.SQL(", ").join(opts)))
    before = server_cpu_s(admin_dsn)
    with admin(dsn) as conn:
        started = time.monotonic()
        for chunk in chunks:
            conn.execute("SELECT compress_chunk(%s)", (chunk,))
        wall = time.monotonic() - started
    time.sleep(1.0)  # the session's backend exits and is reaped: its CPU is counted
    return {"chunks": len(chunks), "wall_s": round(wall, 2),
            "server_cpu_s": round(server_cpu_s(admin_dsn) - before, 2)}


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for mode in MODES:
        mine = [r for r in rows if r["mode"] == mode]
        out[mode] = {k: round(statistics.median(r[k] for r in mine), 2)
                     for k in ("wall_s", "client_cpu_s", "server_cpu_s")}
        out[mode]["correct"] = all(r["correct"] for r in mine)
    base, port, plain = out["catalog"], out["portable"], out["portable --decompress"]
    out["ratios"] = {
        "portable / catalog wall": round(port["wall_s"] / base["wall_s"], 2),
        "portable / catalog server CPU": round(port["server_cpu_s"] / base["server_cpu_s"], 2),
        "compressing again, server CPU s": round(port["server_cpu_s"] - plain["server_cpu_s"], 2),
        "compressing again, wall s": round(port["wall_s"] - plain["wall_s"], 2),
    }
    return out


def markdown(report: dict[str, Any]) -> str:
    lines = [f"# Portable restore vs catalog restore, scale {report['scale']}, "
             f"{report['chunks']} tick chunks, -j {report['jobs']}, {report['runs']} rounds",
             "", f"TimescaleDB {report['timescaledb']} ({report['license']}), medians.", "",
             "| restore | wall s | restore process CPU s | server CPU s | verified |",
             "| --- | ---: | ---: | ---: | --- |"]
    for mode in MODES:
        m = report["summary"][mode]
        lines.append(f"| {mode} | {m['wall_s']} | {m['client_cpu_s']} | {m['server_cpu_s']} "
                     f"| {'yes' if m['correct'] else 'NO'} |")
    lines += ["", *(f"- {k}: {v}" for k, v in report["summary"]["ratios"].items())]
    d = report["compress_directly"]
    lines += [f"- compressing the {d[0]['chunks']} chunks again, measured on its own on the "
              "--decompress target (single session, median): "
              f"{statistics.median(x['wall_s'] for x in d):.2f} s wall, "
              f"{statistics.median(x['server_cpu_s'] for x in d):.2f} s server CPU", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scale", type=float, default=0.25)
    p.add_argument("--chunks", type=int, default=1000)
    p.add_argument("--runs", type=int, default=1)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--dsn")
    p.add_argument("--label", default="this-machine")
    a = p.parse_args(argv)
    work = HERE / "results" / ".portable-work"
    work.mkdir(parents=True, exist_ok=True)
    for stale in work.iterdir():  # left by an interrupted run
        stale.unlink()
    with server(a.dsn) as admin_dsn:
        source = recreate_db(admin_dsn, "bench_source")
        # No foreign key into the hypertable: 2.28 cannot compress a chunk that one
        # references ("found a FK into a chunk while truncating").
        built = generate.generate(source, a.scale, a.chunks, fk_to_hypertable=False)
        for archive in sorted({archive for archive, _ in MODES.values()}):
            flags = ["--portable"] if archive != "db.psm" else []
            res = run_child("dump", [sys.executable, "-m", "pystream_migrate", "dump", "-d",
                                     source, "-f", str(work / archive), "-j", str(a.jobs),
                                     "--progress", "none", *flags])
            if res.rc != 0:
                raise SystemExit(f"dump failed: {res.stderr[-3:]}")
        rows, direct = [], []
        for run in range(a.runs):
            rows += [restore_once(admin_dsn, source, work, mode, a.jobs, run) for mode in MODES]
            direct.append(compress_directly(admin_dsn, source, run))
        with admin(source) as conn:
            version, lic = conn.execute(
                "SELECT extversion, current_setting('timescaledb.license') FROM pg_extension "
                "WHERE extname = 'timescaledb'").fetchone()  # type: ignore[misc]
    report = {"scale": a.scale, "chunks": a.chunks, "jobs": a.jobs, "runs": a.runs,
              "timescaledb": version, "license": lic, "dataset": built, "rows": rows,
              "summary": summarise(rows), "compress_directly": direct}
    out = HERE / "results" / f"portable-{a.label}-scale{a.scale:g}"
    Path(f"{out}.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    Path(f"{out}.md").write_text(markdown(report))
    for f in work.iterdir():
        f.unlink()
    work.rmdir()
    print(markdown(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
