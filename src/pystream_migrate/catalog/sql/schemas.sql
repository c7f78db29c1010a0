-- Schemas outside the system ones that no extension created, with what pg_dump compares
-- the built-in "public" schema against: its initial ACL (pg_init_privs) and default
-- owner (pg_database_owner, oid 6171, since PostgreSQL 15; the bootstrap superuser before).
SELECT n.oid::bigint AS oid,
       n.nspname AS name,
       pg_catalog.pg_get_userbyid(n.nspowner) AS owner,
       n.nspacl::text[] AS acl,
       COALESCE(n.nspacl, pg_catalog.acldefault('n', n.nspowner))::text[] AS effective_acl,
       (SELECT ip.initprivs::text[]
          FROM pg_catalog.pg_init_privs ip
         WHERE ip.classoid = 'pg_catalog.pg_namespace'::pg_catalog.regclass
           AND ip.objoid = n.oid AND ip.objsubid = 0) AS initial_acl,
       n.nspowner = CASE WHEN %(server_version)s >= 150000 THEN 6171 ELSE 10 END
         AS default_owner,
       pg_catalog.obj_description(n.oid, 'pg_namespace') AS comment
FROM pg_catalog.pg_namespace n
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\_toast%%'
  AND n.nspname NOT LIKE 'pg\_temp\_%%'
  AND NOT EXISTS (
        SELECT 1 FROM pg_catalog.pg_depend d
         WHERE d.classid = 'pg_catalog.pg_namespace'::pg_catalog.regclass
           AND d.objid = n.oid AND d.deptype = 'e')
ORDER BY n.nspname
