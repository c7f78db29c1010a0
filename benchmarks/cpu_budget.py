"""CPU budget of a dump against pg_dump -Fc: wall time, client CPU and server CPU.

    python benchmarks/cpu_budget.py --dsn DSN --datadir PGDATA [--rounds 9]
        [--pg-bindir DIR] [--jobs 2] [--out FILE.json] LABEL=SRC_DIR [LABEL=SRC_DIR ...]

Each round runs pg_dump -Fc, then ``python -m pystream_migrate dump`` once per LABEL with
``PYTHONPATH=SRC_DIR`` (a copy of some commit's ``src``, byte-compiled first), all
straight to the server. Client CPU is the tool's own process and its children (the dump's
header child); server CPU is what the server's backends used: the postmaster's reaped
children's time (``/proc/PID/stat`` cutime + cstime, read before and after; the backends
exit when the tool disconnects). The server must be local, and otherwise idle (an
autovacuum worker that ends during a step is counted too).

On a machine of N cores, (client + server CPU) / N bounds the wall time from below
however well the work overlaps: the budget says whether a ratio is out of reach.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path


def server_cpu(postmaster: int) -> float:
    """Seconds of CPU the postmaster's exited children used so far."""
    fields = Path(f"/proc/{postmaster}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")


def measure(cmd: list[str], env: dict[str, str], postmaster: int) -> dict[str, float]:
    time.sleep(0.5)  # let the previous step's backends exit
    s0, c0 = server_cpu(postmaster), resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    time.sleep(0.3)
    client = c1.ru_utime - c0.ru_utime + c1.ru_stime - c0.ru_stime
    return {"wall": wall, "client_cpu": client, "server_cpu": server_cpu(postmaster) - s0}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dsn", required=True, help="the source database")
    p.add_argument("--datadir", required=True, help="the server's data directory")
    p.add_argument("--rounds", type=int, default=9)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--pg-bindir", default="/usr/lib/postgresql/15/bin")
    p.add_argument("--out", help="write every measurement here (JSON)")
    p.add_argument("code", nargs="+", metavar="LABEL=SRC_DIR")
    a = p.parse_args(argv)
    postmaster = int((Path(a.datadir) / "postmaster.pid").read_text().split()[0])
    work = Path(os.environ.get("TMPDIR", "/tmp"))
    steps: dict[str, tuple[list[str], dict[str, str]]] = {
        "pg_dump": ([str(Path(a.pg_bindir) / "pg_dump"), "-Fc", "-d", a.dsn, "-f",
                     str(work / "cpu-budget.dump")], dict(os.environ))}
    for spec in a.code:
        label, src = spec.split("=", 1)
        compileall.compile_dir(src, quiet=1)  # as installed: see README
        steps[label] = ([sys.executable, "-m", "pystream_migrate", "dump", "-d", a.dsn,
                         "-f", str(work / f"cpu-budget-{label}.psm"), "-j", str(a.jobs),
                         "--progress", "none"], dict(os.environ, PYTHONPATH=src))
    results: dict[str, list[dict[str, float]]] = {label: [] for label in steps}
    for rnd in range(a.rounds):
        for label, (cmd, env) in steps.items():
            results[label].append(measure(cmd, env, postmaster))
        print(f"round {rnd + 1}: " + ", ".join(
            f"{label} {results[label][-1]['wall']:.2f} s" for label in steps), flush=True)
    print("| | wall, median | × pg_dump, median of rounds | client CPU | server CPU | total CPU |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for label, xs in results.items():
        def med(key: str, xs: list[dict[str, float]] = xs) -> float:
            return statistics.median(x[key] for x in xs)
        ratio = statistics.median(x["wall"] / pg["wall"]
                                  for x, pg in zip(xs, results["pg_dump"], strict=True))
        total = statistics.median(x["client_cpu"] + x["server_cpu"] for x in xs)
        print(f"| {label} | {med('wall'):.2f} s | {ratio:.2f} | {med('client_cpu'):.2f} s "
              f"| {med('server_cpu'):.2f} s | {total:.2f} s |")
    if a.out:
        Path(a.out).write_text(json.dumps({"command": " ".join(sys.argv),
                                           "results": results}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
