"""The test server really is PostgreSQL with a working TimescaleDB."""

from __future__ import annotations

import psycopg

from tests.conftest import Server


def test_hypertable_with_several_chunks_reads_back(source_db: str, pg_server: Server) -> None:
    with psycopg.connect(source_db, autocommit=True) as conn:
        conn.execute("CREATE TABLE metrics (ts timestamptz NOT NULL, device int, value float8)")
        conn.execute(
            "SELECT create_hypertable('metrics', 'ts', chunk_time_interval => interval '1 day')"
        )
        conn.execute(
            "INSERT INTO metrics SELECT t, (extract(epoch FROM t)::int / 60) % 5, random() "
            "FROM generate_series('2024-01-01'::timestamptz, '2024-01-05 23:59', '1 minute') t"
        )
        chunks = conn.execute("SELECT count(*) FROM show_chunks('metrics')").fetchone()[0]
        rows, days = conn.execute(
            "SELECT count(*), count(DISTINCT date_trunc('day', ts AT TIME ZONE 'UTC')) "
            "FROM metrics"
        ).fetchone()
        version = conn.execute(
            "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"
        ).fetchone()[0]
    assert chunks >= 5
    assert rows == 5 * 24 * 60
    assert days == 5
    assert version == pg_server.timescaledb_version
