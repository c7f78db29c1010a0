-- The chunks of the given hypertables with their range on the time dimension (in
-- TimescaleDB's internal form: microseconds since 1970 for time types, the value
-- itself for integer types), whether they are compressed, and their size on disk
-- (the compressed chunk's size counts for a compressed chunk).
SELECT format('%%I.%%I', h.schema_name, h.table_name)::regclass::oid::bigint
         AS hypertable_relid,
       c.schema_name::text AS schema, c.table_name::text AS name,
       s.range_start, s.range_end,
       (pg_catalog.to_jsonb(c) ->> 'compressed_chunk_id') IS NOT NULL AS compressed,
       pg_catalog.pg_relation_size(format('%%I.%%I', c.schema_name, c.table_name)::regclass)
       + coalesce((SELECT pg_catalog.pg_total_relation_size(
                             format('%%I.%%I', z.schema_name, z.table_name)::regclass)
                   FROM _timescaledb_catalog.chunk z
                   WHERE z.id = (pg_catalog.to_jsonb(c) ->> 'compressed_chunk_id')::int),
                  0) AS est_bytes
FROM _timescaledb_catalog.chunk c
JOIN _timescaledb_catalog.hypertable h ON h.id = c.hypertable_id
JOIN _timescaledb_catalog.chunk_constraint cc ON cc.chunk_id = c.id
JOIN _timescaledb_catalog.dimension_slice s ON s.id = cc.dimension_slice_id
WHERE s.dimension_id = ANY (%(dimension_ids)s::int[])
  AND format('%%I.%%I', h.schema_name, h.table_name)::regclass::oid = ANY (%(relids)s::oid[])
  AND NOT coalesce((pg_catalog.to_jsonb(c) ->> 'dropped')::boolean, false)
  AND (pg_catalog.to_jsonb(c) ->> 'osm_chunk')::boolean IS NOT TRUE  -- tiered: not here
ORDER BY 1, s.range_start, c.table_name
