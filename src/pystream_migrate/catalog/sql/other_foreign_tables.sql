-- Foreign tables (relkind 'f') outside system schemas and extensions, with their server
-- and options, and what would make one more than a plain CREATE FOREIGN TABLE.
SELECT c.oid::bigint AS oid,
       c.reltype::bigint AS type_oid,
       n.nspname AS schema,
       c.relname AS name,
       pg_catalog.pg_get_userbyid(c.relowner) AS owner,
       s.srvname AS server,
       (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(o.option_name) || ' '
                                     || pg_catalog.quote_literal(o.option_value), ', '
                                     ORDER BY o.ord)
          FROM pg_catalog.pg_options_to_table(ft.ftoptions)
               WITH ORDINALITY AS o(option_name, option_value, ord)) AS options,
       c.relacl::text[] AS acl,
       c.relispartition AS is_partition,
       EXISTS (SELECT 1 FROM pg_catalog.pg_inherits i WHERE i.inhrelid = c.oid) AS inherits,
       pg_catalog.obj_description(c.oid, 'pg_class') AS comment
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_foreign_table ft ON ft.ftrelid = c.oid
JOIN pg_catalog.pg_foreign_server s ON s.oid = ft.ftserver
WHERE c.relkind = 'f'
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\_toast%%'
  AND n.nspname NOT LIKE 'pg\_temp\_%%'
  AND NOT EXISTS (
        SELECT 1 FROM pg_catalog.pg_depend d
         WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
           AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY n.nspname, c.relname
