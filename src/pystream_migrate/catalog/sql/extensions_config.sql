-- Extension configuration relations (pg_extension_config_dump): the tables whose rows
-- and the sequences whose values a dump carries, with each table's row filter.
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
              ORDER BY a.attnum) AS columns
FROM pg_catalog.pg_extension e
CROSS JOIN LATERAL unnest(e.extconfig, e.extcondition)
     WITH ORDINALITY AS cfg(relid, condition, ord)
JOIN pg_catalog.pg_class c ON c.oid = cfg.relid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
ORDER BY e.extname, cfg.ord
