-- The live columns (attnum order) of the tables tables.sql reads and of their
-- inheritance parents, with everything a column definition needs (compression
-- and identity sequences: tables_compression.sql, tables_identity.sql).
WITH rels AS (
    SELECT c.oid
    FROM pg_catalog.pg_class c
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p')
      AND c.relpersistence <> 't'
      AND n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND n.nspname !~ '^pg_(toast|temp_)'
      AND NOT EXISTS (
          SELECT FROM pg_catalog.pg_depend e
          WHERE e.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
            AND e.objid = c.oid AND e.deptype = 'e')
), wanted AS (
    SELECT oid FROM rels
    UNION
    SELECT i.inhparent FROM pg_catalog.pg_inherits i JOIN rels r ON r.oid = i.inhrelid
)
SELECT a.attrelid::bigint AS relid,
       a.attnum::int AS attnum,
       a.attname AS name,
       pg_catalog.format_type(a.atttypid, a.atttypmod) AS type,
       a.attnotnull AS notnull,
       a.attislocal AS is_local,
       a.attinhcount::int AS inhcount,
       CASE WHEN a.attcollation <> t.typcollation
            THEN pg_catalog.quote_ident(cn.nspname) || '.'
                 || pg_catalog.quote_ident(co.collname) END AS collation,
       a.attidentity::text AS identity,
       a.attgenerated::text AS generated,
       ad.oid::bigint AS default_oid,
       pg_catalog.pg_get_expr(ad.adbin, ad.adrelid) AS default_expr,
       CASE WHEN a.attstorage <> t.typstorage THEN a.attstorage::text END AS storage,
       NULLIF(COALESCE(a.attstattarget::int, -1), -1) AS statistics,
       NULLIF(ARRAY(SELECT pg_catalog.quote_ident(o.option_name) || '='
                           || pg_catalog.quote_literal(o.option_value)
                    FROM pg_catalog.pg_options_to_table(a.attoptions) o
                    -- pg_attver: a server-maintained entry on some builds; not settable.
                    WHERE o.option_name <> 'pg_attver'), '{}') AS options,
       a.attacl::text[] AS acl,
       d.description AS comment
FROM wanted w
JOIN pg_catalog.pg_attribute a ON a.attrelid = w.oid
JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_catalog.pg_collation co
       ON co.oid = a.attcollation AND a.attcollation <> t.typcollation
LEFT JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace
LEFT JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
LEFT JOIN pg_catalog.pg_description d
       ON d.classoid = 'pg_catalog.pg_class'::pg_catalog.regclass
      AND d.objoid = a.attrelid AND d.objsubid = a.attnum
WHERE a.attnum > 0
  AND NOT a.attisdropped
ORDER BY a.attrelid, a.attnum
