"""Restore time against serial pg_restore followed by ANALYZE, before and after a change.

    python benchmarks/restore_ratio.py --dataset large-chunks --runs 2 --before DIR
    python benchmarks/restore_ratio.py --dataset benchmark --scale 1 --runs 1 --before DIR

A database is ready for queries only once it is analyzed, so the baseline is the manual
procedure plus ANALYZE: CREATE EXTENSION, timescaledb_pre_restore(), serial pg_restore,
timescaledb_post_restore(), then a database-wide ANALYZE, all inside its wall time.
The archives are made once (pg_dump -Fc and pystream-migrate dump, the current code).
Each round then restores, in turn, with the baseline, the current code, and (``--before
DIR``: a source tree of the earlier code, run with ``PYTHONPATH=DIR/src``) the earlier
code, each into a fresh database, each verified (verify.compare_databases). The reported
ratio is the median over rounds of (pystream-migrate time / baseline time) in the same
round: below 1 is faster. Results: results/restore-ratio-LABEL-DATASET.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import generate  # noqa: E402
import run  # noqa: E402


def baseline(b: run.Bench, r: int, archive: Path) -> run.Measurement:
    name, target = b.fresh_target()
    started = time.monotonic()
    p = b._pg_restore_into(target, archive, 1)
    with run.admin(target) as conn:
        conn.execute("ANALYZE")
    return b.check(run.measured("pg_restore; ANALYZE", r, [p], time.monotonic() - started),
                   name, target)


def psm(b: run.Bench, r: int, archive: Path, label: str, code: Path | None) -> run.Measurement:
    name, target = b.fresh_target()
    env = None
    if code is not None:
        env = dict(os.environ, PYTHONPATH=str(code / "src"))
    p = run.run_child(f"pystream-migrate restore ({label})",
                      [*b.psm, "restore", "-d", target, "-f", str(archive), "-j", str(b.jobs),
                       "--progress", "none", "-v"], env=env)
    return b.check(run.measured(f"pystream-migrate restore -j {b.jobs} ({label})", r, [p],
                                p.wall_s), name, target)


def main(argv: list[str] | None = None) -> int:
    run.stop_cleanly_on_signals()
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", choices=("large-chunks", "benchmark"), default="large-chunks")
    p.add_argument("--scale", type=float, default=1.0, help="benchmark dataset only")
    p.add_argument("--runs", type=int, default=2)
    p.add_argument("--jobs", type=int, default=max(2, os.cpu_count() or 2))
    p.add_argument("--before", help="source tree of the earlier code, for a before/after")
    p.add_argument("--label", default="this-machine")
    p.add_argument("--render", metavar="JSON", help="only rewrite the .md of a results file")
    a = p.parse_args(argv)
    if a.render:
        path = Path(a.render)
        report = json.loads(path.read_text())
        rounds = [run.Measurement(**{k: v for k, v in m.items()
                                     if k in run.Measurement.__dataclass_fields__})
                  for m in report["measurements"]]
        for m in rounds:
            m.procs = [run.ProcResult(**p) for p in m.procs]  # type: ignore[arg-type]
        report["summary"] = _summary(rounds)
        path.write_text(json.dumps(report, indent=1, default=str) + "\n")
        path.with_suffix(".md").write_text(_markdown(report))
        return 0
    pg_bindir = run.find_pg_bindir(None)
    if pg_bindir is None:
        p.error("pg_dump and pg_restore are needed for the baseline")
    work = HERE / "work" / f"ratio-{os.getpid()}"
    work.mkdir(parents=True, exist_ok=True)
    before = Path(a.before).resolve() if a.before else None
    try:
        with run.server(None) as admin_dsn:
            report = _bench(a, admin_dsn, pg_bindir, work, before)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    stem = HERE / "results" / f"restore-ratio-{a.label}-{a.dataset}"
    stem.with_suffix(".json").write_text(json.dumps(report, indent=1, default=str) + "\n")
    stem.with_suffix(".md").write_text(_markdown(report))
    print(_markdown(report))
    return 0


def _bench(a: argparse.Namespace, admin_dsn: str, pg_bindir: Path, work: Path,
           before: Path | None) -> dict[str, Any]:
    source = run.recreate_db(admin_dsn, run.SOURCE_DB)
    if a.dataset == "large-chunks":
        dataset = generate.generate_large_chunks(source)
    else:
        dataset = {"dataset": "benchmark"} | generate.generate(source, a.scale,
                                                               fk_to_hypertable=False)
    machine = run.machine_info(admin_dsn, pg_bindir)
    run.cache_source_fingerprints(source)
    b = run.Bench(admin_dsn, a.jobs, work, pg_bindir)
    fc, archive = work / "db.dump", work / "db.psm"
    b.pg_dump_fc(0, fc)
    dumped = b.psm_dump(0, archive)
    assert archive.exists(), dumped.procs[0].stderr
    results: list[run.Measurement] = []
    for r in range(a.runs):
        steps = [lambda r=r: baseline(b, r, fc), lambda r=r: psm(b, r, archive, "after", None)]
        if before is not None:
            steps.append(lambda r=r: psm(b, r, archive, "before", before))
        for step in steps:
            b.settle()
            m = step()
            results.append(m)
            print(f"round {r + 1}: {m.op}: {m.wall_s:.2f}s, correct: {m.correct}",
                  file=sys.stderr, flush=True)
    machine["loadavg_end"] = os.getloadavg()
    run.drop_db(admin_dsn, run.SOURCE_DB)
    return {"command": "python benchmarks/restore_ratio.py "
                       + " ".join(sys.argv[1:] if argv_is_cli() else []),
            "date": time.strftime("%Y-%m-%d %H:%M:%S %z"), "jobs": a.jobs, "runs": a.runs,
            "dataset": dataset, "machine": machine, "code": run.code_version(),
            "before": str(before) if before else None,
            "summary": _summary(results),
            "measurements": [run.asdict(m) | {"correct": m.correct} for m in results]}


def argv_is_cli() -> bool:
    return bool(sys.argv and sys.argv[0].endswith("restore_ratio.py"))


def _summary(results: list[run.Measurement]) -> dict[str, Any]:
    rounds: dict[int, dict[str, run.Measurement]] = {}
    for m in results:
        rounds.setdefault(m.run, {})[m.op] = m
    ops = sorted({m.op for m in results})
    out: dict[str, Any] = {"ops": {}, "ratios": {}}
    for op in ops:
        walls = [m.wall_s for m in results if m.op == op]
        out["ops"][op] = {"wall_s_median": statistics.median(walls), "walls": walls,
                          "all_correct": all(m.correct for m in results if m.op == op)}
    base = "pg_restore; ANALYZE"
    for op in ops:
        if op == base:
            continue
        per_round = [round(ms[op].wall_s / ms[base].wall_s, 3)
                     for ms in rounds.values() if op in ms and base in ms]
        out["ratios"][op] = {"median": statistics.median(per_round), "per_round": per_round}
    after = next((op for op in ops if op.endswith("(after)")), None)
    prior = next((op for op in ops if op.endswith("(before)")), None)
    if after and prior:
        per_round = [round(ms[after].wall_s / ms[prior].wall_s, 3)
                     for ms in rounds.values() if after in ms and prior in ms]
        out["after_vs_before"] = {"median": statistics.median(per_round),
                                  "per_round": per_round}
    return out


def _markdown(report: dict[str, Any]) -> str:
    s = report["summary"]
    lines = [f"# Restore vs serial pg_restore + ANALYZE: {report['dataset'].get('dataset', '')}"
             f" dataset", "",
             f"`{report['command']}` on {report['date']}, -j {report['jobs']}, "
             f"{report['runs']} rounds; load average {report['machine'].get('loadavg_start')} "
             f"-> {report['machine'].get('loadavg_end')}.", "",
             f"Code measured: {json.dumps(report.get('code'))}; before: "
             f"{report.get('before_note') or report.get('before')}.", "",
             f"Dataset: `{json.dumps(report['dataset'])}`", "",
             "| operation | median wall (s) | walls | all correct |", "| --- | ---: | --- | --- |"]
    for op, v in s["ops"].items():
        lines.append(f"| {op} | {v['wall_s_median']:.2f} | {v['walls']} | {v['all_correct']} |")
    lines += ["", "| ratio to `pg_restore; ANALYZE` (same round; below 1 is faster) | median "
              "| per round |", "| --- | ---: | --- |"]
    for op, v in s["ratios"].items():
        lines.append(f"| {op} | {v['median']:.2f}x | {v['per_round']} |")
    if "after_vs_before" in s:
        v = s["after_vs_before"]
        lines += ["", f"After / before, same round: {v['median']:.2f}x (per round "
                  f"{v['per_round']}; below 1: the change made the restore faster)."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
