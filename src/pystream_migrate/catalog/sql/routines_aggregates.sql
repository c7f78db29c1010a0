-- User-defined aggregates with every pg_aggregate setting rendered as CREATE AGGREGATE
-- option text (functions and types schema-qualified, since search_path is empty).
SELECT p.oid::bigint AS oid,
       n.nspname AS schema,
       p.proname AS name,
       pg_catalog.pg_get_function_identity_arguments(p.oid) AS identity_args,
       pg_catalog.pg_get_function_arguments(p.oid) AS args,
       pg_catalog.pg_get_userbyid(p.proowner) AS owner,
       p.proacl::text[] AS acl,
       pg_catalog.obj_description(p.oid, 'pg_proc') AS comment,
       p.proparallel AS parallel,
       a.aggkind AS aggkind,
       a.aggtransfn::text AS sfunc,
       pg_catalog.format_type(a.aggtranstype, NULL) AS stype,
       a.aggtransspace AS sspace,
       CASE WHEN a.aggfinalfn <> 0 THEN a.aggfinalfn::text END AS finalfunc,
       a.aggfinalextra AS finalfunc_extra,
       a.aggfinalmodify AS finalfunc_modify,
       CASE WHEN a.aggcombinefn <> 0 THEN a.aggcombinefn::text END AS combinefunc,
       CASE WHEN a.aggserialfn <> 0 THEN a.aggserialfn::text END AS serialfunc,
       CASE WHEN a.aggdeserialfn <> 0 THEN a.aggdeserialfn::text END AS deserialfunc,
       a.agginitval AS initcond,
       CASE WHEN a.aggmtransfn <> 0 THEN a.aggmtransfn::text END AS msfunc,
       CASE WHEN a.aggminvtransfn <> 0 THEN a.aggminvtransfn::text END AS minvfunc,
       CASE WHEN a.aggmtranstype <> 0
            THEN pg_catalog.format_type(a.aggmtranstype, NULL) END AS mstype,
       a.aggmtransspace AS msspace,
       CASE WHEN a.aggmfinalfn <> 0 THEN a.aggmfinalfn::text END AS mfinalfunc,
       a.aggmfinalextra AS mfinalfunc_extra,
       a.aggmfinalmodify AS mfinalfunc_modify,
       a.aggminitval AS minitcond,
       CASE WHEN a.aggsortop <> 0 THEN (
           SELECT 'OPERATOR(' || pg_catalog.quote_ident(o_n.nspname) || '.' || o.oprname || ')'
           FROM pg_catalog.pg_operator o
           JOIN pg_catalog.pg_namespace o_n ON o_n.oid = o.oprnamespace
           WHERE o.oid = a.aggsortop) END AS sortop
FROM pg_catalog.pg_aggregate a
JOIN pg_catalog.pg_proc p ON p.oid = a.aggfnoid
JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\_toast%%'
  AND n.nspname NOT LIKE 'pg\_temp\_%%'
  AND NOT EXISTS (
      SELECT 1 FROM pg_catalog.pg_depend d
      WHERE d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass
        AND d.objid = p.oid AND d.deptype IN ('e', 'i'))
ORDER BY n.nspname, p.proname, p.oid
