-- Operators (pg_amop) and support functions (pg_amproc) of the given operator families,
-- each with the operator class it is bound to (NULL for a "loose" family member, which
-- ALTER OPERATOR FAMILY ... ADD creates), as the clause that declares it.
SELECT 'pg_amop' AS catalog,
       a.oid::bigint AS oid,
       a.amopfamily::bigint AS family_oid,
       (SELECT d.refobjid::bigint FROM pg_catalog.pg_depend d
         WHERE d.classid = 'pg_catalog.pg_amop'::pg_catalog.regclass AND d.objid = a.oid
           AND d.refclassid = 'pg_catalog.pg_opclass'::pg_catalog.regclass
           AND d.deptype = 'i' LIMIT 1) AS class_oid,
       0 AS sort_kind,
       a.amopstrategy::int AS number,
       'OPERATOR ' || a.amopstrategy || ' '
         || pg_catalog.quote_ident(opn.nspname) || '.' || o.oprname
         || '(' || pg_catalog.format_type(a.amoplefttype, NULL) || ', '
         || pg_catalog.format_type(a.amoprighttype, NULL) || ')'
         || CASE WHEN a.amoppurpose = 'o'
                 THEN ' FOR ORDER BY ' || pg_catalog.quote_ident(sfn.nspname) || '.'
                      || pg_catalog.quote_ident(sf.opfname)
                 ELSE '' END AS clause
FROM pg_catalog.pg_amop a
JOIN pg_catalog.pg_operator o ON o.oid = a.amopopr
JOIN pg_catalog.pg_namespace opn ON opn.oid = o.oprnamespace
LEFT JOIN pg_catalog.pg_opfamily sf ON sf.oid = a.amopsortfamily
LEFT JOIN pg_catalog.pg_namespace sfn ON sfn.oid = sf.opfnamespace
WHERE a.amopfamily = ANY (%(families)s::oid[])
UNION ALL
SELECT 'pg_amproc',
       p.oid::bigint,
       p.amprocfamily::bigint,
       (SELECT d.refobjid::bigint FROM pg_catalog.pg_depend d
         WHERE d.classid = 'pg_catalog.pg_amproc'::pg_catalog.regclass AND d.objid = p.oid
           AND d.refclassid = 'pg_catalog.pg_opclass'::pg_catalog.regclass
           AND d.deptype = 'i' LIMIT 1),
       1,
       p.amprocnum::int,
       'FUNCTION ' || p.amprocnum || ' ('
         || pg_catalog.format_type(p.amproclefttype, NULL) || ', '
         || pg_catalog.format_type(p.amprocrighttype, NULL) || ') '
         || p.amproc::pg_catalog.regprocedure::text
FROM pg_catalog.pg_amproc p
WHERE p.amprocfamily = ANY (%(families)s::oid[])
ORDER BY 3, 5, 6, 7
