-- Tables (of the given oids) with a column whose type cannot be read or written in
-- COPY's binary format: those fall back to the text format.
SELECT DISTINCT a.attrelid::bigint AS relid
FROM pg_catalog.pg_attribute a
JOIN pg_catalog.pg_type t
  ON t.oid = CASE WHEN (SELECT typtype FROM pg_catalog.pg_type WHERE oid = a.atttypid) = 'd'
                  THEN (SELECT typbasetype FROM pg_catalog.pg_type WHERE oid = a.atttypid)
                  ELSE a.atttypid END
WHERE a.attrelid = ANY (%(relids)s::oid[])
  AND a.attnum > 0 AND NOT a.attisdropped
  AND (t.typsend = 0 OR t.typreceive = 0)
