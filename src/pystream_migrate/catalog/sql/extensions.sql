-- Installed extensions with the schema they live in.
SELECT e.oid::bigint AS oid,
       e.extname AS name,
       e.extversion AS version,
       n.nspname AS schema,
       e.extrelocatable AS relocatable,
       pg_catalog.pg_get_userbyid(e.extowner) AS owner,
       pg_catalog.obj_description(e.oid, 'pg_extension') AS comment
FROM pg_catalog.pg_extension e
JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
ORDER BY e.extname
