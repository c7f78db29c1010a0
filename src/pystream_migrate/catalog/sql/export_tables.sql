-- The tables `export` may write: ordinary tables (and leaf partitions) in user schemas,
-- never extension members or system schemas. TimescaleDB's own relations (chunks,
-- internal hypertables) are told apart by export_hypertables.sql.
SELECT c.oid::bigint AS relid, n.nspname AS schema, c.relname AS name,
       pg_catalog.pg_relation_size(c.oid) AS est_bytes
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r'
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname !~ '^(pg_toast|pg_temp_|_timescaledb_|timescaledb_)'
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend dep
                  WHERE dep.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
                    AND dep.objid = c.oid AND dep.deptype = 'e')
ORDER BY n.nspname, c.relname
