-- Every dependency between two objects of the database, for ordering the TOC.
-- Pinned (p) and extension-membership (e, x) rows carry no ordering information.
-- Packed: "pairs" holds dependencies as the object's and the referenced object's ids,
-- two 8-byte big-endian integers each, one after the other; a row holds those of one
-- pair of catalogs (and one of 64 slices of the objects, so that no row grows past a
-- few hundred kB at 100 000 chunks). A row per dependency, a million of them at
-- 100 000 chunks, cost the client more to turn into Python objects than the query.
SELECT classid::regclass::text AS catalog,
       refclassid::regclass::text AS ref_catalog,
       pg_catalog.string_agg(pg_catalog.int8send(objid::bigint)
                             || pg_catalog.int8send(refobjid::bigint), ''::bytea) AS pairs
FROM pg_catalog.pg_depend
WHERE deptype NOT IN ('p', 'e', 'x')
  AND classid <> 0 AND refclassid <> 0
GROUP BY classid, refclassid, objid::bigint %% 64
