# Shared by scripts/install-server.sh and scripts/build-pg-regress.sh (sourced, not run):
# logging, package installation, and downloading a Debian source package through a
# PRIVATE apt directory. The system's apt sources are never changed: a deb-src list is
# written into a temporary directory, reusing the mirror URIs the system is already
# configured with (no host name is written here).
#
# The caller sets LOG_TAG (the name in log lines) before sourcing.

log() { printf '%s: %s\n' "${LOG_TAG:-script}" "$*" >&2; }
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

# debian_mirror archive|security: the URI the system uses for the Debian archive (or for
# its security archive); empty when there is none.
debian_mirror() {
  local f uri
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    if [ "$1" = security ]; then
      uri=$(awk '/^URIs:/ {print $2}' "$f" | grep -- '-security' | head -n1 || true)
    else
      uri=$(awk '/^URIs:/ {print $2}' "$f" | grep -v -- '-security' | head -n1 || true)
    fi
    if [ -n "$uri" ]; then printf '%s\n' "$uri"; return; fi
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    uri=$(awk -v want="$1" '$1=="deb" && (want=="security") == ($0 ~ /security/) {
            for (i=2;i<=NF;i++) if ($i ~ /^[a-z+]+:\/\//) {print $i; exit}}' "$f")
    if [ -n "$uri" ]; then printf '%s\n' "$uri"; return; fi
  done
}

# fetch_debian_source WORKDIR PACKAGE[=VERSION] SUITE...: download the source package
# from the given suites (a suite ending in -security comes from the security archive)
# into WORKDIR/src and unpack it; prints the unpacked directory. Returns 3 (and says
# why) when no deb-src for it is reachable, so callers can tell that from a failure.
fetch_debian_source() {
  local work="$1" pkg="$2" suite uri list lines=0 dsc
  shift 2
  mkdir -p "$work/lists/partial" "$work/archives/partial" "$work/src"
  list="$work/sources.list"
  : > "$list"
  for suite in "$@"; do
    case "$suite" in
      *-security) uri=$(debian_mirror security) ;;
      *) uri=$(debian_mirror archive) ;;
    esac
    [ -n "$uri" ] || continue
    printf 'deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s %s main\n' \
      "$uri" "$suite" >> "$list"
    lines=$((lines + 1))
  done
  if [ "$lines" -eq 0 ]; then
    log "no Debian mirror URI found in /etc/apt/sources.list.d/ or /etc/apt/sources.list"
    return 3
  fi
  local aptopts=(-o "Dir::Etc::SourceList=$list" -o "Dir::Etc::SourceParts=/dev/null"
                 -o "Dir::State::Lists=$work/lists" -o "Dir::Cache::Archives=$work/archives"
                 -o "APT::Sandbox::User=root")
  log "fetching the $pkg source package ($*)"
  if ! apt-get "${aptopts[@]}" update -qq >&2; then
    log "the deb-src indexes of $* are not reachable"
    return 3
  fi
  if ! (cd "$work/src" && apt-get "${aptopts[@]}" source --download-only -qq "$pkg" >&2); then
    log "no deb-src for $pkg is reachable in $*"
    return 3
  fi
  dsc=$(ls "$work"/src/*.dsc 2>/dev/null | head -n1)
  [ -n "$dsc" ] || { log "apt did not download the $pkg source package"; return 3; }
  (cd "$work/src" && dpkg-source --no-check -x "$(basename "$dsc")" unpacked >/dev/null) \
    || die "dpkg-source could not unpack $(basename "$dsc")"
  printf '%s\n' "$work/src/unpacked"
}
