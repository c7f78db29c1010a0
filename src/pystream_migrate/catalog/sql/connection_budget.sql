-- Connections this role may still open to this database (connection.connection_budget):
-- the server's free slots, less those reserved for superusers (and, on PostgreSQL 16+,
-- for pg_use_reserved_connections), the role's CONNECTION LIMIT and the database's.
-- Superusers are held to none of the reservations or limits. Only client backends
-- take these slots (autovacuum, background workers and WAL senders have their own).
SELECT pg_catalog.current_setting('max_connections')::int AS max_connections,
       CASE WHEN r.rolsuper THEN 0 ELSE
           pg_catalog.current_setting('superuser_reserved_connections')::int
           + CASE WHEN EXISTS (SELECT FROM pg_catalog.pg_roles u
                                WHERE u.rolname = 'pg_use_reserved_connections'
                                  AND pg_catalog.pg_has_role(current_user, u.oid, 'MEMBER'))
                  THEN 0
                  ELSE coalesce(pg_catalog.current_setting('reserved_connections', true),
                                '0')::int END
       END AS reserved,
       (SELECT count(*) FROM pg_catalog.pg_stat_activity
         WHERE backend_type = 'client backend')::int AS in_use,
       CASE WHEN r.rolsuper THEN -1 ELSE r.rolconnlimit END AS role_limit,
       (SELECT count(*) FROM pg_catalog.pg_stat_activity
         WHERE backend_type = 'client backend' AND usesysid = r.oid)::int AS role_in_use,
       CASE WHEN r.rolsuper THEN -1 ELSE d.datconnlimit END AS db_limit,
       (SELECT count(*) FROM pg_catalog.pg_stat_activity
         WHERE backend_type = 'client backend' AND datid = d.oid)::int AS db_in_use
  FROM pg_catalog.pg_roles r, pg_catalog.pg_database d
 WHERE r.rolname = current_user AND d.datname = pg_catalog.current_database()
