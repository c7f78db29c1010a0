"""What a dump's and a restore's memory is made of, per chunk (tracemalloc).

    python benchmarks/memory.py --dsn DSN [--jobs 2] [--top 12] [--label NAME]

Runs ``pystream-migrate dump`` of DSN in this process under tracemalloc (to a temporary
file) and takes a snapshot at three points: the catalog read (``read_catalog`` has
returned), the archive's header written (``ArchiveWriter`` built: the TOC as JSON),
the data copied. Then it reads the archive's TOC the way restore does (each TOC
document parsed into a ``CompactEntry`` as it comes, the documents not kept) and, with
``--restore-dsn``, restores it in process and records its fullest moment. For each
point: the memory traced then, the peak since the previous point, and the allocation
sites that hold the most,
in bytes per chunk. tracemalloc sees Python's allocations only (not libpq's or zstd's)
and slows the dump down several times: read the sizes, not the times.
Writes results/memory-LABEL.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

HERE = Path(__file__).resolve().parent

from pystream_migrate import dump  # noqa: E402
from pystream_migrate.archive import ArchiveReader  # noqa: E402
from pystream_migrate.restore.entry import entry_reader  # noqa: E402

ROOT = str(HERE.parent)


class Recorder:
    def __init__(self, chunks: int, top: int) -> None:
        self.chunks = max(1, chunks)
        self.top = top
        self.points: list[dict[str, Any]] = []
        self.started = time.monotonic()

    def point(self, name: str, *, reset: bool = True) -> None:
        current, peak = tracemalloc.get_traced_memory()
        snap = tracemalloc.take_snapshot().filter_traces(
            [tracemalloc.Filter(False, tracemalloc.__file__)])
        sites = []
        for stat in snap.statistics("lineno")[: self.top]:
            frame = stat.traceback[0]
            where = frame.filename.replace(ROOT + "/", "")
            sites.append({"site": f"{where}:{frame.lineno}", "bytes": stat.size,
                          "blocks": stat.count,
                          "bytes_per_chunk": round(stat.size / self.chunks)})
        self.points.append({"point": name, "seconds": round(time.monotonic() - self.started, 1),
                            "traced_mb": round(current / 2**20, 1),
                            "peak_since_previous_mb": round(peak / 2**20, 1),
                            "traced_bytes_per_chunk": round(current / self.chunks),
                            "peak_bytes_per_chunk": round(peak / self.chunks),
                            "sites": sites})
        print(f"memory: {name}: {current / 2**20:.1f} MB traced, peak {peak / 2**20:.1f} MB "
              f"({peak / self.chunks / 1024:.1f} KB per chunk)", file=sys.stderr, flush=True)
        if reset:
            tracemalloc.reset_peak()


def _after(rec: Recorder, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        result = fn(*args, **kwargs)
        rec.point(name)
        return result
    return wrapped


def _watch_families(rec: Recorder) -> None:
    """Snapshot the catalog read at its fullest: after the object family (or the
    dependency resolution) at which the most memory is held."""
    import importlib

    from pystream_migrate import catalog

    most = [0]

    def watch(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if name == "resolve_dependencies":  # before it: the pg_depend rows are held
                check(f"catalog: before {name}")
            result = fn(*args, **kwargs)
            check(f"catalog: after {name}")
            return result
        return wrapped

    def check(label: str) -> None:
        current = tracemalloc.get_traced_memory()[0]
        if current > most[0]:
            most[0] = current
            if rec.points and rec.points[-1]["point"].startswith("catalog: "):
                rec.points.pop()  # keep only the fullest moment
            rec.point(f"{label} (the fullest moment of the catalog read)", reset=False)

    for family in catalog.FAMILIES:
        module = importlib.import_module(f"pystream_migrate.catalog.{family}")
        module.collect = watch(family, module.collect)  # type: ignore[attr-defined]
    catalog.resolve_dependencies = watch(  # type: ignore[assignment]
        "resolve_dependencies", catalog.resolve_dependencies)


def _restore_peak(rec: Recorder, archive: Path, target: str, jobs: int) -> None:
    """Restore ``archive`` into ``target`` (created) in process; a thread samples the
    traced memory twice a second and snapshots it whenever it is 2 % above the most
    seen, so the point recorded is the restore's fullest moment (within that)."""
    import threading

    from pystream_migrate import cli
    from pystream_migrate.restore.flow import restore_archive
    from pystream_migrate.restore.options import RestoreOptions

    args = cli.build_parser().parse_args(
        ["restore", "-d", target, "-f", str(archive), "-j", str(jobs), "--create",
         "--progress", "none"])
    most = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.5):
            current = tracemalloc.get_traced_memory()[0]
            if current > most[0] * 1.02:
                most[0] = current
                if rec.points and rec.points[-1]["point"].startswith("restore run"):
                    rec.points.pop()
                rec.point("restore run: its fullest moment (sampled)", reset=False)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        restore_archive(RestoreOptions.from_args(args))
    finally:
        done.set()
        sampler.join()
    rec.point("restore finished")


def measure(dsn: str, jobs: int, top: int, target: str | None = None) -> dict[str, Any]:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT count(*) FROM timescaledb_information.chunks").fetchone()
    chunks = int(row[0]) if row else 0
    rec = Recorder(chunks, top)
    writer_cls = dump.ArchiveWriter

    class Writer(writer_cls):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            rec.point("header and TOC written (the TOC as JSON documents still alive)")

    _watch_families(rec)
    dump.read_catalog = _after(rec, "catalog read", dump.read_catalog)  # type: ignore[assignment]
    dump.ArchiveWriter = Writer  # type: ignore[misc]
    dump.copy_all = _after(rec, "data copied", dump.copy_all)  # type: ignore[assignment]
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "db.psm"
        tracemalloc.start(1)
        rec.point("start")
        dump.dump_database(dump.DumpOptions(dsn=dsn, file=str(archive), jobs=jobs))
        rec.point("dump finished")
        tracemalloc.stop()
        tracemalloc.start(1)
        # As restore reads it: each TOC document becomes a CompactEntry as it is parsed.
        with ArchiveReader.open(archive, toc_entry=entry_reader()) as reader:
            rec.point(f"restore: archive header read, {len(reader.toc)} CompactEntry objects")
        tracemalloc.stop()
        if target:
            tracemalloc.start(1)
            _restore_peak(rec, archive, target, jobs)
            tracemalloc.stop()
    return {"chunks": chunks, "jobs": jobs, "points": rec.points}


def markdown(report: dict[str, Any]) -> str:
    lines = [f"# Memory per chunk: {report['chunks']} chunks (tracemalloc)", "",
             f"Command: `{report['command']}`; {report['date']}; code {report['code']}.", "",
             "| point | traced MB | peak since previous MB | traced B/chunk "
             "| peak B/chunk |", "| --- | ---: | ---: | ---: | ---: |"]
    for p in report["points"]:
        lines.append(f"| {p['point']} | {p['traced_mb']} | {p['peak_since_previous_mb']} "
                     f"| {p['traced_bytes_per_chunk']} | {p['peak_bytes_per_chunk']} |")
    for p in report["points"]:
        if p["point"] == "start":
            continue
        lines += ["", f"## {p['point']}", "", "| allocation site | MB | blocks | B/chunk |",
                  "| --- | ---: | ---: | ---: |"]
        lines += [f"| {s['site']} | {s['bytes'] / 2**20:.1f} | {s['blocks']} "
                  f"| {s['bytes_per_chunk']} |" for s in p["sites"]]
    lines += ["", "Sizes are Python allocations traced by tracemalloc, by the line that made "
              "them (not libpq's or zstd's buffers); RSS adds the interpreter, the modules and "
              "allocator slack.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--dsn", required=True, help="the source database to dump")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--top", type=int, default=12, help="allocation sites per point")
    p.add_argument("--restore-dsn", metavar="DSN",
                   help="also restore the dump in process into this database (created; "
                        "it must not exist) and record the restore's fullest moment")
    p.add_argument("--label", default="this-machine")
    p.add_argument("--out", default=str(HERE / "results"))
    a = p.parse_args(argv)
    sys.path.insert(0, str(HERE))
    import run as bench  # the commit measured

    report = measure(a.dsn, a.jobs, a.top, a.restore_dsn)
    code = bench.code_version()
    report |= {"command": "python benchmarks/memory.py " + " ".join(
        x for x in (argv if argv is not None else sys.argv[1:]) if not x.startswith("host=")),
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "code": code["commit"] + (" + uncommitted " + ", ".join(code["src_uncommitted"])
                                  if code["src_uncommitted"] else "")}
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"memory-{a.label}.json").write_text(json.dumps(report, indent=1) + "\n")
    text = markdown(report)
    (out / f"memory-{a.label}.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
