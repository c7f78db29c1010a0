"""Benchmark pystream-migrate against pg_dump / pg_restore, in one command.

    python benchmarks/run.py [--scale S] [--runs K] [--jobs N] [--dsn SUPERUSER_DSN]

Starts a throwaway local PostgreSQL + TimescaleDB cluster (or uses ``--dsn``), generates
the dataset once (benchmarks/generate.py), then runs K rounds; each round runs every
operation once, baseline and pystream-migrate alternating (A B A B). Every restore goes
into a fresh empty database and is verified with
``pystream_migrate.verify.compare_databases``. Results: benchmarks/results/LABEL-scaleS.json
and .md. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

import psycopg
from psycopg import sql

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import generate  # noqa: E402
from pystream_migrate import verify  # noqa: E402
from pystream_migrate.connection import with_dbname  # noqa: E402
from pystream_migrate.localcluster import LocalCluster  # noqa: E402

RSS_LIMIT_MB = 300.0
SETTLE_LIMIT_S = 60.0  # the longest wait for autovacuum between two steps
SOURCE_DB = "bench_source"


# --------------------------------------------------------------------------- processes
@dataclass
class ProcResult:
    name: str
    rc: int
    wall_s: float
    user_s: float
    sys_s: float
    maxrss_mb: float
    stderr: list[tuple[float, str]] = field(default_factory=list)  # (seconds since start, line)


class Child:
    """A child process whose rusage is collected with os.wait4 and stderr timestamped."""

    def __init__(self, name: str, argv: list[str], *, stdin: IO[bytes] | int | None = None,
                 stdout: IO[bytes] | int | None = subprocess.DEVNULL,
                 env: dict[str, str] | None = None) -> None:
        self.name = name
        self.started = time.monotonic()
        self.proc = subprocess.Popen(argv, stdin=stdin, stdout=stdout, stderr=subprocess.PIPE,
                                     env=env)
        self.lines: list[tuple[float, str]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            self.lines.append((round(time.monotonic() - self.started, 3),
                               raw.decode("utf-8", "replace").rstrip()))

    def reap(self) -> ProcResult:
        _, status, ru = os.wait4(self.proc.pid, 0)
        wall = time.monotonic() - self.started
        self.proc.returncode = os.waitstatus_to_exitcode(status)
        self._reader.join(timeout=10)
        return ProcResult(self.name, self.proc.returncode, round(wall, 3), ru.ru_utime,
                          ru.ru_stime, round(ru.ru_maxrss / 1024, 1), self.lines[-40:])


def run_child(name: str, argv: list[str], env: dict[str, str] | None = None) -> ProcResult:
    return Child(name, argv, env=env).reap()


# --------------------------------------------------------------------------- databases
def admin(dsn: str) -> psycopg.Connection:
    return psycopg.connect(dsn, autocommit=True)


def recreate_db(admin_dsn: str, name: str) -> str:
    with admin(admin_dsn) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(
            sql.Identifier(name)))
    return with_dbname(admin_dsn, name)


def drop_db(admin_dsn: str, name: str) -> None:
    with admin(admin_dsn) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(name)))


def cache_source_fingerprints(source_dsn: str) -> None:
    """The source never changes during a benchmark: fingerprint it once, not per verify."""
    original = verify.database_fingerprints
    cache: dict[tuple[str, bool], dict[str, verify.TableFingerprint]] = {}

    def cached(dsn: str, jobs: int = 2,
               logical: bool = False) -> dict[str, verify.TableFingerprint]:
        if dsn != source_dsn:
            return original(dsn, jobs, logical)
        if (dsn, logical) not in cache:
            cache[dsn, logical] = original(dsn, jobs, logical)
        return cache[dsn, logical]

    verify.database_fingerprints = cached  # type: ignore[assignment]


# --------------------------------------------------------------------------- one measurement
@dataclass
class Measurement:
    op: str
    run: int
    wall_s: float
    cpu_s: float  # user + sys of the client processes (not the server's backends)
    procs: list[ProcResult]
    archive_bytes: int | None = None
    data_ok: bool | None = None  # compare_databases found no difference
    diffs: list[str] = field(default_factory=list)
    exit_ok: bool | None = None  # every tool process exited 0
    notes: list[str] = field(default_factory=list)
    round_trips: int | None = None  # request/response turns through a delay proxy, if any

    @property
    def correct(self) -> bool | None:
        if self.data_ok is None:
            return None
        return bool(self.data_ok and self.exit_ok)

    @property
    def peak_rss_mb(self) -> float:
        return max((p.maxrss_mb for p in self.procs), default=0.0)


def measured(op: str, run: int, procs: list[ProcResult], wall: float,
             archive_bytes: int | None = None) -> Measurement:
    cpu = sum(p.user_s + p.sys_s for p in procs)
    return Measurement(op, run, round(wall, 3), round(cpu, 3), procs, archive_bytes,
                       exit_ok=all(p.rc == 0 for p in procs))


def size_of(path: Path) -> int:
    if path.is_dir():
        return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return path.stat().st_size


class Bench:
    """Runs each operation. ``route`` maps a database's DSN to the one the tools use (the
    latency benchmark sends them through a delay proxy); checks always connect directly."""

    def __init__(self, admin_dsn: str, jobs: int, workdir: Path, pg_bindir: Path | None,
                 route: Callable[[str], str] | None = None) -> None:
        self.admin_dsn = admin_dsn
        self.route: Callable[[str], str] = route or (lambda dsn: dsn)
        self.source = with_dbname(admin_dsn, SOURCE_DB)
        self.jobs = jobs
        self.work = workdir
        self.pg = pg_bindir
        py = ROOT / ".venv" / "bin" / "python"
        self.psm = [str(py if py.exists() else Path(sys.executable)), "-m", "pystream_migrate"]
        self.target_seq = 0
        # Byte-compiled, as pip installs it: where PYTHONDONTWRITEBYTECODE is set (this
        # workplace's machines), every run would compile the package again, ~0.12 s.
        compileall.compile_dir(str(ROOT / "src"), quiet=1)

    def pg_tool(self, name: str) -> str:
        assert self.pg is not None
        return str(self.pg / name)

    def fresh_target(self) -> tuple[str, str]:
        self.target_seq += 1
        name = f"bench_target_{self.target_seq}"
        return name, recreate_db(self.admin_dsn, name)

    def settle(self) -> None:
        """Let the server finish what the previous step left behind (dirty buffers, the
        autovacuum of tables just loaded), so that it does not run during the next step."""
        deadline = time.monotonic() + SETTLE_LIMIT_S
        with admin(self.admin_dsn) as conn:
            conn.execute("CHECKPOINT")
            while time.monotonic() < deadline:
                busy = conn.execute("SELECT count(*) FROM pg_catalog.pg_stat_activity "
                                    "WHERE backend_type = 'autovacuum worker'").fetchone()
                if not busy or not busy[0]:
                    break
                time.sleep(0.5)

    def check(self, m: Measurement, target_name: str, target: str) -> Measurement:
        diffs = verify.compare_databases(self.source, target, jobs=self.jobs)
        m.data_ok = not diffs
        m.diffs = diffs[:20] + ([f"... {len(diffs) - 20} more"] if len(diffs) > 20 else [])
        for p in m.procs:
            if p.rc != 0:
                errs = [line for _, line in p.stderr if "error" in line.lower()]
                m.notes.append(f"{p.name} exited {p.rc}: " + " | ".join(errs[:3]))
        drop_db(self.admin_dsn, target_name)
        return m

    # ---- dumps
    def pg_dump_fc(self, run: int, out: Path) -> Measurement:
        out.unlink(missing_ok=True)
        p = run_child("pg_dump", [self.pg_tool("pg_dump"), "-Fc", "-f", str(out),
                                  "-d", self.route(self.source)])
        return measured("pg_dump -Fc", run, [p], p.wall_s, size_of(out))

    def pg_dump_fd(self, run: int, out: Path) -> Measurement:
        shutil.rmtree(out, ignore_errors=True)
        p = run_child("pg_dump", [self.pg_tool("pg_dump"), "-Fd", "-j", str(self.jobs),
                                  "-f", str(out), "-d", self.route(self.source)])
        return measured(f"pg_dump -Fd -j {self.jobs}", run, [p], p.wall_s, size_of(out))

    def psm_dump(self, run: int, out: Path) -> Measurement:
        out.unlink(missing_ok=True)
        p = run_child("pystream-migrate dump",
                      [*self.psm, "dump", "-d", self.route(self.source), "-f", str(out),
                       "-j", str(self.jobs), "--progress", "none", "-v"])
        return measured(f"pystream-migrate dump -j {self.jobs}", run, [p], p.wall_s,
                        size_of(out) if out.exists() else None)

    # ---- restores
    def _pg_restore_into(self, target: str, archive: Path, jobs: int) -> ProcResult:
        """CREATE EXTENSION, timescaledb_pre_restore(), pg_restore, timescaledb_post_restore()."""
        with admin(self.route(target)) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
            conn.execute("SELECT timescaledb_pre_restore()")
        argv = [self.pg_tool("pg_restore"), "-d", self.route(target)]
        if jobs > 1:
            argv += ["-j", str(jobs)]
        p = run_child("pg_restore", [*argv, str(archive)])
        with admin(self.route(target)) as conn:
            conn.execute("SELECT timescaledb_post_restore()")
        return p

    def pg_restore(self, run: int, archive: Path, jobs: int) -> Measurement:
        name, target = self.fresh_target()
        started = time.monotonic()
        p = self._pg_restore_into(target, archive, jobs)
        op = "pg_restore" if jobs <= 1 else f"pg_restore -j {jobs}"
        return self.check(measured(op, run, [p], time.monotonic() - started), name, target)

    def psm_restore(self, run: int, archive: Path, *, analyze: bool = True) -> Measurement:
        name, target = self.fresh_target()
        extra = [] if analyze else ["--no-analyze"]
        p = run_child("pystream-migrate restore",
                      [*self.psm, "restore", "-d", self.route(target), "-f", str(archive),
                       "-j", str(self.jobs), "--progress", "none", "-v", *extra])
        return self.check(measured(" ".join([f"pystream-migrate restore -j {self.jobs}",
                                             *extra]), run, [p], p.wall_s), name, target)

    # ---- end to end
    def pipe(self, run: int) -> Measurement:
        name, target = self.fresh_target()
        started = time.monotonic()
        dump = Child("dump -f -", [*self.psm, "dump", "-d", self.route(self.source), "-f", "-",
                                   "-j", str(self.jobs), "--progress", "none", "-v"],
                     stdout=subprocess.PIPE)
        assert dump.proc.stdout is not None
        restore = Child("restore -f -", [*self.psm, "restore", "-d", self.route(target), "-f", "-",
                                         "-j", str(self.jobs), "--progress", "none", "-v"],
                        stdin=dump.proc.stdout)
        dump.proc.stdout.close()  # only the restore holds the read end now
        procs = [dump.reap(), restore.reap()]
        m = measured(f"pystream-migrate dump | restore -j {self.jobs}", run, procs,
                     time.monotonic() - started)
        return self.check(m, name, target)

    def back_to_back(self, run: int, out: Path) -> Measurement:
        name, target = self.fresh_target()
        out.unlink(missing_ok=True)
        started = time.monotonic()
        d = run_child("pg_dump", [self.pg_tool("pg_dump"), "-Fc", "-f", str(out),
                                  "-d", self.route(self.source)])
        r = self._pg_restore_into(target, out, 1)
        m = measured("pg_dump -Fc; pg_restore", run, [d, r], time.monotonic() - started,
                     size_of(out))
        return self.check(m, name, target)


# --------------------------------------------------------------------------- reporting
TARGETS = [
    # (key, description, numerator op key, denominator op key, kind, threshold)
    ("dump_vs_fc", "dump >= 2x faster than pg_dump -Fc", "fc", "psm_dump", "speedup", 2.0),
    ("dump_vs_fd", "dump no slower than pg_dump -Fd -j N", "fd", "psm_dump", "speedup", 1.0),
    ("size_vs_fc", "archive no larger than pg_dump -Fc's", "psm_dump", "fc", "size", 1.0),
    ("restore_vs_serial", "restore >= 2x faster than serial pg_restore", "pgr", "psm_restore",
     "speedup", 2.0),
    ("pipe_vs_b2b", "pipe >= 2x faster than pg_dump -Fc + pg_restore", "b2b", "pipe",
     "speedup", 2.0),
    # Not a target of its own: the same work as pg_restore, which runs no ANALYZE.
    ("restore_same_work_vs_serial", "restore --no-analyze >= 2x faster than serial "
     "pg_restore (the same work)", "pgr", "psm_restore_same_work", "speedup", 2.0),
]


def machine_info(dsn: str, pg_bindir: Path | None) -> dict[str, Any]:
    cpu = "unknown"
    with open("/proc/cpuinfo", encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    with open("/proc/meminfo", encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    with admin(dsn) as conn:
        pg_version = str(conn.execute("SHOW server_version").fetchone()[0])  # type: ignore[index]
        settings = dict(conn.execute(
            "SELECT name, setting FROM pg_settings WHERE name IN ('shared_buffers', "
            "'max_locks_per_transaction', 'fsync', 'synchronous_commit', "
            "'max_wal_size', 'maintenance_work_mem')").fetchall())
    with admin(with_dbname(dsn, SOURCE_DB)) as conn:
        row = conn.execute("SELECT extversion FROM pg_extension WHERE extname = "
                           "'timescaledb'").fetchone()
        lic = generate.license_of(conn)
    pg_dump_version = None
    if pg_bindir is not None:
        pg_dump_version = subprocess.run([str(pg_bindir / "pg_dump"), "--version"],
                                         capture_output=True, text=True).stdout.strip()
    return {
        "code": code_version(),
        "nproc": os.cpu_count(),
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "cpu_model": cpu,
        "postgresql": pg_version,
        "timescaledb": row[0] if row else None,
        "timescaledb_license": lic,
        "python": platform.python_version(),
        "pg_dump": pg_dump_version,
        "server_settings": settings,
        "loadavg_start": os.getloadavg(),
    }


def code_version() -> dict[str, Any]:
    """The commit measured, and the files of src/ that differ from it (if any)."""
    def git(*args: str) -> str:
        res = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True)
        return res.stdout if res.returncode == 0 else ""

    dirty = [line[3:] for line in git("status", "--porcelain", "--", "src").splitlines()
             if len(line) > 3]
    import pystream_migrate  # the package the tools run (PYTHONPATH may point elsewhere)

    return {"commit": git("rev-parse", "--short", "HEAD").strip() or None,
            "src_uncommitted": dirty,
            "package": str(Path(pystream_migrate.__file__).parent)}


def median(values: list[float]) -> float | None:
    return round(statistics.median(values), 3) if values else None


def summarise(results: list[Measurement], keys: dict[str, str], runs: int) -> dict[str, Any]:
    by_op: dict[str, list[Measurement]] = {}
    for m in results:
        by_op.setdefault(m.op, []).append(m)
    ops = {}
    for op, ms in by_op.items():
        walls = [m.wall_s for m in ms]
        ops[op] = {
            "runs": len(ms),
            "wall_s_median": median(walls),
            "wall_s_min": min(walls),
            "wall_s_max": max(walls),
            "cpu_s_median": median([m.cpu_s for m in ms]),
            "peak_rss_mb_max": max(m.peak_rss_mb for m in ms),
            "peak_rss_mb_per_process": {p.name: max(x.maxrss_mb for m in ms for x in m.procs
                                                    if x.name == p.name)
                                        for p in ms[0].procs},
            "archive_bytes_median": median([m.archive_bytes for m in ms
                                            if m.archive_bytes is not None]),
            "correct": (None if ms[0].correct is None
                        else f"{sum(1 for m in ms if m.correct)}/{len(ms)}"),
            "data_ok": (None if ms[0].data_ok is None
                        else f"{sum(1 for m in ms if m.data_ok)}/{len(ms)}"),
            "exit_ok": f"{sum(1 for m in ms if m.exit_ok)}/{len(ms)}",
        }
    targets = []
    for key, desc, num, den, kind, threshold in TARGETS:
        if num not in keys or den not in keys:
            targets.append({"key": key, "target": desc, "status": "n/a",
                            "reason": "pg_dump/pg_restore not available"})
            continue
        per_run = []
        for r in range(runs):
            a = next((m for m in results if m.op == keys[num] and m.run == r), None)
            b = next((m for m in results if m.op == keys[den] and m.run == r), None)
            if a is None or b is None:
                continue
            if kind == "size":
                if a.archive_bytes and b.archive_bytes:
                    per_run.append(a.archive_bytes / b.archive_bytes)
            elif b.wall_s > 0:
                per_run.append(a.wall_s / b.wall_s)
        ratio = median(per_run)
        if ratio is None:
            ok = False
        elif kind == "size":
            ok = ratio <= threshold
        else:
            ok = ratio >= threshold
        # A time only counts when the result is right: a restore that stopped early is fast.
        tool = keys[num] if kind == "size" else keys[den]
        wrong = sum(1 for m in results if m.op == tool and m.correct is False)
        entry = {"key": key, "target": desc, "ratio_median": ratio,
                 "ratio_per_run": [round(x, 3) for x in per_run],
                 "threshold": threshold, "status": "PASS" if ok and not wrong else "MISS"}
        if wrong:
            entry["reason"] = (f"pystream-migrate's result was incorrect in {wrong} run(s): "
                               "its time does not count")
        targets.append(entry)
    psm_ops = [keys[k] for k in ("psm_dump", "psm_restore", "psm_restore_same_work", "pipe")
               if k in keys]
    rss = max((ops[o]["peak_rss_mb_max"] for o in psm_ops if o in ops), default=0.0)
    targets.append({"key": "peak_rss", "target": f"peak RSS < {RSS_LIMIT_MB:.0f} MB "
                    "(every pystream-migrate process)", "value_mb": rss,
                    "status": "PASS" if rss < RSS_LIMIT_MB else "MISS"})
    psm_restores = [m for m in results if m.op in (
        keys.get("psm_restore"), keys.get("psm_restore_same_work"), keys.get("pipe"))]
    good = all(m.correct for m in psm_restores)
    targets.append({"key": "correct", "target": "every pystream-migrate restore correct "
                    "(compare_databases clean and exit status 0)",
                    "value": f"{sum(1 for m in psm_restores if m.correct)}/{len(psm_restores)}",
                    "status": "PASS" if good else "MISS"})
    return {"ops": ops, "targets": targets}


def fmt_ratio(t: dict[str, Any]) -> str:
    if "ratio_median" in t and t["ratio_median"] is not None:
        runs = ", ".join(f"{x:.2f}" for x in t["ratio_per_run"])
        why = f"; {t['reason']}" if t.get("reason") else ""
        return f"{t['ratio_median']:.2f}x (runs: {runs}){why}"
    if "value_mb" in t:
        return f"{t['value_mb']:.0f} MB"
    if "value" in t:
        return str(t["value"])
    return t.get("reason", "")


def markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    d = report["dataset"]
    lines = [
        f"# pystream-migrate benchmark: scale {report['scale']}, -j {report['jobs']}, "
        f"{report['runs']} runs",
        "",
        f"Command: `{report['command']}`  ",
        f"Date: {report['date']}",
        "",
        f"Code: commit {m['code']['commit']}"
        + (f", with uncommitted changes in {len(m['code']['src_uncommitted'])} src files "
           f"({', '.join(m['code']['src_uncommitted'][:6])}"
           f"{', ...' if len(m['code']['src_uncommitted']) > 6 else ''})"
           if m["code"]["src_uncommitted"] else "") + ".",
        "",
        f"Machine: {m['nproc']} CPUs ({m['cpu_model']}), {m['memory_gb']} GB RAM; "
        f"PostgreSQL {m['postgresql']}, TimescaleDB {m['timescaledb']} "
        f"({m['timescaledb_license']} edition); Python {m['python']}; "
        f"{m['pg_dump'] or 'no pg_dump'}; "
        f"load average at start {', '.join(f'{x:.2f}' for x in m['loadavg_start'])}, "
        f"at end {', '.join(f'{x:.2f}' for x in m['loadavg_end'])}.",
        "",
        f"Dataset: {sum(d['rows'].values())} rows "
        f"({', '.join(f'{k} {v}' for k, v in d['rows'].items())}), {d['chunks']} chunks, "
        f"{d['database_bytes'] / 1e6:.0f} MB on disk; generated in {d['seconds']}s.",
    ]
    lines += [f"Skipped: {s}" for s in d["skipped"]]
    lines += ["", "## Targets (ratios measured within the same round; median over rounds)", "",
              "| target | measured | result |", "| --- | --- | --- |"]
    for t in report["summary"]["targets"]:
        lines.append(f"| {t['target']} | {fmt_ratio(t)} | **{t['status']}** |")
    lines += ["", "## Operations", "",
              "| operation | wall s (median) | min - max | client CPU s | peak RSS MB "
              "| archive MB | correct | data / exit |",
              "| --- | ---: | ---: | ---: | ---: | ---: | --- | --- |"]
    for op, s in report["summary"]["ops"].items():
        arch = (f"{s['archive_bytes_median'] / 1e6:.1f}" if s["archive_bytes_median"]
                else "")
        rss = ", ".join(f"{k} {v:.0f}" for k, v in s["peak_rss_mb_per_process"].items())
        lines.append(
            f"| {op} | {s['wall_s_median']:.2f} | {s['wall_s_min']:.2f} - {s['wall_s_max']:.2f} "
            f"| {s['cpu_s_median']:.2f} | {rss} | {arch} | {s['correct'] or ''} "
            f"| {s['data_ok'] or '-'} / {s['exit_ok']} |")
    notes = sorted({f"{x['op']}: {n}" for x in report["measurements"] for n in x["notes"]})
    diffs = sorted({f"{x['op']}: {dl}" for x in report["measurements"] for dl in x["diffs"]})
    if notes or diffs:
        lines += ["", "## Problems seen", ""]
        lines += [f"- {n}" for n in notes[:30]]
        lines += [f"- {dl}" for dl in diffs[:30]]
    lines += ["", "Wall time of a pg_restore includes CREATE EXTENSION, "
              "timescaledb_pre_restore() and timescaledb_post_restore(); pystream-migrate "
              "restore includes its own checks and ANALYZE. CPU is the client processes' "
              "user+sys (os.wait4), not the server's.", ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------- main
@contextmanager
def server(dsn: str | None) -> Iterator[str]:
    if dsn:
        yield dsn
        return
    with LocalCluster() as cluster:
        yield cluster.dsn()


def find_pg_bindir(explicit: str | None) -> Path | None:
    if explicit:
        return Path(explicit)
    found = shutil.which("pg_dump")
    if found and shutil.which("pg_restore"):
        return Path(found).parent
    return None


def stop_cleanly_on_signals() -> None:
    """SIGTERM and SIGINT (ignored in background jobs) unwind, so the cluster is stopped."""
    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def main(argv: list[str] | None = None) -> int:
    stop_cleanly_on_signals()
    p = argparse.ArgumentParser(description="pystream-migrate vs pg_dump/pg_restore")
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--chunks", type=int, default=4000,
                   help="chunks of the many-chunks hypertable (default 4000)")
    p.add_argument("--no-fk-to-hypertable", action="store_true",
                   help="leave out the dataset's foreign key that references a hypertable")
    p.add_argument("--runs", type=int, default=3, help="rounds (default 3)")
    p.add_argument("--jobs", type=int, default=max(2, os.cpu_count() or 2),
                   help="-j for the parallel tools (default: nproc)")
    p.add_argument("--dsn", help="an existing superuser DSN instead of a throwaway cluster "
                   f"(database {SOURCE_DB} and bench_target_* are created and dropped on it)")
    p.add_argument("--pg-bindir", help="where pg_dump/pg_restore are (default: PATH)")
    p.add_argument("--no-pg", action="store_true", help="run pystream-migrate only")
    p.add_argument("--label", default="this-machine", help="results file name prefix")
    p.add_argument("--out", default=str(HERE / "results"))
    a = p.parse_args(argv)
    if not 1 <= a.runs <= 20:
        p.error("--runs must be between 1 and 20")
    pg_bindir = None if a.no_pg else find_pg_bindir(a.pg_bindir)
    if pg_bindir is None:
        print("run: pg_dump/pg_restore not found: measuring pystream-migrate only",
              file=sys.stderr)
    work = HERE / "work" / f"run-{os.getpid()}"
    work.mkdir(parents=True, exist_ok=True)
    command = "python benchmarks/run.py " + " ".join(argv if argv is not None else sys.argv[1:])
    try:
        with server(a.dsn) as admin_dsn:
            report = bench(a, admin_dsn, pg_bindir, work, command.strip())
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    scale = f"{a.scale:g}"
    stem = f"{a.label}-scale{scale}"
    (out / f"{stem}.json").write_text(json.dumps(report, indent=1, default=str) + "\n")
    (out / f"{stem}.md").write_text(markdown(report))
    print(f"\nresults: {out / stem}.json and .md\n")
    for t in report["summary"]["targets"]:
        print(f"  {t['status']:4}  {t['target']}: {fmt_ratio(t)}")
    return 0


def bench(a: argparse.Namespace, admin_dsn: str, pg_bindir: Path | None, work: Path,
          command: str) -> dict[str, Any]:
    def log(msg: str) -> None:
        print(f"run: {msg}", file=sys.stderr, flush=True)

    source = recreate_db(admin_dsn, SOURCE_DB)
    log(f"generating scale {a.scale} into {SOURCE_DB}")
    dataset = generate.generate(source, a.scale, a.chunks,
                                fk_to_hypertable=not a.no_fk_to_hypertable)
    machine = machine_info(admin_dsn, pg_bindir)
    cache_source_fingerprints(source)
    b = Bench(admin_dsn, a.jobs, work, pg_bindir)
    fc, fd, psm = work / "db.dump", work / "db.dir", work / "db.psm"
    j = a.jobs
    keys = {"psm_dump": f"pystream-migrate dump -j {j}",
            "psm_restore": f"pystream-migrate restore -j {j}",
            "psm_restore_same_work": f"pystream-migrate restore -j {j} --no-analyze",
            "pipe": f"pystream-migrate dump | restore -j {j}"}
    if pg_bindir is not None:
        keys |= {"fc": "pg_dump -Fc", "fd": f"pg_dump -Fd -j {j}", "pgr": "pg_restore",
                 "b2b": "pg_dump -Fc; pg_restore"}
    results: list[Measurement] = []
    for run in range(a.runs):
        steps: list[Callable[[], Measurement]] = []
        if pg_bindir is not None:
            # Baseline (A) and pystream-migrate (B) alternate: A B A B ...
            steps += [lambda r=run: b.pg_dump_fc(r, fc), lambda r=run: b.psm_dump(r, psm),
                      lambda r=run: b.pg_dump_fd(r, fd), lambda r=run: b.pg_restore(r, fc, 1),
                      lambda r=run: b.psm_restore(r, psm),
                      lambda r=run: b.pg_restore(r, fc, j),
                      lambda r=run: b.psm_restore(r, psm, analyze=False),
                      lambda r=run: b.back_to_back(r, fc), lambda r=run: b.pipe(r)]
        else:
            steps += [lambda r=run: b.psm_dump(r, psm), lambda r=run: b.psm_restore(r, psm),
                      lambda r=run: b.psm_restore(r, psm, analyze=False),
                      lambda r=run: b.pipe(r)]
        for step in steps:
            b.settle()
            m = step()
            results.append(m)
            status = "" if m.correct is None else ("  correct" if m.correct else
                                                   f"  INCORRECT ({len(m.diffs)} diffs, "
                                                   f"exit ok: {m.exit_ok})")
            log(f"round {run + 1}/{a.runs}: {m.op}: {m.wall_s:.2f}s wall, {m.cpu_s:.2f}s CPU, "
                f"{m.peak_rss_mb:.0f} MB RSS"
                + (f", {m.archive_bytes / 1e6:.1f} MB" if m.archive_bytes else "") + status)
    machine["loadavg_end"] = os.getloadavg()
    drop_db(admin_dsn, SOURCE_DB)
    return {
        "command": command,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "scale": a.scale,
        "jobs": j,
        "runs": a.runs,
        "machine": machine,
        "dataset": dataset,
        "summary": summarise(results, keys, a.runs),
        "measurements": [asdict(m) | {"correct": m.correct, "peak_rss_mb": m.peak_rss_mb}
                         for m in results],
    }


if __name__ == "__main__":
    sys.exit(main())
