# `scripts/lab.sh agent`: git to production on the lab's real servers. Sourced by scripts/lab.sh
# (it uses its variables and functions: lab, run, repo, phoenix, target, svc, say, note, wait_for).
#
# The git server is git's own `git daemon` (git:// on 127.0.0.1:19418, read-only: the script pushes
# to the bare repository on disk, as a forge would receive a push, and the agent fetches over git://).
# git daemon sends no webhooks: after each push the script sends the push event a Gitea would send
# (POST /hooks/gitea, X-Gitea-Signature: HMAC-SHA256 of the body with the webhook secret).
# scripts/lib/notify-recorder.py (python3's http.server on 127.0.0.1:19090) stands in for ntfy or
# Slack: it records every notification the agent sends (--notify http://127.0.0.1:19090/lab).

agent_dir=$lab/agent
git_dir=$lab/git
work=$lab/git/work
agent_url=http://127.0.0.1:18420
notifications=$lab/agent/notifications.jsonl

git_work() { git -C "$work" -c user.name="Lab Operator" -c user.email=ops@lab.example.net "$@"; }

# Commits what is in the work tree with MESSAGE, pushes it, sends the webhook; prints the commit.
push() {
    git_work add -A
    git_work commit -q -m "$1"
    git_work push -q origin HEAD:main
    git_work rev-parse HEAD
}

# The push event a Gitea would send for a push of COMMIT (default: the work tree's head) to main,
# signed with the webhook secret.
webhook() {
    local delivery body
    delivery=$(python3 -c 'import uuid; print(uuid.uuid4())')
    body=$(printf '{"ref":"refs/heads/main","after":"%s","repository":{"full_name":"lab/estate"}}' "${1:-$(git_work rev-parse HEAD)}")
    # The signature from the secret file (never on a command line).
    python3 - "$agent_dir/webhook-secret" "$body" > "$agent_dir/webhook.header" <<'PY'
import hashlib, hmac, sys
secret = open(sys.argv[1]).read().rstrip("\n").encode()
print("X-Gitea-Signature: " + hmac.new(secret, sys.argv[2].encode(), hashlib.sha256).hexdigest())
PY
    curl -s -o /dev/null -w "   webhook (Gitea push, delivery ${delivery:0:8}…): HTTP %{http_code}\n" -X POST "$agent_url/hooks/gitea" \
        -H 'Content-Type: application/json' -H 'X-Gitea-Event: push' -H "X-Gitea-Delivery: $delivery" -H "@$agent_dir/webhook.header" \
        --data-binary "$body"
}

api() { curl -sf -H "@$agent_dir/auth.header" "$agent_url$1"; }

# Prints "ID|OUTCOME|TRIGGER" of the newest run at COMMIT in any state (WHICH=any), or of the newest
# finished one that applied it (WHICH=finished); fails when there is none.
run_at() {
    api "/api/v1/runs?limit=100" | python3 -c '
import json, sys
commit, which = sys.argv[1], sys.argv[2]
runs = [r for r in json.load(sys.stdin)["runs"] if r.get("commit") == commit]
if which == "finished":
    runs = [r for r in runs if r["outcome"] not in ("queued", "running")]
    # The run that applied it, rather than a later one that found it applied already.
    runs = [r for r in runs if r["outcome"] != "no changes"] or runs
if not runs:
    sys.exit(1)
print("%s|%s|%s" % (runs[0]["id"], runs[0]["outcome"], runs[0]["trigger"]["kind"]))' "$1" "$2"
}

# Waits for a finished run at COMMIT (at most SECONDS), then prints it and its changes.
show_run() {
    local commit=$1 seconds=${2:-120} id
    wait_for "$seconds" run_at "$commit" finished || {
        echo "no finished run at ${commit:0:12} after ${seconds}s; the agent's log:"
        tail -20 "$run/agent.log"
        exit 1
    }
    id=$(run_at "$commit" finished | cut -d'|' -f1)
    show_run_id "$id"
}

# Prints run ID: its trigger, commit and outcome, and what changed.
show_run_id() {
    api "/api/v1/runs/$1" | python3 -c '
import json, sys
run = json.load(sys.stdin)
print("   run %s at %s (trigger: %s): %s" % (run["id"], (run.get("commit") or "")[:12], run["trigger"]["kind"], run["outcome"]))
for line in run.get("diagnostics", []):
    print("     invalid:", line)
changed = [r for r in run.get("resources", []) if r["outcome"] not in ("unchanged", "in sync", "no change")]
if len(changed) > 6:
    kinds = {}
    for r in changed:
        kinds.setdefault(r["outcome"], {}).setdefault(r["id"].split(":")[0], 0)
        kinds[r["outcome"]][r["id"].split(":")[0]] += 1
    for outcome, counts in kinds.items():
        print("     %d %s: %s" % (sum(counts.values()), outcome, ", ".join("%s x%d" % item for item in sorted(counts.items()))))
    sys.exit(0)
ids = [r["id"] for r in run.get("resources", [])]
for r in changed:
    # A unit lists the reasons of all its files: keep this resource'"'"'s, drop where each comes from.
    reasons = []
    for reason in r["reasons"]:
        owner = next((i for i in ids if reason.startswith(i + ": ")), None)
        if owner is not None and owner != r["id"]:
            continue
        reason = reason[len(r["id"]) + 2:] if owner == r["id"] else reason
        if not reason.startswith("from "):
            reasons.append(reason)
    print("     %-32s %s%s" % (r["id"], r["outcome"], (": " + "; ".join(reasons))[:170] if reasons else ""))
'
}

# One line about COMMIT's runs: none, superseded, or how it ended.
describe_run() {
    local found id outcome trigger
    if ! found=$(run_at "$1" any); then
        note "$2 ${1:0:12}: no run of its own (the newest commit took its place in the pending slot)"
        return
    fi
    found=$(run_at "$1" finished || echo "$found")
    IFS='|' read -r id outcome trigger <<< "$found"
    case "$outcome" in
        superseded) note "$2 ${1:0:12}: run $id ($trigger) superseded: a newer commit arrived, it stopped at its next boundary" ;;
        *) note "$2 ${1:0:12}: run $id ($trigger) $outcome" ;;
    esac
}

replicas_settled() { docker_lab service ls --format '{{.Replicas}}' | awk -F/ '$1 != $2 { bad = 1 } END { exit bad }'; }

run_is() { [ "$(run_at "$1" any | cut -d'|' -f2)" = "$2" ]; }
run_finished() { api "/api/v1/runs/$1" | python3 -c 'import json,sys; sys.exit(json.load(sys.stdin)["outcome"] in ("queued", "running"))'; }
drift_is_zero() { api /metrics | grep -Eq '^phoenix_drifted_resources 0(\.0*)?$'; }

notification_count() { if [ -f "$notifications" ]; then wc -l < "$notifications"; else echo 0; fi; }
have_notifications() { [ "$(notification_count)" -ge "$1" ]; }

# Waits until COUNT notifications arrived (at most 15 s), then prints the last one.
show_notification() {
    local count=$1
    wait_for 15 have_notifications "$count" || true
    note "notifications received so far: $(notification_count)"
    [ "$(notification_count)" -gt 0 ] && tail -1 "$notifications" | python3 -c '
import json, sys
body = json.loads(sys.stdin.read())["body"]
print("     last: %s: %s, run %s, commit %s: %s" % (body["event"], body["outcome"], body["run"], (body["commit"] or "")[:12], body["message"][:160]))
'
    return 0
}

set_replicas() {
    python3 - "$work/etc/phoenix_stacks_config.json" "$1" <<'PY'
import json, sys
path, replicas = sys.argv[1], sys.argv[2]
config = json.load(open(path))
config["docker_stacks"]["hello"]["environments"]["production"]["variables"] = [{"name": "REPLICAS", "value": replicas}]
json.dump(config, open(path, "w"), indent=4)
open(path, "a").write("\n")
PY
}

agent_demo() {
    start_servers
    mkdir -p "$agent_dir" "$git_dir"

    say "the estate in a git repository, served by git daemon on git://127.0.0.1:19418/estate.git"
    git init -q --bare -b main "$git_dir/estate.git"
    git clone -q "$git_dir/estate.git" "$work" 2>/dev/null
    cp -r Examples/lab/etc Examples/lab/stacks "$work/"
    local first
    first=$(push "The lab's estate (Examples/lab)")
    note "main is at ${first:0:12}: $(git_work log -1 --format=%s)"
    printf '%s\n' git daemon --reuseaddr --listen=127.0.0.1 --port=19418 "--base-path=$git_dir" --export-all --informative-errors "$git_dir" > "$run/gitd.cmd"
    svc gitd start
    wait_for 10 git ls-remote git://127.0.0.1:19418/estate.git main

    say "a stand-in for ntfy/Slack on 127.0.0.1:19090 (python3's http.server) records what the agent sends"
    printf '%s\n' python3 "$repo/scripts/lib/notify-recorder.py" 19090 "$notifications" > "$run/notify.cmd"
    svc notify start

    say "phoenix agent: polls every 2s, checks drift every 5s, webhooks with a secret, an operate token, notifications"
    (
        umask 077
        openssl rand -hex 24 > "$agent_dir/webhook-secret"
        local token
        token=$(openssl rand -hex 24)
        printf 'operate lab-operator %s\n' "$(printf '%s' "$token" | sha256sum | cut -d' ' -f1)" > "$agent_dir/tokens"
        printf 'Authorization: Bearer %s\n' "$token" > "$agent_dir/auth.header"
        printf '%s\n' "$token" > "$agent_dir/dashboard.token"
    )
    printf '%s\n' "${phoenix[@]}" agent --repo git://127.0.0.1:19418/estate.git --branch main --config-path etc --stacks-path stacks \
        --interval 2s --drift-interval 5s --listen 127.0.0.1:18420 --webhook-secret-file "$agent_dir/webhook-secret" \
        --tokens-file "$agent_dir/tokens" --notify http://127.0.0.1:19090/lab --estate-name lab --public-url "$agent_url" \
        --work-dir "$agent_dir/work" --progress none "${target[@]}" > "$run/agent.cmd"
    note "$(tr '\n' ' ' < "$run/agent.cmd" | sed "s|$repo/||")"
    svc agent start
    wait_for 30 curl -sf "$agent_url/healthz" || { tail -20 "$run/agent.log"; exit 1; }
    note "GET /healthz: $(curl -s "$agent_url/healthz")"
    note "the dashboard: $agent_url/ (sign in with the token in $agent_dir/dashboard.token)"

    say "0. the agent's first poll finds ${first:0:12} never applied: it converges the whole estate"
    show_run "$first" 240
    show_served

    say "a. a commit changes the stack (REPLICAS 2 -> 3): planned, applied, converged, succeeded"
    set_replicas 3
    local change
    change=$(push "hello: three replicas")
    webhook
    show_run "$change"
    note "swarm: $(docker_lab service ls --format '{{.Name}} {{.Replicas}}' | tr '\n' ' ')"

    say "b. a broken stack (a health check that never passes): the whole stack rolled back, a failure, one notification"
    sed -i 's/test: \["CMD", "true"\]/test: ["CMD", "false"]/' "$work/stacks/hello/docker-compose.yml"
    local broken
    broken=$(push "hello: a health check that fails")
    webhook
    show_run "$broken"
    show_notification 1
    note "swarm: $(docker_lab service ls --format '{{.Name}} {{.Replicas}}' | tr '\n' ' ')(the last good compose runs)"

    say "c. the fix: succeeded, recovered (one recovery notification)"
    sed -i 's/test: \["CMD", "false"\]/test: ["CMD", "true"]/' "$work/stacks/hello/docker-compose.yml"
    local fixed
    fixed=$(push "hello: the health check passes again")
    webhook
    show_run "$fixed"
    show_notification 2
    note "notification events, in order: $(python3 -c 'import json,sys; print(", ".join(json.loads(l)["body"]["event"] for l in open(sys.argv[1])))' "$notifications")"

    say "d. two quick commits while a run is busy: the newest wins, the one in between gets no run of its own (or is superseded)"
    # Three commits made first: one to keep a run busy (two more replicas to start and wait for), then
    # the two quick ones, pushed one right after the other while it runs.
    local busy second third
    set_replicas 5
    git_work commit -q -am "hello: five replicas"
    busy=$(git_work rev-parse HEAD)
    set_replicas 4
    git_work commit -q -am "hello: four replicas"
    second=$(git_work rev-parse HEAD)
    set_replicas 3
    git_work commit -q -am "hello: three replicas"
    third=$(git_work rev-parse HEAD)
    git_work push -q origin "$busy:main"
    webhook "$busy"
    wait_for 30 run_is "$busy" running || true
    note "${busy:0:12} is being applied: run $(run_at "$busy" any | cut -d'|' -f1,2 | tr '|' ' ')"
    git_work push -q origin "$second:main"
    git_work push -q origin "$third:main"
    webhook "$second"
    webhook "$third"
    show_run "$third"
    wait_for 20 replicas_settled || true
    note "swarm: $(docker_lab service ls --format '{{.Name}} {{.Replicas}}' | tr '\n' ' ')"
    describe_run "$busy" "busy    "
    describe_run "$second" "quick 1 "
    describe_run "$third" "quick 2 "

    say "e. a hand change: someone edits the DNS records under the host root; the drift check (every 5s) reports it"
    echo "10.99.0.1 intruder.lab.example.net" >> "$lab/host/etc/phoenix/dnsmasq/phoenix.hosts"
    wait_for 60 grep -q 'drift from.*dns' "$run/agent.log" || echo "   (no drift line after 60 s)"
    note "log: $(grep 'drift from.*dns' "$run/agent.log" | tail -1 | cut -c1-220)"
    note "metric: $(api /metrics | grep '^phoenix_drifted_resources')"
    say "   an operator asks for a sync (POST /api/v1/sync with the operate token): the records are put back"
    local answer sync_run
    answer=$(curl -s -X POST -H "@$agent_dir/auth.header" "$agent_url/api/v1/sync")
    note "POST /api/v1/sync: $answer"
    sync_run=$(printf '%s' "$answer" | python3 -c 'import json,sys; print(int(json.load(sys.stdin)["run"]))')
    wait_for 60 run_finished "$sync_run" || true
    show_run_id "$sync_run"
    note "dns: intruder.lab.example.net -> '$(dig +short @127.0.0.1 -p 15353 intruder.lab.example.net)' (gone)"
    wait_for 30 drift_is_zero && note "metric after the next drift check: $(api /metrics | grep '^phoenix_drifted_resources') (in sync again)"

    say "the runs (phoenix history reads the same records)"
    "${phoenix[@]}" history --state "$lab/state.sqlite" | head -20
    say "what the stand-in notification receiver got"
    python3 -c '
import json, sys
for line in open(sys.argv[1]):
    body = json.loads(line)["body"]
    print("   %-8s %-12s run %-3s commit %s  %s" % (body["event"], body["outcome"], body["run"], (body["commit"] or "")[:12], body["message"][:110]))
' "$notifications"
    say "metrics"
    api /metrics | grep -E '^phoenix_(runs_total|agent_polls_total|agent_webhooks_total|drifted_resources|agent_pending_commit)' | sed 's/^/   /'
    echo
    echo "The agent keeps running ($agent_url, log $run/agent.log); push to $work and see (git -C $work push origin HEAD:main)."
    echo "scripts/lab.sh down stops the agent, git daemon, the receiver and every server of the lab."
}
