#!/usr/bin/env bash
# Checks that an ELF binary was built with the hardening of CMakeLists.txt (issue 9): a position-independent executable
# (Type DYN, PIE), full RELRO (a GNU_RELRO segment and BIND_NOW), stack canaries (__stack_chk_fail imported) and, with
# --fortify (optimised builds only), _FORTIFY_SOURCE (some __*_chk function imported). Run by test_hardening.c.
#   check_hardening.sh BINARY [--fortify]
# Prints one line per check; exits 0 when all pass, 1 when one fails, 77 when readelf is missing (or BINARY is absent).
set -uo pipefail
bin=${1:-}
fortify=0
[ "${2:-}" = --fortify ] && fortify=1
command -v readelf >/dev/null 2>&1 || { echo "SKIP: readelf (binutils) not installed"; exit 77; }
[ -n "$bin" ] && [ -f "$bin" ] || { echo "SKIP: no binary at '$bin'"; exit 77; }

bad=0
check() {
    if [ "$2" = 0 ]; then
        echo "ok: $1"
    else
        echo "MISSING: $1 in $bin"
        bad=1
    fi
}
header=$(readelf -h "$bin") || exit 1
segments=$(readelf -lW "$bin") || exit 1
dynamic=$(readelf -dW "$bin") || exit 1
symbols=$(readelf --dyn-syms -W "$bin") || exit 1

grep -Eq '^[[:space:]]*Type:[[:space:]]+DYN' <<<"$header"
check "PIE (ELF type DYN)" $?
grep -Eq '\(FLAGS_1\).*\bPIE\b' <<<"$dynamic"
check "PIE flag" $?
grep -q 'GNU_RELRO' <<<"$segments"
check "RELRO segment" $?
grep -Eq '\(BIND_NOW\)|\(FLAGS\).*\bBIND_NOW\b|\(FLAGS_1\).*\bNOW\b' <<<"$dynamic"
check "BIND_NOW (full RELRO)" $?
grep -q '__stack_chk_fail' <<<"$symbols"
check "stack protector (__stack_chk_fail)" $?
if [ $fortify = 1 ]; then
    grep -Eq '__[a-z0-9_]+_chk(@|[[:space:]]|$)' <<<"$(grep -v __stack_chk_fail <<<"$symbols")"
    check "_FORTIFY_SOURCE (__*_chk functions)" $?
fi
exit $bad
