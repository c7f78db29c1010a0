-- Identity columns of the tables tables.sql reads, with their identity sequence
-- (pg_depend deptype 'i'): its name, options, persistence, privileges and comment.
SELECT a.attrelid::bigint AS relid,
       a.attname AS column_name,
       sc.oid::bigint AS seq_oid,
       sn.nspname AS seq_schema,
       sc.relname AS seq_name,
       sc.relpersistence::text AS seq_persistence,
       sq.seqstart AS seq_start,
       sq.seqincrement AS seq_increment,
       sq.seqmin AS seq_min,
       sq.seqmax AS seq_max,
       sq.seqcache AS seq_cache,
       sq.seqcycle AS seq_cycle,
       sc.relacl::text[] AS seq_acl,
       sd.description AS seq_comment
FROM pg_catalog.pg_attribute a
JOIN pg_catalog.pg_depend dep
  ON dep.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
 AND dep.refobjid = a.attrelid
 AND dep.refobjsubid = a.attnum
 AND dep.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
 AND dep.deptype = 'i'
JOIN pg_catalog.pg_class sc ON sc.oid = dep.objid AND sc.relkind = 'S'
JOIN pg_catalog.pg_namespace sn ON sn.oid = sc.relnamespace
JOIN pg_catalog.pg_sequence sq ON sq.seqrelid = sc.oid
LEFT JOIN pg_catalog.pg_description sd
       ON sd.classoid = 'pg_catalog.pg_class'::pg_catalog.regclass
      AND sd.objoid = sc.oid AND sd.objsubid = 0
WHERE a.attidentity <> ''
  AND a.attnum > 0
  AND NOT a.attisdropped
