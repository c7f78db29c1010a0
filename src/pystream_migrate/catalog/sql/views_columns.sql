-- Columns of views and materialized views: type and collation (for a view's stand-in
-- definition), defaults, comments, column privileges and a materialized view's
-- statistics targets, storage and options.
SELECT a.attrelid::bigint AS relid,
       a.attnum AS num,
       a.attname AS name,
       pg_catalog.format_type(a.atttypid, a.atttypmod) AS type,
       CASE WHEN a.attcollation <> at.typcollation
            THEN pg_catalog.quote_ident(cn.nspname) || '.' || pg_catalog.quote_ident(co.collname)
       END AS collation,
       pg_catalog.pg_get_expr(ad.adbin, ad.adrelid) AS default_expr,
       ad.oid::bigint AS default_oid,
       pg_catalog.col_description(a.attrelid, a.attnum) AS comment,
       a.attacl::text[] AS acl,
       -- A materialized view's column settings (as in tables_columns.sql).
       CASE WHEN a.attstorage <> at.typstorage THEN a.attstorage::text END AS storage,
       NULLIF(COALESCE(a.attstattarget::int, -1), -1) AS statistics,
       NULLIF(ARRAY(SELECT pg_catalog.quote_ident(o.option_name) || '='
                           || pg_catalog.quote_literal(o.option_value)
                    FROM pg_catalog.pg_options_to_table(a.attoptions) o
                    WHERE o.option_name <> 'pg_attver'), '{}') AS options
FROM pg_catalog.pg_attribute a
JOIN pg_catalog.pg_class c ON c.oid = a.attrelid AND c.relkind IN ('v', 'm')
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_type at ON at.oid = a.atttypid
LEFT JOIN pg_catalog.pg_collation co ON co.oid = a.attcollation
LEFT JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace
LEFT JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
WHERE a.attnum > 0 AND NOT a.attisdropped
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
ORDER BY a.attrelid, a.attnum
