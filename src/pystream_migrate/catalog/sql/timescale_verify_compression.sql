-- Compression settings of hypertables, one row per column with a role (segment by,
-- order by), as text to compare between two databases. Only run when the view exists.
SELECT 'compression setting' AS what,
       (pg_catalog.to_jsonb(s))::text AS item
FROM timescaledb_information.compression_settings s
ORDER BY 1, 2
