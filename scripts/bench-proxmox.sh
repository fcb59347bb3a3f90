#!/usr/bin/env bash
# Benchmark of the API commands against fakepve (release build): `status` and `converge --dry-run`
# (the guest plan) for an estate of 200 guests that all exist on the fake cluster; API calls counted:
# never converged, after a converge with nothing changed, with one guest changed, and --refresh.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-5}
guests=${GUESTS:-200}
swift build -c release --scratch-path .build-release --product phoenix >/dev/null
swift build -c release --scratch-path .build-release --product phoenix-bench >/dev/null
[ -x .venv-it/bin/python ] || python3 -m venv .venv-it
.venv-it/bin/python -c 'import fakepve' 2>/dev/null || .venv-it/bin/pip install -q 'fakepve[crypto]'

work=$(mktemp -d /tmp/phoenix-bench-pve.XXXXXX)
trap 'kill "$(cat "$work/pid" 2>/dev/null)" 2>/dev/null || true; rm -rf "$work"' EXIT
.build-release/release/phoenix-bench --write "$work/estate" "$guests" $((guests * 10)) $((guests / 5)) $((guests / 2)) >/dev/null
# A CA and a node certificate, as the cluster's pve-root-ca.pem signs a node's.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/ca.key" -out "$work/ca.crt" -days 2 \
    -subj "/CN=bench CA" -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/node.key" -out "$work/node.csr" -subj "/CN=pve1" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' > "$work/node.ext"
openssl x509 -req -in "$work/node.csr" -CA "$work/ca.crt" -CAkey "$work/ca.key" -CAcreateserial -days 2 -extfile "$work/node.ext" -out "$work/node.crt" 2>/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 - "$work" "$port" <<'PY'
import json, sys
work, port = sys.argv[1], int(sys.argv[2])
lxc = json.load(open(f"{work}/estate/etc/phoenix_lxc_configs.json"))["lxc_configs"]
vms = json.load(open(f"{work}/estate/etc/phoenix_vm_configs.json"))["vms"]
spec = {"port": port, "directory": work, "cert": f"{work}/node.crt", "key": f"{work}/node.key",
        "tokens": {"root@pam!bench": "bench-secret"},
        "containers": [{"vmid": int(k), "name": v["name"], "status": "running"} for k, v in lxc.items()],
        "vms": [{"vmid": v["vmid"], "name": v["name"], "status": "running"} for v in vms]}
json.dump(spec, open(f"{work}/spec.json", "w"))
PY
.venv-it/bin/python Tests/PhoenixIntegrationTests/Fixtures/fakepve_server.py "$work/spec.json" > "$work/fakepve.log" 2>&1 &
echo $! > "$work/pid"
for _ in $(seq 50); do grep -q ready "$work/fakepve.log" && break; sleep 0.2; done
echo 'root@pam!bench=bench-secret' > "$work/token"
export PHOENIX_API="https://127.0.0.1:$port" PHOENIX_API_CA="$work/ca.crt" PHOENIX_API_TOKEN_FILE="$work/token"
export PHOENIX_STATE="$work/state.sqlite"
flags=(--config-dir "$work/estate/etc" --stacks-dir "$work/estate/stacks" --stats)
measure() { # label, then the phoenix arguments
    local label=$1; shift
    echo "$label ($runs runs):"
    for _ in $(seq "$runs"); do .build-release/release/phoenix "$@" "${flags[@]}" 2>&1 >/dev/null | sed 's/^/  /'; done
}
measure "status, $guests guests" status
measure "converge --dry-run, never converged (every guest read)" converge --dry-run
.build-release/release/phoenix converge "${flags[@]}" >/dev/null 2>&1
measure "converge --dry-run after a converge, nothing changed (the bulk read alone)" converge --dry-run
# One guest's cores changed in the configuration: one more read.
python3 - "$work/estate/etc/phoenix_lxc_configs.json" <<'PY'
import json, sys
path = sys.argv[1]
data = json.load(open(path))
first = sorted(data["lxc_configs"], key=int)[0]
data["lxc_configs"][first]["cores"] = data["lxc_configs"][first].get("cores", 1) + 1
json.dump(data, open(path, "w"))
PY
measure "converge --dry-run, one guest changed in the configuration" converge --dry-run
measure "converge --dry-run --refresh (every guest read)" converge --dry-run --refresh
