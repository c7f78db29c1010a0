"""Turning a block of COPY CSV rows into an Arrow table of the export's column types.

pyarrow's C++ CSV reader parses the block; what it cannot produce directly is finished
with whole-array operations (numpy over the buffers, pyarrow.compute, pyarrow's JSON
reader), never a Python loop over the values. Only values the vectorised path cannot
read, such as ``infinity`` or a year BC in a timestamp column, or NaN inside a float
array, go through Python, one by one, and only those.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.json as pajson

from pystream_migrate.parquet._types import INTERVAL, ColumnSpec

INT64_MAX, INT64_MIN = 2**63 - 1, -(2**63)
INT32_MAX, INT32_MIN = 2**31 - 1, -(2**31)
THREADED_BLOCK = 1 << 20

_HEX = np.full(256, 255, np.uint8)
for _i, _c in enumerate(b"0123456789abcdef"):
    _HEX[_c] = _i
for _i, _c in enumerate(b"ABCDEF"):
    _HEX[_c] = 10 + _i


class DecodeError(ValueError):
    """A value that has no place in its column's Arrow type."""


def _parse_options() -> pacsv.ParseOptions:
    return pacsv.ParseOptions(newlines_in_values=True)


def _convert_options(columns: Sequence[ColumnSpec], text_for_fallible: bool
                     ) -> pacsv.ConvertOptions:
    types = {c.name: pa.string() if text_for_fallible and c.fallible else c.csv_type
             for c in columns}
    # COPY's CSV: an unquoted empty field is NULL, a quoted one an empty string.
    return pacsv.ConvertOptions(column_types=types, null_values=[""], strings_can_be_null=True,
                                quoted_strings_can_be_null=False, true_values=["t"],
                                false_values=["f"])


def parse_block(block: bytes, columns: Sequence[ColumnSpec]) -> pa.Table:
    """Parse complete CSV rows into a table with the columns' Arrow types."""
    # Threads pay off on large blocks only; a small chunk's few rows parse faster without.
    read = pacsv.ReadOptions(column_names=[c.name for c in columns],
                             use_threads=len(block) >= THREADED_BLOCK,
                             block_size=max(len(block) + 1, 1 << 20))
    buf = pa.py_buffer(block)
    try:
        table = pacsv.read_csv(buf, read_options=read, parse_options=_parse_options(),
                               convert_options=_convert_options(columns, False))
        fast = True
    except pa.ArrowInvalid:
        # A value the direct conversion refuses (infinity, a year BC, 24:00:00):
        # read the time columns as text and convert them with the exceptions apart.
        table = pacsv.read_csv(buf, read_options=read, parse_options=_parse_options(),
                               convert_options=_convert_options(columns, True))
        fast = False
    arrays = [_finish(c, table.column(i).combine_chunks(), fast)
              for i, c in enumerate(columns)]
    return pa.Table.from_arrays(arrays, names=[c.name for c in columns])


def _finish(spec: ColumnSpec, arr: pa.Array, fast: bool) -> pa.Array:
    if spec.kind == "time" and not fast:
        return time_from_text(spec, arr)
    finish = _FINISH.get(spec.kind)
    return finish(spec, arr) if finish is not None else arr


def dense(arr: pa.Array) -> pa.Array:
    """The array with offset 0, so that its buffers can be read from their start."""
    return pa.concat_arrays([arr]) if arr.offset else arr


def bytes_and_offsets(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    offsets = np.frombuffer(arr.buffers()[1], np.int32, len(arr) + 1)
    data_buf = arr.buffers()[2]
    data = np.frombuffer(data_buf, np.uint8) if data_buf is not None else np.empty(0, np.uint8)
    return data[offsets[0]:offsets[-1]], offsets - offsets[0]


def _unhex(chars: np.ndarray) -> np.ndarray:
    nibbles = _HEX[chars]
    if len(nibbles) % 2 or (nibbles == 255).any():
        raise DecodeError("malformed hexadecimal text from the server")
    return (nibbles[0::2] << 4) | nibbles[1::2]


def _bytea(spec: ColumnSpec, arr: pa.Array) -> pa.Array:
    r"""``\x0a1b...`` (bytea_output = hex) → binary."""
    arr = dense(arr)
    chars, offsets = bytes_and_offsets(arr)
    lengths = np.diff(offsets)
    present = lengths >= 2
    keep = np.ones(len(chars), bool)
    starts = offsets[:-1][present]
    keep[starts] = False
    keep[starts + 1] = False
    out = _unhex(chars[keep])
    new_offsets = np.zeros(len(arr) + 1, np.int32)
    np.cumsum(np.where(present, (lengths - 2) // 2, 0), out=new_offsets[1:])
    return pa.Array.from_buffers(pa.binary(), len(arr),
                                 [arr.buffers()[0], pa.py_buffer(new_offsets),
                                  pa.py_buffer(out.tobytes())], null_count=arr.null_count)


_UUID_HEX = np.array([i for i in range(36) if i not in (8, 13, 18, 23)])


def _uuid(spec: ColumnSpec, arr: pa.Array) -> pa.Array:
    """``a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11`` → 16 bytes, as the arrow.uuid extension."""
    arr = dense(arr)
    chars, offsets = bytes_and_offsets(arr)
    present = np.diff(offsets) == 36
    decoded = _unhex(chars.reshape(-1, 36)[:, _UUID_HEX].reshape(-1)).reshape(-1, 16)
    out = np.zeros((len(arr), 16), np.uint8)
    out[present] = decoded
    storage = pa.Array.from_buffers(pa.binary(16), len(arr),
                                    [arr.buffers()[0], pa.py_buffer(out.tobytes())],
                                    null_count=arr.null_count)
    return pa.ExtensionArray.from_storage(pa.uuid(), storage)


# IntervalStyle = postgres: "1 year 2 mons -3 days +04:05:06.789" (each part optional).
_INTERVAL = re.compile(
    r"^(?:\+?(?P<y>-?\d+) years? ?)?(?:\+?(?P<mo>-?\d+) mons? ?)?(?:\+?(?P<d>-?\d+) days? ?)?"
    r"(?:(?P<sign>[-+]?)(?P<h>\d+):(?P<mi>\d+):(?P<s>\d+)(?:\.(?P<f>\d{1,6}))?)?$")


def _int_field(parts: pa.StructArray, name: str) -> pa.Array:
    text = parts.field(name)
    return pc.cast(pc.if_else(pc.equal(text, ""), "0", text), pa.int64())


def _interval(spec: ColumnSpec, arr: pa.Array) -> pa.Array:
    parts = pc.extract_regex(arr, _INTERVAL.pattern)
    if parts.null_count != arr.null_count:
        bad = arr.filter(pc.and_(pc.is_null(parts), pc.is_valid(arr)))[0].as_py()
        raise DecodeError(f"cannot read the interval {bad!r}")
    months = pc.add(pc.multiply(_int_field(parts, "y"), 12), _int_field(parts, "mo"))
    frac = pc.utf8_rpad(parts.field("f"), 6, "0")
    micros = pc.add(pc.multiply(pc.add(pc.add(
        pc.multiply(_int_field(parts, "h"), 3600), pc.multiply(_int_field(parts, "mi"), 60)),
        _int_field(parts, "s")), 1_000_000), pc.cast(frac, pa.int64()))
    micros = pc.if_else(pc.equal(parts.field("sign"), "-"), pc.negate(micros), micros)
    return pa.StructArray.from_arrays(
        [pc.cast(months, pa.int32()), pc.cast(_int_field(parts, "d"), pa.int32()),
         pc.multiply(micros, 1000)],
        fields=list(INTERVAL), mask=pc.is_null(arr))


def _json(spec: ColumnSpec, arr: pa.Array) -> pa.Array:
    return pa.ExtensionArray.from_storage(pa.json_(), arr)


def _enum(spec: ColumnSpec, arr: pa.Array) -> pa.Array:
    return pc.dictionary_encode(arr)


def _array(spec: ColumnSpec, arr: pa.Array) -> pa.Array:
    """JSON arrays (array_to_json) → list, through pyarrow's JSON reader."""
    if len(arr) == 0:
        return pa.array([], spec.arrow)
    lines = pc.binary_join_element_wise('{"v":', arr.fill_null("null"), "}\n", "")
    lines = dense(lines)
    chars, _ = bytes_and_offsets(lines)
    schema = pa.schema([("v", spec.arrow)])
    try:
        table = pajson.read_json(
            pa.BufferReader(pa.py_buffer(chars.tobytes())),
            read_options=pajson.ReadOptions(use_threads=False,
                                            block_size=max(len(chars) + 1, 1 << 20)),
            parse_options=pajson.ParseOptions(explicit_schema=schema))
    except pa.ArrowInvalid:
        return _array_slow(spec, arr)  # NaN or Infinity in a float array: JSON strings
    return table.column(0).combine_chunks()


def _array_slow(spec: ColumnSpec, arr: pa.Array) -> pa.Array:
    is_float = pa.types.is_floating(spec.arrow.value_type)

    def element(v: object) -> object:
        if isinstance(v, list):
            raise DecodeError(f"column {spec.name} holds a multi-dimensional array")
        if is_float and isinstance(v, str):
            return float(v)
        return v

    values = [None if text is None else [element(v) for v in json.loads(text)]
              for text in arr.to_pylist()]
    return pa.array(values, spec.arrow)


# Time values in the form pyarrow's cast reads (DateStyle ISO, TimeZone UTC).
_NORMAL_TIME = {
    "timestamp": r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{1,6})?(\+00)?$",
    "date32": r"^\d{4}-\d\d-\d\d$",
    "time64": r"^([01]\d|2[0-3]):\d\d:\d\d(\.\d{1,6})?$",
}
_SPECIAL_TIME = re.compile(
    r"(?:(?P<Y>\d+)-(?P<M>\d\d)-(?P<D>\d\d) ?)?(?:(?P<h>\d\d):(?P<mi>\d\d):(?P<s>\d\d)"
    r"(?:\.(?P<f>\d{1,6}))?)?(?P<tz>[-+]\d\d(?::?\d\d){0,2})?(?P<bc> BC)?")


def _time_family(t: pa.DataType) -> str:
    if pa.types.is_timestamp(t):
        return "timestamp"
    return "date32" if pa.types.is_date32(t) else "time64"


def days_from_civil(y: int, m: int, d: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (astronomical year numbers)."""
    y -= m <= 2
    era = y // 400  # floor division: the C original truncates, hence its "- 399"
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _offset_seconds(tz: str | None) -> int:
    if not tz:
        return 0
    sign = -1 if tz[0] == "-" else 1
    parts = [int(p) for p in re.findall(r"\d\d", tz)]
    parts += [0] * (3 - len(parts))
    return sign * (parts[0] * 3600 + parts[1] * 60 + parts[2])


def special_time(text: str, family: str) -> int:
    """A time value that the vectorised path does not read, as Arrow's integer."""
    if text in ("infinity", "-infinity"):
        big = INT32_MAX if family == "date32" else INT64_MAX
        return big if text == "infinity" else -big - 1
    m = _SPECIAL_TIME.fullmatch(text)
    if m is None:
        raise DecodeError(f"cannot read the time value {text!r}")
    seconds = 0
    if m["Y"] is not None:
        year = int(m["Y"])
        days = days_from_civil(1 - year if m["bc"] else year, int(m["M"]), int(m["D"]))
        if family == "date32":
            return days
        seconds = days * 86400
    if m["h"] is not None:
        seconds += int(m["h"]) * 3600 + int(m["mi"]) * 60 + int(m["s"])
    micros = (seconds - _offset_seconds(m["tz"])) * 1_000_000
    return micros + int((m["f"] or "").ljust(6, "0") or 0)


def time_from_text(spec: ColumnSpec, arr: pa.Array) -> pa.Array:
    """Time values as text: the usual ones cast at once, the rest one by one."""
    family = _time_family(spec.arrow)
    normal = pc.match_substring_regex(arr, _NORMAL_TIME[family])
    usual = pc.if_else(normal, arr, pa.scalar(None, pa.string()))
    if family == "time64":  # pyarrow casts no text to time64: read it as a time on 1970-01-01
        usual = pc.cast(pc.cast(pc.binary_join_element_wise("1970-01-01 ", usual, ""),
                                pa.timestamp("us")), pa.int64())
    result = pc.cast(usual, spec.arrow)
    special = np.flatnonzero(~np.asarray(normal.fill_null(True)))
    if len(special) == 0:
        return result
    int_type = pa.int32() if family == "date32" else pa.int64()
    values = np.asarray(pc.cast(result, int_type).fill_null(0))
    values = values.copy()
    texts = arr.take(pa.array(special)).to_pylist()
    for i, text in zip(special, texts, strict=True):
        values[i] = special_time(text, family)
    return pa.array(values, int_type, mask=np.asarray(arr.is_null())).cast(spec.arrow)


_FINISH: dict[str, Callable[[ColumnSpec, pa.Array], pa.Array]] = {
    "bytea": _bytea,
    "uuid": _uuid,
    "interval": _interval,
    "json": _json,
    "enum": _enum,
    "array": _array,
}
