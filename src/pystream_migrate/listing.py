"""List an archive's table of contents: placeholder until the archive lands."""

from __future__ import annotations

import argparse

from pystream_migrate.errors import MigrateError


def run_list(args: argparse.Namespace) -> int:
    raise MigrateError("list is not built yet")
