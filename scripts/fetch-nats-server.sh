#!/usr/bin/env bash
# Fetch a nats-server >= the project's minimum (MIN_NATS_SERVER_VERSION in
# shared/nats/server-version.ts) into .local/nats-server/ on Debian/Ubuntu.
#
# Debian's stable releases ship too old a server (Debian 12: 2.9, Debian 13:
# 2.10), so this asks apt for the package of Debian's newest suite (sid, then
# forky if sid has none; NATS_APT_SUITE=<suite> asks only that one) from the
# mirror this machine is already configured to use, downloads it into a
# private apt state folder and unpacks it with dpkg -x. A copy already there
# and new enough is kept; an older one is replaced (only once a new one is
# unpacked and checked). Nothing is installed system-wide and no mirror host is
# written here.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/.local/nats-server"
bin="usr/sbin/nats-server"
suites="${NATS_APT_SUITE:-sid forky}"
min="$(sed -n "s/^export const MIN_NATS_SERVER_VERSION = '\([^']*\)'.*/\1/p" "$root/shared/nats/server-version.ts")"
[ -n "$min" ] || { echo "MIN_NATS_SERVER_VERSION not found in shared/nats/server-version.ts" >&2; exit 1; }

# version_of BINARY: "2.15.1" from "nats-server: v2.15.1", empty when it does not run.
version_of() {
  "$1" --version 2>/dev/null | grep -oE '[0-9]+\.[0-9]+\.[0-9]+' | head -1 || true
}
# new_enough VERSION: VERSION >= $min (sort -V order).
new_enough() {
  [ -n "$1" ] && [ "$(printf '%s\n%s\n' "$min" "$1" | sort -V | head -1)" = "$min" ]
}

if [ -x "$dest/$bin" ]; then
  have="$(version_of "$dest/$bin")"
  if new_enough "$have"; then
    echo "nats-server already at $dest/$bin: v$have (>= $min)"
    exit 0
  fi
  echo "nats-server at $dest/$bin is v${have:-unknown}, older than $min: fetching a newer one" >&2
fi

# shellcheck source=lib/apt-download.sh
. "$root/scripts/lib/apt-download.sh"
unpacked="$root/.local/nats-server.new"
for suite in $suites; do
  if ! deb="$(apt_download "$suite" nats-server "$root/.local/apt")"; then
    echo "no nats-server package from $suite" >&2
    continue
  fi
  rm -rf "$unpacked"
  dpkg -x "$deb" "$unpacked"
  got="$(version_of "$unpacked/$bin")"
  if ! new_enough "$got"; then
    echo "nats-server from $suite is v${got:-unknown}, older than $min" >&2
    continue
  fi
  rm -rf "$dest"
  mv "$unpacked" "$dest"
  echo "nats-server v$got from $suite at $dest/$bin"
  exit 0
done
rm -rf "$unpacked"
echo "no nats-server >= $min from suites: $suites (set NATS_APT_SUITE, or NATS_SERVER_BIN to a binary of your own)" >&2
exit 1
