-- Background jobs and policies: id, schedule, configuration, owner, target. next_start
-- is left out: it comes from the job statistics, which start afresh on the target.
SELECT 'job' AS what,
       (pg_catalog.to_jsonb(j) - 'next_start')::text AS item
FROM timescaledb_information.jobs j
ORDER BY 1, 2
