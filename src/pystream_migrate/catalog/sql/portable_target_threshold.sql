-- Portable restore (--resume): the invalidation threshold on the target of the
-- hypertable that continuous aggregate %(schema)s.%(name)s aggregates; no row or NULL
-- when it has none yet.
SELECT t.watermark
FROM _timescaledb_catalog.continuous_agg ca
JOIN _timescaledb_catalog.continuous_aggs_invalidation_threshold t
  ON t.hypertable_id = ca.raw_hypertable_id
WHERE ca.user_view_schema = %(schema)s AND ca.user_view_name = %(name)s
