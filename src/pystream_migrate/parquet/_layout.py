"""Where each table and chunk goes in an export directory, and how time ranges are named.

``DIR/<schema>.<table>/`` per table (names as they are, unquoted; ``%`` and ``/``
percent-encoded); in it ``<range_start>_<range_end>_<chunk>.parquet`` per chunk of a
hypertable and ``part-NNNN.parquet`` for a plain table. Files are written as
``.<name>.partial`` and renamed when complete.
"""

from __future__ import annotations

import datetime as dt

MANIFEST = "_manifest.json"
PARTIAL_SUFFIX = ".partial"

# TimescaleDB's open-ended dimension slices (DIMENSION_SLICE_MINVALUE / MAXVALUE).
SLICE_MIN, SLICE_MAX = -(2**63), 2**63 - 1
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def encode_name(name: str) -> str:
    """A name as a path component: ``%`` and ``/`` percent-encoded, nothing else changed."""
    return name.replace("%", "%25").replace("/", "%2F")


def table_dir(schema: str, table: str) -> str:
    return f"{encode_name(schema)}.{encode_name(table)}"


def is_time_type(time_type: str | None) -> bool:
    return time_type is not None and (time_type.startswith("timestamp") or time_type == "date")


def range_value(value: int, time_type: str | None) -> str | int | None:
    """A slice bound as the manifest records it: ISO 8601 text, an integer, or None (open)."""
    if value in (SLICE_MIN, SLICE_MAX):
        return None
    if not is_time_type(time_type):
        return value
    when = _EPOCH + dt.timedelta(microseconds=value)
    if time_type == "timestamp with time zone":
        return when.isoformat()
    return when.replace(tzinfo=None).isoformat()


def range_label(value: int, time_type: str | None) -> str:
    """A slice bound in a file name: ``20240101T000000Z``, an integer, or ``-inf``/``inf``."""
    if value == SLICE_MIN:
        return "-inf"
    if value == SLICE_MAX:
        return "inf"
    if not is_time_type(time_type):
        return str(value)
    when = _EPOCH + dt.timedelta(microseconds=value)
    text = when.strftime("%Y%m%dT%H%M%S")
    if when.microsecond:
        text += f".{when.microsecond:06d}"
    return text + ("Z" if time_type == "timestamp with time zone" else "")


def chunk_file(range_start: int, range_end: int, time_type: str | None, chunk: str) -> str:
    return (f"{range_label(range_start, time_type)}_{range_label(range_end, time_type)}_"
            f"{encode_name(chunk)}.parquet")


def part_file(n: int) -> str:
    return f"part-{n:04d}.parquet"


def partial_name(name: str) -> str:
    return f".{name}{PARTIAL_SUFFIX}"
