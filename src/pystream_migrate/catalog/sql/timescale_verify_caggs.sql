-- Continuous aggregates as TimescaleDB describes them (materialized only or real time,
-- compression, materialization hypertable, definition). The owner is left out, as for
-- every other object verify compares: restore --no-owner changes it on purpose.
SELECT 'continuous aggregate' AS what,
       (pg_catalog.to_jsonb(c) - 'view_owner')::text AS item
FROM timescaledb_information.continuous_aggregates c
ORDER BY 1, 2
