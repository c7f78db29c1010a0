-- User triggers (not internal ones such as foreign-key triggers) on relations outside
-- system schemas that no extension owns. A trigger cloned onto a partition from its
-- parent's trigger (tgparentid, PG 13+) is made again by the parent's; it is returned
-- with its parent's state and the trigger at the top of its chain (root_oid).
WITH RECURSIVE chain(oid, cur) AS (
    SELECT t.oid, t.tgparentid FROM pg_catalog.pg_trigger t WHERE t.tgparentid <> 0
    UNION ALL
    SELECT chain.oid, p.tgparentid
    FROM chain JOIN pg_catalog.pg_trigger p ON p.oid = chain.cur
    WHERE p.tgparentid <> 0
),
roots AS (
    SELECT chain.oid, chain.cur AS root_oid
    FROM chain JOIN pg_catalog.pg_trigger r ON r.oid = chain.cur AND r.tgparentid = 0
)
SELECT t.oid::bigint AS oid,
       t.tgname AS name,
       t.tgenabled AS enabled,
       c.oid::bigint AS table_oid,
       n.nspname AS schema,
       c.relname AS table_name,
       CASE WHEN t.tgparentid = 0 THEN pg_catalog.pg_get_triggerdef(t.oid) END AS definition,
       pg_catalog.obj_description(t.oid, 'pg_trigger') AS comment,
       NULLIF(t.tgparentid, 0)::bigint AS parent_oid,
       roots.root_oid::bigint AS root_oid,
       parent.tgenabled AS parent_enabled
FROM pg_catalog.pg_trigger t
JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_catalog.pg_trigger parent ON parent.oid = t.tgparentid
LEFT JOIN roots ON roots.oid = t.oid
WHERE NOT t.tgisinternal
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\_toast%%'
  AND n.nspname NOT LIKE 'pg\_temp\_%%'
  AND NOT EXISTS (
      SELECT 1 FROM pg_catalog.pg_depend d
      WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
        AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY n.nspname, c.relname, t.tgname
