/*
 * The self-update's rollback guard (hidden command `hermeslink __update-watchdog`), run from the OLD binary
 * (<exe>.previous) by the daemon just before it re-executes itself as the new one. It waits for the new process to
 * answer GET /api/v1/system/status on its port; if it does not within the time given (or the process dies first), the
 * watchdog kills it, puts the old binary back at <exe>, records the failure in run/link-update-state.json and starts the
 * old binary again, detached, with the same listening flags (SECURITY.md §4.5).
 *
 * Usage: __update-watchdog <pid> <probe host> <port> <tls port> <listen host> <exe> <timeout s>
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "cli.h"
#include "hl/clock.h"
#include "hl/fsutil.h"

static size_t discard(void *p, size_t s, size_t n, void *u)
{
    (void)p;
    (void)u;
    return s * n;
}

static int answers(const char *host, const char *port)
{
    CURL *c = curl_easy_init();
    if (c == NULL)
        return 0;
    char *url = strchr(host, ':') != NULL ? hl_asprintf("http://[%s]:%s/api/v1/system/status", host, port)
                                          : hl_asprintf("http://%s:%s/api/v1/system/status", host, port);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 1000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    long code = 0;
    int ok = curl_easy_perform(c) == CURLE_OK && curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK && code == 200;
    curl_easy_cleanup(c);
    free(url);
    return ok;
}

/* True while `pid` runs (a zombie counts as ended). */
static int running(pid_t pid)
{
    char path[64], buf[256];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *rp = strrchr(buf, ')');
    return rp != NULL && rp[1] == ' ' && rp[2] != 'Z' && rp[2] != 'X';
}

/* The job's state file: failed, with `error`; the pending marker removed. */
static void record_failure(const char *home, const char *error)
{
    char *run = hl_path_join(home, "run");
    char *path = hl_path_join(run, "link-update-state.json"), *pending = hl_path_join(run, "link-update-pending.json");
    char *text = NULL;
    json_t *o = hl_read_file(path, 64 << 10, &text, NULL) == 0 ? json_loads(text, 0, NULL) : NULL;
    free(text);
    if (!json_is_object(o)) {
        json_decref(o);
        o = json_object();
    }
    char iso[HL_ISO_TIME_LEN];
    json_object_set_new(o, "state", json_string("failed"));
    json_object_set_new(o, "finished_at", json_string(hl_format_iso(hl_now_ms(), iso)));
    json_object_set_new(o, "error", json_string(error));
    char *dump = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    char *with_nl = hl_asprintf("%s\n", dump);
    if (hl_write_file_atomic(path, with_nl, strlen(with_nl), 0600) != 0)
        fprintf(stderr, "hermeslink update watchdog: cannot record the rollback\n");
    unlink(pending);
    free(with_nl);
    free(dump);
    json_decref(o);
    free(pending);
    free(path);
    free(run);
}

/* Starts `exe run …` detached: its own session, stdin /dev/null, stdout and stderr appended to logs/daemon.log. */
static void start_detached(const char *home, char *exe, char *port, char *tls_port, char *listen)
{
    pid_t pid = fork();
    if (pid != 0)
        return;
    setsid();
    if (fork() != 0)
        _exit(0);
    char *logs = hl_path_join(home, "logs"), *log = hl_path_join(logs, "daemon.log");
    int in = open("/dev/null", O_RDONLY), out = open(log, O_WRONLY | O_APPEND | O_CREAT, 0600);
    if (in >= 0)
        dup2(in, 0);
    if (out >= 0)
        dup2(out, 1), dup2(out, 2);
    char *argv[] = {exe, "run", "--port", port, "--tls-port", tls_port, "--listen", listen, NULL};
    execv(exe, argv);
    _exit(127);
}

int hl_cmd_update_watchdog(int argc, char **argv)
{
    long pid, timeout_s;
    if (argc != 8 || hl_parse_long(argv[1], 1, INT32_MAX, &pid) != 0 || hl_parse_long(argv[7], 1, 3600, &timeout_s) != 0) {
        fprintf(stderr, "Usage: hermeslink __update-watchdog <pid> <host> <port> <tls-port> <listen> <exe> <timeout-s>\n");
        return 2;
    }
    const char *host = argv[2];
    char *port = argv[3], *tls_port = argv[4], *listen = argv[5], *exe = argv[6];
    char *home = hl_cli_home();
    if (home == NULL)
        return 1;
    uint64_t deadline = hl_monotonic_ms() + (uint64_t)timeout_s * 1000;
    int ok = 0;
    while (hl_monotonic_ms() < deadline && running((pid_t)pid)) {
        if (answers(host, port)) {
            ok = 1;
            break;
        }
        nanosleep(&(struct timespec){.tv_nsec = 200 * 1000 * 1000}, NULL);
    }
    if (ok) {
        free(home);
        return 0;
    }
    int ended = !running((pid_t)pid);
    if (!ended)
        kill((pid_t)pid, SIGKILL);
    char *previous = hl_asprintf("%s.previous", exe);
    int restored = rename(previous, exe) == 0;
    free(previous);
    const char *what = restored ? "the previous binary was put back and started again"
                                : "the previous binary could not be put back (see hermeslink.previous)";
    char *error = ended ? hl_asprintf("The new version ended after the restart without answering; %s", what)
                        : hl_asprintf("The new version did not answer within %ld s after the restart; %s", timeout_s, what);
    record_failure(home, error);
    free(error);
    if (restored)
        start_detached(home, exe, port, tls_port, listen);
    free(home);
    return restored ? 0 : 1;
}
