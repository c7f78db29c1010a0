-- User tables to lock in ACCESS SHARE mode for the length of the dump, as pg_dump does,
-- so that no concurrent DROP or ALTER changes them under the snapshot. TimescaleDB
-- chunks are left out (there may be tens of thousands, more than the lock table holds):
-- the lock on their hypertable already blocks drop_chunks, and each worker locks a
-- chunk while it copies it. Extension members are left out unless they are the
-- extension's configuration tables: the dump reads nothing else of theirs (and a role
-- that is not superuser may not be allowed to lock them). Only ordinary and partitioned
-- tables: LOCK TABLE refuses materialized views and foreign tables ("cannot lock
-- relation"), and pg_dump locks only these two kinds too.
SELECT c.oid::bigint AS relid,
       quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS qualified
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\_toast%%'
  AND n.nspname NOT LIKE 'pg\_temp\_%%'
  AND c.oid <> ALL (%(skip)s::oid[])
  AND (NOT EXISTS (SELECT FROM pg_catalog.pg_depend d
                   WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
                     AND d.objid = c.oid AND d.deptype = 'e')
       OR EXISTS (SELECT FROM pg_catalog.pg_extension x
                  WHERE c.oid = ANY (x.extconfig)))
ORDER BY c.oid
