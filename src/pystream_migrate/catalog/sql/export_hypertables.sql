-- TimescaleDB's relations, for `export` (only run when timescaledb is installed):
-- role 'hypertable' for a user hypertable with its time (first open) dimension, and
-- role 'internal' for what export never reads directly: chunks (read through their
-- hypertable), compressed hypertables and continuous aggregates' materializations.
SELECT format('%%I.%%I', h.schema_name, h.table_name)::regclass::oid::bigint AS relid,
       CASE WHEN h.compression_state = 2
              OR EXISTS (SELECT 1 FROM _timescaledb_catalog.continuous_agg ca
                         WHERE ca.mat_hypertable_id = h.id) THEN 'internal'
            ELSE 'hypertable' END AS role,
       h.id AS hypertable_id,
       d.id AS dimension_id,
       d.column_name::text AS time_column,
       d.column_type::pg_catalog.regtype::text AS time_type
FROM _timescaledb_catalog.hypertable h
LEFT JOIN LATERAL (SELECT dd.id, dd.column_name, dd.column_type
                   FROM _timescaledb_catalog.dimension dd
                   WHERE dd.hypertable_id = h.id AND dd.interval_length IS NOT NULL
                   ORDER BY dd.id LIMIT 1) d ON true
UNION ALL
SELECT format('%%I.%%I', c.schema_name, c.table_name)::regclass::oid::bigint,
       'internal', c.hypertable_id, NULL, NULL, NULL
FROM _timescaledb_catalog.chunk c
WHERE NOT coalesce((pg_catalog.to_jsonb(c) ->> 'dropped')::boolean, false)
