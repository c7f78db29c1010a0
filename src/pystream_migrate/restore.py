"""Restore: placeholder until the restore issue lands."""

from __future__ import annotations

import argparse

from pystream_migrate.connection import connect
from pystream_migrate.errors import MigrateError


def run_restore(args: argparse.Namespace) -> int:
    with connect(args.dbname):
        pass
    raise MigrateError("restore is not built yet")
