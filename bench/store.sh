#!/usr/bin/env bash
# bench/store: store reads scale, uploads don't stall others, downloads stream (issue 7).
#
#   bench/store.sh [--no-build] [reads] [uploads] [downloads]      (default: all three, in that order)
#
# Builds the optimised binary (`make build`; --no-build uses the existing build/hermeslink, or $BENCH_BIN), then runs
# each part against its own freshly started daemon (random loopback ports, temporary HERMESLINK_HOME, default config),
# with a device enrolled as in bench/auth.sh (`hermeslink pair --json`, then POST /api/v1/auth/device-session).
# The HTTP clients other than wrk and curl are in bench/store_client.py (python3, standard library).
#
#   reads      seeds 200 conversations with one message each (the message's run fails at once: no Hermes upstream),
#              then, after 1 s warm-ups, in the same run
#                wrk -t2 -c64 -d10s --latency -H 'Authorization: Bearer hlat_…' …/api/v1/conversations?limit=20
#                wrk -t2 -c64 -d10s --latency …/api/v1/bootstrap
#              and reports both rates and list/bootstrap                               target: ratio >= 0.3
#   uploads    a sequential chain of 300 POST /api/v1/auth/refresh (each with the refresh token the previous one
#              returned, 20 ms pause after each answer, one keep-alive connection), first alone, then while 4 clients
#              of another device upload a 50 MiB blob in a loop (raw body, each upload new content, deleted after)
#              and reports p50/p99 both ways and p99(with uploads)/p99(alone)          target: ratio <= 2
#              Each chain stops after 30 s (fewer than 300 refreshes when they stall: reported as such).
#              BENCH_UPLOAD_SAME=1: every upload the same bytes (and not deleted): the store finds the file already
#              there and skips writing and fsyncing it, which separates the daemon's own cost from the disk's.
#              BENCH_UPLOAD_ELSEWHERE=1: the uploads go to a second daemon (its own process, home and workers), so the
#              chain shares only the machine (CPU, memory bandwidth, disk) with them: the floor any design can reach.
#   downloads  uploads one 50 MiB blob, restarts the daemon (so that its peak RSS starts from the idle level), then
#              3 rounds of 20 parallel `curl -o /dev/null` GETs of it; reports VmHWM after the rounds (or the highest
#              VmRSS sampled every 50 ms, if higher) minus VmRSS before them          target: <= 64 MiB
#              Guard: when the daemon's RSS passes BENCH_RSS_LIMIT_MIB (default 8192) the downloads are stopped
#              and the increase is reported as "> limit".
#
# Output: a summary on stdout, also in bench/out/store-<stamp>/summary.txt (and bench/out/store-latest.txt), with the
# raw tool outputs and daemon logs next to it. Exit status 1 when a request failed or got an unexpected status; the
# targets are reported, not enforced (the machine is shared: rely on the ratios, each measured within one run).
# Environment: BENCH_BIN, BENCH_DURATION (seconds per wrk run, default 10), BENCH_RSS_LIMIT_MIB, BENCH_UPLOAD_SAME.
# About 2 minutes.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${BENCH_BIN:-$ROOT/build/hermeslink}
BENCH_NAME=store
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
DURATION=${BENCH_DURATION:-10}
RSS_LIMIT_MIB=${BENCH_RSS_LIMIT_MIB:-8192}
SEED_CONVERSATIONS=200
SEED_MESSAGES=200
REFRESHES=300
REFRESH_PAUSE_MS=20
REFRESH_DEADLINE=30 # seconds per chain: when refreshes stall behind uploads, the chain ends early (n < 300)
UPLOADERS=4
BLOB_SIZE=$((50 * 1024 * 1024))
DOWNLOADERS=20
DOWNLOAD_ROUNDS=3
TARGET_READS=0.3
TARGET_UPLOADS=2
TARGET_DOWNLOADS_MIB=64

build=1
parts=()
for arg in "$@"; do
    case "$arg" in
    --no-build) build=0 ;;
    reads | uploads | downloads) parts+=("$arg") ;;
    -h | --help)
        awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
        exit 0
        ;;
    *)
        echo "store.sh: unknown argument: $arg" >&2
        exit 2
        ;;
    esac
done
[ ${#parts[@]} -gt 0 ] || parts=(reads uploads downloads)
case "$DURATION$RSS_LIMIT_MIB" in *[!0-9]*) bench_die "BENCH_DURATION and BENCH_RSS_LIMIT_MIB must be positive integers" ;; esac

bench_require_tools wrk curl jq python3
bench_build "$build"
bench_setup
CLIENT=(python3 "$ROOT/bench/store_client.py")
SUMMARY="$OUT/summary.txt"
failed=0

summary() { echo "$*" | tee -a "$SUMMARY"; }
val() { awk -F= -v k="$2" '$1 == k { print $2 }' "$1"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "-" }'; }
verdict() { # value op bound  ->  met / NOT MET
    if awk -v v="$1" -v b="$3" -v op="$2" 'BEGIN { exit !(op == ">=" ? v >= b : v <= b) }'; then echo met; else echo "NOT MET"; fi
}
status_kib() { # field of /proc/<daemon>/status, in KiB (VmRSS, VmHWM)
    local k v _
    while read -r k v _; do
        if [ "$k" = "$1:" ]; then
            echo "$v"
            return
        fi
    done <"/proc/$pid/status"
    echo 0
}
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
running() { # process $1 exists and is not a zombie
    local s
    read -r s 2>/dev/null <"/proc/$1/stat" || return 1 # (s=$(<file) of a vanished file would end the script)
    s=${s##*) }
    [ "${s%% *}" != Z ]
}
new_conversation() { # title -> conversation id
    curl -s -X POST -H "Authorization: Bearer $token" -H 'Content-Type: application/json' -d "{\"title\":\"$1\"}" \
        "$HTTP/api/v1/conversations" | jq -r '.conversation.id // empty'
}
noise_warning() { # label other-CPU-seconds
    if awk -v o="$2" 'BEGIN { exit !(o > 0.5) }'; then
        summary "  WARNING: $1: other processes used $2 CPU s meanwhile: absolute numbers are depressed"
    fi
}

# ---- reads: authenticated list of conversations against bootstrap ----
part_reads() {
    bench_start_daemon reads
    echo "store.sh: reads: daemon $pid on $HTTP" >&2
    bench_pair_device bench-reads
    "${CLIENT[@]}" seed --port "$port" --token "$token" --count "$SEED_CONVERSATIONS" --messages "$SEED_MESSAGES" \
        >"$OUT/reads-seed.txt" || bench_die "seeding failed"
    local list="$HTTP/api/v1/conversations?limit=20" boot="$HTTP/api/v1/bootstrap" auth="Authorization: Bearer $token"
    # the runs fail asynchronously, each appending events: wait until the first page no longer changes
    local a b _
    a=$(curl -s -H "$auth" "$list")
    for _ in $(seq 50); do
        sleep 0.2
        b=$(curl -s -H "$auth" "$list")
        [ "$a" = "$b" ] && break
        a=$b
    done
    [ "$(jq '.conversations | length' <<<"$b")" = 20 ] || bench_die "the list did not return 20 conversations: ${b:0:300}"
    check_200 --http1.1 "$list" -H "$auth"
    check_200 --http1.1 "$boot"
    local size_list size_boot
    size_list=$(curl -s --http1.1 -H "$auth" -o /dev/null -w '%{size_header} %{size_download}' "$list" | awk '{ print $1 + $2 }')
    size_boot=$(curl -s --http1.1 -o /dev/null -w '%{size_header} %{size_download}' "$boot" | awk '{ print $1 + $2 }')
    wrk -t2 -c64 -d1s -H "$auth" "$list" >"$OUT/reads-warmup-list.txt" 2>&1
    wrk -t2 -c64 -d1s "$boot" >"$OUT/reads-warmup-bootstrap.txt" 2>&1

    local name rps_list rps_boot
    local -A lines=() others=()
    for name in list bootstrap; do
        local -a argv=(wrk -t2 -c64 "-d${DURATION}s" --latency)
        local expected
        if [ "$name" = list ]; then
            argv+=(-H "$auth" "$list")
            expected=$size_list
        else
            argv+=("$boot")
            expected=$size_boot
        fi
        run_measured "$OUT/reads-$name.txt" "${argv[@]}"
        parse_wrk "$OUT/reads-$name.txt"
        if [ "$W_SOCK" != 0 ] || [ "$W_NON2XX" != 0 ]; then
            echo "store.sh: reads $name: $W_SOCK socket errors, $W_NON2XX non-2xx responses" >&2
            failed=1
        fi
        if ! awk -v b="$W_BYTES" -v n="$W_REQUESTS" -v e="$expected" 'BEGIN { r = b / (n * e); exit !(r > 0.99 && r < 1.01) }'; then
            echo "store.sh: reads $name: $W_BYTES bytes read for $W_REQUESTS responses, expected $expected bytes each" >&2
            failed=1
        fi
        if [ "$name" = list ]; then rps_list=$W_RPS; else rps_boot=$W_RPS; fi
        lines[$name]=$(printf '  %-44s %7s req/s  p50 %6s ms  p99 %7s ms  (%s B/answer; CPU s daemon %s client %s other %s)' \
            "$([ "$name" = list ] && echo 'GET /api/v1/conversations?limit=20 (auth)' || echo 'GET /api/v1/bootstrap (no auth)')" \
            "$W_RPS" "$W_P50" "$W_P99" "$expected" "$M_SERVER" "$M_CLIENT" "$M_OTHER")
        others[$name]=$M_OTHER
    done
    bench_check_alive
    stop_daemon
    local r
    r=$(ratio "$rps_list" "$rps_boot")
    summary "reads: $(val "$OUT/reads-seed.txt" conversations) conversations, $(val "$OUT/reads-seed.txt" messages) with one message (run failed at once); wrk -t2 -c64 -d${DURATION}s --latency, HTTP/1.1, list first then bootstrap"
    summary "${lines[list]}"
    summary "${lines[bootstrap]}"
    summary "  ratio list/bootstrap = $r  (target >= $TARGET_READS): $(verdict "$r" '>=' "$TARGET_READS")"
    noise_warning "reads list" "${others[list]}"
    noise_warning "reads bootstrap" "${others[bootstrap]}"
    summary ""
}

# ---- uploads: refresh latency alone and next to 4 looping 50 MiB uploads ----
chain_line() { # label client-output other-CPU-seconds
    summary "$(printf '  %-28s n %3s  p50 %7s ms  p90 %7s ms  p99 %7s ms  max %7s ms  (%s s; other CPU %s s)' "$1" \
        "$(val "$2" n)" "$(val "$2" p50_ms)" "$(val "$2" p90_ms)" "$(val "$2" p99_ms)" "$(val "$2" max_ms)" \
        "$(val "$2" seconds)" "$3")"
}

part_uploads() {
    local up_token conv up_port sink_pid="" sink_http=""
    if [ "${BENCH_UPLOAD_ELSEWHERE:-0}" = 1 ]; then
        # the uploads go to a second daemon: what the machine itself (CPU, disk) costs the chain, no worker shared
        bench_start_daemon uploads-sink
        sink_pid=$pid sink_http=$HTTP
        bench_track "$sink_pid"
        echo "store.sh: uploads: sink daemon $sink_pid on $HTTP" >&2
        pid=""
    fi
    bench_start_daemon uploads
    echo "store.sh: uploads: daemon $pid on $HTTP" >&2
    if [ -n "$sink_pid" ]; then
        local main_http=$HTTP main_home=$DAEMON_HOME main_hermes=$DAEMON_HERMES_HOME
        HTTP=$sink_http DAEMON_HOME=$TMP/uploads-sink/home DAEMON_HERMES_HOME=$TMP/uploads-sink/hermes
        bench_pair_device bench-upload
        up_token=$token
        conv=$(new_conversation uploads)
        up_port=${sink_http##*:}
        HTTP=$main_http DAEMON_HOME=$main_home DAEMON_HERMES_HOME=$main_hermes
    else
        bench_pair_device bench-upload
        up_token=$token
        conv=$(new_conversation uploads)
        up_port=$port
    fi
    [ -n "$conv" ] || bench_die "could not create a conversation"
    bench_pair_device bench-refresh
    local rt=$refresh_token
    local -a chain=(--port "$port" --count "$REFRESHES" --interval-ms "$REFRESH_PAUSE_MS" --deadline "$REFRESH_DEADLINE")
    # warm-up (not recorded), then the chain alone
    "${CLIENT[@]}" refresh --port "$port" --refresh-token "$rt" --count 50 >"$OUT/uploads-warmup.txt" ||
        bench_die "refresh warm-up failed"
    rt=$(val "$OUT/uploads-warmup.txt" refresh_token)
    run_measured "$OUT/uploads-alone.txt" "${CLIENT[@]}" refresh --refresh-token "$rt" "${chain[@]}"
    local other_alone=$M_OTHER
    rt=$(val "$OUT/uploads-alone.txt" refresh_token)

    # the uploaders, then the chain again once all of them have sent their first request (and 0.5 s more)
    local stop="$TMP/uploads.stop" upid _ started=0
    local -a same=()
    [ "${BENCH_UPLOAD_SAME:-0}" = 1 ] && same=(--same-content)
    "${CLIENT[@]}" upload --port "$up_port" --token "$up_token" --conv "$conv" --size "$BLOB_SIZE" "${same[@]}" \
        --clients "$UPLOADERS" --stop-file "$stop" --deadline 120 >"$OUT/uploads-uploaders.txt" 2>"$OUT/uploads-uploaders.stderr" &
    upid=$!
    bench_track "$upid"
    for _ in $(seq 300); do
        if grep -q '^started=' "$OUT/uploads-uploaders.stderr"; then
            started=1
            break
        fi
        running "$upid" || break
        sleep 0.1
    done
    [ "$started" -eq 1 ] || bench_die "the uploaders did not start: $(cat "$OUT/uploads-uploaders.stderr")"
    sleep 0.5
    local u0 u1 hwm
    u0=$(proc_ticks "$upid")
    run_measured "$OUT/uploads-with.txt" "${CLIENT[@]}" refresh --refresh-token "$rt" "${chain[@]}"
    u1=$(proc_ticks "$upid")
    hwm=$(status_kib VmHWM)
    touch "$stop"
    local rc=0
    wait "$upid" || rc=$?
    bench_untrack "$upid"
    [ "$rc" -eq 0 ] || {
        echo "store.sh: the uploaders failed (exit $rc): $(tail -5 "$OUT/uploads-uploaders.stderr")" >&2
        failed=1
    }
    bench_check_alive
    stop_daemon
    if [ -n "$sink_pid" ]; then
        kill -TERM "$sink_pid" 2>/dev/null || true
        wait "$sink_pid" 2>/dev/null || true
        bench_untrack "$sink_pid"
    fi

    # "other" of the second chain without the uploaders' own CPU time
    local up_cpu other_with
    up_cpu=$(awk -v t=$((u1 - u0)) -v h="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f", t / h }')
    other_with=$(awk -v o="$M_OTHER" -v u="$up_cpu" 'BEGIN { o -= u; if (o < 0) o = 0; printf "%.1f", o }')
    local p99a p99w r up secs
    p99a=$(val "$OUT/uploads-alone.txt" p99_ms) p99w=$(val "$OUT/uploads-with.txt" p99_ms)
    r=$(ratio "$p99w" "$p99a")
    up=$(val "$OUT/uploads-uploaders.txt" uploads) secs=$(val "$OUT/uploads-uploaders.txt" seconds)
    [ "${BENCH_UPLOAD_ELSEWHERE:-0}" = 1 ] && summary "uploads: BENCH_UPLOAD_ELSEWHERE=1: the uploads go to a second daemon (the machine's floor: no worker shared with the chain)"
    [ "${BENCH_UPLOAD_SAME:-0}" = 1 ] && summary "uploads: BENCH_UPLOAD_SAME=1: every upload the same 50 MiB (the store skips writing the file)"
    summary "uploads: $REFRESHES sequential POST /api/v1/auth/refresh (chained tokens, ${REFRESH_PAUSE_MS} ms pause after each, one keep-alive connection)"
    chain_line alone "$OUT/uploads-alone.txt" "$other_alone"
    chain_line "with $UPLOADERS x 50 MiB uploads" "$OUT/uploads-with.txt" "$other_with"
    summary "  uploaders: $up uploads of 50 MiB in $secs s ($(awk -v n="$up" -v s="$secs" 'BEGIN { if (s > 0) printf "%.0f", n * 50 / s; else print "-" }') MiB/s), upload p50 $(val "$OUT/uploads-uploaders.txt" upload_p50_ms) ms, max $(val "$OUT/uploads-uploaders.txt" upload_max_ms) ms, $(val "$OUT/uploads-uploaders.txt" busy_503) x 503 server_busy, $(val "$OUT/uploads-uploaders.txt" errors) errors; client CPU $up_cpu s; daemon VmHWM $(mib "$hwm") MiB"
    local f n
    for f in alone with; do
        n=$(val "$OUT/uploads-$f.txt" n)
        if [ "$n" != "$REFRESHES" ]; then
            summary "  ($f: only $n of $REFRESHES refreshes within the chain's ${REFRESH_DEADLINE}-s limit$([ "$n" -lt 100 ] && echo ': p99 = max'))"
        fi
    done
    summary "  ratio p99 with/without uploads = $r  (target <= $TARGET_UPLOADS): $(verdict "$r" '<=' "$TARGET_UPLOADS");  p50 ratio $(ratio "$(val "$OUT/uploads-with.txt" p50_ms)" "$(val "$OUT/uploads-alone.txt" p50_ms)")"
    noise_warning "uploads alone" "$other_alone"
    noise_warning "uploads with" "$other_with"
    summary "  (other CPU of the second chain excludes the uploaders' own CPU time but includes the kernel's writeback of the uploaded files)"
    summary ""
}

# ---- downloads: peak RSS of 20 parallel downloads of a 50 MiB blob ----
part_downloads() {
    bench_start_daemon downloads
    echo "store.sh: downloads: daemon $pid on $HTTP" >&2
    bench_pair_device bench-download
    local conv blob
    conv=$(new_conversation downloads)
    [ -n "$conv" ] || bench_die "could not create a conversation"
    head -c "$BLOB_SIZE" /dev/urandom >"$TMP/blob.bin"
    curl -s -X POST -H "Authorization: Bearer $token" -H 'Content-Type: application/octet-stream' \
        -H 'Content-Disposition: attachment; filename="bench.bin"' --data-binary @"$TMP/blob.bin" \
        "$HTTP/api/v1/conversations/$conv/blobs" >"$OUT/downloads-upload.json"
    blob=$(jq -r '.blob.id // empty' "$OUT/downloads-upload.json")
    [ -n "$blob" ] || bench_die "the upload failed: $(head -c 300 "$OUT/downloads-upload.json")"
    rm -f "$TMP/blob.bin"
    # a fresh process: the upload raised the peak RSS, which VmHWM would keep
    stop_daemon
    bench_start_daemon downloads
    echo "store.sh: downloads: restarted, daemon $pid on $HTTP" >&2
    local url="$HTTP/api/v1/conversations/$conv/blobs/$blob" auth="Authorization: Bearer $token"
    check_200 --http1.1 "$HTTP/api/v1/auth/me" -H "$auth"
    sleep 0.5
    local rss0 limit_kib=$((RSS_LIMIT_MIB * 1024)) peak=0 aborted=0 round i p rss t0 t1 d0 d1
    rss0=$(status_kib VmRSS)
    d0=$(daemon_ticks)
    local -a times=()
    : >"$OUT/downloads.txt"
    for round in $(seq "$DOWNLOAD_ROUNDS"); do
        local -a pids=()
        t0=$(date +%s.%N)
        for i in $(seq "$DOWNLOADERS"); do
            curl -s --http1.1 -o /dev/null -w "round $round client $i %{http_code} %{size_download} %{time_total}\n" \
                -H "$auth" "$url" >>"$OUT/downloads.txt" 2>&1 &
            pids+=($!)
            bench_track "$!"
        done
        while :; do
            rss=$(status_kib VmRSS)
            [ "$rss" -gt "$peak" ] && peak=$rss
            if [ "$rss" -gt "$limit_kib" ]; then
                echo "store.sh: downloads: daemon RSS $(mib "$rss") MiB > $RSS_LIMIT_MIB MiB: stopping the downloads" >&2
                aborted=1
                for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
                break
            fi
            local alive=0
            for p in "${pids[@]}"; do
                if running "$p"; then
                    alive=1
                    break
                fi
            done
            [ "$alive" -eq 1 ] || break
            sleep 0.05
        done
        for p in "${pids[@]}"; do
            wait "$p" || true
            bench_untrack "$p"
        done
        t1=$(date +%s.%N)
        times+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')")
        [ "$aborted" -eq 0 ] || break
    done
    d1=$(daemon_ticks)
    local hwm
    hwm=$(status_kib VmHWM)
    bench_check_alive
    stop_daemon

    local ok bad
    ok=$(awk -v s="$BLOB_SIZE" '$5 == 200 && $6 == s' "$OUT/downloads.txt" | wc -l)
    bad=$(awk -v s="$BLOB_SIZE" '!($5 == 200 && $6 == s)' "$OUT/downloads.txt" | wc -l)
    if [ "$aborted" -eq 0 ] && [ "$bad" -ne 0 ]; then
        echo "store.sh: downloads: $bad downloads did not get 200 with $BLOB_SIZE bytes" >&2
        failed=1
    fi
    local inc top=$hwm
    [ "$peak" -gt "$top" ] && top=$peak # the sampled VmRSS can be a little ahead of VmHWM (per-thread RSS counters)
    inc=$(awk -v h="$top" -v r="$rss0" 'BEGIN { printf "%.1f", (h - r) / 1024 }')
    summary "downloads: one 50 MiB blob, $DOWNLOAD_ROUNDS rounds of $DOWNLOADERS parallel curl --http1.1 -o /dev/null GETs"
    summary "  rounds: ${times[*]} s; $ok complete downloads (200, $BLOB_SIZE bytes), $bad other; daemon CPU $(awk -v t=$((d1 - d0)) -v h="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f", t / h }') s"
    summary "  time per download (curl time_total, all rounds): $(awk '{ print $7 }' "$OUT/downloads.txt" | sort -n | awk '{ v[NR] = $1 } END { if (NR) printf "min %.2f  median %.2f  max %.2f s", v[1], v[int((NR + 1) / 2)], v[NR]; else print "-" }')"
    if [ "$aborted" -eq 1 ]; then
        summary "  VmRSS before $(mib "$rss0") MiB, RSS passed the guard of $RSS_LIMIT_MIB MiB: downloads stopped"
        summary "  peak RSS increase > $RSS_LIMIT_MIB MiB (> $(awk -v m="$RSS_LIMIT_MIB" 'BEGIN { printf "%.3g", m / 1024 }') GiB)  (target <= $TARGET_DOWNLOADS_MIB MiB): NOT MET"
    else
        summary "  VmRSS before $(mib "$rss0") MiB, VmHWM after $(mib "$hwm") MiB (highest VmRSS sampled every 50 ms: $(mib "$peak") MiB)"
        summary "  peak RSS increase = $inc MiB  (target <= $TARGET_DOWNLOADS_MIB MiB): $(verdict "$inc" '<=' "$TARGET_DOWNLOADS_MIB")"
    fi
    summary ""
}

: >"$SUMMARY"
summary "$(bench_header "$build")"
summary "(shared machine: other work may run meanwhile; compare the ratios, each measured within one run)"
summary ""
echo "store.sh: parts: ${parts[*]}; raw output in ${OUT#"$ROOT"/}" >&2
for part in "${parts[@]}"; do
    "part_$part"
done
cp "$SUMMARY" "$ROOT/bench/out/store-latest.txt"

if [ "$failed" -ne 0 ]; then
    echo "store.sh: FAILED: some requests errored or got an unexpected answer (see $OUT)" >&2
    exit 1
fi
