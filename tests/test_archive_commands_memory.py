"""``verify FILE`` and ``list`` keep what they show of each TOC entry, not its document.

Both kept every document (its SQL included): 1.8 GB of peak RSS each for an archive of
171 000 chunks, where restore reads the same TOC into compact entries (no server).
"""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import pytest

from pystream_migrate.archive import ArchiveWriter
from pystream_migrate.cli import main

ENTRIES = 64


def _archive(path: Path) -> Path:
    """64 MiB of SQL in the TOC (1 MiB an entry), no data."""
    big = "x" * (1 << 20)
    with open(path, "wb") as out:
        ArchiveWriter(out, {}, ({"id": i, "kind": "TABLE", "name": f"t{i}",
                                 "section": "pre-data", "create_sql": big}
                                for i in range(1, ENTRIES + 1))).finish()
    return path


@pytest.mark.parametrize("command", [["verify"], ["list"], ["list", "--json"]])
def test_peak_is_a_piece_of_the_toc_not_all_of_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]) -> None:
    path = _archive(tmp_path / "docs.psm")
    tracemalloc.start()
    try:
        assert main([*command, str(path)]) == 0
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    out = capsys.readouterr().out
    assert (f"OK, {ENTRIES} entries" if command == ["verify"] else f'"t{ENTRIES}"'
            if "--json" in command else f"{ENTRIES}; TABLE; -; t{ENTRIES}; pre-data") in out
    assert peak < 16 << 20, peak  # the header decoded a piece at a time, nothing kept


@pytest.mark.parametrize("entries", [0, 3])
def test_list_json_is_written_an_entry_at_a_time_as_json_dump_writes_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], entries: int) -> None:
    """The same text as ``json.dump({...}, indent=2)``: strings with newlines and quotes,
    nested and empty members, no entries at all."""
    header = {"options": {"a": [1, {"b": []}], "c": {}},
              "unsupported": [{"kind": "K", "name": "n\nx", "reason": 'r"q'}]}
    path = tmp_path / "a.psm"
    with open(path, "wb") as out:
        ArchiveWriter(out, header, ({"id": i, "kind": "TABLE", "schema": "s\t", "name": f"t{i}",
                                     "section": "pre-data", "owner": None}
                                    for i in range(1, entries + 1))).finish()
    assert main(["list", "--json", str(path)]) == 0
    text = capsys.readouterr().out
    doc = json.loads(text)
    assert len(doc["entries"]) == entries
    assert text == json.dumps(doc, indent=2) + "\n"
