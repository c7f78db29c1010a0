-- User encoding conversions (CREATE CONVERSION) outside extensions.
SELECT c.oid::bigint AS oid,
       n.nspname AS schema,
       c.conname AS name,
       pg_catalog.pg_get_userbyid(c.conowner) AS owner,
       pg_catalog.pg_encoding_to_char(c.conforencoding) AS source_encoding,
       pg_catalog.pg_encoding_to_char(c.contoencoding) AS target_encoding,
       pg_catalog.quote_ident(pn.nspname) || '.' || pg_catalog.quote_ident(p.proname) AS func,
       c.condefault AS is_default,
       pg_catalog.obj_description(c.oid, 'pg_conversion') AS comment
FROM pg_catalog.pg_conversion c
JOIN pg_catalog.pg_namespace n ON n.oid = c.connamespace
JOIN pg_catalog.pg_proc p ON p.oid = c.conproc
JOIN pg_catalog.pg_namespace pn ON pn.oid = p.pronamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\_toast%%'
  AND n.nspname NOT LIKE 'pg\_temp\_%%'
  AND NOT EXISTS (
        SELECT 1 FROM pg_catalog.pg_depend d
         WHERE d.classid = 'pg_catalog.pg_conversion'::pg_catalog.regclass
           AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY n.nspname, c.conname
