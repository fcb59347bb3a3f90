#!/usr/bin/env bash
# The state store on SQLite against PostgreSQL on loopback (release build):
#  1. a no-op `sync all` on the lab's estate (scripts/lab.sh up), RUNS times with each store: wall
#     time and the store's round trips (SQLite: transactions on its file; PostgreSQL: statements),
#     from the --stats line. The PostgreSQL store is the lab's SQLite store copied by `state migrate`;
#  2. a first `sync all` of the 1,000-guest estate (phoenix-bench --write) into an empty store, its
#     files already in place (rendered by `phoenix render`): phoenix adopts every resource into the
#     store; the round trips against the number of resources (on PostgreSQL once with the schema
#     being created, once into the emptied tables), then a no-op of it on PostgreSQL.
# PostgreSQL is Debian's, started here as the postgres user in a temporary directory on a free port
# and stopped by its pid at the end. Root is needed (the server runs as postgres).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-5}
scratch=${SCRATCH:-.build-release}
swift build -c release --scratch-path "$scratch" --product phoenix >/dev/null
swift build -c release --scratch-path "$scratch" --product phoenix-bench >/dev/null
phoenix=$PWD/$scratch/release/phoenix
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
work=$(mktemp -d /tmp/phoenix-bench-state.XXXXXX)
chmod 755 "$work"
postgres_pid=""
cleanup() {
    if [ -n "$postgres_pid" ]; then
        kill -INT "$postgres_pid" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$postgres_pid" 2>/dev/null || break; sleep 0.1; done
    fi
    scripts/lab.sh down >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

# PostgreSQL: initdb, a role with a password, its database, a free port.
mkdir "$work/pg"
chown postgres:postgres "$work/pg"
as_postgres=(setpriv --reuid=postgres --regid=postgres --init-groups)
"${as_postgres[@]}" "$bin/initdb" -D "$work/pg/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --no-sync >/dev/null
password=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf "CREATE ROLE phoenix LOGIN PASSWORD '%s';\n\nCREATE DATABASE phoenix OWNER phoenix;\n\n" "$password" |
    "${as_postgres[@]}" "$bin/postgres" --single -D "$work/pg/data" -j postgres >/dev/null 2>&1
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"${as_postgres[@]}" "$bin/postgres" -D "$work/pg/data" -c listen_addresses=127.0.0.1 -c port="$port" -c unix_socket_directories="$work/pg" \
    >"$work/pg/log" 2>&1 &
postgres_pid=$!
for _ in $(seq 100); do "$bin/pg_isready" -q -h "$work/pg" -p "$port" && break; sleep 0.1; done
printf '%s\n' "$password" >"$work/pg.pass"
chmod 600 "$work/pg.pass"
url="postgres://phoenix@127.0.0.1:$port/phoenix?sslmode=disable"
postgres=(--state "$url" --state-password-file "$work/pg.pass")
stat_line() { grep '^stats' | sed -E 's/^stats: ([0-9.]+) s,.*, ([0-9]+) state store round trips$/\1 s, \2 round trips to the store/'; }

scripts/lab.sh up >/dev/null 2>&1
lab=/tmp/phoenix-lab
flags=(--config-dir Examples/lab/etc --stacks-dir Examples/lab/stacks --host-root "$lab/host" --guest-root "$lab/guests"
    --api https://127.0.0.1:18006 --api-ca "$lab/pki/ca.crt" --api-token-file "$lab/pve/token" --stats --progress none)
"$phoenix" state migrate --from "$lab/state.sqlite" --to "$url" --state-password-file "$work/pg.pass" | sed 's/^/  /'
for store in sqlite postgres; do
    if [ "$store" = sqlite ]; then state=(--state "$lab/state.sqlite"); else state=("${postgres[@]}"); fi
    echo "no-op sync all on the lab, $store ($runs runs):"
    for _ in $(seq "$runs"); do "$phoenix" sync all "${flags[@]}" "${state[@]}" 2>&1 >/dev/null | stat_line | sed 's/^/  /'; done
done

estate=$work/1k
"$scratch"/release/phoenix-bench --write "$estate" 1000 10000 200 500 >/dev/null
"$phoenix" render all --config-dir "$estate/etc" --stacks-dir "$estate/stacks" --out "$estate/out" --node pve >/dev/null 2>&1
resources=$(find "$estate/out/host" "$estate/out/guests" -type f | wc -l)
echo "first sync all of the 1,000-guest estate into an empty store ($resources files in place):"
"$phoenix" sync all --config-dir "$estate/etc" --stacks-dir "$estate/stacks" --host-root "$estate/out/host" --guest-root "$estate/out/guests" \
    --node pve --state "$estate/state.sqlite" --stats --progress none 2>&1 >/dev/null | stat_line | sed 's/^/  sqlite:   /'
psql() { "${as_postgres[@]}" "$bin/psql" -X -q -h "$work/pg" -p "$port" -U postgres "$@" >/dev/null; }
psql -d postgres -c "CREATE DATABASE estate1k OWNER phoenix"
sync_1k() {
    rm -rf "$estate/out" && "$phoenix" render all --config-dir "$estate/etc" --stacks-dir "$estate/stacks" --out "$estate/out" --node pve >/dev/null 2>&1
    "$phoenix" sync all --config-dir "$estate/etc" --stacks-dir "$estate/stacks" --host-root "$estate/out/host" --guest-root "$estate/out/guests" \
        --node pve --state "postgres://phoenix@127.0.0.1:$port/estate1k?sslmode=disable" --state-password-file "$work/pg.pass" --stats --progress none \
        2>&1 >/dev/null | stat_line
}
# The database's first use creates the schema too: that run, then the same into the emptied tables.
sync_1k | sed 's/^/  postgres, creating the schema: /'
psql -d estate1k -c "TRUNCATE phoenix.runs, phoenix.journal, phoenix.blobs, phoenix.applied, phoenix.run_resources, phoenix.guests, phoenix.stacks, phoenix.kind_records"
sync_1k | sed 's/^/  postgres: /'
echo "then a no-op sync all of it (the files as the first left them):"
"$phoenix" sync all --config-dir "$estate/etc" --stacks-dir "$estate/stacks" --host-root "$estate/out/host" --guest-root "$estate/out/guests" \
    --node pve --state "postgres://phoenix@127.0.0.1:$port/estate1k?sslmode=disable" --state-password-file "$work/pg.pass" --stats --progress none \
    2>&1 >/dev/null | stat_line | sed 's/^/  postgres: /'
