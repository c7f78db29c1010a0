-- Tables (of the given oids) with a column whose type cannot be read or written in
-- COPY's binary format: those fall back to the text format. So do tables with a column
-- of an oid alias type (regclass, regrole, ...; TimescaleDB's catalog has such
-- columns), or an array of one: binary COPY moves those as bare oids, which differ on
-- the target, where the text format moves them by name.
SELECT DISTINCT a.attrelid::bigint AS relid
FROM pg_catalog.pg_attribute a
JOIN pg_catalog.pg_type t
  ON t.oid = CASE WHEN (SELECT typtype FROM pg_catalog.pg_type WHERE oid = a.atttypid) = 'd'
                  THEN (SELECT typbasetype FROM pg_catalog.pg_type WHERE oid = a.atttypid)
                  ELSE a.atttypid END
LEFT JOIN pg_catalog.pg_type el ON el.oid = t.typelem AND t.typlen = -1
WHERE a.attrelid = ANY (%(relids)s::oid[])
  AND a.attnum > 0 AND NOT a.attisdropped
  AND (t.typsend = 0 OR t.typreceive = 0
       OR EXISTS (SELECT 1 FROM pg_catalog.pg_type r
                  WHERE r.oid IN (t.oid, el.oid)
                    AND r.typnamespace = 'pg_catalog'::pg_catalog.regnamespace
                    AND r.typname IN ('regclass', 'regcollation', 'regconfig',
                                      'regdictionary', 'regnamespace', 'regoper',
                                      'regoperator', 'regproc', 'regprocedure', 'regrole',
                                      'regtype')))
