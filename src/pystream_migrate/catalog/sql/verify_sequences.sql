-- Every sequence outside system schemas (extension members included: TimescaleDB's
-- catalog sequences must carry over too).
SELECT n.nspname AS schema, c.relname AS name
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'S'
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', '_pystream_migrate')
ORDER BY 1, 2
