#!/usr/bin/env bash
# Installs the Debian packages HermesLink needs to build, test and benchmark.
# Idempotent and non-interactive: runs `apt-get update` only when something is missing, uses sudo
# when not root, and says so clearly when neither works.
set -euo pipefail

PACKAGES=(
    build-essential cmake pkg-config make
    libh2o-evloop-dev libjansson-dev libsqlite3-dev libssl-dev libqrencode-dev
    libcurl4-openssl-dev check liburcu-dev
    curl wrk nghttp2-client sqlite3 openssl procps
    chromium zbar-tools
)

missing=()
for p in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

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
