"""On-disk layout of a pystream-migrate archive.

This module owns the byte-level definitions shared by the writer and the reader: magic
numbers, the fixed binary structures (preamble, record header, trailer), the payload
codec (one zstd frame per record) and the JSON documents stored in record payloads.
It knows nothing about files or threads. ``docs/archive-format.md`` is the normative
description; keep the two in step.

Problems found while decoding raise :class:`FormatViolation`, a short reason without
context; the reader wraps it into an :class:`~pystream_migrate.errors.ArchiveError` that
names the archive and the affected entry.
"""

from __future__ import annotations

import json
import math
import re
import struct
import zlib
from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Literal, NamedTuple

import orjson
import zstandard

FORMAT_VERSION = 1
DEFAULT_BLOCK_SIZE = 1 << 20  # uncompressed bytes per data block
# The format's maximum raw length of each record type: a reader refuses a record header
# that announces more, before it reads or allocates anything.
MAX_BLOCK_SIZE = 1 << 26  # 64 MiB
MAX_ENTRY_END_SIZE = 1 << 16  # its JSON holds four integers
# 1 GiB of header (with the TOC) or footer JSON: the header takes ~1.7 kB a chunk, so
# some 600 000 chunks (at 256 MiB, dumps of more than ~160 000 stopped). Readers parse
# it as a stream, keeping only what they make of each entry.
MAX_DOCUMENT_SIZE = 1 << 30
# JSON documents: how deep a member the schema does not type (contents.py) may nest.
MAX_JSON_DEPTH = 16

MAGIC = b"\x89PSMA\r\n\x1a"  # first 8 bytes of every archive
TRAILER_MAGIC = b"PSMA-END"  # last 8 bytes of a complete archive

# magic, format version, flags (0), CRC32 of the preceding 12 bytes
PREAMBLE = struct.Struct("<8sHHI")
# type, flags (0), reserved (0), entry id, sequence, raw length, payload length,
# CRC32 of the payload, CRC32 of the preceding 28 bytes
RECORD_HEADER = struct.Struct("<BBHqIIIII")
# footer offset, footer length, format version, reserved (0),
# CRC32 of the preceding 20 bytes, trailer magic
TRAILER = struct.Struct("<QQHHI8s")

_U32_MAX = 0xFFFFFFFF
_I64_MIN = -(1 << 63)
_I64_MAX = (1 << 63) - 1


class FormatViolation(ValueError):
    """Bytes that do not follow the archive format; the message is a short reason."""


class RecordTooLarge(ValueError):
    """A header or footer whose JSON is more than the format allows (MAX_DOCUMENT_SIZE):
    not a bug of the caller's but a database too large for one archive."""


class RecordType(IntEnum):
    HEADER = 1
    BLOCK = 2
    ENTRY_END = 3
    FOOTER = 4


@dataclass(frozen=True, slots=True)
class EntryStats:
    """What an entry holds: as counted by the writer and checked by the reader."""

    entry_id: int
    rows: int
    raw_bytes: int
    blocks: int
    checksum: int  # CRC32 of the entry's whole uncompressed byte stream


class StreamEvent(NamedTuple):
    """One step of a sequential read: a chunk of an entry's data, or the entry's end."""

    kind: Literal["data", "end"]
    entry_id: int
    payload: bytes | None  # set for "data"
    stats: EntryStats | None  # set for "end"


@dataclass(frozen=True, slots=True)
class FooterEntry:
    """Where an entry's records are, according to the footer."""

    stats: EntryStats
    block_offsets: Sequence[int]
    block_lengths: Sequence[int]  # whole record: header + payload
    end_offset: int
    end_length: int


@dataclass(frozen=True, slots=True)
class Footer:
    entries: Mapping[int, FooterEntry]
    extra: dict[str, Any]


@dataclass(frozen=True, slots=True)
class RecordHeader:
    type: RecordType
    entry_id: int
    seq: int
    raw_length: int
    payload_length: int
    payload_crc: int

    @property
    def record_length(self) -> int:
        return RECORD_HEADER.size + self.payload_length

    def pack(self) -> bytes:
        return pack_record_header(self.type, self.entry_id, self.seq, self.raw_length,
                                  self.payload_length, self.payload_crc)

    @classmethod
    def unpack(cls, raw: bytes) -> RecordHeader:
        (
            rtype,
            flags,
            reserved,
            entry_id,
            seq,
            raw_length,
            payload_length,
            payload_crc,
            header_crc,
        ) = RECORD_HEADER.unpack(raw)
        if zlib.crc32(raw[:-4]) != header_crc:
            raise FormatViolation("record header checksum mismatch")
        if flags or reserved:
            raise FormatViolation("record header has unknown flags set")
        try:
            record_type = RecordType(rtype)
        except ValueError:
            raise FormatViolation(f"unknown record type {rtype}") from None
        header = cls(record_type, entry_id, seq, raw_length, payload_length, payload_crc)
        header.check_bounds()
        return header

    def check_bounds(self) -> None:
        """Fields within the format's limits, so that the payload can be read safely."""
        if self.type in (RecordType.HEADER, RecordType.FOOTER) and (self.entry_id or self.seq):
            raise FormatViolation(
                f"{self.type.name.lower()} record has entry id {self.entry_id} and sequence "
                f"{self.seq}, both must be 0"
            )
        if self.type is RecordType.BLOCK and self.raw_length == 0:
            raise FormatViolation("empty block")
        limit = _MAX_RAW[self.type]
        if self.raw_length > limit:
            raise FormatViolation(
                f"{self.type.name.lower()} record announces {self.raw_length} bytes, "
                f"more than the format's maximum of {limit}"
            )
        if self.payload_length > compress_bound(self.raw_length):
            raise FormatViolation(
                f"payload of {self.payload_length} bytes is larger than any zstd frame of "
                f"{self.raw_length} bytes"
            )


def compress_bound(size: int) -> int:
    """The most bytes zstd's one-shot compression of ``size`` bytes takes (ZSTD_COMPRESSBOUND)."""
    small = ((128 << 10) - size) >> 11 if size < (128 << 10) else 0
    return size + (size >> 8) + small + 64  # + 64: frame header and checksum, generously


_MAX_RAW = {
    RecordType.HEADER: MAX_DOCUMENT_SIZE,
    RecordType.BLOCK: MAX_BLOCK_SIZE,
    RecordType.ENTRY_END: MAX_ENTRY_END_SIZE,
    RecordType.FOOTER: MAX_DOCUMENT_SIZE,
}


# --- preamble and trailer ---------------------------------------------------------------


def pack_preamble(version: int = FORMAT_VERSION) -> bytes:
    body = PREAMBLE.pack(MAGIC, version, 0, 0)[:-4]
    return body + struct.pack("<I", zlib.crc32(body))


def unpack_preamble(raw: bytes) -> int:
    """Return the format version; the caller has already checked the magic."""
    _magic, version, flags, crc = PREAMBLE.unpack(raw)
    if zlib.crc32(raw[:-4]) != crc:
        raise FormatViolation("preamble checksum mismatch")
    if flags:
        raise FormatViolation("preamble has unknown flags set")
    return int(version)


def pack_trailer(footer_offset: int, footer_length: int) -> bytes:
    body = TRAILER.pack(footer_offset, footer_length, FORMAT_VERSION, 0, 0, TRAILER_MAGIC)[:20]
    return body + struct.pack("<I", zlib.crc32(body)) + TRAILER_MAGIC


def unpack_trailer(raw: bytes) -> tuple[int, int]:
    """Return (footer offset, footer length); raise if the trailer is not intact."""
    footer_offset, footer_length, version, reserved, crc, magic = TRAILER.unpack(raw)
    if magic != TRAILER_MAGIC:
        raise FormatViolation("trailer magic is missing")
    if zlib.crc32(raw[:20]) != crc:
        raise FormatViolation("trailer checksum mismatch")
    if version != FORMAT_VERSION or reserved:
        raise FormatViolation(f"trailer has unexpected version {version}")
    return int(footer_offset), int(footer_length)


# --- payload codec ----------------------------------------------------------------------


# zstd level 1: on COPY text it compresses about as well as level 3 (measured on the
# benchmark dataset: 3 % smaller) in two thirds of the CPU time, and a dump's CPU is
# shared with the server it reads from.
DEFAULT_LEVEL = 1


def make_compressor(level: int) -> zstandard.ZstdCompressor:
    """A compressor for record payloads; not thread-safe, use one per thread."""
    return zstandard.ZstdCompressor(level=level, write_checksum=True, write_content_size=True)


def make_decompressor() -> zstandard.ZstdDecompressor:
    """A decompressor for record payloads; not thread-safe, use one per thread."""
    return zstandard.ZstdDecompressor()


_HEADER_BODY = struct.Struct("<BBHqIIII")  # RECORD_HEADER without its CRC
_CRC = struct.Struct("<I")


def pack_record_header(record_type: RecordType, entry_id: int, seq: int, raw_length: int,
                       payload_length: int, payload_crc: int) -> bytes:
    """A record header's bytes (:class:`RecordHeader` without making one: the writer
    packs two for each small table)."""
    body = _HEADER_BODY.pack(record_type, 0, 0, entry_id, seq, raw_length, payload_length,
                             payload_crc)
    return body + _CRC.pack(zlib.crc32(body))


_ONE_SHOT_MAX = 4 * 1024 * 1024


def compress_exact(cctx: zstandard.ZstdCompressor,
                   data: bytes | bytearray | memoryview) -> bytes:
    """``cctx.compress(data)``, in memory of its own length.

    python-zstandard (0.25) returns one-shot output in a buffer as large as zstd's bound
    for the input, only marked shorter: a 178 kB piece of TOC JSON compressed to 6 kB
    keeps 179 kB allocated. Held by the thousand (the header's pieces at 100 000 chunks)
    that was 210 MB; a copy costs the compressed size.
    """
    out = cctx.compress(data)
    return bytes(memoryview(out)) if len(out) < len(data) // 2 else out


def encode_record(
    cctx: zstandard.ZstdCompressor,
    record_type: RecordType,
    entry_id: int,
    seq: int,
    data: bytes | bytearray | memoryview,
) -> tuple[bytes, bytes]:
    """Compress ``data`` and return (record header, payload) ready to append."""
    raw_length = len(data)
    if raw_length > _MAX_RAW[record_type]:
        raise ValueError(
            f"{record_type.name.lower()} record of {raw_length} bytes is larger than the "
            f"archive format allows ({_MAX_RAW[record_type]})"
        )
    if raw_length <= _ONE_SHOT_MAX:
        payload = compress_exact(cctx, data)
    else:
        # A large record (the header of a TOC with many chunks): one-shot compression
        # would first allocate an output buffer as large as the input.
        cobj = cctx.compressobj(size=raw_length)
        view = memoryview(data)
        parts = [cobj.compress(view[i:i + _ONE_SHOT_MAX])
                 for i in range(0, raw_length, _ONE_SHOT_MAX)]
        parts.append(cobj.flush())
        payload = b"".join(parts)
    return pack_record_header(record_type, entry_id, seq, raw_length, len(payload),
                              zlib.crc32(payload)), payload


def check_payload(header: RecordHeader, payload: bytes | memoryview) -> None:
    """The payload is whole, intact, and one zstd frame of the announced length."""
    if len(payload) != header.payload_length:
        raise FormatViolation("payload is shorter than its record header says")
    if zlib.crc32(payload) != header.payload_crc:
        raise FormatViolation("payload checksum mismatch")
    try:
        params = zstandard.get_frame_parameters(payload)
    except zstandard.ZstdError as exc:
        raise FormatViolation(f"payload does not decompress ({exc})") from None
    if params.content_size != header.raw_length or not params.has_checksum:
        raise FormatViolation("payload frame does not match its record header")


def decode_payload(
    dctx: zstandard.ZstdDecompressor, header: RecordHeader, payload: bytes | memoryview
) -> bytes:
    """Check and decompress a record payload; never returns unverified bytes."""
    check_payload(header, payload)
    try:
        data = dctx.decompress(payload, allow_extra_data=False)
    except zstandard.ZstdError as exc:
        raise FormatViolation(f"payload does not decompress ({exc})") from None
    if len(data) != header.raw_length:
        raise FormatViolation("payload decompressed to an unexpected length")
    return data


# --- JSON documents ---------------------------------------------------------------------


# One encoder for every call: json.dumps with options builds a new one each time, which
# costs more than encoding one TOC entry.
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def dump_json(value: Any) -> bytes:
    return _JSON.encode(value).encode()


# The TOC's and the footer's items, tens of thousands of small objects, go through
# orjson: 2.3 us an entry instead of 5.5 for the 16 446 entries of 4000 chunks, whose
# header children took 0.36-0.42 s of CPU, and 0.24-0.30 s so, while the data is
# copied. The bytes are json's (dump_json's) for every value both encode (test_archive);
# what json refuses orjson refuses too (TypeError), and an integer beyond 64 bits; but
# a NaN or infinite float becomes null: no item the tool writes holds a float.
_ITEMS = (orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME
          | orjson.OPT_PASSTHROUGH_DATACLASS)


def dump_items(items: list[Any]) -> bytes:
    """``dump_json(items)``, for a list of TOC or footer items (see _ITEMS)."""
    return orjson.dumps(items, option=_ITEMS)


class _JsonLimit(ValueError):
    pass


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _JsonLimit(f"the number {text[:20]} is out of range")
    return value


def _no_constant(text: str) -> Any:
    raise _JsonLimit(f"{text} is not allowed")


# Integers parse as Python's int does: past sys.get_int_max_str_digits() (4300) digits it
# raises ValueError, reported as a number beyond the limits; the schema (contents.py)
# holds the integers it types to 64 bits. A hook per integer would cost a Python call
# for each of a footer's two numbers per block.
_DECODER = json.JSONDecoder(parse_float=_parse_float, parse_constant=_no_constant)
# Unicode text cannot hold a lone surrogate; only a JSON escape can make one.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


_SCALARS = frozenset({str, int, float, bool, type(None)})


def check_depth(value: Any, levels: int, what: str | Callable[[], str]) -> None:
    """``value`` nests at most ``levels`` more lists and objects (iteratively); ``what``
    names it in the message (a function: called only then)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Iterable[Any] = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth >= levels:
            name = what if isinstance(what, str) else what()
            raise FormatViolation(f"{name} is nested more than {MAX_JSON_DEPTH} levels deep")
        if not set(map(type, children)) <= _SCALARS:  # most hold scalars only: no walk
            stack.extend((child, depth + 1) for child in children)


def _check_strings(value: Any, what: str) -> None:
    """Every string can be printed: no lone surrogate (slow; only when escapes hint one)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode()
            except UnicodeEncodeError:
                raise FormatViolation(f"{what} holds an invalid string") from None
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def load_json_object(raw: bytes, what: str) -> dict[str, Any]:
    """Parse a JSON object, with limits on nesting and numbers; never a traceback.

    Nesting beyond what the parser's recursion allows fails here; members that the
    schema (``contents.py``) does not type are checked against MAX_JSON_DEPTH there.
    """
    try:
        text = raw.decode()
        value = _DECODER.decode(text)
    except UnicodeDecodeError:
        raise FormatViolation(f"{what} is not UTF-8") from None
    except RecursionError:
        raise FormatViolation(f"{what} is nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise FormatViolation(f"{what} is not valid JSON ({exc})") from None
    except ValueError as exc:  # _JsonLimit, or an integer past int's digit limit
        reason = str(exc).split(";")[0]
        raise FormatViolation(f"{what} holds a number beyond the format's limits ({reason})"
                              ) from None
    if not isinstance(value, dict):
        raise FormatViolation(f"{what} is not a JSON object")
    if _SURROGATE_ESCAPE.search(text):
        _check_strings(value, what)
    return value


def is_count(value: Any) -> bool:
    """A non-negative JSON integer (bool excluded)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def describe_entry(entry_id: int, toc_entry: Any) -> str:
    """Human name of an entry, e.g. ``entry 12 (TABLE DATA public.t)``.

    ``toc_entry`` is its TOC document, or an object with ``kind``, ``schema`` and
    ``name`` attributes (what a reader or writer kept of it), or None."""
    if toc_entry is None:
        return f"entry {entry_id}"
    if isinstance(toc_entry, Mapping):
        kind, schema, name = (toc_entry.get(key) for key in ("kind", "schema", "name"))
    else:
        kind, schema, name = (getattr(toc_entry, key, None) for key in ("kind", "schema", "name"))
    label = ".".join(str(part) for part in (schema, name) if part not in (None, ""))
    words = " ".join(part for part in (str(kind) if kind else "", label) if part)
    return f"entry {entry_id} ({words})" if words else f"entry {entry_id}"


def stats_document(stats: EntryStats) -> dict[str, int]:
    """Payload of an entry-end record."""
    return {
        "rows": stats.rows,
        "raw_bytes": stats.raw_bytes,
        "blocks": stats.blocks,
        "checksum": stats.checksum,
    }


def stats_json(stats: EntryStats) -> bytes:
    """``dump_json(stats_document(stats))``, formatted directly (once per data entry)."""
    return b'{"rows":%d,"raw_bytes":%d,"blocks":%d,"checksum":%d}' % (
        stats.rows, stats.raw_bytes, stats.blocks, stats.checksum)


_STATS_KEYS = ("rows", "raw_bytes", "blocks", "checksum")
_FOOTER_ITEM_KEYS = frozenset({"id", *_STATS_KEYS, "block_offsets", "block_lengths", "end"})


def _check_unknown(doc: Mapping[str, Any], known: Iterable[str], what: str) -> None:
    """Members a reader does not use may be there, but not nested too deeply."""
    for key in doc.keys() - set(known):
        check_depth(doc[key], MAX_JSON_DEPTH, f'{what}: "{key}"')


def parse_stats(entry_id: int, doc: Mapping[str, Any]) -> EntryStats:
    if len(doc) > len(_STATS_KEYS):
        _check_unknown(doc, _STATS_KEYS, "entry statistics")
    values: list[Any] = [doc.get(key) for key in _STATS_KEYS]
    if not all(is_count(value) for value in values) or values[3] > _U32_MAX:
        raise FormatViolation("entry statistics are malformed")
    rows, raw_bytes, blocks, checksum = (int(value) for value in values)
    return EntryStats(entry_id, rows, raw_bytes, blocks, checksum)


def check_footer_members(doc: Mapping[str, Any]) -> None:
    """The footer's members besides "entries": "extra", an object, and nothing unknown."""
    if not isinstance(doc.get("extra"), dict):
        raise FormatViolation("footer is malformed")
    _check_unknown(doc, ("entries", "extra"), "footer")


def footer_entry(item: Any, seen: Container[int]) -> FooterEntry:
    """One item of the footer's index, checked (``seen``: the ids of the items before)."""
    if not isinstance(item, dict):
        raise FormatViolation("footer index item is not an object")
    entry_id = item.get("id")
    if isinstance(entry_id, bool) or not isinstance(entry_id, int) or entry_id in seen:
        raise FormatViolation("footer index has a missing or repeated entry id")
    if len(item) > len(_FOOTER_ITEM_KEYS):
        _check_unknown(item, _FOOTER_ITEM_KEYS, f"footer index of entry {entry_id}")
    stats = parse_stats(entry_id, item)
    offsets, lengths = item.get("block_offsets"), item.get("block_lengths")
    end = item.get("end")
    if (
        not isinstance(offsets, list)
        or not isinstance(lengths, list)
        or len(offsets) != stats.blocks
        or len(lengths) != stats.blocks
        or not all(is_count(v) for v in (*offsets, *lengths))
        or not isinstance(end, list)
        or len(end) != 2
        or not all(is_count(v) for v in end)
    ):
        raise FormatViolation(f"footer index of entry {entry_id} is malformed")
    return FooterEntry(stats, tuple(offsets), tuple(lengths), end[0], end[1])
