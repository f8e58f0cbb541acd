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
command -v apt-get >/dev/null || { echo "apt-get not found: install nats-server >= 2.10 yourself (see README)" >&2; exit 1; }

# The machine's own mirror: first deb822 URIs line, else the first deb line.
uri=""
for f in /etc/apt/sources.list.d/*.sources; do
  [ -f "$f" ] || continue
  uri="$(awk '/^URIs:/ {print $2; exit}' "$f")"
  case "$uri" in *security*) uri="";; esac
  [ -n "$uri" ] && break
done
if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
  uri="$(awk '$1=="deb" && $0 !~ /security/ {for (i=2;i<=NF;i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' /etc/apt/sources.list)"
fi
[ -n "$uri" ] || { echo "no apt mirror configured on this machine" >&2; exit 1; }

work="$root/.local/apt"
mkdir -p "$work/lists/partial" "$work/archives/partial" "$dest"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
signed=""
[ -f "$keyring" ] && signed="signed-by=$keyring"
echo "deb [${signed}] $uri $suite main" > "$work/sources.list"

apt_opts=(
  -o "APT::Sandbox::User=root"
  -o "Dir::Etc::SourceList=$work/sources.list"
  -o "Dir::Etc::SourceParts=/dev/null"
  -o "Dir::State::Lists=$work/lists"
  -o "Dir::Cache::Archives=$work/archives"
  -o "Dir::State::status=/dev/null"
  -o "APT::Get::List-Cleanup=0"
)
echo "fetching nats-server from $suite ($uri)"
apt-get "${apt_opts[@]}" -qq update
(cd "$work/archives" && apt-get "${apt_opts[@]}" -qq download nats-server)
deb="$(ls -t "$work/archives"/nats-server_*.deb | head -1)"
dpkg -x "$deb" "$dest"
"$dest/usr/sbin/nats-server" --version
