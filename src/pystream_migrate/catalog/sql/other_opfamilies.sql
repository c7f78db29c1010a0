-- User operator families and classes (kind 'family' / 'class').
SELECT 'family' AS kind,
       f.oid::bigint AS oid,
       f.oid::bigint AS family_oid,
       n.nspname AS schema,
       f.opfname AS name,
       am.amname AS method,
       pg_catalog.pg_get_userbyid(f.opfowner) AS owner,
       NULL::bool AS is_default,
       NULL::text AS for_type,
       NULL::text AS family,
       NULL::text AS storage,
       pg_catalog.obj_description(f.oid, 'pg_opfamily') AS comment
FROM pg_catalog.pg_opfamily f
JOIN pg_catalog.pg_namespace n ON n.oid = f.opfnamespace
JOIN pg_catalog.pg_am am ON am.oid = f.opfmethod
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\_toast%%'
  AND n.nspname NOT LIKE 'pg\_temp\_%%'
  AND NOT EXISTS (
        SELECT 1 FROM pg_catalog.pg_depend d
         WHERE d.classid = 'pg_catalog.pg_opfamily'::pg_catalog.regclass
           AND d.objid = f.oid AND d.deptype = 'e')
UNION ALL
SELECT 'class',
       c.oid::bigint,
       c.opcfamily::bigint,
       n.nspname,
       c.opcname,
       am.amname,
       pg_catalog.pg_get_userbyid(c.opcowner),
       c.opcdefault,
       pg_catalog.format_type(c.opcintype, NULL),
       pg_catalog.quote_ident(fn.nspname) || '.' || pg_catalog.quote_ident(f.opfname),
       CASE WHEN c.opckeytype <> 0 THEN pg_catalog.format_type(c.opckeytype, NULL) END,
       pg_catalog.obj_description(c.oid, 'pg_opclass')
FROM pg_catalog.pg_opclass c
JOIN pg_catalog.pg_namespace n ON n.oid = c.opcnamespace
JOIN pg_catalog.pg_am am ON am.oid = c.opcmethod
JOIN pg_catalog.pg_opfamily f ON f.oid = c.opcfamily
JOIN pg_catalog.pg_namespace fn ON fn.oid = f.opfnamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\_toast%%'
  AND n.nspname NOT LIKE 'pg\_temp\_%%'
  AND NOT EXISTS (
        SELECT 1 FROM pg_catalog.pg_depend d
         WHERE d.classid = 'pg_catalog.pg_opclass'::pg_catalog.regclass
           AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY 1 DESC, 4, 5, 6
