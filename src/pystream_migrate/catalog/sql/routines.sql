-- Functions and procedures (aggregates are in routines_aggregates.sql). Left out: system
-- schemas, extension members, and functions made automatically with another object (an
-- internal dependency, e.g. range and multirange constructors).
WITH io(func_oid, type_oid) AS MATERIALIZED (
    SELECT f.oid, t.oid
    FROM pg_catalog.pg_type t,
         pg_catalog.unnest(ARRAY[t.typinput, t.typoutput, t.typreceive, t.typsend,
                                 t.typmodin, t.typmodout, t.typanalyze]::oid[]) AS f(oid)
    WHERE t.typtype = 'b' AND f.oid <> 0 AND t.oid >= 16384
    UNION ALL
    SELECT r.rngcanonical, r.rngtypid
    FROM pg_catalog.pg_range r
    WHERE r.rngcanonical <> 0 AND r.rngtypid >= 16384
)
SELECT p.oid::bigint AS oid,
       n.oid::bigint AS nsp_oid,
       n.nspname AS schema,
       p.proname AS name,
       p.prokind AS prokind,
       pg_catalog.pg_get_function_identity_arguments(p.oid) AS identity_args,
       pg_catalog.pg_get_functiondef(p.oid) AS definition,
       pg_catalog.pg_get_userbyid(p.proowner) AS owner,
       p.proacl::text[] AS acl,
       pg_catalog.obj_description(p.oid, 'pg_proc') AS comment,
       l.lanname AS language,
       l.lanispl AS language_is_pl,
       EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
               WHERE d.classid = 'pg_catalog.pg_language'::pg_catalog.regclass
                 AND d.objid = l.oid AND d.deptype = 'e') AS language_from_extension,
       -- The base type (or range type with a canonical function) whose I/O or
       -- canonical function this is, when the function's signature names that type.
       shell.type_oid::bigint AS shell_type_oid
FROM pg_catalog.pg_proc p
JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
JOIN pg_catalog.pg_language l ON l.oid = p.prolang
LEFT JOIN LATERAL (
    SELECT io.type_oid FROM io
    WHERE io.func_oid = p.oid
      AND (p.prorettype = io.type_oid OR io.type_oid = ANY (p.proargtypes))
    LIMIT 1) shell ON true
WHERE p.prokind IN ('f', 'p', 'w')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\_toast%%'
  AND n.nspname NOT LIKE 'pg\_temp\_%%'
  AND NOT EXISTS (
      SELECT 1 FROM pg_catalog.pg_depend d
      WHERE d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass
        AND d.objid = p.oid AND d.deptype IN ('e', 'i'))
ORDER BY n.nspname, p.proname, p.oid
