-- User text search parsers, templates, dictionaries and configurations (one row each,
-- kind tells which), with their functions, template or parser schema-qualified.
WITH fn AS (
    SELECT p.oid, pg_catalog.quote_ident(pn.nspname) || '.' || pg_catalog.quote_ident(p.proname)
             AS qualified
      FROM pg_catalog.pg_proc p
      JOIN pg_catalog.pg_namespace pn ON pn.oid = p.pronamespace
), nsp AS (
    SELECT n.oid, n.nspname
      FROM pg_catalog.pg_namespace n
     WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
       AND n.nspname NOT LIKE 'pg\_toast%%'
       AND n.nspname NOT LIKE 'pg\_temp\_%%'
), member AS (
    SELECT d.classid, d.objid FROM pg_catalog.pg_depend d WHERE d.deptype = 'e'
)
SELECT 'TEXT SEARCH PARSER' AS kind, p.oid::bigint AS oid, nsp.nspname AS schema,
       p.prsname AS name, NULL::text AS owner,
       pg_catalog.jsonb_build_object(
         'START', (SELECT qualified FROM fn WHERE fn.oid = p.prsstart),
         'GETTOKEN', (SELECT qualified FROM fn WHERE fn.oid = p.prstoken),
         'END', (SELECT qualified FROM fn WHERE fn.oid = p.prsend),
         'HEADLINE', (SELECT qualified FROM fn WHERE fn.oid = p.prsheadline),
         'LEXTYPES', (SELECT qualified FROM fn WHERE fn.oid = p.prslextype)) AS parts,
       NULL::text AS options,
       pg_catalog.obj_description(p.oid, 'pg_ts_parser') AS comment
FROM pg_catalog.pg_ts_parser p JOIN nsp ON nsp.oid = p.prsnamespace
WHERE NOT EXISTS (SELECT 1 FROM member m WHERE m.objid = p.oid
                    AND m.classid = 'pg_catalog.pg_ts_parser'::pg_catalog.regclass)
UNION ALL
SELECT 'TEXT SEARCH TEMPLATE', t.oid::bigint, nsp.nspname, t.tmplname, NULL,
       pg_catalog.jsonb_build_object(
         'INIT', (SELECT qualified FROM fn WHERE fn.oid = t.tmplinit),
         'LEXIZE', (SELECT qualified FROM fn WHERE fn.oid = t.tmpllexize)),
       NULL,
       pg_catalog.obj_description(t.oid, 'pg_ts_template')
FROM pg_catalog.pg_ts_template t JOIN nsp ON nsp.oid = t.tmplnamespace
WHERE NOT EXISTS (SELECT 1 FROM member m WHERE m.objid = t.oid
                    AND m.classid = 'pg_catalog.pg_ts_template'::pg_catalog.regclass)
UNION ALL
SELECT 'TEXT SEARCH DICTIONARY', d.oid::bigint, nsp.nspname, d.dictname,
       pg_catalog.pg_get_userbyid(d.dictowner),
       pg_catalog.jsonb_build_object(
         'TEMPLATE', (SELECT pg_catalog.quote_ident(tn.nspname) || '.'
                             || pg_catalog.quote_ident(t.tmplname)
                        FROM pg_catalog.pg_ts_template t
                        JOIN pg_catalog.pg_namespace tn ON tn.oid = t.tmplnamespace
                       WHERE t.oid = d.dicttemplate)),
       d.dictinitoption,
       pg_catalog.obj_description(d.oid, 'pg_ts_dict')
FROM pg_catalog.pg_ts_dict d JOIN nsp ON nsp.oid = d.dictnamespace
WHERE NOT EXISTS (SELECT 1 FROM member m WHERE m.objid = d.oid
                    AND m.classid = 'pg_catalog.pg_ts_dict'::pg_catalog.regclass)
UNION ALL
SELECT 'TEXT SEARCH CONFIGURATION', c.oid::bigint, nsp.nspname, c.cfgname,
       pg_catalog.pg_get_userbyid(c.cfgowner),
       pg_catalog.jsonb_build_object(
         'PARSER', (SELECT pg_catalog.quote_ident(pn.nspname) || '.'
                           || pg_catalog.quote_ident(p.prsname)
                      FROM pg_catalog.pg_ts_parser p
                      JOIN pg_catalog.pg_namespace pn ON pn.oid = p.prsnamespace
                     WHERE p.oid = c.cfgparser)),
       NULL,
       pg_catalog.obj_description(c.oid, 'pg_ts_config')
FROM pg_catalog.pg_ts_config c JOIN nsp ON nsp.oid = c.cfgnamespace
WHERE NOT EXISTS (SELECT 1 FROM member m WHERE m.objid = c.oid
                    AND m.classid = 'pg_catalog.pg_ts_config'::pg_catalog.regclass)
ORDER BY 1, 3, 4
