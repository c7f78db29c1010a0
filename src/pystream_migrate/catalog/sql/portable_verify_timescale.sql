-- verify, logical comparison: TimescaleDB's objects as rows of text that do not depend
-- on catalog ids or on the version's view columns. A materialized hypertable is named
-- by its continuous aggregate; jobs are the user-defined ones (ids from 1000), without
-- their ids, owner and next start, and with the configuration's ids left out.
WITH shown AS (
    SELECT h.schema_name AS schema, h.table_name AS name,
           coalesce((SELECT format('%%I.%%I', ca.user_view_schema, ca.user_view_name)
                     FROM _timescaledb_catalog.continuous_agg ca
                     WHERE ca.mat_hypertable_id = h.id),
                    format('%%I.%%I', h.schema_name, h.table_name)) AS name_shown
    FROM _timescaledb_catalog.hypertable h
)
SELECT 'hypertable' AS what,
       format('%%s dims=%%s compression=%%s', s.name_shown, num_dimensions,
              compression_enabled) AS item
FROM timescaledb_information.hypertables
JOIN shown s ON s.schema = hypertable_schema AND s.name = hypertable_name
UNION ALL
SELECT 'dimension',
       format('%%s #%%s %%s %%s interval=%%s/%%s partitions=%%s', s.name_shown,
              dimension_number, column_name, dimension_type, time_interval, integer_interval,
              num_partitions)
FROM timescaledb_information.dimensions
JOIN shown s ON s.schema = hypertable_schema AND s.name = hypertable_name
UNION ALL
SELECT 'chunk',
       format('%%s -> %%s.%%s [%%s, %%s) [%%s, %%s) compressed=%%s', s.name_shown,
              chunk_schema, chunk_name, range_start, range_end, range_start_integer,
              range_end_integer, is_compressed)
FROM timescaledb_information.chunks
JOIN shown s ON s.schema = hypertable_schema AND s.name = hypertable_name
UNION ALL
SELECT 'compression setting',
       format('%%s segmentby=%%s orderby=%%s', s.name_shown, c.segmentby, c.orderby)
FROM timescaledb_information.hypertable_compression_settings c
JOIN shown s ON format('%%I.%%I', s.schema, s.name)::regclass = c.hypertable
UNION ALL
SELECT 'continuous aggregate',
       format('%%I.%%I on %%s materialized_only=%%s compression=%%s %%s', view_schema,
              view_name, s.name_shown, materialized_only, compression_enabled,
              view_definition)
FROM timescaledb_information.continuous_aggregates
JOIN shown s ON s.schema = hypertable_schema AND s.name = hypertable_name
UNION ALL
SELECT 'job',
       format('%%s.%%s on %%s every %%s max_runtime=%%s retries=%%s/%%s scheduled=%%s '
              'fixed=%%s config=%%s', proc_schema, proc_name,
              -- 2.28 names a continuous aggregate's policy by its view, 2.17 by its table
              coalesce(s.name_shown, CASE WHEN hypertable_name IS NOT NULL
                  THEN format('%%I.%%I', hypertable_schema, hypertable_name) END),
              schedule_interval, max_runtime, max_retries, retry_period, scheduled,
              fixed_schedule, config - 'hypertable_id' - 'mat_hypertable_id')
FROM timescaledb_information.jobs
LEFT JOIN shown s ON s.schema = hypertable_schema AND s.name = hypertable_name
WHERE job_id >= 1000
ORDER BY 1, 2
