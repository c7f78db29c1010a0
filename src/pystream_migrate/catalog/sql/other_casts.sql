-- User-defined casts: created after initdb, not by an extension, and not implicitly
-- with another object (a range type's cast to its multirange depends on it internally).
SELECT c.oid::bigint AS oid,
       pg_catalog.format_type(c.castsource, NULL) AS source,
       pg_catalog.format_type(c.casttarget, NULL) AS target,
       c.castmethod::text AS method,
       c.castcontext::text AS context,
       CASE WHEN c.castfunc <> 0 THEN c.castfunc::pg_catalog.regprocedure::text END AS func,
       pg_catalog.obj_description(c.oid, 'pg_cast') AS comment
FROM pg_catalog.pg_cast c
WHERE c.oid >= 16384
  AND NOT EXISTS (
        SELECT 1 FROM pg_catalog.pg_depend d
         WHERE d.classid = 'pg_catalog.pg_cast'::pg_catalog.regclass
           AND d.objid = c.oid AND d.deptype IN ('e', 'i'))
ORDER BY 2, 3
