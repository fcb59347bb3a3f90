#!/usr/bin/env bash
# The guest lifecycle of the example estate against fakepve (PyPI: a third-party fake Proxmox VE 9
# API, used here as a stand-in for a real node): letsgo (create, converge, start), status, a
# converge plan, stop, and delete — every call through the Proxmox API, as on a real cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build --product phoenix >/dev/null
[ -x .venv-it/bin/python ] || python3 -m venv .venv-it
.venv-it/bin/python -c 'import fakepve' 2>/dev/null || .venv-it/bin/pip install -q 'fakepve[crypto]'

work=$(mktemp -d /tmp/phoenix-pve-example.XXXXXX)
trap 'kill "$(cat "$work/pid" 2>/dev/null)" 2>/dev/null || true; rm -rf "$work"' EXIT
# A CA standing in for the cluster's pve-root-ca.pem, and the node's certificate it signs.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/ca.key" -out "$work/pve-root-ca.pem" -days 2 \
    -subj "/CN=example PVE root" -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/node.key" -out "$work/node.csr" -subj "/CN=pve1" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' > "$work/node.ext"
openssl x509 -req -in "$work/node.csr" -CA "$work/pve-root-ca.pem" -CAkey "$work/ca.key" -CAcreateserial -days 2 -extfile "$work/node.ext" \
    -out "$work/node.crt" 2>/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat > "$work/spec.json" <<JSON
{"port": $port, "directory": "$work", "cert": "$work/node.crt", "key": "$work/node.key",
 "tokens": {"root@pam!phoenix": "example-token-secret"}, "containers": [], "vms": []}
JSON
.venv-it/bin/python Tests/PhoenixIntegrationTests/Fixtures/fakepve_server.py "$work/spec.json" > "$work/fakepve.log" 2>&1 &
echo $! > "$work/pid"
for _ in $(seq 50); do grep -q ready "$work/fakepve.log" && break; sleep 0.2; done
echo 'root@pam!phoenix=example-token-secret' > "$work/token"
chmod 600 "$work/token"
export PHOENIX_API="https://127.0.0.1:$port" PHOENIX_API_CA="$work/pve-root-ca.pem" PHOENIX_API_TOKEN_FILE="$work/token"
export PHOENIX_STATE="$work/state.sqlite"   # converge's records of each guest, and the history
phoenix=(.build/debug/phoenix)
config=(--config-dir Examples/estate/etc)
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
say "phoenix create --dry-run: the waves and lanes creation takes"
"${phoenix[@]}" create --dry-run "${config[@]}"
say "phoenix letsgo: create (templates first), converge, start in dependency order"
"${phoenix[@]}" letsgo "${config[@]}"
say "phoenix status (one API call)"
"${phoenix[@]}" status "${config[@]}" --stats
say "phoenix converge --dry-run: nothing to change, one API call (the guests converged by letsgo are not read again)"
"${phoenix[@]}" converge --dry-run --stats "${config[@]}" | tail -2
say "phoenix firewall --dry-run: the firewall through the API"
"${phoenix[@]}" firewall --dry-run "${config[@]}" | tail -4
say "phoenix stop 102: what needs Traefik stops first"
"${phoenix[@]}" stop 102 "${config[@]}"
say "phoenix delete 110 1002"
"${phoenix[@]}" delete 110 1002 "${config[@]}"
"${phoenix[@]}" status "${config[@]}"
