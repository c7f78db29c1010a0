-- The tables an import loads, by schema and name, with their columns and, apart, the
-- generated ones (the server computes those; they cannot be loaded). A table that
-- does not exist has no row.
SELECT n.nspname::text AS schema, c.relname::text AS name,
       array_agg(a.attname::text ORDER BY a.attnum) AS columns,
       coalesce(array_agg(a.attname::text ORDER BY a.attnum)
                  FILTER (WHERE a.attgenerated <> ''), '{}') AS generated
FROM unnest(%(schemas)s::text[], %(names)s::text[]) AS w(schema, name)
JOIN pg_catalog.pg_namespace n ON n.nspname = w.schema
JOIN pg_catalog.pg_class c
  ON c.relnamespace = n.oid AND c.relname = w.name AND c.relkind IN ('r', 'p', 'f')
JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
GROUP BY 1, 2
