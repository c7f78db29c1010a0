-- What TimescaleDB keeps that a dump cannot carry, to be named in the dump's report:
-- tiered chunks (OSM: the chunk is a foreign table whose rows live in object storage)
-- and relations using the hypercore table access method (TimescaleDB 2.18 to 2.21),
-- whose rows a COPY reads decompressed while their compressed copy is dumped too.
-- blocking: the dump cannot be right with it (tiered chunks are left out consistently).
SELECT 'TIERED CHUNK' AS kind,
       c.schema_name::text AS schema,
       c.table_name::text AS name,
       pg_catalog.format(
           'a tiered chunk of hypertable %%I.%%I: its rows live in object storage, which a '
           'dump cannot read; untier it on the source first (CALL untier_chunk(...)), or '
           'tier the data again on the target', h.schema_name, h.table_name) AS reason,
       false AS blocking
FROM _timescaledb_catalog.chunk c
JOIN _timescaledb_catalog.hypertable h ON h.id = c.hypertable_id
WHERE coalesce((pg_catalog.to_jsonb(c) ->> 'osm_chunk')::boolean, false)
  AND NOT coalesce((pg_catalog.to_jsonb(c) ->> 'dropped')::boolean, false)
UNION ALL
SELECT 'TABLE', n.nspname::text, cl.relname::text,
       'uses the hypercore table access method: convert it first '
       '(ALTER TABLE ... SET ACCESS METHOD heap), then dump',
       true
FROM pg_catalog.pg_class cl
JOIN pg_catalog.pg_namespace n ON n.oid = cl.relnamespace
JOIN pg_catalog.pg_am am ON am.oid = cl.relam
WHERE am.amname = 'hypercore' AND cl.relkind IN ('r', 'p')
ORDER BY 1, 2, 3
