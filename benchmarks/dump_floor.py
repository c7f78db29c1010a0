"""The floor under a pure-Python dump's time, against pg_dump -Fc in the same rounds.

    python benchmarks/dump_floor.py --dsn DSN --archive DUMP.psm [--rounds 9] [--jobs 2]
        [--pg-bindir DIR] [--out FILE.json]

``DUMP.psm`` is an archive of the same database made by the dump; its TOC names the
tables to copy and gives the entries' documents. Each round runs, each as a process of
its own, straight to the server:

- ``pg_dump -Fc``;
- **the floor**: what any dump written in Python on psycopg must do, and nothing more.
  It starts the interpreter and imports psycopg and zstandard; opens the leader and
  ``--jobs`` helper connections at once and shares the leader's snapshot; runs the
  catalog queries the dump runs (the heavy ones on the helpers, the rest in one
  pipeline on the leader), fetching every row as a tuple and keeping none; then copies
  every table of the archive in the dump's own scripts (a transaction per batch of
  small tables, one query per group of batches), throwing the bytes away. No entry is
  built, resolved, sorted, checked or written; the TOC is not encoded;
- **the floor with the TOC**: the same, and the archive's TOC documents encoded to JSON
  and compressed, in a forked child during the copy, as the dump does it;
- ``pystream_migrate dump`` itself (the package importable from this interpreter).

The floor leaves out work the dump cannot skip, so it is below any dump's time: where the
floor is not clearly under pg_dump's, parity is out of reach for a Python dump on this
machine; where it is, the difference is what the dump's own per-entry work may cost.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _copies(archive: str) -> tuple[list[list[object]], list[dict[str, object]]]:
    """The COPY specs (schema, table, columns, where, binary) and the TOC documents."""
    sys.path.insert(0, str(ROOT / "src"))
    from pystream_migrate.archive.reader import ArchiveReader

    with ArchiveReader.open(archive) as reader:
        docs = [dict(d) for d in reader.toc_by_id.values()]
    specs = [[c["schema"], c["table"], c["columns"], c.get("where"),
              (d.get("info") or {}).get("copy_format") == "binary"]
             for d in docs if (c := d.get("copy"))]
    return specs, docs


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dsn", required=True)
    p.add_argument("--archive", required=True, help="a dump of the same database")
    p.add_argument("--rounds", type=int, default=9)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--pg-bindir", default="/usr/lib/postgresql/15/bin")
    p.add_argument("--out", help="write every measurement here (JSON)")
    a = p.parse_args(argv)
    work = Path(os.environ.get("TMPDIR", "/tmp"))
    specs, docs = _copies(a.archive)
    plan = work / "dump-floor-plan.json"
    from pystream_migrate.catalog.prefetch import HEAVY_QUERIES, LEADER_QUERIES, V14_QUERIES

    # The queries the dump ran on 4000 chunks (server log, session 8): these on the
    # helpers, the rest on the leader (sequences' states are read with sequences.sql
    # and extensions_config.sql since session 10).
    heavy = [n for n in HEAVY_QUERIES if n != "types"]
    leader = [*LEADER_QUERIES, *V14_QUERIES, "types", "statistics", "views_caggs",
              "other_transforms", "timescale_unsupported", "timescale_features",
              "timescale_tiered"]
    plan.write_text(json.dumps({"copies": specs, "toc": docs, "heavy": heavy,
                                "leader": leader}))
    floor = [sys.executable, str(ROOT / "benchmarks" / "_floor_run.py"), a.dsn, str(plan),
             str(a.jobs)]
    steps = {
        "pg_dump": [str(Path(a.pg_bindir) / "pg_dump"), "-Fc", "-d", a.dsn, "-f",
                    str(work / "dump-floor.dump")],
        "floor": floor,
        "floor + TOC": [*floor, "--toc"],
        "dump": [sys.executable, "-m", "pystream_migrate", "dump", "-d", a.dsn, "-f",
                 str(work / "dump-floor.psm"), "-j", str(a.jobs), "--progress", "none"],
    }
    results: dict[str, list[float]] = {label: [] for label in steps}
    for rnd in range(a.rounds):
        for label, cmd in steps.items():
            time.sleep(0.5)  # the previous step's backends exit
            t0 = time.perf_counter()
            out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
            # The floor's own reading of the plan is no part of it.
            setup = float(out) if label.startswith("floor") else 0.0
            results[label].append(time.perf_counter() - t0 - setup)
        print(f"round {rnd + 1}: " + ", ".join(f"{label} {xs[-1]:.2f} s"
                                             for label, xs in results.items()), flush=True)
    print("| | wall, median | × pg_dump, median of rounds |")
    print("| --- | ---: | ---: |")
    for label, xs in results.items():
        ratio = statistics.median(x / pg for x, pg in zip(xs, results["pg_dump"], strict=True))
        print(f"| {label} | {statistics.median(xs):.2f} s | {ratio:.2f} |")
    if a.out:
        Path(a.out).write_text(json.dumps({"command": " ".join(sys.argv), "tables":
                                           len(specs), "entries": len(docs),
                                           "results": results}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
