#!/usr/bin/env python3
"""The measuring half of scripts/bench-agent.sh: signed webhook deliveries, waiting for runs, the
timeline of one run, and the idle agent read from /proc. Standard library only.

  port                                   a free loopback port
  hooks PORT SECRET_FILE COUNT OUT       COUNT signed GitHub push deliveries (unique ids), one
                                         connection each, back to back; one JSON line each to OUT
  wait URL FIRST_RUN [TIMEOUT]           until runs >= FIRST_RUN exist and none is queued or running
  change STATE OUT_HOOKS GITLOG AGENT_PID EVENTS PUSHED
                                         the figures of one change: answers, timeline, deploys
  idle PID SECONDS URL GITLOG DAEMONLOG  the idle agent over SECONDS
"""
import hashlib
import hmac
import http.client
import json
import os
import socket
import sqlite3
import sys
import time
import urllib.request
import uuid


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def push_body(after):
    # The fields of GitHub's push payload the agent reads, and enough of the rest for a realistic size.
    return json.dumps({
        "ref": "refs/heads/main", "before": "0" * 40, "after": after, "created": False, "deleted": False, "forced": False,
        "repository": {"id": 1, "name": "estate", "full_name": "lab/estate", "private": True,
                       "clone_url": "git://127.0.0.1/estate.git", "default_branch": "main"},
        "pusher": {"name": "bench", "email": "bench@example.net"},
        "head_commit": {"id": after, "message": "bench: one stack changed", "timestamp": "2025-01-01T00:00:00Z",
                        "author": {"name": "Bench", "email": "bench@example.net"}, "modified": ["stacks/s25/docker-compose.yml"]},
        "commits": [{"id": after, "message": "bench: one stack changed", "modified": ["stacks/s25/docker-compose.yml"]}],
    }).encode()


def hooks(port, secret_file, count, out, after=None):
    secret = open(secret_file, "rb").read().rstrip(b"\n")
    body = push_body(after or "f" * 40)
    signature = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
    with open(out, "w") as log:
        for _ in range(int(count)):
            headers = {"Content-Type": "application/json", "X-GitHub-Event": "push", "X-GitHub-Delivery": str(uuid.uuid4()),
                       "X-Hub-Signature-256": signature, "User-Agent": "GitHub-Hookshot/bench"}
            sent = time.time()
            start = time.perf_counter()
            connection = http.client.HTTPConnection("127.0.0.1", int(port), timeout=30)
            connection.request("POST", "/hooks/github", body=body, headers=headers)
            response = connection.getresponse()
            answer = response.read()
            seconds = time.perf_counter() - start
            connection.close()
            log.write(json.dumps({"sent": sent, "seconds": seconds, "status": response.status, "answer": json.loads(answer or b"null")}) + "\n")


def get(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def wait(url, first, timeout=600):
    deadline = time.time() + float(timeout)
    while time.time() < deadline:
        try:
            runs = [r for r in get(url + "/api/v1/runs?limit=200")["runs"] if r["id"] >= int(first)]
        except OSError:
            runs = []
        if runs and not any(r["outcome"] in ("queued", "running") for r in runs):
            return
        time.sleep(0.2)
    sys.exit(f"bench-agent: runs from {first} did not finish within {timeout} s")


def quantile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(q * len(ordered) + 0.5)) - 1))]


def git_calls(gitlog, agent_pid, since, until=None):
    """The git calls the agent made (a wrapper on its PATH logs start, end, parent pid and argv)."""
    calls = []
    for line in open(gitlog) if os.path.exists(gitlog) else []:
        start, end, parent, argv = line.rstrip("\n").split(" ", 3)
        if parent != str(agent_pid) or float(start) < since or (until is not None and float(start) > until):
            continue
        words = [w for w in argv.split(" ") if not w.startswith("-") and "=" not in w]
        calls.append((float(start), float(end), words[0] if words else argv))
    return calls


def change(state, hooks_file, gitlog, agent_pid, events, pushed):
    pushed = float(pushed)
    answers = [json.loads(line) for line in open(hooks_file)]
    sent = answers[0]["sent"]
    millis = [a["seconds"] * 1000 for a in answers]
    statuses = {}
    for a in answers:
        statuses[a["status"]] = statuses.get(a["status"], 0) + 1
    joined = sum(1 for a in answers if isinstance(a["answer"], dict) and a["answer"].get("joined"))
    # The runs since the push: the first that changed something did the work. A poll can take the
    # commit before the webhook does (the agent polls every interval whatever the webhooks say);
    # the run that converged it is then the poll's, and the deliveries queue one that finds it done.
    first_run = min(a["answer"]["run"] for a in answers if isinstance(a["answer"], dict) and "run" in a["answer"])
    db = sqlite3.connect(f"file:{state}?mode=ro", uri=True)
    runs = db.execute("SELECT id, started_at, finished_at, outcome, details, trigger FROM runs WHERE id >= ? OR started_at >= ? ORDER BY id",
                      (first_run, pushed)).fetchall()
    working = [r for r in runs if r[3] in ("succeeded", "failed", "rolled back")]
    run_id, apply_started, finished, outcome, details, trigger = (working or runs)[0]
    trigger = (json.loads(trigger) if trigger else {}).get("kind", "cli")
    resources = json.loads(details or "{}").get("resources", [])
    changed = [r for r in resources if r["outcome"] != "unchanged"]
    calls = git_calls(gitlog, agent_pid, sent, runs[-1][2])
    first_call = calls[0] if calls else None
    fetch = next((c for c in calls if c[2] == "fetch"), None)
    tree = next((c for c in calls if c[2] == "read-tree"), None)
    engine = [line.split(" ", 3) for line in open(events)] if os.path.exists(events) else []
    engine = [e for e in engine if len(e) == 4 and sent <= int(e[0]) / 1e9 <= (runs[-1][2] or time.time()) + 1]
    # An update of a service's spec, and the Engine's own rollout records (updatestate.new: updating, completed).
    rollout = [e for e in engine if "updatestate.new" in json.loads(e[3])]
    engine = [e for e in engine if e not in rollout]
    print(f"  webhook answered: p50 {quantile(millis, 0.5):.1f} ms, p99 {quantile(millis, 0.99):.1f} ms, max {max(millis):.1f} ms "
          f"over {len(answers)} deliveries ({', '.join(f'{n}x {s}' for s, n in sorted(statuses.items()))}; {joined} joined a waiting run)")
    if first_call:
        print(f"  webhook -> run started (its ls-remote): {(first_call[0] - sent) * 1000:.0f} ms")
    if fetch and tree:
        print(f"  webhook -> tree checked out: {(tree[1] - sent) * 1000:.0f} ms (the fetch alone: {(fetch[1] - fetch[0]) * 1000:.0f} ms)")
    print(f"  webhook -> apply started (plan done): {(apply_started - sent):.2f} s" + ("" if trigger == "webhook" else f" (the {trigger}'s run, started first)"))
    print(f"  commit pushed -> stack converged (run {run_id} {outcome}, trigger {trigger}): {(finished - pushed):.2f} s")
    print(f"  runs: {len(runs)} ({', '.join(f'{r[0]} {r[3]}' for r in runs)})")
    print(f"  deploys: {len(changed)} resource(s) not unchanged in run {run_id} ({', '.join(r['id'] + ' ' + r['outcome'] for r in changed) or 'none'}); "
          f"Engine service events: {len(engine)} ({', '.join(e[1] + ' ' + e[2] for e in engine) or 'none'}) "
          f"and {len(rollout)} rollout state event(s)")
    kinds = {}
    for c in calls:
        kinds[c[2]] = kinds.get(c[2], 0) + 1
    print(f"  git calls by the agent meanwhile: {', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))}")


def proc(pid):
    status = dict(line.split(":", 1) for line in open(f"/proc/{pid}/status"))
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    io = dict(line.split(": ") for line in open(f"/proc/{pid}/io").read().splitlines())
    return {
        "rss": int(status["VmRSS"].split()[0]), "hwm": int(status["VmHWM"].split()[0]), "threads": int(status["Threads"]),
        "anon": int(status["RssAnon"].split()[0]), "file": int(status["RssFile"].split()[0]),
        "cpu": (int(fields[11]) + int(fields[12])) / tick, "children_cpu": (int(fields[13]) + int(fields[14])) / tick,
        "write_bytes": int(io["write_bytes"]), "syscw": int(io["syscw"]),
    }


def polls(url):
    metrics = urllib.request.urlopen(url + "/metrics", timeout=10).read().decode()
    total = 0
    for line in metrics.splitlines():
        if line.startswith("phoenix_agent_polls_total{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def lines(path):
    return open(path).read().count("Connection from") if os.path.exists(path) else 0


def idle(pid, seconds, url, gitlog, daemonlog, interval):
    seconds = float(seconds)
    before, polls_before, connections_before = proc(pid), polls(url), lines(daemonlog)
    start = time.time()
    peak = before["rss"]
    # The agent hands back the memory its last job touched after 15 s of quiet: the peak after
    # that is the idle agent's, and when it came down says the release happened.
    settled_peak, settled_at = 0, None
    while time.time() - start < seconds:
        time.sleep(max(0.0, min(1.0, seconds - (time.time() - start))))
        rss = proc(pid)["rss"]
        peak = max(peak, rss)
        if settled_at is None and rss < before["rss"] * 0.7:
            settled_at = time.time() - start
        if settled_at is not None:
            settled_peak = max(settled_peak, rss)
    end = time.time()
    after, polls_after, connections_after = proc(pid), polls(url), lines(daemonlog)
    calls = git_calls(gitlog, pid, start, end)
    kinds = {}
    for c in calls:
        kinds[c[2]] = kinds.get(c[2], 0) + 1
    window = end - start
    print(f"  window: {window:.0f} s, --interval {interval}s (about {window / float(interval):.0f} polls expected)")
    print(f"  resident: {before['rss'] / 1024:.1f} MB at the start, {after['rss'] / 1024:.1f} MB at the end, {peak / 1024:.1f} MB the most sampled; "
          f"VmHWM {after['hwm'] / 1024:.1f} MB (the peak since start, the first sync included); {after['threads']} threads")
    if settled_at is not None:
        print(f"  the release after the last job: resident came down {settled_at:.0f} s into the window; "
              f"{settled_peak / 1024:.1f} MB the most sampled after it")
    else:
        print("  the release after the last job: resident never came down in the window")
    print(f"  of which anonymous (heap, stacks): {after['anon'] / 1024:.1f} MB; file-backed (the executable's and the Swift "
          f"runtime's and Foundation's code pages, clean, shared): {after['file'] / 1024:.1f} MB")
    print(f"  CPU: {after['cpu'] - before['cpu']:.2f} s of the agent ({(after['cpu'] - before['cpu']) / window * 100:.3f} %), "
          f"{after['children_cpu'] - before['children_cpu']:.2f} s of its children (git, through the logging wrapper)")
    print(f"  git calls by the agent: {len(calls)} ({', '.join(f'{n} {k}' for k, n in sorted(kinds.items())) or 'none'}); "
          f"git daemon connections: {connections_after - connections_before}; "
          f"phoenix_agent_polls_total: +{polls_after - polls_before:.0f}")
    print(f"  storage writes of the agent (/proc/PID/io write_bytes): {after['write_bytes'] - before['write_bytes']} bytes; "
          f"write calls: {after['syscw'] - before['syscw']} (eventfd wake-ups included)")


if __name__ == "__main__":
    command, arguments = sys.argv[1], sys.argv[2:]
    if command == "port":
        print(free_port())
    elif command == "hooks":
        hooks(*arguments)
    elif command == "wait":
        wait(*arguments)
    elif command == "change":
        change(*arguments)
    elif command == "idle":
        idle(*arguments)
    else:
        sys.exit(__doc__)
