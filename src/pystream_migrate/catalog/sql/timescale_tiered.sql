-- Tiered (OSM) chunks, with their hypertable and the dimension slices only they use:
-- the dump leaves their rows out of TimescaleDB's catalog, so that the target's
-- hypertable works without them (their data is in object storage, not in the dump).
SELECT c.id AS chunk_id,
       c.hypertable_id,
       h.schema_name::text AS hypertable_schema,
       h.table_name::text AS hypertable_name,
       ARRAY(SELECT cc.dimension_slice_id
             FROM _timescaledb_catalog.chunk_constraint cc
             WHERE cc.chunk_id = c.id AND cc.dimension_slice_id IS NOT NULL
               AND NOT EXISTS (
                   SELECT 1 FROM _timescaledb_catalog.chunk_constraint o
                   JOIN _timescaledb_catalog.chunk oc ON oc.id = o.chunk_id
                   WHERE o.dimension_slice_id = cc.dimension_slice_id
                     AND NOT coalesce((pg_catalog.to_jsonb(oc) ->> 'osm_chunk')::boolean,
                                      false))) AS slices
FROM _timescaledb_catalog.chunk c
JOIN _timescaledb_catalog.hypertable h ON h.id = c.hypertable_id
WHERE coalesce((pg_catalog.to_jsonb(c) ->> 'osm_chunk')::boolean, false)
ORDER BY c.id
