-- Row-level security policies on relations outside system schemas that no extension
-- owns; roles rendered as the TO list (PUBLIC for the public pseudo-role, oid 0).
SELECT p.oid::bigint AS oid,
       p.polname AS name,
       c.oid::bigint AS table_oid,
       n.nspname AS schema,
       c.relname AS table_name,
       p.polcmd AS cmd,
       p.polpermissive AS permissive,
       (SELECT pg_catalog.string_agg(
                   CASE WHEN u.role = 0 THEN 'PUBLIC'
                        ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(u.role)) END,
                   ', ' ORDER BY u.ord)
        FROM pg_catalog.unnest(p.polroles) WITH ORDINALITY AS u(role, ord)) AS roles,
       pg_catalog.pg_get_expr(p.polqual, p.polrelid) AS using_expr,
       pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) AS check_expr,
       pg_catalog.obj_description(p.oid, 'pg_policy') AS comment
FROM pg_catalog.pg_policy p
JOIN pg_catalog.pg_class c ON c.oid = p.polrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\_toast%%'
  AND n.nspname NOT LIKE 'pg\_temp\_%%'
  AND NOT EXISTS (
      SELECT 1 FROM pg_catalog.pg_depend d
      WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
        AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY n.nspname, c.relname, p.polname
