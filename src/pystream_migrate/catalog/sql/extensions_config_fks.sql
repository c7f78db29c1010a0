-- Foreign keys between extension configuration relations (self-references left out):
-- the referenced table's rows must be loaded first.
WITH cfg AS (
    SELECT unnest(e.extconfig) AS relid FROM pg_catalog.pg_extension e
)
SELECT DISTINCT con.conrelid::bigint AS relid, con.confrelid::bigint AS ref_relid
FROM pg_catalog.pg_constraint con
WHERE con.contype = 'f'
  AND con.conrelid <> con.confrelid
  AND con.conrelid IN (SELECT relid FROM cfg)
  AND con.confrelid IN (SELECT relid FROM cfg)
ORDER BY 1, 2
