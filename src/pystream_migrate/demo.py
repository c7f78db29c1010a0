"""The demo: a throwaway local server, sample data, dump, restore, verify, report."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import psycopg

from pystream_migrate.dump import DumpOptions, dump_database
from pystream_migrate.errors import DifferencesFound
from pystream_migrate.localcluster import LocalCluster
from pystream_migrate.restore import RestoreOptions, restore_archive
from pystream_migrate.sample import load_sample
from pystream_migrate.verify import compare


def say(text: str) -> None:
    print(f"demo: {text}", file=sys.stderr, flush=True)


def run_demo(args: argparse.Namespace) -> int:
    jobs = args.jobs
    with LocalCluster() as cluster, tempfile.TemporaryDirectory() as tmp:
        say(f"started a throwaway PostgreSQL + TimescaleDB server on 127.0.0.1:{cluster.port}")
        with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
            conn.execute("CREATE DATABASE demo_source")
            conn.execute("CREATE DATABASE demo_target")
        source, target = cluster.dsn("demo_source"), cluster.dsn("demo_target")
        load_sample(source)
        with psycopg.connect(source) as conn:
            rows = _scalar(conn, "SELECT count(*) FROM public.metrics")
            chunks = _scalar(conn, "SELECT count(*) FROM show_chunks('public.metrics')")
        say(f"loaded sample data: hypertable public.metrics, {rows} rows in {chunks} chunks")
        archive = Path(tmp) / "demo.psm"

        started = time.monotonic()
        dumped = dump_database(DumpOptions(dsn=source, file=str(archive), jobs=jobs))
        say(f"dump: {dumped.entries} TOC entries, {dumped.rows} rows, "
            f"{dumped.raw_bytes} bytes of COPY data in {dumped.archive_bytes} archive bytes, "
            f"{time.monotonic() - started:.1f}s with -j {jobs}")
        for item in dumped.unsupported:
            say(f"dump: not carried: {item}")

        started = time.monotonic()
        restored = restore_archive(RestoreOptions(dsn=target, file=str(archive), jobs=jobs,
                                                  exit_on_error=True))
        say(f"restore: {restored.entries} entries, {restored.rows} rows, "
            f"{time.monotonic() - started:.1f}s with -j {jobs}, between "
            "timescaledb_pre_restore() and timescaledb_post_restore()")

        result = compare(source, target)
        for d in result.diffs:
            say(f"verify: {d}")
        if result.diffs:
            raise DifferencesFound(f"verify found {len(result.diffs)} differences")
        say(f"verify: source and target match: {result.describe()}")
    say("done; the server and its data are removed")
    return 0


def _scalar(conn: psycopg.Connection, query: str) -> object:
    row = conn.execute(query).fetchone()  # type: ignore[arg-type]
    return row[0] if row else None
