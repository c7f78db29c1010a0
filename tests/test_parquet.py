"""export to Parquet and import back, against a real server.

The hypertable of these tests has a quoted mixed-case schema and a name with a space
and a ``/``, every column type the export maps, NULLs, and values at the edges of each
type (infinity, years BC, 24:00:00, NaN, empty strings and arrays). Where the server
has compression, some of its chunks are compressed and others not; the tests that need
that skip elsewhere, naming what the server lacks.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pystream_migrate.parquet import _filewriter
from pystream_migrate.parquet._export import ExportOptions, export_database
from pystream_migrate.parquet._filewriter import WriteOptions
from pystream_migrate.selection import Selection
from tests.conftest import Server
from tests.migrate_support import cli

SCHEMA, TABLE = "Fleet Ops", "Cond/itions"
QUALIFIED = '"Fleet Ops"."Cond/itions"'
TABLE_DIR = "Fleet Ops.Cond%2Fitions"

DDL = f"""
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE SCHEMA "Fleet Ops";
CREATE TABLE {QUALIFIED} (
    ts timestamptz NOT NULL, id int NOT NULL,
    tsn timestamp, d date, t time, i2 int2, i8 int8, f4 float4, f8 float8, b bool,
    tx text, vc varchar(20), by bytea, u uuid, n numeric(12,3), nbig numeric(50,2),
    iv interval, j json, jb jsonb, ai int[], atx text[], af float8[], e mood, ip inet
);
SELECT create_hypertable('{QUALIFIED}', 'ts', chunk_time_interval => interval '1 day');
CREATE TABLE public.plain (id int PRIMARY KEY, note text,
                           note_len int GENERATED ALWAYS AS (length(note)) STORED);
"""

ROWS = f"""
INSERT INTO {QUALIFIED}
SELECT '2024-01-01'::timestamptz + g * interval '17 minutes', g,
       '2024-01-01'::timestamp + g * interval '1 second 1 microsecond',
       date '2024-02-29' + g, time '00:00:00.000001' + g * interval '7 seconds',
       g % 32767, g::int8 * 1000000007, g / 7.0, g / 3.0, g % 3 = 0,
       'row ' || g || E', "quoted"\\n\\\\ back', 'v' || g,
       decode(lpad(to_hex(g), 8, '0') || '00ff', 'hex'), md5(g::text)::uuid,
       g * 1.125, g * 10000000000000000000000000000000.25,
       make_interval(0, g % 14, 0, g % 40, g % 30, 0, g * 0.000001 - 1),
       json_build_object('g', g), jsonb_build_object('a', g, 'b', array[g, -g]),
       array[g, NULL, -g], array['x' || g, NULL, 'quote"d, {{brace}}'], array[g / 2.0, -g],
       (enum_range(NULL::mood))[1 + g % 3], ('10.0.' || g % 256 || '.1')::inet
FROM generate_series(0, 599) g;
-- NULLs everywhere but in the time column, and the edges of every type.
INSERT INTO {QUALIFIED} (ts, id) VALUES ('2024-01-02 03:00:00+00', 1000);
INSERT INTO {QUALIFIED} VALUES
  ('2024-01-03 05:00:00.5+00', 1001, 'infinity', '0044-03-15 BC', '24:00:00', -32768,
   -9223372036854775808, 'NaN', '-Infinity', false, '', '', '', NULL, -0.001, 'NaN',
   '-1 years +3 days -00:00:00.000001', 'null', '[]', '{{}}', '{{}}', '{{NaN,Infinity}}',
   'sad', '::1'),
  ('2024-01-04 06:00:00+00', 1002, '-infinity', 'infinity', '23:59:59.999999', 32767,
   9223372036854775807, 'Infinity', 'NaN', true, E'tab\\there', 'x', '\\x', NULL,
   999999999.999, -1e47, '0', '{{}}', '{{"k": [null]}}', '{{NULL}}', '{{""}}', '{{NULL}}',
   NULL, NULL);
INSERT INTO public.plain SELECT g, repeat('n', g % 50) FROM generate_series(1, 300) g;
"""

# What each value should be in Arrow, computed by the server in a way that shares
# nothing with the export (numeric arithmetic, not the text form pyarrow parses).
EXPECTED = f"""
SELECT id,
  CASE WHEN ts = 'infinity' THEN 9223372036854775807
       ELSE (extract(epoch FROM ts) * 1000000)::bigint END AS ts,
  CASE WHEN tsn = 'infinity' THEN 9223372036854775807
       WHEN tsn = '-infinity' THEN -9223372036854775808
       ELSE (extract(epoch FROM tsn) * 1000000)::bigint END AS tsn,
  CASE WHEN d = 'infinity' THEN 2147483647 ELSE d - date '1970-01-01' END AS d,
  (extract(epoch FROM t) * 1000000)::bigint AS t,
  i2, i8, f4::float8 AS f4, f8, b, tx, vc, by, u, n, nbig::text AS nbig,
  CASE WHEN iv IS NOT NULL THEN
    json_build_object('months', (extract(year FROM iv) * 12 + extract(month FROM iv))::int,
                      'days', extract(day FROM iv)::int,
                      'nanoseconds', ((extract(hour FROM iv) * 3600 + extract(minute FROM iv) * 60)
                                      * 1000000 + extract(microseconds FROM iv))::bigint * 1000)
  END AS iv,
  j::text AS j, jb::text AS jb, ai, atx, af, e::text AS e,
  CASE WHEN ip IS NOT NULL THEN format('%s', ip) END AS ip  -- inet's output form
FROM {QUALIFIED} ORDER BY id
"""

FINGERPRINT = ("SELECT count(*), coalesce(sum(('x' || substr(md5(x::text), 1, 15))"
               "::bit(60)::bigint), 0) FROM {} AS x")


def _run(dsn: str, script: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(script)  # type: ignore[arg-type]


def _compress_two_chunks(dsn: str, server: Server) -> None:
    """Compress two chunks (and write into one of them), or skip saying what is missing."""
    if not server.has_compression:
        pytest.skip("compressed chunks need the Timescale License edition; the test "
                    f"server's timescaledb.license is {server.license!r}")
    _run(dsn, f"""
        ALTER TABLE {QUALIFIED} SET (timescaledb.compress,
                                     timescaledb.compress_orderby = 'ts, id');
        SELECT compress_chunk(c) FROM show_chunks('{QUALIFIED}') c ORDER BY c LIMIT 2;
        -- A row written into a compressed chunk after its compression.
        INSERT INTO {QUALIFIED} (ts, id, tx) VALUES ('2024-01-01 00:00:01+00', 2000, 'late');
    """)


@pytest.fixture
def fleet(source_db: str) -> str:
    _run(source_db, DDL)
    _run(source_db, ROWS)
    return source_db


def _export(dsn: str, out: Path, *extra: str) -> Any:
    return cli("export", "-d", dsn, "-o", str(out), "--progress", "none", *extra)


def _manifest(out: Path) -> dict[str, Any]:
    return dict(json.loads((out / "_manifest.json").read_text()))


def _rows(dsn: str, query: str) -> list[dict[str, Any]]:
    with psycopg.connect(dsn) as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        cur.execute("SET TimeZone = 'UTC'")
        cur.execute(query)  # type: ignore[arg-type]
        return cur.fetchall()


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def _arrow_values(table: pa.Table) -> list[dict[str, Any]]:
    """The table's rows, time columns as integers, as EXPECTED writes them."""
    cols = {}
    for name in table.column_names:
        col = table.column(name)
        if pa.types.is_timestamp(col.type) or pa.types.is_time(col.type):
            col = col.cast(pa.int64())
        elif pa.types.is_date32(col.type):
            col = col.cast(pa.int32())
        elif isinstance(col.type, pa.BaseExtensionType) and col.type.extension_name == \
                "arrow.json":
            col = pa.chunked_array([c.storage for c in col.chunks], pa.string())
        elif pa.types.is_dictionary(col.type):
            col = col.cast(pa.string())
        cols[name] = col.to_pylist()
    return [dict(zip(cols, values, strict=True)) for values in zip(*cols.values(), strict=True)]


def _check_values(dsn: str, out: Path) -> int:
    """Every exported row, read back with pyarrow, equals the source's; returns the count."""
    files = sorted((out / TABLE_DIR).glob("*.parquet"))
    table = pa.concat_tables(pq.read_table(f) for f in files).sort_by("id")
    got = _arrow_values(table)
    expected = _rows(dsn, EXPECTED)
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        for key, want in e.items():
            have = g[key]
            if key == "iv" and want is not None:
                want = {k: int(v) for k, v in want.items()}
            assert _same(have, want), f"row {e['id']} column {key}: {have!r} != {want!r}"
    return len(got)


def _check_metadata(out: Path) -> None:
    manifest = _manifest(out)
    files = [f for f in manifest["files"] if f["schema"] == SCHEMA]
    assert files and all(f["path"].startswith(f"{TABLE_DIR}/") for f in files)
    for f in files:
        path = out / f["path"]
        assert path.stat().st_size == f["bytes"]
        meta = pq.read_schema(path)
        info = json.loads(meta.metadata[b"pystream_migrate"])
        assert info["source_table"] == {"schema": SCHEMA, "table": TABLE}
        assert info["time_range"] == f["time_range"]
        assert info["snapshot_time"] == f["snapshot_time"]
        assert info["columns"]["nbig"] == "numeric(50,2)"
        assert "text form" in info["notes"]["nbig"] and "text form" in info["notes"]["ip"]
        assert meta.field("ts").metadata[b"pg_type"] == b"timestamp with time zone"
        assert pq.read_metadata(path).num_rows == f["rows"]
        start, end = f["time_range"]["start"], f["time_range"]["end"]
        assert path.name.startswith(start[:10].replace("-", "")), (path.name, start, end)
    types = {c["name"]: c["arrow_type"] for c in manifest["tables"][TABLE_DIR]["columns"]}
    assert types["ts"] == "timestamp[us, tz=UTC]" and types["u"] == "extension<arrow.uuid>"
    assert types["n"] == "decimal128(12, 3)" and types["e"].startswith("dictionary")
    assert types["ai"] == "list<item: int32>" and types["nbig"] == "string"


def test_export_every_type_with_compressed_chunks(fleet: str, pg_server: Server,
                                                  tmp_path: Path) -> None:
    _compress_two_chunks(fleet, pg_server)
    out = tmp_path / "out"
    _export(fleet, out, "-j", "2")
    count = _check_values(fleet, out)
    assert count == _rows(fleet, f"SELECT count(*) AS n FROM {QUALIFIED}")[0]["n"] == 604
    files = [f for f in _manifest(out)["files"] if f["schema"] == SCHEMA]
    assert {f["compressed_chunk"] for f in files} == {True, False}
    # Each compressed chunk's file holds every row of the chunk exactly once.
    for f in files:
        n = _rows(fleet, 'SELECT count(*) AS n FROM "_timescaledb_internal".'
                  + psycopg.sql.Identifier(f["chunk"]).as_string(None))[0]["n"]
        assert f["rows"] == n, f
    _check_metadata(out)


def test_export_every_type_uncompressed(fleet: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    _export(fleet, out, "-j", "2", "--compression", "snappy", "--row-group-size", "100")
    assert _check_values(fleet, out) == 603
    _check_metadata(out)
    metas = [pq.read_metadata(out / f["path"]) for f in _manifest(out)["files"]]
    assert {m.row_group(0).column(0).compression for m in metas} == {"SNAPPY"}
    assert max(m.row_group(i).num_rows for m in metas for i in range(m.num_row_groups)) == 100


def test_duckdb_reads_the_directory(fleet: str, tmp_path: Path) -> None:
    duckdb = pytest.importorskip("duckdb", reason="duckdb is not installed (pip install duckdb)")
    out = tmp_path / "out"
    _export(fleet, out)
    count = duckdb.sql(f"SELECT count(*) FROM read_parquet('{out}/{TABLE_DIR}/*.parquet', "
                       "hive_partitioning=false)").fetchall()[0][0]
    assert count == 603
    total = duckdb.sql(f"SELECT count(*) FROM read_parquet('{out}/**/*.parquet', "
                       "hive_partitioning=false, union_by_name=true)").fetchall()[0][0]
    assert total == 603 + 300


def _fingerprint(dsn: str, table: str) -> tuple[int, int]:
    with psycopg.connect(dsn) as conn:
        conn.execute("SET TimeZone = 'UTC'")
        row = conn.execute(FINGERPRINT.format(table)).fetchone()  # type: ignore[arg-type]
        assert row is not None
        return int(row[0]), int(row[1])


@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "compressed"])
def test_export_then_import_gives_the_same_rows(fleet: str, make_db: Callable[..., str],
                                                pg_server: Server, tmp_path: Path,
                                                compressed: bool) -> None:
    if compressed:
        _compress_two_chunks(fleet, pg_server)
    out = tmp_path / "out"
    _export(fleet, out, "-j", "2")
    target = make_db("pqtgt", timescaledb=True)
    _run(target, DDL)
    res = cli("import", "-d", target, str(out), "-j", "2", "--progress", "none", "-v")
    assert "imported" in res.stderr
    for table in (QUALIFIED, "public.plain"):
        assert _fingerprint(target, table) == _fingerprint(fleet, table), table


def test_resume_skips_complete_files_and_redoes_the_rest(fleet: str, tmp_path: Path) -> None:
    # A NaN, which decimal128 cannot hold, stops the export at the smallest chunk: with
    # one worker, largest first, every other chunk is complete by then.
    _run(fleet, f"INSERT INTO {QUALIFIED} (ts, id, n) VALUES ('2024-03-01', 3000, 'NaN')")
    out = tmp_path / "out"
    res = cli("export", "-d", fleet, "-o", str(out), "-j", "1", "-t", QUALIFIED,
              "--progress", "none", check=False)
    assert res.returncode == 1 and "NaN" in res.stderr and "Traceback" not in res.stderr
    assert "_hyper_" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    first = _manifest(out)["files"]
    assert len(first) == 8 and not any("20240301" in f["path"] for f in first)
    assert not list(out.glob("*/.*.partial"))
    before = {f["path"]: (out / f["path"]).stat().st_mtime_ns for f in first}
    (out / TABLE_DIR / ".left-by-a-kill.parquet.partial").write_bytes(b"x")

    res = cli("export", "-d", fleet, "-o", str(out), "-t", QUALIFIED, "--compression",
              "snappy", "--progress", "none", check=False)
    assert res.returncode == 2 and "other options" in res.stderr

    _run(fleet, f"UPDATE {QUALIFIED} SET n = 1 WHERE id = 3000")
    res = _export(fleet, out, "-j", "1", "-t", QUALIFIED, "-v")
    assert "8 already complete" in res.stderr
    after = _manifest(out)["files"]
    assert len(after) == 9
    assert {p: (out / p).stat().st_mtime_ns for p in before} == before
    assert not list(out.glob("*/.*.partial"))
    assert sum(f["rows"] for f in after) == 604


def test_since_until_select_whole_chunks(fleet: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    _export(fleet, out, "--since", "2024-01-02", "--until", "2024-01-04 00:00:00+00",
            "-t", QUALIFIED)
    ranges = sorted((f["time_range"]["start"], f["time_range"]["end"])
                    for f in _manifest(out)["files"])
    assert ranges == [("2024-01-02T00:00:00+00:00", "2024-01-03T00:00:00+00:00"),
                      ("2024-01-03T00:00:00+00:00", "2024-01-04T00:00:00+00:00")]
    want = _rows(fleet, f"SELECT count(*) AS n FROM {QUALIFIED} "
                 "WHERE ts >= '2024-01-02' AND ts < '2024-01-04'")[0]["n"]
    assert sum(f["rows"] for f in _manifest(out)["files"]) == want
    assert not (out / "public.plain").exists()


def test_large_plain_table_streams_in_blocks_row_groups_and_bounded_files(
        source_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows with quoted newlines cut across CSV blocks, several row groups and files."""
    _run(source_db, """
        CREATE TABLE public.big (id int, body text);
        INSERT INTO big SELECT g, repeat(E'line "q"\\n', g % 40) || md5(g::text)
        FROM generate_series(1, 20000) g;
    """)
    monkeypatch.setattr(_filewriter, "BLOCK_BYTES", 4096)
    out = tmp_path / "out"
    opts = ExportOptions(dsn=source_db, directory=str(out), jobs=1,
                         selection=Selection(tables=["big"]),
                         write=WriteOptions(row_group_size=1000, max_file_bytes=200_000))
    result = export_database(opts)
    files = sorted((out / "public.big").glob("part-*.parquet"))
    assert result.rows == 20000 and len(files) == result.files > 2
    table = pa.concat_tables(pq.read_table(f) for f in files).sort_by("id")
    assert table.column("id").to_pylist() == list(range(1, 20001))
    want = [r["body"] for r in _rows(source_db, "SELECT body FROM big ORDER BY id")]
    assert table.column("body").to_pylist() == want
    groups = [pq.ParquetFile(f).metadata.row_group(i).num_rows
              for f in files for i in range(pq.ParquetFile(f).num_row_groups)]
    assert set(groups[:-1]) == {1000}


def _main(*args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    from pystream_migrate.cli import main

    code = main(list(args))
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


def test_import_into_missing_table_is_refused(fleet: str, make_db: Callable[..., str],
                                              tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    _export(fleet, out, "-t", "plain")
    target = make_db("pqempty")
    code, err = _main("import", "-d", target, str(out), "--progress", "none", capsys=capsys)
    assert code == 5 and 'has no table "public"."plain"' in err, err
    assert err.count("\n") == 1


def test_import_refuses_a_damaged_file(fleet: str, make_db: Callable[..., str],
                                       tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    _export(fleet, out, "-t", "plain")
    target = make_db("pqdmg")
    _run(target, "CREATE TABLE public.plain (id int PRIMARY KEY, note text, note_len int)")
    path = next((out / "public.plain").glob("*.parquet"))
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    code, err = _main("import", "-d", target, str(out), "--progress", "none", capsys=capsys)
    assert code == 4 and "damaged" in err, err
    assert _rows(target, "SELECT count(*) AS n FROM plain")[0]["n"] == 0


def test_bad_since_and_not_an_export_are_one_line_errors(
        fleet: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _main("export", "-d", fleet, "-o", str(tmp_path / "o"), "--since", "yesterday-ish",
                      "--progress", "none", capsys=capsys)
    assert code == 2 and "--since 'yesterday-ish'" in err, err
    code, err = _main("import", "-d", fleet, str(tmp_path), "--progress", "none", capsys=capsys)
    assert code == 4 and "_manifest.json" in err, err
    code, err = _main("export", "-d", fleet, "-o", str(tmp_path / "o"), "-t", "nothing_here",
                      "--progress", "none", capsys=capsys)
    assert code == 2 and "no table matches" in err, err
