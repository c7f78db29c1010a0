-- Portable restore: the materialized hypertable of a continuous aggregate on the target,
-- as a regclass (its name there differs from the source's). A fragment, embedded in the
-- SQL of CHUNK and CONTINUOUS AGGREGATE entries; {schema} and {name} are literals.
(SELECT pg_catalog.format('%I.%I', h.schema_name, h.table_name)::regclass
 FROM _timescaledb_catalog.continuous_agg ca
 JOIN _timescaledb_catalog.hypertable h ON h.id = ca.mat_hypertable_id
 WHERE ca.user_view_schema = {schema} AND ca.user_view_name = {name})
