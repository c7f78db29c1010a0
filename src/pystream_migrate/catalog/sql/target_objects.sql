-- What a restore target already holds, outside system schemas and extensions: used to
-- refuse a non-empty target. Returns up to a few examples per kind.
WITH members AS (
    SELECT classid, objid FROM pg_catalog.pg_depend WHERE deptype = 'e'
), rels AS (
    SELECT 'relation' AS kind, quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS name
    FROM pg_catalog.pg_class c
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
      AND n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND n.nspname NOT LIKE 'pg\_toast%%' AND n.nspname NOT LIKE 'pg\_temp\_%%'
      AND NOT EXISTS (SELECT 1 FROM members m
                      WHERE m.classid = 'pg_catalog.pg_class'::regclass AND m.objid = c.oid)
), funcs AS (
    SELECT 'function', quote_ident(n.nspname) || '.' || quote_ident(p.proname)
    FROM pg_catalog.pg_proc p
    JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND NOT EXISTS (SELECT 1 FROM members m
                      WHERE m.classid = 'pg_catalog.pg_proc'::regclass AND m.objid = p.oid)
), schemas AS (
    SELECT 'schema', quote_ident(n.nspname)
    FROM pg_catalog.pg_namespace n
    WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'public')
      AND n.nspname NOT LIKE 'pg\_toast%%' AND n.nspname NOT LIKE 'pg\_temp\_%%'
      AND NOT EXISTS (SELECT 1 FROM members m
                      WHERE m.classid = 'pg_catalog.pg_namespace'::regclass
                        AND m.objid = n.oid)
)
SELECT kind, name FROM rels
UNION ALL SELECT * FROM funcs
UNION ALL SELECT * FROM schemas
LIMIT 20
