-- Extension members whose privileges are not those the extension's script gave them
-- (pg_init_privs, privtype 'e'): GRANTs or REVOKEs made after CREATE EXTENSION, which
-- a restore must repeat after creating the extension. A NULL ACL stands for the
-- built-in default of the object's kind (acldefault). Column privileges are not read.
WITH member AS (
    SELECT d.classid, d.objid, d.refobjid AS ext_oid
      FROM pg_catalog.pg_depend d
     WHERE d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
       AND d.deptype = 'e'
), init AS (
    SELECT ip.classoid, ip.objoid, ip.initprivs
      FROM pg_catalog.pg_init_privs ip
     WHERE ip.objsubid = 0
), obj AS (
    SELECT m.ext_oid, m.classid, m.objid,
           CASE WHEN c.relkind = 'S' THEN 'SEQUENCE' ELSE 'TABLE' END AS kind,
           pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname)
             AS name,
           c.relowner AS owner,
           COALESCE(c.relacl, pg_catalog.acldefault(
             CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::"char", c.relowner)) AS acl,
           CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END AS acltype
      FROM member m
      JOIN pg_catalog.pg_class c ON c.oid = m.objid
      JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE m.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
       AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
    UNION ALL
    SELECT m.ext_oid, m.classid, m.objid,
           CASE WHEN p.prokind = 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END,
           p.oid::pg_catalog.regprocedure::text,
           p.proowner,
           COALESCE(p.proacl, pg_catalog.acldefault('f', p.proowner)),
           'f'
      FROM member m
      JOIN pg_catalog.pg_proc p ON p.oid = m.objid
     WHERE m.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass
    UNION ALL
    SELECT m.ext_oid, m.classid, m.objid, 'SCHEMA', pg_catalog.quote_ident(n.nspname),
           n.nspowner, COALESCE(n.nspacl, pg_catalog.acldefault('n', n.nspowner)), 'n'
      FROM member m
      JOIN pg_catalog.pg_namespace n ON n.oid = m.objid
     WHERE m.classid = 'pg_catalog.pg_namespace'::pg_catalog.regclass
    UNION ALL
    SELECT m.ext_oid, m.classid, m.objid, 'TYPE', pg_catalog.format_type(t.oid, NULL),
           t.typowner, COALESCE(t.typacl, pg_catalog.acldefault('T', t.typowner)), 'T'
      FROM member m
      JOIN pg_catalog.pg_type t ON t.oid = m.objid
     WHERE m.classid = 'pg_catalog.pg_type'::pg_catalog.regclass
    UNION ALL
    SELECT m.ext_oid, m.classid, m.objid, 'FOREIGN DATA WRAPPER',
           pg_catalog.quote_ident(w.fdwname), w.fdwowner,
           COALESCE(w.fdwacl, pg_catalog.acldefault('F', w.fdwowner)), 'F'
      FROM member m
      JOIN pg_catalog.pg_foreign_data_wrapper w ON w.oid = m.objid
     WHERE m.classid = 'pg_catalog.pg_foreign_data_wrapper'::pg_catalog.regclass
    UNION ALL
    SELECT m.ext_oid, m.classid, m.objid, 'SERVER', pg_catalog.quote_ident(s.srvname),
           s.srvowner, COALESCE(s.srvacl, pg_catalog.acldefault('S', s.srvowner)), 'S'
      FROM member m
      JOIN pg_catalog.pg_foreign_server s ON s.oid = m.objid
     WHERE m.classid = 'pg_catalog.pg_foreign_server'::pg_catalog.regclass
)
SELECT o.ext_oid::bigint AS ext_oid,
       o.kind,
       o.name,
       pg_catalog.pg_get_userbyid(o.owner) AS owner,
       o.acl::text[] AS acl
FROM obj o
LEFT JOIN init i ON i.classoid = o.classid AND i.objoid = o.objid
WHERE NOT (o.acl::text[] @> COALESCE(i.initprivs, pg_catalog.acldefault(o.acltype::"char", o.owner))::text[]
           AND o.acl::text[] <@ COALESCE(i.initprivs, pg_catalog.acldefault(o.acltype::"char", o.owner))::text[])
ORDER BY o.ext_oid, o.kind, o.name
