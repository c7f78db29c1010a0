-- Validated CHECK constraints of the tables tables.sql reads (NOT VALID ones are
-- added after the data, see constraints.sql).
SELECT con.oid::bigint AS oid,
       con.conrelid::bigint AS relid,
       con.conname AS name,
       pg_catalog.pg_get_constraintdef(con.oid) AS definition,
       con.conislocal AS is_local,
       con.coninhcount::int AS inhcount,
       d.description AS comment,
       -- Whether it uses a user-defined object (e.g. a function) other than its
       -- table: only then can it be part of a dependency cycle with the table.
       EXISTS (
           SELECT FROM pg_catalog.pg_depend dd
           WHERE dd.classid = 'pg_catalog.pg_constraint'::pg_catalog.regclass
             AND dd.objid = con.oid
             AND dd.deptype = 'n'
             AND dd.refobjid >= 16384
             AND NOT (dd.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
                      AND dd.refobjid = con.conrelid)
             AND NOT EXISTS (
                 SELECT FROM pg_catalog.pg_depend ee
                 WHERE ee.classid = dd.refclassid AND ee.objid = dd.refobjid
                   AND ee.deptype = 'e')
       ) AS uses_user_objects
FROM pg_catalog.pg_constraint con
JOIN pg_catalog.pg_class c ON c.oid = con.conrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_catalog.pg_description d
       ON d.classoid = 'pg_catalog.pg_constraint'::pg_catalog.regclass
      AND d.objoid = con.oid AND d.objsubid = 0
WHERE con.contype = 'c'
  AND con.convalidated
  AND c.relkind IN ('r', 'p')
  AND c.relpersistence <> 't'
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname !~ '^pg_(toast|temp_)'
  AND NOT EXISTS (
      SELECT FROM pg_catalog.pg_depend e
      WHERE e.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
        AND e.objid = c.oid AND e.deptype = 'e')
ORDER BY con.conrelid, con.conname
