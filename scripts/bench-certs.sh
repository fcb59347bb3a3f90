#!/usr/bin/env bash
# The certificates benchmark (release build) against a real step-ca (scripts/lib/stepca.sh), with
# CERTS certificates (default 500): half on the host only, half also installed in VM 1001 (a folder
# standing in for the guest agent, --guest-root):
#  1. the first `sync certs`: every certificate signed and installed;
#  2. `certs status` (RUNS times): wall time, peak memory, round trips (one bulk read per machine);
#  3. a no-op `sync certs` (RUNS times): wall time, round trips, sign calls (must be 0).
set -euo pipefail
cd "$(dirname "$0")/.."
certs=${CERTS:-500}
runs=${RUNS:-3}
work=/tmp/phoenix-bench-certs
for program in openssl python3 curl /usr/bin/time; do
    command -v "$program" >/dev/null || { echo "bench-certs: $program is missing (scripts/test.sh installs it)" >&2; exit 1; }
done
stepca=$(scripts/lib/stepca.sh build)
swift build -c release --scratch-path .build-release --product phoenix >/dev/null
phoenix=$PWD/.build-release/release/phoenix

rm -rf "$work"
mkdir -p "$work/etc" "$work/host" "$work/guests"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
scripts/lib/stepca.sh init "$work/host/ca" "$port"
"$stepca" "$work/host/ca/ca.json" > "$work/step-ca.log" 2>&1 &
ca_pid=$!
trap 'kill "$ca_pid" 2>/dev/null; wait "$ca_pid" 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
for _ in $(seq 100); do curl -sf --cacert "$work/host/ca/certs/root_ca.crt" "https://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done

cat > "$work/etc/phoenix_hypervisor_config.json" <<JSON
{"domain_name": "bench.example.net", "network": {"interfaces": {"address": "10.212.0.254/24"}},
 "step_ca": {"provisioner_name": "phoenix"},
 "phoenix": {"step_ca": {"url": "https://127.0.0.1:$port", "password_file": "/ca/password.txt", "root_file": "/ca/certs/root_ca.crt"}}}
JSON
echo '{"lxc_configs": {}}' > "$work/etc/phoenix_lxc_configs.json"
echo '{"vms": [{"vmid": 1001, "name": "bench-vm", "network_config": {"ip": "10.212.0.1/24"}}]}' > "$work/etc/phoenix_vm_configs.json"
python3 - "$certs" > "$work/etc/certificate-manifest.json" <<'PY'
import json, sys
n = int(sys.argv[1])
entries = []
for i in range(n):
    name = f"c{i:04d}.bench.example.net"
    entry = {"common_name": name, "sans": [name, f"10.212.{i // 250}.{i % 250 + 1}"],
             "cert_path": f"/certs/{i:04d}.crt", "key_path": f"/certs/{i:04d}.key"}
    if i % 2:
        entry.update({"guest_id": 1001, "guest_type": "vm", "guest_cert_path": f"/etc/ssl/bench/{i:04d}.crt",
                      "guest_key_path": f"/etc/ssl/bench/{i:04d}.key"})
    entries.append(entry)
print(json.dumps(entries))
PY
flags=(--config-dir "$work/etc" --state "$work/state.sqlite" --host-root "$work/host" --guest-root "$work/guests" --progress none)
signs() { grep -c 'path=/1.0/sign .*status=201' "$work/step-ca.log" || true; }

start=$(date +%s.%N)
"$phoenix" sync certs "${flags[@]}" > "$work/first.txt"
end=$(date +%s.%N)
printf 'first sync certs of %d certificates: %.1f s wall, %s sign calls\n' "$certs" "$(echo "$end $start" | awk '{print $1 - $2}')" "$(signs)"
echo "certs status with $certs certificates ($runs runs):"
for _ in $(seq "$runs"); do
    /usr/bin/time -f '%e %M' -o "$work/time" "$phoenix" certs status "${flags[@]}" --stats > "$work/status.txt" 2> "$work/stats.txt"
    read -r wall rss < "$work/time"
    printf '  %s s wall, %d MB peak, %s\n' "$wall" "$((rss / 1024))" "$(grep -o '[0-9]* round trips ([^)]*)' "$work/stats.txt")"
done
before=$(signs)
echo "no-op sync certs with $certs certificates ($runs runs):"
for _ in $(seq "$runs"); do
    /usr/bin/time -f '%e %M' -o "$work/time" "$phoenix" sync certs "${flags[@]}" --stats > "$work/noop.txt" 2> "$work/stats.txt"
    read -r wall rss < "$work/time"
    printf '  %s s wall, %d MB peak, %s, %s\n' "$wall" "$((rss / 1024))" "$(grep -o '[0-9]* round trips ([^)]*)' "$work/stats.txt")" "$(tail -1 "$work/noop.txt")"
done
printf 'sign calls during the no-op runs: %d\n' "$(( $(signs) - before ))"
