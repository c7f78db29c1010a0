#!/usr/bin/env bash
# Build PostgreSQL's regression suite (pg_regress, regress.so and the test files) for the
# installed server, from Debian's `postgresql-<major>` source package of the installed
# version. The tests use it to fill a database with nearly every object kind
# (tests/test_regress_roundtrip.py).
#
#   bash scripts/build-pg-regress.sh [MAJOR]     # default: the newest installed server
#
# Prints, as its last line on stdout, the directory that holds the built
# src/test/regress as regress/ (pg_regress, regress.so, parallel_schedule, sql/,
# expected/, data/) and the psql of the same version as bin/psql.
# The build is cached in PG_REGRESS_CACHE (default /var/cache/pystream-migrate for root,
# else ~/.cache/pystream-migrate), as pg-regress-<Debian version>: a second run builds
# nothing. Only src/test/regress and psql are built (with what they need of the tree),
# then kept; the rest of the source tree is removed.
#
# The source package comes through a private apt directory (scripts/lib/debian-source.sh):
# the system's apt sources are never changed. Exit code 3 means no deb-src for it is
# reachable from this machine; any other failure exits 1.
set -euo pipefail

LOG_TAG=build-pg-regress
# shellcheck source=scripts/lib/debian-source.sh
. "$(dirname "$0")/lib/debian-source.sh"

major="${1:-}"
if [ -z "$major" ]; then
  major=$(ls -d /usr/lib/postgresql/*/bin/postgres 2>/dev/null | sed 's,.*/postgresql/\([0-9]*\)/.*,\1,' \
          | sort -n | tail -n1)
fi
[ -n "$major" ] || die "no PostgreSQL server is installed (run scripts/install-server.sh)"
pkg="postgresql-$major"
version=$(dpkg-query -W -f '${Version}' "$pkg" 2>/dev/null) \
  || die "$pkg is not installed as a Debian package"

if [ "$(id -u)" -eq 0 ]; then
  cache="${PG_REGRESS_CACHE:-/var/cache/pystream-migrate}"
else
  cache="${PG_REGRESS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pystream-migrate}"
fi
dest="$cache/pg-regress-$version"
if [ -f "$dest/.built" ]; then
  log "pg_regress for $pkg $version is built already ($dest)"
  printf '%s\n' "$dest"
  exit 0
fi

# The tools a configure and build of the C sources need. PostgreSQL 17's release sources
# no longer ship the generated parser and catalog headers, hence bison, flex and perl.
missing=()
for tool in gcc make perl bison flex dpkg-source; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing build tools: ${missing[*]}"
  apt_install gcc make perl bison flex dpkg-dev libc6-dev
fi

. /etc/os-release
work=$(mktemp -d /tmp/pg-regress-build.XXXXXX)
trap 'rm -rf "$work"' EXIT
# The installed version first; where its files are not reachable (a security update
# whose pool is not mirrored here), the release's own version: a minor version apart,
# the suite and regress.so still fit the server.
rc=0
src=$(fetch_debian_source "$work/exact" "$pkg=$version" "$VERSION_CODENAME" \
      "$VERSION_CODENAME-updates" "$VERSION_CODENAME-security") || rc=$?
if [ "$rc" -eq 3 ]; then
  rc=0
  src=$(fetch_debian_source "$work/release" "$pkg" "$VERSION_CODENAME" \
        "$VERSION_CODENAME-updates") || rc=$?
fi
if [ "$rc" -ne 0 ]; then
  [ "$rc" -eq 3 ] && exit 3
  die "could not fetch the $pkg source package"
fi
built=$(cd "$src" && dpkg-parsechangelog -S Version 2>/dev/null || echo unknown)

log "configuring PostgreSQL $built (for src/test/regress only)"
(cd "$src" && ./configure --without-readline --without-zlib --without-icu \
    --without-openssl --without-gssapi --without-ldap --without-libxml \
    --disable-rpath --prefix=/usr/lib/postgresql/"$major" >"$work/configure.log" 2>&1) \
  || { tail -n 20 "$work/configure.log" >&2; die "configure failed (log above)"; }

# psql too: the suite's scripts are written for the psql of their own version (a later
# minor version may read COPY ... FROM stdin data differently), and the installed
# server may be a security update whose source is not reachable.
log "building pg_regress, regress.so and psql (a few minutes)"
(make -C "$src/src/test/regress" -j"$(nproc)" && make -C "$src/src/bin/psql" -j"$(nproc)") \
    >"$work/make.log" 2>&1 \
  || { tail -n 30 "$work/make.log" >&2; die "the build of src/test/regress failed (log above)"; }
[ -x "$src/src/test/regress/pg_regress" ] && ls "$src"/src/test/regress/regress.so >/dev/null \
  && [ -x "$src/src/bin/psql/psql" ] || die "the build finished without pg_regress, regress.so or psql"

rm -rf "$dest"
mkdir -p "$dest/bin"
cp -a "$src/src/test/regress" "$dest/regress"
cp "$src/src/bin/psql/psql" "$dest/bin/psql"
# The server reads the test data files (COPY FROM a file) as its own OS user.
chmod -R a+rX "$dest"
printf '%s\n' "$built" > "$dest/.built"
log "built pg_regress from $pkg $built (server $version) in $dest"
printf '%s\n' "$dest"
