/*
 * config get / config set <key> <value> (spec/CLI.md §2.6–2.7, validated).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"
#include "hl/config.h"
#include "hl/fsutil.h"
#include "hl/pidfile.h"

static const char HELP[] =
    "Usage: hermeslink config get\n"
    "       hermeslink config set <key> <value>\n"
    "\n"
    "Keys: port, lan-host, language, log-level, tls-port, workers, public-url, hermes-api-url,\n"
    "      lan-plain-http, plain-http2 (true|false), max-connections, max-connections-per-address,\n"
    "      max-streams-per-device, max-body-mib-per-address, trusted-proxies (comma-separated ranges, or none)\n"
    "      update-url (the self-update's release feed, or none), update-public-key (base64 ed25519 key, or none)\n"
    "       hermeslink config set hermes-api-key [--file PATH | --clear]\n"
    "The Hermes API key is read from stdin (typed without echo on a terminal) or from PATH, never from the\n"
    "command line, and never printed: config get shows it as \"(configured)\".\n"
    "The running daemon reads config.json at start: restart it to apply changes.\n";

/* The daemon reads config.json once, at start (src/daemon.c: listeners, TLS, workers, caps, log level, LAN host, URLs):
 * every key needs a restart to apply, except `language`, which is stored for the apps and read by nothing at run time. */
static int needs_restart(const char *key)
{
    return strcmp(key, "language") != 0;
}

#define API_KEY_MAX 4096

/* Reads the key: one line from stdin (without echo when it is a terminal) or the whole file at `path`, trailing line
 * breaks and blanks dropped. Returns it (caller wipes and frees) or NULL after printing why, never the key itself. */
static char *read_api_key(const char *path)
{
    char *text = NULL;
    if (path != NULL) {
        int ret = hl_read_file(path, API_KEY_MAX + 2, &text, NULL);
        if (ret != 0) {
            fprintf(stderr, "Cannot read the Hermes API key from %s: %s\n", path,
                    ret == -EFBIG ? "the file is too large for a key" : strerror(-ret));
            return NULL;
        }
    } else {
        int tty = isatty(STDIN_FILENO);
        struct termios saved, quiet;
        if (tty && tcgetattr(STDIN_FILENO, &saved) == 0) {
            quiet = saved;
            quiet.c_lflag &= ~(tcflag_t)ECHO;
            fprintf(stderr, "Hermes API key (input hidden): ");
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
        } else {
            tty = 0;
        }
        text = hl_calloc(1, API_KEY_MAX + 2);
        int got = fgets(text, API_KEY_MAX + 2, stdin) != NULL;
        if (tty) {
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
            fputc('\n', stderr);
        }
        if (!got) {
            free(text);
            fprintf(stderr, "No Hermes API key on stdin: hermeslink config set hermes-api-key < FILE, or --file FILE\n");
            return NULL;
        }
    }
    size_t len = strlen(text);
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' ' || text[len - 1] == '\t'))
        text[--len] = '\0';
    return text;
}

static void wipe_free(char *s)
{
    if (s != NULL) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

/* config set hermes-api-key [--file PATH | --clear]: the one key whose value never appears in argv or in any output */
static int set_api_key(int argc, char **argv, hl_config_t *cfg, const char *home)
{
    const char *path = NULL;
    int clear = 0;
    if (argc == 5 && strcmp(argv[3], "--file") == 0)
        path = argv[4];
    else if (argc == 4 && strcmp(argv[3], "--clear") == 0)
        clear = 1;
    else if (argc != 3) {
        fprintf(stderr, "Usage: hermeslink config set hermes-api-key [--file PATH | --clear] (the key on stdin or in PATH, "
                        "never on the command line)\n");
        return 1;
    }
    char *key = clear ? NULL : read_api_key(path);
    if (!clear && key == NULL)
        return 1;
    char *msg = NULL;
    int rc = 1;
    if (hl_config_set_api_key(cfg, key, &msg) != 0) {
        fprintf(stderr, "%s\n", msg);
    } else if (hl_config_save(cfg, home) != 0) {
        fprintf(stderr, "Cannot write config.json\n");
    } else {
        printf("%s\n", msg);
        pid_t pid;
        if (hl_pidfile_probe(home, &pid) == HL_PID_RUNNING)
            printf("Hermes Link (PID %d) is running with the previous value: restart it to apply this (hermeslink restart).\n",
                   (int)pid);
        rc = 0;
    }
    free(msg);
    wipe_free(key);
    return rc;
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
    int is_api_key = is_set && argc >= 3 && strcmp(argv[2], "hermes-api-key") == 0;
    if (is_set && argc != 4 && !is_api_key) {
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
    if (is_api_key) {
        rc = set_api_key(argc, argv, &cfg, home);
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
