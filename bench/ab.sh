#!/usr/bin/env bash
# Before/after on the same machine: runs one bench section alternately on a
# base revision and on the working tree's HEAD, each in its own git worktree,
# and keeps every run's results.
#
#   [AB_LABEL=name] bash bench/ab.sh <base-rev> [rounds=2] [section=e2e]
#
# Results: bench/results/ab/<section>[-<label>]-{base,head}-<round>.md (and .json).
set -euo pipefail
base_rev=${1:?usage: bash bench/ab.sh <base-rev> [rounds] [section]}
rounds=${2:-2}
section=${3:-e2e}
name=$section${AB_LABEL:+-$AB_LABEL}
root=$(git rev-parse --show-toplevel)
work=$(mktemp -d)
out=$root/bench/results/ab
mkdir -p "$out"
cleanup() {
  for tree in base head; do git -C "$root" worktree remove --force "$work/$tree" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
git -C "$root" worktree add -q --detach "$work/base" "$base_rev"
git -C "$root" worktree add -q --detach "$work/head" HEAD
for tree in base head; do
  ln -s "$root/node_modules" "$work/$tree/node_modules"
  ln -s "$root/.local" "$work/$tree/.local"
done
for round in $(seq 1 "$rounds"); do
  for tree in base head; do
    cd "$work/$tree"
    echo "round $round, $tree at $(git rev-parse --short HEAD), load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%T) UTC"
    timeout 1800 node_modules/.bin/bun bench/run.ts --only "$section" --no-wait >"$out/$name-$tree-$round.log" 2>&1
    for ext in md json; do cp "bench/results/only-$section.$ext" "$out/$name-$tree-$round.$ext"; done
    grep -E 'confirmed orders/s at saturation|CPU ms by process' "$out/$name-$tree-$round.md" | head -2 || true
  done
done
