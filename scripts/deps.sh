#!/usr/bin/env bash
# Installs the Debian packages HermesLink needs to build, test and benchmark; with --browser also the npm dependencies
# of the browser test (tests/browser/package.json, from its lockfile).
# Idempotent and non-interactive: runs `apt-get update` only when something is missing, uses sudo
# when not root, and says so clearly when neither works.
set -euo pipefail
cd "$(dirname "$0")/.."

browser=0
for arg in "$@"; do
    case $arg in
    --browser) browser=1 ;;
    *)
        echo "usage: $0 [--browser]" >&2
        exit 2
        ;;
    esac
done

PACKAGES=(
    build-essential cmake pkg-config make
    libh2o-evloop-dev libjansson-dev libsqlite3-dev libssl-dev libqrencode-dev
    libcurl4-openssl-dev check liburcu-dev libyaml-dev
    # gzip copies of the web client's files (src/http/routes_app.c); h2o's package already pulls it in
    zlib1g-dev
    curl wrk nghttp2-client sqlite3 openssl procps
    chromium zbar-tools
    # bench/h2_exposure.py: an HTTP/2 client that holds bodies open and resets streams (make bench-edge)
    python3-h2
    # the reverse proxy of tests/integration/test_nginx_front.c: Debian's base nginx package already has the ssl and
    # http_v2 modules (nginx-light and nginx-core only add modules). On a machine whose init system runs services, the
    # package enables and starts its own nginx on port 80; the test never uses that one and runs nginx of its own.
    nginx
    # make deb (CPack): dpkg-shlibdeps turns the linked libraries into the package's Depends; `file` is what CPack's DEB
    # generator uses to find the binaries to inspect
    dpkg-dev file
    # the fuzz targets (fuzz/, make fuzz; make test replays their corpora): clang-14 and its libFuzzer runtime
    # (libclang_rt.fuzzer-*.a comes with libclang-rt-14-dev, which Debian 12's clang pulls in)
    clang libclang-rt-14-dev
)

missing=()
for p in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
# node and npm (the browser test): any on PATH will do, e.g. NodeSource's nodejs, which bundles npm and conflicts with
# Debian's npm package; otherwise Debian's
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)

if [ ${#missing[@]} -gt 0 ]; then
    echo "deps: installing missing packages: ${missing[*]}" >&2
    if [ "$(id -u)" -eq 0 ]; then
        SUDO=()
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        echo "deps: not root, using sudo" >&2
        SUDO=(sudo -n)
    else
        echo "deps: cannot install packages: not root and passwordless sudo is unavailable." >&2
        echo "deps: install them yourself: apt-get install ${missing[*]}" >&2
        exit 1
    fi

    export DEBIAN_FRONTEND=noninteractive
    "${SUDO[@]}" apt-get update -qq
    "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    echo "deps: done" >&2
fi

if [ $browser -eq 1 ] && [ ! -d tests/browser/node_modules/playwright-core ]; then
    echo "deps: installing the browser test's npm dependencies (npm ci in tests/browser)" >&2
    (cd tests/browser && timeout 300 npm ci --no-audit --no-fund --loglevel=error >&2) || {
        echo "deps: npm ci failed in tests/browser" >&2
        exit 1
    }
fi
