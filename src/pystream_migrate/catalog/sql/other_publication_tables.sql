-- Tables published one by one (PostgreSQL 13-14: no column lists or row filters).
SELECT pr.oid::bigint AS oid,
       pr.prpubid::bigint AS pub_oid,
       p.pubname AS publication,
       n.nspname AS schema,
       c.relname AS name,
       NULL::text[] AS columns,
       NULL::text AS row_filter
FROM pg_catalog.pg_publication_rel pr
JOIN pg_catalog.pg_publication p ON p.oid = pr.prpubid
JOIN pg_catalog.pg_class c ON c.oid = pr.prrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
ORDER BY p.pubname, n.nspname, c.relname
