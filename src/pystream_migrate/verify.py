"""Verify archives and migrations: placeholder until the archive lands."""

from __future__ import annotations

import argparse

from pystream_migrate.errors import MigrateError


def run_verify(args: argparse.Namespace) -> int:
    raise MigrateError("verify is not built yet")
