-- Portable dump: the user-defined jobs and policies (ids from 1000), with what the add_*
-- functions and alter_job() need: the procedure, the relation it works on (a
-- continuous aggregate by its view, not its materialized hypertable), schedule,
-- configuration, owner, whether it is scheduled, and when it runs next.
SELECT j.job_id,
       j.proc_schema::text AS proc_schema,
       j.proc_name::text AS proc_name,
       j.application_name::text AS application_name,
       j.schedule_interval::text AS schedule_interval,
       j.max_runtime::text AS max_runtime,
       j.max_retries,
       j.retry_period::text AS retry_period,
       j.scheduled,
       j.fixed_schedule,
       j.config,
       j.owner::text AS owner,
       pg_catalog.to_char(j.next_start AT TIME ZONE 'UTC',
                          'YYYY-MM-DD"T"HH24:MI:SS.US"+00"') AS next_start,
       pg_catalog.to_char(j.initial_start AT TIME ZONE 'UTC',
                          'YYYY-MM-DD"T"HH24:MI:SS.US"+00"') AS initial_start,
       pg_catalog.to_jsonb(b) ->> 'timezone' AS timezone,
       CASE WHEN j.check_name IS NOT NULL THEN format('%%I.%%I', j.check_schema, j.check_name)
       END AS check_func,
       coalesce((SELECT format('%%I.%%I', ca.user_view_schema, ca.user_view_name)
                 FROM _timescaledb_catalog.continuous_agg ca
                 JOIN _timescaledb_catalog.hypertable m ON m.id = ca.mat_hypertable_id
                 WHERE m.schema_name = j.hypertable_schema
                   AND m.table_name = j.hypertable_name),
                CASE WHEN j.hypertable_name IS NOT NULL
                     THEN format('%%I.%%I', j.hypertable_schema, j.hypertable_name) END)
           AS relation
FROM timescaledb_information.jobs j
JOIN _timescaledb_config.bgw_job b ON b.id = j.job_id
WHERE j.job_id >= 1000
ORDER BY j.job_id
