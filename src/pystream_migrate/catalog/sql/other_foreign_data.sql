-- Foreign data wrappers, foreign servers and user mappings (kind tells which). Options
-- come formatted for an OPTIONS (...) clause, in their stored order.
WITH fn AS (
    SELECT p.oid, pg_catalog.quote_ident(pn.nspname) || '.' || pg_catalog.quote_ident(p.proname)
             AS qualified
      FROM pg_catalog.pg_proc p
      JOIN pg_catalog.pg_namespace pn ON pn.oid = p.pronamespace
)
SELECT 'FOREIGN DATA WRAPPER' AS kind,
       w.oid::bigint AS oid,
       w.fdwname AS name,
       pg_catalog.pg_get_userbyid(w.fdwowner) AS owner,
       NULL::text AS wrapper,
       NULL::text AS server,
       (SELECT qualified FROM fn WHERE fn.oid = w.fdwhandler) AS handler,
       (SELECT qualified FROM fn WHERE fn.oid = w.fdwvalidator) AS validator,
       NULL::text AS server_type,
       NULL::text AS server_version,
       (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(o.option_name) || ' '
                                     || pg_catalog.quote_literal(o.option_value), ', '
                                     ORDER BY o.ord)
          FROM pg_catalog.pg_options_to_table(w.fdwoptions)
               WITH ORDINALITY AS o(option_name, option_value, ord)) AS options,
       w.fdwacl::text[] AS acl,
       pg_catalog.obj_description(w.oid, 'pg_foreign_data_wrapper') AS comment,
       true AS options_visible
FROM pg_catalog.pg_foreign_data_wrapper w
WHERE NOT EXISTS (
        SELECT 1 FROM pg_catalog.pg_depend d
         WHERE d.classid = 'pg_catalog.pg_foreign_data_wrapper'::pg_catalog.regclass
           AND d.objid = w.oid AND d.deptype = 'e')
UNION ALL
SELECT 'SERVER',
       s.oid::bigint,
       s.srvname,
       pg_catalog.pg_get_userbyid(s.srvowner),
       w.fdwname,
       NULL,
       NULL,
       NULL,
       s.srvtype,
       s.srvversion,
       (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(o.option_name) || ' '
                                     || pg_catalog.quote_literal(o.option_value), ', '
                                     ORDER BY o.ord)
          FROM pg_catalog.pg_options_to_table(s.srvoptions)
               WITH ORDINALITY AS o(option_name, option_value, ord)),
       s.srvacl::text[],
       pg_catalog.obj_description(s.oid, 'pg_foreign_server'),
       true
FROM pg_catalog.pg_foreign_server s
JOIN pg_catalog.pg_foreign_data_wrapper w ON w.oid = s.srvfdw
WHERE NOT EXISTS (
        SELECT 1 FROM pg_catalog.pg_depend d
         WHERE d.classid = 'pg_catalog.pg_foreign_server'::pg_catalog.regclass
           AND d.objid = s.oid AND d.deptype = 'e')
UNION ALL
-- pg_user_mappings shows the options only to superusers, the server's owner and the
-- mapped user; for anyone else umoptions is NULL (options_visible tells).
SELECT 'USER MAPPING',
       um.umid::bigint,
       CASE WHEN um.umuser = 0 THEN NULL ELSE um.usename::text END,
       NULL,
       NULL,
       um.srvname,
       NULL,
       NULL,
       NULL,
       NULL,
       (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(o.option_name) || ' '
                                     || pg_catalog.quote_literal(o.option_value), ', '
                                     ORDER BY o.ord)
          FROM pg_catalog.pg_options_to_table(um.umoptions)
               WITH ORDINALITY AS o(option_name, option_value, ord)),
       NULL,
       NULL,
       (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = CURRENT_USER)
         OR pg_catalog.pg_has_role(s.srvowner, 'USAGE')
         OR um.umuser = (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = CURRENT_USER)
FROM pg_catalog.pg_user_mappings um
JOIN pg_catalog.pg_foreign_server s ON s.oid = um.srvid
ORDER BY 1, 3, 6
