# The benchmarks' Swarm estate: one manager (VM 1001) on a dockerd reached at SOCKET, and STACKS
# stacks s01, s02, … of one busybox service each. Source this file.
#   swarm_estate DIR STACKS SOCKET   writes DIR/etc (the configuration) and DIR/stacks (compose files)

swarm_estate() {
    local dir=$1 stacks=$2 socket=$3 names name
    mkdir -p "$dir/etc" "$dir/stacks"
    names=$(seq -f 's%02g' 1 "$stacks" | sed 's/.*/"&"/' | paste -sd, -)
    cat > "$dir/etc/phoenix_hypervisor_config.json" <<JSON
{"domain_name": "bench.example.net", "network": {"interfaces": {"address": "10.211.0.254/24"}},
 "portainer_api": {"admin_password": "bench-only-password"},
 "phoenix": {"docker": {"endpoints": {"1001": "unix://$socket"}, "tls": false, "resolve_image": "never",
                        "converge_timeout_seconds": 120}}}
JSON
    echo '{"lxc_configs": {}}' > "$dir/etc/phoenix_lxc_configs.json"
    cat > "$dir/etc/phoenix_vm_configs.json" <<JSON
{"vms": [{"vmid": 1001, "name": "bench-manager", "network_config": {"ip": "10.211.0.1/24"}, "swarm_role": "manager",
          "node_labels": ["role=manager"], "docker_stacks": [$names]}]}
JSON
    for name in $(seq -f 's%02g' 1 "$stacks"); do
        mkdir -p "$dir/stacks/$name"
        cat > "$dir/stacks/$name/docker-compose.yml" <<YAML
services:
  app:
    image: lab/busybox:1
    command: ["sleep", "100000"]
    stop_grace_period: 1s
    environment: [STACK=$name]
    networks: [traefik-public]
    deploy:
      replicas: 1
      endpoint_mode: dnsrr
      update_config: {parallelism: 0, monitor: 1s}
networks:
  traefik-public: {external: true}
YAML
    done
}
