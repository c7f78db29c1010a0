-- TimescaleDB's view of the source's relations: hypertable roots (including the
-- internal compressed hypertables and the materialized hypertables of continuous
-- aggregates, marked in "internal"; a compressed one names the hypertable it
-- compresses) and chunks, with the hypertable each chunk belongs to. Only run when the
-- timescaledb extension is installed.
--
-- Each relation by its name, through one join with pg_class in the snapshot: a
-- ::regclass cast per row read the current catalog one name at a time (42 -> 29 ms on
-- 4000 chunks, 281 -> 205 ms on 20 000, in a new backend), and failed on a chunk
-- dropped since the snapshot, which the snapshot still lists.
WITH rel AS MATERIALIZED (
    SELECT n.nspname, c.relname, c.oid::bigint AS relid
    FROM pg_catalog.pg_class c
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p', 'f')
),
ht AS MATERIALIZED (
    SELECT h.id, h.compression_state, h.compressed_hypertable_id, r.relid
    FROM _timescaledb_catalog.hypertable h
    JOIN rel r ON r.nspname = h.schema_name AND r.relname = h.table_name
)
SELECT ht.relid,
       'hypertable' AS role,
       ht.id AS hypertable_id,
       NULL::bigint AS hypertable_relid,
       ht.compression_state AS compression_state,
       CASE WHEN ht.compression_state = 2 THEN 'compressed'
            WHEN EXISTS (SELECT 1 FROM _timescaledb_catalog.continuous_agg ca
                         WHERE ca.mat_hypertable_id = ht.id) THEN 'materialized'
       END AS internal,
       (SELECT u.relid FROM ht u WHERE u.compressed_hypertable_id = ht.id) AS compresses
FROM ht
UNION ALL
SELECT r.relid,
       'chunk',
       c.hypertable_id,
       ht.relid,
       ht.compression_state,
       NULL,
       NULL
FROM _timescaledb_catalog.chunk c
JOIN ht ON ht.id = c.hypertable_id
JOIN rel r ON r.nspname = c.schema_name AND r.relname = c.table_name
-- chunk.dropped is gone in TimescaleDB 2.28 (dropped chunks keep no catalog row).
WHERE NOT coalesce((pg_catalog.to_jsonb(c) ->> 'dropped')::boolean, false)
