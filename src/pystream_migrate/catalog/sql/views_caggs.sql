-- The views behind TimescaleDB continuous aggregates: the user-facing view (reported)
-- and the partial and direct views TimescaleDB keeps next to it.
SELECT ca.user_view_schema::text AS schema, ca.user_view_name::text AS name, true AS user_view
FROM _timescaledb_catalog.continuous_agg ca
UNION ALL
SELECT ca.partial_view_schema::text, ca.partial_view_name::text, false
FROM _timescaledb_catalog.continuous_agg ca
UNION ALL
SELECT ca.direct_view_schema::text, ca.direct_view_name::text, false
FROM _timescaledb_catalog.continuous_agg ca
