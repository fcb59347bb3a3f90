#!/usr/bin/env bash
# Validates the example estate shipped in Examples/estate, shows the start order, and renders every stage into out/example.
set -euo pipefail
cd "$(dirname "$0")/.."
# The state store links SQLite: its headers are the only build dependency beyond Swift.
if ! dpkg -s libsqlite3-dev >/dev/null 2>&1 && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libsqlite3-dev >/dev/null
fi
swift build -c release --product phoenix
bin=.build/release/phoenix
$bin validate --config-dir Examples/estate/etc
$bin graph --config-dir Examples/estate/etc --verb start
$bin render all --config-dir Examples/estate/etc --out out/example
# What a first sync of the example estate would do (nothing is changed: plan only reads). The
# stages phoenix can plan here, offline: the Swarm's (swarm, services' Portainer, stacks) need the
# example's Docker daemons, which this machine does not run (scripts/lab.sh starts real ones), and a
# plan that cannot read them exits 1 rather than saying "no changes".
$bin plan files trust dns firewall gateway certs --config-dir Examples/estate/etc --host-root out/example-host --guest-root out/example-guests \
    --state out/example-state.sqlite
