#!/usr/bin/env bash
# Writes the man page hermeslink.1 from the built binary's own help: `hermeslink --help` and `hermeslink <command> --help`
# for every command that help lists, so the page never disagrees with the binary. Run by the build (cmake/install.cmake).
#   gen-man.sh BINARY OUTPUT
# bash and sed only; the help text goes into no-fill blocks, escaped for roff.
set -euo pipefail
bin=${1:?usage: gen-man.sh BINARY OUTPUT}
out=${2:?usage: gen-man.sh BINARY OUTPUT}

# --help never touches the home, but a command that did must not write into the builder's ~/.hermeslink
home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT
export HERMESLINK_HOME=$home

version=$("$bin" --version)
help=$("$bin" --help)
# the command names: the first word of each indented line of the "Commands:" block, once each, in order
commands=
for c in $(sed -n '/^Commands:/,/^$/{/^  [a-z]/{s/^  \([a-z][a-z-]*\).*/\1/;p}}' <<<"$help"); do
    case " $commands " in *" $c "*) ;; *) commands="$commands $c" ;; esac
done
[ -n "$commands" ] || {
    echo "gen-man.sh: no commands found in $bin --help" >&2
    exit 1
}

# roff: a backslash is \e, a line starting with . or ' is protected by \&, and each line is literal in .nf
escape() {
    sed -e 's/\\/\\e/g' -e "s/^\\([.']\\)/\\\\\\&\\1/"
}

tmp="$out.tmp"
{
    printf '.TH HERMESLINK 1 "" "hermeslink %s" "User Commands"\n' "$version"
    printf '.SH NAME\nhermeslink \\- local service for Hermes Agent: pairs phones and browsers and serves its API\n'
    printf '.SH SYNOPSIS\n.B hermeslink\n\\fIcommand\\fR [\\fIoptions\\fR]\n'
    printf '.SH DESCRIPTION\n.nf\n'
    escape <<<"$help"
    printf '.fi\n.SH COMMANDS\n'
    for c in $commands; do
        printf '.SS %s\n.nf\n' "$c"
        "$bin" "$c" --help | escape
        printf '.fi\n'
    done
    printf '.SH ENVIRONMENT\n.TP\n.B HERMESLINK_HOME\nthe runtime directory (default \\fI~/.hermeslink\\fR)\n'
    printf '.SH FILES\n.TP\n.I ~/.hermeslink/config.json\nconfiguration written by \\fBhermeslink config set\\fR\n'
    printf '.TP\n.I lib/systemd/user/hermeslink.service\n'
    printf 'the systemd user unit (under the install prefix): \\fBsystemctl --user enable --now hermeslink\\fR\n'
} >"$tmp"
mv "$tmp" "$out"
