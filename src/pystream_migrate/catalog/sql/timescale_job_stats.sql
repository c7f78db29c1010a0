-- TimescaleDB's job statistics table, when it exists: its rows say when each job runs
-- next (a job without one runs as soon as the scheduler starts). Not an extension
-- configuration table, so pg_dump leaves it out; the dump carries the rows of the
-- user-defined jobs with the job catalog.
SELECT c.oid::bigint AS relid,
       n.nspname AS schema,
       c.relname AS name,
       pg_catalog.pg_relation_size(c.oid)::bigint AS est_bytes,
       GREATEST(c.reltuples, 0)::bigint AS est_rows,
       ARRAY(SELECT a.attname::text FROM pg_catalog.pg_attribute a
             WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
               AND a.attgenerated = ''
             ORDER BY a.attnum) AS columns
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.oid = pg_catalog.to_regclass('_timescaledb_internal.bgw_job_stat')
