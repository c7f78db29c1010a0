-- Rewrite rules other than the _RETURN rules of views (the views family owns those), on
-- relations outside system schemas that no extension owns.
SELECT r.oid::bigint AS oid,
       r.rulename AS name,
       r.ev_enabled AS enabled,
       c.oid::bigint AS table_oid,
       n.nspname AS schema,
       c.relname AS table_name,
       pg_catalog.pg_get_ruledef(r.oid) AS definition,
       pg_catalog.obj_description(r.oid, 'pg_rewrite') AS comment
FROM pg_catalog.pg_rewrite r
JOIN pg_catalog.pg_class c ON c.oid = r.ev_class
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE r.rulename <> '_RETURN'
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\_toast%%'
  AND n.nspname NOT LIKE 'pg\_temp\_%%'
  AND NOT EXISTS (
      SELECT 1 FROM pg_catalog.pg_depend d
      WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
        AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY n.nspname, c.relname, r.rulename
