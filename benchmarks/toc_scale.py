"""The restore's TOC and plan at many chunks, without a database: time and peak RSS.

    python benchmarks/toc_scale.py [--chunks 10000,100000] [--label NAME]

For each count it writes a synthetic archive shaped like the scale test's dataset (per
chunk: a TABLE with its CREATE, DROP and OWNER statements, its TABLE DATA with one row,
an INDEX; the SQL as long as a real chunk's), then, in a fresh process, does what a
restore does before and around its workers: open the archive with the TOC read into
``CompactEntry`` objects (as a restore reads it), read the footer's index, build the
scheduler's items and the scheduler, and run every item through it (no SQL). It reports
the seconds of each step and the process's peak RSS after each (VmHWM, Linux). Not a
restore: the server side, the worker connections and their buffers are left out; it
shows what the TOC and the plan cost per chunk, and that no step grows faster than the
chunks.
Writes results/toc-scale-LABEL.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def write_archive(path: Path, chunks: int) -> None:
    from pystream_migrate.archive import ArchiveWriter

    def docs() -> Any:
        yield {"id": 1, "kind": "SCHEMA", "schema": None, "name": "s", "section": "pre-data",
               "create_sql": "CREATE SCHEMA s;", "deps": []}
        for c in range(chunks):
            name = f"_hyper_1_{c}_chunk"
            table = f'"_timescaledb_internal"."{name}"'
            info = {"relkind": "r", "parents": [158676], "form": "inherits",
                    "oid": 200000 + c, "hypertable_relid": 158676, "chunk": True}
            yield {"id": 2 + c, "kind": "TABLE", "schema": "_timescaledb_internal",
                   "name": name, "section": "pre-data",
                   "create_sql": f"CREATE TABLE {table} (\n    CONSTRAINT \"constraint_{c}\" "
                                 f"CHECK (((t >= '{c}'::bigint) AND (t < '{c + 1}'::bigint)))"
                                 "\n)\nINHERITS (\"public\".\"many\");",
                   "drop_sql": f"DROP TABLE {table};", "owner": "postgres",
                   "owner_sql": f'ALTER TABLE {table} OWNER TO "postgres";',
                   "acl_sql": "", "comment_sql": "", "tablespace": None, "deps": [1],
                   "copy": None, "info": info}
        for c in range(chunks):
            name = f"_hyper_1_{c}_chunk"
            yield {"id": 2 + chunks + c, "kind": "TABLE DATA",
                   "schema": "_timescaledb_internal", "name": name, "section": "data",
                   "owner": "postgres", "deps": [2 + c],
                   "copy": {"schema": "_timescaledb_internal", "table": name,
                            "columns": ["t", "v", "note"], "where": None},
                   "info": {"est_rows": 0, "hypertable_relid": 158676, "relid": 200000 + c,
                            "table_oid": 200000 + c, "est_bytes": 8192, "chunk": True}}
        for c in range(chunks):
            name = f"_hyper_1_{c}_chunk"
            yield {"id": 2 + 2 * chunks + c, "kind": "INDEX",
                   "schema": "_timescaledb_internal", "name": f"{name}_many_t_idx",
                   "section": "post-data", "owner": "postgres",
                   "create_sql": f"CREATE INDEX {name}_many_t_idx ON _timescaledb_internal."
                                 f"{name} USING btree (t DESC);",
                   "drop_sql": f'DROP INDEX "_timescaledb_internal"."{name}_many_t_idx";',
                   "deps": [2 + c], "info": {"relkind": "i", "oid": 300000 + c,
                                             "table_oid": 200000 + c}}

    with open(path, "wb") as fh:
        writer = ArchiveWriter(fh, {"tool": "toc_scale"}, docs())
        for c in range(chunks):
            with writer.open_entry(2 + chunks + c) as entry:
                entry.write(b"%d\t%d\trow %d\n" % (c, 2 * c, c))
                entry.close(rows=1)
        writer.finish({"entries": 1 + 3 * chunks})


def _peak_rss_kb() -> int:
    """This process image's peak RSS: VmHWM (ru_maxrss would include the parent's RSS at
    the fork that started this process, kept across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def measure(path: str) -> dict[str, Any]:
    """In this (fresh) process: the restore's steps before and around its workers."""
    from pystream_migrate.archive import ArchiveReader
    from pystream_migrate.restore import plan
    from pystream_migrate.restore.entry import entry_reader
    from pystream_migrate.restore.scheduler import Scheduler
    from pystream_migrate.toc import Section

    out: dict[str, Any] = {}
    started = time.perf_counter()

    def step(name: str) -> None:
        nonlocal started
        out[name] = {"s": round(time.perf_counter() - started, 2),
                     "peak_rss_mb": round(_peak_rss_kb() / 1024, 1)}
        started = time.perf_counter()

    step("start")
    reader = ArchiveReader.open(path, toc_entry=entry_reader(drop_sql=False))
    step("TOC read")
    index = reader.index()
    step("footer read")
    entries = reader.toc
    data = [e for e in entries if e.section is Section.DATA]
    post = [e for e in entries if e.section is Section.POST_DATA]
    items = plan.make_items(data, post, data, lambda e: index[e.id].raw_bytes
                            if e.id in index else 0, gated=False)
    step("items")
    scheduler = Scheduler(items)
    step("scheduler")
    ran = 0
    while not scheduler.done:
        batch = scheduler.take()
        if not batch:
            break
        for item in batch:
            scheduler.finish(item.id, True)
            ran += 1
    step(f"{ran} items run")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--chunks", default="10000,100000")
    p.add_argument("--label", default="this-machine")
    p.add_argument("--out", default=str(HERE / "results"))
    p.add_argument("--measure", help=argparse.SUPPRESS)  # the child process
    a = p.parse_args(argv)
    if a.measure:
        print(json.dumps(measure(a.measure)))
        return 0
    sys.path.insert(0, str(HERE))
    import run as bench

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in (int(x) for x in a.chunks.split(",")):
            path = Path(tmp) / f"toc-{n}.psm"
            write_archive(path, n)
            child = subprocess.run([sys.executable, __file__, "--measure", str(path)],
                                   capture_output=True, text=True, check=True)
            rows.append({"chunks": n, "archive_bytes": path.stat().st_size,
                         "steps": json.loads(child.stdout)})
            print(f"toc_scale: {n} chunks: {rows[-1]['steps']}", file=sys.stderr, flush=True)
    code = bench.code_version()
    lines = ["# The restore's TOC and plan at many chunks (no database)", "",
             f"`python benchmarks/toc_scale.py --chunks {a.chunks}`; code {code['commit']}; "
             f"{time.strftime('%Y-%m-%d %H:%M')}; 2 CPUs shared with other jobs.", "",
             "| chunks | step | s | peak RSS MB after it |", "| ---: | --- | ---: | ---: |"]
    for r in rows:
        lines += [f"| {r['chunks']} | {name} | {v['s']} | {v['peak_rss_mb']} |"
                  for name, v in r["steps"].items()]
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"toc-scale-{a.label}.json").write_text(
        json.dumps({"code": code, "runs": rows}, indent=1) + "\n")
    (out / f"toc-scale-{a.label}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
