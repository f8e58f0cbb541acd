#!/usr/bin/env bash
# Container tools for building the images and running compose.yaml without a
# Docker engine, idempotent:
#   - podman, buildah, runc (+ catatonit for `init: true`, netavark and
#     aardvark-dns for service names on compose networks) from the machine's
#     own apt (Debian 12: podman 4.3);
#   - Docker Compose v2 from a newer Debian release's `docker-compose` package
#     (COMPOSE_APT_SUITE, default trixie), fetched with apt from the mirror this
#     machine already uses into a private apt folder and unpacked with dpkg -x
#     into .local/container-tools/docker/cli-plugins/ (use it as a docker CLI
#     plugin via DOCKER_CONFIG, or run that binary directly: it also works standalone);
#   - .local/container-tools/containers.conf, used via CONTAINERS_CONF.
# Nothing but the apt packages is installed system-wide; no mirror host is written here.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
tools="$root/.local/container-tools"
suite="${COMPOSE_APT_SUITE:-trixie}"
plugin="$tools/docker/cli-plugins/docker-compose"
mkdir -p "$tools"

# 1. podman and friends from the system's apt.
packages=(podman buildah runc catatonit netavark aardvark-dns iptables)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  command -v apt-get >/dev/null || { echo "apt-get not found: install ${missing[*]} yourself" >&2; exit 1; }
  echo "installing ${missing[*]} with apt"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -qq update
  apt-get -qq install -y --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "podman $(podman --version | awk '{print $3}'), buildah $(buildah --version | awk '{print $3}'), $(runc --version | head -1)"

# 2. Docker Compose v2 from the newer release, unpacked privately.
if [ ! -x "$plugin" ]; then
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

  work="$tools/apt"
  mkdir -p "$work/lists/partial" "$work/archives/partial"
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
  echo "fetching docker-compose from $suite ($uri)"
  apt-get "${apt_opts[@]}" -qq update
  (cd "$work/archives" && apt-get "${apt_opts[@]}" -qq download docker-compose)
  deb="$(ls -t "$work/archives"/docker-compose_*.deb | head -1)"
  rm -rf "$tools/docker-compose-deb"
  dpkg -x "$deb" "$tools/docker-compose-deb"
  found="$(find "$tools/docker-compose-deb" -type f -name docker-compose -perm -u+x | head -1)"
  [ -n "$found" ] || { echo "no docker-compose binary in $deb" >&2; exit 1; }
  mkdir -p "$(dirname "$plugin")"
  cp "$found" "$plugin"
  rm -rf "$tools/docker-compose-deb"
fi
echo "docker compose $("$plugin" version --short) at $plugin"

# 3. The private containers.conf (rewritten every time: it is ours).
cat > "$tools/containers.conf" <<'CONF'
# Written by scripts/container/install-tools.sh; used via CONTAINERS_CONF.
[containers]
# The sandbox's hard limits; podman's defaults (nofile 1048576) exceed them.
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[network]
# netavark + aardvark-dns: compose services find each other by name.
network_backend = "netavark"

[engine]
# crun fails on this machine's cgroup hybrid mode.
runtime = "runc"
# No registry is reachable: every image must already be local.
pull_policy = "never"
CONF
echo "containers.conf at $tools/containers.conf (export CONTAINERS_CONF=$tools/containers.conf)"
