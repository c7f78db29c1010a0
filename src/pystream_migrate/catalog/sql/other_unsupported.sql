-- Objects this tool does not carry, to be named in the dump's report: procedural
-- languages that no extension created, subscriptions of this database, and large
-- objects (counted, not listed).
SELECT 'PROCEDURAL LANGUAGE' AS kind, NULL::text AS schema, l.lanname::text AS name,
       'a procedural language created outside an extension (CREATE LANGUAGE); create it '
       'on the target (CREATE EXTENSION, or CREATE LANGUAGE) before restoring' AS reason
FROM pg_catalog.pg_language l
WHERE l.oid >= 16384
  AND NOT EXISTS (
        SELECT 1 FROM pg_catalog.pg_depend d
         WHERE d.classid = 'pg_catalog.pg_language'::pg_catalog.regclass
           AND d.objid = l.oid AND d.deptype = 'e')
UNION ALL
SELECT 'SUBSCRIPTION', NULL, s.subname::text,
       'subscriptions need a connection string and a replication slot on the publisher; '
       'create it on the target after the restore'
FROM pg_catalog.pg_subscription s
WHERE s.subdbid = (SELECT oid FROM pg_catalog.pg_database
                    WHERE datname = pg_catalog.current_database())
UNION ALL
SELECT 'LARGE OBJECT', NULL, pg_catalog.count(*) || ' large objects',
       'large objects (pg_largeobject) are not carried'
FROM pg_catalog.pg_largeobject_metadata
HAVING pg_catalog.count(*) > 0
ORDER BY 1, 2, 3
