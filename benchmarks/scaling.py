"""How pystream-migrate's cost grows with rows, chunks and jobs; phase by phase.

    python benchmarks/scaling.py [--configs 0.25:1000,1:1000,1:4000] [--jobs 1,2,4]
                                 [--dsn SUPERUSER_DSN]

For each configuration SCALE:CHUNKS (row scale factor : chunks of the many-chunks
hypertable) it generates the dataset (without the foreign key that references a
hypertable, so that every restore succeeds and runs ANALYZE), runs pg_dump -Fc and serial
pg_restore once as the reference, then pystream-migrate dump and restore once per -j
(every --jobs value for the last configuration, the middle one for the others), and
splits each run into phases from the timestamps of its ``-v`` messages:

dump: connect + snapshot | catalog | data;
restore: checks + archive verification | pre-data | extension catalog | data + post-data
(interleaved) | post_restore + ANALYZE.

Writes benchmarks/results/scaling-LABEL.json and .md. One run per cell: read the
ratios, not the seconds (the machine is shared).

    python benchmarks/scaling.py --many-chunks 1000,10000,50000,100000 [--jobs 2]

instead grows the scale test's dataset (``generate.many_chunks``: one hypertable, one
row per chunk) to each count in turn on one database, and runs pystream-migrate dump
and restore at each: wall time, phases, peak RSS (no pg_dump: it runs out of locks on
such databases). The restore is checked by row and chunk counts (a full
compare_databases of 100k tables would outlast the restore). Results are written after
each count (results/chunks-LABEL.json and .md), so a run stopped early keeps them.
With ``--dsn DSN --source-dbs many_1k,many_10k,big,big`` it uses (and keeps) those
databases of that server as the sources instead, each grown to its count: a database
of 100k chunks, slow to generate, can then serve several runs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from psycopg import sql

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import generate  # noqa: E402
import run as bench  # noqa: E402

DUMP_MARKS = [("snapshot", "connect+snapshot"), ("catalog:", "catalog"),
              ("dumped", "data")]
RESTORE_MARKS = [("created extension", "checks+verify archive"),
                 ("pre-data:", "pre-data"), ("extension catalog", "extension catalog"),
                 ("pystream-migrate: data:", "data+post-data"),
                 ("left TimescaleDB restoring mode", "post_restore"),
                 ("analyzed", "analyze")]


def phases(p: bench.ProcResult, marks: list[tuple[str, str]]) -> dict[str, float]:
    """Seconds per phase: the time between consecutive marker messages."""
    out: dict[str, float] = {}
    last = 0.0
    pos = 0  # markers are searched in order: "data:" must not match "pre-data:"
    for needle, name in marks:
        hit = next((i for i in range(pos, len(p.stderr)) if needle in p.stderr[i][1]), None)
        if hit is None:
            continue
        pos = hit + 1
        out[name] = round(p.stderr[hit][0] - last, 3)
        last = p.stderr[hit][0]
    out["exit"] = round(p.wall_s - last, 3)
    return out


def one_config(admin_dsn: str, scale: float, chunks: int, jobs: list[int],
               pg: Path | None, work: Path, log: Any) -> dict[str, Any]:
    source = bench.recreate_db(admin_dsn, bench.SOURCE_DB)
    ds = generate.generate(source, scale, chunks, fk_to_hypertable=False)
    b = bench.Bench(admin_dsn, max(jobs), work, pg)
    res: dict[str, Any] = {"scale": scale, "chunks": chunks, "dataset": ds, "runs": []}
    if pg is not None:
        fc = work / "ref.dump"
        m = b.pg_dump_fc(0, fc)
        res["pg_dump_fc_s"] = m.wall_s
        res["pg_dump_fc_bytes"] = m.archive_bytes
        r = b.pg_restore(0, fc, 1)
        res["pg_restore_s"] = r.wall_s
        log(f"scale {scale} chunks {chunks}: pg_dump -Fc {m.wall_s:.2f}s, "
            f"pg_restore {r.wall_s:.2f}s")
    for j in jobs:
        b.jobs = j
        archive = work / "x.psm"
        d = b.psm_dump(0, archive)
        r = b.psm_restore(0, archive)
        row = {"jobs": j, "dump_s": d.wall_s, "dump_cpu_s": d.cpu_s,
               "dump_rss_mb": d.peak_rss_mb, "archive_bytes": d.archive_bytes,
               "dump_phases": phases(d.procs[0], DUMP_MARKS),
               "restore_s": r.wall_s, "restore_cpu_s": r.cpu_s,
               "restore_rss_mb": r.peak_rss_mb, "restore_correct": r.correct,
               "restore_phases": phases(r.procs[0], RESTORE_MARKS)}
        res["runs"].append(row)
        log(f"scale {scale} chunks {chunks} -j {j}: dump {d.wall_s:.2f}s "
            f"{row['dump_phases']}; restore {r.wall_s:.2f}s {row['restore_phases']} "
            f"correct={r.correct}")
    res["loadavg"] = os.getloadavg()
    bench.drop_db(admin_dsn, bench.SOURCE_DB)
    return res


def many_counts(dsn: str) -> tuple[int, int]:
    """(rows, chunks) of public.many; rows counted 500 chunks to a transaction (counting
    the hypertable at once would lock every chunk: more than the lock table holds)."""
    with bench.admin(dsn) as conn:
        chunks = [sql.Identifier(s, n) for s, n in conn.execute(
            "SELECT chunk_schema, chunk_name FROM timescaledb_information.chunks "
            "WHERE hypertable_schema = 'public' AND hypertable_name = 'many'")]
        rows = 0
        for i in range(0, len(chunks), 500):
            union = sql.SQL(" UNION ALL ").join(
                sql.SQL("SELECT count(*) FROM {}").format(c) for c in chunks[i:i + 500])
            row = conn.execute(sql.SQL("SELECT sum(n)::bigint FROM ({}) s(n)").format(
                union)).fetchone()
            rows += int(row[0]) if row and row[0] is not None else 0
    return rows, len(chunks)


class CountCheck(bench.Bench):
    """Checks a restore of the many-chunks dataset by its row and chunk counts."""

    keep_targets = False  # dropping a database of 100k chunks takes minutes

    def check(self, m: bench.Measurement, target_name: str, target: str) -> bench.Measurement:
        want, got = many_counts(self.source), many_counts(target)
        m.data_ok = want == got
        if not m.data_ok:
            m.diffs = [f"rows, chunks: source {want}, target {got}"]
        if not self.keep_targets:
            bench.drop_db(self.admin_dsn, target_name)
        return m


def many_chunks_runs(admin_dsn: str, counts: list[int], jobs: int, work: Path, log: Any,
                     save: Any, source_dbs: list[str] | None = None,
                     rows: list[dict[str, Any]] | None = None,
                     keep_targets: bool = False) -> list[dict[str, Any]]:
    """Dump and restore at each count. ``source_dbs`` (one per count; a name may repeat):
    existing databases to use as the sources, grown to each count and kept. ``rows``:
    earlier results to add to."""
    source = (bench.with_dbname(admin_dsn, source_dbs[0]) if source_dbs
              else bench.recreate_db(admin_dsn, bench.SOURCE_DB))
    b = CountCheck(admin_dsn, jobs, work, None)
    b.keep_targets = keep_targets
    if rows:
        b.target_seq = 100 * len(rows)  # targets kept by an earlier run keep their names
    archive = work / "many.psm"
    rows = list(rows or [])
    code = bench.code_version()["commit"]
    for i, n in enumerate(counts):
        if source_dbs:
            source = b.source = bench.with_dbname(admin_dsn, source_dbs[i])
        started = time.monotonic()
        generate.many_chunks(source, n)
        gen_s = round(time.monotonic() - started, 1)
        b.settle()
        d = b.psm_dump(0, archive)
        b.settle()
        r = b.psm_restore(0, archive)
        row = {"chunks": n, "jobs": jobs, "code": code, "generate_s": gen_s,
               "dump_s": d.wall_s, "dump_cpu_s": d.cpu_s, "dump_rss_mb": d.peak_rss_mb,
               "dump_ok": d.exit_ok, "archive_bytes": d.archive_bytes,
               "dump_phases": phases(d.procs[0], DUMP_MARKS),
               "restore_s": r.wall_s, "restore_cpu_s": r.cpu_s,
               "restore_rss_mb": r.peak_rss_mb, "restore_correct": r.correct,
               "restore_diffs": r.diffs, "restore_phases": phases(r.procs[0], RESTORE_MARKS),
               "loadavg": os.getloadavg(),
               "stderr_tail": {"dump": d.procs[0].stderr[-5:], "restore": r.procs[0].stderr[-5:]}}
        rows.append(row)
        log(f"{n} chunks: dump {d.wall_s:.1f}s {d.peak_rss_mb:.0f} MB {row['dump_phases']}; "
            f"restore {r.wall_s:.1f}s {r.peak_rss_mb:.0f} MB {row['restore_phases']} "
            f"correct={r.correct}")
        save(rows)
    if not source_dbs:
        bench.drop_db(admin_dsn, bench.SOURCE_DB)
    return rows


def chunks_markdown(rows: list[dict[str, Any]], machine: str) -> str:
    lines = ["# pystream-migrate at many chunks (scale test dataset: one row per chunk)", "",
             machine, "",
             "| chunks | dump s | dump MB | dump KB/chunk added | dump phases (s) | restore s "
             "| restore MB | restore KB/chunk added | restore phases (s) | correct | code |",
             "| ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | --- | --- | --- |"]
    prev: dict[str, Any] | None = None
    for r in rows:
        dp = ", ".join(f"{k} {v:.1f}" for k, v in r["dump_phases"].items())
        rp = ", ".join(f"{k} {v:.1f}" for k, v in r["restore_phases"].items())

        def added(key: str, r: dict[str, Any] = r, prev: dict[str, Any] | None = prev) -> str:
            if prev is None:
                return ""
            return f"{(r[key] - prev[key]) * 1024 / (r['chunks'] - prev['chunks']):.1f}"
        lines.append(
            f"| {r['chunks']} | {r['dump_s']:.1f} | {r['dump_rss_mb']:.0f} "
            f"| {added('dump_rss_mb')} | {dp} | {r['restore_s']:.1f} "
            f"| {r['restore_rss_mb']:.0f} | {added('restore_rss_mb')} "
            f"| {rp} | {r['restore_correct']} | {r.get('code', '')} |")
        prev = r
    lines += ["", "KB/chunk added: the growth of peak RSS from the row above, per chunk "
              "added. One run per count; the machine is shared: read the growth, not the "
              "seconds.", ""]
    return "\n".join(lines)


def markdown(results: list[dict[str, Any]], machine: str) -> str:
    lines = ["# pystream-migrate scaling (one run per cell; read ratios)", "", machine, "",
             "| rows | chunks | -j | dump s | vs pg_dump -Fc | dump phases (s) | restore s "
             "| vs pg_restore | restore phases (s) | correct |",
             "| ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | --- | --- |"]
    for c in results:
        rows = sum(c["dataset"]["rows"].values())
        for r in c["runs"]:
            vs_d = (f"{c['pg_dump_fc_s'] / r['dump_s']:.2f}x" if "pg_dump_fc_s" in c else "")
            vs_r = (f"{c['pg_restore_s'] / r['restore_s']:.2f}x" if "pg_restore_s" in c
                    else "")
            dp = ", ".join(f"{k} {v:.1f}" for k, v in r["dump_phases"].items())
            rp = ", ".join(f"{k} {v:.1f}" for k, v in r["restore_phases"].items())
            lines.append(f"| {rows} | {c['dataset']['chunks']} | {r['jobs']} "
                         f"| {r['dump_s']:.2f} | {vs_d} | {dp} | {r['restore_s']:.2f} "
                         f"| {vs_r} | {rp} | {r['restore_correct']} |")
    lines += ["", "Ratios are pg time / pystream-migrate time (above 1: pystream-migrate "
              "is faster). pg_dump -Fc and serial pg_restore ran once per configuration, "
              "just before the pystream-migrate runs.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="pystream-migrate cost vs rows, chunks, jobs")
    p.add_argument("--configs", default="0.25:1000,1:1000,1:4000",
                   help="SCALE:CHUNKS,... (default 0.25:1000,1:1000,1:4000)")
    p.add_argument("--jobs", default="1,2,4",
                   help="-j values for the last configuration (others use the middle one)")
    p.add_argument("--dsn", help="existing superuser DSN instead of a throwaway cluster")
    p.add_argument("--many-chunks", metavar="N,N,...",
                   help="chunk counts for the scale test's dataset instead of --configs")
    p.add_argument("--source-dbs", metavar="DB,DB,...",
                   help="with --many-chunks and --dsn: existing databases to use as the "
                        "sources, one per count (a name may repeat: it is grown to each "
                        "count), kept afterwards; generating 100k chunks takes long")
    p.add_argument("--append", action="store_true",
                   help="with --many-chunks: add the rows to results/chunks-LABEL.json")
    p.add_argument("--keep-targets", action="store_true",
                   help="with --many-chunks: keep the restored databases (dropping 100k "
                        "chunks takes minutes)")
    p.add_argument("--label", default="this-machine")
    p.add_argument("--out", default=str(HERE / "results"))
    a = p.parse_args(argv)
    bench.stop_cleanly_on_signals()
    if a.many_chunks:
        return many_chunks_main(a)
    configs = [(float(c.split(":")[0]), int(c.split(":")[1])) for c in a.configs.split(",")]
    jobs = [int(j) for j in a.jobs.split(",")]
    pg = bench.find_pg_bindir(None)
    work = HERE / "work" / f"scaling-{os.getpid()}"
    work.mkdir(parents=True, exist_ok=True)

    def log(msg: str) -> None:
        print(f"scaling: {msg}", file=sys.stderr, flush=True)

    results = []
    try:
        with bench.server(a.dsn) as admin_dsn:
            for i, (scale, chunks) in enumerate(configs):
                js = jobs if i == len(configs) - 1 else [jobs[len(jobs) // 2]]
                results.append(one_config(admin_dsn, scale, chunks, js, pg, work, log))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    machine = (f"{os.cpu_count()} CPUs; load average at the end "
               f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}; "
               f"{time.strftime('%Y-%m-%d %H:%M')}")
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"scaling-{a.label}.json").write_text(json.dumps(results, indent=1) + "\n")
    (out / f"scaling-{a.label}.md").write_text(markdown(results, machine))
    print(markdown(results, machine))
    return 0


def many_chunks_main(a: argparse.Namespace) -> int:
    counts = [int(n) for n in a.many_chunks.split(",")]
    if a.source_dbs and (not a.dsn or len(a.source_dbs.split(",")) != len(counts)):
        raise SystemExit("scaling.py: --source-dbs needs --dsn and one database per count")
    jobs = int(a.jobs.split(",")[0]) if a.jobs != "1,2,4" else 2
    work = HERE / "work" / f"chunks-{os.getpid()}"
    work.mkdir(parents=True, exist_ok=True)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    code = bench.code_version()

    def log(msg: str) -> None:
        print(f"scaling: {msg}", file=sys.stderr, flush=True)

    def save(rows: list[dict[str, Any]]) -> None:
        machine = (f"{os.cpu_count()} CPUs; code {code['commit']} (package {code['package']})"
                   + (f" + uncommitted {', '.join(code['src_uncommitted'])}"
                      if code["src_uncommitted"] else "")
                   + f"; -j {jobs}; load average now "
                   f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}; "
                   f"{time.strftime('%Y-%m-%d %H:%M')}")
        (out / f"chunks-{a.label}.json").write_text(
            json.dumps({"machine": machine, "code": code, "runs": rows}, indent=1,
                       default=str) + "\n")
        (out / f"chunks-{a.label}.md").write_text(chunks_markdown(rows, machine))

    earlier: list[dict[str, Any]] = []
    if a.append and (out / f"chunks-{a.label}.json").exists():
        earlier = json.loads((out / f"chunks-{a.label}.json").read_text())["runs"]
    try:
        with bench.server(a.dsn) as admin_dsn:
            many_chunks_runs(admin_dsn, counts, jobs, work, log, save,
                             a.source_dbs.split(",") if a.source_dbs else None,
                             earlier, a.keep_targets)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print((out / f"chunks-{a.label}.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
