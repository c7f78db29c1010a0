-- Extension configuration relations (pg_extension_config_dump): the tables whose rows
-- and the sequences whose values a dump carries, with each table's row filter and
-- each sequence's state now (as sequences.sql reads it).
SELECT e.oid::bigint AS ext_oid,
       e.extname AS extension,
       cfg.relid::bigint AS relid,
       cfg.ord::int AS ord,
       n.nspname AS schema,
       c.relname AS name,
       c.relkind::text AS relkind,
       cfg.condition AS condition,
       pg_catalog.pg_relation_size(c.oid)::bigint AS est_bytes,
       GREATEST(c.reltuples, 0)::bigint AS est_rows,
       ARRAY(SELECT a.attname::text
               FROM pg_catalog.pg_attribute a
              WHERE a.attrelid = c.oid AND a.attnum > 0
                AND NOT a.attisdropped AND a.attgenerated = ''
              ORDER BY a.attnum) AS columns,
       (pg_catalog.xpath('/row/last_value/text()', st.x))[1]::text::bigint AS last_value,
       (pg_catalog.xpath('/row/is_called/text()', st.x))[1]::text::boolean AS is_called
FROM pg_catalog.pg_extension e
CROSS JOIN LATERAL unnest(e.extconfig, e.extcondition)
     WITH ORDINALITY AS cfg(relid, condition, ord)
JOIN pg_catalog.pg_class c ON c.oid = cfg.relid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN LATERAL (
    SELECT pg_catalog.query_to_xml(
               pg_catalog.format('SELECT last_value, is_called FROM %%s',
                                 c.oid::pg_catalog.regclass),
               false, true, '') AS x
    WHERE c.relkind = 'S') AS st ON true
ORDER BY e.extname, cfg.ord
