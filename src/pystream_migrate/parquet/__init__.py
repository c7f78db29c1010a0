"""Parquet export and import: ``pystream-migrate export`` and ``pystream-migrate import``.

``export`` writes the selected tables of a database into a directory of Parquet files,
one per chunk of a hypertable and one or more per plain table, all read from one
snapshot, with ``_manifest.json`` listing them; ``import`` loads such a directory into
existing tables. The private modules, one job each:

- ``_types``: PostgreSQL column types → Arrow types, and what COPY sends for each;
- ``_decode``: COPY's CSV text → Arrow arrays, vectorised;
- ``_encode``: Arrow arrays → CSV text for COPY FROM, vectorised;
- ``_source``: the tables, columns and chunks to export (selection, --since/--until);
- ``_layout``: directory and file names;
- ``_filewriter``: row groups, temporary names, checksums;
- ``_manifest``: the manifest and resuming;
- ``_pool``: worker threads with their connections;
- ``_export`` and ``_import``: the two commands.

pyarrow (and numpy) come with the ``parquet`` extra: ``pip install
'pystream-migrate[parquet]'``.
"""

from __future__ import annotations

import argparse
import re
import sys

from pystream_migrate.errors import MigrateError


def _require_pyarrow() -> None:
    try:
        import numpy  # noqa: F401
        import pyarrow  # noqa: F401
    except ImportError as exc:
        raise MigrateError(
            f"export and import need pyarrow and numpy ({exc.name} is not installed)",
            hint="pip install 'pystream-migrate[parquet]'") from None


def parse_size(text: str) -> int:
    """``512MB``, ``1GiB``, ``1000000`` → bytes (for --max-file-size)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*", text.lower())
    if m is None:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 512MB, 2GB)")
    value = int(float(m[1]) * 1024 ** " kmgt".index(m[2] or " "))
    if value < 1024 * 1024:
        raise argparse.ArgumentTypeError("must be at least 1MB")
    return value


def run_export(args: argparse.Namespace) -> int:
    _require_pyarrow()
    from pystream_migrate.parquet._export import ExportOptions, export_database
    from pystream_migrate.parquet._filewriter import WriteOptions
    from pystream_migrate.selection import selection_from_args

    opts = ExportOptions(
        dsn=args.dbname, directory=args.output, jobs=args.jobs,
        selection=selection_from_args(args), since=args.since, until=args.until,
        write=WriteOptions(compression=args.compression, row_group_size=args.row_group_size,
                           max_file_bytes=args.max_file_size),
        progress=args.progress)
    result = export_database(opts)
    for w in result.warnings:
        print(f"pystream-migrate: warning: {w}", file=sys.stderr)
    if args.verbose or args.progress in ("plain", "auto"):
        skipped = f", {result.skipped} already complete" if result.skipped else ""
        print(f"pystream-migrate: exported {result.rows} rows of {result.tables} tables into "
              f"{result.files} files ({result.bytes} bytes) in {args.output}{skipped}",
              file=sys.stderr)
    return 0


def run_import(args: argparse.Namespace) -> int:
    _require_pyarrow()
    from pystream_migrate.parquet._import import ImportOptions, import_directory
    from pystream_migrate.selection import selection_from_args

    opts = ImportOptions(dsn=args.dbname, directory=args.directory, jobs=args.jobs,
                         selection=selection_from_args(args), progress=args.progress)
    result = import_directory(opts)
    if args.verbose or args.progress in ("plain", "auto"):
        print(f"pystream-migrate: imported {result.rows} rows from {result.files} files "
              f"into {result.tables} tables", file=sys.stderr)
    return 0


__all__ = ["parse_size", "run_export", "run_import"]
