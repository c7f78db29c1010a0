"""Turning Arrow record batches into CSV text that ``COPY ... FROM STDIN (FORMAT csv)`` reads.

The inverse of :mod:`._decode`, with whole-array operations too: pyarrow's CSV writer
writes numbers, booleans, strings, dates and timestamps; what PostgreSQL reads in
another form is converted first (binary → ``\\x`` hex, uuid → hex, the interval
struct → ``N mons N days N microseconds``, lists → array literals, dictionaries →
their values). Only time values outside years 1–9999 (``infinity``, years BC) are
formatted in Python, one by one.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from pystream_migrate.parquet._decode import (
    INT32_MAX,
    INT32_MIN,
    INT64_MAX,
    INT64_MIN,
    bytes_and_offsets,
    days_from_civil,
    dense,
)

_DIGITS = np.frombuffer(b"0123456789abcdef", np.uint8)
_DAY_US = 86_400_000_000
_FIRST_DAY, _LAST_DAY = days_from_civil(1, 1, 1), days_from_civil(9999, 12, 31)


def to_copy_csv(batch: pa.RecordBatch) -> bytes:
    """The batch as CSV rows for COPY FROM: NULL unquoted and empty, strings quoted."""
    arrays = [for_copy(col) for col in batch.columns]
    table = pa.Table.from_arrays(arrays, names=batch.schema.names)
    sink = pa.BufferOutputStream()
    pacsv.write_csv(table, sink, pacsv.WriteOptions(include_header=False))
    return bytes(sink.getvalue().to_pybytes())


def for_copy(arr: pa.Array) -> pa.Array:
    """One column in a form that pyarrow's CSV writer writes the way PostgreSQL reads it."""
    t = arr.type
    if isinstance(t, pa.BaseExtensionType):
        storage = arr.storage
        return _hex(storage, b"") if t.extension_name == "arrow.uuid" else for_copy(storage)
    if pa.types.is_dictionary(t):
        return for_copy(arr.dictionary_decode())
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return _hex(arr, b"\\x")
    if pa.types.is_timestamp(t) or pa.types.is_date(t) or pa.types.is_time(t):
        return _time(arr)
    if pa.types.is_interval(t) or (pa.types.is_struct(t) and _is_interval_struct(t)):
        return _interval(arr)
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return _list(arr)
    return arr


def _hex(arr: pa.Array, prefix: bytes) -> pa.Array:
    """Bytes as hexadecimal text, each value behind ``prefix``."""
    if pa.types.is_fixed_size_binary(arr.type) or pa.types.is_large_binary(arr.type):
        arr = arr.cast(pa.binary())
    arr = dense(arr)
    data, offsets = bytes_and_offsets(arr)
    n, p = len(arr), len(prefix)
    present = np.asarray(arr.is_valid())
    counts = np.diff(offsets)
    new_offsets = np.zeros(n + 1, np.int64)
    np.cumsum(np.where(present, 2 * counts + p, 0), out=new_offsets[1:])
    if new_offsets[-1] >= 2**31:
        raise ValueError("a batch of binary values too large to convert at once")
    out = np.empty(int(new_offsets[-1]), np.uint8)
    starts = new_offsets[:-1][present]
    for k, ch in enumerate(prefix):
        out[starts + k] = ch
    row = np.repeat(np.arange(n), counts)  # the row of each byte
    byte_index = np.arange(len(data))
    mine = present[row]
    row, byte_index = row[mine], byte_index[mine]
    pos = new_offsets[row] + p + 2 * (byte_index - offsets[row])
    values = data[byte_index]
    out[pos] = _DIGITS[values >> 4]
    out[pos + 1] = _DIGITS[values & 15]
    return pa.Array.from_buffers(pa.string(), n, [arr.buffers()[0],
                                                  pa.py_buffer(new_offsets.astype(np.int32)),
                                                  pa.py_buffer(out.tobytes())],
                                 null_count=arr.null_count)


def civil_from_days(z: int) -> tuple[int, int, int]:
    """(year, month, day) of a day count since 1970-01-01 (astronomical year numbers)."""
    z += 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + (3 if mp < 10 else -9)
    return yoe + era * 400 + (m <= 2), m, d


def _special_text(value: int, t: pa.DataType) -> str:
    big, small = (INT32_MAX, INT32_MIN) if pa.types.is_date32(t) else (INT64_MAX, INT64_MIN)
    if value == big:
        return "infinity"
    if value == small:
        return "-infinity"
    if pa.types.is_time(t):  # 24:00:00, the one time past 23:59:59.999999
        secs, micros = divmod(value, 1_000_000)
        return f"{secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}.{micros:06d}"
    days, micros = (value, 0) if pa.types.is_date32(t) else divmod(value, _DAY_US)
    y, m, d = civil_from_days(days)
    era = " BC" if y <= 0 else ""
    text = f"{(1 - y) if y <= 0 else y:04d}-{m:02d}-{d:02d}"
    if not pa.types.is_date32(t):
        secs, us = divmod(micros, 1_000_000)
        text += f" {secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}.{us:06d}"
        text += "+00" if t.tz is not None else ""
    return text + era


def _time(arr: pa.Array) -> pa.Array:
    """Time values: those of years 1–9999 by pyarrow, the rest (infinity, BC) here."""
    t = arr.type
    if pa.types.is_timestamp(t) and t.unit != "us":
        t = pa.timestamp("us", t.tz)
    elif pa.types.is_date64(t):
        t = pa.date32()
    elif pa.types.is_time(t) and t != pa.time64("us"):
        t = pa.time64("us")
    arr = arr.cast(t)
    ints = np.asarray(pc.cast(arr, pa.int32() if pa.types.is_date32(t) else pa.int64())
                      .fill_null(0))
    if pa.types.is_time(t):
        lo, hi = 0, _DAY_US - 1
    elif pa.types.is_date32(t):
        lo, hi = _FIRST_DAY, _LAST_DAY
    else:
        lo, hi = _FIRST_DAY * _DAY_US, (_LAST_DAY + 1) * _DAY_US - 1
    special = ((ints < lo) | (ints > hi)) & np.asarray(arr.is_valid())
    if not special.any():
        return arr
    usual = pc.cast(pc.if_else(pa.array(~special), arr, pa.scalar(None, t)), pa.string())
    texts = pa.array([_special_text(int(v), t) for v in ints[special]], pa.string())
    return pc.replace_with_mask(usual, pa.array(special), texts)


def _is_interval_struct(t: pa.StructType) -> bool:
    return [t.field(i).name for i in range(t.num_fields)] == ["months", "days", "nanoseconds"]


def _interval(arr: pa.Array) -> pa.Array:
    """``N mons N days N microseconds``: PostgreSQL holds microseconds, not nanoseconds."""
    if pa.types.is_interval(arr.type):  # month_day_nano, from another writer
        arr = dense(arr)
        raw = np.frombuffer(arr.buffers()[1], dtype=[("months", "<i4"), ("days", "<i4"),
                                                     ("nanoseconds", "<i8")], count=len(arr))
        arr = pa.StructArray.from_arrays(
            [pa.array(raw["months"]), pa.array(raw["days"]), pa.array(raw["nanoseconds"])],
            names=["months", "days", "nanoseconds"], mask=pc.is_null(arr))
    micros = pc.divide(arr.field("nanoseconds"), 1000)
    text = pc.binary_join_element_wise(
        pc.cast(arr.field("months"), pa.string()), " mons ",
        pc.cast(arr.field("days"), pa.string()), " days ",
        pc.cast(micros, pa.string()), " microseconds", "")
    return pc.if_else(pc.is_valid(arr), text, pa.scalar(None, pa.string()))


def _list(arr: pa.Array) -> pa.Array:
    """Lists as array literals: ``{"1",NULL,"a \\"b\\""}``."""
    elements = for_copy(arr.values)
    if not pa.types.is_string(elements.type):
        elements = pc.cast(elements, pa.string())
    escaped = pc.replace_substring(pc.replace_substring(elements, "\\", "\\\\"), '"', '\\"')
    quoted = pc.binary_join_element_wise('"', escaped, '"', "").fill_null("NULL")
    offsets = arr.offsets
    lists = type(arr).from_arrays(offsets, quoted)
    joined = pc.binary_join_element_wise("{", pc.binary_join(lists, ","), "}", "")
    return pc.if_else(pc.is_valid(arr), joined, pa.scalar(None, pa.string()))
