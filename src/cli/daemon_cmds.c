/*
 * run, start, stop, restart, status: the daemon's lifecycle from the command line.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "cli.h"
#include "hl/version.h"
#include "hl/clock.h"
#include "hl/autostart.h"
#include "hl/config.h"
#include "hl/control.h"
#include "hl/fsutil.h"
#include "hl/identity.h"
#include "hl/netinfo.h"
#include "hl/pidfile.h"

#define START_TIMEOUT_MS 30000
#define STOP_TIMEOUT_MS 30000

static const char RUN_HELP[] =
    "Usage: hermeslink run [--port N|auto] [--tls-port N|auto] [--listen HOST]\n"
    "\n"
    "Serve in the foreground until SIGTERM or SIGINT. The flags override config.json for this run:\n"
    "  --port N        HTTP port, 1-65535 (auto picks a free one)\n"
    "  --tls-port N    HTTPS port, 1-65535 (0 disables TLS, as tlsPort 0 in config.json; auto picks a free one)\n"
    "  --listen HOST   bind address (default HERMESLINK_LISTEN_HOST or 0.0.0.0)\n";
static const char START_HELP[] = "Usage: hermeslink start [--port N|auto] [--tls-port N|auto] [--listen HOST]\n"
                                 "\n"
                                 "Start the daemon in the background, wait until it answers, and print its URLs.\n"
                                 "Exits 1 if it did not come up. The flags are those of `hermeslink run`.\n";
static const char STOP_HELP[] = "Usage: hermeslink stop\n\nStop the daemon gracefully and wait until it has exited.\n";
static const char RESTART_HELP[] = "Usage: hermeslink restart [--port N|auto] [--tls-port N|auto] [--listen HOST]\n"
                                   "\n"
                                   "Stop, then start. The running daemon's --port, --tls-port and --listen are kept (and\n"
                                   "named); a flag given here replaces the one it was started with.\n";
static const char STATUS_HELP[] = "Usage: hermeslink status\n"
                                  "\n"
                                  "Show daemon and service status. Exit code: 0 running, 3 not running, 1 stale pid file.\n";

/* Parses --port/--tls-port/--listen (also --flag=value). Returns 0, or prints why not and returns -1. */
static int parse_serve_flags(int argc, char **argv, hl_daemon_options_t *o, const char *help)
{
    o->port = -1;
    o->tls_port = -2;
    o->listen = NULL;
    for (int i = 1; i < argc; ++i) {
        const char *a = argv[i], *v = NULL;
        const char *eq = strchr(a, '=');
        size_t nlen = eq != NULL ? (size_t)(eq - a) : strlen(a);
        if (eq != NULL)
            v = eq + 1;
        else if (i + 1 < argc && strncmp(a, "--", 2) == 0)
            v = argv[i + 1];
#define IS(name) (nlen == strlen(name) && strncmp(a, name, nlen) == 0)
        if (IS("--foreground"))
            continue;
        if (IS("--detached")) { /* hidden: a daemon re-executed by its self-update keeps logging as `start` made it */
            o->foreground = 0;
            continue;
        }
        if (!IS("--port") && !IS("--tls-port") && !IS("--listen")) {
            hl_cli_reject(a, help);
            return -1;
        }
        if (v == NULL) {
            fprintf(stderr, "Missing value for %.*s\n", (int)nlen, a);
            hl_cli_reject(NULL, help);
            return -1;
        }
        if (eq == NULL)
            ++i;
        long n;
        if (IS("--port")) {
            if (strcmp(v, "auto") == 0) {
                n = 0; /* the server binds port 0: the kernel picks a free one */
            } else if (hl_parse_long(v, 1, 65535, &n) != 0) {
                fprintf(stderr, "Invalid port number: %s (1-65535, or auto for a free port)\n", v);
                return -1;
            }
            o->port = (int)n;
        } else if (IS("--tls-port")) {
            if (strcmp(v, "auto") == 0) {
                n = 0;
            } else if (hl_parse_long(v, -1, 65535, &n) != 0) {
                fprintf(stderr, "Invalid TLS port number: %s (1-65535, 0 for no TLS, or auto for a free port)\n", v);
                return -1;
            } else if (n <= 0) {
                n = -1; /* 0 = off, as tlsPort 0 in config.json (-1 is still read as off) */
            }
            o->tls_port = (int)n;
        } else {
            o->listen = v;
        }
#undef IS
    }
    return 0;
}

int hl_cmd_run(int argc, char **argv)
{
    if (hl_cli_wants_help(argc, argv)) {
        fputs(RUN_HELP, stdout);
        return 0;
    }
    hl_daemon_options_t o = {.foreground = 1, .ready_fd = -1};
    if (parse_serve_flags(argc, argv, &o, RUN_HELP) != 0)
        return 1;
    char *home = hl_cli_home();
    if (home == NULL)
        return 1;
    free(home);
    return hl_cli_serve(&o);
}

/* Asks the running daemon where it serves. New reference or NULL. */
static json_t *daemon_status(const char *home)
{
    json_t *req = json_pack("{s:s}", "cmd", "status");
    json_t *reply = hl_control_call(home, req, 3000);
    json_decref(req);
    if (reply != NULL && !json_is_true(json_object_get(reply, "ok"))) {
        json_decref(reply);
        reply = NULL;
    }
    return reply;
}

static size_t discard(void *p, size_t s, size_t n, void *u)
{
    (void)p;
    (void)u;
    return s * n;
}

static int is_wildcard(const char *host)
{
    return strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0;
}

/* Any HTTP answer from GET /api/v1/system/status counts as reachable. */
static int http_reachable(const char *host, int port)
{
    CURL *c = curl_easy_init();
    if (c == NULL)
        return 0;
    const char *probe = is_wildcard(host) ? "127.0.0.1" : host;
    char *url = strchr(probe, ':') != NULL ? hl_asprintf("http://[%s]:%d/api/v1/system/status", probe, port)
                                           : hl_asprintf("http://%s:%d/api/v1/system/status", probe, port);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 3000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    long code = 0;
    int ok = curl_easy_perform(c) == CURLE_OK && curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK && code > 0;
    curl_easy_cleanup(c);
    free(url);
    return ok;
}

/* listen: the TLS port's host; plain: the plain port's (loopback without lanPlainHttp) */
static void print_urls(FILE *out, const char *listen, const char *plain, int port, int tls_port)
{
    int any = is_wildcard(listen), plain_any = is_wildcard(plain);
    char *plain_url_host = hl_url_host(plain), *tls_url_host = hl_url_host(listen);
    fprintf(out, "Local:     http://%s:%d\n", plain_url_host, port);
    if (tls_port >= 0)
        fprintf(out, "TLS:       https://%s:%d\n", tls_url_host, tls_port);
    free(plain_url_host);
    free(tls_url_host);
    if (!any)
        return;
    hl_config_t cfg;
    hl_config_defaults(&cfg);
    char *home = hl_cli_home(), err[256];
    if (home != NULL && hl_config_load(&cfg, home, err, sizeof(err)) == 0) {
        hl_environment_t env = hl_detect_environment();
        json_t *ips = hl_lan_ips(cfg.lan_host, &env);
        size_t i;
        json_t *ip;
        /* without lanPlainHttp the plain port is loopback only: the LAN reaches the TLS port alone */
        if (plain_any)
            json_array_foreach(ips, i, ip) fprintf(out, "LAN:       http://%s:%d\n", json_string_value(ip), port);
        else if (tls_port >= 0)
            json_array_foreach(ips, i, ip) fprintf(out, "LAN:       https://%s:%d\n", json_string_value(ip), tls_port);
        json_decref(ips);
    }
    free(home);
    hl_config_dispose(&cfg);
}

/* Reads the daemon's readiness line: "ok <port> <tls_port>" or "error <message>". */
static int wait_ready(int fd, char *line, size_t len)
{
    size_t got = 0;
    uint64_t deadline = hl_monotonic_ms() + START_TIMEOUT_MS;
    while (got + 1 < len) {
        uint64_t now = hl_monotonic_ms();
        if (now >= deadline)
            return -ETIMEDOUT;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = poll(&p, 1, (int)(deadline - now));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -ETIMEDOUT;
        ssize_t n = read(fd, line + got, len - got - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
        if (memchr(line, '\n', got) != NULL)
            break;
    }
    line[got] = '\0';
    char *nl = strchr(line, '\n');
    if (nl != NULL)
        *nl = '\0';
    return got > 0 ? 0 : -EPIPE;
}

/* Becomes the daemon: second fork, new session, stdio away from the terminal (stderr into logs/daemon.log). */
static void become_daemon(const hl_daemon_options_t *base, int ready_fd, const char *home)
{
    if (setsid() < 0)
        _exit(1);
    pid_t pid = fork();
    if (pid < 0)
        _exit(1);
    if (pid > 0)
        _exit(0);
    setenv("HERMESLINK_HOME", home, 1); /* absolute, so the chdir below cannot change its meaning */
    if (chdir("/") != 0)
        _exit(1);
    umask(077);
    int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    char *logs = hl_path_join(home, "logs");
    if (hl_mkdir_p(logs, 0700) != 0)
        _exit(1);
    char *errlog = hl_path_join(logs, "daemon.log");
    int errfd = open(errlog, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    free(errlog);
    free(logs);
    dup2(devnull, 0);
    dup2(devnull, 1);
    dup2(errfd >= 0 ? errfd : devnull, 2);
    hl_daemon_options_t o = *base;
    o.foreground = 0;
    o.ready_fd = ready_fd;
    _exit(hl_cli_serve(&o));
}

static int start_daemon_to(const hl_daemon_options_t *o, const char *home, FILE *out)
{
    pid_t pid;
    if (hl_pidfile_probe(home, &pid) == HL_PID_RUNNING) {
        fprintf(out, "Hermes Link is already running (PID %d).\n", (int)pid);
        return 0;
    }
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        perror("pipe");
        return 1;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t child = fork();
    if (child < 0) {
        perror("fork");
        return 1;
    }
    if (child == 0) {
        close(fds[0]);
        become_daemon(o, fds[1], home);
    }
    close(fds[1]);
    waitpid(child, NULL, 0);
    char line[600];
    int r = wait_ready(fds[0], line, sizeof(line));
    close(fds[0]);
    if (r != 0 || strncmp(line, "ok ", 3) != 0) {
        if (r == 0 && strncmp(line, "error ", 6) == 0)
            fprintf(stderr, "Hermes Link failed to start: %s\n", line + 6);
        else
            fprintf(stderr, "Hermes Link failed to start (see %s/logs/daemon.log)\n", home);
        return 1;
    }
    int port = 0, tls_port = -1;
    if (sscanf(line + 3, "%d %d", &port, &tls_port) != 2) {
        fprintf(stderr, "Hermes Link failed to start: unexpected readiness report\n");
        return 1;
    }
    json_t *st = daemon_status(home);
    const char *listen = st != NULL ? json_string_value(json_object_get(st, "listen_host")) : NULL;
    if (listen == NULL)
        listen = "127.0.0.1";
    const char *plain = st != NULL ? json_string_value(json_object_get(st, "plain_host")) : NULL;
    if (plain == NULL)
        plain = listen;
    if (!http_reachable(plain, port)) {
        fprintf(stderr, "Hermes Link started but does not answer on port %d\n", port);
        json_decref(st);
        return 1;
    }
    hl_pidfile_probe(home, &pid);
    fprintf(out, "Hermes Link started (PID %d).\n", (int)pid);
    print_urls(out, listen, plain, port, tls_port);
    json_decref(st);
    return 0;
}

static int start_daemon(const hl_daemon_options_t *o, const char *home)
{
    return start_daemon_to(o, home, stdout);
}

int hl_cli_start_daemon(const char *home, int quiet)
{
    hl_daemon_options_t o = {.port = -1, .tls_port = -2, .listen = NULL};
    return start_daemon_to(&o, home, quiet ? stderr : stdout);
}

int hl_cmd_start(int argc, char **argv)
{
    if (hl_cli_wants_help(argc, argv)) {
        fputs(START_HELP, stdout);
        return 0;
    }
    hl_daemon_options_t o;
    if (parse_serve_flags(argc, argv, &o, START_HELP) != 0)
        return 1;
    char *home = hl_cli_home();
    if (home == NULL)
        return 1;
    int r = start_daemon(&o, home);
    free(home);
    return r;
}

/* Sends SIGTERM to the serving process and waits for its lock to go. 0 stopped, 1 not running, -1 failed. */
static int stop_daemon(const char *home)
{
    pid_t pid;
    hl_pid_state_t st = hl_pidfile_probe(home, &pid);
    if (st != HL_PID_RUNNING || pid <= 0)
        return 1;
    if (kill(pid, SIGTERM) != 0 && errno != ESRCH) {
        perror("kill");
        return -1;
    }
    uint64_t deadline = hl_monotonic_ms() + STOP_TIMEOUT_MS;
    while (hl_monotonic_ms() < deadline) {
        pid_t now;
        if (hl_pidfile_probe(home, &now) != HL_PID_RUNNING || now != pid)
            return 0;
        struct timespec ts = {0, 50 * 1000000};
        nanosleep(&ts, NULL);
    }
    fprintf(stderr, "Hermes Link (PID %d) did not stop within %d s; sending SIGKILL\n", (int)pid, STOP_TIMEOUT_MS / 1000);
    kill(pid, SIGKILL);
    return 0;
}

int hl_cmd_stop(int argc, char **argv)
{
    if (hl_cli_wants_help(argc, argv)) {
        fputs(STOP_HELP, stdout);
        return 0;
    }
    if (argc > 1)
        return hl_cli_reject(argv[1], STOP_HELP);
    char *home = hl_cli_home();
    if (home == NULL)
        return 1;
    int r = stop_daemon(home);
    free(home);
    if (r == 1)
        printf("Hermes Link is not running.\n");
    else if (r == 0)
        printf("Hermes Link stopped.\n");
    return r < 0 ? 1 : 0;
}

/* Appends " --name value" to buf (bounded). */
static void name_flag(char *buf, size_t len, const char *name, const char *value)
{
    size_t used = strlen(buf);
    if (used < len)
        snprintf(buf + used, len - used, " %s %s", name, value);
}

/*
 * The flags of the running daemon (its status on control.sock, `start_flags`) for those `o` leaves unset; the reply that
 * owns any listen host taken is returned (caller decrefs), NULL when nothing was asked or answered. Says what it keeps.
 */
static json_t *keep_running_flags(const char *home, hl_daemon_options_t *o)
{
    json_t *st = daemon_status(home), *f = json_object_get(st, "start_flags");
    if (!json_is_object(f)) {
        json_decref(st);
        return NULL;
    }
    char kept[300] = "", num[16];
    json_t *port = json_object_get(f, "port"), *tls = json_object_get(f, "tls_port"), *listen = json_object_get(f, "listen");
    if (o->port == -1 && json_is_integer(port) && json_integer_value(port) >= 0 && json_integer_value(port) <= 65535) {
        o->port = (int)json_integer_value(port);
        snprintf(num, sizeof(num), "%d", o->port);
        name_flag(kept, sizeof(kept), "--port", o->port == 0 ? "auto" : num);
    }
    if (o->tls_port == -2 && json_is_integer(tls) && json_integer_value(tls) >= -1 && json_integer_value(tls) <= 65535) {
        o->tls_port = (int)json_integer_value(tls);
        snprintf(num, sizeof(num), "%d", o->tls_port);
        name_flag(kept, sizeof(kept), "--tls-port", o->tls_port == 0 ? "auto" : o->tls_port < 0 ? "0" : num);
    }
    if (o->listen == NULL && json_is_string(listen) && json_string_length(listen) > 0) {
        o->listen = json_string_value(listen);
        name_flag(kept, sizeof(kept), "--listen", o->listen);
    }
    if (kept[0] != '\0')
        printf("Keeping the flags it was started with:%s\n", kept);
    return st;
}

int hl_cmd_restart(int argc, char **argv)
{
    if (hl_cli_wants_help(argc, argv)) {
        fputs(RESTART_HELP, stdout);
        return 0;
    }
    hl_daemon_options_t o;
    if (parse_serve_flags(argc, argv, &o, RESTART_HELP) != 0)
        return 1;
    char *home = hl_cli_home();
    if (home == NULL)
        return 1;
    json_t *kept = keep_running_flags(home, &o);
    int r = stop_daemon(home);
    if (r == 1)
        printf("Hermes Link is not running.\n");
    else if (r == 0)
        printf("Hermes Link stopped.\n");
    r = r < 0 ? 1 : start_daemon(&o, home);
    json_decref(kept);
    free(home);
    return r;
}

int hl_cmd_status(int argc, char **argv)
{
    if (hl_cli_wants_help(argc, argv)) {
        fputs(STATUS_HELP, stdout);
        return 0;
    }
    if (argc > 1)
        return hl_cli_reject(argv[1], STATUS_HELP);
    char *home = hl_cli_home();
    if (home == NULL)
        return 1;
    pid_t pid;
    hl_pid_state_t st = hl_pidfile_probe(home, &pid);
    json_t *ds = st == HL_PID_RUNNING ? daemon_status(home) : NULL;
    hl_config_t cfg;
    hl_config_defaults(&cfg);
    char err[256];
    int port = cfg.port;
    if (hl_config_load(&cfg, home, err, sizeof(err)) == 0)
        port = cfg.port;
    const char *listen = "127.0.0.1";
    if (ds != NULL) {
        port = (int)json_integer_value(json_object_get(ds, "port"));
        listen = json_string_value(json_object_get(ds, "plain_host")); /* where the plain port listens */
        if (listen == NULL)
            listen = "127.0.0.1";
    }
    hl_identity_t id;
    int have_id = hl_identity_load(home, &id, err, sizeof(err)) == 0;
    hl_environment_t env = hl_detect_environment();

    printf("Hermes Link %s\n", HL_VERSION);
    printf("Revision:  git %s\n", hl_build_revision());
    if (st == HL_PID_RUNNING)
        printf("Daemon:    running (PID %d)\n", (int)pid);
    else if (st == HL_PID_STALE)
        printf("Daemon:    stopped (stale pid file, PID %d)\n", (int)pid);
    else
        printf("Daemon:    stopped\n");
    if (http_reachable(listen, port))
        printf("HTTP:      reachable on port %d\n", port);
    else
        printf("HTTP:      not reachable\n");
    if (ds != NULL && json_integer_value(json_object_get(ds, "tls_port")) > 0)
        printf("TLS:       port %d (fingerprint %s)\n", (int)json_integer_value(json_object_get(ds, "tls_port")),
               json_string_value(json_object_get(ds, "tls_fingerprint")));
    printf("Link ID:   %s\n", have_id && id.link_id != NULL ? id.link_id : "unassigned");
    hl_autostart_status_t as;
    (void)hl_cli_autostart(home, "show", &as);
    printf("Autostart: %s (%s)\n", as.enabled ? "enabled" : "disabled", hl_autostart_method_name(as.method));
    printf("Env:       %s\n", env.kind);
    if (env.warning != NULL)
        printf("Warning:   %s\n", env.warning);
    if (have_id)
        hl_identity_dispose(&id);
    hl_config_dispose(&cfg);
    json_decref(ds);
    free(home);
    return st == HL_PID_RUNNING ? 0 : st == HL_PID_STALE ? 1 : 3;
}
