-- Tables published one by one, with column lists and row filters (PostgreSQL 15+).
SELECT pr.oid::bigint AS oid,
       pr.prpubid::bigint AS pub_oid,
       p.pubname AS publication,
       n.nspname AS schema,
       c.relname AS name,
       CASE WHEN pr.prattrs IS NOT NULL THEN
         ARRAY(SELECT a.attname::text
                 FROM unnest(pr.prattrs::int2[]) WITH ORDINALITY AS k(attnum, ord)
                 JOIN pg_catalog.pg_attribute a
                   ON a.attrelid = pr.prrelid AND a.attnum = k.attnum
                ORDER BY k.ord)
       END AS columns,
       pg_catalog.pg_get_expr(pr.prqual, pr.prrelid) AS row_filter
FROM pg_catalog.pg_publication_rel pr
JOIN pg_catalog.pg_publication p ON p.oid = pr.prpubid
JOIN pg_catalog.pg_class c ON c.oid = pr.prrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
ORDER BY p.pubname, n.nspname, c.relname
