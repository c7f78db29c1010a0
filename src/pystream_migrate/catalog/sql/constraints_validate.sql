-- Valid CHECK constraints a table only inherits from an ancestor whose constraint is
-- NOT VALID (the table was created after it). Restored, the ancestor's constraint is
-- added after the data and gives the table a NOT VALID copy, which is then validated.
WITH RECURSIVE ancestors AS (
    SELECT con.oid AS con_oid, con.conrelid AS relid, con.conname, i.inhparent AS ancestor
    FROM pg_catalog.pg_constraint con
    JOIN pg_catalog.pg_inherits i ON i.inhrelid = con.conrelid
    WHERE con.contype = 'c' AND con.convalidated AND NOT con.conislocal
    UNION
    SELECT a.con_oid, a.relid, a.conname, i.inhparent
    FROM ancestors a
    JOIN pg_catalog.pg_inherits i ON i.inhrelid = a.ancestor
)
SELECT a.con_oid::bigint AS oid,
       a.relid::bigint AS relid,
       n.nspname AS schema,
       c.relname AS table_name,
       a.conname AS name,
       pg_catalog.pg_get_userbyid(c.relowner) AS owner,
       pg_catalog.array_agg(pc.oid::bigint ORDER BY pc.oid) AS ancestor_constraints
FROM ancestors a
JOIN pg_catalog.pg_constraint pc
  ON pc.conrelid = a.ancestor AND pc.conname = a.conname AND pc.contype = 'c'
 AND NOT pc.convalidated AND pc.conislocal
JOIN pg_catalog.pg_class c ON c.oid = a.relid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p')
  AND c.relpersistence <> 't'
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname !~ '^pg_(toast|temp_)'
  AND NOT EXISTS (
      SELECT FROM pg_catalog.pg_depend e
      WHERE e.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
        AND e.objid = c.oid AND e.deptype = 'e')
GROUP BY a.con_oid, a.relid, n.nspname, c.relname, a.conname, c.relowner
ORDER BY n.nspname, c.relname, a.conname
