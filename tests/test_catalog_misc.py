"""Schemas, extensions (and their configuration data), collations, default privileges and
the miscellaneous kinds (casts, operators, operator classes, text search, foreign data,
publications) read from the catalogs, applied to an empty database and compared with
pg_dump -s."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator

import psycopg
import pytest
from psycopg import sql

from pystream_migrate.catalog import Catalog, CatalogContext, collect_entries
from pystream_migrate.catalog.extensions import fk_levels, normalize_condition
from pystream_migrate.session import begin_snapshot, configure_reader, configure_writer
from pystream_migrate.toc import Section, TocEntry, resolve_dependencies, sort_entries
from tests.conftest import Server
from tests.schema_support import apply_schema, assert_same_schema, read_toc

S = '"Sch ëma ""q"""'  # a schema name with a space, quotes and a non-ASCII letter

MISC_SQL = f"""
CREATE SCHEMA {S};
COMMENT ON SCHEMA {S} IS 'a schema';
CREATE SCHEMA "Empty";
CREATE EXTENSION citext WITH SCHEMA {S};
CREATE EXTENSION hstore;
CREATE EXTENSION postgres_fdw;
CREATE TYPE {S}.pt AS (x int, y int);
CREATE FUNCTION {S}.int_to_pt(integer) RETURNS {S}.pt LANGUAGE sql IMMUTABLE
  AS $$ SELECT ROW($1, $1)::{S}.pt $$;
CREATE CAST (integer AS {S}.pt) WITH FUNCTION {S}.int_to_pt(integer) AS ASSIGNMENT;
COMMENT ON CAST (integer AS {S}.pt) IS 'cast comment';
CREATE CAST ({S}.pt AS text) WITH INOUT;
CREATE FUNCTION {S}.pt_eq({S}.pt, {S}.pt) RETURNS boolean LANGUAGE sql IMMUTABLE
  AS $$ SELECT $1.x = $2.x AND $1.y = $2.y $$;
CREATE FUNCTION {S}.pt_ne({S}.pt, {S}.pt) RETURNS boolean LANGUAGE sql IMMUTABLE
  AS $$ SELECT NOT ($1.x = $2.x AND $1.y = $2.y) $$;
CREATE FUNCTION {S}.pt_lt({S}.pt, {S}.pt) RETURNS boolean LANGUAGE sql IMMUTABLE
  AS $$ SELECT ($1.x, $1.y) < ($2.x, $2.y) $$;
CREATE FUNCTION {S}.pt_neg({S}.pt) RETURNS {S}.pt LANGUAGE sql IMMUTABLE
  AS $$ SELECT ROW(-$1.x, -$1.y)::{S}.pt $$;
CREATE FUNCTION {S}.pt_cmp({S}.pt, {S}.pt) RETURNS integer LANGUAGE sql IMMUTABLE
  AS $$ SELECT CASE WHEN ($1.x, $1.y) < ($2.x, $2.y) THEN -1
                    WHEN ($1.x, $1.y) = ($2.x, $2.y) THEN 0 ELSE 1 END $$;
CREATE OPERATOR {S}.=== (FUNCTION = {S}.pt_eq, LEFTARG = {S}.pt, RIGHTARG = {S}.pt,
  COMMUTATOR = OPERATOR({S}.===), NEGATOR = OPERATOR({S}.!==),
  RESTRICT = eqsel, JOIN = eqjoinsel, HASHES, MERGES);
CREATE OPERATOR {S}.!== (FUNCTION = {S}.pt_ne, LEFTARG = {S}.pt, RIGHTARG = {S}.pt);
CREATE OPERATOR {S}.<<< (FUNCTION = {S}.pt_lt, LEFTARG = {S}.pt, RIGHTARG = {S}.pt);
CREATE OPERATOR public.~~~ (FUNCTION = {S}.pt_neg, RIGHTARG = {S}.pt);
COMMENT ON OPERATOR {S}.=== ({S}.pt, {S}.pt) IS 'equal points';
CREATE OPERATOR FAMILY {S}."Pt Fam" USING btree;
CREATE OPERATOR CLASS {S}."Pt Ops" DEFAULT FOR TYPE {S}.pt USING btree FAMILY {S}."Pt Fam" AS
  OPERATOR 1 {S}.<<<, OPERATOR 3 {S}.===, FUNCTION 1 {S}.pt_cmp({S}.pt, {S}.pt);
COMMENT ON OPERATOR CLASS {S}."Pt Ops" USING btree IS 'point ops';
CREATE OPERATOR CLASS public.pt_hash FOR TYPE {S}.pt USING hash AS
  OPERATOR 1 {S}.===, FUNCTION 1 hashtext(text);
CREATE COLLATION {S}."Coll ICU" (provider = icu, locale = 'und-u-ks-level2',
  deterministic = false);
CREATE COLLATION public.c_libc (provider = libc, locale = 'C');
CREATE COLLATION public.c_libc2 (provider = libc, lc_collate = 'C', lc_ctype = 'POSIX');
COMMENT ON COLLATION public.c_libc IS 'libc coll';
CREATE TEXT SEARCH DICTIONARY {S}."My Dict" (TEMPLATE = pg_catalog.simple,
  stopwords = 'english', accept = false);
CREATE TEXT SEARCH CONFIGURATION {S}."My Cfg" (PARSER = pg_catalog."default");
ALTER TEXT SEARCH CONFIGURATION {S}."My Cfg"
  ADD MAPPING FOR asciiword, word WITH {S}."My Dict", english_stem;
ALTER TEXT SEARCH CONFIGURATION {S}."My Cfg" ADD MAPPING FOR int WITH simple;
COMMENT ON TEXT SEARCH CONFIGURATION {S}."My Cfg" IS 'cfg';
CREATE TEXT SEARCH TEMPLATE public.my_tmpl (INIT = dsimple_init, LEXIZE = dsimple_lexize);
COMMENT ON TEXT SEARCH TEMPLATE public.my_tmpl IS 'tmpl';
CREATE TEXT SEARCH PARSER public."My Parser" (START = prsd_start, GETTOKEN = prsd_nexttoken,
  END = prsd_end, LEXTYPES = prsd_lextype, HEADLINE = prsd_headline);
CREATE TEXT SEARCH CONFIGURATION public.cfg2 (PARSER = public."My Parser");
ALTER TEXT SEARCH CONFIGURATION public.cfg2 ADD MAPPING FOR asciiword WITH simple;
CREATE FOREIGN DATA WRAPPER "Fdw ü" OPTIONS (debug 'true');
COMMENT ON FOREIGN DATA WRAPPER "Fdw ü" IS 'fdw comment';
CREATE FOREIGN DATA WRAPPER fdw2 HANDLER postgres_fdw_handler VALIDATOR postgres_fdw_validator;
CREATE SERVER "Srv 1" TYPE 'x' VERSION '1.0' FOREIGN DATA WRAPPER "Fdw ü"
  OPTIONS (host 'h''1', port '5432');
CREATE SERVER srv2 FOREIGN DATA WRAPPER fdw2 OPTIONS (dbname 'foo');
CREATE USER MAPPING FOR PUBLIC SERVER "Srv 1" OPTIONS (user 'u', password 'p''w');
CREATE USER MAPPING FOR CURRENT_USER SERVER srv2 OPTIONS (user 'bob');
COMMENT ON SERVER "Srv 1" IS 'srv';
CREATE FOREIGN TABLE {S}."Foreign T" (
  "Id" integer OPTIONS (column_name 'id') NOT NULL,
  val text COLLATE "C" DEFAULT 'x',
  h hstore,
  c {S}.citext,
  CONSTRAINT "pos Id" CHECK ("Id" > 0)
) SERVER srv2 OPTIONS (schema_name 'public', table_name 'remote');
ALTER FOREIGN TABLE {S}."Foreign T" ADD CONSTRAINT later CHECK (val <> '') NOT VALID;
COMMENT ON FOREIGN TABLE {S}."Foreign T" IS 'ft';
COMMENT ON COLUMN {S}."Foreign T".val IS 'ft col';
COMMENT ON CONSTRAINT "pos Id" ON {S}."Foreign T" IS 'positive';
CREATE PUBLICATION "Pub All" FOR ALL TABLES WITH (publish = 'insert, update');
CREATE PUBLICATION pub_empty;
COMMENT ON PUBLICATION pub_empty IS 'empty pub';
COMMENT ON SCHEMA public IS 'my public';
CREATE ACCESS METHOD "My AM" TYPE INDEX HANDLER bthandler;
COMMENT ON ACCESS METHOD "My AM" IS 'am';
CREATE ACCESS METHOD heap2 TYPE TABLE HANDLER heap_tableam_handler;
CREATE CONVERSION {S}."My Conv" FOR 'LATIN1' TO 'UTF8' FROM iso8859_1_to_utf8;
COMMENT ON CONVERSION {S}."My Conv" IS 'conv';
"""

MY_KINDS = {
    "SCHEMA", "EXTENSION", "COLLATION", "DEFAULT ACL", "CAST", "OPERATOR", "OPERATOR CLASS",
    "OPERATOR FAMILY", "ACCESS METHOD", "CONVERSION", "TEXT SEARCH PARSER", "TEXT SEARCH TEMPLATE",
    "TEXT SEARCH DICTIONARY", "TEXT SEARCH CONFIGURATION", "FOREIGN DATA WRAPPER", "SERVER",
    "USER MAPPING", "FOREIGN TABLE", "PUBLICATION", "PUBLICATION TABLE",
    "PUBLICATION TABLES IN SCHEMA",
}


def run(dsn: str, script: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET client_min_messages = error")  # wal_level warnings of publications
        conn.execute(script)  # type: ignore[arg-type]


def one(catalog: Catalog, kind: str, name: str, schema: str | None = None) -> TocEntry:
    found = [e for e in catalog.entries
             if e.kind == kind and e.name == name and (schema is None or e.schema == schema)]
    assert len(found) == 1, (kind, schema, name, [e.label for e in catalog.entries])
    return found[0]


def position(catalog: Catalog, e: TocEntry) -> int:
    return next(i for i, x in enumerate(catalog.entries) if x is e)


@pytest.fixture
def misc_role(pg_server: Server) -> Iterator[str]:
    """A role with an awkward name, dropped after the test's databases are gone.

    Request it before the database fixtures so that it is torn down after them.
    """
    role = f'psm "Misc" ü {uuid.uuid4().hex[:8]}'
    with psycopg.connect(pg_server.dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {}").format(sql.Identifier(role)))
    yield role
    with psycopg.connect(pg_server.dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def privileges_sql(role: str) -> str:
    r = sql.Identifier(role).as_string(None)
    return f"""
    GRANT USAGE ON SCHEMA {S} TO {r} WITH GRANT OPTION;
    REVOKE USAGE ON SCHEMA public FROM PUBLIC;
    GRANT CREATE ON SCHEMA public TO {r};
    GRANT USAGE ON FOREIGN DATA WRAPPER "Fdw ü" TO {r};
    GRANT USAGE ON FOREIGN SERVER "Srv 1" TO PUBLIC;
    GRANT SELECT ON {S}."Foreign T" TO {r};
    GRANT INSERT ("Id"), UPDATE (val) ON {S}."Foreign T" TO {r};
    ALTER DEFAULT PRIVILEGES FOR ROLE {r} REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
    ALTER DEFAULT PRIVILEGES FOR ROLE {r} GRANT SELECT ON TABLES TO PUBLIC;
    ALTER DEFAULT PRIVILEGES FOR ROLE {r} REVOKE ALL ON SEQUENCES FROM {r};
    ALTER DEFAULT PRIVILEGES FOR ROLE {r} GRANT CREATE ON SCHEMAS TO PUBLIC;
    ALTER DEFAULT PRIVILEGES FOR ROLE {r} REVOKE USAGE ON TYPES FROM PUBLIC;
    ALTER DEFAULT PRIVILEGES FOR ROLE {r} IN SCHEMA {S}
      GRANT INSERT, UPDATE ON TABLES TO {r} WITH GRANT OPTION;
    ALTER DEFAULT PRIVILEGES IN SCHEMA "Empty" GRANT EXECUTE ON FUNCTIONS TO {r};
    -- privileges changed on extension members after CREATE EXTENSION
    GRANT SELECT ON timescaledb_information.hypertables TO {r};
    GRANT USAGE ON SCHEMA _timescaledb_catalog TO {r};
    REVOKE EXECUTE ON FUNCTION public.hstore_to_json(hstore) FROM PUBLIC;
    GRANT USAGE ON TYPE {S}.citext TO {r} WITH GRANT OPTION;
    """


def test_misc_kinds_round_trip(source_db: str, target_db: str) -> None:
    run(source_db, MISC_SQL)
    catalog = read_toc(source_db)
    kinds = {e.kind for e in catalog.entries}
    assert kinds >= {"SCHEMA", "EXTENSION", "COLLATION", "CAST", "OPERATOR", "OPERATOR CLASS",
                     "OPERATOR FAMILY", "TEXT SEARCH PARSER", "TEXT SEARCH TEMPLATE",
                     "TEXT SEARCH DICTIONARY", "TEXT SEARCH CONFIGURATION",
                     "FOREIGN DATA WRAPPER", "SERVER", "USER MAPPING", "FOREIGN TABLE",
                     "PUBLICATION", "ACCESS METHOD", "CONVERSION"}
    names = {(e.kind, e.name) for e in catalog.entries}
    # Extension members, plpgsql and extension-made FDWs are not entries of their own.
    assert ("EXTENSION", "plpgsql") not in names
    assert ("FOREIGN DATA WRAPPER", "postgres_fdw") not in names
    assert not any(e.schema and e.schema.startswith("_timescaledb") and e.section is not
                   Section.DATA for e in catalog.entries if e.kind in MY_KINDS)
    ext = one(catalog, "EXTENSION", "citext")
    assert ext.create_sql == f"CREATE EXTENSION IF NOT EXISTS \"citext\" WITH SCHEMA {S};"
    assert ext.info["version"] and "VERSION" not in ext.create_sql
    assert ext.comment_sql.startswith('COMMENT ON EXTENSION "citext" IS ')
    assert one(catalog, "SCHEMA", "Sch ëma \"q\"").create_sql == f"CREATE SCHEMA {S};"
    public = one(catalog, "SCHEMA", "public")
    assert public.create_sql == "" and public.acl_sql == "" and public.owner_sql == ""
    assert public.comment_sql == "COMMENT ON SCHEMA \"public\" IS 'my public';"
    # pg_dump's sections: publications in post-data, definitions in pre-data.
    assert one(catalog, "PUBLICATION", "Pub All").section is Section.POST_DATA
    assert one(catalog, "CAST", f"(integer AS {S}.pt)").section is Section.PRE_DATA
    # Things used by others come first: the FDW made with postgres_fdw's handler after the
    # extension, the foreign table (citext and hstore columns) after both extensions.
    ft = one(catalog, "FOREIGN TABLE", "Foreign T")
    for dep in ("citext", "hstore"):
        assert one(catalog, "EXTENSION", dep).id in ft.deps
    assert one(catalog, "EXTENSION", "postgres_fdw").id in one(
        catalog, "FOREIGN DATA WRAPPER", "fdw2").deps
    assert position(catalog, one(catalog, "EXTENSION", "citext")) < position(catalog, ft)
    for e in catalog.entries:
        assert all(d < e.id for d in e.deps), e.label
    assert catalog.unsupported == []

    apply_schema(target_db, catalog)
    assert_same_schema(source_db, target_db)

    # --clean: every drop statement, in reverse order, leaves an empty database behind.
    with psycopg.connect(target_db, autocommit=True) as conn:
        for e in reversed(catalog.entries):
            if e.drop_sql:
                try:
                    conn.execute(e.drop_sql)  # type: ignore[arg-type]
                except psycopg.Error as exc:
                    raise AssertionError(f"{e.label}: {e.drop_sql}: {exc}") from exc
        left = conn.execute("""
            SELECT (SELECT count(*) FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%'
                      AND nspname NOT IN ('public', 'information_schema')),
                   (SELECT count(*) FROM pg_extension WHERE extname <> 'plpgsql'),
                   (SELECT count(*) FROM pg_foreign_data_wrapper),
                   (SELECT count(*) FROM pg_user_mapping),
                   (SELECT count(*) FROM pg_publication),
                   (SELECT count(*) FROM pg_collation WHERE oid >= 16384),
                   (SELECT count(*) FROM pg_am WHERE oid >= 16384),
                   (SELECT count(*) FROM pg_cast WHERE oid >= 16384)""").fetchone()
    assert left == (0, 0, 0, 0, 0, 0, 0, 0)


def test_misc_privileges_round_trip(misc_role: str, source_db: str, target_db: str,
                                    make_db: Callable[..., str]) -> None:
    run(source_db, MISC_SQL + privileges_sql(misc_role))
    catalog = read_toc(source_db)
    acls = [e for e in catalog.entries if e.kind == "DEFAULT ACL"]
    assert len(acls) == 7
    assert all(e.section is Section.POST_DATA and e.create_sql == "" and e.acl_sql
               for e in acls)
    # Default privileges come after every object, so no restored object picks them up.
    assert min(position(catalog, e) for e in acls) > max(
        position(catalog, e) for e in catalog.entries if e.section is Section.PRE_DATA)
    role = sql.Identifier(misc_role).as_string(None)
    global_types = one(catalog, "DEFAULT ACL", f"DEFAULT PRIVILEGES FOR TYPES (ROLE {misc_role})")
    assert global_types.schema is None
    assert f"ALTER DEFAULT PRIVILEGES FOR ROLE {role} REVOKE ALL ON TYPES FROM PUBLIC;" \
        in global_types.acl_sql
    in_schema = [e for e in acls if e.schema == "Sch ëma \"q\""]
    assert len(in_schema) == 1 and "REVOKE" not in in_schema[0].acl_sql
    assert "WITH GRANT OPTION" in in_schema[0].acl_sql
    public = one(catalog, "SCHEMA", "public")
    assert "REVOKE" in public.acl_sql and f"GRANT CREATE ON SCHEMA \"public\" TO {role}" \
        in public.acl_sql

    tsdb = one(catalog, "EXTENSION", "timescaledb").acl_sql
    assert f'GRANT SELECT ON TABLE timescaledb_information.hypertables TO {role};' in tsdb
    assert f'GRANT USAGE ON SCHEMA _timescaledb_catalog TO {role};' in tsdb
    assert "hstore_to_json" in one(catalog, "EXTENSION", "hstore").acl_sql
    assert f"TO {role} WITH GRANT OPTION" in one(catalog, "EXTENSION", "citext").acl_sql
    assert one(catalog, "EXTENSION", "postgres_fdw").acl_sql == ""

    apply_schema(target_db, catalog)
    assert_same_schema(source_db, target_db)
    assert_same_schema(source_db, target_db, privileges=True)
    # --no-privileges leaves every default privilege out.
    bare = make_db("bare")
    apply_schema(bare, catalog, privileges=False)
    with psycopg.connect(bare) as conn:
        count = conn.execute("SELECT count(*) FROM pg_default_acl").fetchone()
    assert count == (0,)


def test_public_schema_owner_comment_and_acl(misc_role: str, make_db: Callable[..., str]
                                             ) -> None:
    untouched = make_db("pub0")
    entry = one(read_toc(untouched), "SCHEMA", "public")
    # Exactly what CREATE DATABASE gives: nothing to do.
    assert (entry.create_sql, entry.owner_sql, entry.acl_sql, entry.comment_sql) == \
        ("", "", "", "")
    assert entry.drop_sql == ""

    source, target = make_db("pub1"), make_db("pub2")
    role = sql.Identifier(misc_role).as_string(None)
    run(source, f"COMMENT ON SCHEMA public IS NULL; ALTER SCHEMA public OWNER TO {role};"
                "GRANT CREATE ON SCHEMA public TO PUBLIC;")
    entry = one(read_toc(source), "SCHEMA", "public")
    assert entry.create_sql == ""
    assert entry.owner_sql == f"ALTER SCHEMA \"public\" OWNER TO {role};"
    assert entry.comment_sql == "COMMENT ON SCHEMA \"public\" IS '';"
    assert entry.acl_sql
    catalog = Catalog([entry], [], [])
    apply_schema(target, catalog, owners=True)
    assert_same_schema(source, target)
    assert_same_schema(source, target, privileges=True)
    with psycopg.connect(target) as conn:
        owner = conn.execute(
            "SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = 'public'"
        ).fetchone()
    assert owner == (role,)


def test_table_using_extension_types_needs_the_extension_first(
    source_db: str, target_db: str
) -> None:
    run(source_db, """
        CREATE SCHEMA "Ext";
        CREATE EXTENSION citext WITH SCHEMA "Ext";
        CREATE EXTENSION hstore;
        CREATE TABLE public."Uses Ext" (id int PRIMARY KEY, name "Ext".citext,
                                        attrs hstore, tags hstore[]);
        CREATE TABLE public.plain (id int);
        CREATE TABLE public.metrics (ts timestamptz NOT NULL, v float8);
        SELECT create_hypertable('public.metrics', 'ts');
        CREATE PUBLICATION "Pub T" FOR TABLE public."Uses Ext" (id, name), public.plain
          WITH (publish = 'insert');
        CREATE TABLE "Ext"."In Schema" (id int);
        CREATE PUBLICATION "Pub S" FOR TABLES IN SCHEMA "Ext",
          TABLE public.plain WHERE (id > 10) WITH (publish_via_partition_root);
    """)
    with psycopg.connect(source_db) as conn:
        configure_reader(conn)
        begin_snapshot(conn)
        ctx = CatalogContext(conn)
        entries = collect_entries(ctx)
        ids = {r[0]: r[1] for r in conn.execute(
            "SELECT 'table', 'public.\"Uses Ext\"'::regclass::oid::bigint UNION ALL "
            "SELECT 'trigger', oid::bigint FROM pg_trigger "
            "WHERE tgrelid = 'public.metrics'::regclass AND tgname = 'ts_insert_blocker'")}
        depend = list(ctx.dependencies())
        conn.rollback()
    # Entries standing for the table and the trigger whatever the other families produce.
    table = TocEntry("TABLE", "public", "probe table", Section.PRE_DATA,
                     objects=[("pg_class", ids["table"])])
    # TimescaleDB versions that still give hypertables an insert-blocker trigger.
    has_blocker = "trigger" in ids
    trigger = TocEntry("TRIGGER", "public", "probe trigger", Section.POST_DATA,
                       objects=[("pg_trigger", ids.get("trigger", 0))])
    mine = [e for e in entries if e.kind in MY_KINDS] + [table, trigger]
    resolve_dependencies(mine, depend, aliases=ctx.extension_members)
    by_name = {e.name: i for i, e in enumerate(mine) if e.kind == "EXTENSION"}
    assert {by_name["citext"], by_name["hstore"]} <= set(table.deps)
    assert by_name["timescaledb"] in trigger.deps or not has_blocker
    ordered = sort_entries(mine)
    order = [e.name for e in ordered]
    assert order.index("citext") < order.index("probe table")
    assert order.index("hstore") < order.index("probe table")
    if has_blocker:
        assert order.index("timescaledb") < order.index("probe trigger")

    catalog = read_toc(source_db)
    pub_tables = sorted(e.name for e in catalog.entries if e.kind == "PUBLICATION TABLE")
    assert pub_tables == ["Pub S plain", "Pub T Uses Ext", "Pub T plain"]
    filtered = one(catalog, "PUBLICATION TABLE", "Pub S plain")
    assert filtered.create_sql.startswith(
        'ALTER PUBLICATION "Pub S" ADD TABLE ONLY "public"."plain" WHERE (')
    in_schema = one(catalog, "PUBLICATION TABLES IN SCHEMA", "Pub S Ext")
    assert in_schema.create_sql == 'ALTER PUBLICATION "Pub S" ADD TABLES IN SCHEMA "Ext";'
    assert "publish_via_partition_root = true" in one(catalog, "PUBLICATION", "Pub S").create_sql
    pt = one(catalog, "PUBLICATION TABLE", "Pub T Uses Ext")
    assert pt.create_sql == ('ALTER PUBLICATION "Pub T" ADD TABLE ONLY "public"."Uses Ext" '
                             '("id", "name");')
    assert pt.section is Section.POST_DATA
    assert one(catalog, "PUBLICATION", "Pub T").id in pt.deps
    # The same through the whole TOC, with the table family's entries.
    table_entry = one(catalog, "TABLE", "Uses Ext")
    assert one(catalog, "EXTENSION", "citext").id in table_entry.deps
    assert one(catalog, "EXTENSION", "hstore").id in table_entry.deps
    assert table_entry.id in pt.deps
    blocker = [e for e in catalog.entries
               if e.kind == "TRIGGER" and "ts_insert_blocker" in e.name]
    timescaledb = one(catalog, "EXTENSION", "timescaledb")
    assert bool(blocker) == has_blocker
    assert all(timescaledb.id in e.deps for e in blocker)
    apply_schema(target_db, catalog)
    assert_same_schema(source_db, target_db)


def test_timescaledb_configuration_data(source_db: str, target_db: str) -> None:
    run(source_db, """
        CREATE TABLE metrics (ts timestamptz NOT NULL, device int, value float8);
        SELECT create_hypertable('metrics', 'ts', chunk_time_interval => interval '1 day');
        INSERT INTO metrics SELECT t, 1, 0.5
          FROM generate_series('2024-01-01'::timestamptz, '2024-01-04', '1 hour') t;
        CREATE TABLE other (ts timestamptz NOT NULL, v int);
        SELECT create_hypertable('other', 'ts');
    """)
    catalog = read_toc(source_db)
    with psycopg.connect(source_db) as conn:
        server = conn.execute("""
            SELECT c.oid::bigint, n.nspname, c.relname, c.relkind::text, cfg.cond
            FROM pg_extension e, unnest(e.extconfig, e.extcondition) AS cfg(relid, cond)
            JOIN pg_class c ON c.oid = cfg.relid
            JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE e.extname = 'timescaledb'""").fetchall()
        fks = conn.execute("""
            SELECT DISTINCT conrelid::bigint, confrelid::bigint FROM pg_constraint, pg_extension e
            WHERE contype = 'f' AND conrelid = ANY (e.extconfig) AND confrelid = ANY (e.extconfig)
              AND conrelid <> confrelid""").fetchall()
        seq_state = dict(conn.execute(
            "SELECT 'hypertable_id_seq', last_value FROM _timescaledb_catalog.hypertable_id_seq"
        ).fetchall())
    config = [e for e in catalog.entries if e.extconfig]
    tables = {(e.schema, e.name): e for e in config if e.kind == "TABLE DATA"}
    seqs = {(e.schema, e.name): e for e in config if e.kind == "SEQUENCE SET"}
    assert set(tables) == {(s, n) for _, s, n, k, _ in server if k == "r"}
    assert set(seqs) == {(s, n) for _, s, n, k, _ in server if k == "S"}
    assert ("_timescaledb_catalog", "hypertable") in tables
    assert ("_timescaledb_catalog", "chunk") in tables
    assert len(tables) + len(seqs) == len(server)

    last_pre = max(e.id for e in catalog.entries if e.section is Section.PRE_DATA)
    ext_id = one(catalog, "EXTENSION", "timescaledb").id
    relid_entry = {e.relid: e for e in tables.values()}
    for e in config:
        assert e.section is Section.DATA and e.id > last_pre
        assert ext_id in e.deps
    for e in tables.values():
        assert e.copy is not None and e.copy.schema == e.schema and e.copy.table == e.name
        assert e.info["extension"] == "timescaledb"
        assert isinstance(e.fk_order, int) and e.est_bytes >= 0
        assert "est_rows" in e.info
    # Foreign keys between configuration tables: referenced rows load first.
    assert fks
    for a, b in fks:
        ea, eb = relid_entry[a], relid_entry[b]
        assert ea.fk_order > eb.fk_order, (ea.name, eb.name)
        assert eb.id in ea.deps
    assert relid_entry[next(r[0] for r in server if r[2] == "hypertable")].fk_order == 0
    # Row filters come from extcondition, without the WHERE keyword.
    for relid, _s, name, kind, cond in server:
        if kind != "r":
            continue
        expected = re.sub(r"^\s*where\s+", "", cond or "", flags=re.IGNORECASE).strip() or None
        assert relid_entry[relid].copy.where == expected, name  # type: ignore[union-attr]
    assert any(e.copy and e.copy.where for e in tables.values())
    # TimescaleDB 2.2x moved the job catalog from _timescaledb_config.
    job = tables.get(("_timescaledb_config", "bgw_job")) or tables[("_timescaledb_catalog",
                                                                    "bgw_job")]
    assert job.copy is not None and job.copy.where and "WHERE" not in job.copy.where.upper()
    assert "ts" not in job.copy.columns and "id" in job.copy.columns
    with psycopg.connect(source_db) as conn:
        for e in tables.values():
            assert e.copy is not None
            query = sql.SQL("SELECT count(*) FROM {} WHERE {}").format(
                sql.Identifier(e.copy.schema, e.copy.table), sql.SQL(e.copy.where or "true"))
            conn.execute(query)
        meta = tables[("_timescaledb_catalog", "metadata")].copy
        assert meta is not None and meta.where
        kept = conn.execute(sql.SQL(
            "SELECT count(*) FILTER (WHERE {}), count(*) FILTER (WHERE key = 'uuid') "
            "FROM _timescaledb_catalog.metadata").format(sql.SQL(meta.where))).fetchone()
    assert kept is not None and kept[1] == 1 and kept[0] > 0  # the filter leaves uuid out
    with psycopg.connect(source_db) as conn:
        total = conn.execute("SELECT count(*) FROM _timescaledb_catalog.metadata").fetchone()
    assert total == (kept[0] + 1,)
    seq = seqs[("_timescaledb_catalog", "hypertable_id_seq")]
    assert seq.create_sql == ("SELECT pg_catalog.setval('\"_timescaledb_catalog\".\"hypertable_"
                              f"id_seq\"', {seq_state['hypertable_id_seq']}, true);")
    assert seq_state["hypertable_id_seq"] == 2
    # The setval statements run on a database with the extension.
    with psycopg.connect(target_db, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION timescaledb")
        for e in seqs.values():
            conn.execute(e.create_sql)  # type: ignore[arg-type]
        assert conn.execute("SELECT last_value FROM _timescaledb_catalog.hypertable_id_seq"
                            ).fetchone() == (2,)


def test_unsupported_objects_are_reported(source_db: str) -> None:
    run(source_db, """
        SELECT lo_create(0); SELECT lo_create(0);
        CREATE FUNCTION public.my_handler() RETURNS language_handler
          AS 'plpgsql', 'plpgsql_call_handler' LANGUAGE c;
        CREATE LANGUAGE "My Lang" HANDLER public.my_handler;
    """)
    catalog = read_toc(source_db)
    found = {(u.kind, u.name): u for u in catalog.unsupported}
    assert ("LARGE OBJECT", "2 large objects") in found
    assert ("PROCEDURAL LANGUAGE", "My Lang") in found
    assert "CREATE LANGUAGE" in found[("PROCEDURAL LANGUAGE", "My Lang")].reason
    assert not any(e.name == "My Lang" for e in catalog.entries)


def test_source_sessions_run_without_jit(source_db: str) -> None:
    """JIT compiled the catalog queries for seconds (constraints.sql: 3 s of 3.6 s at
    4000 chunks); pg_dump turns it off too, pg_restore does not."""
    with psycopg.connect(source_db) as conn:
        assert conn.execute("SHOW jit").fetchone() == ("on",)  # the server's default
        conn.rollback()
        configure_reader(conn)
        assert conn.execute("SHOW jit").fetchone() == ("off",)
    with psycopg.connect(source_db) as conn:  # a restore's REFRESH may gain from it
        configure_writer(conn)
        assert conn.execute("SHOW jit").fetchone() == ("on",)


def test_condition_and_fk_level_helpers() -> None:
    assert normalize_condition(" WHERE key <> 'uuid' ") == "key <> 'uuid'"
    assert normalize_condition("where id >= 1000") == "id >= 1000"
    assert normalize_condition("") is None and normalize_condition(None) is None
    assert normalize_condition("wherever = 1") == "wherever = 1"
    levels, cyclic = fk_levels([1, 2, 3, 4], [(2, 1), (3, 2), (3, 1), (1, 1), (4, 4)])
    assert levels == {1: 0, 2: 1, 3: 2, 4: 0} and cyclic == []
    levels, cyclic = fk_levels([1, 2], [(1, 2), (2, 1)])
    assert sorted(levels.values()) == [0, 1] and cyclic


@pytest.mark.parametrize("timescaledb", [False, True])
def test_the_dumps_source_facts_give_timescaledbs_as_extension_info_does(
        make_db: Callable[..., str], timescaledb: bool) -> None:
    """The dump reads TimescaleDB's version, license and schema with the source's facts
    (one round trip instead of three)."""
    from pystream_migrate.dump import _source_facts
    from pystream_migrate.timescale import extension_info

    with psycopg.connect(make_db(timescaledb=timescaledb)) as conn:
        facts, info = _source_facts(conn)
        assert info == extension_info(conn)
    assert (info.version is not None) == timescaledb == ("timescaledb" in facts["extensions"])
    if timescaledb:
        assert info.license in ("apache", "timescale") and info.schema
