#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "hl/version.h"
#include "hl/paths.h"

static const char HELP[] = "Hermes Link " HL_VERSION " — Local service for Hermes Agent\n"
                           "\n"
                           "Usage: hermeslink <command> [options]\n"
                           "\n"
                           "Commands:\n"
                           "  run                Serve in the foreground (--port N, --tls-port N, --listen HOST)\n"
                           "  start              Start the Hermes Link daemon\n"
                           "  stop               Stop the Hermes Link daemon\n"
                           "  restart            Restart the daemon\n"
                           "  status             Show daemon and service status\n"
                           "  pair               Generate a pairing QR code and connect token for a device\n"
                           "  config get         Show current configuration\n"
                           "  config set         Set a configuration value\n"
                           "  autostart          Show/enable/disable autostart\n"
                           "  autostart on|off   Enable or disable autostart\n"
                           "  devices            List paired devices (revoke ID: sign one out)\n"
                           "  logs               Show recent log entries (--gateway for gateway logs)\n"
                           "  import [DIR]       Import a Node HermesLink home (default ~/.hermeslink)\n"
                           "  version            Print version\n"
                           "\n"
                           "Options:\n"
                           "  --version, -v      Print version\n"
                           "  --help, -h         Show this help\n";

static const char VERSION_HELP[] = "Usage: hermeslink version [--verbose]\n"
                                   "\n"
                                   "Print the version (also --version or -v anywhere).\n"
                                   "  --verbose   also the git revision it was built from: <version> (git <revision>)\n";

int hl_cli_reject(const char *arg, const char *help)
{
    if (arg != NULL)
        fprintf(stderr, "%s: %s\n", arg[0] == '-' ? "Unknown option" : "Unexpected argument", arg);
    const char *nl = strchr(help, '\n');
    fprintf(stderr, "%.*s\n", nl != NULL ? (int)(nl - help) : (int)strlen(help), help);
    return 1;
}

int hl_cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; ++i)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return 1;
    return 0;
}

char *hl_cli_home(void)
{
    char *home = hl_resolve_home();
    if (home == NULL) {
        fprintf(stderr, "Cannot resolve the Hermes Link home directory; set HERMESLINK_HOME\n");
        return NULL;
    }
    int ret = hl_ensure_home(home);
    if (ret != 0) {
        fprintf(stderr, "Cannot create %s\n", home);
        free(home);
        return NULL;
    }
    return home;
}

static const struct {
    const char *name;
    int (*fn)(int, char **);
} COMMANDS[] = {
    {"run", hl_cmd_run},         {"start", hl_cmd_start},     {"stop", hl_cmd_stop},
    {"restart", hl_cmd_restart}, {"status", hl_cmd_status},   {"config", hl_cmd_config},
    {"logs", hl_cmd_logs},       {"pair", hl_cmd_pair},       {"autostart", hl_cmd_autostart},
    {"import", hl_cmd_import},   {"devices", hl_cmd_devices},
};

hl_serve_fn hl_cli_serve;

int hl_cli_main(int argc, char **argv, hl_serve_fn serve)
{
    hl_cli_serve = serve;
    /* Every file HermesLink creates (link.db and its WAL, blobs, logs, config, keys) holds tokens' hashes, conversations
     * or secrets: whatever the mode (run, start, pair starting a daemon, config set), nothing is group or other readable. */
    umask(077);
    for (int i = 1; i < argc; ++i) {
        if (strcmp(argv[i], "--version") == 0 || strcmp(argv[i], "-v") == 0) {
            printf("%s\n", HL_VERSION);
            return 0;
        }
    }
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        fputs(HELP, stdout);
        return 0;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "version") == 0) {
        if (hl_cli_wants_help(argc - 1, argv + 1)) {
            fputs(VERSION_HELP, stdout);
            return 0;
        }
        /* spec/CLI.md §2.10: plain `version` prints exactly "<version>\n" (scripts compare it); the revision is opt-in */
        if (argc == 3 && strcmp(argv[2], "--verbose") == 0) {
            printf("%s (git %s)\n", HL_VERSION, hl_build_revision());
            return 0;
        }
        if (argc > 2)
            return hl_cli_reject(argv[2], VERSION_HELP);
        printf("%s\n", HL_VERSION);
        return 0;
    }
    /* the original's hidden foreground command, kept for service files written for it */
    if (strcmp(cmd, "daemon") == 0) {
        int fg = 0;
        for (int i = 2; i < argc; ++i)
            fg |= strcmp(argv[i], "--foreground") == 0;
        if (!fg) {
            fprintf(stderr, "Use 'hermeslink start' or 'hermeslink run'\n");
            return 1;
        }
        return hl_cmd_run(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "__update-watchdog") == 0) /* hidden: started by the daemon during a self-update */
        return hl_cmd_update_watchdog(argc - 1, argv + 1);
    for (size_t i = 0; i < sizeof(COMMANDS) / sizeof(COMMANDS[0]); ++i)
        if (strcmp(cmd, COMMANDS[i].name) == 0)
            return COMMANDS[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "Unknown command: %s\n", cmd);
    fputs(HELP, stdout);
    return 1;
}
