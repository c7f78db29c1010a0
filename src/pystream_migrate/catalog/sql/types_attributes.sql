-- Attributes of the standalone composite types (relkind 'c') that types.sql returns,
-- with a COLLATE clause where the collation differs from the attribute type's default.
SELECT a.attrelid::bigint AS relid,
       a.attnum AS num,
       a.attname AS name,
       pg_catalog.format_type(a.atttypid, a.atttypmod) AS type,
       CASE WHEN a.attcollation <> at.typcollation
            THEN pg_catalog.quote_ident(cn.nspname) || '.' || pg_catalog.quote_ident(c.collname)
       END AS collation,
       pg_catalog.col_description(a.attrelid, a.attnum) AS comment
FROM pg_catalog.pg_attribute a
JOIN pg_catalog.pg_class rel ON rel.oid = a.attrelid AND rel.relkind = 'c'
JOIN pg_catalog.pg_type at ON at.oid = a.atttypid
LEFT JOIN pg_catalog.pg_collation c ON c.oid = a.attcollation
LEFT JOIN pg_catalog.pg_namespace cn ON cn.oid = c.collnamespace
WHERE a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attrelid, a.attnum
