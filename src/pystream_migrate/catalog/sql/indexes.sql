-- Indexes of the tables tables.sql reads and of materialized views. Indexes that
-- back a constraint are marked (constraint_oid): constraints.sql creates them, but
-- they may still need attaching to a partitioned parent's index.
--
-- On 4000 chunks (8156 indexes) pg_get_indexdef takes 150 ms of the server's time, the
-- rest took 116: the statistics targets are now read once for every index (they were
-- two subqueries per index) and the extension check is two index lookups rather than
-- one IN: 61 ms.
WITH stats AS MATERIALIZED (
    SELECT ia.attrelid,
           pg_catalog.array_agg(ia.attnum::int ORDER BY ia.attnum) AS columns,
           pg_catalog.array_agg(ia.attstattarget::int ORDER BY ia.attnum) AS targets
    FROM pg_catalog.pg_attribute ia
    WHERE ia.attnum > 0 AND COALESCE(ia.attstattarget::int, -1) >= 0
    GROUP BY ia.attrelid
)
SELECT i.indexrelid::bigint AS oid,
       n.nspname AS schema,
       ic.relname AS name,
       ic.relkind::text AS relkind,
       i.indrelid::bigint AS table_oid,
       tn.nspname AS table_schema,
       tc.relname AS table_name,
       tc.relkind::text AS table_relkind,
       pg_catalog.pg_get_userbyid(tc.relowner) AS owner,
       pg_catalog.pg_get_indexdef(i.indexrelid) AS definition,
       ts.spcname AS tablespace,
       i.indisvalid AS valid,
       i.indisclustered AS clustered,
       i.indisreplident AS replica_identity,
       con.oid::bigint AS constraint_oid,
       inh.inhparent::bigint AS parent_index,
       pn.nspname AS parent_schema,
       pc.relname AS parent_name,
       d.description AS comment,
       COALESCE(st.columns, '{}') AS stat_columns,
       COALESCE(st.targets, '{}') AS stat_values
FROM pg_catalog.pg_index i
JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
JOIN pg_catalog.pg_namespace n ON n.oid = ic.relnamespace
JOIN pg_catalog.pg_class tc ON tc.oid = i.indrelid
JOIN pg_catalog.pg_namespace tn ON tn.oid = tc.relnamespace
LEFT JOIN pg_catalog.pg_tablespace ts ON ts.oid = ic.reltablespace
LEFT JOIN pg_catalog.pg_constraint con
       ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid
      AND con.contype IN ('p', 'u', 'x')
LEFT JOIN pg_catalog.pg_inherits inh ON inh.inhrelid = i.indexrelid
LEFT JOIN pg_catalog.pg_class pc ON pc.oid = inh.inhparent
LEFT JOIN pg_catalog.pg_namespace pn ON pn.oid = pc.relnamespace
LEFT JOIN pg_catalog.pg_description d
       ON d.classoid = 'pg_catalog.pg_class'::pg_catalog.regclass
      AND d.objoid = i.indexrelid AND d.objsubid = 0
LEFT JOIN stats st ON st.attrelid = i.indexrelid
WHERE tc.relkind IN ('r', 'p', 'm')
  AND tc.relpersistence <> 't'
  AND tn.nspname NOT IN ('pg_catalog', 'information_schema')
  AND tn.nspname !~ '^pg_(toast|temp_)'
  AND NOT EXISTS (
      SELECT FROM pg_catalog.pg_depend e
      WHERE e.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
        AND e.objid = tc.oid AND e.deptype = 'e')
  AND NOT EXISTS (
      SELECT FROM pg_catalog.pg_depend e
      WHERE e.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
        AND e.objid = ic.oid AND e.deptype = 'e')
ORDER BY n.nspname, ic.relname
