-- User-defined types: enums, standalone composites, domains, ranges, base types and lone
-- shell types. Left out: system schemas, extension members, array and multirange types
-- (made together with their element / range type) and the row types of relations other
-- than standalone composites (their relation's entry owns them).
SELECT t.oid::bigint AS oid,
       n.oid::bigint AS nsp_oid,
       n.nspname AS schema,
       t.typname AS name,
       t.typtype AS typtype,
       t.typisdefined AS isdefined,
       pg_catalog.pg_get_userbyid(t.typowner) AS owner,
       t.typacl::text[] AS acl,
       pg_catalog.obj_description(t.oid, 'pg_type') AS comment,
       NULLIF(t.typarray, 0)::bigint AS array_oid,
       NULLIF(t.typrelid, 0)::bigint AS relid,
       -- enum labels, in their sort order
       CASE WHEN t.typtype = 'e' THEN ARRAY(
           SELECT e.enumlabel::text FROM pg_catalog.pg_enum e
           WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder) END AS enum_labels,
       -- domain: base type, default, collation when it differs from the base type's
       CASE WHEN t.typtype = 'd'
            THEN pg_catalog.format_type(t.typbasetype, t.typtypmod) END AS domain_base,
       CASE WHEN t.typdefaultbin IS NOT NULL
            THEN pg_catalog.pg_get_expr(t.typdefaultbin, 0) END AS default_expr,
       t.typdefault AS default_text,
       t.typnotnull AS notnull,
       CASE WHEN t.typcollation <> 0
             AND t.typcollation IS DISTINCT FROM (
                 SELECT b.typcollation FROM pg_catalog.pg_type b
                 WHERE b.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE 0 END)
            THEN (SELECT pg_catalog.quote_ident(cn.nspname) || '.'
                         || pg_catalog.quote_ident(c.collname)
                  FROM pg_catalog.pg_collation c
                  JOIN pg_catalog.pg_namespace cn ON cn.oid = c.collnamespace
                  WHERE c.oid = t.typcollation) END AS collation,
       -- range details
       CASE WHEN t.typtype = 'r' THEN (
           SELECT pg_catalog.jsonb_build_object(
               'subtype', pg_catalog.format_type(r.rngsubtype, NULL),
               'opclass', CASE WHEN r.rngsubopc <> COALESCE((
                                  SELECT dc.oid FROM pg_catalog.pg_opclass dc
                                  JOIN pg_catalog.pg_am am ON am.oid = dc.opcmethod
                                  WHERE am.amname = 'btree' AND dc.opcdefault
                                    AND dc.opcintype = (
                                        SELECT CASE WHEN st.typtype = 'd' THEN st.typbasetype
                                                    ELSE st.oid END
                                        FROM pg_catalog.pg_type st
                                        WHERE st.oid = r.rngsubtype)
                                  LIMIT 1), 0)
                          THEN (SELECT pg_catalog.quote_ident(on_.nspname) || '.'
                                       || pg_catalog.quote_ident(oc.opcname)
                                FROM pg_catalog.pg_opclass oc
                                JOIN pg_catalog.pg_namespace on_ ON on_.oid = oc.opcnamespace
                                WHERE oc.oid = r.rngsubopc) END,
               'collation', CASE WHEN r.rngcollation <> 0 AND r.rngcollation <> (
                                      SELECT st.typcollation FROM pg_catalog.pg_type st
                                      WHERE st.oid = r.rngsubtype)
                            THEN (SELECT pg_catalog.quote_ident(cn.nspname) || '.'
                                         || pg_catalog.quote_ident(c.collname)
                                  FROM pg_catalog.pg_collation c
                                  JOIN pg_catalog.pg_namespace cn ON cn.oid = c.collnamespace
                                  WHERE c.oid = r.rngcollation) END,
               'canonical', CASE WHEN r.rngcanonical <> 0 THEN r.rngcanonical::text END,
               'canonical_oid', NULLIF(r.rngcanonical::oid, 0)::bigint,
               'subtype_diff', CASE WHEN r.rngsubdiff <> 0 THEN r.rngsubdiff::text END,
               'multirange', CASE WHEN %(server_version)s >= 140000 THEN (
                   SELECT pg_catalog.jsonb_build_object(
                       'oid', m.oid::bigint, 'array_oid', NULLIF(m.typarray, 0)::bigint,
                       'name', m.typname::text)
                   FROM pg_catalog.pg_type m
                   WHERE m.oid = (pg_catalog.to_jsonb(r) ->> 'rngmultitypid')::oid) END)
           FROM pg_catalog.pg_range r WHERE r.rngtypid = t.oid) END AS range,
       -- base type details
       CASE WHEN t.typtype = 'b' THEN pg_catalog.jsonb_build_object(
           'input', t.typinput::text,
           'output', t.typoutput::text,
           'receive', CASE WHEN t.typreceive <> 0 THEN t.typreceive::text END,
           'send', CASE WHEN t.typsend <> 0 THEN t.typsend::text END,
           'typmod_in', CASE WHEN t.typmodin <> 0 THEN t.typmodin::text END,
           'typmod_out', CASE WHEN t.typmodout <> 0 THEN t.typmodout::text END,
           'analyze', CASE WHEN t.typanalyze <> 0 THEN t.typanalyze::text END,
           'subscript', CASE WHEN (pg_catalog.to_jsonb(t) ->> 'typsubscript') IS NOT NULL
                              AND (pg_catalog.to_jsonb(t) ->> 'typsubscript') <> '-'
                             THEN pg_catalog.to_jsonb(t) ->> 'typsubscript' END,
           'internallength', t.typlen,
           'byval', t.typbyval,
           'align', t.typalign,
           'storage', t.typstorage,
           'category', t.typcategory,
           'preferred', t.typispreferred,
           'element', CASE WHEN t.typelem <> 0
                           THEN pg_catalog.format_type(t.typelem, NULL) END,
           'delimiter', t.typdelim,
           'collatable', t.typcollation <> 0,
           'functions', ARRAY(
               SELECT DISTINCT f.oid::bigint FROM pg_catalog.pg_proc f
               WHERE f.oid IN (t.typinput, t.typoutput, t.typreceive, t.typsend,
                               t.typmodin, t.typmodout, t.typanalyze))) END AS base
FROM pg_catalog.pg_type t
JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
LEFT JOIN pg_catalog.pg_class rel ON rel.oid = t.typrelid
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\_toast%%'
  AND n.nspname NOT LIKE 'pg\_temp\_%%'
  AND t.typtype IN ('b', 'c', 'd', 'e', 'r', 'p')
  AND (t.typtype <> 'c' OR rel.relkind = 'c')
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_type a WHERE a.typarray = t.oid)
  AND NOT EXISTS (
      SELECT 1 FROM pg_catalog.pg_depend d
      WHERE d.classid = 'pg_catalog.pg_type'::pg_catalog.regclass
        AND d.objid = t.oid AND d.deptype = 'e')
ORDER BY n.nspname, t.typname
