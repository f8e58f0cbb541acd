#!/usr/bin/env bash
# Local stand-ins for the base images of scripts/container/Containerfile, built
# on this host because no container registry can be reached here:
#   $RUNTIME_IMAGE (localhost/order-saga-base:local), for gcr.io/distroless/base-debian12:
#     FROM scratch + the glibc files `ldd` lists for the Bun runtime and nats-server,
#     /etc/passwd and /etc/group with root and nonroot (65532), /tmp mode 1777;
#   $BUILDER_IMAGE (localhost/order-saga-bun:local), for docker.io/oven/bun:
#     that base + the pinned Bun (node_modules/bun/bin/bun.exe) as /usr/local/bin/bun.
# Pass them as build arguments (the compose test does). Also makes sure the
# project nats-server the nats image copies is there and new enough
# (scripts/fetch-nats-server.sh). Idempotent: unchanged inputs hit podman's
# layer cache. Needs podman (scripts/container/install-tools.sh).
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
RUNTIME_IMAGE="${RUNTIME_IMAGE:-localhost/order-saga-base:local}"
BUILDER_IMAGE="${BUILDER_IMAGE:-localhost/order-saga-bun:local}"
bun="${BUN_EXE:-$root/node_modules/bun/bin/bun.exe}"
nats="$root/.local/nats-server/usr/sbin/nats-server"
conf="$root/.local/container-tools/containers.conf"
if [ -z "${CONTAINERS_CONF:-}" ] && [ -f "$conf" ]; then export CONTAINERS_CONF="$conf"; fi

command -v podman >/dev/null || { echo "podman not found: run scripts/container/install-tools.sh" >&2; exit 1; }
[ -x "$bun" ] || { echo "no Bun runtime at $bun: run npm ci" >&2; exit 1; }
bash "$root/scripts/fetch-nats-server.sh" >/dev/null
[ -x "$nats" ] || { echo "no nats-server at $nats" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
rootfs="$work/base/rootfs"
mkdir -p "$rootfs/etc" "$rootfs/tmp"
chmod 1777 "$rootfs/tmp"

# Every library ldd lists (absolute paths), at its path and, for a symlink, its target too.
for lib in $( { ldd "$bun"; ldd "$nats"; } | grep -oE '/[^ ]+' | sort -u); do
  for path in "$lib" "$(readlink -f "$lib")"; do
    mkdir -p "$rootfs$(dirname "$path")"
    cp -a "$path" "$rootfs$path"
  done
done
# Debian's merged /usr: /lib64 and /lib are symlinks on the host; keep that shape.
for dir in lib lib64; do
  if [ -L "/$dir" ] && [ -d "$rootfs/$dir" ]; then
    mkdir -p "$rootfs/usr/$dir"
    cp -a "$rootfs/$dir/." "$rootfs/usr/$dir/" && rm -rf "${rootfs:?}/$dir"
    ln -s "usr/$dir" "$rootfs/$dir"
  fi
done

cat > "$rootfs/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
PASSWD
cat > "$rootfs/etc/group" <<'GROUP'
root:x:0:
nonroot:x:65532:
GROUP
echo 'hosts: files dns' > "$rootfs/etc/nsswitch.conf"

build() { # tag context  (the Containerfile comes on stdin)
  podman build --quiet --format docker --pull=never -t "$1" -f - "$2" >/dev/null
  echo "$1: $(podman image inspect --format '{{.Size}}' "$1") bytes"
}

# COPY of the whole tree keeps /tmp's mode 1777 (COPY of the folder alone does not).
printf 'FROM scratch\nCOPY rootfs/ /\n' | build "$RUNTIME_IMAGE" "$work/base"

mkdir -p "$work/bun"
cp "$bun" "$work/bun/bun"
printf 'FROM %s\nCOPY --chmod=0755 bun /usr/local/bin/bun\nENV PATH=/usr/local/bin:/usr/bin:/bin\n' "$RUNTIME_IMAGE" | build "$BUILDER_IMAGE" "$work/bun"
