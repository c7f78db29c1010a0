-- Extension configuration tables (pg_extension_config_dump) that have triggers of their
-- own, enabled for ordinary sessions: loading rows must fire them (TimescaleDB's
-- metadata table turns an INSERT of an existing key into an UPDATE).
SELECT DISTINCT n.nspname AS schema, c.relname AS name
FROM pg_catalog.pg_extension e
CROSS JOIN LATERAL unnest(e.extconfig) AS cfg(relid)
JOIN pg_catalog.pg_class c ON c.oid = cfg.relid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_trigger t ON t.tgrelid = c.oid
WHERE NOT t.tgisinternal AND t.tgenabled IN ('O', 'A')
