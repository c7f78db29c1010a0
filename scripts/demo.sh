#!/usr/bin/env bash
# The demo: installs what is missing, then dumps, restores and verifies sample
# TimescaleDB data on a throwaway local server that is removed afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/pystream-migrate demo "$@"
