-- A source database for round-trip tests: several hypertables (time, integer time,
-- space partitions), plain and partitioned tables with foreign keys, many column types
-- and hostile values.
CREATE SCHEMA "Fancy Schema";
CREATE TYPE "Fancy Schema".mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE public.devices (
    id bigserial PRIMARY KEY,
    name text NOT NULL UNIQUE,
    kind "Fancy Schema".mood DEFAULT 'ok'
);
CREATE TABLE public.metrics (
    ts timestamptz NOT NULL,
    device_id bigint NOT NULL REFERENCES public.devices (id),
    value double precision,
    payload jsonb,
    raw bytea,
    note text
);
SELECT create_hypertable('public.metrics', 'ts', chunk_time_interval => interval '1 day');
CREATE INDEX metrics_device_idx ON public.metrics (device_id, ts DESC);
CREATE TABLE "Fancy Schema"."Int Time" (
    t bigint NOT NULL,
    dev int NOT NULL,
    v numeric(12, 3),
    tags text[],
    span tstzrange,
    ip inet,
    u uuid,
    "weird ""col""" interval
);
SELECT create_hypertable('"Fancy Schema"."Int Time"', 't', chunk_time_interval => 100,
                         partitioning_column => 'dev', number_partitions => 2);
CREATE TABLE public.alerts (
    id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    device_id bigint REFERENCES public.devices (id),
    raised timestamptz DEFAULT now(),
    level smallint CHECK (level BETWEEN 0 AND 5),
    doubled int GENERATED ALWAYS AS (level * 2) STORED
);
CREATE TABLE public.events (id int, at date NOT NULL, body text) PARTITION BY RANGE (at);
CREATE TABLE public.events_2024 PARTITION OF public.events
    FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE public.events_other PARTITION OF public.events DEFAULT;

INSERT INTO public.devices (name, kind) VALUES
    ('alpha', 'happy'), (E'tab\there', 'sad'), (E'new\nline', NULL), ('back\slash', 'ok'),
    ('ünïcødé ✓', 'ok');
INSERT INTO public.metrics
SELECT t, 1 + (extract(epoch FROM t)::bigint / 60) % 5, random(),
       jsonb_build_object('k', extract(epoch FROM t)::bigint, 's', E'q"uo\\te'),
       decode('00ff10', 'hex'), CASE WHEN extract(minute FROM t) = 0 THEN NULL ELSE 'n' END
FROM generate_series(timestamptz '2024-01-01 00:00+00', '2024-01-04 23:59+00',
                     interval '5 minutes') t;
INSERT INTO public.metrics VALUES
    ('2024-01-02 12:00+00', 2, 'NaN', '{}', '\x', E'\\N literally'),
    ('2024-01-02 12:01+00', 3, 'Infinity', 'null', NULL, E'\r\n\t\\'),
    ('2024-01-02 12:02+00', 4, '-Infinity', '[]', '\x00', '');
INSERT INTO "Fancy Schema"."Int Time"
SELECT g, g % 7, g / 3.0, ARRAY['a', NULL, 'c"'], tstzrange('2024-01-01', 'infinity'),
       '10.0.0.1/8', md5(g::text)::uuid, make_interval(secs => g)
FROM generate_series(1, 1000) g;
INSERT INTO public.alerts (device_id, level) SELECT 1 + g % 5, g % 6 FROM generate_series(1, 50) g;
INSERT INTO public.events VALUES (1, '2024-05-01', 'in'), (2, '1999-01-01', 'other');
SELECT setval('public.devices_id_seq', 1000);
-- A foreign key that references a hypertable (TimescaleDB keeps one per chunk).
CREATE TABLE public.readings (ts timestamptz NOT NULL, sensor int NOT NULL, v int,
                              PRIMARY KEY (sensor, ts));
SELECT create_hypertable('public.readings', 'ts', chunk_time_interval => interval '1 day');
INSERT INTO public.readings
SELECT timestamptz '2024-01-01 01:00+00' + g * interval '6 hours', g % 3, g
FROM generate_series(0, 20) g;
CREATE TABLE public.reading_notes (id int PRIMARY KEY, sensor int, ts timestamptz,
                                   FOREIGN KEY (sensor, ts) REFERENCES public.readings (sensor, ts));
INSERT INTO public.reading_notes
SELECT g, g % 3, timestamptz '2024-01-01 01:00+00' + g * interval '6 hours'
FROM generate_series(0, 16, 4) g;
-- (Not into the newest chunk: TimescaleDB 2.19.3 reported a violation for a row that
-- is there, already on the source, when we tried.)
