-- Every dependency between two objects of the database, for ordering the TOC.
-- Pinned (p) and extension-membership (e, x) rows carry no ordering information.
SELECT classid::regclass::text AS catalog,
       objid::bigint AS oid,
       refclassid::regclass::text AS ref_catalog,
       refobjid::bigint AS ref_oid
FROM pg_catalog.pg_depend
WHERE deptype NOT IN ('p', 'e', 'x')
  AND classid <> 0 AND refclassid <> 0
