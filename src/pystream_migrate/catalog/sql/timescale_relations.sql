-- TimescaleDB's view of the source's relations: hypertable roots (including the
-- internal compressed hypertables) and chunks, with the hypertable each chunk belongs to.
-- Only run when the timescaledb extension is installed.
SELECT format('%%I.%%I', h.schema_name, h.table_name)::regclass::oid::bigint AS relid,
       'hypertable' AS role,
       h.id AS hypertable_id,
       NULL::bigint AS hypertable_relid,
       h.compression_state AS compression_state
FROM _timescaledb_catalog.hypertable h
UNION ALL
SELECT format('%%I.%%I', c.schema_name, c.table_name)::regclass::oid::bigint,
       'chunk',
       c.hypertable_id,
       format('%%I.%%I', h.schema_name, h.table_name)::regclass::oid::bigint,
       h.compression_state
FROM _timescaledb_catalog.chunk c
JOIN _timescaledb_catalog.hypertable h ON h.id = c.hypertable_id
-- chunk.dropped is gone in TimescaleDB 2.28 (dropped chunks keep no catalog row).
WHERE NOT coalesce((pg_catalog.to_jsonb(c) ->> 'dropped')::boolean, false)
