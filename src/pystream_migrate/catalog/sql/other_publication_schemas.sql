-- Schemas published as a whole (FOR TABLES IN SCHEMA, PostgreSQL 15+).
SELECT pn.oid::bigint AS oid,
       pn.pnpubid::bigint AS pub_oid,
       p.pubname AS publication,
       n.nspname AS schema
FROM pg_catalog.pg_publication_namespace pn
JOIN pg_catalog.pg_publication p ON p.oid = pn.pnpubid
JOIN pg_catalog.pg_namespace n ON n.oid = pn.pnnspid
ORDER BY p.pubname, n.nspname
