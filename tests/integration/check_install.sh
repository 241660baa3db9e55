#!/usr/bin/env bash
# Checks `cmake --install` of a configured build directory into a temporary prefix (issue 12): the binary runs and
# reports the version, the man page is non-empty and names every command `hermeslink --help` prints, the bash and zsh
# completions list every such command, the systemd user unit runs ${prefix}/bin/hermeslink run with Type=notify; then,
# with --deb, builds the .deb with CPack and inspects it (dpkg-deb -I / -c: Depends, files). Run by test_install.c.
#   check_install.sh BUILD_DIR [--deb]
# Prints one line per check; exits 0 when all pass, 1 when one fails, 77 when a tool or the build directory is missing.
set -uo pipefail
build=${1:-}
deb=0
[ "${2:-}" = --deb ] && deb=1
[ -n "$build" ] && [ -f "$build/CMakeCache.txt" ] && [ -x "$build/hermeslink" ] || {
    echo "SKIP: no configured build with a binary at '$build' (make build)"
    exit 77
}
command -v cmake >/dev/null 2>&1 || { echo "SKIP: cmake not installed"; exit 77; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bad=0
ok() { echo "ok: $1"; }
fail() {
    echo "FAIL: $1"
    bad=1
}

# the man page is a build product: bring the build dir up to date first (a no-op after make build)
cmake --build "$build" >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; fail "cmake --build $build"; exit 1; }
prefix=$tmp/prefix
cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1 || {
    cat "$tmp/install.log"
    fail "cmake --install $build --prefix $prefix"
    exit 1
}
ok "cmake --install --prefix $prefix"

bin=$prefix/bin/hermeslink
export HERMESLINK_HOME=$tmp/home
if [ -x "$bin" ] && version=$("$bin" version) && [ -n "$version" ]; then ok "bin/hermeslink version: $version"; else fail "bin/hermeslink missing or broken"; fi
verbose=$("$bin" version --verbose 2>&1)
[[ $verbose =~ ^"$version (git "[A-Za-z0-9._+-]+")"$ ]] && ok "version --verbose: $verbose" || fail "version --verbose printed '$verbose'"

help=$("$bin" --help)
commands=
for c in $(sed -n '/^Commands:/,/^$/{/^  [a-z]/{s/^  \([a-z][a-z-]*\).*/\1/;p}}' <<<"$help"); do
    case " $commands " in *" $c "*) ;; *) commands="$commands $c" ;; esac
done
[ -n "$commands" ] && ok "commands in --help:$commands" || fail "no commands in --help"

man=$prefix/share/man/man1/hermeslink.1
if [ -s "$man" ]; then ok "man page $man"; else fail "man page missing or empty: $man"; fi
grep -q '^\.TH HERMESLINK 1' "$man" 2>/dev/null && ok "man page header" || fail "man page has no .TH header"
for c in $commands; do
    grep -q "^\.SS $c\$" "$man" 2>/dev/null || fail "man page has no section for '$c'"
done
if command -v man >/dev/null 2>&1; then
    MANWIDTH=80 man -l "$man" >"$tmp/man.txt" 2>"$tmp/man.err" && [ -s "$tmp/man.txt" ] && ok "man -l renders it" ||
        fail "man -l failed: $(cat "$tmp/man.err")"
fi

bashc=$prefix/share/bash-completion/completions/hermeslink
zshc=$prefix/share/zsh/vendor-completions/_hermeslink
[ -s "$bashc" ] && bash -n "$bashc" && ok "bash completion" || fail "bash completion missing or not valid bash: $bashc"
[ -s "$zshc" ] && head -1 "$zshc" | grep -q '^#compdef hermeslink' && ok "zsh completion" || fail "zsh completion missing: $zshc"
# bash: ask the completion function itself for the first word
words=$(bash -c 'source "$1"; COMP_WORDS=(hermeslink ""); COMP_CWORD=1; _hermeslink; echo "${COMPREPLY[*]}"' _ "$bashc")
for c in $commands; do
    [[ " $words " == *" $c "* ]] || fail "bash completion does not offer '$c' (offers: $words)"
    grep -q "'$c:" "$zshc" || fail "zsh completion does not list '$c'"
done

# each command's flags, as its --help names them, are offered by both completions
for c in $commands; do
    for flag in $("$bin" "$c" --help | grep -o -- '--[a-z][a-z0-9-]*' | sort -u); do
        [ "$c" = version ] && [ "$flag" = --version ] && continue # "also --version anywhere": the global option
        grep -q -- "$flag\b" "$bashc" || fail "bash completion lacks $c $flag"
        grep -q -- "$flag\b" "$zshc" || fail "zsh completion lacks $c $flag"
    done
done
[ $bad -eq 0 ] && ok "completions offer every command's flags"

unit=$prefix/lib/systemd/user/hermeslink.service
if [ -s "$unit" ]; then ok "unit $unit"; else fail "unit missing: $unit"; fi
grep -qx "ExecStart=$prefix/bin/hermeslink run" "$unit" 2>/dev/null && ok "unit ExecStart=$prefix/bin/hermeslink run" ||
    fail "unit ExecStart is $(grep ExecStart "$unit" 2>/dev/null), expected $prefix/bin/hermeslink run"
grep -qx "Type=notify" "$unit" 2>/dev/null && ok "unit Type=notify" || fail "unit has no Type=notify"
grep -qx "WantedBy=default.target" "$unit" 2>/dev/null || fail "unit has no WantedBy=default.target"

if [ $deb -eq 1 ]; then
    for tool in cpack dpkg-deb dpkg-shlibdeps; do
        command -v $tool >/dev/null 2>&1 || { echo "SKIP: $tool not installed (scripts/deps.sh installs dpkg-dev)"; exit 77; }
    done
    (cd "$build" && cpack -G DEB -B "$tmp/deb" >"$tmp/cpack.log" 2>&1) || { cat "$tmp/cpack.log"; fail "cpack -G DEB"; exit 1; }
    pkg=$(ls "$tmp"/deb/hermeslink_*.deb 2>/dev/null | head -1)
    [ -n "$pkg" ] && ok "built $(basename "$pkg")" || { fail "no hermeslink_*.deb in $tmp/deb"; exit 1; }
    info=$(dpkg-deb -I "$pkg")
    depends=$(sed -n 's/^ Depends: //p' <<<"$info")
    echo "Depends: $depends"
    for lib in libh2o-evloop libjansson libsqlite3 libssl libqrencode libcurl liburcu libyaml; do
        grep -q "\b$lib" <<<"$depends" || fail "Depends lacks $lib"
    done
    grep -q '^ Package: hermeslink$' <<<"$info" || fail "package name is not hermeslink"
    files=$(dpkg-deb -c "$pkg")
    for f in ./usr/bin/hermeslink ./usr/share/man/man1/hermeslink.1 ./usr/share/bash-completion/completions/hermeslink \
        ./usr/share/zsh/vendor-completions/_hermeslink ./usr/lib/systemd/user/hermeslink.service; do
        grep -q " $f\$" <<<"$files" || fail "the .deb lacks $f"
    done
    dpkg-deb --fsys-tarfile "$pkg" | tar -xO ./usr/lib/systemd/user/hermeslink.service 2>/dev/null |
        grep -qx "ExecStart=/usr/bin/hermeslink run" && ok "the .deb's unit runs /usr/bin/hermeslink run" ||
        fail "the .deb's unit does not run /usr/bin/hermeslink run"
    [ $bad -eq 0 ] && ok ".deb contents and Depends"
fi
exit $bad
