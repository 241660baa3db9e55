# bash completion for hermeslink (installed as ${prefix}/share/bash-completion/completions/hermeslink).
# Hand-written from src/cli: keep the command list in step with `hermeslink --help` (tests/integration/check_install.sh
# fails when a command it prints is missing here).
_hermeslink()
{
    local cur prev cmd
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD - 1]}
    local commands="run start stop restart status pair config autostart logs import devices version"
    local config_keys="port lan-host language log-level tls-port workers public-url hermes-api-url hermes-api-key
        lan-plain-http plain-http2 max-connections max-connections-per-address max-streams-per-device
        max-body-mib-per-address trusted-proxies update-url update-public-key"

    if [ "$COMP_CWORD" -eq 1 ]; then
        COMPREPLY=($(compgen -W "$commands --help -h --version -v" -- "$cur"))
        return
    fi
    cmd=${COMP_WORDS[1]}
    case $cmd in
    run | start | restart)
        case $prev in
        --port | --tls-port)
            COMPREPLY=($(compgen -W "auto" -- "$cur"))
            return
            ;;
        --listen)
            COMPREPLY=($(compgen -W "0.0.0.0 127.0.0.1 :: ::1" -- "$cur"))
            return
            ;;
        esac
        COMPREPLY=($(compgen -W "--port --tls-port --listen --help" -- "$cur"))
        ;;
    stop | status)
        COMPREPLY=($(compgen -W "--help" -- "$cur"))
        ;;
    pair)
        COMPREPLY=($(compgen -W "--web --json --help" -- "$cur"))
        ;;
    config)
        if [ "$COMP_CWORD" -eq 2 ]; then
            COMPREPLY=($(compgen -W "get set --help" -- "$cur"))
        elif [ "$COMP_CWORD" -eq 3 ] && [ "${COMP_WORDS[2]}" = set ]; then
            COMPREPLY=($(compgen -W "$config_keys" -- "$cur"))
        elif [ "${COMP_WORDS[2]}" = set ]; then
            case ${COMP_WORDS[3]} in
            hermes-api-key)
                if [ "$prev" = --file ]; then
                    COMPREPLY=($(compgen -f -- "$cur"))
                else
                    COMPREPLY=($(compgen -W "--file --clear" -- "$cur"))
                fi
                ;;
            language) COMPREPLY=($(compgen -W "auto en zh-CN" -- "$cur")) ;;
            log-level) COMPREPLY=($(compgen -W "debug info warn error" -- "$cur")) ;;
            lan-plain-http | plain-http2) COMPREPLY=($(compgen -W "true false" -- "$cur")) ;;
            esac
        fi
        ;;
    autostart)
        COMPREPLY=($(compgen -W "on enable off disable --help" -- "$cur"))
        ;;
    logs)
        case $prev in
        -n | --limit) return ;;
        esac
        COMPREPLY=($(compgen -W "--gateway -n --limit -f --follow --help" -- "$cur"))
        ;;
    import)
        COMPREPLY=($(compgen -d -- "$cur") $(compgen -W "--help" -- "$cur"))
        ;;
    devices)
        [ "$prev" = revoke ] && return
        COMPREPLY=($(compgen -W "revoke --json --help" -- "$cur"))
        ;;
    version)
        COMPREPLY=($(compgen -W "--verbose --help" -- "$cur"))
        ;;
    esac
}
complete -F _hermeslink hermeslink
