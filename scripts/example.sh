#!/usr/bin/env bash
# Validates the example estate shipped in Examples/estate, shows the start order, and renders every stage into out/example.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product phoenix
bin=.build/release/phoenix
$bin validate --config-dir Examples/estate/etc
$bin graph --config-dir Examples/estate/etc --verb start
$bin render all --config-dir Examples/estate/etc --out out/example
