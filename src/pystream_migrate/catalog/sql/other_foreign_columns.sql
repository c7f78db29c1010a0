-- Columns and CHECK constraints of the given foreign tables (kind 'column' / 'check').
SELECT 'column' AS kind,
       a.attrelid::bigint AS relid,
       a.attnum::int AS num,
       a.attname::text AS name,
       pg_catalog.format_type(a.atttypid, a.atttypmod) AS type,
       a.attnotnull AS not_null,
       CASE WHEN a.attcollation <> t.typcollation AND a.attcollation <> 0
            THEN pg_catalog.quote_ident(cn.nspname) || '.' || pg_catalog.quote_ident(co.collname)
       END AS collation,
       ad.oid::bigint AS default_oid,
       pg_catalog.pg_get_expr(ad.adbin, ad.adrelid) AS default_expr,
       a.attgenerated::text AS generated,
       (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(o.option_name) || ' '
                                     || pg_catalog.quote_literal(o.option_value), ', '
                                     ORDER BY o.ord)
          FROM pg_catalog.pg_options_to_table(a.attfdwoptions)
               WITH ORDINALITY AS o(option_name, option_value, ord)) AS options,
       a.attacl::text[] AS acl,
       pg_catalog.col_description(a.attrelid, a.attnum) AS comment,
       NULL::bool AS no_inherit
FROM pg_catalog.pg_attribute a
JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_catalog.pg_collation co ON co.oid = a.attcollation
LEFT JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace
LEFT JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
WHERE a.attrelid = ANY (%(relids)s::oid[])
  AND a.attnum > 0 AND NOT a.attisdropped
UNION ALL
SELECT 'check',
       con.conrelid::bigint,
       0,
       con.conname::text,
       NULL,
       NULL,
       NULL,
       con.oid::bigint,
       pg_catalog.pg_get_constraintdef(con.oid),
       NULL,
       NULL,
       NULL,
       pg_catalog.obj_description(con.oid, 'pg_constraint'),
       con.connoinherit
FROM pg_catalog.pg_constraint con
WHERE con.conrelid = ANY (%(relids)s::oid[])
  AND con.contype = 'c'
ORDER BY 2, 1, 3, 4
