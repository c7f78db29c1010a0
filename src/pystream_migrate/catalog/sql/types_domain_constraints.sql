-- Constraints of domains. CHECK constraints are rendered; every constraint oid is
-- returned so that dependencies on it (e.g. PG 17's NOT NULL entries) map to the domain.
SELECT c.contypid::bigint AS type_oid,
       c.oid::bigint AS oid,
       c.conname AS name,
       c.contype AS contype,
       c.convalidated AS validated,
       CASE WHEN c.contype = 'c' THEN pg_catalog.pg_get_constraintdef(c.oid) END AS definition,
       pg_catalog.obj_description(c.oid, 'pg_constraint') AS comment
FROM pg_catalog.pg_constraint c
WHERE c.contypid <> 0
ORDER BY c.contypid, c.conname
