/*
 * The fake Hermes API server checked against its own spec (FAKE-UPSTREAM.md §6 fidelity checklist and §7 matrix, with
 * the wire formats of UPSTREAM-HERMES.md §1): the READY line, health, auth and its 401 envelopes per dialect, models,
 * capabilities, the run lifecycle and its SSE framing (data-only frames, JSON starting with event/run_id/timestamp, one
 * terminal event, ": stream closed", keepalives, chunking whole/bytes/coalesce, drop_after), the single consumer, tools,
 * approvals (approve, deny, all, timeout), failures, stop, the concurrency cap, the cron store, the control API (canned
 * answers included), and
 * bad input (413, 411, 400, 431, keep-alive). Every fake runs under ASan+UBSan and must exit clean on SIGTERM.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <unistd.h>

#include "fake_hermes.h"
#include "harness_conv.h"
#include "hl/common.h"

#define KEY "fake-test-key-0123456789abcdef"
static const char *const AUTH[] = {"Authorization: Bearer " KEY, NULL};

typedef struct st_fx_t {
    hlt_env_t env;
    hlt_fake_t f;
} fx_t;

static void fx_start(fx_t *x, const char *const *args)
{
    hlt_env_init(&x->env);
    hlt_fake_start(&x->f, x->env.dir, args);
}

static void fx_stop(fx_t *x)
{
    const char *msg = hlt_fake_stop(&x->f);
    if (msg != NULL) {
        x->env.keep = 1;
        hlt_env_dispose(&x->env);
        ck_abort_msg("%s", msg);
    }
    hlt_env_dispose(&x->env);
}

/* ---- calls ---- */

static json_t *call_h(fx_t *x, const char *method, const char *path, const char *body, const char *const *hdrs, long want)
{
    hlt_response_t res;
    hlt_fake_request(&x->f, method, path, body, hdrs, &res);
    ck_assert_msg(res.rc == CURLE_OK, "%s %s: %s (%s)", method, path, curl_easy_strerror(res.rc), res.errbuf);
    ck_assert_msg(res.status == want, "%s %s: status %ld, expected %ld: %.500s", method, path, res.status, want, res.body);
    json_t *j = json_incref(res.json);
    hlt_response_free(&res);
    return j;
}

static json_t *call(fx_t *x, const char *method, const char *path, const char *body, long want)
{
    return call_h(x, method, path, body, AUTH, want);
}

static void no_content(json_t *j)
{
    json_decref(j);
}

/* {"error":{"message","type","param","code"}} with this code (NULL: code null) */
static void assert_openai_error(json_t *j, const char *code, const char *message)
{
    json_t *e = json_object_get(j, "error");
    ck_assert_msg(json_is_object(e), "no error envelope: %s", j != NULL ? json_dumps(j, 0) : "(not JSON)");
    ck_assert_msg(json_is_string(json_object_get(e, "message")) && json_is_string(json_object_get(e, "type")), "error shape");
    json_t *c = json_object_get(e, "code");
    if (code == NULL)
        ck_assert_msg(json_is_null(c), "code should be null");
    else
        ck_assert_str_eq(json_string_value(c), code);
    if (message != NULL)
        ck_assert_str_eq(json_string_value(json_object_get(e, "message")), message);
    json_decref(j);
}

static void assert_flat_error(json_t *j, const char *prefix)
{
    const char *m = json_string_value(json_object_get(j, "error"));
    ck_assert_msg(m != NULL && json_object_size(j) == 1, "not a flat {\"error\":…} body");
    ck_assert_msg(strncmp(m, prefix, strlen(prefix)) == 0, "error '%s', expected '%s…'", m, prefix);
    json_decref(j);
}

/* POST /v1/runs {"input": input} (with an X-Fake-Scenario header when scen is not NULL); asserts 202; returns the id. */
static char *start_run(fx_t *x, const char *input, const char *scen)
{
    json_t *b = json_pack("{s:s}", "input", input);
    char *body = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    char hdr[512];
    snprintf(hdr, sizeof(hdr), "X-Fake-Scenario: %s", scen != NULL ? scen : "");
    const char *hdrs[] = {AUTH[0], scen != NULL ? hdr : NULL, NULL};
    json_t *j = call_h(x, "POST", "/v1/runs", body, hdrs, 202);
    free(body);
    const char *id = json_string_value(json_object_get(j, "run_id"));
    ck_assert_msg(id != NULL, "no run_id");
    hltc_assert_id(id, "run_");
    ck_assert_str_eq(json_string_value(json_object_get(j, "status")), "started");
    char *out = hl_strdup(id);
    json_decref(j);
    return out;
}

static json_t *run_status(fx_t *x, const char *id)
{
    return call(x, "GET", hltc_fmt("/v1/runs/%s", id), NULL, 200);
}

static const char *str(json_t *j, const char *key)
{
    const char *s = json_string_value(json_object_get(j, key));
    ck_assert_msg(s != NULL, "no string '%s'", key);
    return s;
}

static void wait_status(fx_t *x, const char *id, const char *status, long timeout_ms)
{
    long deadline = hlt_now_ms() + timeout_ms;
    for (;;) {
        json_t *j = run_status(x, id);
        int done = strcmp(str(j, "status"), status) == 0;
        char last[64];
        snprintf(last, sizeof(last), "%s", str(j, "status"));
        json_decref(j);
        if (done)
            return;
        ck_assert_msg(hlt_now_ms() < deadline, "run %s is %s, expected %s", id, last, status);
        hlt_sleep_ms(10);
    }
}

/* ---- raw event streams ---- */

typedef struct st_stream_t {
    int fd;
    char *raw;
    size_t len;
    char *body; /* dechunked */
    size_t body_len;
    int complete; /* the last chunk came */
    int eof;
} stream_t;

static void stream_open(fx_t *x, stream_t *s, const char *id)
{
    memset(s, 0, sizeof(*s));
    s->fd = hltc_raw_get(x->f.port, hltc_fmt("/v1/runs/%s/events", id), KEY, 0);
}

static void stream_decode(stream_t *s)
{
    free(s->body);
    s->body = NULL;
    s->body_len = 0;
    const char *sep = s->raw != NULL ? strstr(s->raw, "\r\n\r\n") : NULL;
    if (sep == NULL)
        return;
    s->body = hltc_dechunk(sep + 4, s->len - (size_t)(sep + 4 - s->raw), &s->body_len, &s->complete);
}

/* Reads until the decoded body holds needle (NULL: until the response ends: its last chunk, or EOF), or timeout. */
static void stream_read(stream_t *s, const char *needle, long timeout_ms)
{
    long deadline = hlt_now_ms() + timeout_ms;
    while (!s->eof && hlt_now_ms() < deadline) {
        stream_decode(s);
        if (needle != NULL && s->body != NULL && strstr(s->body, needle) != NULL)
            return;
        if (needle == NULL && s->complete)
            return;
        if (hltc_raw_read(s->fd, &s->raw, &s->len, 20) < 0)
            s->eof = 1;
    }
    stream_decode(s);
    if (needle != NULL)
        ck_assert_msg(s->body != NULL && strstr(s->body, needle) != NULL, "the stream did not send '%s' in %ld ms; got: %.2000s",
                      needle, timeout_ms,
                      s->body != NULL  ? s->body
                      : s->raw != NULL ? s->raw
                                       : "(nothing)");
    else
        ck_assert_msg(s->eof || s->complete, "the stream did not end in %ld ms", timeout_ms);
}

static void stream_close(stream_t *s)
{
    if (s->fd >= 0)
        close(s->fd);
    free(s->raw);
    free(s->body);
    memset(s, 0, sizeof(*s));
    s->fd = -1;
}

/* The sizes of the chunks of a raw chunked body (head included in raw); returns how many. */
static size_t chunk_sizes(const char *raw, size_t len, size_t *sizes, size_t max)
{
    const char *p = strstr(raw, "\r\n\r\n");
    ck_assert(p != NULL);
    p += 4;
    const char *end = raw + len;
    size_t n = 0;
    while (p < end) {
        const char *crlf = strstr(p, "\r\n");
        if (crlf == NULL)
            break;
        size_t size = strtoul(p, NULL, 16);
        if (size == 0)
            break;
        if (n < max)
            sizes[n] = size;
        ++n;
        p = crlf + 2 + size + 2;
    }
    return n;
}

typedef struct st_evs_t {
    json_t *v[1024];
    size_t n;
    size_t keepalives;
    int closed; /* ": stream closed" was the last block */
} evs_t;

/* Parses an events body strictly as upstream frames it: blocks of exactly one line, "data: <JSON>" whose JSON starts
 * with event, run_id and timestamp (6 decimals), ": keepalive", and ": stream closed" only at the very end. */
static void parse_events(const char *body, size_t len, evs_t *e, const char *run_id)
{
    memset(e, 0, sizeof(*e));
    const char *p = body, *end = body + len;
    while (p < end) {
        const char *sep = strstr(p, "\n\n");
        ck_assert_msg(sep != NULL, "an unterminated SSE block: %.300s", p);
        size_t bl = (size_t)(sep - p);
        ck_assert_msg(memchr(p, '\n', bl) == NULL, "an SSE block of more than one line: %.*s", (int)bl, p);
        ck_assert_msg(!e->closed, "a block after ': stream closed': %.*s", (int)bl, p);
        if (bl == 11 && memcmp(p, ": keepalive", 11) == 0) {
            ++e->keepalives;
        } else if (bl == 15 && memcmp(p, ": stream closed", 15) == 0) {
            e->closed = 1;
        } else {
            ck_assert_msg(bl > 6 && memcmp(p, "data: {\"event\":\"", 16) == 0, "not a data-only event frame: %.*s", (int)bl, p);
            char *data = hl_strndup(p + 6, bl - 6);
            json_t *j = json_loads(data, 0, NULL);
            ck_assert_msg(json_is_object(j), "event data is not JSON: %s", data);
            void *it = json_object_iter(j);
            ck_assert_str_eq(json_object_iter_key(it), "event");
            it = json_object_iter_next(j, it);
            ck_assert_str_eq(json_object_iter_key(it), "run_id");
            it = json_object_iter_next(j, it);
            ck_assert_str_eq(json_object_iter_key(it), "timestamp");
            if (run_id != NULL)
                ck_assert_str_eq(str(j, "run_id"), run_id);
            const char *ts = strstr(data, "\"timestamp\":") + 12;
            size_t digits = strspn(ts, "0123456789");
            ck_assert_msg(digits >= 10 && ts[digits] == '.' && strspn(ts + digits + 1, "0123456789") == 6 &&
                              (ts[digits + 7] == ',' || ts[digits + 7] == '}'),
                          "timestamp without 6 decimals: %s", data);
            free(data);
            ck_assert(e->n < HL_ARRAY_SIZE(e->v));
            e->v[e->n++] = j;
        }
        p = sep + 2;
    }
}

static void evs_free(evs_t *e)
{
    for (size_t i = 0; i < e->n; ++i)
        json_decref(e->v[i]);
    e->n = 0;
}

static const char *ev_name(const evs_t *e, size_t i)
{
    return json_string_value(json_object_get(e->v[i], "event"));
}

static size_t ev_count(const evs_t *e, const char *name)
{
    size_t n = 0;
    for (size_t i = 0; i < e->n; ++i)
        n += strcmp(ev_name(e, i), name) == 0;
    return n;
}

static long ev_find(const evs_t *e, const char *name)
{
    for (size_t i = 0; i < e->n; ++i)
        if (strcmp(ev_name(e, i), name) == 0)
            return (long)i;
    return -1;
}

/* Exactly one terminal event, the last one; usage only on run.completed. */
static void assert_one_terminal(const evs_t *e, const char *terminal)
{
    size_t t = ev_count(e, "run.completed") + ev_count(e, "run.failed") + ev_count(e, "run.cancelled");
    ck_assert_msg(t == 1, "%zu terminal events", t);
    ck_assert_msg(e->n > 0 && strcmp(ev_name(e, e->n - 1), terminal) == 0, "the last event is %s, expected %s",
                  e->n > 0 ? ev_name(e, e->n - 1) : "(none)", terminal);
    for (size_t i = 0; i + 1 < e->n; ++i)
        ck_assert_msg(json_object_get(e->v[i], "usage") == NULL, "usage on %s", ev_name(e, i));
    ck_assert_msg(e->closed, "no ': stream closed' after the terminal event");
}

/* The concatenated message.delta texts (caller frees). */
static char *deltas_text(const evs_t *e)
{
    size_t cap = 1;
    for (size_t i = 0; i < e->n; ++i)
        if (strcmp(ev_name(e, i), "message.delta") == 0)
            cap += strlen(str(e->v[i], "delta"));
    char *out = hl_calloc(1, cap);
    for (size_t i = 0; i < e->n; ++i)
        if (strcmp(ev_name(e, i), "message.delta") == 0)
            strcat(out, str(e->v[i], "delta"));
    return out;
}

/* Reads a whole run's stream (it must end) and parses it. */
static void read_run(fx_t *x, const char *id, evs_t *e, long timeout_ms)
{
    stream_t s;
    stream_open(x, &s, id);
    stream_read(&s, NULL, timeout_ms);
    ck_assert_msg(strncmp(s.raw, "HTTP/1.1 200 OK\r\n", 17) == 0, "events answer: %.300s", s.raw);
    ck_assert_msg(s.complete, "the stream ended without its last chunk");
    parse_events(s.body, s.body_len, e, id);
    stream_close(&s);
}

/* A raw exchange on a fresh connection: sends req, reads until EOF or timeout. Caller frees. */
static char *raw_exchange(int port, const char *req, size_t len, long timeout_ms)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_msg(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "connect: %s", strerror(errno));
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, req + off, len - off);
        if (w <= 0)
            break; /* the fake may answer and close before reading all */
        off += (size_t)w;
    }
    char *buf = NULL;
    size_t blen = 0;
    long deadline = hlt_now_ms() + timeout_ms;
    while (hlt_now_ms() < deadline)
        if (hltc_raw_read(fd, &buf, &blen, 20) < 0)
            break;
    close(fd);
    return buf != NULL ? buf : hl_strdup("");
}

/* ---- process contract, health, auth, models, capabilities ---- */

START_TEST(test_ready_and_shutdown)
{
    fx_t x;
    fx_start(&x, NULL);
    char *out = hlt_read_file(x.f.out_path, NULL);
    char want[32];
    snprintf(want, sizeof(want), "READY %d\n", x.f.port);
    ck_assert_str_eq(out, want);
    free(out);
    ck_assert_str_eq(x.f.base_url, hltc_fmt("http://127.0.0.1:%d", x.f.port));
    /* no key: the legacy no-auth mode */
    no_content(call_h(&x, "GET", "/v1/models", NULL, NULL, 200));
    fx_stop(&x);

    /* POST /__fake/shutdown is a clean exit too */
    fx_start(&x, NULL);
    no_content(call(&x, "POST", "/__fake/shutdown", NULL, 200));
    int status;
    ck_assert(hlt_wait_exit(x.f.pid, &status, 5000));
    x.f.pid = 0;
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status 0x%x", status);
    fx_stop(&x);

    /* only loopback */
    hlt_env_t env;
    hlt_env_init(&env);
    char *o = hlt_env_path(&env, 0, "o"), *e = hlt_env_path(&env, 0, "e");
    char *argv[] = {(char *)hlt_fake_binary(), "--port", "0", "--listen", "0.0.0.0", NULL};
    pid_t pid = hlt_spawn(argv, o, e);
    ck_assert(hlt_wait_exit(pid, &status, 5000));
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) != 0, "bound a non-loopback address");
    free(o);
    free(e);
    hlt_env_dispose(&env);
}
END_TEST

static void check_dialect(const char *dialect, int version)
{
    fx_t x;
    const char *args[] = {"--key", KEY, "--dialect", dialect, NULL};
    fx_start(&x, args);
    static const char *const BAD[] = {"Authorization: Bearer wrong-key-0123456789", NULL};
    static const char *const NOT_BEARER[] = {"Authorization: Basic " KEY, NULL};

    /* health needs no key; the version only from v0.20 */
    hlt_response_t res;
    hlt_fake_request(&x.f, "GET", "/health", NULL, NULL, &res);
    ck_assert_int_eq(res.status, 200);
    ck_assert_str_eq(hlt_header(&res, "content-type"), "application/json; charset=utf-8");
    ck_assert_str_eq(hlt_header(&res, "x-content-type-options"), "nosniff");
    ck_assert_str_eq(hlt_header(&res, "referrer-policy"), "no-referrer");
    ck_assert_int_eq(hlt_header(&res, "x-frame-options") != NULL, version >= 20);
    ck_assert_int_eq(hlt_header(&res, "content-security-policy") != NULL, version >= 20);
    ck_assert_str_eq(str(res.json, "status"), "ok");
    ck_assert_str_eq(str(res.json, "platform"), "hermes-agent");
    if (version >= 20)
        ck_assert_str_eq(str(res.json, "version"), hltc_fmt("0.%d.0", version));
    else
        ck_assert(json_object_get(res.json, "version") == NULL);
    hlt_response_free(&res);
    no_content(call_h(&x, "GET", "/v1/health", NULL, NULL, 200));

    /* /health/detailed: public before v0.20 */
    json_t *j = call_h(&x, "GET", "/health/detailed", NULL, NULL, version >= 20 ? 401 : 200);
    if (version < 20) {
        ck_assert_int_eq(json_integer_value(json_object_get(j, "pid")), x.f.pid);
        ck_assert_int_eq(json_integer_value(json_object_get(j, "active_agents")), 0);
        json_decref(j);
    } else {
        json_decref(j);
        j = call(&x, "GET", "/health/detailed", NULL, 200);
        ck_assert(json_is_object(json_object_get(json_object_get(j, "readiness"), "checks")));
        ck_assert_str_eq(str(j, "gateway_state"), "running");
        json_decref(j);
    }

    /* 401 envelopes */
    const char *code = version >= 20 ? "gateway_auth_failed" : "invalid_api_key";
    const char *msg = version >= 20 ? "Invalid gateway API key (API_SERVER_KEY)" : "Invalid API key";
    assert_openai_error(call_h(&x, "GET", "/v1/models", NULL, NULL, 401), code, msg);
    assert_openai_error(call_h(&x, "GET", "/v1/capabilities", NULL, BAD, 401), code, msg);
    assert_openai_error(call_h(&x, "POST", "/v1/runs", "{\"input\":\"x\"}", NOT_BEARER, 401), code, msg);
    assert_openai_error(call_h(&x, "GET", "/api/jobs", NULL, NULL, 401), code, msg);

    /* capabilities */
    j = call(&x, "GET", "/v1/capabilities", NULL, 200);
    ck_assert_str_eq(str(j, "object"), "hermes.api_server.capabilities");
    ck_assert(json_is_true(json_object_get(json_object_get(j, "auth"), "required")));
    json_t *features = json_object_get(j, "features"), *eps = json_object_get(j, "endpoints");
    ck_assert_int_eq(json_is_true(json_object_get(features, "run_approval_response")), version >= 15);
    ck_assert_int_eq(json_object_get(eps, "run_steer") != NULL, version >= 21);
    ck_assert(json_is_true(json_object_get(features, "run_events_sse")));
    json_decref(j);

    /* routes by dialect: approval from v0.15, steer only in v0.21 */
    char *id = start_run(&x, "x", "hang");
    hlt_fake_request(&x.f, "POST", hltc_fmt("/v1/runs/%s/approval", id), "{\"choice\":\"once\"}", AUTH, &res);
    ck_assert_int_eq(res.status, version >= 15 ? 409 : 404);
    if (version < 15)
        ck_assert_str_eq(res.body, "404: Not Found");
    hlt_response_free(&res);
    j = call(&x, "POST", hltc_fmt("/v1/runs/%s/steer", id), "{\"text\":\"left\"}", version >= 21 ? 200 : 404);
    if (version >= 21)
        ck_assert_str_eq(str(j, "status"), "steered");
    json_decref(j);
    j = call(&x, "POST", hltc_fmt("/v1/runs/%s/stop", id), NULL, 200);
    ck_assert_str_eq(str(j, "status"), "stopping");
    ck_assert_str_eq(str(j, "run_id"), id);
    json_decref(j);
    if (version <= 15) { /* the older stop answered once the run was cancelled */
        j = run_status(&x, id);
        ck_assert_str_eq(str(j, "status"), "cancelled");
        json_decref(j);
    }
    free(id);

    /* jobs' bad ids: 400 before v0.20, 404 from it */
    assert_flat_error(call(&x, "GET", "/api/jobs/xyz", NULL, version >= 20 ? 404 : 400),
                      version >= 20 ? "Job not found" : "Invalid job ID format");
    assert_flat_error(call(&x, "GET", "/api/jobs/0123456789ab", NULL, 404), "Job not found");
    fx_stop(&x);
}

START_TEST(test_dialects)
{
    check_dialect("v0.12", 12);
    check_dialect("v0.15", 15);
    check_dialect("v0.20", 20);
    check_dialect("v0.21", 21);
}
END_TEST

START_TEST(test_routing_errors)
{
    fx_t x;
    const char *args[] = {"--key", KEY, "--cors-origins", "https://app.example", NULL};
    fx_start(&x, args);
    hlt_response_t res;
    hlt_fake_request(&x.f, "GET", "/v1/nothing-here", NULL, AUTH, &res);
    ck_assert_int_eq(res.status, 404);
    ck_assert_str_eq(res.body, "404: Not Found");
    ck_assert_str_eq(hlt_header(&res, "content-type"), "text/plain; charset=utf-8");
    hlt_response_free(&res);
    hlt_fake_request(&x.f, "GET", "/v1/runs", NULL, AUTH, &res);
    ck_assert_int_eq(res.status, 405);
    ck_assert_str_eq(hlt_header(&res, "allow"), "POST");
    hlt_response_free(&res);
    hlt_fake_request(&x.f, "DELETE", "/v1/models", NULL, NULL, &res);
    ck_assert_int_eq(res.status, 405);
    hlt_response_free(&res);
    /* CORS: a foreign origin gets a bare 403, an allowed one the headers */
    static const char *const FOREIGN[] = {"Origin: https://evil.example", NULL};
    hlt_fake_request(&x.f, "GET", "/health", NULL, FOREIGN, &res);
    ck_assert_int_eq(res.status, 403);
    ck_assert_int_eq(res.body_len, 0);
    hlt_response_free(&res);
    static const char *const ALLOWED[] = {"Origin: https://app.example", NULL};
    hlt_fake_request(&x.f, "GET", "/health", NULL, ALLOWED, &res);
    ck_assert_int_eq(res.status, 200);
    ck_assert_str_eq(hlt_header(&res, "access-control-allow-origin"), "https://app.example");
    ck_assert_str_eq(hlt_header(&res, "vary"), "Origin");
    hlt_response_free(&res);
    hlt_fake_request(&x.f, "OPTIONS", "/v1/runs", NULL, ALLOWED, &res);
    ck_assert_int_eq(res.status, 200);
    ck_assert_str_eq(hlt_header(&res, "access-control-max-age"), "600");
    hlt_response_free(&res);
    /* unknown runs */
    assert_openai_error(call(&x, "GET", "/v1/runs/run_00000000000000000000000000000000", NULL, 404), "run_not_found", NULL);
    assert_openai_error(call(&x, "POST", "/v1/runs/run_00000000000000000000000000000000/stop", NULL, 404), "run_not_found", NULL);
    assert_openai_error(call(&x, "POST", "/v1/runs/run_00000000000000000000000000000000/approval", "{\"choice\":\"once\"}", 404),
                        "run_not_found", NULL);
    /* an unknown id on /events is retried for about 1 s */
    long t0 = hlt_now_ms();
    assert_openai_error(call(&x, "GET", "/v1/runs/run_00000000000000000000000000000000/events", NULL, 404), "run_not_found", NULL);
    long took = hlt_now_ms() - t0;
    ck_assert_msg(took >= 900 && took < 4000, "the 404 came after %ld ms", took);
    fx_stop(&x);
}
END_TEST

START_TEST(test_models)
{
    fx_t x;
    const char *args[] = {"--key", KEY, "--model-name", "my-alias", NULL};
    fx_start(&x, args);
    json_t *j = call(&x, "GET", "/v1/models", NULL, 200);
    ck_assert_str_eq(str(j, "object"), "list");
    json_t *data = json_object_get(j, "data");
    ck_assert_int_eq(json_array_size(data), 1);
    json_t *m = json_array_get(data, 0);
    ck_assert_str_eq(str(m, "id"), "my-alias");
    ck_assert_str_eq(str(m, "object"), "model");
    ck_assert_str_eq(str(m, "owned_by"), "hermes");
    ck_assert_str_eq(str(m, "root"), "my-alias");
    ck_assert(json_is_null(json_object_get(m, "parent")));
    ck_assert(json_is_array(json_object_get(m, "permission")) && json_array_size(json_object_get(m, "permission")) == 0);
    ck_assert(json_integer_value(json_object_get(m, "created")) > 1700000000);
    json_decref(j);
    no_content(call_h(&x, "POST", "/__fake/models", "{\"models\":[\"a\",\"b\",{\"id\":\"c\"}]}", NULL, 200));
    j = call(&x, "GET", "/v1/models", NULL, 200);
    data = json_object_get(j, "data");
    ck_assert_int_eq(json_array_size(data), 3);
    ck_assert_str_eq(str(json_array_get(data, 2), "id"), "c");
    ck_assert_str_eq(str(json_array_get(data, 2), "owned_by"), "hermes");
    json_decref(j);
    fx_stop(&x);
}
END_TEST

/* ---- runs ---- */

START_TEST(test_stream_run)
{
    fx_t x;
    const char *args[] = {"--key", KEY, "--time-scale", "0.1", NULL};
    fx_start(&x, args);
    char *id = start_run(&x, "Say hello [[fake:stream;deltas=7;in=100;out=42]] please", NULL);
    json_t *st = run_status(&x, id);
    ck_assert_str_eq(str(st, "object"), "hermes.run");
    ck_assert_str_eq(str(st, "session_id"), id); /* defaults to the run id */
    ck_assert_str_eq(str(st, "model"), "hermes-agent");
    ck_assert(json_is_real(json_object_get(st, "created_at")) || json_is_integer(json_object_get(st, "created_at")));
    ck_assert(json_object_get(st, "usage") == NULL);
    json_decref(st);

    stream_t s;
    stream_open(&x, &s, id);
    stream_read(&s, NULL, 5000);
    /* the head */
    ck_assert_msg(strncmp(s.raw, "HTTP/1.1 200 OK\r\n", 17) == 0, "%.200s", s.raw);
    ck_assert(strstr(s.raw, "\r\nContent-Type: text/event-stream\r\n") != NULL);
    ck_assert(strstr(s.raw, "\r\nCache-Control: no-cache\r\n") != NULL);
    ck_assert(strstr(s.raw, "\r\nX-Accel-Buffering: no\r\n") != NULL);
    ck_assert(strstr(s.raw, "\r\nTransfer-Encoding: chunked\r\n") != NULL);
    ck_assert(strstr(s.raw, "Content-Length") == NULL);
    ck_assert_msg(s.complete, "no last chunk");
    ck_assert(strstr(s.body, "event:") == NULL && strstr(s.body, "\nid:") == NULL);
    evs_t e;
    parse_events(s.body, s.body_len, &e, id);
    /* the response is over, the connection stays open for the next request (aiohttp keeps it alive) */
    static const char NEXT[] = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
    ck_assert(write(s.fd, NEXT, sizeof(NEXT) - 1) == (ssize_t)(sizeof(NEXT) - 1));
    size_t before = s.len;
    long deadline = hlt_now_ms() + 3000;
    while (strstr(s.raw + before, "\"status\":\"ok\"") == NULL && hlt_now_ms() < deadline)
        ck_assert_msg(hltc_raw_read(s.fd, &s.raw, &s.len, 20) >= 0, "the connection closed after the stream");
    ck_assert_msg(strncmp(s.raw + before, "HTTP/1.1 200 OK\r\n", 17) == 0, "%.300s", s.raw + before);
    stream_close(&s);
    ck_assert_int_eq(e.n, 9);
    for (size_t i = 0; i < 7; ++i)
        ck_assert_str_eq(ev_name(&e, i), "message.delta");
    ck_assert_str_eq(ev_name(&e, 7), "reasoning.available");
    assert_one_terminal(&e, "run.completed");
    char *text = deltas_text(&e);
    json_t *done = e.v[8];
    ck_assert_str_eq(str(done, "output"), text);
    ck_assert_str_eq(str(e.v[7], "text"), text);
    ck_assert_str_eq(text, "Hello from the fake LLM.");
    json_t *usage = json_object_get(done, "usage");
    ck_assert_int_eq(json_integer_value(json_object_get(usage, "input_tokens")), 100);
    ck_assert_int_eq(json_integer_value(json_object_get(usage, "output_tokens")), 42);
    ck_assert_int_eq(json_integer_value(json_object_get(usage, "total_tokens")), 142);
    /* timestamps do not go back */
    for (size_t i = 1; i < e.n; ++i)
        ck_assert(json_number_value(json_object_get(e.v[i], "timestamp")) >=
                  json_number_value(json_object_get(e.v[i - 1], "timestamp")));

    /* the poll keeps the final state, output and usage */
    st = run_status(&x, id);
    ck_assert_str_eq(str(st, "status"), "completed");
    ck_assert_str_eq(str(st, "last_event"), "run.completed");
    ck_assert_str_eq(str(st, "output"), text);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(st, "usage"), "total_tokens")), 142);
    json_decref(st);
    free(text);
    evs_free(&e);

    /* single consumer: after the stream ended, the events are gone */
    assert_openai_error(call(&x, "GET", hltc_fmt("/v1/runs/%s/events", id), NULL, 404), "run_not_found", NULL);
    free(id);

    /* the default scenario: 5 word deltas, usage 11/5/16 */
    id = start_run(&x, "plain", NULL);
    read_run(&x, id, &e, 5000);
    ck_assert_int_eq(ev_count(&e, "message.delta"), 5);
    ck_assert_str_eq(str(e.v[0], "delta"), "Hello");
    ck_assert_str_eq(str(e.v[1], "delta"), " from");
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(e.v[e.n - 1], "usage"), "total_tokens")), 16);
    evs_free(&e);
    free(id);

    /* a session id and a model are echoed */
    json_t *j = call(&x, "POST", "/v1/runs", "{\"input\":\"x\",\"session_id\":\"sess-1\",\"model\":\"m-2\"}", 202);
    st = run_status(&x, str(j, "run_id"));
    ck_assert_str_eq(str(st, "session_id"), "sess-1");
    ck_assert_str_eq(str(st, "model"), "m-2");
    json_decref(st);
    json_decref(j);
    fx_stop(&x);
}
END_TEST

START_TEST(test_run_validation_and_cap)
{
    fx_t x;
    const char *args[] = {"--key", KEY, "--time-scale", "0.1", NULL};
    fx_start(&x, args);
    assert_openai_error(call(&x, "POST", "/v1/runs", "not json", 400), "invalid_json", "Invalid JSON");
    assert_openai_error(call(&x, "POST", "/v1/runs", "{}", 400), NULL, "Missing 'input' field");
    assert_openai_error(call(&x, "POST", "/v1/runs", "{\"input\":\"\"}", 400), NULL, "Missing 'input' field");
    assert_openai_error(call(&x, "POST", "/v1/runs", "{\"input\":[{\"role\":\"user\",\"content\":\"\"}]}", 400), NULL,
                        "No user message found in input");
    assert_openai_error(call(&x, "POST", "/v1/runs", "{\"input\":\"x\",\"conversation_history\":[{\"role\":\"user\"}]}", 400),
                        "invalid_conversation_history", NULL);
    assert_openai_error(call(&x, "POST", "/v1/runs", "{\"input\":\"[[fake:nosuch]]\"}", 400), "invalid_fake_scenario", NULL);
    /* a list input: the last message is the input, the token found in it */
    char *id = start_run(&x, "x", NULL);
    free(id);
    json_t *j =
        call(&x, "POST", "/v1/runs",
             "{\"input\":[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"user\",\"content\":\"b [[fake:hang]]\"}]}", 202);
    json_t *dbg = call(&x, "GET", hltc_fmt("/__fake/runs/%s", str(j, "run_id")), NULL, 200);
    ck_assert_str_eq(str(dbg, "scenario"), "hang");
    json_decref(dbg);
    no_content(call(&x, "POST", hltc_fmt("/v1/runs/%s/stop", str(j, "run_id")), NULL, 200));
    json_decref(j);
    /* admission failures and delays chosen by the scenario */
    assert_openai_error(call(&x, "POST", "/v1/runs", "{\"input\":\"[[fake:stream;status_code=502]]\"}", 502), "server_error", NULL);
    long t0 = hlt_now_ms();
    id = start_run(&x, "[[fake:stream;delay_admit_ms=3000]]", NULL); /* 300 ms at this scale */
    ck_assert_msg(hlt_now_ms() - t0 >= 250, "the admission was not held");
    wait_status(&x, id, "completed", 5000);
    free(id);

    /* the cap: 10 live runs (the default), the 11th gets 429; a stopped one frees a slot */
    no_content(call_h(&x, "POST", "/__fake/scenario", "{\"name\":\"hang\",\"times\":10}", NULL, 200));
    char *ids[10];
    for (int i = 0; i < 10; ++i)
        ids[i] = start_run(&x, "x", NULL);
    assert_openai_error(call(&x, "POST", "/v1/runs", "{\"input\":\"x\"}", 429), "rate_limit_exceeded",
                        "Too many concurrent runs (max 10)");
    json_t *h = call_h(&x, "GET", "/health/detailed", NULL, AUTH, 200);
    ck_assert_int_eq(json_integer_value(json_object_get(h, "active_agents")), 10);
    json_decref(h);
    no_content(call(&x, "POST", hltc_fmt("/v1/runs/%s/stop", ids[3]), NULL, 200));
    wait_status(&x, ids[3], "cancelled", 5000);
    id = start_run(&x, "x", NULL); /* the queue is used up: the default stream */
    json_t *dbg2 = call(&x, "GET", hltc_fmt("/__fake/runs/%s", id), NULL, 200);
    ck_assert_str_eq(str(dbg2, "scenario"), "stream");
    json_decref(dbg2);
    free(id);
    for (int i = 0; i < 10; ++i)
        free(ids[i]);
    fx_stop(&x);
}
END_TEST

START_TEST(test_tool_and_misc_scenarios)
{
    fx_t x;
    const char *args[] = {"--key", KEY, "--time-scale", "0.1", "--dialect", "v0.21", NULL};
    fx_start(&x, args);
    char *id = start_run(&x, "[[fake:tool;tool=read_file;preview=README.md]]", NULL);
    evs_t e;
    read_run(&x, id, &e, 5000);
    ck_assert_str_eq(ev_name(&e, 0), "tool.started");
    ck_assert_str_eq(str(e.v[0], "tool"), "read_file");
    ck_assert_str_eq(str(e.v[0], "preview"), "README.md");
    ck_assert_str_eq(ev_name(&e, 1), "tool.completed");
    ck_assert_str_eq(str(e.v[1], "tool"), "read_file");
    ck_assert(json_is_false(json_object_get(e.v[1], "error")));
    ck_assert(json_number_value(json_object_get(e.v[1], "duration")) == 0.12);
    ck_assert_str_eq(ev_name(&e, 2), "message.delta");
    ck_assert_str_eq(str(e.v[2], "delta"), "\n\nHello");
    assert_one_terminal(&e, "run.completed");
    evs_free(&e);
    free(id);

    /* subagents, then the stream */
    id = start_run(&x, "x", "subagent;children=2");
    read_run(&x, id, &e, 5000);
    ck_assert_int_eq(ev_count(&e, "subagent.start"), 2);
    ck_assert_int_eq(ev_count(&e, "subagent.complete"), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(e.v[0], "task_count")), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(e.v[0], "depth")), 1);
    ck_assert_str_eq(str(e.v[1], "status"), "completed");
    assert_one_terminal(&e, "run.completed");
    evs_free(&e);
    free(id);

    /* reasoning deltas (v0.21), a long drip without reasoning.available */
    id = start_run(&x, "x", "reasoning;deltas=3");
    read_run(&x, id, &e, 5000);
    ck_assert_int_eq(ev_count(&e, "reasoning.delta"), 3);
    ck_assert_int_eq(ev_find(&e, "reasoning.delta"), 0);
    evs_free(&e);
    free(id);
    id = start_run(&x, "x", "drip;deltas=60;gap_ms=10;reasoning=0");
    read_run(&x, id, &e, 10000);
    ck_assert_int_eq(ev_count(&e, "message.delta"), 60);
    ck_assert_int_eq(ev_count(&e, "reasoning.available"), 0);
    char *text = deltas_text(&e);
    ck_assert_str_eq(text, str(e.v[e.n - 1], "output"));
    free(text);
    evs_free(&e);
    free(id);

    /* v0.21 idempotency: a replay gets the same run, a different body 409 */
    static const char *const IDEM[] = {"Authorization: Bearer " KEY, "Idempotency-Key: k-1", NULL};
    json_t *a = call_h(&x, "POST", "/v1/runs", "{\"input\":\"same\"}", IDEM, 202);
    ck_assert(json_is_false(json_object_get(a, "replayed")));
    hlt_response_t res;
    hlt_fake_request(&x.f, "POST", "/v1/runs", "{\"input\":\"same\"}", IDEM, &res);
    ck_assert_int_eq(res.status, 202);
    ck_assert_str_eq(hlt_header(&res, "idempotency-replayed"), "true");
    ck_assert_str_eq(str(res.json, "run_id"), str(a, "run_id"));
    hlt_response_free(&res);
    assert_openai_error(call_h(&x, "POST", "/v1/runs", "{\"input\":\"other\"}", IDEM, 409), "idempotency_key_conflict", NULL);
    json_decref(a);
    fx_stop(&x);
}
END_TEST

/* An approval run: opens its stream, waits for the prompt(s), answers with body; returns the whole stream's events. */
static void approval_run(fx_t *x, const char *scen, const char *answer, long want, evs_t *e)
{
    char *id = start_run(x, "x", scen);
    stream_t s;
    stream_open(x, &s, id);
    stream_read(&s, "approval.request", 5000);
    json_t *st = run_status(x, id);
    ck_assert_str_eq(str(st, "status"), "waiting_for_approval");
    ck_assert_str_eq(str(st, "last_event"), "approval.request");
    json_decref(st);
    /* a second subscriber while one is attached: 404 */
    assert_openai_error(call(x, "GET", hltc_fmt("/v1/runs/%s/events", id), NULL, 404), "run_not_found", NULL);
    assert_openai_error(call(x, "POST", hltc_fmt("/v1/runs/%s/approval", id), "{\"choice\":\"maybe\"}", 400),
                        "invalid_approval_choice", NULL);
    assert_openai_error(call(x, "POST", hltc_fmt("/v1/runs/%s/approval", id), "{nope", 400), "invalid_json", NULL);
    if (answer != NULL) {
        json_t *j = call(x, "POST", hltc_fmt("/v1/runs/%s/approval", id), answer, 200);
        ck_assert_str_eq(str(j, "object"), "hermes.run.approval_response");
        ck_assert_str_eq(str(j, "run_id"), id);
        ck_assert_int_eq(json_integer_value(json_object_get(j, "resolved")), want);
        json_decref(j);
    }
    stream_read(&s, NULL, 5000);
    parse_events(s.body, s.body_len, e, id);
    stream_close(&s);
    assert_one_terminal(e, "run.completed");
    /* the run is over: a late answer gets 409 */
    assert_openai_error(call(x, "POST", hltc_fmt("/v1/runs/%s/approval", id), "{\"choice\":\"once\"}", 409), "approval_not_active",
                        NULL);
    free(id);
}

START_TEST(test_approvals)
{
    fx_t x;
    const char *args[] = {"--key", KEY, "--time-scale", "0.1", NULL};
    fx_start(&x, args);
    evs_t e;
    /* approve (an alias of once) */
    approval_run(&x, "approval", "{\"choice\":\"Approve\"}", 1, &e);
    ck_assert_str_eq(ev_name(&e, 0), "tool.started");
    ck_assert_str_eq(str(e.v[0], "preview"), "rm -rf scratch-dir");
    ck_assert_str_eq(ev_name(&e, 1), "approval.request");
    json_t *req = e.v[1];
    ck_assert_str_eq(str(req, "command"), "rm -rf scratch-dir");
    ck_assert_str_eq(str(req, "description"), "delete in root path");
    ck_assert_str_eq(str(req, "pattern_key"), "delete in root path");
    ck_assert_int_eq(json_array_size(json_object_get(req, "pattern_keys")), 1);
    ck_assert(json_is_true(json_object_get(req, "allow_permanent")) && json_is_true(json_object_get(req, "allow_session")));
    ck_assert_int_eq(json_array_size(json_object_get(req, "choices")), 4);
    ck_assert_str_eq(ev_name(&e, 2), "approval.responded");
    ck_assert_str_eq(str(e.v[2], "choice"), "once");
    ck_assert_int_eq(json_integer_value(json_object_get(e.v[2], "resolved")), 1);
    ck_assert_str_eq(ev_name(&e, 3), "tool.completed");
    ck_assert(json_is_false(json_object_get(e.v[3], "error")));
    ck_assert_str_eq(str(e.v[4], "delta"), "\n\nHello");
    json_t *usage = json_object_get(e.v[e.n - 1], "usage");
    ck_assert_int_eq(json_integer_value(json_object_get(usage, "input_tokens")), 22);
    ck_assert_int_eq(json_integer_value(json_object_get(usage, "output_tokens")), 10);
    ck_assert_int_eq(json_integer_value(json_object_get(usage, "total_tokens")), 32);
    evs_free(&e);

    /* deny: the tool errors, the run still completes */
    approval_run(&x, "approval;allow_permanent=0", "{\"choice\":\"deny\"}", 1, &e);
    ck_assert_int_eq(json_array_size(json_object_get(e.v[1], "choices")), 3);
    ck_assert_str_eq(str(e.v[2], "choice"), "deny");
    ck_assert_str_eq(ev_name(&e, 3), "tool.completed");
    ck_assert(json_is_true(json_object_get(e.v[3], "error")));
    evs_free(&e);

    /* two prompts resolved by one answer with all */
    approval_run(&x, "approval2", "{\"choice\":\"session\",\"all\":true}", 2, &e);
    ck_assert_int_eq(ev_count(&e, "approval.request"), 2);
    ck_assert_int_eq(ev_count(&e, "approval.responded"), 1);
    evs_free(&e);

    /* a timeout counts as a deny */
    approval_run(&x, "approval;timeout_ms=3000", NULL, 0, &e);
    ck_assert_int_eq(ev_count(&e, "approval.responded"), 0);
    ck_assert(json_is_true(json_object_get(e.v[ev_find(&e, "tool.completed")], "error")));
    evs_free(&e);

    /* nothing pending on a running run: 409 approval_not_pending */
    char *id = start_run(&x, "x", "hang");
    wait_status(&x, id, "running", 2000);
    assert_openai_error(call(&x, "POST", hltc_fmt("/v1/runs/%s/approval", id), "{\"choice\":\"once\"}", 409),
                        "approval_not_pending", NULL);
    json_t *dbg = call(&x, "GET", hltc_fmt("/__fake/runs/%s", id), NULL, 200);
    ck_assert_int_eq(json_integer_value(json_object_get(dbg, "approvals_pending")), 0);
    json_decref(dbg);
    no_content(call(&x, "POST", hltc_fmt("/v1/runs/%s/stop", id), NULL, 200));
    free(id);
    fx_stop(&x);
}
END_TEST

START_TEST(test_fail_stop_drop)
{
    fx_t x;
    const char *args[] = {"--key", KEY, "--time-scale", "0.1", NULL};
    fx_start(&x, args);
    /* a failing run: partial text, then run.failed */
    char *id = start_run(&x, "[[fake:fail;after_deltas=2]]", NULL);
    evs_t e;
    read_run(&x, id, &e, 5000);
    ck_assert_int_eq(e.n, 3);
    ck_assert_int_eq(ev_count(&e, "message.delta"), 2);
    assert_one_terminal(&e, "run.failed");
    ck_assert_str_eq(str(e.v[2], "error"), "Error code: 401 - invalid api key");
    evs_free(&e);
    json_t *st = run_status(&x, id);
    ck_assert_str_eq(str(st, "status"), "failed");
    ck_assert_str_eq(str(st, "error"), "Error code: 401 - invalid api key");
    ck_assert(json_object_get(st, "usage") == NULL && json_object_get(st, "output") == NULL);
    json_decref(st);
    free(id);

    /* slow + stop: running → stopping → cancelled, and only run.cancelled on the stream */
    id = start_run(&x, "x", "slow;cancel_latency_ms=2000");
    stream_t s;
    stream_open(&x, &s, id);
    hlt_sleep_ms(100);
    json_t *j = call(&x, "POST", hltc_fmt("/v1/runs/%s/stop", id), NULL, 200);
    ck_assert_str_eq(str(j, "run_id"), id);
    ck_assert_str_eq(str(j, "status"), "stopping");
    json_decref(j);
    st = run_status(&x, id);
    ck_assert_str_eq(str(st, "status"), "stopping");
    json_decref(st);
    no_content(call(&x, "POST", hltc_fmt("/v1/runs/%s/stop", id), NULL, 200)); /* again while stopping */
    stream_read(&s, NULL, 5000);
    parse_events(s.body, s.body_len, &e, id);
    stream_close(&s);
    ck_assert_int_eq(e.n, 1);
    assert_one_terminal(&e, "run.cancelled");
    evs_free(&e);
    st = run_status(&x, id);
    ck_assert_str_eq(str(st, "status"), "cancelled");
    json_decref(st);
    json_t *dbg = call(&x, "GET", hltc_fmt("/__fake/runs/%s", id), NULL, 200);
    ck_assert_int_eq(json_integer_value(json_object_get(dbg, "stop_calls")), 2);
    json_decref(dbg);
    assert_openai_error(call(&x, "POST", hltc_fmt("/v1/runs/%s/stop", id), NULL, 404), "run_not_found", NULL);
    free(id);

    /* drop_after: the connection closes after 2 events, without a terminal event or the last chunk */
    id = start_run(&x, "[[fake:stream;drop_after=2]]", NULL);
    stream_open(&x, &s, id);
    stream_read(&s, NULL, 5000);
    ck_assert_msg(!s.complete, "a dropped stream sent its last chunk");
    ck_assert(strstr(s.body, ": stream closed") == NULL);
    parse_events(s.body, s.body_len, &e, id);
    ck_assert_int_eq(e.n, 2);
    ck_assert_int_eq(ev_count(&e, "message.delta"), 2);
    evs_free(&e);
    stream_close(&s);
    st = run_status(&x, id);
    ck_assert_str_eq(str(st, "status"), "failed");
    ck_assert_str_eq(str(st, "error"), "upstream connection lost (fake)");
    json_decref(st);
    free(id);

    /* a subscriber that goes away: the run goes on, the queue is gone */
    id = start_run(&x, "x", "stream;gap_ms=500");
    stream_open(&x, &s, id);
    stream_read(&s, "message.delta", 5000);
    stream_close(&s);
    wait_status(&x, id, "completed", 5000);
    assert_openai_error(call(&x, "GET", hltc_fmt("/v1/runs/%s/events", id), NULL, 404), "run_not_found", NULL);
    free(id);
    fx_stop(&x);
}
END_TEST

START_TEST(test_chunking)
{
    fx_t x;
    const char *args[] = {"--key", KEY, "--time-scale", "0.1", "--keepalive-ms", "100", NULL};
    fx_start(&x, args);
    /* bytes: every chunk carries 1-7 bytes, and the text comes back exactly */
    char *id = start_run(&x, "[[fake:unicode;chunking=bytes]]", NULL);
    stream_t s;
    stream_open(&x, &s, id);
    stream_read(&s, NULL, 20000);
    size_t sizes[8192];
    size_t n = chunk_sizes(s.raw, s.len, sizes, HL_ARRAY_SIZE(sizes));
    ck_assert(n > 100 && n <= HL_ARRAY_SIZE(sizes));
    for (size_t i = 0; i < n; ++i)
        ck_assert_msg(sizes[i] >= 1 && sizes[i] <= 7, "chunk %zu has %zu bytes", i, sizes[i]);
    ck_assert(s.complete);
    evs_t e;
    parse_events(s.body, s.body_len, &e, id);
    stream_close(&s);
    assert_one_terminal(&e, "run.completed");
    char *text = deltas_text(&e);
    static const char WANT[] = "Cafe\xCC\x81 na\xC3\xAFve \xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD \xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E\n\n"
                               "data: not-an-event \xF0\x9F\x8E\x89 done";
    ck_assert_str_eq(text, WANT);
    ck_assert_str_eq(str(e.v[e.n - 1], "output"), WANT);
    ck_assert_int_eq(ev_count(&e, "message.delta"), 7);
    free(text);
    evs_free(&e);
    free(id);

    /* coalesce: several events in one chunk */
    id = start_run(&x, "[[fake:stream;chunking=coalesce;deltas=6;gap_ms=1]]", NULL);
    stream_open(&x, &s, id);
    stream_read(&s, NULL, 5000);
    const char *body = strstr(s.raw, "\r\n\r\n") + 4;
    int joined = 0;
    for (const char *p = body; p != NULL && *p != '\0';) {
        size_t size = strtoul(p, NULL, 16);
        const char *data = strstr(p, "\r\n");
        if (size == 0 || data == NULL)
            break;
        data += 2;
        int frames = 0;
        for (const char *q = data; q < data + size && (q = strstr(q, "data: ")) != NULL && q < data + size; q += 6)
            ++frames;
        joined |= frames >= 2;
        p = data + size + 2;
    }
    ck_assert_msg(joined, "no chunk joined two events");
    parse_events(s.body, s.body_len, &e, id);
    ck_assert_int_eq(ev_count(&e, "message.delta"), 6);
    assert_one_terminal(&e, "run.completed");
    evs_free(&e);
    stream_close(&s);
    free(id);

    /* keepalives while idle, and a hang ends only when stopped */
    id = start_run(&x, "x", "hang");
    stream_open(&x, &s, id);
    hlt_sleep_ms(350);
    stream_read(&s, ": keepalive\n\n: keepalive\n\n", 3000);
    no_content(call(&x, "POST", hltc_fmt("/v1/runs/%s/stop", id), NULL, 200));
    stream_read(&s, NULL, 5000);
    parse_events(s.body, s.body_len, &e, id);
    ck_assert(e.keepalives >= 2);
    assert_one_terminal(&e, "run.cancelled");
    evs_free(&e);
    stream_close(&s);
    free(id);
    fx_stop(&x);
}
END_TEST

/* ---- cron ---- */

static json_t *job_call(fx_t *x, const char *method, const char *path, const char *body, long want)
{
    json_t *j = call(x, method, path, body, want);
    return j;
}

START_TEST(test_cron_crud)
{
    fx_t x;
    hlt_env_t tmp;
    hlt_env_init(&tmp);
    const char *args[] = {"--key", KEY, "--time-scale", "0.1", "--state-dir", tmp.hermes_home, NULL};
    fx_start(&x, args);
    json_t *j = job_call(&x, "POST", "/api/jobs",
                         "{\"name\":\"Daily\",\"schedule\":\"every 2h\",\"prompt\":\"p\",\"skills\":[\"s1\"]}", 200);
    json_t *job = json_object_get(j, "job");
    static const char *const FIELDS[] = {"id",
                                         "name",
                                         "prompt",
                                         "skills",
                                         "skill",
                                         "model",
                                         "provider",
                                         "provider_snapshot",
                                         "model_snapshot",
                                         "base_url",
                                         "script",
                                         "no_agent",
                                         "context_from",
                                         "schedule",
                                         "schedule_display",
                                         "repeat",
                                         "enabled",
                                         "state",
                                         "paused_at",
                                         "paused_reason",
                                         "created_at",
                                         "next_run_at",
                                         "last_run_at",
                                         "last_status",
                                         "last_error",
                                         "last_delivery_error",
                                         "deliver",
                                         "origin",
                                         "enabled_toolsets",
                                         "workdir",
                                         NULL};
    for (size_t i = 0; FIELDS[i] != NULL; ++i)
        ck_assert_msg(json_object_get(job, FIELDS[i]) != NULL, "job without %s", FIELDS[i]);
    char id[16];
    snprintf(id, sizeof(id), "%s", str(job, "id"));
    ck_assert_int_eq(strlen(id), 12);
    ck_assert_int_eq(strspn(id, "0123456789abcdef"), 12);
    ck_assert_str_eq(str(job, "deliver"), "local");
    ck_assert_str_eq(str(job, "skill"), "s1");
    ck_assert_str_eq(str(job, "state"), "scheduled");
    ck_assert(json_is_true(json_object_get(job, "enabled")));
    json_t *sched = json_object_get(job, "schedule");
    ck_assert_str_eq(str(sched, "kind"), "interval");
    ck_assert_int_eq(json_integer_value(json_object_get(sched, "minutes")), 120);
    ck_assert_str_eq(str(sched, "display"), "every 120m");
    ck_assert_str_eq(str(job, "schedule_display"), "every 120m");
    ck_assert(json_is_null(json_object_get(json_object_get(job, "repeat"), "times")));
    json_t *origin = json_object_get(job, "origin");
    ck_assert_str_eq(str(origin, "platform"), "api_server");
    ck_assert_str_eq(str(origin, "chat_id"), "api");
    json_decref(j);

    /* the file view (upstream's jobs.json shape, mode 0600) */
    char *path = hl_asprintf("%s/cron/jobs.json", tmp.hermes_home);
    struct stat stbuf;
    ck_assert(stat(path, &stbuf) == 0);
    ck_assert_int_eq(stbuf.st_mode & 0777, 0600);
    json_t *file = json_load_file(path, 0, NULL);
    ck_assert_str_eq(str(json_array_get(json_object_get(file, "jobs"), 0), "id"), id);
    ck_assert(json_is_string(json_object_get(file, "updated_at")));
    json_decref(file);

    j = job_call(&x, "GET", hltc_fmt("/api/jobs/%s", id), NULL, 200);
    ck_assert_str_eq(str(json_object_get(j, "job"), "name"), "Daily");
    json_decref(j);
    j = job_call(&x, "GET", "/api/jobs", NULL, 200);
    ck_assert_int_eq(json_array_size(json_object_get(j, "jobs")), 1);
    ck_assert(json_is_null(json_object_get(json_array_get(json_object_get(j, "jobs"), 0), "latest_execution")));
    json_decref(j);
    /* PATCH keeps the whitelist only, re-parses a schedule */
    j = job_call(&x, "PATCH", hltc_fmt("/api/jobs/%s", id),
                 "{\"name\":\"Renamed\",\"schedule\":\"30m\",\"id\":\"zzz\",\"state\":\"x\"}", 200);
    job = json_object_get(j, "job");
    ck_assert_str_eq(str(job, "name"), "Renamed");
    ck_assert_str_eq(str(job, "id"), id);
    ck_assert_str_eq(str(job, "state"), "scheduled");
    ck_assert_str_eq(str(json_object_get(job, "schedule"), "kind"), "once");
    ck_assert_str_eq(str(job, "schedule_display"), "once in 30m");
    json_decref(j);
    assert_flat_error(job_call(&x, "PATCH", hltc_fmt("/api/jobs/%s", id), "{\"state\":\"x\"}", 400), "No valid fields to update");
    /* pause hides it from the list */
    j = job_call(&x, "POST", hltc_fmt("/api/jobs/%s/pause", id), NULL, 200);
    job = json_object_get(j, "job");
    ck_assert(json_is_false(json_object_get(job, "enabled")));
    ck_assert_str_eq(str(job, "state"), "paused");
    ck_assert(json_is_string(json_object_get(job, "paused_at")));
    json_decref(j);
    j = job_call(&x, "GET", "/api/jobs", NULL, 200);
    ck_assert_int_eq(json_array_size(json_object_get(j, "jobs")), 0);
    json_decref(j);
    j = job_call(&x, "GET", "/api/jobs?include_disabled=true", NULL, 200);
    ck_assert_int_eq(json_array_size(json_object_get(j, "jobs")), 1);
    json_decref(j);
    j = job_call(&x, "GET", "/api/jobs?include_disabled=1", NULL, 200);
    ck_assert_int_eq(json_array_size(json_object_get(j, "jobs")), 1);
    json_decref(j);
    j = job_call(&x, "POST", hltc_fmt("/api/jobs/%s/resume", id), NULL, 200);
    job = json_object_get(j, "job");
    ck_assert(json_is_true(json_object_get(job, "enabled")));
    ck_assert_str_eq(str(job, "state"), "scheduled");
    ck_assert(json_is_null(json_object_get(job, "paused_at")));
    json_decref(j);
    /* run, with a simulated execution */
    static const char *const EXEC[] = {"Authorization: Bearer " KEY, "X-Fake-Scenario: stream;cron_exec=1", NULL};
    no_content(job_call(&x, "PATCH", hltc_fmt("/api/jobs/%s", id), "{\"schedule\":\"every 30m\"}", 200));
    j = call_h(&x, "POST", hltc_fmt("/api/jobs/%s/run", id), NULL, EXEC, 200);
    ck_assert(json_is_string(json_object_get(json_object_get(j, "job"), "next_run_at")));
    json_decref(j);
    hlt_sleep_ms(100);
    j = job_call(&x, "GET", "/api/jobs", NULL, 200);
    job = json_array_get(json_object_get(j, "jobs"), 0);
    ck_assert_str_eq(str(job, "last_status"), "ok");
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(job, "repeat"), "completed")), 1);
    ck_assert(json_is_object(json_object_get(job, "latest_execution")));
    json_decref(j);
    /* delete, then 404 */
    j = job_call(&x, "DELETE", hltc_fmt("/api/jobs/%s", id), NULL, 200);
    ck_assert(json_is_true(json_object_get(j, "ok")));
    json_decref(j);
    assert_flat_error(job_call(&x, "DELETE", hltc_fmt("/api/jobs/%s", id), NULL, 404), "Job not found");
    file = json_load_file(path, 0, NULL);
    ck_assert_int_eq(json_array_size(json_object_get(file, "jobs")), 0);
    json_decref(file);
    free(path);
    fx_stop(&x);
    hlt_env_dispose(&tmp);
}
END_TEST

START_TEST(test_cron_validation)
{
    fx_t x;
    const char *args[] = {"--key", KEY, NULL};
    fx_start(&x, args);
    assert_flat_error(job_call(&x, "POST", "/api/jobs", "{\"schedule\":\"30m\"}", 400), "Name is required");
    assert_flat_error(job_call(&x, "POST", "/api/jobs", "{\"name\":\"  \",\"schedule\":\"30m\"}", 400), "Name is required");
    assert_flat_error(job_call(&x, "POST", "/api/jobs", "{\"name\":\"n\"}", 400), "Schedule is required");
    assert_flat_error(job_call(&x, "POST", "/api/jobs", "{\"name\":\"n\",\"schedule\":\"whenever\"}", 500),
                      "Invalid schedule 'whenever'. Use:");
    assert_flat_error(job_call(&x, "POST", "/api/jobs", "{\"name\":\"n\",\"schedule\":\"30m\",\"repeat\":0}", 400),
                      "Repeat must be a positive integer");
    assert_flat_error(job_call(&x, "POST", "/api/jobs", "{bad", 400), "Invalid JSON");
    char big[6000];
    memset(big, 'a', 250);
    big[250] = '\0';
    assert_flat_error(job_call(&x, "POST", "/api/jobs", hltc_fmt("{\"name\":\"%s\",\"schedule\":\"30m\"}", big), 400),
                      "Name must be");
    memset(big, 'p', 5001);
    big[5001] = '\0';
    char *body = hl_asprintf("{\"name\":\"n\",\"schedule\":\"30m\",\"prompt\":\"%s\"}", big);
    assert_flat_error(job_call(&x, "POST", "/api/jobs", body, 400), "Prompt must be");
    free(body);
    /* schedule shapes */
    json_t *j = job_call(&x, "POST", "/api/jobs", "{\"name\":\"n\",\"schedule\":\"30m\"}", 200);
    json_t *job = json_object_get(j, "job");
    ck_assert_str_eq(str(json_object_get(job, "schedule"), "kind"), "once");
    ck_assert_str_eq(str(json_object_get(job, "schedule"), "display"), "once in 30m");
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(job, "repeat"), "times")), 1);
    json_decref(j);
    j = job_call(&x, "POST", "/api/jobs", "{\"name\":\"n\",\"schedule\":\"0 9 * * 1-5\",\"repeat\":3}", 200);
    job = json_object_get(j, "job");
    ck_assert_str_eq(str(json_object_get(job, "schedule"), "kind"), "cron");
    ck_assert_str_eq(str(json_object_get(job, "schedule"), "expr"), "0 9 * * 1-5");
    ck_assert_msg(strstr(str(job, "next_run_at"), "T09:00:00") != NULL, "next run %s", str(job, "next_run_at"));
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(job, "repeat"), "times")), 3);
    json_decref(j);
    j = job_call(&x, "POST", "/api/jobs", "{\"name\":\"n\",\"schedule\":\"2031-02-03T14:00:00Z\"}", 200);
    job = json_object_get(j, "job");
    ck_assert_str_eq(str(json_object_get(job, "schedule"), "kind"), "once");
    ck_assert_str_eq(str(json_object_get(job, "schedule"), "run_at"), "2031-02-03T14:00:00+00:00");
    json_decref(j);
    /* bad ids (v0.20: 404) and wrong methods */
    assert_flat_error(job_call(&x, "GET", "/api/jobs/xyz", NULL, 404), "Job not found");
    assert_flat_error(job_call(&x, "POST", "/api/jobs/ABCDEF012345/pause", NULL, 404), "Job not found");
    no_content(job_call(&x, "PUT", "/api/jobs", "{}", 405));
    no_content(job_call(&x, "POST", "/api/jobs/0123456789ab/explode", NULL, 404));
    /* forced failures */
    no_content(call_h(&x, "POST", "/__fake/jobs/fail", "{\"op\":\"create\",\"status\":500,\"error\":\"disk full\"}", NULL, 200));
    assert_flat_error(job_call(&x, "POST", "/api/jobs", "{\"name\":\"n\",\"schedule\":\"30m\"}", 500), "disk full");
    no_content(job_call(&x, "POST", "/api/jobs", "{\"name\":\"n\",\"schedule\":\"30m\"}", 200)); /* once only */
    no_content(call_h(&x, "POST", "/__fake/jobs/fail", "{\"op\":\"list\",\"status\":501}", NULL, 200));
    assert_flat_error(job_call(&x, "GET", "/api/jobs", NULL, 501), "Cron module not available");
    fx_stop(&x);
}
END_TEST

/* ---- control API ---- */

START_TEST(test_control)
{
    fx_t x;
    const char *args[] = {"--key", KEY, "--seed", "7", NULL};
    fx_start(&x, args);
    /* deterministic ids from the seed */
    char *id = start_run(&x, "x", "hang");
    ck_assert_str_eq(id, "run_00000000000000070000000000000001");
    free(id);

    /* the request log: Authorization reported, never its value */
    no_content(call_h(&x, "DELETE", "/__fake/requests", NULL, NULL, 200));
    static const char *const WRONG[] = {"Authorization: Bearer not-the-key-000000000", "X-Custom: v1", NULL};
    no_content(call(&x, "GET", "/v1/models", NULL, 200));
    no_content(call_h(&x, "GET", "/v1/models?x=1", NULL, WRONG, 401));
    no_content(call_h(&x, "POST", "/v1/runs", "{\"input\":\"logged\"}", NULL, 401));
    hlt_response_t res;
    hlt_fake_request(&x.f, "GET", "/__fake/requests", NULL, NULL, &res);
    ck_assert_int_eq(res.status, 200);
    ck_assert_msg(strstr(res.body, KEY) == NULL && strstr(res.body, "not-the-key") == NULL, "the log shows a key: %s", res.body);
    ck_assert_int_eq(hlt_count(res.body, "\n"), 3);
    static const char *const AUTHS[] = {"matches-key", "present", "absent"};
    const char *line = res.body;
    for (int i = 0; i < 3; ++i) {
        const char *nl = strchr(line, '\n');
        json_t *entry = json_loadb(line, (size_t)(nl - line), 0, NULL);
        ck_assert(entry != NULL);
        ck_assert_str_eq(str(json_object_get(entry, "headers"), "authorization"), AUTHS[i]);
        if (i == 1) {
            ck_assert_str_eq(str(entry, "query"), "x=1");
            ck_assert_str_eq(str(json_object_get(entry, "headers"), "x-custom"), "v1");
        }
        if (i == 2) {
            ck_assert_str_eq(str(entry, "method"), "POST");
            ck_assert_str_eq(str(entry, "body"), "{\"input\":\"logged\"}");
        }
        json_decref(entry);
        line = nl + 1;
    }
    hlt_response_free(&res);

    /* runs' internal state */
    json_t *runs = call_h(&x, "GET", "/__fake/runs", NULL, NULL, 200);
    ck_assert_int_eq(json_array_size(json_object_get(runs, "runs")), 1);
    ck_assert_str_eq(str(json_array_get(json_object_get(runs, "runs"), 0), "scenario"), "hang");
    json_decref(runs);
    no_content(call_h(&x, "GET", "/__fake/runs/run_nope", NULL, NULL, 404));

    /* key rotation, and auth off */
    no_content(call_h(&x, "POST", "/__fake/auth", "{\"key\":\"rotated-key-0123456789\"}", NULL, 200));
    no_content(call(&x, "GET", "/v1/models", NULL, 401));
    static const char *const ROTATED[] = {"Authorization: Bearer rotated-key-0123456789", NULL};
    no_content(call_h(&x, "GET", "/v1/models", NULL, ROTATED, 200));
    no_content(call_h(&x, "POST", "/__fake/auth", "{\"key\":null}", NULL, 200));
    no_content(call_h(&x, "GET", "/v1/models", NULL, NULL, 200));
    no_content(call_h(&x, "POST", "/__fake/auth", "{\"key\":\"" KEY "\"}", NULL, 200));

    /* health faults */
    no_content(call_h(&x, "POST", "/__fake/health", "{\"status\":503}", NULL, 200));
    no_content(call_h(&x, "GET", "/health", NULL, NULL, 503));
    no_content(call_h(&x, "POST", "/__fake/health", "{\"status\":200,\"hang_ms\":300}", NULL, 200));
    long t0 = hlt_now_ms();
    no_content(call_h(&x, "GET", "/health", NULL, NULL, 200));
    ck_assert(hlt_now_ms() - t0 >= 280);
    no_content(call_h(&x, "POST", "/__fake/health", "{\"hang_ms\":0,\"down\":true}", NULL, 200));
    hlt_fake_request(&x.f, "GET", "/health", NULL, NULL, &res);
    ck_assert_msg(res.rc != CURLE_OK, "a down upstream answered %ld", res.status);
    hlt_response_free(&res);

    /* the clock: frozen timestamps */
    no_content(call_h(&x, "POST", "/__fake/reset", NULL, NULL, 200));
    no_content(call_h(&x, "GET", "/health", NULL, NULL, 200)); /* reset cleared the fault */
    json_t *clk = call_h(&x, "POST", "/__fake/clock", "{\"now\":1795870000.0,\"frozen\":true}", NULL, 200);
    json_decref(clk);
    no_content(call_h(&x, "POST", "/__fake/seed", "{\"seed\":1}", NULL, 200));
    id = start_run(&x, "x", "stream;deltas=2;gap_ms=1");
    ck_assert_str_eq(id, "run_00000000000000010000000000000001");
    evs_t e;
    read_run(&x, id, &e, 5000);
    for (size_t i = 0; i < e.n; ++i)
        ck_assert(json_number_value(json_object_get(e.v[i], "timestamp")) == 1795870000.0);
    evs_free(&e);
    json_t *st = run_status(&x, id);
    ck_assert(json_number_value(json_object_get(st, "created_at")) == 1795870000.0);
    json_decref(st);
    json_t *models = call(&x, "GET", "/v1/models", NULL, 200);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(json_object_get(models, "data"), 0), "created")),
                     1795870000);
    json_decref(models);
    /* runs stay pollable for an hour of the fake's clock, then expire */
    no_content(call_h(&x, "POST", "/__fake/clock", "{\"now\":1795873601.0,\"frozen\":true}", NULL, 200));
    assert_openai_error(call(&x, "GET", hltc_fmt("/v1/runs/%s", id), NULL, 404), "run_not_found", NULL);
    free(id);

    /* the queued default, then back to stream */
    no_content(
        call_h(&x, "POST", "/__fake/scenario", "{\"name\":\"fail\",\"params\":{\"after_deltas\":1},\"times\":1}", NULL, 200));
    no_content(call_h(&x, "POST", "/__fake/scenario", "{\"name\":\"nope\"}", NULL, 400));
    id = start_run(&x, "x", NULL);
    read_run(&x, id, &e, 5000);
    assert_one_terminal(&e, "run.failed");
    evs_free(&e);
    free(id);
    id = start_run(&x, "x", NULL);
    read_run(&x, id, &e, 5000);
    assert_one_terminal(&e, "run.completed");
    evs_free(&e);
    free(id);
    fx_stop(&x);
}
END_TEST

/* POST /__fake/respond: the next `times` requests to that method and exact path get the canned answer (logged, before
 * auth), then the route answers again; other methods and paths are untouched; bad requests are refused; reset and
 * DELETE clear them. */
START_TEST(test_canned_answers)
{
    fx_t x;
    const char *args[] = {"--key", KEY, NULL};
    fx_start(&x, args);
    no_content(call_h(&x, "POST", "/__fake/respond",
                      "{\"method\":\"GET\",\"path\":\"/v1/models\",\"status\":200,\"body\":\"[1]\",\"times\":2}", NULL, 200));
    no_content(call_h(&x, "DELETE", "/__fake/requests", NULL, NULL, 200));
    for (int i = 0; i < 2; ++i) {
        hlt_response_t res;
        hlt_fake_request(&x.f, "GET", "/v1/models", NULL, NULL, &res); /* no key: the canned answer comes before auth */
        ck_assert_int_eq(res.status, 200);
        ck_assert_str_eq(res.body, "[1]");
        ck_assert_str_eq(hlt_header(&res, "content-type"), "application/json");
        hlt_response_free(&res);
    }
    json_t *j = call(&x, "GET", "/v1/models", NULL, 200); /* used up: the route again */
    ck_assert(json_is_array(json_object_get(j, "data")));
    json_decref(j);
    json_t *reqs = hlt_fake_requests(&x.f);
    ck_assert_uint_eq(json_array_size(reqs), 3);
    json_decref(reqs);
    /* method and path must both match; the query does not count */
    no_content(call_h(&x, "POST", "/__fake/respond",
                      "{\"method\":\"POST\",\"path\":\"/v1/runs/run_x/stop\",\"status\":500,\"body\":\"{}\"}", NULL, 200));
    no_content(call_h(&x, "POST", "/v1/runs/run_y/stop", NULL, AUTH, 404));
    no_content(call_h(&x, "GET", "/v1/runs/run_x", NULL, AUTH, 404));
    json_decref(call_h(&x, "POST", "/v1/runs/run_x/stop?a=1", NULL, AUTH, 500));
    no_content(call_h(&x, "POST", "/v1/runs/run_x/stop", NULL, AUTH, 404));
    /* refused */
    no_content(call_h(&x, "POST", "/__fake/respond", "{\"method\":\"GET\",\"path\":\"/v1/models\",\"status\":99}", NULL, 400));
    no_content(call_h(&x, "POST", "/__fake/respond", "{\"method\":\"GET\",\"path\":\"v1/models\",\"status\":200}", NULL, 400));
    no_content(call_h(&x, "POST", "/__fake/respond", "{\"path\":\"/v1/models\",\"status\":200}", NULL, 400));
    no_content(
        call_h(&x, "POST", "/__fake/respond", "{\"method\":\"GET\",\"path\":\"/v1/models\",\"status\":200,\"body\":1}", NULL, 400));
    /* cleared by DELETE and by reset */
    const char *teapot = "{\"method\":\"GET\",\"path\":\"/v1/models\",\"status\":418,\"times\":5}";
    no_content(call_h(&x, "POST", "/__fake/respond", teapot, NULL, 200));
    no_content(call_h(&x, "DELETE", "/__fake/respond", NULL, NULL, 200));
    json_decref(call(&x, "GET", "/v1/models", NULL, 200));
    no_content(call_h(&x, "POST", "/__fake/respond", teapot, NULL, 200));
    no_content(call(&x, "GET", "/v1/models", NULL, 418));
    no_content(call_h(&x, "POST", "/__fake/reset", "{}", NULL, 200));
    json_decref(call(&x, "GET", "/v1/models", NULL, 200));
    /* a canned answer left over at exit is freed (the fake runs under LeakSanitizer) */
    no_content(call_h(&x, "POST", "/__fake/respond", teapot, NULL, 200));
    fx_stop(&x);
}
END_TEST

/* ---- chat completions ---- */

START_TEST(test_chat_completions)
{
    fx_t x;
    const char *args[] = {"--key", KEY, "--time-scale", "0.1", NULL};
    fx_start(&x, args);
    hlt_response_t res;
    /* non-streaming: the text, usage in OpenAI naming, the session header */
    hlt_fake_request(&x.f, "POST", "/v1/chat/completions",
                     "{\"messages\":[{\"role\":\"system\",\"content\":\"s\"},{\"role\":\"user\",\"content\":\"hi "
                     "[[fake:stream;deltas=3;in=7;out=3]]\"}]}",
                     AUTH, &res);
    ck_assert_int_eq(res.status, 200);
    const char *sid = hlt_header(&res, "x-hermes-session-id");
    ck_assert_msg(sid != NULL && strlen(sid) == 20 && strncmp(sid, "api-", 4) == 0, "session header %s", sid);
    ck_assert_str_eq(str(res.json, "object"), "chat.completion");
    ck_assert(strncmp(str(res.json, "id"), "chatcmpl-", 9) == 0);
    json_t *choice = json_array_get(json_object_get(res.json, "choices"), 0);
    ck_assert_str_eq(str(json_object_get(choice, "message"), "content"), "Hello from the fake LLM.");
    ck_assert_str_eq(str(json_object_get(choice, "message"), "role"), "assistant");
    ck_assert_str_eq(str(choice, "finish_reason"), "stop");
    json_t *usage = json_object_get(res.json, "usage");
    ck_assert_int_eq(json_integer_value(json_object_get(usage, "prompt_tokens")), 7);
    ck_assert_int_eq(json_integer_value(json_object_get(usage, "completion_tokens")), 3);
    ck_assert_int_eq(json_integer_value(json_object_get(usage, "total_tokens")), 10);
    hlt_response_free(&res);
    /* chat completions are not runs */
    json_t *runs = call_h(&x, "GET", "/__fake/runs", NULL, NULL, 200);
    const char *chat_id = str(json_array_get(json_object_get(runs, "runs"), 0), "run_id");
    assert_openai_error(call(&x, "GET", hltc_fmt("/v1/runs/%s", chat_id), NULL, 404), "run_not_found", NULL);
    json_decref(runs);

    /* streaming: role chunk, content chunks, tool progress as named events, finish with usage, [DONE] */
    hlt_fake_request(&x.f, "POST", "/v1/chat/completions",
                     "{\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"[[fake:tool;deltas=2]]\"}]}", AUTH, &res);
    ck_assert_int_eq(res.status, 200);
    ck_assert_str_eq(hlt_header(&res, "content-type"), "text/event-stream");
    ck_assert(hlt_header(&res, "x-hermes-session-id") != NULL);
    ck_assert_msg(strstr(res.body, "\"delta\":{\"role\":\"assistant\"}") != NULL, "%s", res.body);
    ck_assert_int_eq(hlt_count(res.body, "event: hermes.tool.progress\ndata: "), 2);
    ck_assert(strstr(res.body, "\"status\":\"running\"") != NULL && strstr(res.body, "\"status\":\"completed\"") != NULL);
    ck_assert_int_eq(hlt_count(res.body, "\"delta\":{\"content\":"), 2);
    ck_assert(strstr(res.body, "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":11") != NULL);
    size_t blen = strlen(res.body);
    ck_assert(blen > 14 && strcmp(res.body + blen - 14, "data: [DONE]\n\n") == 0);
    ck_assert(strstr(res.body, ": stream closed") == NULL);
    hlt_response_free(&res);

    /* failures: 502 agent_incomplete, 500 for an exception; streaming: finish_reason error, then [DONE] */
    hlt_fake_request(&x.f, "POST", "/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"[[fake:fail]]\"}]}",
                     AUTH, &res);
    ck_assert_int_eq(res.status, 502);
    ck_assert_str_eq(str(json_object_get(res.json, "error"), "code"), "agent_incomplete");
    ck_assert(json_is_true(json_object_get(json_object_get(res.json, "hermes"), "failed")));
    hlt_response_free(&res);
    assert_openai_error(call(&x, "POST", "/v1/chat/completions",
                             "{\"messages\":[{\"role\":\"user\",\"content\":\"[[fake:fail;mode=exception]]\"}]}", 500),
                        "server_error", NULL);
    hlt_fake_request(&x.f, "POST", "/v1/chat/completions",
                     "{\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"[[fake:fail;after_deltas=1]]\"}]}", AUTH,
                     &res);
    ck_assert_int_eq(res.status, 200);
    ck_assert(strstr(res.body, "\"finish_reason\":\"error\"") != NULL && strstr(res.body, "data: [DONE]") != NULL);
    hlt_response_free(&res);

    /* validation */
    assert_openai_error(call(&x, "POST", "/v1/chat/completions", "{\"messages\":[]}", 400), NULL,
                        "Missing or invalid 'messages' field");
    assert_openai_error(call(&x, "POST", "/v1/chat/completions", "{\"messages\":[{\"role\":\"system\",\"content\":\"s\"}]}", 400),
                        NULL, "No user message found in messages");
    assert_openai_error(call(&x, "POST", "/v1/chat/completions",
                             "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"file\",\"file\":{}}]}]}", 400),
                        "unsupported_content_type", NULL);

    /* a streaming client that goes away interrupts the run */
    static const char REQ[] =
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " KEY
        "\r\nContent-Length: 70\r\n\r\n{\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"[[fake:hang]]\"}]}";
    char *r = raw_exchange(x.f.port, REQ, sizeof(REQ) - 1, 300);
    ck_assert_msg(strstr(r, "\"role\":\"assistant\"") != NULL, "%.500s", r);
    free(r);
    long deadline = hlt_now_ms() + 3000;
    for (;;) {
        runs = call_h(&x, "GET", "/__fake/runs", NULL, NULL, 200);
        json_t *all = json_object_get(runs, "runs");
        int cancelled = strcmp(str(json_array_get(all, json_array_size(all) - 1), "status"), "cancelled") == 0;
        json_decref(runs);
        if (cancelled)
            break;
        ck_assert_msg(hlt_now_ms() < deadline, "the chat run was not interrupted");
        hlt_sleep_ms(20);
    }
    fx_stop(&x);
}
END_TEST

/* ---- bad input ---- */

START_TEST(test_bad_input)
{
    fx_t x;
    const char *args[] = {"--key", KEY, NULL};
    fx_start(&x, args);
    static const char BIG[] =
        "POST /v1/runs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " KEY "\r\nContent-Length: 10000001\r\n\r\n";
    char *r = raw_exchange(x.f.port, BIG, sizeof(BIG) - 1, 3000);
    ck_assert_msg(strncmp(r, "HTTP/1.1 413 ", 13) == 0, "%.300s", r);
    ck_assert(strstr(r, "\"code\":\"body_too_large\"") != NULL);
    free(r);
    static const char BADLEN[] = "POST /v1/runs HTTP/1.1\r\nHost: x\r\nContent-Length: 12abc\r\n\r\n";
    r = raw_exchange(x.f.port, BADLEN, sizeof(BADLEN) - 1, 3000);
    ck_assert_msg(strncmp(r, "HTTP/1.1 400 ", 13) == 0 && strstr(r, "invalid_content_length") != NULL, "%.300s", r);
    free(r);
    static const char CHUNKED[] = "POST /v1/runs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
    r = raw_exchange(x.f.port, CHUNKED, sizeof(CHUNKED) - 1, 3000);
    ck_assert_msg(strncmp(r, "HTTP/1.1 411 ", 13) == 0, "%.300s", r);
    free(r);
    static const char GARBAGE[] = "HELLO THERE\r\n\r\n";
    r = raw_exchange(x.f.port, GARBAGE, sizeof(GARBAGE) - 1, 3000);
    ck_assert_msg(strncmp(r, "HTTP/1.1 400 ", 13) == 0, "%.300s", r);
    free(r);
    char *huge = hl_malloc(80000);
    int n = snprintf(huge, 80000, "GET /health HTTP/1.1\r\nX-Big: ");
    memset(huge + n, 'a', 70000);
    memcpy(huge + n + 70000, "\r\n\r\n", 5);
    r = raw_exchange(x.f.port, huge, strlen(huge), 3000);
    ck_assert_msg(strncmp(r, "HTTP/1.1 431 ", 13) == 0, "%.300s", r);
    free(r);
    free(huge);
    /* bytes that are not UTF-8 in a path or a scenario never break a JSON answer */
    assert_openai_error(call(&x, "GET", "/v1/runs/%FF%C3", NULL, 404), "run_not_found", "Run not found: ??");
    static const char BADSCEN[] = "POST /v1/runs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " KEY
                                  "\r\nX-Fake-Scenario: \xff\r\nContent-Length: 13\r\nConnection: close\r\n\r\n{\"input\":\"x\"}";
    r = raw_exchange(x.f.port, BADSCEN, sizeof(BADSCEN) - 1, 3000);
    ck_assert_msg(strncmp(r, "HTTP/1.1 400 ", 13) == 0 && strstr(r, "invalid_fake_scenario") != NULL, "%.300s", r);
    free(r);
    /* keep-alive and pipelining: two answers on one connection, a body split across writes */
    static const char TWO[] = "GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n";
    r = raw_exchange(x.f.port, TWO, sizeof(TWO) - 1, 500);
    ck_assert_int_eq(hlt_count(r, "HTTP/1.1 200 OK\r\n"), 2);
    free(r);
    static const char CLOSE[] = "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET /health HTTP/1.1\r\n\r\n";
    r = raw_exchange(x.f.port, CLOSE, sizeof(CLOSE) - 1, 2000);
    ck_assert_int_eq(hlt_count(r, "HTTP/1.1 200 OK\r\n"), 1);
    free(r);
    /* many connections at once, some abandoned mid-request */
    int fds[40];
    for (int i = 0; i < 40; ++i) {
        fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)x.f.port)};
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ck_assert(connect(fds[i], (struct sockaddr *)&sa, sizeof(sa)) == 0);
        ck_assert(write(fds[i], "POST /v1/runs HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"in", 52) == 52);
    }
    no_content(call(&x, "GET", "/v1/models", NULL, 200));
    for (int i = 0; i < 40; ++i)
        close(fds[i]);
    no_content(call(&x, "GET", "/v1/models", NULL, 200));
    fx_stop(&x);
}
END_TEST

Suite *suite_fake_upstream(void)
{
    Suite *s = suite_create("fake_upstream");
    TCase *tc = tcase_create("fake");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_ready_and_shutdown);
    tcase_add_test(tc, test_dialects);
    tcase_add_test(tc, test_routing_errors);
    tcase_add_test(tc, test_models);
    tcase_add_test(tc, test_stream_run);
    tcase_add_test(tc, test_run_validation_and_cap);
    tcase_add_test(tc, test_tool_and_misc_scenarios);
    tcase_add_test(tc, test_approvals);
    tcase_add_test(tc, test_fail_stop_drop);
    tcase_add_test(tc, test_chunking);
    tcase_add_test(tc, test_cron_crud);
    tcase_add_test(tc, test_cron_validation);
    tcase_add_test(tc, test_control);
    tcase_add_test(tc, test_canned_answers);
    tcase_add_test(tc, test_chat_completions);
    tcase_add_test(tc, test_bad_input);
    suite_add_tcase(s, tc);
    return s;
}
