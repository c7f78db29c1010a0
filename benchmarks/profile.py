"""Profile pystream-migrate dump and restore with py-spy, and summarise where time goes.

    python benchmarks/profile.py --dsn SUPERUSER_DSN --source DBNAME [--jobs N]
    python benchmarks/profile.py --summarise FILE.speedscope.json

Records ``py-spy record --format speedscope`` (on-CPU samples of every thread; threads
blocked in a system call are not sampled) of ``pystream-migrate dump`` of the source and
of ``pystream-migrate restore`` of that archive into a fresh database, writes the
profiles to benchmarks/results/profile-{dump,restore}.speedscope.json (open them in
https://www.speedscope.app) and prints, per thread, the share of samples by the
innermost pystream-migrate source line and by leaf function. Needs py-spy
(``.venv/bin/pip install py-spy``) and the permission to trace a child process.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def summarise(path: Path, top: int = 12) -> str:
    doc = json.loads(path.read_text())
    frames: list[dict[str, Any]] = doc["shared"]["frames"]

    def where(i: int) -> str:
        f = frames[i]
        return f"{f['name']} ({Path(f.get('file') or '?').name}:{f.get('line')})"

    out = [f"== {path.name}"]
    for prof in doc["profiles"]:
        samples = [s for s in prof["samples"] if s]
        if len(samples) < 20:
            continue
        own: collections.Counter[str] = collections.Counter()
        leaf: collections.Counter[str] = collections.Counter()
        for s in samples:
            leaf[where(s[-1])] += 1
            mine = next((i for i in reversed(s)
                         if "pystream_migrate" in (frames[i].get("file") or "")), None)
            own[where(mine) if mine is not None else "(outside pystream_migrate)"] += 1
        n = len(samples)
        name = prof["name"].split('"')[1] if '"' in prof["name"] else prof["name"]
        out.append(f"-- thread {name or 'main'}: {n} on-CPU samples")
        out.append("   innermost pystream_migrate line:")
        out += [f"   {100 * c / n:5.1f}%  {k}" for k, c in own.most_common(top)]
        out.append("   leaf function:")
        out += [f"   {100 * c / n:5.1f}%  {k}" for k, c in leaf.most_common(top)]
    return "\n".join(out)


def record(out: Path, argv: list[str], rate: int) -> None:
    spy = shutil.which("py-spy") or str(ROOT / ".venv" / "bin" / "py-spy")
    subprocess.run([spy, "record", "-r", str(rate), "--format", "speedscope", "-o", str(out),
                    "--", *argv], check=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="py-spy profiles of dump and restore")
    p.add_argument("--dsn", help="superuser DSN (the target database is created on it)")
    p.add_argument("--source", help="database holding the generated dataset")
    p.add_argument("--jobs", type=int, default=max(2, os.cpu_count() or 2))
    p.add_argument("--rate", type=int, default=100, help="samples per second")
    p.add_argument("--out", default=str(HERE / "results"))
    p.add_argument("--summarise", nargs="*", help="only summarise these speedscope files")
    a = p.parse_args(argv)
    if a.summarise:
        for f in a.summarise:
            print(summarise(Path(f)))
        return 0
    if not (a.dsn and a.source):
        p.error("--dsn and --source are needed to record")
    from pystream_migrate.connection import with_dbname

    py = ROOT / ".venv" / "bin" / "python"
    psm = [str(py if py.exists() else Path(sys.executable)), "-m", "pystream_migrate"]
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="psm-profile-"))
    target_db = "bench_profile_target"
    try:
        archive = tmp / "db.psm"
        dump_prof, restore_prof = out / "profile-dump.speedscope.json", \
            out / "profile-restore.speedscope.json"
        record(dump_prof, [*psm, "dump", "-d", with_dbname(a.dsn, a.source), "-f",
                           str(archive), "-j", str(a.jobs), "--progress", "none"], a.rate)
        with psycopg.connect(a.dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(target_db)))
            conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(
                sql.Identifier(target_db)))
        try:
            # A failed restore (exit 1) still leaves a useful profile.
            subprocess.run([shutil.which("py-spy") or str(ROOT / ".venv" / "bin" / "py-spy"),
                            "record", "-r", str(a.rate), "--format", "speedscope", "-o",
                            str(restore_prof), "--", *psm, "restore", "-d",
                            with_dbname(a.dsn, target_db), "-f", str(archive), "-j",
                            str(a.jobs), "--progress", "none"], check=False)
        finally:
            with psycopg.connect(a.dsn, autocommit=True) as conn:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(target_db)))
        print(summarise(dump_prof))
        print(summarise(restore_prof))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
