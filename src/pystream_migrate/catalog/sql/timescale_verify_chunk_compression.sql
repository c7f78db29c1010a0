-- Compression settings each compressed chunk was compressed with (TimescaleDB 2.16 and
-- later). Only run when the view exists.
SELECT 'chunk compression setting' AS what,
       (pg_catalog.to_jsonb(s))::text AS item
FROM timescaledb_information.chunk_compression_settings s
ORDER BY 1, 2
