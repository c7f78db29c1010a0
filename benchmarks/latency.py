"""Distance: dump, restore and the pipe at several round-trip times, against pg_dump/pg_restore.

    python benchmarks/latency.py [--rtts 0:3,10:3,40:1] [--chunks 4000] [--scale 0.01]
                                 [--ops dump,restore,pipe] [--jobs 2] [--dsn SUPERUSER_DSN]
                                 [--direct]

Every tool connects through :mod:`delayproxy` (loopback, a fixed one-way delay of half
the round-trip time in each direction; at 0 ms it only counts), so the same proxy sits in
front of every tool. The proxy relays each message in Python: at 0 ms it still costs a
tool ~0.12 ms per round trip (pg_dump -Fc makes 8280 here, this tool ~50). ``--direct``
connects every tool straight to the server instead (``--rtts 0:N`` only; no round
trips counted): the local comparison. ``--rtts`` lists RTT:ROUNDS[:PG_ROUNDS]: the rounds at that
round-trip time, and of those the rounds that also run pg_dump -Fc and serial pg_restore
(all by default; serial pg_restore of 4000 chunks at 40 ms takes about 15 minutes).
Rounds interleave the round-trip times (round 1 at each, then round 2 ...), and within a
round baseline and pystream-migrate alternate, so that the machine's drift hits all.

Per operation: wall time, round trips (request/response turns through the proxy), and
ratios *in the same round*: to pg_dump -Fc (dump), to serial pg_restore (restore), and to
pg_dump -Fc + pg_restore of that round (pipe: the manual migration's two steps run one
after the other). Each restore is verified (``verify.compare_databases``, directly, not
through the proxy). Results: benchmarks/results/latency-LABEL.json and .md.

The dataset: benchmarks/generate.py at a small row scale with ``--chunks`` chunks of 5
rows in bench.ticks (so per-entry costs dominate), without the foreign key to a
hypertable (so every restore is complete on both sides).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from psycopg import conninfo  # noqa: E402

import generate  # noqa: E402
import run as bench  # noqa: E402
from delayproxy import Counts, DelayProxy  # noqa: E402
from pystream_migrate.connection import parse_dsn  # noqa: E402

PROXY_MAX_SECONDS = 6 * 3600.0

# op key -> (label, the baseline op key its ratio is taken against)
OPS = {
    "pg_dump": ("pg_dump -Fc", None),
    "dump": ("pystream-migrate dump", "pg_dump"),
    "pg_restore": ("serial pg_restore", None),
    "restore": ("pystream-migrate restore", "pg_restore"),
    "pipe": ("pystream-migrate dump | restore", "pg_dump+pg_restore"),
}


def parse_rtts(spec: str) -> list[tuple[float, int, int]]:
    out = []
    for part in spec.split(","):
        bits = part.split(":")
        rtt, rounds = float(bits[0]), int(bits[1]) if len(bits) > 1 else 1
        pg_rounds = int(bits[2]) if len(bits) > 2 else rounds
        out.append((rtt, rounds, min(pg_rounds, rounds)))
    return out


def routed(port: int) -> Callable[[str], str]:
    """DSN -> the same DSN through the proxy on 127.0.0.1:port."""
    def route(dsn: str) -> str:
        return conninfo.make_conninfo(**{**parse_dsn(dsn), "host": "127.0.0.1",
                                         "port": str(port)})
    return route


def main(argv: list[str] | None = None) -> int:
    bench.stop_cleanly_on_signals()
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--rtts", default="0:3,10:3,40:1",
                   help="RTT_MS:ROUNDS[:PG_ROUNDS],... (default 0:3,10:3,40:1)")
    p.add_argument("--chunks", type=int, default=4000)
    p.add_argument("--scale", type=float, default=0.01, help="row scale (default 0.01)")
    p.add_argument("--ops", default="dump,restore,pipe",
                   help="pystream-migrate operations to run (default dump,restore,pipe)")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--no-pg", action="store_true", help="run pystream-migrate only")
    p.add_argument("--breakdown", action="store_true",
                   help="count round trips by statement kind (delayproxy.turn_kind)")
    p.add_argument("--dsn", help="an existing superuser DSN instead of a throwaway cluster")
    p.add_argument("--direct", action="store_true",
                   help="no proxy: every tool straight to the server (0 ms only)")
    p.add_argument("--label", default="this-machine")
    p.add_argument("--out", default=str(HERE / "results"))
    a = p.parse_args(argv)
    rtts = parse_rtts(a.rtts)
    if a.direct and any(rtt for rtt, _, _ in rtts):
        p.error("--direct measures locally only: give --rtts 0:ROUNDS")
    ops = [o.strip() for o in a.ops.split(",") if o.strip()]
    if unknown := [o for o in ops if o not in ("dump", "restore", "pipe")]:
        p.error(f"unknown --ops {unknown}")
    pg = None if a.no_pg else bench.find_pg_bindir(None)
    work = HERE / "work" / f"latency-{os.getpid()}"
    work.mkdir(parents=True, exist_ok=True)
    command = "python benchmarks/latency.py " + " ".join(
        argv if argv is not None else sys.argv[1:])
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"latency-{a.label}"

    def save(report: dict[str, Any]) -> str:
        """Written after every step: a run stopped early keeps what it measured."""
        stem.with_suffix(".json").write_text(json.dumps(report, indent=1, default=str) + "\n")
        text = markdown(report)
        stem.with_suffix(".md").write_text(text)
        return text

    try:
        with bench.server(a.dsn) as admin_dsn:
            report = measure(a, admin_dsn, rtts, ops, pg, work, command.strip(), save)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(save(report))
    return 0


def measure(a: argparse.Namespace, admin_dsn: str, rtts: list[tuple[float, int, int]],
            ops: list[str], pg: Path | None, work: Path, command: str,
            save: Callable[[dict[str, Any]], str]) -> dict[str, Any]:
    def log(msg: str) -> None:
        print(f"latency: {msg}", file=sys.stderr, flush=True)

    source = bench.recreate_db(admin_dsn, bench.SOURCE_DB)
    dataset = generate.generate(source, a.scale, a.chunks, fk_to_hypertable=False)
    machine = bench.machine_info(admin_dsn, pg)
    bench.cache_source_fingerprints(source)
    upstream = int(parse_dsn(admin_dsn).get("port") or 5432)
    results: list[dict[str, Any]] = []

    def report() -> dict[str, Any]:
        machine["loadavg_end"] = os.getloadavg()
        return {"command": command, "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
                "jobs": a.jobs, "rtts": rtts, "direct": a.direct, "machine": machine,
                "dataset": dataset,
                "measurements": results, "summary": summarise(results, rtts)}

    with (_Direct() if a.direct else
          DelayProxy(upstream, 0.0, max_seconds=PROXY_MAX_SECONDS,
                     log_turns=a.breakdown)) as proxy:
        b = bench.Bench(admin_dsn, a.jobs, work, pg,
                        route=None if a.direct else routed(proxy.port))
        fc, psm = work / "db.dump", work / "db.psm"
        # Archives for the restores of rounds that skip the dumps: made once, locally.
        if pg is not None:
            b.pg_dump_fc(-1, fc)
        b.psm_dump(-1, psm)
        for rnd in range(max(r for _, r, _ in rtts)):
            for rtt, rounds, pg_rounds in rtts:
                if rnd >= rounds:
                    continue
                proxy.set_delay(rtt / 2)
                with_pg = pg is not None and rnd < pg_rounds
                steps = round_steps(b, rnd, ops, with_pg, fc, psm)
                for key, step in steps:
                    b.settle()
                    proxy.reset_counts()
                    m = step()
                    counts = proxy.reset_counts()
                    m.round_trips = counts.turns
                    results.append({"rtt_ms": rtt, "round": rnd, "key": key,
                                    "connections": counts.connections,
                                    "bytes_up": counts.bytes_up,
                                    "bytes_down": counts.bytes_down,
                                    "turn_kinds": dict(sorted(counts.kinds.items(),
                                                              key=lambda kv: -kv[1])),
                                    **asdict(m), "correct": m.correct})
                    ok = "" if m.correct is None else ("  correct" if m.correct
                                                       else "  INCORRECT")
                    log(f"round {rnd + 1}, {rtt:g} ms: {OPS[key][0]}: {m.wall_s:.2f}s, "
                        f"{counts.turns} round trips, {counts.connections} connections, "
                        f"{m.peak_rss_mb:.0f} MB{ok}")
                    save(report())
    bench.drop_db(admin_dsn, bench.SOURCE_DB)
    return report()


class _Direct:
    """In place of the proxy for ``--direct``: no delay, nothing counted."""

    def set_delay(self, one_way_ms: float) -> None:
        assert one_way_ms == 0

    def reset_counts(self) -> Counts:
        return Counts()

    def __enter__(self) -> _Direct:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


Step = tuple[str, Callable[[], bench.Measurement]]


def round_steps(b: bench.Bench, rnd: int, ops: list[str], with_pg: bool, fc: Path,
                psm: Path) -> list[Step]:
    """One round's operations, baseline and pystream-migrate alternating."""
    steps: list[Step] = []
    if with_pg and ("dump" in ops or "pipe" in ops):
        steps.append(("pg_dump", lambda: b.pg_dump_fc(rnd, fc)))
    if "dump" in ops:
        steps.append(("dump", lambda: b.psm_dump(rnd, psm)))
    if with_pg and ("restore" in ops or "pipe" in ops):
        steps.append(("pg_restore", lambda: b.pg_restore(rnd, fc, 1)))
    if "restore" in ops:
        steps.append(("restore", lambda: b.psm_restore(rnd, psm)))
    if "pipe" in ops:
        steps.append(("pipe", lambda: b.pipe(rnd)))
    return steps


def _median(xs: list[float]) -> float | None:
    return round(statistics.median(xs), 3) if xs else None


def _baseline(results: list[dict[str, Any]], rtt: float, rnd: int, key: str) -> float | None:
    def wall(k: str) -> float | None:
        return next((r["wall_s"] for r in results
                     if r["rtt_ms"] == rtt and r["round"] == rnd and r["key"] == k), None)
    if key == "pg_dump+pg_restore":
        d, r = wall("pg_dump"), wall("pg_restore")
        return d + r if d is not None and r is not None else None
    return wall(key)


# restore -v lines that end its phases (seconds since the restore started, from stderr)
PHASE_LINES = {"restoring mode": "target is in TimescaleDB restoring mode",
               "pre-data": "pre-data: ", "catalog": "extension catalog: "}


def _phases(proc: dict[str, Any]) -> dict[str, float]:
    found: dict[str, float] = {}
    for at, line in proc.get("stderr", []):
        for phase, text in PHASE_LINES.items():
            if text in line and phase not in found:
                found[phase] = at
    return found


def summarise(results: list[dict[str, Any]],
              rtts: list[tuple[float, int, int]]) -> dict[str, Any]:
    rows: dict[str, dict[str, Any]] = {}
    for key, (label, base) in OPS.items():
        per_rtt: dict[str, Any] = {}
        for rtt, _, _ in rtts:
            ms = [r for r in results if r["key"] == key and r["rtt_ms"] == rtt]
            if not ms:
                continue
            ratios = []
            for m in ms:
                bw = _baseline(results, rtt, m["round"], base) if base else None
                if bw is not None and m["wall_s"] > 0:
                    ratios.append(round(m["wall_s"] / bw, 3))
            per_rtt[f"{rtt:g}"] = {
                "wall_s": [m["wall_s"] for m in ms],
                "wall_s_median": _median([m["wall_s"] for m in ms]),
                "round_trips_median": _median([m["round_trips"] for m in ms]),
                "connections": ms[0]["connections"],
                "peak_rss_mb": max(max((p["maxrss_mb"] for p in m["procs"]), default=0)
                                   for m in ms),
                "correct": (None if ms[0]["correct"] is None
                            else f"{sum(1 for m in ms if m['correct'])}/{len(ms)}"),
                "vs_baseline_per_round": ratios,
                "vs_baseline_median": _median(ratios),
            }
            if key == "pipe":  # when the dump side exited: did the pipe hold it back?
                per_rtt[f"{rtt:g}"]["dump_side_wall_s"] = [m["procs"][0]["wall_s"] for m in ms]
                per_rtt[f"{rtt:g}"]["restore_phases_s"] = [_phases(m["procs"][1]) for m in ms]
        local = per_rtt.get(f"{rtts[0][0]:g}", {}).get("wall_s_median")
        for cell in per_rtt.values():
            cell["vs_local"] = (round(cell["wall_s_median"] / local, 2)
                                if local else None)
        if per_rtt:
            rows[key] = {"label": label, "baseline": base, "by_rtt": per_rtt}
    return rows


def markdown(report: dict[str, Any]) -> str:
    m, d, s = report["machine"], report["dataset"], report["summary"]
    rtts = [f"{r[0]:g}" for r in report["rtts"]]
    lines = [f"# Distance: pystream-migrate at {', '.join(rtts)} ms round-trip time, "
             f"-j {report['jobs']}", "",
             f"Command: `{report['command']}`  ", f"Date: {report['date']}", "",
             f"Code: commit {m['code']['commit']} (package {m['code'].get('package')})"
             + (f", uncommitted src changes in {', '.join(m['code']['src_uncommitted'])}"
                if m["code"]["src_uncommitted"] else "") + ".", "",
             f"Machine: {m['nproc']} CPUs, PostgreSQL {m['postgresql']}, TimescaleDB "
             f"{m['timescaledb']} ({m['timescaledb_license']}); load average at start "
             f"{', '.join(f'{x:.1f}' for x in m['loadavg_start'])}, at end "
             f"{', '.join(f'{x:.1f}' for x in m['loadavg_end'])}.", "",
             f"Dataset: {sum(d['rows'].values())} rows, {d['chunks']} chunks "
             f"(generate.py scale {d['scale']}).", "",
             "Rounds per RTT (pg_dump/pg_restore rounds): "
             + ", ".join(f"{r[0]:g} ms: {r[1]} ({r[2]})" for r in report["rtts"]) + ".", "",
             "| operation | RTT ms | wall s, median (rounds) | × its 0 ms time "
             "| round trips | vs baseline, same round (median; per round) | correct |",
             "| --- | ---: | --- | ---: | ---: | --- | --- |"]
    for row in s.values():
        for rtt, c in row["by_rtt"].items():
            walls = ", ".join(f"{w:.1f}" for w in c["wall_s"])
            vs = ""
            if c["vs_baseline_median"] is not None:
                vs = (f"{c['vs_baseline_median']:.3f}× of {row['baseline']} "
                      f"({', '.join(f'{x:.3f}' for x in c['vs_baseline_per_round'])})")
            label = row["label"].replace("|", "\\|")
            lines.append(f"| {label} | {rtt} | {c['wall_s_median']:.2f} ({walls}) "
                         f"| {c['vs_local'] if c['vs_local'] is not None else ''} "
                         f"| {c['round_trips_median']:.0f} | {vs} | {c['correct'] or ''} |")
    pipe = s.get("pipe", {}).get("by_rtt", {})
    if pipe:
        lines += ["", "The pipe's dump side (when `dump -f -` exited; the restore reads on):", ""]
        lines += [f"- {rtt} ms: dump side {_median(c['dump_side_wall_s']):.2f} s of "
                  f"{c['wall_s_median']:.2f} s (rounds: "
                  f"{', '.join(f'{w:.1f}' for w in c['dump_side_wall_s'])})"
                  for rtt, c in pipe.items() if c.get("dump_side_wall_s")]
        lines += ["", "Per round, seconds from the start: when the dump exited, and when the "
                  "restore had entered restoring mode, ended pre-data and loaded the catalog:",
                  "", "| RTT ms | dump exited | restoring mode | pre-data done | catalog loaded |",
                  "| ---: | ---: | ---: | ---: | ---: |"]
        lines += [f"| {rtt} | {d:.1f} | " + " | ".join(
                      f"{ph[k]:.1f}" if k in ph else "" for k in PHASE_LINES) + " |"
                  for rtt, c in pipe.items()
                  for d, ph in zip(c.get("dump_side_wall_s", []), c.get("restore_phases_s", []),
                                   strict=False)]
    if report.get("direct"):
        lines += ["", "Every tool connected straight to the server (--direct): no proxy, "
                  "round trips not counted (0 above)."]
    lines += ["", "Round trips: request/response turns counted by the proxy, summed over "
              "every connection of the operation (connection set-up included). The ratio to "
              "the baseline is pystream-migrate's time / the baseline's time in the same "
              "round: below 1 is faster. The pipe's baseline is pg_dump -Fc + serial "
              "pg_restore of that round. A pg_restore includes CREATE EXTENSION, "
              "timescaledb_pre_restore() and timescaledb_post_restore() (through the proxy); "
              "pystream-migrate restore includes its checks and ANALYZE.", ""]
    return "\n".join(lines + breakdown(report["measurements"]))


def breakdown(results: list[dict[str, Any]]) -> list[str]:
    """Round trips by statement kind (``--breakdown``), one line per measurement."""
    lines = []
    for r in results:
        if r.get("turn_kinds"):
            kinds = ", ".join(f"{k} {n}" for k, n in r["turn_kinds"].items())
            lines.append(f"- {OPS[r['key']][0]}, {r['rtt_ms']:g} ms, round {r['round'] + 1}: "
                         f"{kinds}")
    if lines:
        lines = ["Round trips by what each turn started with (`--breakdown`; \"script\": "
                 "several statements sent as one query, named by the first):", "", *lines, ""]
    return lines


if __name__ == "__main__":
    sys.exit(main())
