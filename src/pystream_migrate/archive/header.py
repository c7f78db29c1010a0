"""The header record's JSON, written and read one TOC entry at a time.

The header record is one JSON object whose ``"toc"`` member lists every entry (see
``docs/archive-format.md``). With 100 000 chunks that is about 180 MB of JSON text and
several times that as Python documents, so neither side ever holds it whole:

- :func:`encode_header` takes the TOC as an iterable of documents, checks each with the
  caller's function as it comes, and encodes a few hundred at a time. The record's
  frame must announce its uncompressed length, known only at the end, so the text is
  kept as small independently compressed pieces first and compressed once more into the
  record's single frame at the end (level-1 zstd both times: a fraction of the JSON
  encoding's cost).
- :func:`parse_header` decompresses the payload a piece at a time and parses the
  document member by member and the TOC entry by entry, handing each entry to the
  caller's function as soon as it is parsed; only the caller decides what stays.

The bytes on disk are the same as a one-shot ``json`` dump: the format is unchanged.
"""

from __future__ import annotations

import codecs
import json
import zlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple

import zstandard

from pystream_migrate.archive.format import (
    _DECODER,
    _SURROGATE_ESCAPE,
    MAX_DOCUMENT_SIZE,
    FormatViolation,
    RecordHeader,
    RecordTooLarge,
    RecordType,
    _check_strings,
    check_payload,
    compress_exact,
    dump_items,
    dump_json,
)

ENCODE_BATCH = 256  # list items per json call: one call each costs more than encoding
_PIECE = 1 << 20  # decompressed bytes read at a time


def encode_header(cctx: zstandard.ZstdCompressor, document: dict[str, Any],
                  toc: Iterable[dict[str, Any]],
                  check: Callable[[dict[str, Any]], object]) -> tuple[bytes, ...]:
    """The header record (record header, then payload pieces): ``document`` with
    ``"toc"`` last. ``check`` sees every TOC document before it is encoded; what it
    raises propagates, and nothing is returned."""
    return encode_listed(cctx, RecordType.HEADER, document, "toc", toc, check)


def encode_listed(cctx: zstandard.ZstdCompressor, record_type: RecordType,
                  document: dict[str, Any], key: str, items: Iterable[Any],
                  check: Callable[[Any], object] | None = None) -> tuple[bytes, ...]:
    """A record whose payload is ``document`` (not empty) with the list member ``key``
    last, its ``items`` (each seen by ``check`` first) encoded a few hundred at a time
    (the header's TOC, the footer's index):
    record header, then payload pieces. Neither the items nor their JSON text are ever
    held whole."""
    return assemble(cctx, record_type, document, key, [stage(record_type, items, check)])


class Staged(NamedTuple):
    """Part of a list member's JSON text (items separated by commas, without brackets),
    as independently compressed pieces; ``raw_length``: the text's length."""

    pieces: list[bytes]
    raw_length: int


def stage(record_type: RecordType, items: Iterable[Any],
          check: Callable[[Any], object] | None = None) -> Staged:
    """``items`` (each seen by ``check`` first) as :class:`Staged` text, a few hundred at
    a time: one part of a list that :func:`assemble` puts together (the header's TOC
    may be encoded in parts by several processes)."""
    staging = zstandard.ZstdCompressor(level=1)
    pieces: list[bytes] = []
    raw_length = 0
    for batch in _batches(items, check):
        text = memoryview(dump_items(batch))[1:-1]
        if pieces:
            text = memoryview(b"," + text)
        raw_length += len(text)
        _within_limit(record_type, raw_length)
        pieces.append(compress_exact(staging, text))
    return Staged(pieces, raw_length)


def assemble(cctx: zstandard.ZstdCompressor, record_type: RecordType,
             document: dict[str, Any], key: str, parts: list[Staged]) -> tuple[bytes, ...]:
    """The record of ``document`` (not empty) with the list member ``key`` last, made of
    ``parts`` in order: record header, then payload pieces."""
    head = dump_json(document)[:-1] + b"," + dump_json(key) + b":["
    filled = [part for part in parts if part.pieces]
    raw_length = len(head) + sum(p.raw_length for p in filled) + len(filled[1:]) + 2
    _within_limit(record_type, raw_length)
    # The record: one frame that announces its length (readers check it).
    cobj = cctx.compressobj(size=raw_length)
    unstage = zstandard.ZstdDecompressor()
    payload = [cobj.compress(head)]
    for n, part in enumerate(filled):
        if n:
            payload.append(cobj.compress(b","))  # between two parts
        for i, piece in enumerate(part.pieces):
            payload.append(cobj.compress(unstage.decompress(piece)))
            part.pieces[i] = b""  # let go of each piece once used
    payload.append(cobj.compress(b"]}"))
    payload.append(cobj.flush())
    payload = [p for p in payload if p]
    crc = 0
    for p in payload:
        crc = zlib.crc32(p, crc)
    header = RecordHeader(record_type, 0, 0, raw_length, sum(map(len, payload)), crc)
    return (header.pack(), *payload)


def _within_limit(record_type: RecordType, raw_length: int) -> None:
    if raw_length > MAX_DOCUMENT_SIZE:
        raise RecordTooLarge(f"{record_type.name.lower()} record of more than "
                             f"{MAX_DOCUMENT_SIZE} bytes is larger than the archive "
                             "format allows")


def _batches(items: Iterable[Any],
             check: Callable[[Any], object] | None) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        if check is not None:
            check(item)
        batch.append(item)
        if len(batch) == ENCODE_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def parse_header(dctx: zstandard.ZstdDecompressor, record: RecordHeader, payload: bytes,
                 add_entry: Callable[[Any], None]) -> dict[str, Any]:
    """The header document without ``"toc"``; each TOC item goes to ``add_entry(item)``
    as soon as it is parsed, in order. Raises :class:`FormatViolation`."""
    return parse_streamed(dctx, record, payload, "header", "toc", add_entry)


def parse_streamed(dctx: zstandard.ZstdDecompressor, record: RecordHeader, payload: bytes,
                   what: str, key: str, add_item: Callable[[Any], None]) -> dict[str, Any]:
    """A record's JSON object without its list member ``key``, whose items go to
    ``add_item`` one at a time as they are parsed (the header's "toc", the footer's
    "entries"). Raises :class:`FormatViolation`."""
    check_payload(record, payload)
    text = _Text(dctx.stream_reader(payload), record.raw_length, what)
    try:
        return _parse_document(text, key, add_item)
    except zstandard.ZstdError as exc:
        raise FormatViolation(f"payload does not decompress ({exc})") from None
    except RecursionError:
        raise FormatViolation(f"{what} is nested too deeply") from None


def _parse_document(text: _Text, key: str, add_item: Callable[[Any], None]) -> dict[str, Any]:
    document: dict[str, Any] = {}
    seen = False
    text.expect("{", "not a JSON object")
    if not text.take("}"):
        while True:
            member = text.value()
            if not isinstance(member, str):
                raise text.invalid("expected a member name")
            text.expect(":", "expected ':'")
            if member == key:
                if seen:
                    raise FormatViolation(f'{text.what} has "{key}" more than once')
                seen = True
                _parse_list(text, add_item)
            else:
                document[member] = text.value()
            if text.take("}"):
                break
            text.expect(",", "expected ',' or '}'")
    text.end()
    if not seen:
        raise FormatViolation(f'{text.what} has no "{key}" list' if key != "toc"
                              else "header has no TOC list")
    return document


def _parse_list(text: _Text, add_item: Callable[[Any], None]) -> None:
    if not text.take("["):
        raise FormatViolation(f"{text.what} is malformed" if text.what != "header"
                              else "header has no TOC list")
    if text.take("]"):
        return
    while True:
        add_item(text.value())
        if text.take("]"):
            return
        text.expect(",", "expected ',' or ']'")


class _Text:
    """The decompressed payload as text, parsed forward; only the unparsed rest is kept.

    A value is parsed once the text holds all of it: when the parser fails or stops at
    the end of what was read so far, more is read (at least as much again, so that a
    long value costs linear time) and the value is parsed again.
    """

    def __init__(self, reader: Any, raw_length: int, what: str) -> None:
        self.what = what
        self._reader = reader
        self._left = raw_length  # bytes the frame must still yield
        self._utf8 = codecs.getincrementaldecoder("utf-8")()
        self._buf = ""
        self._pos = 0
        self._eof = False

    def _more(self, at_least: int = 1) -> bool:
        """Read on; False at the end of the payload."""
        if self._eof:
            return False
        parts = [self._buf[self._pos:]]
        got = 0
        while got < at_least:
            raw = self._reader.read(_PIECE)
            self._left -= len(raw)
            if self._left < 0:
                raise FormatViolation("payload decompressed to an unexpected length")
            try:
                if not raw:
                    if self._left:
                        raise FormatViolation("payload decompressed to an unexpected length")
                    parts.append(self._utf8.decode(b"", final=True))
                    self._eof = True
                    break
                decoded = self._utf8.decode(raw)
            except UnicodeDecodeError:
                raise FormatViolation(f"{self.what} is not UTF-8") from None
            parts.append(decoded)
            got += len(decoded)
        self._buf = "".join(parts)
        self._pos = 0
        return True

    def _skip_space(self) -> None:
        while True:
            buf, pos = self._buf, self._pos
            while pos < len(buf) and buf[pos] in " \t\n\r":
                pos += 1
            self._pos = pos
            if pos < len(buf) or not self._more():
                return

    def take(self, char: str) -> bool:
        """Consume ``char`` (after white space) if it comes next."""
        self._skip_space()
        if self._buf.startswith(char, self._pos):
            self._pos += 1
            return True
        return False

    def expect(self, char: str, problem: str) -> None:
        if not self.take(char):
            raise self.invalid(problem)

    def end(self) -> None:
        self._skip_space()
        if self._pos < len(self._buf):
            raise self.invalid("extra data after the document")

    def invalid(self, problem: str) -> FormatViolation:
        return FormatViolation(f"{self.what} is not valid JSON ({problem})")

    def value(self) -> Any:
        """The next JSON value, parsed as ``format.load_json_object`` parses."""
        self._skip_space()
        while True:
            buf, pos = self._buf, self._pos
            try:
                value, end = _DECODER.raw_decode(buf, pos)
            except json.JSONDecodeError as exc:
                if self._more(max(len(buf) - pos, _PIECE)):
                    continue
                raise FormatViolation(f"{self.what} is not valid JSON ({exc})") from None
            except ValueError as exc:  # _JsonLimit, or an integer past int's digit limit
                reason = str(exc).split(";")[0]
                raise FormatViolation(f"{self.what} holds a number beyond the format's "
                                      f"limits ({reason})") from None
            # A number or literal that ends where the text read so far ends may go on.
            if end == len(buf) and self._more(_PIECE):
                continue
            if _SURROGATE_ESCAPE.search(buf, pos, end):
                _check_strings(value, self.what)
            self._pos = end
            return value
