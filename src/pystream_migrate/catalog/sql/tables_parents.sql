-- The schema and name of every inheritance parent (of a table or a partition), by oid:
-- what tables.py must know before the tables' rows stream past once (a child names
-- its parents in its CREATE TABLE).
SELECT DISTINCT i.inhparent::bigint AS oid, n.nspname AS schema, c.relname AS name
FROM pg_catalog.pg_inherits i
JOIN pg_catalog.pg_class c ON c.oid = i.inhparent
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
