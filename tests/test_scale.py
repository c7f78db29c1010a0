"""Scale: a hypertable with 20000 chunks, at the default max_locks_per_transaction.

pg_dump fails on such a database ("out of shared memory": it locks every table in one
transaction). The dump must not, and neither may the restore: reading the hypertable
through its root would already need a lock on every chunk at once.
"""

from __future__ import annotations

import resource
from pathlib import Path

import psycopg
import pytest

from tests.migrate_support import assert_same_data, dump, restore, scalar

CHUNKS = 20000


@pytest.mark.slow
def test_twenty_thousand_chunks_round_trip(source_db: str, target_db: str,
                                           tmp_path: Path) -> None:
    with psycopg.connect(source_db, autocommit=True) as conn:
        locks = conn.execute("SHOW max_locks_per_transaction").fetchone()[0]
        assert int(locks) == 64, "the scale test is meant for the default lock table size"
        conn.execute("CREATE TABLE public.many (t bigint NOT NULL, v int, note text)")
        conn.execute("SELECT create_hypertable('public.many', 't', chunk_time_interval => 1)")
        for start in range(0, CHUNKS, 1000):  # one chunk per row, 1000 per transaction
            conn.execute(
                "INSERT INTO public.many SELECT g, g * 2, 'row ' || g "
                "FROM generate_series(%s::bigint, %s::bigint) g", (start, start + 999))
    assert scalar(source_db, "SELECT count(*) FROM show_chunks('public.many')") == CHUNKS

    archive = tmp_path / "many.psm"
    dump(source_db, archive, "-j", "2")
    restore(target_db, archive, "-j", "2")
    # The largest resident set of any child process this test run waited for: the dump
    # and the restore (and initdb/pg_ctl, which are small).
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak RSS of dump/restore with {CHUNKS} chunks: {peak_mb:.0f} MB")
    assert_same_data(source_db, target_db)
    assert scalar(target_db, "SELECT count(*) FROM show_chunks('public.many')") == CHUNKS
    with psycopg.connect(target_db, autocommit=True) as conn:
        conn.execute("INSERT INTO public.many VALUES (%s, 1, 'new chunk')", (CHUNKS + 5,))
        assert conn.execute("SELECT count(*) FROM show_chunks('public.many')"
                            ).fetchone()[0] == CHUNKS + 1
