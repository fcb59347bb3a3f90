#!/usr/bin/env bash
# The Swarm benchmark (release build), on a real dockerd (Debian's docker.io) in a network namespace
# of its own, with STACKS stacks (default 50) of one busybox service each:
#  1. the first `sync swarm services stacks`: init, network, secret, every stack deployed and converged;
#  2. a no-op `sync swarm services stacks` (RUNS times): wall time, Engine API calls (one list per
#     kind, not one per service), deploy calls (must be 0);
#  3. a change to one stack of them: exactly one deploy.
# As root (it starts dockerd); cleans up after itself.
set -euo pipefail
cd "$(dirname "$0")/.."
stacks=${STACKS:-50}
runs=${RUNS:-5}
work=/tmp/phoenix-bench-swarm
ns=phoenix-bench-docker
for program in dockerd docker busybox python3 nsenter; do
    command -v "$program" >/dev/null || { echo "bench-swarm: $program is missing (scripts/test.sh installs docker.io, busybox-static and the rest)" >&2; exit 1; }
done
# shellcheck source=lib/dockerd.sh
. scripts/lib/dockerd.sh
# shellcheck source=lib/swarm-estate.sh
. scripts/lib/swarm-estate.sh
swift build -c release --scratch-path .build-release --product phoenix >/dev/null
phoenix=$PWD/.build-release/release/phoenix

dockerd_down "$work/docker" "$ns"
rm -rf "$work"
mkdir -p "$work/docker"
trap 'dockerd_down "$work/docker" "$ns"; rm -rf "$work"' EXIT
dockerd_up "$work/docker" "$ns" bench-manager 10.211.0.1

swarm_estate "$work" "$stacks" "$work/docker/docker.sock"
flags=(--config-dir "$work/etc" --stacks-dir "$work/stacks" --state "$work/state.sqlite" --parallelism 8 --progress none)
figures() { python3 -c 'import json,sys; d=json.load(sys.stdin); s=d.get("stacks",{}); print("deploys", s.get("deploys"), "engine_api_calls", s.get("calls"), "succeeded", d.get("succeeded"))'; }

start=$(date +%s.%N)
"$phoenix" sync swarm services stacks "${flags[@]}" --format json | figures | sed 's/^/  /' > "$work/first.txt"
end=$(date +%s.%N)
printf 'first sync of %d stacks (deploy and wait for every one): %.1f s wall\n' "$stacks" "$(echo "$end - $start" | awk '{print $1 - $3}')"
cat "$work/first.txt"
echo "no-op sync swarm services stacks with $stacks stacks ($runs runs):"
for _ in $(seq "$runs"); do
    start=$(date +%s.%N)
    line=$("$phoenix" sync swarm services stacks "${flags[@]}" --format json | figures)
    end=$(date +%s.%N)
    printf '  %.3f s wall, %s\n' "$(echo "$end - $start" | awk '{print $1 - $3}')" "$line"
done
pick=$(printf 's%02d' $(( (stacks + 1) / 2 )))
sed -i "s/STACK=$pick/STACK=$pick-changed/" "$work/stacks/$pick/docker-compose.yml"
start=$(date +%s.%N)
line=$("$phoenix" sync swarm services stacks "${flags[@]}" --format json | figures)
end=$(date +%s.%N)
printf 'a change to one stack of %d: %.1f s wall, %s\n' "$stacks" "$(echo "$end - $start" | awk '{print $1 - $3}')" "$line"
