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
  # shellcheck source=../lib/apt-download.sh
  . "$root/scripts/lib/apt-download.sh"
  deb="$(apt_download "$suite" docker-compose "$tools/apt")"
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
