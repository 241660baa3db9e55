/*
 * logs [--gateway] [-n N | --limit N] [-f]: recent entries, oldest first, one per line (spec/CLI.md §2.8); -f then prints
 * new entries as they are appended (logs_follow.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"
#include "hl/clock.h"
#include "hl/logread.h"
#include "hl/paths.h"

#define DEFAULT_LIMIT 50
#define MAX_LIMIT 1000

static const char HELP[] = "Usage: hermeslink logs [--gateway] [-n N | --limit N] [-f | --follow]\n"
                           "\n"
                           "Show the newest N log entries (default 50, at most 1000), oldest first.\n"
                           "  --gateway   Hermes's gateway log (HERMES_HOME/logs/gateway.log) instead of Hermes Link's\n"
                           "  -f          keep printing new entries as they are written (Ctrl-C to stop)\n";

static void print_entry(json_t *e)
{
    const char *ts = json_string_value(json_object_get(e, "ts"));
    const char *level = json_string_value(json_object_get(e, "level"));
    const char *message = json_string_value(json_object_get(e, "message"));
    char when[64] = "??";
    int64_t ms;
    if (ts != NULL && hl_parse_iso(ts, &ms) == 0) {
        time_t t = (time_t)(ms / 1000);
        struct tm tm;
        localtime_r(&t, &tm);
        strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
    }
    char upper[8] = "INFO";
    if (level != NULL) {
        size_t i = 0;
        for (; level[i] != '\0' && i + 1 < sizeof(upper); ++i)
            upper[i] = (char)(level[i] >= 'a' && level[i] <= 'z' ? level[i] - 32 : level[i]);
        upper[i] = '\0';
    }
    /* the entry's fields (what the message is about: a port, an error) follow it as compact JSON */
    json_t *fields = json_object_get(e, "fields");
    char *extra =
        json_is_object(fields) && json_object_size(fields) > 0 ? json_dumps(fields, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    printf("[%s] %s %s%s%s\n", when, upper, message != NULL ? message : "", extra != NULL ? " " : "", extra != NULL ? extra : "");
    free(extra);
}

/* Says why nothing was printed: no gateway log at all, or no entries (yet) */
static void print_nothing(const char *path, int gateway, int follow)
{
    struct stat st;
    if (gateway && stat(path, &st) != 0)
        printf("No gateway log: %s does not exist (Hermes writes it while its gateway runs).\n", path);
    else
        printf("No %slog entries yet.\n", gateway ? "gateway " : "");
    if (follow)
        printf("Waiting for new entries (Ctrl-C to stop)...\n");
    fflush(stdout);
}

int hl_cmd_logs(int argc, char **argv)
{
    if (hl_cli_wants_help(argc, argv)) {
        fputs(HELP, stdout);
        return 0;
    }
    long limit = DEFAULT_LIMIT;
    int gateway = 0, follow = 0;
    for (int i = 1; i < argc; ++i) {
        if (strcmp(argv[i], "--gateway") == 0) {
            gateway = 1;
        } else if (strcmp(argv[i], "-f") == 0 || strcmp(argv[i], "--follow") == 0) {
            follow = 1;
        } else if (strcmp(argv[i], "-n") == 0 || strcmp(argv[i], "--limit") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "Usage: hermeslink logs [--gateway] [-n N | --limit N] [-f]\n");
                return 1;
            }
            /* as the original: read like the API's limit (not a number → 200, clamped to 1..1000) */
            limit = (long)hl_logs_limit_number(argv[++i]);
        } else if (strncmp(argv[i], "--limit=", 8) == 0) {
            limit = (long)hl_logs_limit_number(argv[i] + 8);
        } else {
            return hl_cli_reject(argv[i], HELP);
        }
    }
    if (limit > MAX_LIMIT)
        limit = MAX_LIMIT;
    char *home = gateway ? hl_resolve_hermes_home() : hl_cli_home();
    if (home == NULL)
        return 1;
    /* the file is opened before its tail is read, so that nothing written in between is missed */
    char *path = hl_logs_path(home, gateway);
    hl_logs_follow_t *f = follow ? hl_logs_follow_open(path) : NULL;
    json_t *entries = gateway ? hl_logs_read_gateway(home, (size_t)limit) : hl_logs_read_link(home, (size_t)limit);
    size_t i;
    json_t *e;
    json_array_foreach(entries, i, e) print_entry(e);
    if (json_array_size(entries) == 0)
        print_nothing(path, gateway, follow);
    free(path);
    json_decref(entries);
    free(home);
    int ret = f != NULL ? hl_logs_follow_run(f, gateway, print_entry) : 0;
    hl_logs_follow_close(f);
    return ret;
}
