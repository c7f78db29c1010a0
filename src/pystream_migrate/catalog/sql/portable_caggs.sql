-- Portable dump: continuous aggregates, parents first (a hierarchical one is built on
-- its parent's materialized hypertable). The definition is the direct view's (the
-- query the user wrote, deparsed schema-qualified); threshold is the invalidation
-- threshold of the hypertable it aggregates and watermark its own, as TimescaleDB's
-- internal int64 time values. finalized is 2.17's flag for the old partial format,
-- which newer versions cannot create.
SELECT format('%%I.%%I', ca.user_view_schema, ca.user_view_name)::regclass::oid::bigint
           AS view_oid,
       format('%%I.%%I', ca.partial_view_schema, ca.partial_view_name)::regclass::oid::bigint
           AS partial_oid,
       format('%%I.%%I', ca.direct_view_schema, ca.direct_view_name)::regclass::oid::bigint
           AS direct_oid,
       format('%%I.%%I', m.schema_name, m.table_name)::regclass::oid::bigint AS mat_relid,
       format('%%I.%%I', r.schema_name, r.table_name)::regclass::oid::bigint AS raw_relid,
       ca.user_view_schema::text AS schema,
       ca.user_view_name::text AS name,
       ca.materialized_only,
       coalesce((pg_catalog.to_jsonb(ca) ->> 'finalized')::boolean, true) AS finalized,
       pg_catalog.pg_get_viewdef(format('%%I.%%I', ca.direct_view_schema,
                                        ca.direct_view_name)::regclass) AS definition,
       m.compressed_hypertable_id IS NOT NULL AS compression_enabled,
       (SELECT t.watermark FROM _timescaledb_catalog.continuous_aggs_invalidation_threshold t
        WHERE t.hypertable_id = ca.raw_hypertable_id) AS threshold,
       (SELECT w.watermark FROM _timescaledb_catalog.continuous_aggs_watermark w
        WHERE w.mat_hypertable_id = ca.mat_hypertable_id) AS watermark,
       ARRAY(SELECT pg_catalog.jsonb_build_array(l.lowest_modified_value,
                                                 l.greatest_modified_value)::text
             FROM _timescaledb_catalog.continuous_aggs_materialization_invalidation_log l
             WHERE l.materialization_id = ca.mat_hypertable_id
             ORDER BY 1) AS pending,
       ARRAY(SELECT pg_catalog.jsonb_build_array(l.lowest_modified_value,
                                                 l.greatest_modified_value)::text
             FROM _timescaledb_catalog.continuous_aggs_hypertable_invalidation_log l
             WHERE l.hypertable_id = ca.raw_hypertable_id
             ORDER BY 1) AS pending_raw,
       ca.parent_mat_hypertable_id IS NOT NULL AS hierarchical
FROM _timescaledb_catalog.continuous_agg ca
JOIN _timescaledb_catalog.hypertable m ON m.id = ca.mat_hypertable_id
JOIN _timescaledb_catalog.hypertable r ON r.id = ca.raw_hypertable_id
ORDER BY ca.mat_hypertable_id
