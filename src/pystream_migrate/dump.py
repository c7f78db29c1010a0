"""Dump: placeholder until the dump issue lands."""

from __future__ import annotations

import argparse

from pystream_migrate.connection import connect
from pystream_migrate.errors import MigrateError


def run_dump(args: argparse.Namespace) -> int:
    with connect(args.dbname):
        pass
    raise MigrateError("dump is not built yet")
