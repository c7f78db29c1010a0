-- Event triggers that no extension owns (TimescaleDB's own are members).
SELECT e.oid::bigint AS oid,
       e.evtname AS name,
       e.evtevent AS event,
       e.evtenabled AS enabled,
       e.evtfoid::pg_catalog.regproc::text AS function,
       (SELECT pg_catalog.string_agg(pg_catalog.quote_literal(tag), ', ' ORDER BY ord)
        FROM pg_catalog.unnest(e.evttags) WITH ORDINALITY AS u(tag, ord)) AS tags,
       pg_catalog.pg_get_userbyid(e.evtowner) AS owner,
       pg_catalog.obj_description(e.oid, 'pg_event_trigger') AS comment
FROM pg_catalog.pg_event_trigger e
WHERE NOT EXISTS (
    SELECT 1 FROM pg_catalog.pg_depend d
    WHERE d.classid = 'pg_catalog.pg_event_trigger'::pg_catalog.regclass
      AND d.objid = e.oid AND d.deptype = 'e')
ORDER BY e.evtname
