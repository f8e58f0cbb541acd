#!/usr/bin/env bash
# Fetch a nats-server >= 2.10 into .local/nats-server/ on Debian/Ubuntu.
#
# The distribution's own package may be too old (Debian 12 ships 2.9), so this
# asks apt for the package of a newer release (NATS_APT_SUITE, default trixie)
# from the mirror this machine is already configured to use, downloads it into
# a private apt state folder and unpacks it with dpkg -x. Nothing is installed
# system-wide and no mirror host is written here.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/.local/nats-server"
suite="${NATS_APT_SUITE:-trixie}"

if [ -x "$dest/usr/sbin/nats-server" ]; then
  echo "nats-server already at $dest/usr/sbin/nats-server: $("$dest/usr/sbin/nats-server" --version)"
  exit 0
fi
# shellcheck source=lib/apt-download.sh
. "$root/scripts/lib/apt-download.sh"
mkdir -p "$dest"
deb="$(apt_download "$suite" nats-server "$root/.local/apt")"
dpkg -x "$deb" "$dest"
"$dest/usr/sbin/nats-server" --version
