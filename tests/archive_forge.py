"""Forging archives for tests: any content, with every checksum valid.

A damaged archive is caught by its checksums; an archive built to hurt has valid
checksums around hostile contents. :func:`decode` takes an archive apart into records
with their uncompressed payloads, :func:`forge` puts records back together, recomputing
every CRC and, unless told otherwise, the footer's offsets, so that only the change a
test makes is wrong.
"""

from __future__ import annotations

import io
import json
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import psycopg
import zstandard

from pystream_migrate.archive import ArchiveWriter
from pystream_migrate.archive.format import (
    PREAMBLE,
    RECORD_HEADER,
    TRAILER,
    RecordType,
    pack_preamble,
    pack_trailer,
)
from tests.migrate_support import dump


@dataclass(frozen=True)
class Record:
    type: int
    entry_id: int
    seq: int
    raw: bytes
    # Overrides of the record header's fields, to lie about lengths.
    raw_length: int | None = None
    payload_length: int | None = None
    payload: bytes | None = None  # a stored payload instead of compressing ``raw``

    def json(self) -> Any:
        return json.loads(self.raw)

    def with_json(self, document: Any) -> Record:
        return replace(self, raw=json.dumps(document).encode())


def _unpack_header(raw: bytes) -> tuple[int, int, int, int, int]:
    rtype, _flags, _reserved, entry_id, seq, raw_length, payload_length, _crc, _hcrc = (
        RECORD_HEADER.unpack(raw)
    )
    return rtype, entry_id, seq, raw_length, payload_length


def decode(archive: bytes) -> list[Record]:
    """Every record of an intact archive, header record first and footer last."""
    records = []
    offset = PREAMBLE.size
    end = len(archive) - TRAILER.size
    dctx = zstandard.ZstdDecompressor()
    while offset < end:
        rtype, entry_id, seq, _raw_length, payload_length = _unpack_header(
            archive[offset : offset + RECORD_HEADER.size]
        )
        start = offset + RECORD_HEADER.size
        payload = archive[start : start + payload_length]
        records.append(Record(rtype, entry_id, seq, dctx.decompress(payload)))
        offset = start + payload_length
    return records


def pack_record(record: Record) -> bytes:
    payload = record.payload
    if payload is None:
        payload = zstandard.ZstdCompressor(level=1, write_checksum=True).compress(record.raw)
    raw_length = len(record.raw) if record.raw_length is None else record.raw_length
    payload_length = len(payload) if record.payload_length is None else record.payload_length
    body = RECORD_HEADER.pack(record.type, 0, 0, record.entry_id, record.seq, raw_length,
                              payload_length, zlib.crc32(payload), 0)[:-4]
    return body + struct.pack("<I", zlib.crc32(body)) + payload


def forge(records: list[Record], *, fix_footer: bool = True) -> bytes:
    """An archive of these records, with valid checksums and (by default) footer offsets."""
    out = bytearray(pack_preamble())
    blocks: dict[int, list[tuple[int, int]]] = {}
    ends: dict[int, tuple[int, int]] = {}
    for record in records:
        if record.type == RecordType.FOOTER:
            if fix_footer:
                record = _fixed_footer(record, blocks, ends)
            footer_offset = len(out)
            packed = pack_record(record)
            out += packed
            out += pack_trailer(footer_offset, len(packed))
            return bytes(out)
        packed = pack_record(record)
        if record.type == RecordType.BLOCK:
            blocks.setdefault(record.entry_id, []).append((len(out), len(packed)))
        elif record.type == RecordType.ENTRY_END:
            ends[record.entry_id] = (len(out), len(packed))
        out += packed
    return bytes(out)


def _fixed_footer(record: Record, blocks: dict[int, list[tuple[int, int]]],
                  ends: dict[int, tuple[int, int]]) -> Record:
    """The footer with the offsets at which the records were written (if it parses)."""
    try:
        document = record.json()
        for item in document["entries"]:
            spans = blocks.get(item["id"], [])
            item["block_offsets"] = [offset for offset, _ in spans]
            item["block_lengths"] = [length for _, length in spans]
            item["end"] = list(ends.get(item["id"], (0, 0)))
    except (ValueError, KeyError, TypeError, AttributeError):
        return record  # a footer a test broke on purpose stays as it is
    return record.with_json(document)


def sample_toc() -> list[dict[str, Any]]:
    """A table, its data and an index, as a dump writes them."""
    copy = {"schema": "public", "table": "t", "columns": ["a", "b"], "where": None}
    return [
        {"id": 1, "kind": "TABLE", "schema": "public", "name": "t", "section": "pre-data",
         "create_sql": "CREATE TABLE public.t (a int, b text);", "drop_sql": "",
         "owner": "me", "owner_sql": "", "acl_sql": "", "comment_sql": "",
         "tablespace": None, "deps": [], "copy": None, "info": {"oid": 100, "relid": 100}},
        {"id": 2, "kind": "TABLE DATA", "schema": "public", "name": "t", "section": "data",
         "create_sql": "", "drop_sql": "", "owner": None, "owner_sql": "", "acl_sql": "",
         "comment_sql": "", "tablespace": None, "deps": [1], "copy": copy,
         "info": {"relid": 100, "est_bytes": 80, "est_rows": 10}},
        {"id": 3, "kind": "INDEX", "schema": "public", "name": "t_a", "section": "post-data",
         "create_sql": "CREATE INDEX t_a ON public.t (a);", "drop_sql": "", "owner": None,
         "owner_sql": "", "acl_sql": "", "comment_sql": "", "tablespace": None,
         "deps": [1, 2], "copy": None, "info": {"table_oid": 100}},
    ]


def sample_archive() -> bytes:
    out = io.BytesIO()
    header = {"tool": "pystream-migrate", "source": {"database": "d", "timescaledb": None,
                                                      "server_version_num": 150000},
              "options": {"schema_only": False}, "unsupported": [], "warnings": []}
    writer = ArchiveWriter(out, header, sample_toc(), block_size=64)
    with writer.open_entry(2) as entry:
        for i in range(10):
            entry.write(b"%d\trow %d\n" % (i, i))
        entry.close(rows=10)
    writer.finish({"entries": 3, "dropped_chunks": [], "warnings": []})
    return out.getvalue()


def dump_of(make_db: Callable[..., str], path: Path, *statements: str) -> bytes:
    """The archive of a fresh database made by ``statements``, dumped by the CLI to ``path``."""
    source = make_db("forge")
    with psycopg.connect(source, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement.encode())
    dump(source, path)
    return path.read_bytes()


def rle_bomb(content_size: int) -> bytes:
    """A zstd frame that announces ``content_size`` bytes of zeros in a few bytes per
    128 KiB (RLE blocks); its content checksum is bogus, which only shows at the end."""
    frame = bytearray(struct.pack("<I", 0xFD2FB528))
    frame.append(0b1110_0100)  # 8-byte content size, single segment, content checksum
    frame += struct.pack("<Q", content_size)
    block = 128 * 1024
    left = content_size
    while left:
        size = min(left, block)
        left -= size
        header = (1 if not left else 0) | (1 << 1) | (size << 3)  # RLE block
        frame += struct.pack("<I", header)[:3] + b"\x00"
    frame += b"\x00\x00\x00\x00"
    return bytes(frame)
