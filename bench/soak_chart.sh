#!/usr/bin/env bash
# bench/soak_chart.sh: renders the samples of bench/soak (its CSV: t_s,rss_kib,hwm_kib,fds,…) as two small ASCII charts
# (daemon RSS in MiB and open descriptors against minutes, y axes from 0) and the figures that say whether they stayed
# flat after the warm-up: the first sample at or after the warm-up, the last sample of the run proper (t <= end), the
# minimum and maximum after the warm-up, and the least-squares slope over [warm-up, end] per 10 minutes.
#
#   bench/soak_chart.sh SAMPLES.csv WARMUP_S END_S [COLUMNS]
#
# Output: markdown (two fenced blocks: the charts, then the figures). Needs awk only.
set -euo pipefail

[ $# -ge 3 ] || {
    echo "usage: $0 SAMPLES.csv WARMUP_S END_S [COLUMNS]" >&2
    exit 2
}
csv=$1 warmup=$2 end=$3 cols=${4:-60}
[ -s "$csv" ] || {
    echo "soak_chart.sh: $csv is missing or empty" >&2
    exit 1
}

awk -F, -v warmup="$warmup" -v end="$end" -v cols="$cols" '
NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
{
    t = $(col["t_s"]) + 0
    if (t > end + 1) { after_t = t; after_rss = $(col["rss_kib"]) / 1024; after_fds = $(col["fds"]); next }
    n++
    T[n] = t; R[n] = $(col["rss_kib"]) / 1024; F[n] = $(col["fds"]) + 0
    L[n] = ("load1" in col) ? $(col["load1"]) + 0 : -1
}
function chart(title, V, unit, fmt,    i, c, b, lo, hi, top, rows, r, line, y, h, last_c, wcol, per) {
    # one column per bucket of samples (its maximum), rows from 0 to the top of the scale
    per = n / cols; if (per < 1) per = 1
    last_c = 0
    for (c = 1; c <= cols; c++) {
        lo = int((c - 1) * per) + 1; hi = int(c * per); if (hi > n) hi = n
        if (lo > n) break
        b[c] = V[lo]
        for (i = lo + 1; i <= hi; i++) if (V[i] > b[c]) b[c] = V[i]
        bt[c] = T[hi]
        last_c = c
    }
    top = 0
    for (c = 1; c <= last_c; c++) if (b[c] > top) top = b[c]
    top = top * 1.15; if (top <= 0) top = 1
    rows = 10
    wcol = 0
    for (c = 1; c <= last_c; c++) if (!wcol && bt[c] >= warmup) wcol = c
    printf "%s (one column = %.0f s; y from 0; | = end of warm-up at %d s)\n", title, per * (T[n] - T[1]) / (n > 1 ? n - 1 : 1), warmup
    for (r = rows; r >= 1; r--) {
        y = top * r / rows
        line = ""
        for (c = 1; c <= last_c; c++) {
            h = b[c] / top * rows
            if (h >= r - 0.5) line = line (h < r + 0.5 ? "*" : "#"); else line = line (c == wcol ? "|" : " ")
        }
        printf fmt " |%s\n", y, line
    }
    line = ""
    for (c = 1; c <= last_c; c++) line = line (c == wcol ? "|" : "-")
    printf "%8s +%s\n", "", line
    printf "%8s  0 min%*s%.0f min\n\n", "", last_c - 10, "", T[n] / 60
}
function fit(V,    i, k, sx, sy, sxx, sxy, d) {
    k = 0; sx = sy = sxx = sxy = 0
    for (i = 1; i <= n; i++) if (T[i] >= warmup) { k++; sx += T[i]; sy += V[i]; sxx += T[i] * T[i]; sxy += T[i] * V[i] }
    d = k * sxx - sx * sx
    return (k < 2 || d == 0) ? 0 : (k * sxy - sx * sy) / d * 600
}
function figures(name, V, unit, fmt,    i, first, last, mn, mx, seen, u) {
    seen = 0
    for (i = 1; i <= n; i++) if (T[i] >= warmup) {
        if (!seen) { first = V[i]; mn = V[i]; mx = V[i]; seen = 1 }
        if (V[i] < mn) mn = V[i]; if (V[i] > mx) mx = V[i]
        last = V[i]
    }
    if (!seen) { printf "%-16s no sample after the warm-up\n", name; return }
    u = unit == "" ? "" : " " unit
    printf "%-12s first " fmt "%s -> last " fmt "%s (%+.1f%%), min " fmt ", max " fmt ", least-squares slope %+.2f%s per 10 min\n", name, first, u,
        last, u, first != 0 ? (last - first) / first * 100 : 0, mn, mx, fit(V), u
}
END {
    if (n == 0) { print "no samples"; exit 1 }
    print "```"
    chart("daemon RSS, MiB", R, "MiB", "%6.1f")
    chart("daemon open descriptors", F, "", "%6.0f")
    print "```"
    print ""
    print "```"
    printf "%d samples over %.0f s (warm-up: the first %d s; figures from the first sample at or after it to the last at or before %d s)\n", n, T[n], warmup, end
    figures("RSS", R, "MiB", "%.1f")
    figures("descriptors", F, "", "%.0f")
    mx = 0; for (i = 1; i <= n; i++) if (R[i] > mx) mx = R[i]
    printf "first sample (t = %.0f s): RSS %.1f MiB, %d descriptors; highest RSS sampled during the run %.1f MiB\n", T[1], R[1], F[1], mx
    if (L[1] >= 0) {
        for (i = 1; i <= n; i++) { # insertion sort (mawk has no asort)
            v = L[i]
            for (j = i - 1; j >= 1 && S[j] > v; j--) S[j + 1] = S[j]
            S[j + 1] = v
        }
        printf "machine load average (1 min, both cores shared with other work) while sampling: min %.1f, median %.1f, max %.1f\n", S[1], S[int((n + 1) / 2)], S[n]
    }
    if (after_t != "") printf "after the drain and the final checks (t = %.0f s): RSS %.1f MiB, %d descriptors\n", after_t, after_rss, after_fds
    print "```"
}' "$csv"
