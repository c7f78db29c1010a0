"""The demo: a throwaway local server, sample data, dump, restore, verify, report."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import psycopg

from pystream_migrate.errors import MigrateError
from pystream_migrate.localcluster import LocalCluster
from pystream_migrate.sample import load_sample


def say(text: str) -> None:
    print(f"demo: {text}", file=sys.stderr, flush=True)


def run_demo(args: argparse.Namespace) -> int:
    from pystream_migrate import dump, restore

    with LocalCluster() as cluster, tempfile.TemporaryDirectory() as tmp:
        say(f"started a throwaway PostgreSQL + TimescaleDB server on 127.0.0.1:{cluster.port}")
        with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
            conn.execute("CREATE DATABASE demo_source")
            conn.execute("CREATE DATABASE demo_target")
        source, target = cluster.dsn("demo_source"), cluster.dsn("demo_target")
        load_sample(source)
        with psycopg.connect(source) as conn:
            rows = conn.execute("SELECT count(*) FROM public.metrics").fetchone()[0]
            chunks = conn.execute(
                "SELECT count(*) FROM show_chunks('public.metrics')"
            ).fetchone()[0]
        say(f"loaded sample data: hypertable public.metrics, {rows} rows in {chunks} chunks")
        archive = Path(tmp) / "demo.psm"
        steps = [
            ("dump", lambda: dump.run_dump(argparse.Namespace(dbname=source, file=str(archive),
                                                             jobs=args.jobs))),
            ("restore", lambda: restore.run_restore(argparse.Namespace(
                dbname=target, file=str(archive), jobs=args.jobs))),
        ]
        for name, step in steps:
            try:
                step()
            except MigrateError as exc:
                say(f"{name}: {exc.one_line()}")
                say("stopping here; the server and its data are removed")
                return 1
    say("done; the server and its data are removed")
    return 0
