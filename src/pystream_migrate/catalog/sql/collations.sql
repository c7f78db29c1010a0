-- User collations (not system, not extension members). Version-dependent columns
-- (colliculocale 15-16, colllocale 17+, collicurules 16+) are read through to_jsonb so
-- that one query runs on every version.
SELECT c.oid::bigint AS oid,
       n.nspname AS schema,
       c.collname AS name,
       pg_catalog.pg_get_userbyid(c.collowner) AS owner,
       c.collprovider::text AS provider,
       c.collisdeterministic AS deterministic,
       c.collcollate::text AS lc_collate,
       c.collctype::text AS lc_ctype,
       COALESCE(pg_catalog.to_jsonb(c) ->> 'colllocale',
                pg_catalog.to_jsonb(c) ->> 'colliculocale') AS locale,
       pg_catalog.to_jsonb(c) ->> 'collicurules' AS icu_rules,
       pg_catalog.obj_description(c.oid, 'pg_collation') AS comment
FROM pg_catalog.pg_collation c
JOIN pg_catalog.pg_namespace n ON n.oid = c.collnamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\_toast%%'
  AND n.nspname NOT LIKE 'pg\_temp\_%%'
  AND NOT EXISTS (
        SELECT 1 FROM pg_catalog.pg_depend d
         WHERE d.classid = 'pg_catalog.pg_collation'::pg_catalog.regclass
           AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY n.nspname, c.collname
