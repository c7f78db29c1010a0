-- Transforms (CREATE TRANSFORM) that no extension created: the type, the language and
-- the two functions (either may be absent), named with their argument types.
SELECT t.oid::bigint AS oid,
       pg_catalog.format_type(t.trftype, NULL) AS type,
       pg_catalog.quote_ident(l.lanname) AS language,
       CASE WHEN t.trffromsql <> 0 THEN t.trffromsql::pg_catalog.regprocedure::text END
           AS from_sql,
       CASE WHEN t.trftosql <> 0 THEN t.trftosql::pg_catalog.regprocedure::text END
           AS to_sql,
       pg_catalog.obj_description(t.oid, 'pg_transform') AS comment
FROM pg_catalog.pg_transform t
JOIN pg_catalog.pg_language l ON l.oid = t.trflang
WHERE t.oid >= 16384
  AND NOT EXISTS (
        SELECT 1 FROM pg_catalog.pg_depend d
         WHERE d.classid = 'pg_catalog.pg_transform'::pg_catalog.regclass
           AND d.objid = t.oid AND d.deptype = 'e')
ORDER BY 2, 3
