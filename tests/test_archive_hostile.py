"""Archives built to hurt: valid checksums around hostile contents (issue 17, item 3).

Restoring untrusted archives is out of scope, but list, verify and restore must still
fail cleanly: exit 4, one line, no traceback, bounded memory, no hang.
"""

from __future__ import annotations

import resource
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pystream_migrate.archive.format import RecordType
from pystream_migrate.cli import main
from pystream_migrate.errors import EXIT_ARCHIVE
from tests.archive_forge import Record, decode, dump_of, forge, rle_bomb, sample_archive

MEMORY_LIMIT = 1 << 30  # address space for a CLI run on a hostile archive


def cli_in_process(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """Run the CLI in this process; return its exit code and stderr."""
    code = main(list(args))
    return code, capsys.readouterr().err


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def cli_bounded(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    """Run the CLI in a child limited to MEMORY_LIMIT of address space and a minute."""
    return subprocess.run(
        [sys.executable, "-m", "pystream_migrate", *args],
        input=stdin.decode("latin-1") if stdin is not None else None, encoding="latin-1",
        capture_output=True, timeout=60, check=False, preexec_fn=_limit_memory,
    )


def assert_archive_error(code: int, stderr: str, *words: str) -> None:
    assert "Traceback" not in stderr, stderr
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, stderr
    assert code == EXIT_ARCHIVE, stderr
    assert lines[0].startswith("pystream-migrate: error: archive"), lines[0]
    for word in words:
        assert word in lines[0], lines[0]


def rewrite(edit: Callable[[list[Record]], None], *, fix_footer: bool = True) -> bytes:
    records = decode(sample_archive())
    edit(records)
    return forge(records, fix_footer=fix_footer)


def edit_toc(change: Callable[[list[dict[str, Any]]], None]) -> Callable[[list[Record]], None]:
    def edit(records: list[Record]) -> None:
        document = records[0].json()
        change(document["toc"])
        records[0] = records[0].with_json(document)
    return edit


def test_forged_sample_is_valid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The forge changes nothing by itself: a test that fails only fails on its edit."""
    path = tmp_path / "a.psm"
    path.write_bytes(rewrite(lambda records: None))
    assert cli_in_process(capsys, "verify", str(path))[0] == 0
    assert cli_in_process(capsys, "list", str(path))[0] == 0


# --- lengths ----------------------------------------------------------------------------


def test_block_announcing_4_gib_is_refused_without_allocating(tmp_path: Path) -> None:
    def bomb(records: list[Record]) -> None:
        i = next(i for i, r in enumerate(records) if r.type == RecordType.BLOCK)
        records[i] = Record(RecordType.BLOCK, 2, 0, b"", raw_length=0xFFFFFFFF,
                            payload=rle_bomb(0xFFFFFFFF))
    path = tmp_path / "bomb.psm"
    path.write_bytes(rewrite(bomb))
    res = cli_bounded("verify", str(path))
    assert_archive_error(res.returncode, res.stderr, "maximum")


@pytest.mark.parametrize("as_pipe", [False, True])
def test_payload_length_beyond_the_file(tmp_path: Path, as_pipe: bool) -> None:
    def lie(records: list[Record]) -> None:
        records[0] = Record(RecordType.HEADER, 0, 0, records[0].raw, payload_length=0x7FFFFFFF)
    data = rewrite(lie)
    path = tmp_path / "long.psm"
    path.write_bytes(data)
    for command in ("verify", "list"):
        res = cli_bounded(command, *(["-"] if as_pipe else [str(path)]),
                          stdin=data if as_pipe else None)
        assert_archive_error(res.returncode, res.stderr, "header record")


def test_block_payload_longer_than_what_is_left(tmp_path: Path) -> None:
    """The largest block the format allows, announced at the end of a small file."""
    def lie(records: list[Record]) -> None:
        i = next(i for i, r in enumerate(records) if r.type == RecordType.BLOCK)
        records[i] = Record(RecordType.BLOCK, 2, 0, records[i].raw, raw_length=1 << 26,
                            payload_length=(1 << 26) + (1 << 18))
        del records[i + 1:]
    path = tmp_path / "cut.psm"
    path.write_bytes(rewrite(lie))
    res = cli_bounded("verify", str(path))
    assert_archive_error(res.returncode, res.stderr, "truncated")


# --- JSON -------------------------------------------------------------------------------


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("record", ["header", "footer"])
@pytest.mark.parametrize("value", [_nested(200_000), _nested(40), "9" * 5000, "1e999",
                                   '"\\ud800"'])
def test_json_beyond_limits(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                            record: str, value: str) -> None:
    def inject(records: list[Record]) -> None:
        i = 0 if record == "header" else len(records) - 1
        text = records[i].raw.decode()
        records[i] = Record(records[i].type, 0, 0, ('{"hostile":' + value + "," + text[1:])
                            .encode())
    path = tmp_path / "json.psm"
    path.write_bytes(rewrite(inject, fix_footer=False))
    for command in ("verify", "list"):
        code, err = cli_in_process(capsys, command, str(path))
        assert_archive_error(code, err, record)


# --- schema -----------------------------------------------------------------------------


def _set(entry_id: int, key: str, value: Any) -> Callable[[list[dict[str, Any]]], None]:
    def change(toc: list[dict[str, Any]]) -> None:
        toc[entry_id - 1][key] = value
    return change


def _drop(entry_id: int, key: str) -> Callable[[list[dict[str, Any]]], None]:
    def change(toc: list[dict[str, Any]]) -> None:
        del toc[entry_id - 1][key]
    return change


TOC_DAMAGE = {
    "missing kind": _drop(2, "kind"),
    "missing name": _drop(1, "name"),
    "bogus section": _set(3, "section", "bogus"),
    "copy null on TABLE DATA": _set(2, "copy", None),
    "copy is a string": _set(2, "copy", "public.t"),
    "copy without columns": _set(2, "copy", {"schema": "public", "table": "t"}),
    "copy columns not strings": _set(2, "copy", {"schema": "public", "table": "t",
                                                 "columns": [1, 2]}),
    "copy on a definition": _set(1, "copy", {"schema": "public", "table": "t",
                                             "columns": ["a"]}),
    "info is a string": _set(1, "info", "oid=100"),
    "info oid is a string": _set(1, "info", {"oid": "100"}),
    "ref_table_oids not a list": _set(3, "info", {"ref_table_oids": 7}),
    "est_bytes negative": _set(2, "info", {"est_bytes": -1}),
    "copy_format bogus": _set(2, "info", {"copy_format": "csv"}),
    "create_sql not a string": _set(1, "create_sql", ["CREATE TABLE t ()"]),
    "deps not integers": _set(3, "deps", ["1"]),
    "deps in a cycle": _set(1, "deps", [3]),
    "entry is a string": lambda toc: toc.append("TABLE x"),  # type: ignore[arg-type]
    # Ids are positive: 0 is the header's and footer's, and restore numbers its ANALYZE
    # items with the negatives of its data entries' ids.
    "id zero": _set(3, "id", 0),
    "id negative": _set(3, "id", -2),
}


@pytest.mark.parametrize("damage", sorted(TOC_DAMAGE))
def test_toc_entry_against_the_schema(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                      damage: str) -> None:
    path = tmp_path / "toc.psm"
    path.write_bytes(rewrite(edit_toc(TOC_DAMAGE[damage])))
    for command in ("verify", "list"):
        code, err = cli_in_process(capsys, command, str(path))
        assert_archive_error(code, err, "header record")


HEADER_DAMAGE: dict[str, Callable[[dict[str, Any]], None]] = {
    "source is a string": lambda h: h.update(source="pg 15"),
    "unsupported item without kind": lambda h: h.update(unsupported=[{"name": "x",
                                                                       "reason": "y"}]),
    "server_version_num is text": lambda h: h["source"].update(server_version_num="15"),
    "warnings not strings": lambda h: h.update(warnings=[1]),
}


@pytest.mark.parametrize("damage", sorted(HEADER_DAMAGE))
def test_header_against_the_schema(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                   damage: str) -> None:
    def edit(records: list[Record]) -> None:
        document = records[0].json()
        HEADER_DAMAGE[damage](document)
        records[0] = records[0].with_json(document)
    path = tmp_path / "header.psm"
    path.write_bytes(rewrite(edit))
    for command in ("verify", "list"):
        code, err = cli_in_process(capsys, command, str(path))
        assert_archive_error(code, err, "header record")


FOOTER_DAMAGE: dict[str, Callable[[dict[str, Any]], None]] = {
    "dropped chunk without entry": lambda f: f["extra"].update(dropped_chunks=[{"x": 1}]),
    "extra warnings not a list": lambda f: f["extra"].update(warnings="none"),
    "data entry missing": lambda f: f.update(entries=[]),
    # The restore keeps the index in 64-bit arrays: a larger number is damage, no crash.
    "a row count beyond 64 bits": lambda f: f["entries"][0].update(rows=1 << 70),
}


@pytest.mark.parametrize("damage", sorted(FOOTER_DAMAGE))
def test_footer_against_the_schema(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                   damage: str) -> None:
    def edit(records: list[Record]) -> None:
        if damage == "data entry missing":  # and its records: a consistent archive
            records[:] = [r for r in records if r.entry_id != 2]
        document = records[-1].json()
        FOOTER_DAMAGE[damage](document)
        records[-1] = records[-1].with_json(document)
    path = tmp_path / "footer.psm"
    path.write_bytes(rewrite(edit))
    code, err = cli_in_process(capsys, "verify", str(path))
    assert_archive_error(code, err, "footer")


@pytest.mark.parametrize("which", ["header", "footer"])
@pytest.mark.parametrize("field", ["entry_id", "seq"])
def test_header_and_footer_records_carry_zero_ids(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], which: str, field: str
) -> None:
    def edit(records: list[Record]) -> None:
        i = 0 if which == "header" else len(records) - 1
        r = records[i]
        records[i] = Record(r.type, 7 if field == "entry_id" else 0,
                            3 if field == "seq" else 0, r.raw)
    path = tmp_path / "ids.psm"
    path.write_bytes(rewrite(edit))
    code, err = cli_in_process(capsys, "verify", str(path))
    assert_archive_error(code, err, which, "must be 0")


def test_block_of_an_entry_without_copy(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                        ) -> None:
    """Data records of a definition (the TABLE entry, id 1) are refused as they come."""
    def edit(records: list[Record]) -> None:
        for i, r in enumerate(records):
            if r.type in (RecordType.BLOCK, RecordType.ENTRY_END):
                records[i] = Record(r.type, 1, r.seq, r.raw)
        footer = records[-1].json()
        footer["entries"][0]["id"] = 1
        footer["extra"]["dropped_chunks"] = [{"entry": 2, "schema": "public", "table": "t"}]
        records[-1] = records[-1].with_json(footer)
    path = tmp_path / "nocopy.psm"
    data = rewrite(edit)
    path.write_bytes(data)
    code, err = cli_in_process(capsys, "verify", str(path))
    assert_archive_error(code, err, "no data")
    res = cli_bounded("verify", "-", stdin=data)
    assert_archive_error(res.returncode, res.stderr, "no data")


# --- restore ----------------------------------------------------------------------------


@pytest.fixture
def real_archive(make_db, tmp_path: Path) -> bytes:  # type: ignore[no-untyped-def]
    return dump_of(make_db, tmp_path / "real.psm",
                   "CREATE TABLE t (id int PRIMARY KEY, v text)",
                   "INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, 100) g")


def _tables(dsn: str) -> int:
    from tests.migrate_support import scalar

    return int(scalar(dsn, "SELECT count(*) FROM pg_catalog.pg_tables "  # type: ignore[arg-type]
                           "WHERE schemaname = 'public'"))


@pytest.mark.parametrize("as_pipe", [False, True])
def test_restore_of_table_data_without_copy(real_archive: bytes, target_db: str,
                                            tmp_path: Path, as_pipe: bool) -> None:
    """It used to restore an empty table with exit 0 from a file, and hang from a pipe."""
    def no_copy(toc: list[dict[str, Any]]) -> None:
        for entry in toc:
            if entry["kind"] == "TABLE DATA" and entry["name"] == "t":
                entry["copy"] = None
    records = decode(real_archive)
    edit_toc(no_copy)(records)
    data = forge(records)
    path = tmp_path / "nocopy.psm"
    path.write_bytes(data)
    args = ["restore", "-d", target_db, "-f", "-" if as_pipe else str(path)]
    res = cli_bounded(*args, stdin=data if as_pipe else None)
    assert_archive_error(res.returncode, res.stderr, "copy")
    assert _tables(target_db) == 0
