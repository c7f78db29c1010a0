-- Comments on NOT VALID CHECK constraints that a table only inherits: the
-- parent's constraint recreates them, but not their comments.
SELECT n.nspname AS schema, c.relname AS table_name, con.conname AS name
FROM pg_catalog.pg_constraint con
JOIN pg_catalog.pg_class c ON c.oid = con.conrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_description d
  ON d.classoid = 'pg_catalog.pg_constraint'::pg_catalog.regclass
 AND d.objoid = con.oid AND d.objsubid = 0
WHERE con.contype = 'c' AND NOT con.convalidated AND NOT con.conislocal
  AND c.relkind IN ('r', 'p')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname !~ '^pg_(toast|temp_)'
