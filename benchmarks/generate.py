"""Benchmark dataset generator for pystream-migrate.

Builds, in the database named by ``--dsn``, a TimescaleDB dataset that exercises what a
migration of a real time-series database has to carry:

- ``bench.metrics``: a narrow hypertable (1-day chunks), the bulk of the rows, with a
  foreign key to a plain table and a unique index that a plain table references;
- ``bench.events``: a wide hypertable (text, jsonb, numeric, timestamp, array columns);
- ``bench.readings``: an integer-time hypertable with a hash space dimension;
- ``bench.ticks``: the many-chunks case, ``--chunks`` (default 4000) small 1-hour
  chunks, each with two indexes; chunks are created at most ``CHUNK_BATCH`` per
  transaction because the default ``max_locks_per_transaction`` cannot take more;
- ``bench.devices`` (referenced by a hypertable) and ``bench.alerts`` (references a
  hypertable): plain tables with foreign keys to and from hypertables;
- compression of part of ``metrics``'s chunks, and a continuous aggregate, only where
  the server has the Timescale License edition (otherwise skipped, with the reason).

``--scale`` multiplies the row counts (not the chunk counts; ``--chunks`` sets those of
``bench.ticks``). Scale 1 is about 2.6 million rows, ~250 MB as COPY text.

Usage: python benchmarks/generate.py --dsn "host=... dbname=..." [--scale 1] [--chunks 4000]
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass

import psycopg

CHUNK_BATCH = 1000  # new chunks per transaction (<= 1000: default lock table)

SCHEMA_SQL = """
CREATE EXTENSION IF NOT EXISTS timescaledb;
CREATE SCHEMA bench;

CREATE TABLE bench.devices (
    id integer PRIMARY KEY,
    name text NOT NULL UNIQUE,
    model text,
    installed date,
    attributes jsonb
);
COMMENT ON TABLE bench.devices IS 'sensors; referenced by the metrics hypertable';

-- Narrow hypertable: the bulk of the rows.
CREATE TABLE bench.metrics (
    ts timestamptz NOT NULL,
    device_id integer NOT NULL REFERENCES bench.devices (id),
    value double precision,
    status smallint NOT NULL DEFAULT 0
);
SELECT create_hypertable('bench.metrics', 'ts', chunk_time_interval => interval '1 day');
-- Needed for foreign keys that reference the hypertable.
ALTER TABLE bench.metrics ADD CONSTRAINT metrics_device_ts UNIQUE (device_id, ts);

-- Wide hypertable: text, jsonb, numeric, timestamp, arrays.
CREATE TABLE bench.events (
    ts timestamptz NOT NULL,
    id bigint NOT NULL,
    device_id integer NOT NULL,
    kind text NOT NULL,
    message text,
    payload jsonb,
    amount numeric(14, 4),
    reported_at timestamp,
    tags text[],
    ok boolean
);
SELECT create_hypertable('bench.events', 'ts', chunk_time_interval => interval '3 days');
CREATE INDEX events_kind_ts ON bench.events (kind, ts DESC);

-- Integer time with a hash space dimension.
CREATE TABLE bench.readings (
    t bigint NOT NULL,
    sensor integer NOT NULL,
    reading numeric(10, 3),
    label text
);
SELECT create_hypertable('bench.readings', 't', chunk_time_interval => 100000,
                         partitioning_column => 'sensor', number_partitions => 2);

-- Many small chunks, each with two indexes (the time index and this one).
CREATE TABLE bench.ticks (
    ts timestamptz NOT NULL,
    symbol integer NOT NULL,
    price double precision
);
SELECT create_hypertable('bench.ticks', 'ts', chunk_time_interval => interval '1 hour');
CREATE INDEX ticks_symbol_ts ON bench.ticks (symbol, ts DESC);

-- Plain table referencing a hypertable (and a plain table).
CREATE TABLE bench.alerts (
    id bigserial PRIMARY KEY,
    device_id integer NOT NULL REFERENCES bench.devices (id),
    ts timestamptz NOT NULL,
    severity text NOT NULL CHECK (severity IN ('low', 'mid', 'high')),
    details jsonb
);
CREATE INDEX alerts_ts ON bench.alerts (ts);

CREATE VIEW bench.device_last AS
    SELECT device_id, max(ts) AS last_ts FROM bench.metrics GROUP BY device_id;
"""

FK_TO_HYPERTABLE = """
ALTER TABLE bench.alerts ADD CONSTRAINT alerts_metric_fkey
    FOREIGN KEY (device_id, ts) REFERENCES bench.metrics (device_id, ts)"""

START = "2024-01-01 00:00+00"


@dataclass(frozen=True)
class Sizes:
    devices: int
    metrics_days: int
    metrics_interval_s: int  # seconds between two readings of one device
    metrics_devices: int
    events: int
    readings: int
    ticks_chunks: int
    ticks_per_chunk: int
    alerts: int

    @property
    def metrics_rows(self) -> int:
        return self.metrics_days * 86400 // self.metrics_interval_s * self.metrics_devices


def sizes_for(scale: float, chunks: int) -> Sizes:
    # metrics: 40 chunks of 1 day; rows grow through the sampling interval.
    per_device_day = max(1, round(1440 * scale))  # scale 1: one row per device-minute
    return Sizes(
        devices=1000,
        metrics_days=40,
        metrics_interval_s=max(1, 86400 // per_device_day),
        metrics_devices=30,
        events=max(1000, round(250_000 * scale)),
        readings=max(1000, round(200_000 * scale)),
        ticks_chunks=chunks,
        ticks_per_chunk=5,
        alerts=max(100, round(20_000 * scale)),
    )


def _log(msg: str) -> None:
    print(f"generate: {msg}", file=sys.stderr, flush=True)


def _timed(conn: psycopg.Connection, label: str, query: str,
           params: dict[str, object] | None = None) -> None:
    started = time.monotonic()
    with conn.transaction():
        conn.execute(query, params)  # type: ignore[arg-type]
    _log(f"{label}: {time.monotonic() - started:.1f}s")


def license_of(conn: psycopg.Connection) -> str:
    row = conn.execute("SELECT current_setting('timescaledb.license', true)").fetchone()
    return str(row[0]) if row and row[0] else "unknown"


def generate(dsn: str, scale: float = 1.0, chunks: int = 4000, *,
             fk_to_hypertable: bool = True) -> dict[str, object]:
    """Build the dataset in the (empty) database at ``dsn``; returns what was built."""
    s = sizes_for(scale, chunks)
    skipped: list[str] = []
    started = time.monotonic()
    # Client-side binding: parameters become literals, so typed literals and
    # generate_series bounds need no casts.
    with psycopg.connect(dsn, autocommit=True, cursor_factory=psycopg.ClientCursor) as conn:
        conn.execute("SET client_min_messages = warning")
        with conn.transaction():
            conn.execute(SCHEMA_SQL)  # type: ignore[arg-type]
        lic = license_of(conn)
        _timed(conn, "devices", """
            INSERT INTO bench.devices
            SELECT i, 'dev-' || i, 'model-' || (i %% 7), date '2020-01-01' + (i %% 900),
                   jsonb_build_object('rack', i %% 40, 'firmware', '1.' || (i %% 13),
                                      'tags', jsonb_build_array('a' || (i %% 3), 'b' || (i %% 5)))
            FROM generate_series(1, %(n)s) i""", {"n": s.devices})
        _timed(conn, f"metrics ({s.metrics_rows} rows, {s.metrics_days} chunks)", """
            INSERT INTO bench.metrics (ts, device_id, value, status)
            SELECT t, d, round((20 + 10 * sin(extract(epoch FROM t) / 7200.0 + d))::numeric, 4),
                   (d + extract(epoch FROM t)::bigint / %(step)s) %% 4
            FROM generate_series(timestamptz %(start)s,
                                 timestamptz %(start)s + %(days)s * interval '1 day'
                                    - %(step)s * interval '1 second',
                                 %(step)s * interval '1 second') t,
                 generate_series(1, %(devs)s) d""",
               {"start": START, "days": s.metrics_days, "step": s.metrics_interval_s,
                "devs": s.metrics_devices})
        _timed(conn, f"events ({s.events} rows)", """
            INSERT INTO bench.events
            SELECT timestamptz %(start)s + (i * (40 * 86400.0 / %(n)s)) * interval '1 second',
                   i, 1 + i %% 1000,
                   (ARRAY['boot', 'reading', 'error', 'config', 'heartbeat'])[1 + i %% 5],
                   'event ' || i || ': ' || repeat(md5(i::text), 1 + i %% 4)
                       || CASE WHEN i %% 97 = 0 THEN E'\\ttab\\nnewline \\\\ back' ELSE '' END,
                   jsonb_build_object('seq', i, 'ok', i %% 3 <> 0,
                                      'sample', jsonb_build_array(i %% 10, i %% 100, i %% 1000),
                                      'note', md5((i * 7)::text),
                                      'nested', jsonb_build_object('a', i %% 11, 'b', 'x' || i)),
                   (i * 1.0001)::numeric(14, 4),
                   timestamp '2024-01-01' + i * interval '37 seconds',
                   ARRAY['t' || (i %% 5), 't' || (i %% 9)],
                   CASE WHEN i %% 10 = 0 THEN NULL ELSE i %% 2 = 0 END
            FROM generate_series(1, %(n)s) i""", {"start": START, "n": s.events})
        _timed(conn, f"readings ({s.readings} rows)", """
            INSERT INTO bench.readings
            SELECT i * 3, i %% 64, (i %% 100000) / 7.0, 'r' || (i %% 500)
            FROM generate_series(1, %(n)s) i""", {"n": s.readings})
        done = 0
        while done < s.ticks_chunks:
            batch = min(CHUNK_BATCH, s.ticks_chunks - done)
            _timed(conn, f"ticks chunks {done + 1}-{done + batch} of {s.ticks_chunks}", """
                INSERT INTO bench.ticks
                SELECT timestamptz '2023-01-01 00:00+00' + h * interval '1 hour'
                           + k * interval '7 minutes', k, h + k / 10.0
                FROM generate_series(%(first)s, %(last)s) h,
                     generate_series(1, %(per)s) k""",
                   {"first": done, "last": done + batch - 1, "per": s.ticks_per_chunk})
            done += batch
        _timed(conn, f"alerts ({s.alerts} rows)", """
            INSERT INTO bench.alerts (device_id, ts, severity, details)
            SELECT m.device_id, m.ts, (ARRAY['low', 'mid', 'high'])[1 + m.status %% 3],
                   jsonb_build_object('value', m.value)
            FROM (SELECT * FROM bench.metrics
                  WHERE ts < timestamptz %(start)s + interval '2 days'
                  ORDER BY ts, device_id LIMIT %(n)s) m""", {"start": START, "n": s.alerts})
        conn.execute("SELECT setval('bench.alerts_id_seq', (SELECT max(id) FROM bench.alerts))")
        if fk_to_hypertable:
            # Validated by one join at creation; needs TimescaleDB >= 2.16 (and, at restore,
            # restoring mode off: the check otherwise reads only the empty hypertable root).
            _timed(conn, "foreign key alerts -> metrics", FK_TO_HYPERTABLE)

        if lic == "timescale":
            _timed(conn, "compression settings", """
                ALTER TABLE bench.metrics SET (timescaledb.compress,
                    timescaledb.compress_segmentby = 'device_id',
                    timescaledb.compress_orderby = 'ts')""")
            # Compress the older half of the chunks only (a partly compressed hypertable).
            old = conn.execute(
                "SELECT show_chunks('bench.metrics', older_than => timestamptz %s"
                " + %s * interval '1 day')", (START, s.metrics_days // 2)).fetchall()
            for (chunk,) in old:
                conn.execute("SELECT compress_chunk(%s)", (chunk,))
            _log(f"compressed {len(old)} of metrics's chunks")
            _timed(conn, "continuous aggregate", """
                CREATE MATERIALIZED VIEW bench.metrics_hourly
                WITH (timescaledb.continuous) AS
                SELECT device_id, time_bucket('1 hour', ts) AS bucket,
                       avg(value) AS avg_value, max(value) AS max_value, count(*) AS n
                FROM bench.metrics GROUP BY device_id, bucket WITH NO DATA""")
            conn.execute("CALL refresh_continuous_aggregate('bench.metrics_hourly', NULL, NULL)")
        else:
            reason = (f"timescaledb.license is '{lic}' (Apache edition): compression and "
                      "continuous aggregates need the Timescale License edition")
            skipped += ["compression: " + reason, "continuous aggregate: " + reason]
            for item in skipped:
                _log(f"skipped {item}")
        conn.execute("VACUUM ANALYZE")
        chunk_count = conn.execute(
            "SELECT count(*) FROM timescaledb_information.chunks").fetchone()
        size = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    elapsed = time.monotonic() - started
    built = {
        "scale": scale,
        "license": lic,
        "rows": {
            "devices": s.devices, "metrics": s.metrics_rows, "events": s.events,
            "readings": s.readings, "ticks": s.ticks_chunks * s.ticks_per_chunk,
            "alerts": s.alerts,
        },
        "chunks": int(chunk_count[0]) if chunk_count else 0,
        "database_bytes": int(size[0]) if size else 0,
        "fk_to_hypertable": fk_to_hypertable,
        "skipped": skipped,
        "seconds": round(elapsed, 1),
    }
    _log(f"done in {elapsed:.0f}s: {sum(built['rows'].values())} rows, "  # type: ignore[attr-defined]
         f"{built['chunks']} chunks, {built['database_bytes'] / 1e6:.0f} MB")
    return built


LARGE_CHUNKS_SQL = """
CREATE EXTENSION IF NOT EXISTS timescaledb;
CREATE SCHEMA big;
CREATE TABLE big.readings (
    ts timestamptz NOT NULL,
    device_id int NOT NULL,
    value double precision,
    status int,
    note text
);
SELECT create_hypertable('big.readings', 'ts', chunk_time_interval => interval '1 day');
CREATE INDEX readings_device_ts ON big.readings (device_id, ts DESC);
"""


def generate_large_chunks(dsn: str, chunks: int = 34, rows: int = 4_300_000,
                          compressed: int = 14) -> dict[str, object]:
    """A hypertable of a few large chunks (one a day), the oldest ``compressed`` of them
    compressed where the Timescale License edition allows it; two indexes per chunk."""
    per_chunk_s = 86400
    step = max(1, per_chunk_s * chunks * 50 // rows)  # 50 devices report every step
    skipped: list[str] = []
    started = time.monotonic()
    with psycopg.connect(dsn, autocommit=True, cursor_factory=psycopg.ClientCursor) as conn:
        conn.execute("SET client_min_messages = warning")
        with conn.transaction():
            conn.execute(LARGE_CHUNKS_SQL)  # type: ignore[arg-type]
        _timed(conn, f"big.readings (~{rows} rows, {chunks} chunks)", """
            INSERT INTO big.readings
            SELECT t, d, round((20 + 10 * sin(extract(epoch FROM t) / 7200.0 + d))::numeric, 4),
                   (d + extract(epoch FROM t)::bigint / %(step)s) %% 4,
                   CASE WHEN d %% 10 = 0 THEN 'note ' || d END
            FROM generate_series(timestamptz %(start)s,
                                 timestamptz %(start)s + %(days)s * interval '1 day'
                                    - %(step)s * interval '1 second',
                                 %(step)s * interval '1 second') t,
                 generate_series(1, 50) d""",
               {"start": START, "days": chunks, "step": step})
        lic = license_of(conn)
        if lic == "timescale" and compressed:
            conn.execute("ALTER TABLE big.readings SET (timescaledb.compress, "
                         "timescaledb.compress_segmentby = 'device_id')")
            _timed(conn, f"compress {compressed} chunks", """
                SELECT count(compress_chunk(c))
                FROM (SELECT c FROM show_chunks('big.readings') c ORDER BY 1
                      LIMIT %(n)s) s""", {"n": compressed})
        elif compressed:
            skipped.append(f"compression (timescaledb.license is {lic})")
        conn.execute("ANALYZE")
        (total,) = conn.execute("SELECT count(*) FROM big.readings").fetchone() or (0,)
        (n_chunks,) = conn.execute(
            "SELECT count(*) FROM show_chunks('big.readings')").fetchone() or (0,)
    return {"dataset": "large-chunks", "rows": int(total), "chunks": int(n_chunks),
            "compressed_chunks": 0 if skipped else compressed, "skipped": skipped,
            "license": lic, "generate_s": round(time.monotonic() - started, 1)}
MANY_SQL = """
CREATE EXTENSION IF NOT EXISTS timescaledb;
CREATE TABLE IF NOT EXISTS public.many (t bigint NOT NULL, v int, note text);
SELECT create_hypertable('public.many', 't', chunk_time_interval => 1, if_not_exists => true);
"""


def many_chunks(dsn: str, chunks: int) -> int:
    """The scale test's dataset (tests/test_scale.py): ``public.many``, one row per chunk.

    Adds chunks until the hypertable has ``chunks`` of them (so 1k, 10k, 50k, 100k can
    be built one after the other on the same database), CHUNK_BATCH per transaction.
    Returns the number of chunks.
    """
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET client_min_messages = warning")
        conn.execute(MANY_SQL)  # type: ignore[arg-type]
        row = conn.execute("SELECT count(*) FROM show_chunks('public.many')").fetchone()
        have = int(row[0]) if row else 0
        started = time.monotonic()
        for first in range(have, chunks, CHUNK_BATCH):
            last = min(first + CHUNK_BATCH, chunks) - 1
            conn.execute("INSERT INTO public.many SELECT g, g * 2, 'row ' || g "
                         "FROM generate_series(%s::bigint, %s::bigint) g", (first, last))
        _log(f"many: {have} -> {chunks} chunks in {time.monotonic() - started:.0f}s")
    return chunks


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--dsn", required=True, help="the (empty) database to fill")
    p.add_argument("--scale", type=float, default=1.0, help="row-count factor (default 1)")
    p.add_argument("--chunks", type=int, default=4000,
                   help="chunks of the many-chunks hypertable bench.ticks (default 4000)")
    p.add_argument("--no-fk-to-hypertable", action="store_true",
                   help="leave out the foreign key from bench.alerts to the metrics hypertable")
    p.add_argument("--many-chunks", type=int, metavar="N",
                   help="instead: the scale test's dataset, public.many with N one-row chunks "
                        "(added to what is there)")
    a = p.parse_args(argv)
    if a.many_chunks:
        many_chunks(a.dsn, a.many_chunks)
        return 0
    generate(a.dsn, a.scale, a.chunks, fk_to_hypertable=not a.no_fk_to_hypertable)
    return 0


if __name__ == "__main__":
    sys.exit(main())
