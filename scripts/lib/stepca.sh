#!/usr/bin/env bash
# A real step-ca for the tests and the lab, from Debian's Go source packages (no network, no step CLI).
#
#   scripts/lib/stepca.sh build            builds .cache/step-ca/step-ca once (~40 s) and prints its path
#   scripts/lib/stepca.sh init DIR PORT    makes a CA in DIR: root and intermediate (openssl), a JWK
#                                          provisioner "phoenix" with its key encrypted under DIR/password.txt,
#                                          and DIR/ca.json listening on 127.0.0.1:PORT
#
# Start it with `step-ca DIR/ca.json`; stop it by its pid.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
project="$(cd "$here/../.." && pwd)"

build() {
    local cache="$project/.cache/step-ca"
    if [ -x "$cache/step-ca" ]; then echo "$cache/step-ca"; return; fi
    command -v go >/dev/null || { echo "stepca.sh: go is missing (apt-get install golang-go golang-github-smallstep-certificates-dev golang-github-smallstep-truststore-dev)" >&2; exit 1; }
    [ -d /usr/share/gocode/src/github.com/smallstep/certificates ] || { echo "stepca.sh: golang-github-smallstep-certificates-dev is missing" >&2; exit 1; }
    mkdir -p "$cache/gopath/src/phoenix/stepca"
    cp "$here/stepca-main.go" "$cache/gopath/src/phoenix/stepca/main.go"
    GO111MODULE=off GOPROXY=off GOFLAGS= GOPATH="$cache/gopath:/usr/share/gocode" GOCACHE="$cache/gocache" \
        go build -o "$cache/step-ca.new" phoenix/stepca 2> "$cache/build.log" || { cat "$cache/build.log" >&2; exit 1; }
    mv "$cache/step-ca.new" "$cache/step-ca"
    echo "$cache/step-ca"
}

init() {
    local dir="$1" port="$2" python="${PHOENIX_PYTHON:-$project/.venv-it/bin/python}"
    mkdir -p "$dir/certs" "$dir/secrets" "$dir/db"
    chmod 700 "$dir/secrets"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$dir/secrets/root_ca_key" \
        -out "$dir/certs/root_ca.crt" -days 3650 -subj "/CN=Phoenix Lab Root CA" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$dir/secrets/intermediate_ca_key" \
        -out "$dir/int.csr" -subj "/CN=Phoenix Lab Intermediate CA" 2>/dev/null
    printf 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n' > "$dir/int.ext"
    openssl x509 -req -in "$dir/int.csr" -CA "$dir/certs/root_ca.crt" -CAkey "$dir/secrets/root_ca_key" \
        -CAcreateserial -days 1825 -extfile "$dir/int.ext" -out "$dir/certs/intermediate_ca.crt" 2>/dev/null
    rm -f "$dir/int.csr" "$dir/int.ext"
    # The provisioner password, as the original's Step-CA container exports it (provisioner_password.txt).
    [ -s "$dir/password.txt" ] || (umask 077; openssl rand -hex 16 > "$dir/password.txt")
    local provisioner
    provisioner="$("$python" -W ignore "$here/stepca-provisioner.py" "$dir/password.txt")"
    "$python" - "$dir" "$port" "$provisioner" <<'PY'
import json, sys
d, port, prov = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
claims = {"minTLSCertDuration": "1s", "maxTLSCertDuration": "2160h", "defaultTLSCertDuration": "24h"}
config = {
    "root": f"{d}/certs/root_ca.crt", "crt": f"{d}/certs/intermediate_ca.crt", "key": f"{d}/secrets/intermediate_ca_key",
    "address": f"127.0.0.1:{port}", "dnsNames": ["localhost", "127.0.0.1", "ca.lab.test"],
    "logger": {"format": "text"}, "db": {"type": "badgerv2", "dataSource": f"{d}/db"},
    "authority": {"claims": claims, "provisioners": [
        {"type": "JWK", "name": "phoenix", "key": prov["key"], "encryptedKey": prov["encryptedKey"], "claims": claims}]},
    "tls": {"cipherSuites": ["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"],
            "minVersion": 1.2, "maxVersion": 1.3, "renegotiation": False},
}
json.dump(config, open(f"{d}/ca.json", "w"), indent=2)
PY
}

case "${1:-}" in
    build) build ;;
    init) [ $# -eq 3 ] || { echo "usage: stepca.sh init DIR PORT" >&2; exit 2; }; init "$2" "$3" ;;
    *) echo "usage: stepca.sh build | init DIR PORT" >&2; exit 2 ;;
esac
