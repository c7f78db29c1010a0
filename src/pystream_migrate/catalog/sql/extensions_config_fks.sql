-- Foreign keys between extension configuration tables (self-references left out): the
-- referenced table's rows must be loaded first.
SELECT DISTINCT con.conrelid::bigint AS relid, con.confrelid::bigint AS ref_relid
FROM pg_catalog.pg_constraint con
WHERE con.contype = 'f'
  AND con.conrelid <> con.confrelid
  AND con.conrelid = ANY (%(relids)s::oid[])
  AND con.confrelid = ANY (%(relids)s::oid[])
ORDER BY 1, 2
