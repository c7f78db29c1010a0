#!/usr/bin/env bash
# The test command: installs what is missing (scripts/setup.sh), lints, type-checks, runs the tests
# against a real PostgreSQL + TimescaleDB server. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check src tests benchmarks
.venv/bin/mypy  # configured in pyproject.toml: strict on archive/, toc.py, restore/
exec .venv/bin/pytest "$@"
