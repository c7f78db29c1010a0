-- Columns of tables and materialized views with an explicit compression method
-- (PostgreSQL 14 and later only: pg_attribute.attcompression does not exist before).
SELECT a.attrelid::bigint AS relid,
       a.attname AS column_name,
       a.attcompression::text AS compression
FROM pg_catalog.pg_attribute a
JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
WHERE a.attcompression <> ''
  AND a.attnum > 0
  AND NOT a.attisdropped
  AND c.relkind IN ('r', 'p', 'm')
