-- Indexes of the tables tables.sql reads and of materialized views. Indexes that
-- back a constraint are marked (constraint_oid): constraints.sql creates them, but
-- they may still need attaching to a partitioned parent's index.
--
-- A chunk's index is its hypertable's index on another table: its definition is the
-- hypertable index's, from "USING" on, after its own name and table ("mirrors"). That
-- holds when everything pg_get_indexdef prints after "USING" is the same: access
-- method, key and INCLUDE columns (the same attnums naming the same columns: the two
-- tables' column layouts are equal; an inheritance child's columns have its parent's
-- types and collations), operator classes, collations, DESC/NULLS options, UNIQUE and
-- NULLS NOT DISTINCT, storage options; neither index has expressions, a predicate or
-- operator class options. Any other index (and any child index unlike every index of
-- its parent) gets pg_get_indexdef of its own. On 4000 chunks, in a new backend (as
-- the dump's helper runs it), the query took 475 ms with pg_get_indexdef for each of
-- the 8156 indexes and 260 ms so; on 20 000 chunks 1.57 s and 0.98 s.
--
-- The statistics targets are read once for every index, with the indexes that have
-- operator class options (attoptions), in one pass over pg_attribute.
WITH index_attributes AS MATERIALIZED (
    SELECT ia.attrelid,
           pg_catalog.array_agg(ia.attnum::int ORDER BY ia.attnum)
               FILTER (WHERE COALESCE(ia.attstattarget::int, -1) >= 0) AS columns,
           pg_catalog.array_agg(ia.attstattarget::int ORDER BY ia.attnum)
               FILTER (WHERE COALESCE(ia.attstattarget::int, -1) >= 0) AS targets,
           pg_catalog.bool_or(ia.attoptions IS NOT NULL) AS optioned
    FROM pg_catalog.pg_attribute ia
    WHERE ia.attnum > 0
      AND (COALESCE(ia.attstattarget::int, -1) >= 0 OR ia.attoptions IS NOT NULL)
    GROUP BY ia.attrelid
),
-- Inheritance children of plain tables (a hypertable's chunks), with their parent.
children AS MATERIALIZED (
    SELECT h.inhrelid AS child, h.inhparent AS parent
    FROM pg_catalog.pg_inherits h
    JOIN pg_catalog.pg_class pc ON pc.oid = h.inhparent
    WHERE pc.relkind = 'r'
),
-- Each column's name by attnum (dropped ones have a name of their own), of those tables.
layouts AS MATERIALIZED (
    SELECT r.relid AS attrelid,
           ARRAY(SELECT a.attname FROM pg_catalog.pg_attribute a
                 WHERE a.attrelid = r.relid AND a.attnum > 0 ORDER BY a.attnum) AS names
    FROM (SELECT child AS relid FROM children UNION SELECT parent FROM children) r
),
-- The parents' indexes that a child's may mirror, with what their definition starts with.
parent_indexes AS MATERIALIZED (
    SELECT i.indexrelid, i.indrelid, ic.relam, i.indisunique, i.indnatts, i.indnkeyatts,
           i.indkey::text AS keys, i.indclass::text AS classes,
           i.indcollation::text AS collations, i.indoption::text AS options,
           ic.reloptions::text AS reloptions,
           CASE WHEN %(server_version)s >= 150000 AND i.indisunique
                THEN pg_catalog.to_jsonb(i) ->> 'indnullsnotdistinct' END AS nulls,
           pg_catalog.pg_get_indexdef(i.indexrelid) AS definition,
           'CREATE ' || CASE WHEN i.indisunique THEN 'UNIQUE ' ELSE '' END || 'INDEX '
           || pg_catalog.quote_ident(ic.relname) || ' ON '
           || pg_catalog.quote_ident(tn.nspname) || '.' || pg_catalog.quote_ident(tc.relname)
           || ' USING ' AS prefix
    FROM pg_catalog.pg_index i
    JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
    JOIN pg_catalog.pg_class tc ON tc.oid = i.indrelid
    JOIN pg_catalog.pg_namespace tn ON tn.oid = tc.relnamespace
    WHERE i.indrelid IN (SELECT parent FROM children)
      AND ic.relkind = 'i' AND i.indexprs IS NULL AND i.indpred IS NULL
      AND i.indexrelid NOT IN (SELECT attrelid FROM index_attributes WHERE optioned)
),
-- Each child index alike to an index of its parent: that definition after "USING ".
mirrors AS MATERIALIZED (
    SELECT DISTINCT ON (ci.indexrelid) ci.indexrelid,
           pg_catalog.substr(p.definition, pg_catalog.length(p.prefix) + 1) AS tail
    FROM children c
    JOIN layouts cl ON cl.attrelid = c.child
    JOIN layouts pl ON pl.attrelid = c.parent AND pl.names = cl.names
    JOIN parent_indexes p ON p.indrelid = c.parent
    JOIN pg_catalog.pg_index ci ON ci.indrelid = c.child
    JOIN pg_catalog.pg_class cic ON cic.oid = ci.indexrelid
    WHERE pg_catalog.starts_with(p.definition, p.prefix)
      AND cic.relkind = 'i' AND ci.indexprs IS NULL AND ci.indpred IS NULL
      AND cic.relam = p.relam AND ci.indisunique = p.indisunique
      AND ci.indnatts = p.indnatts AND ci.indnkeyatts = p.indnkeyatts
      AND ci.indkey::text = p.keys AND ci.indclass::text = p.classes
      AND ci.indcollation::text = p.collations AND ci.indoption::text = p.options
      AND cic.reloptions::text IS NOT DISTINCT FROM p.reloptions
      AND (CASE WHEN %(server_version)s >= 150000 AND ci.indisunique
                THEN pg_catalog.to_jsonb(ci) ->> 'indnullsnotdistinct' END)
          IS NOT DISTINCT FROM p.nulls
      AND ci.indexrelid NOT IN (SELECT attrelid FROM index_attributes WHERE optioned)
    ORDER BY ci.indexrelid, p.indexrelid
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
       COALESCE('CREATE ' || CASE WHEN i.indisunique THEN 'UNIQUE ' ELSE '' END || 'INDEX '
                || pg_catalog.quote_ident(ic.relname) || ' ON '
                || pg_catalog.quote_ident(tn.nspname) || '.'
                || pg_catalog.quote_ident(tc.relname) || ' USING ' || mi.tail,
                pg_catalog.pg_get_indexdef(i.indexrelid)) AS definition,
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
LEFT JOIN index_attributes st ON st.attrelid = i.indexrelid
LEFT JOIN mirrors mi ON mi.indexrelid = i.indexrelid
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
