#!/usr/bin/env bash
# Make a PostgreSQL server with the TimescaleDB extension available on this machine.
#
#   Debian 12 (bookworm): PostgreSQL 15 from apt, then TimescaleDB (Apache edition)
#                         built from Debian 13's `timescaledb` source package.
#   Debian 13 (trixie):   postgresql-17-timescaledb from apt.
#
# With TIMESCALEDB_SOURCES="a.tar.gz b.tar.gz" (TimescaleDB source tarballs, such as the
# official release tarballs or ../shared/vendor/*.tar.gz), it builds and installs each of
# those instead, oldest version first, so that the same PostgreSQL offers every version and
# the newest is the default. These builds include the Timescale License edition where the
# tarball has it. Each build is kept in TIMESCALEDB_BUILD_CACHE (default
# /var/cache/pystream-migrate/timescaledb for root, else ~/.cache/...), keyed by the tarball's checksum and the
# PostgreSQL major version: a second run finds the versions installed and builds nothing.
#
# Does nothing where a server with TimescaleDB is already installed. Never modifies
# the system's apt sources: the trixie source list lives in a temporary directory and
# reuses the mirror URI that the system is already configured with
# (scripts/lib/debian-source.sh, shared with scripts/build-pg-regress.sh).
set -euo pipefail

LOG_TAG=install-server
# shellcheck source=scripts/lib/debian-source.sh
. "$(dirname "$0")/lib/debian-source.sh"

. /etc/os-release
case "${VERSION_CODENAME:-}" in
  bookworm) PGVER=15 ;;
  trixie) PGVER=17 ;;
  *) die "unsupported OS '${PRETTY_NAME:-unknown}': this script knows Debian 12 and Debian 13" ;;
esac

PGBIN="/usr/lib/postgresql/$PGVER/bin"
EXTDIR="/usr/share/postgresql/$PGVER/extension"

has_timescaledb() {
  [ -x "$PGBIN/postgres" ] && ls "$EXTDIR"/timescaledb--*.sql >/dev/null 2>&1 \
    && ls /usr/lib/postgresql/$PGVER/lib/timescaledb*.so >/dev/null 2>&1
}

# ---- TIMESCALEDB_SOURCES: build the given tarballs, cached ------------------------------
LIBDIR="/usr/lib/postgresql/$PGVER/lib"
if [ "$(id -u)" -eq 0 ]; then
  CACHE="${TIMESCALEDB_BUILD_CACHE:-/var/cache/pystream-migrate/timescaledb}"
else
  CACHE="${TIMESCALEDB_BUILD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pystream-migrate/timescaledb}"
fi

tarball_version() {  # the version a TimescaleDB source tarball builds (its version.config)
  local top
  top=$(tar tzf "$1" 2>/dev/null | head -n1 | cut -d/ -f1) || true
  [ -n "$top" ] || die "$1 is not a readable .tar.gz"
  tar xzf "$1" -O "$top/version.config" 2>/dev/null | awk '$1=="version" {print $3}' \
    || die "$1 has no version.config: is it a TimescaleDB source tarball?"
}

version_installed() {  # $1 version, $2 "tsl" if the tarball has the Timescale License part
  [ -f "$EXTDIR/timescaledb--$1.sql" ] && [ -f "$LIBDIR/timescaledb-$1.so" ] \
    && { [ "$2" != tsl ] || [ -f "$LIBDIR/timescaledb-tsl-$1.so" ]; }
}

build_tarball() {  # $1 tarball, $2 version, $3 build directory (created here)
  local src="$3/src"
  rm -rf "$3"; mkdir -p "$src"
  tar xzf "$1" -C "$src" --strip-components=1
  log "building TimescaleDB $2 from $(basename "$1") (a few minutes)"
  (cd "$src" && ./bootstrap -DCMAKE_BUILD_TYPE=Release -DREGRESS_CHECKS=OFF -DTAP_CHECKS=OFF \
      -DWARNINGS_AS_ERRORS=OFF -DUSE_TELEMETRY=OFF -DPG_CONFIG="$PGBIN/pg_config" >/dev/null \
    && make -C build -j"$(nproc)" >/dev/null) || die "the build of TimescaleDB $2 failed"
  touch "$3/.built"
}

install_sources() {  # every tarball, oldest version first; the newest becomes the default
  local t v sum dir todo=() rows=() newest default
  for t in "$@"; do
    [ -f "$t" ] || die "TIMESCALEDB_SOURCES names $t, which is not a file"
    rows+=("$(tarball_version "$t") $t")
  done
  mapfile -t rows < <(printf '%s\n' "${rows[@]}" | sort -V -k1,1)
  newest=${rows[-1]%% *}
  default=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" "$EXTDIR/timescaledb.control" 2>/dev/null)
  for row in "${rows[@]}"; do
    v=${row%% *}; t=${row#* }
    tsl=$(tar tzf "$t" | grep -q '^[^/]*/tsl/CMakeLists.txt$' && echo tsl || echo apache)
    if ! version_installed "$v" "$tsl" || { [ "$v" = "$newest" ] && [ "$default" != "$v" ]; }; then
      todo+=("$row")
    fi
  done
  if [ "${#todo[@]}" -eq 0 ]; then
    log "TimescaleDB ${rows[*]%% *} already installed for PostgreSQL $PGVER (default $default): nothing to do"
    return
  fi
  apt_install "postgresql-$PGVER" "postgresql-server-dev-$PGVER" cmake gcc make libssl-dev \
    libkrb5-dev ca-certificates
  # Installing in version order: the last install writes the loader and default_version.
  for row in "${rows[@]}"; do
    v=${row%% *}; t=${row#* }
    sum=$(sha256sum "$t" | cut -c1-16)
    dir="$CACHE/$v-$sum-pg$PGVER"
    [ -f "$dir/.built" ] || build_tarball "$t" "$v" "$dir"
    $SUDO make -C "$dir/src/build" install >/dev/null || die "installing TimescaleDB $v failed"
    log "installed TimescaleDB $v for PostgreSQL $PGVER (build cached in $dir)"
  done
}

if [ -n "${TIMESCALEDB_SOURCES:-}" ]; then
  # shellcheck disable=SC2086  # a space-separated list of paths, as documented
  install_sources $TIMESCALEDB_SOURCES
  exit 0
fi

if has_timescaledb; then
  log "PostgreSQL $PGVER with TimescaleDB is already installed: nothing to do"
  exit 0
fi

if [ "$PGVER" = 17 ]; then
  apt_install postgresql-17 postgresql-17-timescaledb
  has_timescaledb || die "postgresql-17-timescaledb did not install the extension"
  log "installed PostgreSQL 17 with TimescaleDB from apt"
  exit 0
fi

# Debian 12: PostgreSQL 15 and the tools to build the extension.
apt_install postgresql-15 postgresql-server-dev-15 cmake gcc make libssl-dev libkrb5-dev \
  dpkg-dev ca-certificates

work=$(mktemp -d /tmp/timescaledb-build.XXXXXX)
trap 'rm -rf "$work"' EXIT
tsdb=$(fetch_debian_source "$work" timescaledb trixie)

log "building TimescaleDB against PostgreSQL 15"
cd "$tsdb"
./bootstrap -DREGRESS_CHECKS=OFF -DTAP_CHECKS=OFF -DWARNINGS_AS_ERRORS=OFF -DAPACHE_ONLY=ON \
  -DPG_CONFIG="$PGBIN/pg_config" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
make -C build -j"$(nproc)" >/dev/null
$SUDO make -C build install >/dev/null
has_timescaledb || die "the TimescaleDB build finished but the extension files are missing"
log "installed TimescaleDB $(ls "$EXTDIR"/timescaledb--[0-9]*.sql | sed -n 's/.*timescaledb--\([0-9.]*\)\.sql/\1/p' | sort -V | tail -n1) for PostgreSQL 15"
