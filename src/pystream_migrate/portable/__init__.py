"""Portable (logical) dump and restore: TimescaleDB objects through the target's own API.

A portable archive restores into any TimescaleDB version that has the features the
source uses, and needs no superuser on the target: it carries no ``_timescaledb_catalog``
rows and restore never calls ``timescaledb_pre_restore()``. See docs/architecture.md and
docs/migration-guide.md.

Dump side (dump.py calls these):
- :func:`dump_entries` turns the catalog-mode TOC into a portable one;
- :func:`rows_statement` is the COPY that reads a chunk's rows, decompressed.

Restore side (restore.py calls these, each with a connection and the archive's entries):
- :func:`archive_mode` picks the mode from the archive's header (``--mode`` may force it);
- :func:`prepare` checks the target's edition and writes every portable entry's SQL for
  the target's version; the entries then run through the ordinary restore machinery;
- :func:`before_data` sets the continuous aggregates' invalidation thresholds while the
  tables are still empty (it cannot run inside a transaction);
- :func:`prepare_loader` sets up each connection that loads rows;
- :func:`finish` reports what the target could not take;
- :func:`delete_restored_jobs` (``--clean``) deletes the jobs an earlier portable
  restore of the archive created.
"""

from __future__ import annotations

from pystream_migrate.portable._checks import archive_mode
from pystream_migrate.portable._dump import dump_entries, rows_statement
from pystream_migrate.portable._jobs import delete_restored_jobs
from pystream_migrate.portable._restore import (
    PortableRestore,
    before_data,
    finish,
    prepare,
    prepare_loader,
)

__all__ = ["PortableRestore", "archive_mode", "before_data", "delete_restored_jobs",
           "dump_entries", "finish", "prepare", "prepare_loader", "rows_statement"]
