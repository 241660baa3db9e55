/*
 * config get / config set <key> <value> (spec/CLI.md §2.6–2.7, validated).
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "hl/config.h"
#include "hl/pidfile.h"

static const char HELP[] =
    "Usage: hermeslink config get\n"
    "       hermeslink config set <key> <value>\n"
    "\n"
    "Keys: port, lan-host, language, log-level, tls-port, workers, public-url, hermes-api-url,\n"
    "      lan-plain-http, plain-http2 (true|false), max-connections, max-connections-per-address,\n"
    "      max-streams-per-device, max-body-mib-per-address, trusted-proxies (comma-separated ranges, or none)\n"
    "      update-url (the self-update's release feed, or none), update-public-key (base64 ed25519 key, or none)\n"
    "The running daemon reads config.json at start: restart it to apply changes.\n";

/* The daemon reads config.json once, at start (src/daemon.c: listeners, TLS, workers, caps, log level, LAN host, URLs):
 * every key needs a restart to apply, except `language`, which is stored for the apps and read by nothing at run time. */
static int needs_restart(const char *key)
{
    return strcmp(key, "language") != 0;
}

int hl_cmd_config(int argc, char **argv)
{
    if (hl_cli_wants_help(argc, argv)) {
        fputs(HELP, stdout);
        return 0;
    }
    if (argc < 2 || (strcmp(argv[1], "get") != 0 && strcmp(argv[1], "set") != 0)) {
        fprintf(stderr, "Usage: hermeslink config [get|set]\n");
        return 1;
    }
    int is_set = strcmp(argv[1], "set") == 0;
    if (!is_set && argc > 2)
        return hl_cli_reject(argv[2], HELP);
    if (is_set && argc != 4) {
        fprintf(stderr, "Usage: hermeslink config set <key> <value>\n");
        return 1;
    }
    char *home = hl_cli_home();
    if (home == NULL)
        return 1;
    hl_config_t cfg;
    hl_config_defaults(&cfg);
    char err[512];
    int rc = 1;
    if (hl_config_load(&cfg, home, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        goto Exit;
    }
    if (!is_set) {
        char *text = hl_config_dump(&cfg, 1);
        fputs(text, stdout);
        free(text);
        rc = 0;
        goto Exit;
    }
    char *msg = NULL;
    if (hl_config_set(&cfg, argv[2], argv[3], &msg) != 0) {
        fprintf(stderr, "%s\n", msg);
        free(msg);
        goto Exit;
    }
    if (hl_config_save(&cfg, home) != 0) {
        fprintf(stderr, "Cannot write config.json\n");
        free(msg);
        goto Exit;
    }
    printf("%s\n", msg);
    free(msg);
    pid_t pid;
    if (needs_restart(argv[2]) && hl_pidfile_probe(home, &pid) == HL_PID_RUNNING)
        printf("Hermes Link (PID %d) is running with the previous value: restart it to apply this (hermeslink restart).\n",
               (int)pid);
    rc = 0;
Exit:
    hl_config_dispose(&cfg);
    free(home);
    return rc;
}
