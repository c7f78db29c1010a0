-- Current state of the given sequences (any: standalone, identity, an extension's
-- configuration), all in one query. query_to_xml runs the per-sequence SELECT without
-- dynamic SQL in the client.
SELECT s.relid::bigint AS relid,
       (pg_catalog.xpath('/row/last_value/text()', x))[1]::text::bigint AS last_value,
       (pg_catalog.xpath('/row/is_called/text()', x))[1]::text::boolean AS is_called
FROM unnest(%(relids)s::oid[]) AS s(relid)
CROSS JOIN LATERAL pg_catalog.query_to_xml(
    pg_catalog.format('SELECT last_value, is_called FROM %%s', s.relid::pg_catalog.regclass),
    false, true, '') AS x
