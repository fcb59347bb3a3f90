#!/usr/bin/env bash
# The agent benchmark (release build): `phoenix agent` watching a git repository served by
# `git daemon` on loopback, converging the bench-swarm estate (one Swarm manager on a real dockerd in
# a network namespace of its own, STACKS stacks of one busybox service each; stages swarm, services,
# stacks). After the agent has converged the first commit:
#  1. one stack changed by a commit, announced by one signed GitHub webhook: its answer time,
#     webhook -> run started -> tree checked out -> apply started, commit -> stack converged, deploys;
#  2. another stack changed, announced by a burst of DELIVERIES (default 200) signed deliveries with
#     unique ids, back to back, one connection each: answer p50/p99/max, runs started, deploys;
#  3. the idle agent over IDLE_SECONDS (default 600) with --interval INTERVAL (default 10) s: resident
#     memory, CPU seconds, git calls (nothing but one ls-remote per interval), disk writes.
# How git calls are counted: the agent finds `git` on its PATH; a wrapper there logs each call's
# start, end, parent pid and argv, then runs /usr/bin/git. Cross-checked with git daemon --verbose
# (one "Connection from" per ls-remote or fetch) and phoenix_agent_polls_total. Deploys: the run's
# resources that are not unchanged, and the Engine's own service events (docker events).
# The drift and certificate checks are set to 1h so that the idle window shows the poll alone.
# As root (it starts dockerd); stops everything it started by pid and removes its folder
# (KEEP=1 keeps the folder: logs, the state store, the git log).
set -euo pipefail
cd "$(dirname "$0")/.."
stacks=${STACKS:-50}
deliveries=${DELIVERIES:-200}
idle=${IDLE_SECONDS:-600}
interval=${INTERVAL:-10}
work=/tmp/phoenix-bench-agent
ns=phoenix-bench-agent
for program in dockerd docker busybox python3 nsenter git; do
    command -v "$program" >/dev/null || { echo "bench-agent: $program is missing (scripts/test.sh installs docker.io, busybox-static and the rest)" >&2; exit 1; }
done
# shellcheck source=lib/dockerd.sh
. scripts/lib/dockerd.sh
# shellcheck source=lib/swarm-estate.sh
. scripts/lib/swarm-estate.sh
swift build -c release --scratch-path .build-release --product phoenix >/dev/null
phoenix=$PWD/.build-release/release/phoenix
measure=$PWD/scripts/lib/bench-agent.py
git_program=$(command -v git)
daemon_program="$(git --exec-path)/git-daemon"

stop_pid() {
    local file=$1 pid
    [ -f "$file" ] || return 0
    pid=$(cat "$file")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$file"
}
cleanup() {
    stop_pid "$work/agent.pid"
    stop_pid "$work/events.pid"
    stop_pid "$work/git-daemon.pid"
    dockerd_down "$work/docker" "$ns"
    [ "${KEEP:-0}" = 1 ] || rm -rf "$work"
}
cleanup
rm -rf "$work"
mkdir -p "$work/docker" "$work/bin" "$work/repos" "$work/host" "$work/guests" "$work/state"
trap cleanup EXIT
dockerd_up "$work/docker" "$ns" bench-manager 10.211.0.1
docker=(docker -H "unix://$work/docker/docker.sock")

# The estate in a repository, served by git daemon on loopback.
git_clean() { env -i PATH="$PATH" HOME="$work" GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null LC_ALL=C \
    "$git_program" -c user.name=Bench -c user.email=bench@example.net -c commit.gpgsign=false "$@"; }
git_clean init --quiet --bare --initial-branch=main "$work/repos/estate.git"
git_clean init --quiet --initial-branch=main "$work/checkout"
swarm_estate "$work/checkout" "$stacks" "$work/docker/docker.sock"
commit() {
    git_clean -C "$work/checkout" add --all
    git_clean -C "$work/checkout" commit --quiet -m "$1"
    git_clean -C "$work/checkout" push --quiet "$work/repos/estate.git" HEAD:refs/heads/main
    git_clean -C "$work/checkout" rev-parse HEAD
}
commit "the bench estate: $stacks stacks" >/dev/null
git_port=$(python3 "$measure" port)
"$daemon_program" --reuseaddr --listen=127.0.0.1 --port="$git_port" --export-all --verbose --base-path="$work/repos" "$work/repos" \
    > "$work/git-daemon.log" 2>&1 &
echo $! > "$work/git-daemon.pid"
for _ in $(seq 1 50); do git_clean ls-remote "git://127.0.0.1:$git_port/estate.git" >/dev/null 2>&1 && break; sleep 0.1; done

# git on the agent's PATH: logs each call (start, end, parent pid, argv), then runs the real one.
cat > "$work/bin/git" <<SH
#!/bin/sh
start=\$(date +%s.%N)
$git_program "\$@"
status=\$?
echo "\$start \$(date +%s.%N) \$PPID \$*" >> $work/git-calls.log
exit \$status
SH
chmod +x "$work/bin/git"

# The Engine's own record of service changes.
"${docker[@]}" events --filter type=service --format '{{.TimeNano}} {{.Action}} {{.Actor.Attributes.name}} {{json .Actor.Attributes}}' > "$work/events.log" 2>/dev/null &
echo $! > "$work/events.pid"

head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$work/secret"
port=$(python3 "$measure" port)
url=http://127.0.0.1:$port
started=$(date +%s.%N)
PATH="$work/bin:$PATH" "$phoenix" agent --repo "git://127.0.0.1:$git_port/estate.git" --branch main --stages swarm,services,stacks \
    --interval "${interval}s" --drift-interval 1h --certificate-interval 1h --listen "127.0.0.1:$port" \
    --webhook-secret-file "$work/secret" --anonymous-read --state "$work/state/state.sqlite" \
    --host-root "$work/host" --guest-root "$work/guests" --parallelism 8 --progress none --log-format json > "$work/agent.log" 2>&1 &
agent=$!
echo "$agent" > "$work/agent.pid"
python3 "$measure" wait "$url" 1 900
first=$(python3 -c 'import json,sys; r=json.load(sys.stdin)["runs"][-1]; print(r["id"], r["outcome"])' < <(curl -s "$url/api/v1/runs"))
printf 'the agent converges the first commit (%d stacks, from its start): %.1f s, run %s\n' "$stacks" \
    "$(echo "$(date +%s.%N) $started" | awk '{print $1 - $2}')" "$first"

# Every service's spec as the Engine holds it, one line each: a deploy changes a spec.
specs() { "${docker[@]}" service ls -q | xargs "${docker[@]}" service inspect --format '{{.Spec.Name}} {{json .Spec}}' | sort > "$1"; }
changed_specs() { printf '  services whose spec the Engine changed: %s\n' "$(diff "$1" "$2" | grep -c '^>' || true) ($(diff "$1" "$2" | sed -n 's/^> \([^ ]*\) .*/\1/p' | paste -sd' ' -))"; }
load() { printf '  (load average before: %s)\n' "$(cut -d' ' -f1-3 /proc/loadavg)"; }
change() {
    local name=$1
    sed -i "s/STACK=$name]/STACK=$name-changed]/" "$work/checkout/stacks/$name/docker-compose.yml"
    commit "bench: $name changed"
}
# One phase: stack $1 changed by a commit, announced by $2 signed deliveries (answers in $3.jsonl),
# measured until its run ends; $4 and $5 are the Engine's specs before and after, $6 the heading.
phase() {
    local pick=$1 count=$2 hooks="$work/$3.jsonl" loaded after pushed run
    loaded=$(load)
    after=$(change "$pick")
    pushed=$(date +%s.%N)
    python3 "$measure" hooks "$port" "$work/secret" "$count" "$hooks" "$after"
    run=$(python3 -c 'import json, sys; print(json.loads(open(sys.argv[1]).readline())["answer"]["run"])' "$hooks")
    python3 "$measure" wait "$url" "$run" 300
    echo "$6"
    python3 "$measure" change "$work/state/state.sqlite" "$hooks" "$work/git-calls.log" "$agent" "$work/events.log" "$pushed"
    specs "$5"
    changed_specs "$4" "$5"
    echo "$loaded"
}
specs "$work/specs-0"
first_pick=$(printf 's%02d' $(( (stacks + 1) / 2 )))
phase "$first_pick" 1 hook-1 "$work/specs-0" "$work/specs-1" "one stack ($first_pick) changed by a commit, one signed webhook:"
second_pick=$(printf 's%02d' $(( (stacks + 1) / 2 + 1 )))
phase "$second_pick" "$deliveries" hook-burst "$work/specs-1" "$work/specs-2" \
    "another stack ($second_pick) changed by a commit, $deliveries signed deliveries back to back:"

sleep "$interval"
echo "the idle agent:"
loaded=$(load)
python3 "$measure" idle "$agent" "$idle" "$url" "$work/git-calls.log" "$work/git-daemon.log" "$interval"
echo "$loaded"
