#!/usr/bin/env bash
# Make a PostgreSQL server with the TimescaleDB extension available on this machine.
#
#   Debian 12 (bookworm): PostgreSQL 15 from apt, then TimescaleDB (Apache edition)
#                         built from Debian 13's `timescaledb` source package.
#   Debian 13 (trixie):   postgresql-17-timescaledb from apt.
#
# Does nothing where a server with TimescaleDB is already installed. Never modifies
# the system's apt sources: the trixie source list lives in a temporary directory and
# reuses the mirror URI that the system is already configured with.
set -euo pipefail

log() { printf 'install-server: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || die "run as root or install sudo"
  SUDO="sudo"
fi

apt_updated=0
apt_install() {
  if [ "$apt_updated" -eq 0 ]; then
    $SUDO apt-get update -qq
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

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

# The mirror URI the system already uses for the Debian archive (not the security one).
mirror=""
for f in /etc/apt/sources.list.d/*.sources; do
  [ -f "$f" ] || continue
  uri=$(awk '/^URIs:/ {print $2}' "$f" | grep -v -- '-security' | head -n1 || true)
  if [ -n "$uri" ]; then mirror="$uri"; break; fi
done
if [ -z "$mirror" ]; then
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    uri=$(awk '$1=="deb" && $0 !~ /security/ {for (i=2;i<=NF;i++) if ($i ~ /^[a-z+]+:\/\//) {print $i; exit}}' "$f")
    if [ -n "$uri" ]; then mirror="$uri"; break; fi
  done
fi
[ -n "$mirror" ] || die "no Debian mirror URI found in /etc/apt/sources.list.d/ or /etc/apt/sources.list"

work=$(mktemp -d /tmp/timescaledb-build.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/archives/partial" "$work/src"
printf 'deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s trixie main\n' "$mirror" \
  > "$work/trixie-src.list"
aptopts=(-o "Dir::Etc::SourceList=$work/trixie-src.list" -o "Dir::Etc::SourceParts=/dev/null"
         -o "Dir::State::Lists=$work/lists" -o "Dir::Cache::Archives=$work/archives"
         -o "APT::Sandbox::User=root")
log "fetching the timescaledb source package from Debian 13"
apt-get "${aptopts[@]}" update -qq
(cd "$work/src" && apt-get "${aptopts[@]}" source --download-only -qq timescaledb >/dev/null)
dsc=$(ls "$work"/src/timescaledb_*.dsc | head -n1)
[ -n "$dsc" ] || die "apt did not download the timescaledb source package"
(cd "$work/src" && dpkg-source --no-check -x "$(basename "$dsc")" tsdb >/dev/null)

log "building TimescaleDB against PostgreSQL 15"
cd "$work/src/tsdb"
./bootstrap -DREGRESS_CHECKS=OFF -DTAP_CHECKS=OFF -DWARNINGS_AS_ERRORS=OFF -DAPACHE_ONLY=ON \
  -DPG_CONFIG="$PGBIN/pg_config" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
make -C build -j"$(nproc)" >/dev/null
$SUDO make -C build install >/dev/null
has_timescaledb || die "the TimescaleDB build finished but the extension files are missing"
log "installed TimescaleDB $(ls "$EXTDIR"/timescaledb--[0-9]*.sql | sed -n 's/.*timescaledb--\([0-9.]*\)\.sql/\1/p' | sort -V | tail -n1) for PostgreSQL 15"
