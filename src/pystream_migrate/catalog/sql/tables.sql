-- Ordinary (r) and partitioned (p) tables outside the system schemas that no
-- extension owns: TimescaleDB hypertable roots and their chunks are included.
SELECT c.oid::bigint AS oid,
       n.nspname AS schema,
       c.relname AS name,
       c.relkind::text AS relkind,
       c.relpersistence::text AS persistence,
       pg_catalog.pg_get_userbyid(c.relowner) AS owner,
       c.relacl::text[] AS acl,
       d.description AS comment,
       ts.spcname AS tablespace,
       c.reltype::bigint AS rowtype,
       t.typarray::bigint AS rowtype_array,
       CASE WHEN c.reloftype <> 0
            THEN pg_catalog.format_type(c.reloftype, NULL) END AS of_type,
       c.relispartition AS is_partition,
       CASE WHEN c.relispartition
            THEN pg_catalog.pg_get_expr(c.relpartbound, c.oid) END AS partition_bound,
       CASE WHEN c.relkind = 'p'
            THEN pg_catalog.pg_get_partkeydef(c.oid) END AS partition_key,
       c.relreplident::text AS replica_identity,
       am.amname AS access_method,
       -- Its storage options and its TOAST table's; most tables have none, and the
       -- subquery cost 5 us a table for nothing (20 ms of 160 on 4000 chunks).
       CASE WHEN c.reloptions IS NULL AND tc.reloptions IS NULL THEN '{}'::text[]
       ELSE
           ARRAY(
               SELECT o.prefix || pg_catalog.quote_ident(o.option_name) || '='
                      || pg_catalog.quote_literal(o.option_value)
               FROM (SELECT 0 AS k, '' AS prefix, x.*
                     FROM pg_catalog.pg_options_to_table(c.reloptions) WITH ORDINALITY
                          AS x(option_name, option_value, ord)
                     UNION ALL
                     SELECT 1, 'toast.', x.*
                     FROM pg_catalog.pg_options_to_table(tc.reloptions) WITH ORDINALITY
                          AS x(option_name, option_value, ord)) o
               ORDER BY o.k, o.ord
           )
       END AS options,
       ARRAY(SELECT i.inhparent::bigint FROM pg_catalog.pg_inherits i
             WHERE i.inhrelid = c.oid ORDER BY i.inhseqno) AS parents,
       -- Size of the heap and its TOAST table: as the last VACUUM or ANALYZE counted
       -- them (autovacuum analyzes a table once a tenth of it has changed), else now.
       -- pg_relation_size opens the table's files, two for each of 4000 chunks: 30-80
       -- ms of a new backend's time, on the dump's critical path. It releases its lock
       -- at once; a table dropped meanwhile gives NULL. The size orders the copy
       -- (largest first) and batches the small tables; nothing else.
       CASE WHEN c.relkind <> 'r' THEN 0
            WHEN c.relpages > 0 THEN (c.relpages::bigint + COALESCE(tc.relpages, 0)) * 8192
            ELSE COALESCE(pg_catalog.pg_relation_size(c.oid), 0)
                 + CASE WHEN c.reltoastrelid <> 0
                        THEN COALESCE(pg_catalog.pg_relation_size(c.reltoastrelid), 0)
                        ELSE 0 END
       END AS est_bytes,
       c.reltuples::float8 AS reltuples,
       -- Its validated CHECK constraints (NOT VALID ones are added after the data, see
       -- constraints.sql), by name; NULL for none. With the table's row, so that a
       -- chunk's constraint (its range) is never held apart, for every chunk at once.
       (SELECT pg_catalog.json_agg(pg_catalog.json_build_object(
                   'oid', con.oid::bigint,
                   'name', con.conname,
                   'definition', pg_catalog.pg_get_constraintdef(con.oid),
                   'is_local', con.conislocal,
                   'inhcount', con.coninhcount::int,
                   'comment', cd.description,
                   -- Whether it uses a user-defined object (e.g. a function) other
                   -- than its table: only then can it be part of a dependency cycle
                   -- with the table.
                   'uses_user_objects', EXISTS (
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
                               AND ee.deptype = 'e')))
               ORDER BY con.conname)
        FROM pg_catalog.pg_constraint con
        LEFT JOIN pg_catalog.pg_description cd
               ON cd.classoid = 'pg_catalog.pg_constraint'::pg_catalog.regclass
              AND cd.objoid = con.oid AND cd.objsubid = 0
        WHERE con.conrelid = c.oid AND con.contype = 'c' AND con.convalidated
       ) AS checks
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_catalog.pg_type t ON t.oid = c.reltype
LEFT JOIN pg_catalog.pg_tablespace ts ON ts.oid = c.reltablespace
LEFT JOIN pg_catalog.pg_am am ON am.oid = c.relam
LEFT JOIN pg_catalog.pg_class tc ON tc.oid = c.reltoastrelid
LEFT JOIN pg_catalog.pg_description d
       ON d.classoid = 'pg_catalog.pg_class'::pg_catalog.regclass
      AND d.objoid = c.oid AND d.objsubid = 0
WHERE c.relkind IN ('r', 'p')
  AND c.relpersistence <> 't'
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname !~ '^pg_(toast|temp_)'
  AND NOT EXISTS (
      SELECT FROM pg_catalog.pg_depend e
      WHERE e.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
        AND e.objid = c.oid AND e.deptype = 'e')
ORDER BY n.nspname, c.relname
