#!/usr/bin/env bash
# Benchmarks for the sync engine (release build):
#  1. the no-op `sync all` on the lab's one estate (scripts/lab.sh up first): wall time, round trips to
#     the machines and APIs, commands, writes, reloads, deploys and signs (all four must be 0);
#  2. `plan` on a synthetic estate of 1,000 guests, 10,000 rules, 200 stacks, 500 certificates
#     against empty host and guest folders (every resource is a create).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-5}
swift build -c release --scratch-path .build-release --product phoenix >/dev/null
swift build -c release --scratch-path .build-release --product phoenix-bench >/dev/null
phoenix=.build-release/release/phoenix

scripts/lab.sh up >/dev/null 2>&1
lab=/tmp/phoenix-lab
# The lab's estate and its target options (the guests on fakepve, the Step-CA, the Swarm): one no-op sync all.
flags=(--config-dir Examples/lab/etc --stacks-dir Examples/lab/stacks --host-root "$lab/host" --guest-root "$lab/guests" --state "$lab/state.sqlite"
    --api https://127.0.0.1:18006 --api-ca "$lab/pki/ca.crt" --api-token-file "$lab/pve/token")
echo "no-op sync all on the lab ($runs runs):"
for _ in $(seq "$runs"); do
    /usr/bin/time -f "  process: %e s wall, %M KB peak" "$phoenix" sync all "${flags[@]}" --stats --progress none 2>&1 >/dev/null | sed 's/^stats/  stats/'
done

estate=/tmp/phoenix-bench-1k
rm -rf "$estate"
.build-release/release/phoenix-bench --write "$estate" 1000 10000 200 500 >/dev/null
mkdir -p "$estate/host" "$estate/guests"
echo "plan on 1,000 guests, 10,000 rules, 200 stacks, 500 certificates ($runs runs):"
for _ in $(seq "$runs"); do
    /usr/bin/time -f "  process: %e s wall, %M KB peak" "$phoenix" plan --config-dir "$estate/etc" --stacks-dir "$estate/stacks" --host-root "$estate/host" --guest-root "$estate/guests" \
        --state "$estate/state.sqlite" --node pve --stats 2>&1 >/dev/null | sed 's/^stats/  stats/'
done
rm -rf "$estate"
scripts/lab.sh down >/dev/null 2>&1
