"""The header record's encoder holds its compressed pieces at their own size (no server).

python-zstandard's one-shot compress() returns output in a buffer as large as zstd's
bound for the input; the encoder held one such piece per 256 TOC documents, so a
100 000-chunk TOC kept ~210 MB of empty buffer space while it was encoded.
"""

from __future__ import annotations

import tracemalloc
from typing import Any

from pystream_migrate.archive.format import make_compressor
from pystream_migrate.archive.header import encode_header


def _docs(count: int) -> Any:
    for i in range(1, count + 1):
        table = f'"_timescaledb_internal"."_hyper_1_{i}_chunk"'
        yield {"id": i, "kind": "TABLE", "schema": "_timescaledb_internal",
               "name": f"_hyper_1_{i}_chunk", "section": "pre-data",
               "create_sql": f"CREATE TABLE {table} (t bigint NOT NULL, v integer)"
                             f" INHERITS (public.many);\nALTER TABLE {table} OWNER TO x;",
               "deps": [1], "info": {"relkind": "r", "oid": 100000 + i}}


def test_the_pieces_held_while_encoding_are_a_fraction_of_the_text() -> None:
    count = 256 * 40  # 40 pieces, 3.7 MB of JSON in all
    tracemalloc.start()
    try:
        record = encode_header(make_compressor(3), {"format": 1}, _docs(count),
                               lambda _doc: None)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    payload = sum(len(p) for p in record[1:])
    # Pieces at zstd's bound hold about the whole JSON text at once (a 4.3 MB peak
    # here); at their own size, the compressed text and one batch's documents and JSON
    # (0.7 MB).
    assert payload < 200_000
    assert peak < 1_500_000, peak
