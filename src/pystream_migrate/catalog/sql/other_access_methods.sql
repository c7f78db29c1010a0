-- Access methods created by CREATE ACCESS METHOD outside extensions.
SELECT a.oid::bigint AS oid,
       a.amname AS name,
       a.amtype::text AS type,
       pg_catalog.quote_ident(pn.nspname) || '.' || pg_catalog.quote_ident(p.proname)
         AS handler,
       pg_catalog.obj_description(a.oid, 'pg_am') AS comment
FROM pg_catalog.pg_am a
JOIN pg_catalog.pg_proc p ON p.oid = a.amhandler
JOIN pg_catalog.pg_namespace pn ON pn.oid = p.pronamespace
WHERE a.oid >= 16384
  AND NOT EXISTS (
        SELECT 1 FROM pg_catalog.pg_depend d
         WHERE d.classid = 'pg_catalog.pg_am'::pg_catalog.regclass
           AND d.objid = a.oid AND d.deptype = 'e')
ORDER BY a.amname
