-- Publications with the operations they publish.
SELECT p.oid::bigint AS oid,
       p.pubname AS name,
       pg_catalog.pg_get_userbyid(p.pubowner) AS owner,
       p.puballtables AS all_tables,
       p.pubinsert AS pub_insert,
       p.pubupdate AS pub_update,
       p.pubdelete AS pub_delete,
       p.pubtruncate AS pub_truncate,
       p.pubviaroot AS via_root,
       pg_catalog.obj_description(p.oid, 'pg_publication') AS comment
FROM pg_catalog.pg_publication p
ORDER BY p.pubname
