-- Views and materialized views outside system schemas that no extension owns, with
-- what their entries register (row type and its array, the _RETURN rule) and the
-- materialized views each one reads (directly or through plain views), so that their
-- REFRESH runs in order.
WITH RECURSIVE reads(view_oid, rel_oid) AS (
    SELECT r.ev_class, d.refobjid
    FROM pg_catalog.pg_rewrite r
    JOIN pg_catalog.pg_depend d
      ON d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass AND d.objid = r.oid
     AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
    WHERE r.rulename = '_RETURN' AND d.refobjid <> r.ev_class
    UNION
    SELECT reads.view_oid, d.refobjid
    FROM reads
    JOIN pg_catalog.pg_class mid ON mid.oid = reads.rel_oid AND mid.relkind = 'v'
    JOIN pg_catalog.pg_rewrite r ON r.ev_class = mid.oid AND r.rulename = '_RETURN'
    JOIN pg_catalog.pg_depend d
      ON d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass AND d.objid = r.oid
     AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
    WHERE d.refobjid <> mid.oid
),
matview_reads AS (
    SELECT reads.view_oid, pg_catalog.array_agg(DISTINCT reads.rel_oid::bigint) AS oids
    FROM reads
    JOIN pg_catalog.pg_class m ON m.oid = reads.rel_oid AND m.relkind = 'm'
    GROUP BY reads.view_oid
)
SELECT c.oid::bigint AS oid,
       n.nspname AS schema,
       c.relname AS name,
       c.relkind AS relkind,
       pg_catalog.pg_get_userbyid(c.relowner) AS owner,
       c.relacl::text[] AS acl,
       pg_catalog.obj_description(c.oid, 'pg_class') AS comment,
       pg_catalog.pg_get_viewdef(c.oid) AS definition,
       c.relispopulated AS populated,
       NULLIF(c.reltype, 0)::bigint AS type_oid,
       NULLIF(rt.typarray, 0)::bigint AS array_oid,
       (SELECT r.oid::bigint FROM pg_catalog.pg_rewrite r
        WHERE r.ev_class = c.oid AND r.rulename = '_RETURN') AS rule_oid,
       (SELECT o.option_value FROM pg_catalog.pg_options_to_table(c.reloptions) o
        WHERE o.option_name = 'check_option') AS check_option,
       (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(o.option_name) || '='
                                     || pg_catalog.quote_literal(o.option_value), ', ')
        FROM pg_catalog.pg_options_to_table(c.reloptions) o
        WHERE o.option_name <> 'check_option') AS options,
       (SELECT pg_catalog.string_agg('toast.' || pg_catalog.quote_ident(o.option_name) || '='
                                     || pg_catalog.quote_literal(o.option_value), ', ')
        FROM pg_catalog.pg_class tc, pg_catalog.pg_options_to_table(tc.reloptions) o
        WHERE tc.oid = c.reltoastrelid) AS toast_options,
       CASE WHEN c.relkind = 'm' THEN (
           SELECT pg_catalog.quote_ident(am.amname) FROM pg_catalog.pg_am am
           WHERE am.oid = c.relam) END AS access_method,
       CASE WHEN c.reltablespace <> 0 THEN (
           SELECT ts.spcname FROM pg_catalog.pg_tablespace ts
           WHERE ts.oid = c.reltablespace) END AS tablespace,
       COALESCE(mr.oids, '{}'::bigint[]) AS reads_matviews
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_catalog.pg_type rt ON rt.oid = c.reltype
LEFT JOIN matview_reads mr ON mr.view_oid = c.oid
WHERE c.relkind IN ('v', 'm')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\_toast%%'
  AND n.nspname NOT LIKE 'pg\_temp\_%%'
  AND NOT EXISTS (
      SELECT 1 FROM pg_catalog.pg_depend d
      WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
        AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY n.nspname, c.relname
