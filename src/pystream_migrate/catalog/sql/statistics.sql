-- Extended statistics objects (CREATE STATISTICS: ndistinct, dependencies, mcv, on
-- columns and expressions) of the tables and materialized views the dump carries.
-- stxstattarget: -1 until PostgreSQL 17, NULL from 17 on, when no target was set.
SELECT s.oid::bigint AS oid,
       n.nspname AS schema,
       s.stxname AS name,
       pg_catalog.pg_get_userbyid(s.stxowner) AS owner,
       pg_catalog.pg_get_statisticsobjdef(s.oid) AS definition,
       NULLIF(COALESCE(s.stxstattarget::int, -1), -1) AS stattarget,
       s.stxrelid::bigint AS table_oid,
       pg_catalog.obj_description(s.oid, 'pg_statistic_ext') AS comment
FROM pg_catalog.pg_statistic_ext s
JOIN pg_catalog.pg_namespace n ON n.oid = s.stxnamespace
JOIN pg_catalog.pg_class c ON c.oid = s.stxrelid
JOIN pg_catalog.pg_namespace cn ON cn.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'm', 'f')
  AND c.relpersistence <> 't'
  AND cn.nspname NOT IN ('pg_catalog', 'information_schema')
  AND cn.nspname !~ '^pg_(toast|temp_)'
  AND NOT EXISTS (
      SELECT FROM pg_catalog.pg_depend e
      WHERE e.objid IN (s.oid, c.oid) AND e.deptype = 'e'
        AND e.classid IN ('pg_catalog.pg_class'::pg_catalog.regclass,
                          'pg_catalog.pg_statistic_ext'::pg_catalog.regclass))
ORDER BY n.nspname, s.stxname
