-- The columns of the given tables, in order, with what the Arrow mapping needs: the
-- base type behind any domains (name, kind, category), an array's element type, the
-- type modifier (numeric's precision and scale) and the type as PostgreSQL writes it.
WITH RECURSIVE cols AS (
    SELECT a.attrelid, a.attnum, a.attname, a.atttypid, a.atttypmod, a.attndims
    FROM pg_catalog.pg_attribute a
    WHERE a.attrelid = ANY (%(relids)s::oid[]) AND a.attnum > 0 AND NOT a.attisdropped
), base (attrelid, attnum, typid, typmod, depth) AS (
    SELECT attrelid, attnum, atttypid, atttypmod, 0 FROM cols
    UNION ALL
    SELECT b.attrelid, b.attnum, t.typbasetype,
           CASE WHEN t.typtypmod <> -1 THEN t.typtypmod ELSE b.typmod END, b.depth + 1
    FROM base b JOIN pg_catalog.pg_type t ON t.oid = b.typid
    WHERE t.typtype = 'd'
), deepest AS (
    SELECT DISTINCT ON (attrelid, attnum) attrelid, attnum, typid, typmod
    FROM base ORDER BY attrelid, attnum, depth DESC
)
SELECT c.attrelid::bigint AS relid, c.attnum, c.attname::text AS name,
       pg_catalog.format_type(c.atttypid, c.atttypmod) AS pg_type,
       bn.nspname::text AS base_schema, bt.typname::text AS base, bt.typtype::text AS typtype,
       d.typmod,
       en.nspname::text AS elem_schema, et.typname::text AS elem, et.typtype::text AS elem_typtype,
       c.attndims
FROM cols c
JOIN deepest d USING (attrelid, attnum)
JOIN pg_catalog.pg_type bt ON bt.oid = d.typid
JOIN pg_catalog.pg_namespace bn ON bn.oid = bt.typnamespace
LEFT JOIN pg_catalog.pg_type et ON et.oid = bt.typelem AND bt.typlen = -1 AND bt.typcategory = 'A'
LEFT JOIN pg_catalog.pg_namespace en ON en.oid = et.typnamespace
ORDER BY c.attrelid, c.attnum
