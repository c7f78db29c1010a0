-- TimescaleDB's view of its objects, as rows of text to compare between two databases.
-- Compression settings, continuous aggregates and jobs are compared by the
-- timescale_verify_*.sql queries, each run only where its information view exists.
SELECT 'hypertable' AS what,
       format('%%s.%%s dims=%%s compression=%%s', hypertable_schema, hypertable_name,
              num_dimensions, compression_enabled) AS item
FROM timescaledb_information.hypertables
UNION ALL
SELECT 'dimension',
       format('%%s.%%s #%%s %%s %%s interval=%%s/%%s partitions=%%s', hypertable_schema,
              hypertable_name, dimension_number, column_name, dimension_type,
              time_interval, integer_interval, num_partitions)
FROM timescaledb_information.dimensions
UNION ALL
SELECT 'chunk',
       format('%%s.%%s -> %%s.%%s [%%s, %%s) [%%s, %%s) compressed=%%s', hypertable_schema,
              hypertable_name, chunk_schema, chunk_name, range_start, range_end,
              range_start_integer, range_end_integer, is_compressed)
FROM timescaledb_information.chunks
ORDER BY 1, 2
