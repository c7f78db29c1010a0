-- The views behind TimescaleDB continuous aggregates: the user-facing view and the
-- partial and direct views TimescaleDB keeps next to it, each with the user view it
-- belongs to. All three are carried as plain views.
SELECT v.schema, v.name, v.role,
       ca.user_view_schema::text AS user_schema, ca.user_view_name::text AS user_name
FROM _timescaledb_catalog.continuous_agg ca
CROSS JOIN LATERAL (VALUES
    (ca.user_view_schema::text, ca.user_view_name::text, 'user'),
    (ca.partial_view_schema::text, ca.partial_view_name::text, 'partial'),
    (ca.direct_view_schema::text, ca.direct_view_name::text, 'direct')
) AS v(schema, name, role)
