#!/usr/bin/env bash
# bench/stats: statistics over 100,000 recorded runs (issue 11): /api/v1/statistics/usage?days=30 under 20 ms (median).
#
#   bench/stats.sh [--no-build]
#
# Builds the optimised binary (`make build`; --no-build uses the existing build/hermeslink, or $BENCH_BIN), starts it
# once on a temporary HERMESLINK_HOME so that it creates link.db (every migration) and enrols a device as in
# bench/auth.sh, stops it, then writes straight into that link.db (python3's sqlite3, one transaction):
#   2,000 conversations (1 in 10 soft-deleted, 1 in 10 archived) over 4 profiles (and no profile), 95,000 finished
#   conversation runs (completed, 1 in 20 failed, 1 in 50 cancelled) with their two messages each, and 5,000 direct runs
#   (direct_runs) spread evenly over the last 30 UTC days. BENCH_SPREAD=conversations (the default): each conversation
#   has one of 10 models (or none) and its ~48 runs fall within 3 days (a conversation is used for a while, with its
#   model); BENCH_SPREAD=uniform: the worst case for the statistics, every run of a conversation on another day with
#   another model, evenly over the 30 days (the per-day groups are then as many as the runs).
# The daemon is started again: its stats actor records the 100,000 usage facts at start (the catch-up of runs it has no
# fact of, the same SQL that records a run as it ends), reported as the start time. Then, each after a 1 s warm-up,
#   wrk -t1 -c1 -d${BENCH_DURATION:-10}s --latency -H 'Authorization: Bearer hlat_…' <url>
# (one connection: each request waits for the previous one, so the latencies are the answer's own) for
#   /api/v1/statistics/usage?days=30           target: p50 < 20 ms
#   /api/v1/statistics/usage?days=30&profile=work
#   /api/v1/statistics/usage?days=7
#   /api/v1/statistics
# The answers are checked first (run_count 100,000 minus the deleted conversations' runs, 30 days). Last, the daemon is
# restarted once more, timed: the catch-up that finds nothing to add.
#
# Output: a summary on stdout, also in bench/out/stats-<stamp>/summary.txt (and bench/out/stats-<spread>-latest.txt). The target
# is reported, not enforced. Environment: BENCH_BIN, BENCH_DURATION, BENCH_SPREAD, BENCH_KEEP_DB=1 (a copy of link.db
# in the output folder). About a minute.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${BENCH_BIN:-$ROOT/build/hermeslink}
BENCH_NAME=stats
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
DURATION=${BENCH_DURATION:-10}
TARGET_P50_MS=20
SPREAD=${BENCH_SPREAD:-conversations}
[ "$SPREAD" = conversations ] || [ "$SPREAD" = uniform ] || bench_die "BENCH_SPREAD is conversations or uniform"

build=1
for arg in "$@"; do
    case "$arg" in
    --no-build) build=0 ;;
    *) bench_die "unknown argument $arg (usage: bench/stats.sh [--no-build])" ;;
    esac
done
bench_require_tools wrk curl jq python3
bench_build "$build"
bench_setup

bench_start_daemon
bench_pair_device stats
stop_daemon

python3 - "$DAEMON_HOME/link.db" "$SPREAD" <<'EOF'
import random, sqlite3, sys, time
uniform = sys.argv[2] == "uniform"

random.seed(11)
db = sqlite3.connect(sys.argv[1])
now = int(time.time() * 1000)
day = 86400000
first_day = now // day - 29
profiles = [None, "default", "work", "art", "research"]
models = [None] + ["model-%d" % i for i in range(10)]
convs = []
with db:
    for i in range(2000):
        cid = "conv_bench%05d" % i
        status = "deleted_soft" if i % 10 == 0 else "archived" if i % 10 == 1 else "active"
        convs.append((cid, profiles[i % len(profiles)]))
        db.execute("INSERT INTO conversations(id, title, status, profile, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                   (cid, "bench %d" % i, status, profiles[i % len(profiles)], now - 30 * day, now))
    runs, msgs = [], []
    for i in range(95000):
        c = i % len(convs)
        cid, profile = convs[c]
        if uniform:
            done = first_day * day + (i * (30 * day - 1)) // 95000
            model = models[i % len(models)]
        else:  # the conversation's runs over 3 days starting on its own day, all with its model
            done = (first_day + (c * 7) % 28) * day + (i // len(convs)) * (3 * day // 48) + c * 1000
            model = models[c % len(models)]
        done = min(done, now)
        status = "failed" if i % 20 == 0 else "cancelled" if i % 50 == 1 else "completed"
        tin, tout = (0, 0) if status != "completed" else (random.randint(10, 5000), random.randint(1, 2000))
        trig, asst = "msg_bt%06d" % i, "msg_ba%06d" % i
        msgs.append((trig, cid, "user", "completed", None, done - 2000, done - 2000))
        msgs.append((asst, cid, "assistant", status, "run_bench%06d" % i, done, done))
        runs.append(("run_bench%06d" % i, cid, trig, asst, status, profile, model,
                     tin if status == "completed" else None, tout if status == "completed" else None,
                     tin + tout if status == "completed" else None, done - 2000, done, done - 2000))
    db.executemany("INSERT INTO messages(id, conversation_id, role, status, run_id, created_at, updated_at) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?)", msgs)
    db.executemany("INSERT INTO runs(id, conversation_id, trigger_message_id, assistant_message_id, status, profile, model, "
                   "input_tokens, output_tokens, total_tokens, started_at, completed_at, created_at) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", runs)
    db.executemany("UPDATE conversations SET input_tokens = input_tokens + ?, output_tokens = output_tokens + ?, "
                   "total_tokens = total_tokens + ? WHERE id = ?",
                   [(r[7] or 0, r[8] or 0, r[9] or 0, r[1]) for r in runs])
    direct = []
    for i in range(5000):
        done = min(first_day * day + (i * (30 * day - 1)) // 5000, now)
        tin, tout = random.randint(10, 3000), random.randint(1, 1000)
        direct.append(("hermes_run_%06d" % i, profiles[i % len(profiles)], "completed", tin, tout, tin + tout, done))
    db.executemany("INSERT INTO direct_runs(upstream_run_id, profile, status, input_tokens, output_tokens, total_tokens, "
                   "completed_at) VALUES (?, ?, ?, ?, ?, ?, ?)", direct)
EOF
# the runs of the soft-deleted conversations (every 10th of the 2,000) do not count
expected_runs=$(python3 -c 'print(100000 - sum(1 for i in range(95000) if (i % 2000) % 10 == 0))')

t0=$(date +%s%N)
bench_start_daemon
start_ms=$((($(date +%s%N) - t0) / 1000000))
facts=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM run_usage_facts").fetchone()[0])' \
    "$DAEMON_HOME/link.db")
[ "$facts" = 100000 ] || bench_die "the stats actor recorded $facts usage facts at start, expected 100000"

auth="Authorization: Bearer $token"
got=$(curl -s -H "$auth" "$HTTP/api/v1/statistics/usage?days=30" | jq -c '[.usage.totals.run_count, (.usage.daily | length)]')
[ "$got" = "[$expected_runs,30]" ] || bench_die "usage?days=30 answered $got, expected [$expected_runs,30]"
curl -s -H "$auth" "$HTTP/api/v1/statistics/usage?days=30" >"$OUT/usage.json"
curl -s -H "$auth" "$HTTP/api/v1/statistics" >"$OUT/statistics.json"
jq -e '.statistics.conversations.deleted == 200' "$OUT/statistics.json" >/dev/null || bench_die "statistics: $(cat "$OUT/statistics.json")"

{
    bench_header "$build"
    echo "100,000 usage facts (95,000 conversation runs over 2,000 conversations, 5,000 direct runs), 30 days, spread: $SPREAD"
    echo "rows read by a 30-day range: usage_daily $(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM usage_daily").fetchone()[0])' "$DAEMON_HOME/link.db"), usage_conversations $(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM usage_conversations").fetchone()[0])' "$DAEMON_HOME/link.db")"
    echo "daemon start with the catch-up of 100,000 facts: ${start_ms} ms"
    printf '%-48s %10s %10s %10s %8s\n' "GET (wrk -t1 -c1 -d${DURATION}s)" "p50 ms" "p99 ms" "max ms" "req/s"
} >"$OUT/summary.txt"
for path in "/api/v1/statistics/usage?days=30" "/api/v1/statistics/usage?days=30&profile=work" \
    "/api/v1/statistics/usage?days=7" "/api/v1/statistics"; do
    wrk -t1 -c1 -d1s -H "$auth" "$HTTP$path" >/dev/null
    raw="$OUT/wrk-$(echo "$path" | tr -c 'a-z0-9' '_').txt"
    wrk -t1 -c1 -d"${DURATION}s" --latency -H "$auth" "$HTTP$path" >"$raw"
    parse_wrk "$raw"
    if [ "$W_NON2XX" != 0 ] || [ "$W_SOCK" != 0 ]; then
        bench_die "$path: $W_NON2XX non-2xx answers, $W_SOCK socket errors"
    fi
    printf '%-48s %10s %10s %10s %8s\n' "$path" "$W_P50" "$W_P99" "$W_MAX" "$W_RPS" >>"$OUT/summary.txt"
    if [ "$path" = "/api/v1/statistics/usage?days=30" ]; then
        usage_p50=$W_P50
    fi
done
bench_check_alive
# a restart with every fact recorded: what the catch-up costs on every start
stop_daemon
t0=$(date +%s%N)
bench_start_daemon
echo "daemon restart with nothing to catch up: $((($(date +%s%N) - t0) / 1000000)) ms" >>"$OUT/summary.txt"
bench_check_alive
if [ "${BENCH_KEEP_DB:-0}" = 1 ]; then
    python3 -c 'import sqlite3,sys; sqlite3.connect(sys.argv[1]).backup(sqlite3.connect(sys.argv[2]))' "$DAEMON_HOME/link.db" "$OUT/link.db"
fi
verdict=$(awk -v p="$usage_p50" -v t="$TARGET_P50_MS" 'BEGIN { print (p < t) ? "met" : "NOT met" }')
echo "target: /api/v1/statistics/usage?days=30 p50 < ${TARGET_P50_MS} ms: $verdict ($usage_p50 ms)" >>"$OUT/summary.txt"
cp "$OUT/summary.txt" "$ROOT/bench/out/stats-$SPREAD-latest.txt"
cat "$OUT/summary.txt"
