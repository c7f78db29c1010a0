-- Every table whose rows a migration carries: ordinary tables, partitions and chunks
-- (each read on its own, never through a parent), and extension configuration tables
-- with their row filter.
SELECT n.nspname AS schema, c.relname AS name, NULL::text AS filter
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r'
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', '_pystream_migrate')
  AND n.nspname NOT LIKE 'pg\_toast%%' AND n.nspname NOT LIKE 'pg\_temp\_%%'
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                  WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid
                    AND d.deptype = 'e')
UNION ALL
SELECT n.nspname, c.relname,
       NULLIF(regexp_replace(coalesce(e.extcondition[i], ''), '^\s*WHERE\s+', '', 'i'), '')
FROM pg_catalog.pg_extension e
CROSS JOIN LATERAL generate_subscripts(e.extconfig, 1) AS i
JOIN pg_catalog.pg_class c ON c.oid = e.extconfig[i]
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r'
ORDER BY 1, 2
