-- verify, logical comparison (portable archives, or source and target on different
-- TimescaleDB versions): the tables whose rows must match, by name. TimescaleDB's own
-- tables are left out (their rows are catalog ids, which differ), and so are its
-- internal hypertables (compressed ones, and materialized ones, whose names carry ids:
-- their chunks are compared); chunks are read through their planner form
-- ("decompressed"), which returns a compressed chunk's rows decompressed.
WITH internal AS (
    SELECT format('%%I.%%I', h.schema_name, h.table_name)::regclass::oid AS relid
    FROM _timescaledb_catalog.hypertable h
    WHERE h.compression_state = 2
       OR EXISTS (SELECT 1 FROM _timescaledb_catalog.continuous_agg ca
                  WHERE ca.mat_hypertable_id = h.id)
    UNION ALL
    SELECT format('%%I.%%I', c.schema_name, c.table_name)::regclass::oid
    FROM _timescaledb_catalog.chunk c
    JOIN _timescaledb_catalog.hypertable h ON h.id = c.hypertable_id
    WHERE h.compression_state = 2
), chunks AS (
    SELECT format('%%I.%%I', c.schema_name, c.table_name)::regclass::oid AS relid
    FROM _timescaledb_catalog.chunk c
    JOIN _timescaledb_catalog.hypertable h ON h.id = c.hypertable_id
    WHERE h.compression_state <> 2
)
SELECT n.nspname AS schema, c.relname AS name, NULL::text AS filter,
       c.oid IN (SELECT relid FROM chunks) AS decompressed
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r'
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', '_pystream_migrate')
  AND n.nspname NOT LIKE 'pg\_toast%%' AND n.nspname NOT LIKE 'pg\_temp\_%%'
  AND c.oid NOT IN (SELECT relid FROM internal)
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                  WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid
                    AND d.deptype = 'e')
UNION ALL
SELECT n.nspname, c.relname,
       NULLIF(regexp_replace(coalesce(e.extcondition[i], ''), '^\s*WHERE\s+', '', 'i'), ''),
       false
FROM pg_catalog.pg_extension e
CROSS JOIN LATERAL generate_subscripts(e.extconfig, 1) AS i
JOIN pg_catalog.pg_class c ON c.oid = e.extconfig[i]
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND e.extname <> 'timescaledb'
ORDER BY 1, 2
