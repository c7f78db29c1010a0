-- For restore --clean: the relations the TARGET's TimescaleDB catalog knows, so that
-- what TimescaleDB drops itself (chunks with their hypertable, a continuous aggregate's
-- internals) is left to it, and what an interrupted restore left as plain tables and
-- views (its catalog rows never loaded) is dropped as such. Only run when the
-- timescaledb extension is installed on the target.
SELECT 'chunk' AS role, schema_name::text AS schema, table_name::text AS name
FROM _timescaledb_catalog.chunk
UNION ALL
SELECT 'hypertable', schema_name::text, table_name::text
FROM _timescaledb_catalog.hypertable
UNION ALL
SELECT 'cagg', v.schema, v.name
FROM _timescaledb_catalog.continuous_agg ca
CROSS JOIN LATERAL (VALUES (ca.user_view_schema::text, ca.user_view_name::text),
                           (ca.partial_view_schema::text, ca.partial_view_name::text),
                           (ca.direct_view_schema::text, ca.direct_view_name::text)
                   ) AS v(schema, name)
