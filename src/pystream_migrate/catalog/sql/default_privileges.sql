-- Default privileges (ALTER DEFAULT PRIVILEGES). A global entry (no schema) replaces the
-- built-in default for its object type, so it is compared with acldefault(); an entry
-- for one schema only adds to that, so it is compared with nothing.
SELECT d.oid::bigint AS oid,
       pg_catalog.pg_get_userbyid(d.defaclrole) AS role,
       n.nspname AS schema,
       d.defaclobjtype::text AS objtype,
       d.defaclacl::text[] AS acl,
       CASE WHEN d.defaclnamespace = 0
            THEN pg_catalog.acldefault(
                   CASE WHEN d.defaclobjtype = 'S' THEN 's'::"char" ELSE d.defaclobjtype END,
                   d.defaclrole)::text[]
            ELSE '{}'::text[]
       END AS base_acl
FROM pg_catalog.pg_default_acl d
LEFT JOIN pg_catalog.pg_namespace n ON n.oid = d.defaclnamespace
ORDER BY 2, 3 NULLS FIRST, 4
