#!/usr/bin/env bash
# bench/replay: how long a client reconnecting from the start of a conversation waits for the replay of one long
# streamed answer (the stored message.updated stubs rebuilt from the message row).
#
#   bench/replay.sh [--no-build]
#
# Builds the optimised daemon (`make build`; --no-build uses build/hermeslink, or $BENCH_BIN) and uses the test build's
# fake upstream (build-test/tests/fake-hermes; `make test-build` makes it). Starts the fake and a daemon whose HERMES_HOME
# .env points at it, pairs a device, sends one message `[[fake:stream;deltas=$REPLAY_DELTAS;gap_ms=$REPLAY_GAP_MS]]`
# (default 3000 deltas 10 ms apart: ~30 s of streaming, some 600 stored updates after coalescing), waits until the run
# ended, then REPLAY_ROUNDS (5) times reads GET /api/v1/conversations/:id/events with Last-Event-ID: 0 until its
# run.completed and reports the events replayed, the bytes, and the median and worst time. About 45 s.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${BENCH_BIN:-$ROOT/build/hermeslink}
FAKE=${REPLAY_FAKE:-$ROOT/build-test/tests/fake-hermes}
BENCH_NAME=replay
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
DELTAS=${REPLAY_DELTAS:-3000}
GAP=${REPLAY_GAP_MS:-10}
ROUNDS=${REPLAY_ROUNDS:-5}
KEY=bench-replay-key-0123456789

build=1
[ "${1:-}" = --no-build ] && build=0
bench_build "$build"
[ -x "$FAKE" ] || bench_die "$FAKE missing (make test-build builds it)"
bench_require_tools curl jq
bench_setup

"$FAKE" --port 0 --key "$KEY" --listen 127.0.0.1 >"$OUT/fake.stdout" 2>"$OUT/fake.stderr" &
fake_pid=$!
bench_track "$fake_pid"
fake_port=""
for _ in $(seq 100); do
    fake_port=$(sed -n 's/^READY \([0-9]*\)$/\1/p' "$OUT/fake.stdout")
    [ -n "$fake_port" ] && break
    sleep 0.1
done
[ -n "$fake_port" ] || bench_die "the fake upstream did not start"
mkdir -p "$TMP/hermes"
printf 'API_SERVER_HOST=127.0.0.1\nAPI_SERVER_PORT=%s\nAPI_SERVER_KEY=%s\n' "$fake_port" "$KEY" >"$TMP/hermes/.env"
bench_start_daemon
bench_pair_device replay
auth=(-H "Authorization: Bearer $token")
conv=$(curl -s "${auth[@]}" -H 'Content-Type: application/json' -d '{"title":"replay"}' "$HTTP/api/v1/conversations" |
    jq -r '.conversation.id // .id')
[ -n "$conv" ] && [ "$conv" != null ] || bench_die "no conversation"
curl -s "${auth[@]}" -H 'Content-Type: application/json' \
    -d "{\"content\":\"[[fake:stream;deltas=$DELTAS;gap_ms=$GAP]] go\"}" "$HTTP/api/v1/conversations/$conv/messages" >/dev/null
for _ in $(seq 600); do
    status=$(curl -s "${auth[@]}" "$HTTP/api/v1/conversations/$conv/messages" | jq -r '[.messages[]? | .status] | last')
    [ "$status" = completed ] && break
    [ "$status" = failed ] && bench_die "the run failed"
    sleep 0.2
done
[ "$status" = completed ] || bench_die "the run did not complete"

times=()
for round in $(seq "$ROUNDS"); do
    t0=$(date +%s%N)
    curl -s -N --max-time 60 "${auth[@]}" -H 'Last-Event-ID: 0' "$HTTP/api/v1/conversations/$conv/events" \
        >"$OUT/replay-$round.txt" 2>/dev/null &
    cpid=$!
    until grep -q 'run.completed' "$OUT/replay-$round.txt" 2>/dev/null; do
        kill -0 "$cpid" 2>/dev/null || bench_die "the replay stream ended before run.completed"
        sleep 0.005
    done
    t1=$(date +%s%N)
    kill "$cpid" 2>/dev/null || true
    wait "$cpid" 2>/dev/null || true
    times+=($(((t1 - t0) / 1000000)))
done
events=$(grep -c '^event: \|^data: ' "$OUT/replay-1.txt" || true)
updates=$(grep -c 'message.updated' "$OUT/replay-1.txt" || true)
bytes=$(wc -c <"$OUT/replay-1.txt")
sorted=$(printf '%s\n' "${times[@]}" | sort -n)
median=$(echo "$sorted" | sed -n "$(((ROUNDS + 1) / 2))p")
worst=$(echo "$sorted" | tail -1)
echo "replay of one answer ($DELTAS deltas, gap ${GAP} ms): $updates message.updated lines, $events event lines, $bytes bytes;" \
    "time to run.completed: median $median ms, worst $worst ms (rounds: ${times[*]})" | tee "$OUT/summary.txt"
cp "$OUT/summary.txt" "$ROOT/bench/out/replay-latest.txt"
