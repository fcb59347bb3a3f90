#!/usr/bin/env bash
# The dashboard benchmark (release build): the pages as the agent serves them, timed inside its
# request handler over 200 requests (server-side, no socket), for the 1,000-guest estate (10,000
# rules, 200 stacks, 500 certificates) and the 50-guest one, each with 1,000 recorded runs in a
# SQLite state store, the newest run with one resource per resource of the estate (at most 1,000),
# a drift check's status with 2 % of the resources drifted, and the guests, stacks and certificates as
# the agent reads them (paginated pages). Budgets (issue 18): the overview at
# most 60 KB (61,440 bytes) and 50 ms p99; a run page with 1,000 resources under 300 KB; lists 50
# rows a page.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --scratch-path .build-release --product phoenix-bench-dashboard >/dev/null
bench=.build-release/release/phoenix-bench-dashboard
"$bench" 1000 10000 200 500 1000 200
"$bench" 50 500 10 25 1000 200
