-- Portable dump: every chunk of the hypertables in portable_hypertables.sql, with its
-- exact slice boundaries in the form _timescaledb_functions.create_chunk() takes
-- ({"column": [start, end]}, TimescaleDB's internal int64 values) and whether it is
-- compressed. Chunks marked dropped (2.17 keeps their rows) and tiered chunks are left
-- out. est_bytes counts the compressed part too: its rows are copied decompressed.
SELECT format('%%I.%%I', c.schema_name, c.table_name)::regclass::oid::bigint AS relid,
       format('%%I.%%I', h.schema_name, h.table_name)::regclass::oid::bigint
           AS hypertable_relid,
       c.schema_name::text AS schema,
       c.table_name::text AS name,
       (c.status & 1) = 1 AS compressed,
       (c.status & 8) = 8 AS partial,
       (SELECT pg_catalog.jsonb_object_agg(d.column_name::text,
                   pg_catalog.jsonb_build_array(s.range_start, s.range_end))
        FROM _timescaledb_catalog.chunk_constraint cc
        JOIN _timescaledb_catalog.dimension_slice s ON s.id = cc.dimension_slice_id
        JOIN _timescaledb_catalog.dimension d ON d.id = s.dimension_id
        WHERE cc.chunk_id = c.id) AS slices,
       pg_catalog.pg_relation_size(format('%%I.%%I', c.schema_name, c.table_name)::regclass)
       + coalesce((SELECT pg_catalog.pg_total_relation_size(
                              format('%%I.%%I', cc.schema_name, cc.table_name)::regclass)
                   FROM _timescaledb_catalog.chunk cc WHERE cc.id = c.compressed_chunk_id), 0)
           AS est_bytes
FROM _timescaledb_catalog.chunk c
JOIN _timescaledb_catalog.hypertable h ON h.id = c.hypertable_id
WHERE h.compression_state <> 2
  AND NOT coalesce((pg_catalog.to_jsonb(c) ->> 'dropped')::boolean, false)
  AND NOT c.osm_chunk
ORDER BY c.id
