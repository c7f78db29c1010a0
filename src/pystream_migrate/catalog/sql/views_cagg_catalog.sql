-- Whether TimescaleDB's continuous aggregate catalog exists in this database.
SELECT pg_catalog.to_regclass('_timescaledb_catalog.continuous_agg') IS NOT NULL AS present
