-- TimescaleDB's view of the source's relations: hypertable roots (including the
-- internal compressed hypertables and the materialized hypertables of continuous
-- aggregates, marked in "internal"; a compressed one names the hypertable it
-- compresses) and chunks, with the hypertable each chunk belongs to. Only run when the
-- timescaledb extension is installed.
SELECT format('%%I.%%I', h.schema_name, h.table_name)::regclass::oid::bigint AS relid,
       'hypertable' AS role,
       h.id AS hypertable_id,
       NULL::bigint AS hypertable_relid,
       h.compression_state AS compression_state,
       CASE WHEN h.compression_state = 2 THEN 'compressed'
            WHEN EXISTS (SELECT 1 FROM _timescaledb_catalog.continuous_agg ca
                         WHERE ca.mat_hypertable_id = h.id) THEN 'materialized'
       END AS internal,
       (SELECT format('%%I.%%I', u.schema_name, u.table_name)::regclass::oid::bigint
        FROM _timescaledb_catalog.hypertable u
        WHERE u.compressed_hypertable_id = h.id) AS compresses
FROM _timescaledb_catalog.hypertable h
UNION ALL
SELECT format('%%I.%%I', c.schema_name, c.table_name)::regclass::oid::bigint,
       'chunk',
       c.hypertable_id,
       format('%%I.%%I', h.schema_name, h.table_name)::regclass::oid::bigint,
       h.compression_state,
       NULL,
       NULL
FROM _timescaledb_catalog.chunk c
JOIN _timescaledb_catalog.hypertable h ON h.id = c.hypertable_id
-- chunk.dropped is gone in TimescaleDB 2.28 (dropped chunks keep no catalog row).
WHERE NOT coalesce((pg_catalog.to_jsonb(c) ->> 'dropped')::boolean, false)
