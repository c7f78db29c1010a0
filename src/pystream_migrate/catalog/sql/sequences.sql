-- Sequences outside the system schemas that no extension owns, with the column
-- that owns them: deptype 'a' for serial/OWNED BY, 'i' for identity sequences
-- (which the table's CREATE TABLE creates), and their state now (query_to_xml runs
-- the per-sequence SELECT without dynamic SQL in the client; read with the rest, it
-- costs the leader no round trip of its own).
SELECT c.oid::bigint AS oid,
       n.nspname AS schema,
       c.relname AS name,
       pg_catalog.pg_get_userbyid(c.relowner) AS owner,
       c.relacl::text[] AS acl,
       d.description AS comment,
       c.relpersistence::text AS persistence,
       pg_catalog.format_type(s.seqtypid, NULL) AS type,
       s.seqstart AS start,
       s.seqincrement AS increment,
       s.seqmin AS min,
       s.seqmax AS max,
       s.seqcache AS cache,
       s.seqcycle AS cycle,
       own.deptype::text AS owned_deptype,
       own.refobjid::bigint AS owner_table,
       tn.nspname AS owner_schema,
       tc.relname AS owner_table_name,
       ta.attname AS owner_column,
       (pg_catalog.xpath('/row/last_value/text()', st.x))[1]::text::bigint AS last_value,
       (pg_catalog.xpath('/row/is_called/text()', st.x))[1]::text::boolean AS is_called
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_sequence s ON s.seqrelid = c.oid
LEFT JOIN pg_catalog.pg_description d
       ON d.classoid = 'pg_catalog.pg_class'::pg_catalog.regclass
      AND d.objoid = c.oid AND d.objsubid = 0
LEFT JOIN pg_catalog.pg_depend own
       ON own.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
      AND own.objid = c.oid
      AND own.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
      AND own.refobjsubid > 0
      AND own.deptype IN ('a', 'i')
LEFT JOIN pg_catalog.pg_class tc ON tc.oid = own.refobjid
LEFT JOIN pg_catalog.pg_namespace tn ON tn.oid = tc.relnamespace
LEFT JOIN pg_catalog.pg_attribute ta
       ON ta.attrelid = own.refobjid AND ta.attnum = own.refobjsubid
CROSS JOIN LATERAL pg_catalog.query_to_xml(
    pg_catalog.format('SELECT last_value, is_called FROM %%s', c.oid::pg_catalog.regclass),
    false, true, '') AS st(x)
WHERE c.relkind = 'S'
  AND c.relpersistence <> 't'
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname !~ '^pg_(toast|temp_)'
  AND NOT EXISTS (
      SELECT FROM pg_catalog.pg_depend e
      WHERE e.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
        AND e.objid = c.oid AND e.deptype = 'e')
ORDER BY n.nspname, c.relname
