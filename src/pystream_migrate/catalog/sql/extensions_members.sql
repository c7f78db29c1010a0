-- Every object that belongs to an extension, and the extension it belongs to. Besides
-- the members themselves (deptype 'e') this follows internal and automatic parts of
-- members (an extension type's array type, a member table's row type and indexes),
-- which pg_depend records against the member rather than the extension.
WITH RECURSIVE member(classid, objid, extoid) AS (
    SELECT d.classid, d.objid, d.refobjid
      FROM pg_catalog.pg_depend d
     WHERE d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
       AND d.deptype = 'e'
  UNION
    SELECT d.classid, d.objid, m.extoid
      FROM pg_catalog.pg_depend d
      JOIN member m ON d.refclassid = m.classid AND d.refobjid = m.objid
     WHERE d.deptype IN ('i', 'a')
       AND d.classid <> 0
)
SELECT DISTINCT ON (classid, objid)
       classid::pg_catalog.regclass::text AS catalog,
       objid::bigint AS oid,
       extoid::bigint AS ext_oid
FROM member
ORDER BY classid, objid, extoid
