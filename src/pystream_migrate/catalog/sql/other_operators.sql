-- User operators with everything CREATE OPERATOR needs; function and operator names
-- come out schema-qualified and quoted.
WITH fn AS (
    SELECT p.oid, pg_catalog.quote_ident(pn.nspname) || '.' || pg_catalog.quote_ident(p.proname)
             AS qualified
      FROM pg_catalog.pg_proc p
      JOIN pg_catalog.pg_namespace pn ON pn.oid = p.pronamespace
), op AS (
    SELECT o.oid, 'OPERATOR(' || pg_catalog.quote_ident(opn.nspname) || '.' || o.oprname || ')'
             AS qualified
      FROM pg_catalog.pg_operator o
      JOIN pg_catalog.pg_namespace opn ON opn.oid = o.oprnamespace
)
SELECT o.oid::bigint AS oid,
       n.nspname AS schema,
       o.oprname AS name,
       pg_catalog.pg_get_userbyid(o.oprowner) AS owner,
       o.oprkind::text AS kind,
       CASE WHEN o.oprleft <> 0 THEN pg_catalog.format_type(o.oprleft, NULL) END AS leftarg,
       CASE WHEN o.oprright <> 0 THEN pg_catalog.format_type(o.oprright, NULL) END AS rightarg,
       (SELECT qualified FROM fn WHERE fn.oid = o.oprcode) AS func,
       (SELECT qualified FROM op WHERE op.oid = o.oprcom) AS commutator,
       (SELECT qualified FROM op WHERE op.oid = o.oprnegate) AS negator,
       (SELECT qualified FROM fn WHERE fn.oid = o.oprrest) AS restrict_func,
       (SELECT qualified FROM fn WHERE fn.oid = o.oprjoin) AS join_func,
       o.oprcanhash AS hashes,
       o.oprcanmerge AS merges,
       pg_catalog.obj_description(o.oid, 'pg_operator') AS comment
FROM pg_catalog.pg_operator o
JOIN pg_catalog.pg_namespace n ON n.oid = o.oprnamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\_toast%%'
  AND n.nspname NOT LIKE 'pg\_temp\_%%'
  AND o.oprcode <> 0  -- a shell left behind by a commutator/negator reference
  AND NOT EXISTS (
        SELECT 1 FROM pg_catalog.pg_depend d
         WHERE d.classid = 'pg_catalog.pg_operator'::pg_catalog.regclass
           AND d.objid = o.oid AND d.deptype = 'e')
ORDER BY n.nspname, o.oprname, o.oid
