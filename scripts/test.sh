#!/usr/bin/env bash
# The test command: installs what is missing (scripts/setup.sh), lints, runs the tests
# against a real PostgreSQL + TimescaleDB server. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check src tests benchmarks
exec .venv/bin/pytest "$@"
