-- Portable restore: what the target's TimescaleDB offers. create_chunk moved from
-- _timescaledb_internal (before 2.12) to _timescaledb_functions; skip_cagg_invalidation
-- (2.28) lets a loader write rows without logging invalidations; refresh_options says
-- whether refresh_continuous_aggregate takes options (2.28: it refreshes in batches
-- unless told {"buckets_per_batch": 0}).
SELECT e.extversion::text AS version,
       n.nspname::text AS schema,
       pg_catalog.current_setting('timescaledb.license', true) AS license,
       (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = current_user)
           AS superuser,
       coalesce(pg_catalog.to_regprocedure(
                    '_timescaledb_functions.create_chunk(regclass,jsonb,name,name,regclass)'),
                pg_catalog.to_regprocedure(
                    '_timescaledb_internal.create_chunk(regclass,jsonb,name,name,regclass)'))::text
           AS create_chunk,
       EXISTS (SELECT 1 FROM pg_catalog.pg_settings
               WHERE name = 'timescaledb.skip_cagg_invalidation') AS skip_invalidation,
       EXISTS (SELECT 1 FROM pg_catalog.pg_proc p
               WHERE p.pronamespace = e.extnamespace
                 AND p.proname = 'refresh_continuous_aggregate'
                 AND 'options' = ANY (p.proargnames)) AS refresh_options
FROM pg_catalog.pg_extension e
JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
WHERE e.extname = 'timescaledb'
