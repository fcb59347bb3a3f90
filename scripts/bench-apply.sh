#!/usr/bin/env bash
# Apply close to the critical path (DESIGN.md §5): a `sync all` from nothing — the lab's files (real
# dnsmasq, nginx and Traefik), the settings of GUESTS+4 guests and their firewall rule sets through
# fakepve (standing in for the Proxmox API) — with LATENCY ms added to every machine and API call
# (PHOENIX_TEST_LATENCY_MS, honoured only when set), release build.
#
#   scripts/bench-apply.sh [--latency-ms 100] [--parallelism 8] [--guests 50]
#
# Prints the wall time; the critical path of the resource graph (the longest chain, each resource
# costing what it took in this run — its calls × the latency, and what its service took to restart
# and answer — after the reads that plan it: 2 rounds of calls for the guests, 2 for the files, 3
# for the firewall's rule sets); all the work added up; a no-op `sync all` (0 writes, 0 reloads,
# one /cluster/resources call); and last `ratio <wall / critical path>`. --parallelism bounds each
# kind's walk: N guests, N firewall scopes and N file units (one per machine) at a time.
set -euo pipefail
cd "$(dirname "$0")/.."
latency=100 parallelism=8 guests=50
while [ $# -gt 0 ]; do
    case "$1" in
        --latency-ms) latency=$2; shift 2 ;;
        --parallelism) parallelism=$2; shift 2 ;;
        --guests) guests=$2; shift 2 ;;
        *) echo "usage: scripts/bench-apply.sh [--latency-ms N] [--parallelism N] [--guests N]" >&2; exit 64 ;;
    esac
done
scratch=${SCRATCH:-.build-release}
swift build -c release --scratch-path "$scratch" --product phoenix >/dev/null
phoenix=$PWD/$scratch/release/phoenix
lab=/tmp/phoenix-lab
scripts/lab.sh up >/dev/null 2>&1
work=$(mktemp -d /tmp/phoenix-bench-apply.XXXXXX)
fake=""
cleanup() {
    if [ -n "$fake" ]; then kill "$fake" 2>/dev/null || true; fi
    scripts/lab.sh down >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

# The lab's configuration with GUESTS more containers, each with its own settings and two rules.
cp -r Examples/lab/etc "$work/etc"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 - "$work" "$guests" "$lab" "$port" <<'PY'
import json, os, sys
work, count, lab, port = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
# The lab's Step-CA, Swarm manager and stack are not part of this benchmark.
hypervisor = json.load(open(work + "/etc/phoenix_hypervisor_config.json"))
hypervisor.pop("step_ca", None)
hypervisor["phoenix"].pop("step_ca", None)
hypervisor["phoenix"].pop("docker", None)
json.dump(hypervisor, open(work + "/etc/phoenix_hypervisor_config.json", "w"), indent=2)
json.dump({"vms": []}, open(work + "/etc/phoenix_vm_configs.json", "w"))
for name in ("phoenix_stacks_config.json", "certificate-manifest.json"):
    os.remove(work + "/etc/" + name)
path = work + "/etc/phoenix_lxc_configs.json"
config = json.load(open(path))
for index in range(count):
    config["lxc_configs"][str(300 + index)] = {
        "name": "bench-%d" % index, "clone_from_ctid": "900" if "900" in config["lxc_configs"] else None, "cores": 2, "memory_mb": 1024,
        "network_config": {"name": "eth0", "bridge": "vmbr100", "ip": "10.77.1.%d/24" % (10 + index)},
        "firewall": {"enabled": True, "rules": [
            {"type": "in", "action": "ACCEPT", "proto": "tcp", "port": "22", "source": "10.77.0.0/24", "comment": "ssh"},
            {"type": "in", "action": "ACCEPT", "proto": "tcp", "port": "%d" % (8000 + index), "comment": "app"}]}}
    if config["lxc_configs"][str(300 + index)]["clone_from_ctid"] is None:
        del config["lxc_configs"][str(300 + index)]["clone_from_ctid"]
json.dump(config, open(path, "w"), indent=2)
guests = [{"vmid": int(key), "name": value.get("name", key)} for key, value in config["lxc_configs"].items()]
spec = {"port": port, "directory": work, "cert": lab + "/pki/node.crt", "key": lab + "/pki/node.key",
        "tokens": {"root@pam!bench": "bench-token-secret"}, "containers": guests, "vms": []}
json.dump(spec, open(work + "/spec.json", "w"))
open(work + "/token", "w").write("root@pam!bench=bench-token-secret\n")
PY
chmod 600 "$work/token"
.venv-it/bin/python Tests/PhoenixIntegrationTests/Fixtures/fakepve_server.py "$work/spec.json" > "$work/fakepve.log" 2>&1 &
fake=$!
for _ in $(seq 100); do grep -q ready "$work/fakepve.log" && break; sleep 0.1; done
export PHOENIX_API=https://127.0.0.1:$port PHOENIX_API_CA=$lab/pki/ca.crt PHOENIX_API_TOKEN_FILE=$work/token
flags=(--config-dir "$work/etc" --stacks-dir Examples/lab/stacks --host-root "$lab/host" --guest-root "$lab/guests" --state "$work/state.sqlite" --progress none)

# From nothing: phoenix's files of the lab removed (the servers keep what they loaded), a new state.
rm -f "$lab/host/etc/dnsmasq.d/00-phoenix.conf" "$lab/host/etc/phoenix/dnsmasq/phoenix.hosts" "$lab/guests/101/etc/nginx/conf.d/phoenix-gateway.conf" \
    "$lab/guests/101/etc/nginx/stream.d/phoenix-gateway.conf" "$lab/guests/102/etc/traefik/traefik.yml" "$lab/guests/102/etc/traefik/dynamic/phoenix.yml"
rm -rf "$lab/host/etc/pve" "$lab/host/quickOS" "$lab/host/usr/local/share/ca-certificates"
"$phoenix" graph --resources --format json --firewall-through api --node pve-lab "${flags[@]:0:4}" > "$work/graph.json"
start=$(date +%s.%N)
PHOENIX_TEST_LATENCY_MS=$latency "$phoenix" sync all --firewall-through api --parallelism "$parallelism" --format json "${flags[@]}" > "$work/sync.json" \
    || { echo "the sync failed:"; python3 -m json.tool "$work/sync.json" | head -60; exit 1; }
end=$(date +%s.%N)

# The no-op: files-mode firewall (the .fw files the API run left alone go in first), then measured.
"$phoenix" sync all "${flags[@]}" > /dev/null
noop=$("$phoenix" sync all "${flags[@]}" --stats 2>&1 >/dev/null | grep '^stats')

python3 - "$work/graph.json" "$work/sync.json" "$latency" "$parallelism" "$start" "$end" "$noop" <<'PY'
import json, sys
graph, sync = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
latency, parallelism = float(sys.argv[3]) / 1000, int(sys.argv[4])
wall = float(sys.argv[6]) - float(sys.argv[5])
nodes = {node["id"]: node for node in graph["resources"]}
# What each resource took: a file unit's time is its resources' (they converge as one), a guest's
# and a firewall scope's their own; never less than its calls × the latency. Resources that
# changed nothing cost nothing.
cost, unit_of = {}, {}
def took(item):
    return max(item.get("seconds", 0), item.get("calls", 0) * latency)
for unit in sync.get("units", []):
    for resource in unit["resources"]:
        unit_of[resource] = unit["unit"]
    cost["unit:" + unit["unit"]] = took(unit)
for change in sync.get("guests", {}).get("changes", []):
    cost["guest:" + change["id"]] = took(change)
for scope in sync.get("firewall_api", {}).get("scopes", []):
    cost[scope["id"]] = took(scope)
planning = {"guest-settings": 2, "file": 2, "firewall-rules": 3}
def key(resource):
    return "unit:" + unit_of[resource] if resource in unit_of else resource
finish = {}
def done(resource):
    k = key(resource)
    if k in finish:
        return finish[k]
    node = nodes.get(resource)
    members = [r for r in nodes if key(r) == k] or [resource]
    start = max(planning.get(nodes[m]["kind"], 0) * latency for m in members if m in nodes) if node else 0
    for member in members:
        for dependency in nodes.get(member, {}).get("depends_on", []):
            if key(dependency) != k:
                start = max(start, done(dependency))
    finish[k] = start + cost.get(k, 0)
    return finish[k]
chain = max([done(resource) for resource in nodes] + [0])
work = sum(cost.values())
guests = len(sync.get("guests", {}).get("changes", []))
scopes = len([s for s in sync.get("firewall_api", {}).get("scopes", []) if s.get("calls")])
units = len(sync.get("units", []))
print("sync all from nothing: %d guests changed, %d firewall scopes, %d file units, %d ms per call, %d at a time" % (guests, scopes, units, latency * 1000, parallelism))
print("wall %.2f s" % wall)
print("critical path %.2f s (the longest chain through the resource graph)" % chain)
print("all the work added up %.2f s" % work)
print("no-op " + sys.argv[7])
print("ratio %.2f" % (wall / chain))
PY
