-- TimescaleDB features in use that need the Timescale License edition: restore refuses
-- a target whose timescaledb.license is 'apache' before loading anything.
SELECT 'compressed hypertables' AS feature, pg_catalog.count(*) AS n
FROM _timescaledb_catalog.hypertable h
WHERE h.compressed_hypertable_id IS NOT NULL
HAVING pg_catalog.count(*) > 0
UNION ALL
SELECT 'continuous aggregates', pg_catalog.count(*)
FROM _timescaledb_catalog.continuous_agg
HAVING pg_catalog.count(*) > 0
UNION ALL
SELECT 'jobs and policies', pg_catalog.count(*)
FROM timescaledb_information.jobs j
WHERE j.job_id >= 1000
HAVING pg_catalog.count(*) > 0
ORDER BY 1
