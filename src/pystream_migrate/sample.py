"""Sample TimescaleDB data for the demo and the benchmarks' smallest scale."""

from __future__ import annotations

import psycopg

SCHEMA_SQL = """
CREATE EXTENSION IF NOT EXISTS timescaledb;
CREATE TABLE public.devices (
    id serial PRIMARY KEY,
    name text NOT NULL UNIQUE,
    location text
);
COMMENT ON TABLE public.devices IS 'Sensors that report into metrics';
CREATE TABLE public.metrics (
    ts timestamptz NOT NULL,
    device_id int NOT NULL REFERENCES public.devices (id),
    temperature double precision,
    humidity double precision,
    note text
);
SELECT create_hypertable('public.metrics', 'ts', chunk_time_interval => interval '1 day');
CREATE INDEX metrics_device_ts ON public.metrics (device_id, ts DESC);
CREATE VIEW public.daily_avg AS
    SELECT device_id, time_bucket('1 day', ts) AS day, avg(temperature) AS avg_temp
    FROM public.metrics GROUP BY 1, 2;
"""

DATA_SQL = """
INSERT INTO public.devices (name, location)
SELECT 'sensor-' || i, CASE WHEN i %% 2 = 0 THEN 'north' ELSE 'south' END
FROM generate_series(1, %(devices)s) i;
INSERT INTO public.metrics (ts, device_id, temperature, humidity, note)
SELECT t, d, 20 + 5 * sin(extract(epoch FROM t) / 3600.0 + d), 40 + d,
       CASE WHEN d = 1 AND extract(minute FROM t) = 0 THEN E'hourly\\tmark' END
FROM generate_series(timestamptz '2024-01-01 00:00+00',
                     timestamptz '2024-01-01 00:00+00' + %(days)s * interval '1 day'
                        - interval '1 minute',
                     interval '1 minute') t,
     generate_series(1, %(devices)s) d;
"""


def load_sample(dsn: str, *, days: int = 7, devices: int = 5) -> None:
    """Create the sample schema and rows in the database at ``dsn``."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(SCHEMA_SQL)
        # A client-side cursor binds the parameters, so several statements can go at once.
        with conn.transaction(), psycopg.ClientCursor(conn) as cur:
            cur.execute(DATA_SQL, {"days": days, "devices": devices})
