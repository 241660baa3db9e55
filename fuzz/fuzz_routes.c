/*
 * Request bodies through the real route table and handlers: the whole daemon (hl_daemon_run: its workers, every actor,
 * the store on link.db) runs in a background thread on a temporary HERMESLINK_HOME, with a temporary HERMES_HOME holding
 * the default profile and two named ones, HOME and XDG_CONFIG_HOME under the same directory, serving plain HTTP on an
 * ephemeral port of 127.0.0.1 only. LLVMFuzzerInitialize starts it, pairs two devices the way `hermeslink pair` does
 * (the "pair" command on control.sock, then POST /auth/device-session) and creates a conversation. Each input is then
 * one HTTP/1.1 request (Connection: close) over a loopback TCP connection, so it goes through the daemon's own accept
 * path (on_accept, the connection guard, h2o_accept) and dispatcher:
 *   byte 0   the route, among the route table's (hl_routes_build, enumerated before the daemon starts), without the
 *            event streams (long-lived SSE), the autostart routes (they would install a user service), the update
 *            starts (they run installers) and /internal/deliver (it copies files of a directory named in the body);
 *   byte 1   each path parameter's value, 2 bits each: a live id (the conversation, the second device, a profile, a
 *            skill, a tool key) or an unknown, malformed or encoded one;
 *   byte 2   bit 0: no Authorization header; bit 1: no Content-Type; bit 2: a wrong Content-Type;
 *   the rest the JSON body of routes that read one (the raw body of uploads), else the query string (percent-encoded).
 * Checks per input: an answer arrives within 8 s (a hang is a finding), its status line is HTTP/1.1 with a status of
 * 200..599, the body is as long as the headers say, an answer said to be JSON is JSON, one of 4xx/5xx is
 * {"ok":false,"error":{"code","message"}} with non-empty strings, no 500 (an input must never make a handler fail internally); and
 * no sanitizer report, on any thread (libFuzzer's coverage counters are global: the workers' and actors' code counts). The state
 * grows with what inputs create (conversations, profiles, messages); the conversation is created again every 500 inputs in case an
 * input deleted it. At exit the daemon is stopped as on SIGTERM and the temporary directory removed. FUZZ_ROUTES_LIST=1 prints the
 * routes with their byte 0 (for writing seeds); FUZZ_ROUTES_VERBOSE=1 every answer.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <ftw.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "hl/common.h"
#include "hl/control.h"
#include "hl/daemon.h"
#include "hl/router.h"
#include "hl/routes.h"

#define ANSWER_TIMEOUT_MS 8000
#define MAX_ROUTES 256

typedef struct {
    hl_method_t method;
    const char *pattern;
    unsigned flags;
} route_t;

typedef struct {
    int status;
    char *head; /* status line and headers, NUL-terminated */
    char *body;
    size_t body_len;
    char content_type[128];
} answer_t;

static route_t routes[MAX_ROUTES];
static size_t num_routes;
static char root[] = "/tmp/hl-fuzz-routes-XXXXXX";
static char home[256], hermes_home[256];
static int port;
static char *token;                                      /* device A's access token: every request's */
static char *conversation, *device_b, *conversation_two; /* live ids */
static pthread_t daemon_thread;
static bool daemon_running;
static int ready_pipe[2] = {-1, -1};

static void die(const char *what)
{
    fprintf(stderr, "fuzz_routes: %s (errno %d)\n", what, errno);
    abort();
}

/** LeakSanitizer's suppressions (tests/lsan.supp): libh2o's per-thread recycle bins and queue, left when workers exit. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:h2o_mem_alloc_recycle\nleak:h2o_multithread_create_queue\n";
}

/* ---- the temporary homes ---- */

static void put(const char *dir, const char *rel, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    for (char *p = path + 1; *p != '\0'; ++p) {
        if (*p == '/') {
            *p = '\0';
            mkdir(path, 0700);
            *p = '/';
        }
    }
    FILE *f = fopen(path, "w");
    if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0)
        die("cannot write the Hermes home");
}

static const char SKILL[] = "---\nname: %s\ndescription: %s\n---\n\nBody.\n";

static void skill(const char *profile_dir, const char *rel, const char *name)
{
    char text[256];
    snprintf(text, sizeof(text), SKILL, name, "A skill for the fuzzer");
    char path[256];
    snprintf(path, sizeof(path), "skills/%s/SKILL.md", rel);
    put(profile_dir, path, text);
}

static void make_homes(void)
{
    if (mkdtemp(root) == NULL)
        die("mkdtemp");
    snprintf(home, sizeof(home), "%s/link", root);
    snprintf(hermes_home, sizeof(hermes_home), "%s/hermes", root);
    char user_home[300], xdg[320];
    snprintf(user_home, sizeof(user_home), "%s/home", root);
    snprintf(xdg, sizeof(xdg), "%s/.config", user_home);
    mkdir(home, 0700);
    mkdir(hermes_home, 0700);
    mkdir(user_home, 0700);
    mkdir(xdg, 0700);
    setenv("HOME", user_home, 1);
    setenv("XDG_CONFIG_HOME", xdg, 1);
    setenv("HERMESLINK_HOME", home, 1);
    setenv("HERMES_HOME", hermes_home, 1);
    setenv("HERMESLINK_LOG_LEVEL", "error", 1);
    unsetenv("HERMES_BIN");
    setenv("PATH", "/usr/bin:/bin", 1); /* no hermes binary: profile creation lays the folders out itself */
    unsetenv("HERMESLINK_TEST_MODE");
    unsetenv("HERMESLINK_LISTEN_HOST");

    put(hermes_home, "config.yaml",
        "# default profile\nmodel:\n  default: anthropic/claude-sonnet-4   # the model\n  provider: openrouter\n"
        "approvals:\n  mode: manual\n  timeout: 60\ncommand_allowlist:\n- ls\nmemory:\n  memory_char_limit: 2200\n"
        "  user_char_limit: 1375\nskills:\n  disabled:\n  - arxiv-search\nterminal:\n  backend: local\n"
        "platform_toolsets:\n  api_server:\n  - web\n  - terminal\nx_custom_block:\n  keep: true\n");
    put(hermes_home, ".env", "# keys\nOPENROUTER_API_KEY=sk-or-fuzz\n");
    put(hermes_home, "SOUL.md", "You are helpful.\n");
    put(hermes_home, "memories/MEMORY.md", "first entry\n§\nsecond entry");
    put(hermes_home, "memories/USER.md", "likes tea");
    skill(hermes_home, "research/arxiv-search", "arxiv-search");
    skill(hermes_home, "quick-notes", "quick-notes");

    char work[300];
    snprintf(work, sizeof(work), "%s/profiles/work", hermes_home);
    put(work, "config.yaml",
        "model:\n  default: openai/gpt-4o\n  provider: openai\napprovals:\n  mode: manual\nskills:\n  disabled: [git-blame]\n"
        "platforms:\n  api_server:\n    enabled: true\n");
    /* an upstream that is not there: runs fail fast (connection refused) instead of waiting */
    put(work, ".env", "API_SERVER_ENABLED=true\nAPI_SERVER_HOST=127.0.0.1\nAPI_SERVER_PORT=9\nAPI_SERVER_KEY=fuzz-key\n");
    put(work, "SOUL.md", "Work.\n");
    put(work, "memories/MEMORY.md", "work memory");
    put(work, "memories/USER.md", "");
    skill(work, "software-development/code-review", "code-review");
    skill(work, "software-development/git-blame", "git-blame");

    char scratch[300];
    snprintf(scratch, sizeof(scratch), "%s/profiles/scratch", hermes_home);
    put(scratch, "config.yaml", "model: anthropic/claude-haiku\napprovals:\n  mode: 'off'\n");
    put(scratch, ".env", "ANTHROPIC_API_KEY=sk-ant-fuzz\n");
}

static const char *method_name(hl_method_t m);

/* ---- the route table ---- */

static bool excluded(const hl_route_t *r)
{
    size_t n = strlen(r->pattern);
    if (n >= 7 && strcmp(r->pattern + n - 7, "/events") == 0)
        return true; /* event streams: long-lived by design */
    if (strncmp(r->pattern, "/api/v1/system/autostart/", 25) == 0)
        return true; /* would install a user service of this machine */
    if (r->method == HL_METHOD_POST &&
        (strcmp(r->pattern, "/api/v1/hermes/update") == 0 || strcmp(r->pattern, "/api/v1/link/update") == 0))
        return true; /* would run installers */
    if (strcmp(r->pattern, "/internal/deliver") == 0)
        return true; /* copies the files of a directory the body names */
    return false;
}

static void add_route(const hl_route_t *r, void *data)
{
    (void)data;
    if (!excluded(r) && num_routes < MAX_ROUTES)
        routes[num_routes++] = (route_t){.method = r->method, .pattern = r->pattern, .flags = r->flags};
}

/* The table as the daemon builds it, walked before the daemon starts: hl_routes_build gives each route file its actors
 * (file-static), so this table's placeholders are replaced by the daemon's own build right after. */
static void enumerate_routes(void)
{
    static hl_link_t link = {.home = "/nonexistent", .hermes_home = "/nonexistent"};
    hl_routes_deps_t deps = {.link = &link, .updater = (hl_updater_t *)&link /* any non-NULL: lists the update routes */};
    hl_router_t *router = hl_routes_build(&deps);
    hl_router_foreach(router, add_route, NULL);
    hl_router_free(router);
    if (num_routes == 0)
        die("no routes");
    if (getenv("FUZZ_ROUTES_LIST") != NULL) /* byte 0 of each route, for writing seeds */
        for (size_t i = 0; i < num_routes; ++i)
            fprintf(stderr, "route %zu %s %s %u\n", i, method_name(routes[i].method), routes[i].pattern, routes[i].flags);
}

/* ---- HTTP over loopback ---- */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *method_name(hl_method_t m)
{
    switch (m) {
    case HL_METHOD_GET:
        return "GET";
    case HL_METHOD_HEAD:
        return "HEAD";
    case HL_METHOD_POST:
        return "POST";
    case HL_METHOD_PUT:
        return "PUT";
    case HL_METHOD_PATCH:
        return "PATCH";
    case HL_METHOD_DELETE:
        return "DELETE";
    default:
        return "OPTIONS";
    }
}

static void answer_free(answer_t *a)
{
    free(a->head);
    free(a->body);
    memset(a, 0, sizeof(*a));
}

/* The value of header `name` (lowercase) in head, copied into out; false when absent. */
static bool header(const char *head, const char *name, char *out, size_t outlen)
{
    size_t n = strlen(name);
    for (const char *line = strstr(head, "\r\n"); line != NULL && line[2] != '\0'; line = strstr(line + 2, "\r\n")) {
        const char *l = line + 2;
        if (strncasecmp(l, name, n) == 0 && l[n] == ':') {
            const char *v = l + n + 1;
            while (*v == ' ')
                ++v;
            const char *e = strstr(v, "\r\n");
            size_t len = e != NULL ? (size_t)(e - v) : strlen(v);
            if (len >= outlen)
                len = outlen - 1;
            memcpy(out, v, len);
            out[len] = '\0';
            return true;
        }
    }
    return false;
}

/* Decodes a chunked body in place; false when it is not well-formed. */
static bool dechunk(char *b, size_t len, size_t *out_len)
{
    size_t in = 0, out = 0;
    for (;;) {
        char *end;
        if (in >= len)
            return false;
        unsigned long n = strtoul(b + in, &end, 16);
        char *crlf = memmem(b + in, len - in, "\r\n", 2);
        if (crlf == NULL || end == b + in)
            return false;
        in = (size_t)(crlf - b) + 2;
        if (n == 0) {
            *out_len = out;
            return true;
        }
        if (n > len - in || len - in - n < 2 || memcmp(b + in + n, "\r\n", 2) != 0)
            return false;
        memmove(b + out, b + in, n);
        out += n;
        in += n + 2;
    }
}

/* Sends one request and reads the whole answer (the daemon closes after it). Returns false on a timeout (a hang). */
static bool http(const char *method, const char *target, const char *bearer, const char *ctype, const char *body, size_t body_len,
                 answer_t *a)
{
    memset(a, 0, sizeof(*a));
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("socket");
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        /* libFuzzer's SIGALRM (its -timeout watch) may interrupt connect, which then completes on its own */
        int err = errno;
        socklen_t len = sizeof(err);
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        int pr;
        do
            pr = poll(&p, 1, ANSWER_TIMEOUT_MS);
        while (pr < 0 && errno == EINTR);
        if (err != EINTR || pr != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0)
            die("connect to the daemon");
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    char *auth = bearer != NULL ? hl_asprintf("Authorization: Bearer %s\r\n", bearer) : hl_strdup("");
    char *ct = ctype != NULL ? hl_asprintf("Content-Type: %s\r\n", ctype) : hl_strdup("");
    char *req = hl_asprintf("%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s%sContent-Length: %zu\r\n\r\n", method,
                            target, auth, ct, body_len);
    size_t req_len = strlen(req);
    req = hl_realloc(req, req_len + body_len + 1);
    if (body_len > 0)
        memcpy(req + req_len, body, body_len);
    req_len += body_len;
    free(auth);
    free(ct);

    size_t sent = 0, got = 0, cap = 4096;
    char *buf = hl_malloc(cap);
    int64_t deadline = now_ms() + ANSWER_TIMEOUT_MS;
    bool done = false;
    while (!done) {
        int64_t left = deadline - now_ms();
        if (left <= 0)
            break;
        struct pollfd p = {.fd = fd, .events = POLLIN | (sent < req_len ? POLLOUT : 0)};
        if (poll(&p, 1, (int)left) < 0 && errno != EINTR)
            die("poll");
        if ((p.revents & POLLOUT) != 0 && sent < req_len) {
            ssize_t n = send(fd, req + sent, req_len - sent, MSG_NOSIGNAL);
            if (n > 0)
                sent += (size_t)n;
            else if (n < 0 && errno != EAGAIN && errno != EINTR)
                sent = req_len; /* the daemon answered early and closed: read what it said */
        }
        if ((p.revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
            if (got + 4096 > cap)
                buf = hl_realloc(buf, cap *= 2);
            ssize_t n = recv(fd, buf + got, cap - got - 1, 0);
            if (n > 0)
                got += (size_t)n;
            else if (n == 0 || (errno != EAGAIN && errno != EINTR))
                done = true;
        }
    }
    close(fd);
    free(req);
    buf[got] = '\0';
    if (!done) {
        fprintf(stderr, "fuzz_routes: no answer within %d ms to %s %s (%zu bytes so far)\n", ANSWER_TIMEOUT_MS, method, target,
                got);
        free(buf);
        return false;
    }
    char *sep = memmem(buf, got, "\r\n\r\n", 4);
    if (sep == NULL) {
        a->head = buf; /* no complete head: status stays 0 */
        return true;
    }
    size_t head_len = (size_t)(sep - buf);
    a->head = hl_malloc(head_len + 3);
    memcpy(a->head, buf, head_len);
    memcpy(a->head + head_len, "\r\n", 3);
    a->body_len = got - head_len - 4;
    a->body = hl_malloc(a->body_len + 1);
    memcpy(a->body, sep + 4, a->body_len);
    a->body[a->body_len] = '\0';
    free(buf);
    int st = 0;
    if (sscanf(a->head, "HTTP/1.1 %3d ", &st) == 1 && strncmp(a->head, "HTTP/1.1 ", 9) == 0)
        a->status = st;
    header(a->head, "content-type", a->content_type, sizeof(a->content_type));
    char v[64];
    if (header(a->head, "transfer-encoding", v, sizeof(v)) && strcasecmp(v, "chunked") == 0) {
        size_t n;
        if (!dechunk(a->body, a->body_len, &n)) {
            fprintf(stderr, "fuzz_routes: a malformed chunked body to %s %s\n", method, target);
            abort();
        }
        a->body_len = n;
        a->body[n] = '\0';
    } else if (header(a->head, "content-length", v, sizeof(v)) && strcmp(method, "HEAD") != 0) {
        if (strtoull(v, NULL, 10) != a->body_len) {
            fprintf(stderr, "fuzz_routes: Content-Length %s but %zu bytes to %s %s\n", v, a->body_len, method, target);
            abort();
        }
    }
    return true;
}

/* A request of the set-up, which must succeed: its JSON body (new reference). */
static json_t *setup_call(const char *method, const char *target, const char *bearer, const char *body)
{
    answer_t a;
    if (!http(method, target, bearer, "application/json", body, strlen(body), &a) || a.status < 200 || a.status >= 300)
        die(a.head != NULL ? a.head : "a set-up request failed");
    json_t *j = json_loadb(a.body, a.body_len, 0, NULL);
    answer_free(&a);
    if (j == NULL)
        die("a set-up answer is not JSON");
    return j;
}

/* ---- the daemon ---- */

static void *daemon_main(void *arg)
{
    hl_daemon_options_t *opts = arg;
    int rc = hl_daemon_run(opts);
    if (rc != 0)
        fprintf(stderr, "fuzz_routes: the daemon exited with %d\n", rc);
    return NULL;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

/* Stops the daemon as SIGTERM does (its thread waits for the signal, blocked everywhere else in its threads). */
static void stop_daemon(void)
{
    if (!daemon_running)
        return;
    daemon_running = false;
    pthread_kill(daemon_thread, SIGTERM);
    pthread_join(daemon_thread, NULL);
    nftw(root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static char *paired_device(char **id_out)
{
    json_t *req = json_pack("{s:s}", "cmd", "pair");
    json_t *reply = hl_control_call(home, req, 15000);
    json_decref(req);
    const char *ct = json_string_value(json_object_get(reply, "connect_token"));
    if (ct == NULL)
        die("the pair command on control.sock failed");
    json_t *s =
        setup_call("POST", "/api/v1/auth/device-session", ct, "{\"label\":\"fuzz\",\"platform\":\"ios\",\"model\":\"iPhone\"}");
    const char *tok = json_string_value(json_object_get(json_object_get(s, "access_token"), "token"));
    const char *id = json_string_value(json_object_get(json_object_get(s, "device"), "id"));
    if (tok == NULL || id == NULL)
        die("no access token in the device session");
    char *out = hl_strdup(tok);
    *id_out = hl_strdup(id);
    json_decref(s);
    json_decref(reply);
    return out;
}

static char *new_conversation(const char *profile)
{
    char body[128];
    snprintf(body, sizeof(body), "{\"title\":\"fuzz\",\"profile\":\"%s\"}", profile);
    json_t *c = setup_call("POST", "/api/v1/conversations", token, body);
    const char *id = json_string_value(json_object_get(json_object_get(c, "conversation"), "id"));
    if (id == NULL)
        id = json_string_value(json_object_get(json_object_get(c, "conversation"), "conversation_id"));
    if (id == NULL)
        die("no conversation id");
    char *out = hl_strdup(id);
    json_decref(c);
    return out;
}

/** libFuzzer's set-up: the homes, the route list, the daemon, two devices and a conversation. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    make_homes();
    enumerate_routes();
    if (pipe(ready_pipe) != 0)
        die("pipe");
    static hl_daemon_options_t opts;
    opts = (hl_daemon_options_t){.port = 0, .tls_port = -1, .listen = "127.0.0.1", .foreground = 0, .ready_fd = ready_pipe[1]};
    if (pthread_create(&daemon_thread, NULL, daemon_main, &opts) != 0)
        die("pthread_create");
    char line[512];
    ssize_t n = read(ready_pipe[0], line, sizeof(line) - 1);
    close(ready_pipe[0]);
    if (n <= 0)
        die("the daemon did not start");
    line[n] = '\0';
    if (sscanf(line, "ok %d", &port) != 1 || port <= 0) {
        fprintf(stderr, "fuzz_routes: %s", line);
        die("the daemon did not start");
    }
    daemon_running = true;
    atexit(stop_daemon);
    char *device_a = NULL;
    token = paired_device(&device_a);
    free(paired_device(&device_b)); /* a device the inputs may rename and delete */
    free(device_a);
    conversation = new_conversation("work");
    conversation_two = new_conversation("default");
    fprintf(stderr, "fuzz_routes: daemon on 127.0.0.1:%d, %zu routes, home %s\n", port, num_routes, root);
    return 0;
}

/* ---- per input ---- */

/* The value of path parameter `name` for selector `sel` (0..3). */
static const char *param_value(const route_t *r, const char *name, size_t len, unsigned sel)
{
#define IS(s) (len == sizeof(s) - 1 && memcmp(name, s, len) == 0)
    if (IS("conversationId")) {
        const char *v[] = {conversation, conversation_two, "conv_0000000000000000000000", "%2e%2e"};
        return v[sel];
    }
    if (IS("deviceId")) {
        const char *v[] = {device_b, "dev_unknown", "x", "%00"};
        return v[sel];
    }
    if (IS("name")) {
        /* the work profile is where the inputs act: they may delete scratch, never work */
        const char *v[] = {"work", "default", "scratch", "no%20such"};
        if (r->method == HL_METHOD_DELETE && strcmp(r->pattern, "/api/v1/profiles/:name") == 0 && sel == 0)
            return "scratch";
        return v[sel];
    }
    if (IS("skillName")) {
        const char *v[] = {"code-review", "arxiv-search", "nope", "..%2fx"};
        return v[sel];
    }
    if (IS("toolKey")) {
        const char *v[] = {"web", "terminal", "tts", "nope"};
        return v[sel];
    }
    const char *v[] = {"x_0000000000000000", "run_unknown", "%ff", "a%2Fb"};
    return v[sel];
#undef IS
}

/* The route's path with its parameters filled in. */
static char *fill_path(const route_t *r, unsigned selectors)
{
    size_t cap = strlen(r->pattern) + 512, o = 0;
    char *out = hl_malloc(cap);
    for (const char *p = r->pattern; *p != '\0';) {
        if (*p == ':') {
            const char *e = p + 1;
            while (*e != '\0' && *e != '/')
                ++e;
            const char *v = param_value(r, p + 1, (size_t)(e - p - 1), selectors & 3);
            selectors >>= 2;
            size_t vl = strlen(v);
            if (o + vl + 1 > cap)
                out = hl_realloc(out, cap = o + vl + 512);
            memcpy(out + o, v, vl);
            o += vl;
            p = e;
        } else {
            if (o + 2 > cap)
                out = hl_realloc(out, cap *= 2);
            out[o++] = *p++;
        }
    }
    out[o] = '\0';
    return out;
}

/* path + "?" + the bytes, percent-encoded except for unreserved characters and the query's own = and &. */
static char *with_query(char *path, const uint8_t *q, size_t n)
{
    if (n == 0)
        return path;
    size_t pl = strlen(path);
    char *out = hl_malloc(pl + 2 + 3 * n);
    memcpy(out, path, pl);
    size_t o = pl;
    out[o++] = '?';
    for (size_t i = 0; i < n; ++i) {
        uint8_t c = q[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
            c == '~' || c == '=' || c == '&') {
            out[o++] = (char)c;
        } else {
            o += (size_t)sprintf(out + o, "%%%02X", c);
        }
    }
    out[o] = '\0';
    free(path);
    return out;
}

static void check_answer(const char *method, const char *target, const answer_t *a)
{
    if (a->status < 200 || a->status > 599) {
        fprintf(stderr, "fuzz_routes: %s %s: not a valid answer: %.200s\n", method, target, a->head != NULL ? a->head : "");
        abort();
    }
    if (a->status == 500) {
        fprintf(stderr, "fuzz_routes: %s %s: 500: %.500s\n", method, target, a->body);
        abort();
    }
    if (strncmp(a->content_type, "application/json", 16) != 0 || strcmp(method, "HEAD") == 0 || a->status == 204)
        return;
    json_t *j = json_loadb(a->body, a->body_len, 0, NULL);
    if (j == NULL) {
        fprintf(stderr, "fuzz_routes: %s %s: %d with a JSON content type but no JSON: %.500s\n", method, target, a->status,
                a->body);
        abort();
    }
    if (a->status < 400) {
        json_decref(j);
        return;
    }
    json_t *err = json_object_get(j, "error");
    const char *code = json_string_value(json_object_get(err, "code"));
    const char *message = json_string_value(json_object_get(err, "message"));
    if (!json_is_object(j) || !json_is_false(json_object_get(j, "ok")) || !json_is_object(err) || code == NULL || code[0] == '\0' ||
        message == NULL || message[0] == '\0') {
        fprintf(stderr, "fuzz_routes: %s %s: %d without the error envelope: %.500s\n", method, target, a->status, a->body);
        abort();
    }
    json_decref(j);
}

/** libFuzzer's entry: route, parameters, flags, then the body or query. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static unsigned long count;
    if (size < 3)
        return 0;
    if (++count % 500 == 0) {
        free(conversation);
        conversation = new_conversation("work");
    }
    const route_t *r = &routes[data[0] % num_routes];
    unsigned flags = data[2];
    const uint8_t *rest = data + 3;
    size_t rest_len = size - 3;
    char *target = fill_path(r, data[1]);
    const char *body = NULL;
    size_t body_len = 0;
    if ((r->flags & (HL_ROUTE_JSON_BODY | HL_ROUTE_RAW_BODY)) != 0 || r->method != HL_METHOD_GET) {
        body = (const char *)rest;
        body_len = rest_len;
    } else {
        target = with_query(target, rest, rest_len);
    }
    const char *ctype = (flags & 2) != 0 ? NULL : (flags & 4) != 0 ? "text/plain" : "application/json";
    if ((r->flags & HL_ROUTE_RAW_BODY) != 0 && (flags & 4) != 0)
        ctype = "application/octet-stream";
    const char *method = method_name(r->method);
    answer_t a;
    if (!http(method, target, (flags & 1) != 0 ? NULL : token, ctype, body, body_len, &a))
        abort(); /* a hang */
    if (getenv("FUZZ_ROUTES_VERBOSE") != NULL)
        fprintf(stderr, "%s %s -> %d %.160s\n", method, target, a.status, a.body != NULL ? a.body : "");
    check_answer(method, target, &a);
    answer_free(&a);
    free(target);
    return 0;
}
