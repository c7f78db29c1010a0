#!/usr/bin/env bash
# Everything the project needs on a fresh Debian machine: the PostgreSQL + TimescaleDB
# server (scripts/install-server.sh) and a virtualenv in .venv with the package and its
# test tools. Safe to run again: it skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-server.sh

if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-venv >/dev/null
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]' 2>&1 \
  | grep -v "is ignored: it is neither a file nor a directory" || true
.venv/bin/python -c 'import pystream_migrate, psycopg, zstandard, pytest' \
  || { echo "setup: the virtualenv is incomplete" >&2; exit 1; }
