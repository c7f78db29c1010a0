-- Portable dump: every hypertable that a logical restore recreates through the target's
-- API (user hypertables and the materialized hypertables of continuous aggregates; not
-- the internal compressed ones), with its dimensions in order and its compression
-- settings. Columns that differ between TimescaleDB versions are read through to_jsonb.
SELECT format('%%I.%%I', h.schema_name, h.table_name)::regclass::oid::bigint AS relid,
       h.id AS hypertable_id,
       h.schema_name::text AS schema,
       h.table_name::text AS name,
       EXISTS (SELECT 1 FROM _timescaledb_catalog.continuous_agg ca
               WHERE ca.mat_hypertable_id = h.id) AS materialized,
       h.compressed_hypertable_id IS NOT NULL AS compression_enabled,
       (SELECT s.segmentby FROM timescaledb_information.hypertable_compression_settings s
        WHERE s.hypertable = format('%%I.%%I', h.schema_name, h.table_name)::regclass)
           AS segmentby,
       (SELECT s.orderby FROM timescaledb_information.hypertable_compression_settings s
        WHERE s.hypertable = format('%%I.%%I', h.schema_name, h.table_name)::regclass)
           AS orderby,
       (SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                   'column', d.column_name::text,
                   'type', pg_catalog.format_type(d.column_type::oid, NULL),
                   'open', d.interval_length IS NOT NULL,
                   'interval', d.interval_length,
                   'partitions', d.num_slices,
                   'partitioning_func', CASE
                       WHEN d.partitioning_func IS NOT NULL
                            AND d.partitioning_func_schema::text NOT IN
                                ('_timescaledb_functions', '_timescaledb_internal')
                       THEN format('%%I.%%I', d.partitioning_func_schema,
                                   d.partitioning_func) END,
                   'integer_now_func', CASE WHEN d.integer_now_func IS NOT NULL
                       THEN format('%%I.%%I', d.integer_now_func_schema,
                                   d.integer_now_func) END)
                ORDER BY d.id)
        FROM _timescaledb_catalog.dimension d WHERE d.hypertable_id = h.id) AS dimensions
FROM _timescaledb_catalog.hypertable h
WHERE h.compression_state <> 2
ORDER BY h.id
