-- TimescaleDB's internal compressed hypertables: their roots never hold rows (compressed
-- rows live in their chunks), and TimescaleDB 2.28 refuses to scan them directly
-- ("chunk ... has no dimension slices"), so verify leaves them out. The column that
-- marks them changed across versions (compressed, then compression_state = 2).
SELECT h.schema_name::text AS schema, h.table_name::text AS name
FROM _timescaledb_catalog.hypertable h
WHERE coalesce((pg_catalog.to_jsonb(h) ->> 'compression_state')::int = 2, false)
   OR coalesce((pg_catalog.to_jsonb(h) ->> 'compressed')::boolean, false)
