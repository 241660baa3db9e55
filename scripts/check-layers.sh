#!/usr/bin/env bash
# Checks that includes point down the layers (README "Layout"):
#   core (0) → runtime (1) → domain: actors, store (2) → http (3) → daemon, main (4);  cli: core only.
# A file may include the public headers (include/hl/*.h) of its own layer and of the layers below it; a public header
# belongs to the layer listed below and obeys the same rule; <h2o.h> belongs to the http layer. Prints each forbidden
# edge and exits 1 when there is one.
#
#   scripts/check-layers.sh [ROOT]       check the tree at ROOT (default: this repository)
#   scripts/check-layers.sh --self-test  check that a forbidden edge in a scratch tree is reported
set -uo pipefail

# the layer of every public header; a header missing here is itself an error, so that a new module gets placed
declare -A HEADER_LAYER=(
    [common.h]=0 [clock.h]=0 [json_util.h]=0 [config.h]=0 [control.h]=0 [forwarded.h]=0 [fsutil.h]=0 [identity.h]=0 [ids.h]=0 [link.h]=0
    [logread.h]=0 [keyed_counts.h]=0 [netaddr.h]=0 [netinfo.h]=0 [paths.h]=0 [pidfile.h]=0 [qr.h]=0 [serve.h]=0 [snapshot.h]=0 [sse_parser.h]=0
    [autostart.h]=0 [sd_notify.h]=0 [file_replace.h]=0 [mime.h]=0 [subprocess.h]=0 [tls_cert.h]=0 [tokens.h]=0 [node_home.h]=0 [tsan.h]=0 [version.h]=0 [web_client_url.h]=0 [pipe_lines.h]=0
    [actor.h]=1 [memory.h]=1 [db.h]=1 [db_write_turn.h]=1 [db_readers.h]=1 [json_job.h]=1 [log.h]=1 [mailbox.h]=1 [reply.h]=1
    [auth.h]=2 [capabilities.h]=2 [db_schema.h]=2 [hermes_files.h]=2 [hermes_manage.h]=2 [hermes_memory.h]=2 [hermes_read.h]=2
    [hermes_models.h]=2 [hermes_skills.h]=2 [hermes_yaml_edit.h]=2 [pairing.h]=2 [runproxy.h]=2 [stats.h]=2 [store.h]=2 [store_import.h]=2 [system.h]=2 [token_table.h]=2 [updater.h]=2
    [api_docs.h]=3 [http.h]=3 [http_negotiate.h]=3 [router.h]=3 [routes.h]=3 [server.h]=3 [sse.h]=3
    [control_server.h]=4 [daemon.h]=4 [node_import.h]=4
)
LAYER_NAMES=(core runtime domain http daemon)
CLI=cli

# layer of a source file by its folder ("cli" for the CLI, which may use core only)
layer_of_source() {
    case "$1" in
    src/core/*) echo 0 ;;
    src/runtime/*) echo 1 ;;
    src/actors/* | src/store/*) echo 2 ;;
    src/http/*) echo 3 ;;
    src/daemon/* | src/daemon.c | src/main.c) echo 4 ;;
    src/cli/*) echo "$CLI" ;;
    *) echo "" ;;
    esac
}

check_tree() {
    local root=$1 bad=0 file layer line inc target tl name
    cd "$root" || return 2
    while IFS= read -r file; do
        case "$file" in
        include/hl/*) layer=${HEADER_LAYER[$(basename "$file")]:-} ;;
        *) layer=$(layer_of_source "$file") ;;
        esac
        if [ -z "$layer" ]; then
            echo "layers: $file: not placed in a layer (add it to scripts/check-layers.sh)"
            bad=1
            continue
        fi
        while IFS= read -r line; do
            inc=${line#*:}
            if [[ $inc =~ ^[[:space:]]*#[[:space:]]*include[[:space:]]*\"hl/([^\"]+)\" ]]; then
                target=${BASH_REMATCH[1]}
                tl=${HEADER_LAYER[$target]:-}
                if [ -z "$tl" ]; then
                    echo "layers: $file:${line%%:*}: includes hl/$target, which is not placed in a layer"
                    bad=1
                elif [ "$layer" = "$CLI" ]; then
                    if [ "$tl" -ne 0 ]; then
                        echo "layers: $file:${line%%:*}: the CLI includes hl/$target (${LAYER_NAMES[$tl]}); it may use core headers only"
                        bad=1
                    fi
                elif [ "$tl" -gt "$layer" ]; then
                    echo "layers: $file:${line%%:*}: ${LAYER_NAMES[$layer]} includes hl/$target (${LAYER_NAMES[$tl]})"
                    bad=1
                fi
            elif [[ $inc =~ ^[[:space:]]*#[[:space:]]*include[[:space:]]*\<h2o(\.h|/) ]]; then
                if [ "$layer" = "$CLI" ] || [ "$layer" -lt 3 ]; then
                    name=${LAYER_NAMES[$layer]:-cli}
                    echo "layers: $file:${line%%:*}: $name includes h2o (only the http layer may)"
                    bad=1
                fi
            fi
        done < <(grep -n '#[[:space:]]*include' "$file")
    done < <(find src include -name '*.[ch]' | sort)
    return $bad
}

self_test() {
    local tmp
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' RETURN
    mkdir -p "$tmp/src/store" "$tmp/src/http" "$tmp/include/hl"
    printf '#include "hl/store.h"\n' >"$tmp/src/http/ok.c"
    printf '#include "hl/common.h"\n' >"$tmp/include/hl/store.h"
    if ! (check_tree "$tmp" >/dev/null); then
        echo "layers self-test: a clean tree was reported" >&2
        return 1
    fi
    printf '#include "hl/http.h"\n' >"$tmp/src/store/bad.c"
    local out
    out=$(check_tree "$tmp")
    if [ $? -eq 0 ] || ! grep -q 'src/store/bad.c:1: domain includes hl/http.h (http)' <<<"$out"; then
        echo "layers self-test: a domain file including hl/http.h was not reported" >&2
        return 1
    fi
    printf '#include <h2o.h>\n' >"$tmp/src/store/bad.c"
    out=$(check_tree "$tmp")
    if [ $? -eq 0 ] || ! grep -q 'domain includes h2o' <<<"$out"; then
        echo "layers self-test: a domain file including h2o was not reported" >&2
        return 1
    fi
    echo "layers self-test: forbidden edges are reported"
}

if [ "${1:-}" = "--self-test" ]; then
    self_test
    exit $?
fi
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
if check_tree "$root"; then
    echo "layers: every include points down"
else
    exit 1
fi
