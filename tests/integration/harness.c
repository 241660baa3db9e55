#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hl/common.h"

#ifndef HL_BINARY
#define HL_BINARY "hermeslink"
#endif
#ifndef HL_SOURCE_DIR
#define HL_SOURCE_DIR "."
#endif

extern char **environ;

static unsigned run_seq; /* numbers the log files of the processes run in one test process */
static int late_failures;

/* HLT_VERBOSE=1 traces daemon starts and stops with their timings on stderr */
static void trace(const char *fmt, ...) HL_PRINTF(1, 2);

static void trace(const char *fmt, ...)
{
    const char *v = getenv("HLT_VERBOSE");
    if (v == NULL || strcmp(v, "1") != 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "[hlt %d] ", (int)getpid());
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* ---- small utilities ---- */

long hlt_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void hlt_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

const char *hlt_binary(void)
{
    const char *b = getenv("HL_BINARY");
    return b != NULL && *b != '\0' ? b : HL_BINARY;
}

static const char *lsan_suppressions(void)
{
    static char path[4096];
    const char *s = getenv("HL_LSAN_SUPP");
    if (s != NULL && *s != '\0')
        return s;
    snprintf(path, sizeof(path), "%s/tests/lsan.supp", HL_SOURCE_DIR);
    return path;
}

char *hlt_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = hl_malloc(cap);
    for (;;) {
        if (n + 1 >= cap)
            buf = hl_realloc(buf, cap *= 2);
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        if (r == 0)
            break;
        n += r;
    }
    fclose(f);
    buf[n] = '\0';
    if (len != NULL)
        *len = n;
    return buf;
}

void hlt_write_file(const char *path, const char *data)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ck_assert_msg(fd >= 0, "cannot create %s: %s", path, strerror(errno));
    size_t len = strlen(data), off = 0;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        ck_assert_msg(w > 0, "cannot write %s", path);
        off += (size_t)w;
    }
    close(fd);
}

size_t hlt_count(const char *haystack, const char *needle)
{
    size_t n = 0, nl = strlen(needle);
    if (haystack == NULL || nl == 0)
        return 0;
    for (const char *p = haystack; (p = strstr(p, needle)) != NULL; p += nl)
        ++n;
    return n;
}

static const char *const SANITIZER_MARKERS[] = {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                                                "runtime error:", "AddressSanitizer:DEADLYSIGNAL", NULL};

const char *hlt_sanitizer_report(const char *path)
{
    static char excerpt[6000];
    char *text = hlt_read_file(path, NULL);
    if (text == NULL)
        return NULL;
    const char *first = NULL;
    for (size_t i = 0; SANITIZER_MARKERS[i] != NULL; ++i) {
        const char *p = strstr(text, SANITIZER_MARKERS[i]);
        if (p != NULL && (first == NULL || p < first))
            first = p;
    }
    if (first == NULL) {
        free(text);
        return NULL;
    }
    snprintf(excerpt, sizeof(excerpt), "sanitizer report in %s:\n%.5000s", path, first);
    free(text);
    return excerpt;
}

void hlt_late_failure(const char *what, const char *msg)
{
    ++late_failures;
    fprintf(stderr, "\nFAILURE outside a test (%s): %s\n", what, msg);
    fflush(stderr);
}

int hlt_late_failures(void)
{
    return late_failures;
}

/* ---- temporary trees ---- */

void hlt_env_init(hlt_env_t *env)
{
    memset(env, 0, sizeof(*env));
    const char *tmp = getenv("TMPDIR");
    char *tmpl = hl_asprintf("%s/hlt.XXXXXX", tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
    ck_assert_msg(mkdtemp(tmpl) != NULL, "mkdtemp: %s", strerror(errno));
    env->dir = tmpl;
    env->home = hl_asprintf("%s/home", tmpl);
    env->hermes_home = hl_asprintf("%s/hermes", tmpl);
    ck_assert(mkdir(env->home, 0700) == 0);
    ck_assert(mkdir(env->hermes_home, 0700) == 0);
}

char *hlt_env_path(const hlt_env_t *env, int in_home, const char *name)
{
    return hl_asprintf("%s/%s", in_home ? env->home : env->dir, name);
}

void hlt_env_write_config(const hlt_env_t *env, const char *json)
{
    char *path = hlt_env_path(env, 1, "config.json");
    hlt_write_file(path, json);
    free(path);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

void hlt_env_dispose(hlt_env_t *env)
{
    if (env->dir == NULL)
        return;
    const char *keep = getenv("HLT_KEEP");
    if (env->keep || (keep != NULL && strcmp(keep, "1") == 0))
        fprintf(stderr, "keeping %s\n", env->dir);
    else
        nftw(env->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(env->dir);
    free(env->home);
    free(env->hermes_home);
    memset(env, 0, sizeof(*env));
}

/* ---- processes ---- */

static const char *const OVERRIDDEN[] = {"HERMESLINK_HOME=",
                                         "HERMES_HOME=",
                                         "HERMESLINK_TEST_MODE=",
                                         "HERMESLINK_LOG_LEVEL=",
                                         "HERMESLINK_LISTEN_HOST=",
                                         "ASAN_OPTIONS=",
                                         "LSAN_OPTIONS=",
                                         "UBSAN_OPTIONS=",
                                         NULL};

/* The environment of a child: ours minus what the tests control, plus the env's homes and the sanitizer options. Built
 * before fork so that the child only calls async-signal-safe functions. */
/* True when `entry` ("NAME=value") sets the variable that `change` ("NAME=value" or "NAME") names. */
static int same_variable(const char *entry, const char *change)
{
    size_t n = strcspn(change, "=");
    return strncmp(entry, change, n) == 0 && entry[n] == '=';
}

static char **child_environ(const hlt_env_t *env, const char *log_level, const char *const *extra)
{
    size_t n = 0, num_extra = 0;
    while (environ[n] != NULL)
        ++n;
    while (extra != NULL && extra[num_extra] != NULL)
        ++num_extra;
    char **out = hl_calloc(n + num_extra + 16, sizeof(*out));
    size_t o = 0;
    for (size_t i = 0; i < n; ++i) {
        int skip = 0;
        for (size_t j = 0; OVERRIDDEN[j] != NULL; ++j)
            skip |= strncmp(environ[i], OVERRIDDEN[j], strlen(OVERRIDDEN[j])) == 0;
        for (size_t j = 0; j < num_extra; ++j)
            skip |= same_variable(environ[i], extra[j]);
        if (!skip)
            out[o++] = hl_strdup(environ[i]);
    }
    for (size_t j = 0; j < num_extra; ++j)
        if (strchr(extra[j], '=') != NULL)
            out[o++] = hl_strdup(extra[j]);
    out[o++] = hl_asprintf("HERMESLINK_HOME=%s", env->home);
    out[o++] = hl_asprintf("HERMES_HOME=%s", env->hermes_home);
    out[o++] = hl_strdup("HERMESLINK_TEST_MODE=1");
    /* (verify_asan_link_order=0: a test may preload the fault shim, tests/fault_shim, ahead of the ASan runtime) */
    out[o++] = hl_strdup("ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:verify_asan_link_order=0");
    out[o++] = hl_asprintf("LSAN_OPTIONS=suppressions=%s", lsan_suppressions());
    out[o++] = hl_strdup("UBSAN_OPTIONS=print_stacktrace=1");
    if (log_level != NULL)
        out[o++] = hl_asprintf("HERMESLINK_LOG_LEVEL=%s", log_level);
    if (env->listen_host != NULL)
        out[o++] = hl_asprintf("HERMESLINK_LISTEN_HOST=%s", env->listen_host);
    out[o] = NULL;
    return out;
}

static void free_strv(char **v)
{
    for (size_t i = 0; v[i] != NULL; ++i)
        free(v[i]);
    free(v);
}

/* Forks and execs argv with stdio on /dev/null, out_path, err_path. The child dies with the forking thread. */
static pid_t spawn(char *const *argv, char **envp, const char *out_path, const char *err_path)
{
    int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
    int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ck_assert_msg(in >= 0 && out >= 0 && err >= 0, "cannot open the log files of a child: %s", strerror(errno));
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    ck_assert_msg(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
            _exit(126);
        close_range(3, ~0U, 0);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        execve(argv[0], argv, envp);
        _exit(127);
    }
    close(in);
    close(out);
    close(err);
    return pid;
}

int hlt_wait_exit(pid_t pid, int *status, long timeout_ms)
{
    long deadline = hlt_now_ms() + timeout_ms;
    for (;;) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid)
            return 1;
        if (r < 0 && errno != EINTR) {
            *status = 0;
            return 1; /* not our child any more: nothing to wait for */
        }
        if (hlt_now_ms() >= deadline)
            return 0;
        hlt_sleep_ms(5);
    }
}

pid_t hlt_spawn(char *const *argv, const char *out_path, const char *err_path)
{
    return spawn(argv, environ, out_path, err_path);
}

char *hlt_which(const char *name)
{
    const char *path = getenv("PATH");
    if (path == NULL)
        path = "/usr/local/bin:/usr/bin:/bin";
    while (*path != '\0') {
        const char *colon = strchr(path, ':');
        size_t len = colon != NULL ? (size_t)(colon - path) : strlen(path);
        char *candidate = hl_asprintf("%.*s/%s", (int)len, path, name);
        if (len > 0 && access(candidate, X_OK) == 0)
            return candidate;
        free(candidate);
        path += len;
        if (*path == ':')
            ++path;
    }
    return NULL;
}

static void describe_status(int status, char *buf, size_t len)
{
    if (WIFEXITED(status))
        snprintf(buf, len, "exit code %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, len, "killed by signal %d", WTERMSIG(status));
    else
        snprintf(buf, len, "status 0x%x", status);
}

/* ---- daemon ---- */

static int parse_port_line(const char *text, const char *prefix, int *port)
{
    const char *p = strstr(text, prefix);
    if (p == NULL)
        return 0;
    p += strlen(prefix);
    if (strchr(p, '\n') == NULL)
        return 0; /* line not complete yet */
    return sscanf(p, "%d", port) == 1;
}

void hlt_daemon_start(hlt_daemon_t *d, const hlt_daemon_opts_t *opts)
{
    hlt_daemon_opts_t def = {0};
    if (opts == NULL)
        opts = &def;
    memset(d, 0, sizeof(*d));
    d->tls_port = -1;
    if (opts->env != NULL) {
        d->env = opts->env;
    } else {
        d->env = hl_malloc(sizeof(*d->env));
        hlt_env_init(d->env);
        d->own_env = 1;
    }
    unsigned seq = ++run_seq;
    d->out_path = hl_asprintf("%s/daemon-%d-%u.out", d->env->dir, (int)getpid(), seq);
    d->err_path = hl_asprintf("%s/daemon-%d-%u.err", d->env->dir, (int)getpid(), seq);

    char *argv[] = {(char *)hlt_binary(),
                    "run",
                    "--port",
                    "auto",
                    "--tls-port",
                    opts->tls ? "auto" : "0",
                    "--listen",
                    (char *)(opts->listen != NULL ? opts->listen : "127.0.0.1"),
                    NULL};
    char **envp = child_environ(d->env, opts->log_level != NULL ? opts->log_level : d->env->log_level, opts->extra_env);
    d->pid = spawn(argv, envp, d->out_path, d->err_path);
    free_strv(envp);

    long started = hlt_now_ms(), deadline = started + HLT_START_TIMEOUT_MS;
    for (;;) {
        char *out = hlt_read_file(d->out_path, NULL);
        int have_port = out != NULL && parse_port_line(out, "Hermes Link running on port ", &d->port);
        int have_tls = !opts->tls || (out != NULL && parse_port_line(out, "Hermes Link TLS on port ", &d->tls_port));
        free(out);
        if (have_port && have_tls)
            break;
        int status;
        if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
            d->pid = 0;
            d->status = status;
            char how[64];
            describe_status(status, how, sizeof(how));
            static char excerpt[3000];
            char *err = hlt_read_file(d->err_path, NULL);
            snprintf(excerpt, sizeof(excerpt), "%s", err != NULL ? err : "");
            free(err);
            d->env->keep = 1;
            ck_abort_msg("the daemon exited before serving (%s); stderr:\n%s", how, excerpt);
        }
        if (hlt_now_ms() >= deadline) {
            kill(d->pid, SIGKILL);
            hlt_wait_exit(d->pid, &status, 5000);
            d->pid = 0;
            d->env->keep = 1;
            ck_abort_msg("the daemon did not report its ports within %d ms", HLT_START_TIMEOUT_MS);
        }
        hlt_sleep_ms(10);
    }
    ck_assert_int_gt(d->port, 0);
    if (opts->tls)
        ck_assert_int_gt(d->tls_port, 0);
    trace("daemon %d serving on %d (TLS %d) after %ld ms, home %s", (int)d->pid, d->port, d->tls_port, hlt_now_ms() - started,
          d->env->home);
}

int hlt_daemon_alive(hlt_daemon_t *d)
{
    if (d->pid <= 0)
        return 0;
    int status;
    if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
        d->pid = 0;
        d->status = status;
        return 0;
    }
    return 1;
}

const char *hlt_daemon_stop_timed(hlt_daemon_t *d, long *elapsed_ms)
{
    static char msg[8192];
    msg[0] = '\0';
    long started = hlt_now_ms();
    if (d->pid > 0) {
        kill(d->pid, SIGTERM);
        int status;
        long timeout = d->stop_timeout_ms > 0 ? d->stop_timeout_ms : HLT_STOP_TIMEOUT_MS;
        if (!hlt_wait_exit(d->pid, &status, timeout)) {
            kill(d->pid, SIGKILL);
            hlt_wait_exit(d->pid, &status, 5000);
            snprintf(msg, sizeof(msg), "the daemon did not exit within %ld ms of SIGTERM (killed). ", timeout);
        }
        d->pid = 0;
        d->status = status;
    }
    if (elapsed_ms != NULL)
        *elapsed_ms = hlt_now_ms() - started;
    trace("daemon stopped after %ld ms, status 0x%x", hlt_now_ms() - started, d->status);
    if (!WIFEXITED(d->status) || WEXITSTATUS(d->status) != 0) {
        char how[64];
        describe_status(d->status, how, sizeof(how));
        size_t l = strlen(msg);
        snprintf(msg + l, sizeof(msg) - l, "the daemon ended with %s instead of exit code 0. ", how);
    }
    const char *report = d->err_path != NULL ? hlt_sanitizer_report(d->err_path) : NULL;
    if (report != NULL) {
        size_t l = strlen(msg);
        snprintf(msg + l, sizeof(msg) - l, "%s", report);
    }
    if (msg[0] == '\0')
        return NULL;
    if (d->env != NULL)
        d->env->keep = 1;
    return msg;
}

const char *hlt_daemon_stop(hlt_daemon_t *d)
{
    return hlt_daemon_stop_timed(d, NULL);
}

void hlt_daemon_dispose(hlt_daemon_t *d)
{
    if (d->pid > 0) {
        int status;
        kill(d->pid, SIGKILL);
        hlt_wait_exit(d->pid, &status, 5000);
        d->pid = 0;
    }
    free(d->out_path);
    free(d->err_path);
    d->out_path = d->err_path = NULL;
    if (d->own_env && d->env != NULL) {
        hlt_env_dispose(d->env);
        free(d->env);
    }
    d->env = NULL;
}

void hlt_daemon_stop_clean(hlt_daemon_t *d)
{
    const char *msg = hlt_daemon_stop(d);
    if (msg != NULL) {
        hlt_daemon_dispose(d);
        ck_abort_msg("%s", msg);
    }
    hlt_daemon_dispose(d);
}

void hlt_daemon_teardown_shared(hlt_daemon_t *d, const char *what)
{
    if (d->env == NULL)
        return; /* never started */
    const char *msg = hlt_daemon_stop(d);
    if (msg != NULL)
        hlt_late_failure(what, msg);
    hlt_daemon_dispose(d);
}

/* ---- CLI ---- */

void hlt_cli(hlt_env_t *env, hlt_cli_result_t *res, ...)
{
    char *argv[32];
    size_t n = 0;
    argv[n++] = (char *)hlt_binary();
    va_list ap;
    va_start(ap, res);
    const char *a;
    while ((a = va_arg(ap, const char *)) != NULL && n + 1 < HL_ARRAY_SIZE(argv))
        argv[n++] = (char *)a;
    va_end(ap);
    argv[n] = NULL;

    unsigned seq = ++run_seq;
    char *out_path = hl_asprintf("%s/cli-%d-%u.out", env->dir, (int)getpid(), seq);
    char *err_path = hl_asprintf("%s/cli-%d-%u.err", env->dir, (int)getpid(), seq);
    char **envp = child_environ(env, env->log_level, NULL);
    pid_t pid = spawn(argv, envp, out_path, err_path);
    free_strv(envp);
    int status;
    long started = hlt_now_ms();
    memset(res, 0, sizeof(*res));
    if (!hlt_wait_exit(pid, &status, 60000)) {
        kill(pid, SIGKILL);
        hlt_wait_exit(pid, &status, 5000);
        res->exit_code = -1;
    } else {
        res->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    trace("hermeslink %s %s: exit %d after %ld ms", argv[1] != NULL ? argv[1] : "",
          argv[1] != NULL && argv[2] != NULL ? argv[2] : "", res->exit_code, hlt_now_ms() - started);
    res->out = hlt_read_file(out_path, NULL);
    res->err = hlt_read_file(err_path, NULL);
    if (res->out == NULL)
        res->out = hl_strdup("");
    if (res->err == NULL)
        res->err = hl_strdup("");
    const char *report = hlt_sanitizer_report(err_path);
    if (report != NULL)
        env->keep = 1;
    ck_assert_msg(report == NULL, "`hermeslink %s`: %s", argv[1] != NULL ? argv[1] : "", report);
    free(out_path);
    free(err_path);
}

void hlt_cli_free(hlt_cli_result_t *res)
{
    free(res->out);
    free(res->err);
    res->out = res->err = NULL;
}

/* ---- HTTP ---- */

const char *hlt_proto_name(hlt_proto_t p)
{
    switch (p) {
    case HLT_H1:
        return "HTTP/1.1";
    case HLT_H2C:
        return "h2c (prior knowledge)";
    case HLT_H2C_UPGRADE:
        return "h2c (Upgrade)";
    case HLT_H2_TLS:
        return "h2 (TLS)";
    default:
        return "?";
    }
}

long hlt_proto_version(hlt_proto_t p)
{
    return p == HLT_H1 ? CURL_HTTP_VERSION_1_1 : CURL_HTTP_VERSION_2_0;
}

static void clear_headers(hlt_response_t *res)
{
    for (size_t i = 0; i < res->num_headers; ++i) {
        free(res->headers[i].name);
        free(res->headers[i].value);
    }
    free(res->headers);
    res->headers = NULL;
    res->num_headers = 0;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *user)
{
    hlt_response_t *res = user;
    size_t len = size * nmemb, l = len;
    while (l > 0 && (data[l - 1] == '\r' || data[l - 1] == '\n'))
        --l;
    if (l >= 5 && memcmp(data, "HTTP/", 5) == 0) {
        clear_headers(res); /* a new response head (after 100 Continue or 101 Switching Protocols) */
        return len;
    }
    const char *colon = memchr(data, ':', l);
    if (colon == NULL)
        return len;
    size_t nl = (size_t)(colon - data);
    const char *v = colon + 1, *end = data + l;
    while (v < end && (*v == ' ' || *v == '\t'))
        ++v;
    hlt_header_t h = {hl_strndup(data, nl), hl_strndup(v, (size_t)(end - v))};
    for (char *p = h.name; *p; ++p)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p + 32);
    res->headers = hl_realloc(res->headers, sizeof(*res->headers) * (res->num_headers + 1));
    res->headers[res->num_headers++] = h;
    return len;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *user)
{
    hlt_response_t *res = user;
    size_t len = size * nmemb;
    res->body = hl_realloc(res->body, res->body_len + len + 1);
    memcpy(res->body + res->body_len, data, len);
    res->body_len += len;
    res->body[res->body_len] = '\0';
    return len;
}

CURL *hlt_easy_new(const hlt_daemon_t *d, hlt_proto_t proto, const hlt_request_t *req, hlt_response_t *res)
{
    memset(res, 0, sizeof(*res));
    res->body = hl_calloc(1, 1);
    CURL *c = curl_easy_init();
    ck_assert(c != NULL);
    char url[2048];
    const char *path = req->path != NULL ? req->path : "/";
    if (proto == HLT_H2_TLS) {
        ck_assert_msg(d->tls_port > 0, "the daemon was started without TLS");
        snprintf(url, sizeof(url), "https://127.0.0.1:%d%s", d->tls_port, path);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
        curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    } else {
        snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", d->port, path);
        long v = proto == HLT_H1    ? CURL_HTTP_VERSION_1_1
                 : proto == HLT_H2C ? CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE
                                    : CURL_HTTP_VERSION_2_0;
        curl_easy_setopt(c, CURLOPT_HTTP_VERSION, v);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, req->timeout_ms > 0 ? req->timeout_ms : 10000L);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, res);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, res);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, res->errbuf);
    curl_easy_setopt(c, CURLOPT_PRIVATE, res);
    if (req->source_addr != NULL) {
        char iface[80];
        snprintf(iface, sizeof(iface), "host!%s", req->source_addr);
        curl_easy_setopt(c, CURLOPT_INTERFACE, iface); /* copied by libcurl */
    }

    struct curl_slist *hdrs = curl_slist_append(NULL, "Expect:");
    for (size_t i = 0; req->headers != NULL && req->headers[i] != NULL; ++i)
        hdrs = curl_slist_append(hdrs, req->headers[i]);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    res->_req_headers = hdrs;

    const char *method = req->method != NULL ? req->method : "GET";
    int send_body = req->body != NULL || req->has_body;
    if (send_body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(req->body != NULL ? req->body_len : 0));
        curl_easy_setopt(c, CURLOPT_COPYPOSTFIELDS, req->body != NULL ? req->body : "");
    }
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    else if (strcmp(method, "GET") != 0 && !(strcmp(method, "POST") == 0 && send_body))
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    return c;
}

void hlt_easy_finish(CURL *c, CURLcode rc, hlt_response_t *res)
{
    res->rc = rc;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &res->status);
    curl_easy_getinfo(c, CURLINFO_HTTP_VERSION, &res->http_version);
    curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &res->num_connects);
    curl_easy_cleanup(c);
    curl_slist_free_all(res->_req_headers);
    res->_req_headers = NULL;
    if (res->body_len > 0)
        res->json = json_loadb(res->body, res->body_len, 0, NULL);
}

CURLM *hlt_multi_new(void)
{
    CURLM *m = curl_multi_init();
    ck_assert(m != NULL);
    curl_multi_setopt(m, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    return m;
}

int hlt_multi_drive(CURLM *multi, long timeout_ms)
{
    long deadline = hlt_now_ms() + timeout_ms;
    int running = 1;
    for (;;) {
        curl_multi_perform(multi, &running);
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(multi, &left)) != NULL) {
            if (m->msg != CURLMSG_DONE)
                continue;
            CURL *c = m->easy_handle;
            CURLcode rc = m->data.result;
            hlt_response_t *r = NULL;
            curl_easy_getinfo(c, CURLINFO_PRIVATE, (char **)&r);
            curl_multi_remove_handle(multi, c);
            hlt_easy_finish(c, rc, r);
        }
        long now = hlt_now_ms();
        if (running == 0 || now >= deadline)
            return running;
        long wait = deadline - now;
        curl_multi_poll(multi, NULL, 0, (int)(wait < 100 ? wait : 100), NULL);
    }
}

void hlt_request(const hlt_daemon_t *d, hlt_proto_t proto, const hlt_request_t *req, hlt_response_t *res)
{
    CURL *c = hlt_easy_new(d, proto, req, res);
    CURLcode rc = curl_easy_perform(c);
    hlt_easy_finish(c, rc, res);
}

void hlt_fetch(const hlt_daemon_t *d, hlt_proto_t proto, const hlt_request_t *req, hlt_response_t *res)
{
    hlt_request(d, proto, req, res);
    ck_assert_msg(res->rc == CURLE_OK, "%s %s over %s: %s (%s)", req->method != NULL ? req->method : "GET",
                  req->path ? req->path : "/", hlt_proto_name(proto), curl_easy_strerror(res->rc), res->errbuf);
    ck_assert_msg(res->http_version == hlt_proto_version(proto), "%s %s over %s: negotiated curl HTTP version %ld, expected %ld",
                  req->method != NULL ? req->method : "GET", req->path ? req->path : "/", hlt_proto_name(proto), res->http_version,
                  hlt_proto_version(proto));
}

void hlt_get(const hlt_daemon_t *d, hlt_proto_t proto, const char *path, hlt_response_t *res)
{
    hlt_request_t req = {.path = path};
    hlt_fetch(d, proto, &req, res);
}

const char *hlt_header(const hlt_response_t *res, const char *name)
{
    for (size_t i = 0; i < res->num_headers; ++i)
        if (strcasecmp(res->headers[i].name, name) == 0)
            return res->headers[i].value;
    return NULL;
}

size_t hlt_header_count(const hlt_response_t *res, const char *name)
{
    size_t n = 0;
    for (size_t i = 0; i < res->num_headers; ++i)
        n += strcasecmp(res->headers[i].name, name) == 0;
    return n;
}

void hlt_response_free(hlt_response_t *res)
{
    clear_headers(res);
    free(res->body);
    json_decref(res->json);
    curl_slist_free_all(res->_req_headers);
    memset(res, 0, sizeof(*res));
}

void hlt_assert_cors(const hlt_response_t *res)
{
    const char *acao = hlt_header(res, "access-control-allow-origin");
    const char *vary = hlt_header(res, "vary");
    ck_assert_msg(acao != NULL && strcmp(acao, "*") == 0, "status %ld: Access-Control-Allow-Origin is %s, expected *", res->status,
                  acao != NULL ? acao : "(absent)");
    ck_assert_msg(vary != NULL && strcasestr(vary, "Origin") != NULL, "status %ld: Vary is %s, expected Origin", res->status,
                  vary != NULL ? vary : "(absent)");
}

void hlt_assert_json(const hlt_response_t *res)
{
    const char *ct = hlt_header(res, "content-type");
    ck_assert_msg(ct != NULL && strcmp(ct, "application/json; charset=utf-8") == 0, "status %ld: content-type %s", res->status,
                  ct != NULL ? ct : "(absent)");
    ck_assert_msg(json_is_object(res->json), "status %ld: body is not a JSON object: %.300s", res->status, res->body);
}

void hlt_assert_error(const hlt_daemon_t *d, const hlt_response_t *res, long status, const char *code)
{
    ck_assert_msg(res->status == status, "expected status %ld (%s), got %ld: %.300s", status, code, res->status, res->body);
    hlt_assert_json(res);
    hlt_assert_cors(res);
    json_t *ok = json_object_get(res->json, "ok");
    json_t *err = json_object_get(res->json, "error");
    ck_assert_msg(json_is_false(ok), "error envelope without ok:false: %s", res->body);
    ck_assert_msg(json_is_object(err) && json_object_size(res->json) == 2, "error envelope shape: %s", res->body);
    const char *c = json_string_value(json_object_get(err, "code"));
    const char *m = json_string_value(json_object_get(err, "message"));
    ck_assert_msg(c != NULL && strcmp(c, code) == 0, "error code %s, expected %s", c != NULL ? c : "(none)", code);
    ck_assert_msg(m != NULL && *m != '\0', "error without a message: %s", res->body);
    ck_assert_msg(json_object_size(err) == 2, "error object has extra fields: %s", res->body);
    /* never leak where things live or what the C library said */
    ck_assert_msg(strstr(res->body, d->env->dir) == NULL && strstr(res->body, "/tmp/") == NULL &&
                      strstr(res->body, "/home/") == NULL && strstr(res->body, "errno") == NULL &&
                      strstr(res->body, "No such file") == NULL && strstr(res->body, ".c:") == NULL,
                  "error envelope leaks internals: %s", res->body);
}
