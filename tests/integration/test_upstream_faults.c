/*
 * Upstream faults (issue 14), against the real daemon and the fake upstream, while a sampler thread GETs
 * /api/v1/bootstrap back to back. For each fault: the upstream stalls (no byte at all, mid-run), resets the TCP
 * connection mid-run, sends garbage (inside the event stream, or instead of an HTTP answer to POST /v1/runs), closes in
 * the middle of an event (inside an HTTP chunk, or with the HTTP answer ending well), answers 200 concurrent
 * POST /api/v1/runs (and then 200 conversation runs) slowly, is killed (SIGKILL, by its pid) mid-run and started again
 * on the same port; and malloc fails on the run proxy's thread (the fault shim, tests/fault_shim: libcurl's allocations
 * there, every one or a seeded 2%; HermesLink's own allocations, jansson's included, abort by design).
 *
 * Checked: every affected conversation run ends with run.failed and the code the fault calls for (hermes_stream_stalled,
 * hermes_stream_interrupted, hermes_stream_invalid, hermes_api_server_unavailable; under the malloc fault any code, or
 * run.completed), every direct run's relayed stream ends with its terminal frame (run.failed when the fault cut it),
 * every POST /api/v1/runs answers 202 or a JSON error with a 5xx (503 hermes_api_server_unavailable; 500 internal_error
 * under the malloc fault); afterwards no run is queued or running (link.db), runs work again, the daemon exits clean (no
 * sanitizer report, no leak) and link.db passes integrity_check. Every bootstrap request answers 200 within a 10 s
 * transfer limit (a liveness check, not a timing one). The suite prints bootstrap latency p50/p99/max per fault (figures
 * for tests/RELIABILITY.md); it asserts no timing.
 */
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "hl/common.h"

#include "fake_hermes.h"
#include "harness_conv.h"

#define KEY "fake-key-0123456789"
#define STALL_MS "1500"

/* ---- the bootstrap sampler ---- */

typedef struct st_sampler_t {
    const hlt_daemon_t *d;
    pthread_t thread;
    atomic_int stop;
    double *ms; /* latencies of the answered requests */
    size_t n, cap;
    size_t failed;
    char first_failure[300];
} sampler_t;

static double now_ms_f(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static void *sampler_main(void *arg)
{
    sampler_t *s = arg;
    while (!atomic_load(&s->stop)) {
        hlt_request_t req = {.path = "/api/v1/bootstrap", .timeout_ms = 10000};
        hlt_response_t res;
        double t0 = now_ms_f();
        hlt_request(s->d, HLT_H1, &req, &res);
        double dt = now_ms_f() - t0;
        if (res.rc != CURLE_OK || res.status != 200) {
            if (s->failed++ == 0)
                snprintf(s->first_failure, sizeof(s->first_failure), "HTTP %ld, %s (%s) after %.0f ms", res.status,
                         curl_easy_strerror(res.rc), res.errbuf, dt);
        } else {
            if (s->n == s->cap) {
                s->cap = s->cap != 0 ? s->cap * 2 : 1024;
                s->ms = hl_realloc(s->ms, s->cap * sizeof(*s->ms));
            }
            s->ms[s->n++] = dt;
        }
        hlt_response_free(&res);
        hlt_sleep_ms(5);
    }
    return NULL;
}

static void sampler_start(sampler_t *s, const hlt_daemon_t *d)
{
    memset(s, 0, sizeof(*s));
    s->d = d;
    atomic_init(&s->stop, 0);
    ck_assert_int_eq(pthread_create(&s->thread, NULL, sampler_main, s), 0);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Stops the sampler, prints the latencies of `fault` and asserts that every bootstrap answered 200. */
static void sampler_finish(sampler_t *s, const char *fault)
{
    atomic_store(&s->stop, 1);
    pthread_join(s->thread, NULL);
    ck_assert_msg(s->failed == 0, "%s: %zu bootstrap requests failed, the first: %s", fault, s->failed, s->first_failure);
    ck_assert_msg(s->n > 0, "%s: no bootstrap request was answered", fault);
    qsort(s->ms, s->n, sizeof(*s->ms), cmp_double);
    size_t p50 = (size_t)ceil(0.50 * (double)s->n) - 1, p99 = (size_t)ceil(0.99 * (double)s->n) - 1;
    printf("upstream_faults: %-22s bootstrap n=%-5zu p50=%7.1f ms  p99=%7.1f ms  max=%7.1f ms\n", fault, s->n, s->ms[p50],
           s->ms[p99], s->ms[s->n - 1]);
    fflush(stdout);
    free(s->ms);
    s->ms = NULL;
}

/* ---- a daemon, the fake, a device ---- */

typedef struct st_ctx_t {
    hlt_env_t env;
    hlt_fake_t fake;
    int fake_port;
    hltc_ctx_t c;
    sampler_t sampler;
    char *fault_file; /* the shim's switch, when preloaded */
} ctx_t;

#define D (&x->c.d)
#define TOK (x->c.dev.access)

/* room for 200 runs; no keep-alive comments (a stall sends nothing at all); the accept backlog of aiohttp, which Hermes's
 * API server runs on (128): 200 connections at once overflow it, and the SYNs it drops are sent again 1 s later, which the
 * daemon's connect timeout must outlast (see RELIABILITY.md) */
static const char *const FAKE_ARGS[] = {"--key", KEY, "--max-runs", "1000", "--keepalive-ms", "600000", "--backlog", "128", NULL};

static void start_fake(ctx_t *x, int port)
{
    char portbuf[16];
    snprintf(portbuf, sizeof(portbuf), "%d", port);
    const char *args[HL_ARRAY_SIZE(FAKE_ARGS) + 2];
    size_t n = 0;
    for (; FAKE_ARGS[n] != NULL; ++n)
        args[n] = FAKE_ARGS[n];
    if (port > 0) {
        args[n++] = "--port";
        args[n++] = portbuf;
    }
    args[n] = NULL;
    hlt_fake_start(&x->fake, x->env.dir, args);
    x->fake_port = x->fake.port;
}

/* The fake, HERMES_HOME/.env pointing at it, a daemon (with the fault shim preloaded when `shim`) and a device; the stall
 * limit is 1.5 s; the sampler starts. */
static void start(ctx_t *x, int shim)
{
    memset(x, 0, sizeof(*x));
    hlt_env_init(&x->env);
    start_fake(x, 0);
    char *envfile = hl_asprintf("%s/.env", x->env.hermes_home);
    char *text = hl_asprintf("API_SERVER_HOST=127.0.0.1\nAPI_SERVER_PORT=%d\nAPI_SERVER_KEY=\"%s\"\n", x->fake_port, KEY);
    hlt_write_file(envfile, text);
    free(envfile);
    free(text);
    char *pre = NULL, *ff = NULL;
    const char *extra[4] = {"HERMESLINK_TEST_STALL_MS=" STALL_MS, NULL};
    if (shim) {
        x->fault_file = hlt_env_path(&x->env, 0, "faults");
        hlt_write_file(x->fault_file, "");
        pre = hl_asprintf("LD_PRELOAD=%s", HL_FAULT_SHIM);
        ff = hl_asprintf("HLT_FAULT_FILE=%s", x->fault_file);
        extra[1] = pre;
        extra[2] = ff;
    }
    hlt_daemon_opts_t o = {.env = &x->env, .extra_env = extra};
    hlt_daemon_start(&x->c.d, &o);
    hlt_enroll(&x->c.d, HLT_H1, NULL, &x->c.dev);
    free(pre);
    free(ff);
    sampler_start(&x->sampler, D);
}

/* Runs are over: none queued or running in link.db. */
static void assert_nothing_running(ctx_t *x, const char *fault)
{
    void *db = hltc_db_open(&x->env, 0);
    int64_t open = hltc_db_int(db, "SELECT count(*) FROM runs WHERE status IN ('queued', 'running')", NULL);
    int64_t streaming = hltc_db_int(db, "SELECT count(*) FROM messages WHERE status IN ('queued', 'streaming')", NULL);
    hltc_db_close(db);
    ck_assert_msg(open == 0, "%s: %lld runs still queued or running", fault, (long long)open);
    ck_assert_msg(streaming == 0, "%s: %lld messages still queued or streaming", fault, (long long)streaming);
}

/* The sampler's figures, nothing left running, a clean exit, an intact link.db. */
static void finish(ctx_t *x, const char *fault)
{
    sampler_finish(&x->sampler, fault);
    assert_nothing_running(x, fault);
    hlt_assert_stop_clean(D);
    hltc_assert_integrity(&x->env, fault);
    hlt_device_free(&x->c.dev);
    if (x->fake.pid > 0) {
        const char *err = hlt_fake_stop(&x->fake);
        ck_assert_msg(err == NULL, "fake: %s", err);
    }
    free(x->fault_file);
    hlt_env_dispose(&x->env);
}

/* ---- runs ---- */

/* A new conversation and a message that starts a run; returns the conversation id (caller frees), the run id in *run. */
static char *conv_send(ctx_t *x, const char *text, char **run)
{
    char *conv = hltc_create(D, HLT_H1, TOK, "faults");
    json_t *sent = hltc_send(D, HLT_H1, TOK, conv, text);
    if (run != NULL)
        *run = hl_strdup(hlt_str(json_object_get(sent, "run"), "id"));
    json_decref(sent);
    return conv;
}

/* Waits until the conversation's runs ended; returns the first terminal event's type and, for run.failed, its code. */
static void conv_outcome(ctx_t *x, const char *conv, char **type, char **code)
{
    hltc_events_t *e = hltc_wait_runs_done(D, TOK, conv, 30000);
    *type = *code = NULL;
    static const char *const ENDS[] = {"run.completed", "run.failed", "run.cancelled"};
    long best = -1;
    for (size_t i = 0; i < HL_ARRAY_SIZE(ENDS); ++i) {
        long k = hltc_find(e, ENDS[i], NULL, NULL);
        if (k >= 0 && (best < 0 || k < best))
            best = k;
    }
    if (best >= 0) {
        *type = hl_strdup(e->v[best].type);
        json_t *err = json_object_get(json_object_get(e->v[best].json, "payload"), "error");
        if (json_is_string(json_object_get(err, "code")))
            *code = hl_strdup(hlt_str(err, "code"));
    }
    hltc_events_free(e);
    free(e);
}

/* The conversation's run ended with run.failed and `code`. */
static void expect_conv_failed(ctx_t *x, const char *conv, const char *code, const char *what)
{
    char *type, *got;
    conv_outcome(x, conv, &type, &got);
    ck_assert_msg(type != NULL, "%s: the run never ended", what);
    ck_assert_msg(strcmp(type, "run.failed") == 0, "%s: the run ended with %s, not run.failed", what, type);
    ck_assert_msg(got != NULL && strcmp(got, code) == 0, "%s: run.failed with code %s, expected %s", what,
                  got != NULL ? got : "(none)", code);
    free(type);
    free(got);
}

static void expect_conv_completed(ctx_t *x, const char *conv, const char *what)
{
    char *type, *code;
    conv_outcome(x, conv, &type, &code);
    ck_assert_msg(type != NULL && strcmp(type, "run.completed") == 0, "%s: the run ended with %s (%s)", what,
                  type != NULL ? type : "nothing", code != NULL ? code : "");
    free(type);
    free(code);
}

/* POST /api/v1/runs {"input": input}: the status; the run id (caller frees) when 202, else the error code checked. */
static long direct_post(ctx_t *x, const char *input, char **run, const char **code)
{
    json_t *in = json_pack("{s:s}", "input", input);
    char *body = json_dumps(in, JSON_COMPACT);
    json_decref(in);
    hlt_response_t res;
    char *auth = hl_asprintf("Authorization: Bearer %s", TOK);
    const char *headers[] = {auth, "Content-Type: application/json", NULL};
    hlt_request_t req = {.method = "POST", .path = "/api/v1/runs", .headers = headers, .body = body, .body_len = strlen(body)};
    hlt_request(D, HLT_H1, &req, &res);
    free(auth);
    ck_assert_msg(res.rc == CURLE_OK, "POST /api/v1/runs %s: %s (%s); the daemon is %s", input, curl_easy_strerror(res.rc),
                  res.errbuf, hlt_daemon_alive(D) ? "alive" : "gone");
    long status = res.status;
    *run = NULL;
    static char code_buf[80];
    code_buf[0] = '\0';
    if (status == 202) {
        *run = hl_strdup(hlt_str(res.json, "run_id"));
    } else {
        /* never anything but the error envelope, with a 5xx: the upstream's fault, not the client's */
        ck_assert_msg(status >= 500 && status <= 599, "POST /api/v1/runs: %ld %s", status, res.body);
        hlt_assert_error(D, &res, status, hlt_str(json_object_get(res.json, "error"), "code"));
        snprintf(code_buf, sizeof(code_buf), "%s", hlt_str(json_object_get(res.json, "error"), "code"));
    }
    if (code != NULL)
        *code = code_buf;
    hlt_response_free(&res);
    free(body);
    return status;
}

static char *direct_run(ctx_t *x, const char *input)
{
    char *run;
    const char *code;
    long st = direct_post(x, input, &run, &code);
    ck_assert_msg(st == 202, "POST /api/v1/runs %s: %ld %s", input, st, code);
    return run;
}

/* Reads a direct run's relayed events until the stream ends; returns the last frame's event name (caller frees). With
 * `may_refuse` (under the malloc fault): an opening answered with a JSON error (a 5xx, or 404 run_not_found once the
 * upstream dropped the run's events) gives NULL, and a stream that ends before any frame (its relay failed before the
 * stream joined it: the client is to reconnect, DESIGN.md §2) is opened again, up to 3 times. */
static char *read_direct(ctx_t *x, const char *run, char **error, int may_refuse)
{
    for (int attempt = 0;; ++attempt) {
        hltc_sse_t s;
        hltc_sse_open(&s, D, HLT_H1, TOK, hltc_fmt("/api/v1/runs/%s/events", run), NULL, NULL);
        long deadline = hlt_now_ms() + 30000;
        while (!s.done && hlt_now_ms() < deadline)
            hltc_sse_pump(&s, 50);
        ck_assert_msg(s.done, "the events of %s did not end within 30 s", run);
        if (may_refuse && (s.res.status >= 500 || s.res.status == 404)) {
            hlt_response_t *res = &s.res;
            ck_assert_msg(res->json != NULL || (res->json = json_loadb(res->body, res->body_len, 0, NULL)) != NULL,
                          "events of %s: %ld %s", run, res->status, res->body);
            const char *code = hlt_str(json_object_get(res->json, "error"), "code");
            ck_assert_msg(res->status != 404 || strcmp(code, "run_not_found") == 0, "events of %s: 404 %s", run, code);
            hlt_assert_error(D, res, res->status, code);
            hltc_sse_close(&s);
            return NULL;
        }
        ck_assert_msg(s.res.status == 200, "events of %s: %ld %s", run, s.res.status, s.res.body);
        hltc_sse_update(&s);
        if (s.ev.n == 0 && may_refuse && attempt < 2) {
            hltc_sse_close(&s);
            continue;
        }
        ck_assert_msg(s.ev.n > 0, "no event relayed for %s", run);
        json_t *last = s.ev.v[s.ev.n - 1].json;
        char *ev = hl_strdup(hlt_str(last, "event"));
        if (error != NULL)
            *error = json_is_string(json_object_get(last, "error")) ? hl_strdup(hlt_str(last, "error")) : NULL;
        hltc_sse_close(&s);
        return ev;
    }
}

static char *direct_last_event(ctx_t *x, const char *run, char **error)
{
    return read_direct(x, run, error, 0);
}

static void expect_direct_failed(ctx_t *x, const char *input, const char *error_part, const char *what)
{
    char *run = direct_run(x, input), *error = NULL;
    char *ev = direct_last_event(x, run, &error);
    ck_assert_msg(strcmp(ev, "run.failed") == 0, "%s: the relay ended with %s", what, ev);
    if (error_part != NULL)
        ck_assert_msg(error != NULL && strstr(error, error_part) != NULL, "%s: run.failed says \"%s\", not \"%s\"", what,
                      error != NULL ? error : "", error_part);
    free(error);
    free(ev);
    free(run);
}

/* Waits until the fake was asked to stop a run (as the daemon does after a stall or garbage). */
static void expect_upstream_stopped(ctx_t *x, const char *what)
{
    ck_assert_msg(hlt_fake_wait_request(&x->fake, "POST", "/v1/runs/", "/stop", 15000), "%s: the upstream run was not stopped",
                  what);
}

/* ---- the faults ---- */

/* The stream goes silent for good after two events: no keep-alive, no byte. */
START_TEST(stall)
{
    ctx_t ctx, *x = &ctx;
    start(x, 0);
    char *conv = conv_send(x, "[[fake:stream;deltas=8;gap_ms=50;stall_after=2]] stall", NULL);
    expect_conv_failed(x, conv, "hermes_stream_stalled", "conversation run, stalled");
    expect_upstream_stopped(x, "conversation run, stalled");
    expect_direct_failed(x, "[[fake:stream;deltas=8;gap_ms=50;stall_after=2]] stall", "Hermes sent nothing", "direct run, stalled");
    /* the fake's own request log: the direct run was stopped too (two stops in all) */
    json_t *reqs = hlt_fake_requests(&x->fake);
    size_t stops = 0, i;
    json_t *q;
    json_array_foreach(reqs, i, q) stops += strstr(hlt_str(q, "path"), "/stop") != NULL;
    json_decref(reqs);
    ck_assert_msg(stops >= 2, "%zu upstream runs stopped, expected 2", stops);
    free(conv);
    finish(x, "stall (no bytes)");
}
END_TEST

/* The connection is reset (RST) after two events. */
START_TEST(reset)
{
    ctx_t ctx, *x = &ctx;
    start(x, 0);
    char *conv = conv_send(x, "[[fake:stream;deltas=8;gap_ms=50;reset_after=2]] reset", NULL);
    expect_conv_failed(x, conv, "hermes_stream_interrupted", "conversation run, reset");
    expect_direct_failed(x, "[[fake:stream;deltas=8;gap_ms=50;reset_after=2]] reset", "ended before the run finished",
                         "direct run, reset");
    free(conv);
    finish(x, "TCP reset mid-run");
}
END_TEST

/* Garbage: inside the event stream (bytes no stream has, a data line that is not JSON), and instead of any HTTP answer to
 * POST /v1/runs. */
START_TEST(garbage)
{
    ctx_t ctx, *x = &ctx;
    start(x, 0);
    char *conv = conv_send(x, "[[fake:stream;deltas=6;gap_ms=50;garbage_after=2]] garbage", NULL);
    expect_conv_failed(x, conv, "hermes_stream_invalid", "conversation run, garbage in the stream");
    expect_upstream_stopped(x, "conversation run, garbage in the stream");
    char *conv2 = conv_send(x, "[[fake:stream;admit_garbage=1]] not http", NULL);
    expect_conv_failed(x, conv2, "hermes_api_server_unavailable", "conversation run, garbage for an answer");
    char *run;
    const char *code;
    long st = direct_post(x, "[[fake:stream;admit_garbage=1]] not http", &run, &code);
    ck_assert_msg(st == 503 && strcmp(code, "hermes_api_server_unavailable") == 0, "direct run, garbage for an answer: %ld %s", st,
                  code);
    /* a direct run's stream is relayed as it comes (API.md §12: the upstream's bytes unchanged): the garbage frame passes and
     * the run still ends with its own terminal event */
    run = direct_run(x, "[[fake:stream;deltas=6;gap_ms=50;garbage_after=2]] garbage");
    hlt_response_t res;
    hlt_api(D, HLT_H1, "GET", hltc_fmt("/api/v1/runs/%s/events", run), TOK, NULL, &res); /* the stream ends with the run */
    ck_assert_int_eq(res.status, 200);
    ck_assert_msg(strstr(res.body, "{\"event\":garbage") != NULL, "the garbage frame was not relayed: %s", res.body);
    const char *last = strstr(res.body, "\"event\":\"run.completed\"");
    ck_assert_msg(last != NULL && strstr(last, "data:") == NULL, "the relay did not end with run.completed: %s", res.body);
    hlt_response_free(&res);
    free(run);
    free(conv);
    free(conv2);
    finish(x, "garbage");
}
END_TEST

/* The stream ends in the middle of an event: inside an HTTP chunk (then the connection closes), or with the HTTP answer
 * ending well around half an event. */
START_TEST(close_mid_frame)
{
    ctx_t ctx, *x = &ctx;
    start(x, 0);
    char *conv = conv_send(x, "[[fake:stream;deltas=8;gap_ms=50;cut_after=2]] cut", NULL);
    expect_conv_failed(x, conv, "hermes_stream_interrupted", "conversation run, cut inside a chunk");
    char *conv2 = conv_send(x, "[[fake:stream;deltas=8;gap_ms=50;cut_after=2;cut_end=chunk]] cut", NULL);
    expect_conv_failed(x, conv2, "hermes_stream_interrupted", "conversation run, cut at a chunk's end");
    expect_direct_failed(x, "[[fake:stream;deltas=8;gap_ms=50;cut_after=2]] cut", "ended before the run finished",
                         "direct run, cut inside a chunk");
    expect_direct_failed(x, "[[fake:stream;deltas=8;gap_ms=50;cut_after=2;cut_end=chunk]] cut", "ended before the run finished",
                         "direct run, cut at a chunk's end");
    free(conv);
    free(conv2);
    finish(x, "close mid-frame");
}
END_TEST

#define CONCURRENT 200

/* 200 POST /api/v1/runs at once (HTTP/1.1, a connection each), each answered by the upstream after 2 s; then 200
 * conversation runs at once, admitted after 1 s and streamed slowly. */
START_TEST(slow_answer_to_200_runs)
{
    ctx_t ctx, *x = &ctx;
    start(x, 0);
    CURLM *multi = hlt_multi_new();
    hlt_response_t *res = hl_calloc(CONCURRENT, sizeof(*res));
    char *auth = hl_asprintf("Authorization: Bearer %s", TOK);
    const char *headers[] = {auth, "Content-Type: application/json", NULL};
    static const char BODY[] = "{\"input\":\"[[fake:stream;deltas=3;gap_ms=300;delay_admit_ms=2000]] slow\"}";
    for (int i = 0; i < CONCURRENT; ++i) {
        hlt_request_t req = {.method = "POST",
                             .path = "/api/v1/runs",
                             .headers = headers,
                             .body = BODY,
                             .body_len = sizeof(BODY) - 1,
                             .timeout_ms = 60000};
        CURL *e = hlt_easy_new(D, HLT_H1, &req, &res[i]);
        curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
        curl_multi_add_handle(multi, e);
    }
    long t0 = hlt_now_ms();
    int left = hlt_multi_drive(multi, 60000);
    ck_assert_msg(left == 0, "%d of %d POST /api/v1/runs still unanswered after 60 s", left, CONCURRENT);
    long took = hlt_now_ms() - t0;
    json_t *ids = json_object();
    for (int i = 0; i < CONCURRENT; ++i) {
        ck_assert_msg(res[i].rc == CURLE_OK && res[i].status == 202, "run %d: %s, %ld %s", i, curl_easy_strerror(res[i].rc),
                      res[i].status, res[i].body);
        json_object_set_new(ids, hlt_str(res[i].json, "run_id"), json_true());
        hlt_response_free(&res[i]);
    }
    ck_assert_uint_eq(json_object_size(ids), CONCURRENT);
    json_decref(ids);
    printf("upstream_faults: 200 POST /api/v1/runs answered in %ld ms (the upstream takes 2 s each)\n", took);

    /* 200 conversation runs at once */
    char **convs = hl_calloc(CONCURRENT, sizeof(*convs));
    for (int i = 0; i < CONCURRENT; ++i)
        convs[i] = hltc_create(D, HLT_H1, TOK, "slow");
    static const char SEND[] = "{\"content\":\"[[fake:stream;deltas=3;gap_ms=300;delay_admit_ms=1000]] slow\"}";
    for (int i = 0; i < CONCURRENT; ++i) {
        char *path = hl_asprintf("/api/v1/conversations/%s/messages", convs[i]);
        hlt_request_t req = {
            .method = "POST", .path = path, .headers = headers, .body = SEND, .body_len = sizeof(SEND) - 1, .timeout_ms = 60000};
        CURL *e = hlt_easy_new(D, HLT_H1, &req, &res[i]);
        curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
        curl_multi_add_handle(multi, e);
        free(path);
    }
    left = hlt_multi_drive(multi, 60000);
    ck_assert_msg(left == 0, "%d sends unanswered", left);
    for (int i = 0; i < CONCURRENT; ++i) {
        ck_assert_msg(res[i].status == 202, "send %d: %ld %s", i, res[i].status, res[i].body);
        hlt_response_free(&res[i]);
    }
    /* every one completes (the upstream had room: --max-runs 1000) */
    long deadline = hlt_now_ms() + 60000;
    int64_t completed = 0;
    while (hlt_now_ms() < deadline) {
        void *db = hltc_db_open(&x->env, 0);
        completed = hltc_db_int(db, "SELECT count(*) FROM runs WHERE status = 'completed'", NULL);
        int64_t open = hltc_db_int(db, "SELECT count(*) FROM runs WHERE status IN ('queued', 'running')", NULL);
        hltc_db_close(db);
        if (open == 0)
            break;
        hlt_sleep_ms(200);
    }
    ck_assert_msg(completed == CONCURRENT, "%lld of %d conversation runs completed", (long long)completed, CONCURRENT);
    for (int i = 0; i < CONCURRENT; ++i)
        free(convs[i]);
    free(convs);
    curl_multi_cleanup(multi);
    free(res);
    free(auth);
    finish(x, "slow answer, 200 runs");
}
END_TEST

/* The fake upstream is killed (SIGKILL, its own pid) while runs stream, then started again on the same port. */
START_TEST(upstream_restart)
{
    ctx_t ctx, *x = &ctx;
    start(x, 0);
    enum { N = 3 };
    char *convs[N];
    for (int i = 0; i < N; ++i)
        convs[i] = conv_send(x, "[[fake:stream;deltas=200;gap_ms=100]] long", NULL);
    char *run = direct_run(x, "[[fake:stream;deltas=200;gap_ms=100]] long");
    hltc_sse_t s;
    hltc_sse_open(&s, D, HLT_H1, TOK, hltc_fmt("/api/v1/runs/%s/events", run), NULL, NULL);
    /* every run streams: the relay has frames, the fake has N + 1 event subscribers */
    long deadline = hlt_now_ms() + 20000;
    size_t subs = 0;
    while (hlt_now_ms() < deadline && (subs < N + 1 || s.ev.n < 2)) {
        hltc_sse_pump(&s, 100);
        json_t *reqs = hlt_fake_requests(&x->fake);
        size_t i;
        json_t *q;
        subs = 0;
        json_array_foreach(reqs, i, q) subs += strstr(hlt_str(q, "path"), "/events") != NULL;
        json_decref(reqs);
    }
    ck_assert_msg(subs >= N + 1 && s.ev.n >= 2, "the runs did not start streaming (%zu subscribers, %zu frames)", subs, s.ev.n);

    int status;
    ck_assert_int_eq(kill(x->fake.pid, SIGKILL), 0);
    ck_assert(hlt_wait_exit(x->fake.pid, &status, 5000));
    x->fake.pid = 0;
    (void)hlt_fake_stop(&x->fake); /* frees its strings; killed, its exit status says nothing */

    for (int i = 0; i < N; ++i)
        expect_conv_failed(x, convs[i], "hermes_stream_interrupted", "conversation run, upstream killed");
    deadline = hlt_now_ms() + 20000;
    while (!s.done && hlt_now_ms() < deadline)
        hltc_sse_pump(&s, 50);
    ck_assert_msg(s.done, "the relayed stream did not end when the upstream died");
    hltc_sse_update(&s);
    ck_assert_str_eq(hlt_str(s.ev.v[s.ev.n - 1].json, "event"), "run.failed");
    hltc_sse_close(&s);

    /* while it is down: unavailable, at once */
    char *down = conv_send(x, "while down", NULL);
    expect_conv_failed(x, down, "hermes_api_server_unavailable", "conversation run, upstream down");
    char *none;
    const char *code;
    long st = direct_post(x, "while down", &none, &code);
    ck_assert_msg(st == 503 && strcmp(code, "hermes_api_server_unavailable") == 0, "direct run, upstream down: %ld %s", st, code);

    /* back on the same port: runs work again */
    start_fake(x, x->fake_port);
    char *again = conv_send(x, "[[fake:stream;deltas=3]] back", NULL);
    expect_conv_completed(x, again, "conversation run after the restart");
    char *run2 = direct_run(x, "[[fake:stream;deltas=3]] back");
    char *ev = direct_last_event(x, run2, NULL);
    ck_assert_str_eq(ev, "run.completed");
    free(ev);
    free(run2);
    free(again);
    free(down);
    free(run);
    for (int i = 0; i < N; ++i)
        free(convs[i]);
    finish(x, "upstream killed, restarted");
}
END_TEST

/* ---- malloc failing on the run proxy's thread ---- */

static unsigned long injected(ctx_t *x)
{
    char *path = hl_asprintf("%s.injected", x->fault_file);
    char *text = hlt_read_file(path, NULL);
    unsigned long n = text != NULL ? strtoul(text, NULL, 10) : 0;
    free(text);
    free(path);
    return n;
}

/* One round under the fault: conversation runs and direct runs; each ends somehow (completed, or failed with a code), each
 * POST /api/v1/runs answers 202 or a JSON 5xx. */
static void malloc_round(ctx_t *x, const char *fault, int round)
{
    enum { N = 4 };
    char *convs[N];
    for (int i = 0; i < N; ++i)
        convs[i] = conv_send(x,
                             i % 2 == 0 ? "[[fake:stream;deltas=4;gap_ms=20]] under the fault"
                                        : "[[fake:tool;deltas=2;gap_ms=20]] a tool under the fault",
                             NULL);
    for (int i = 0; i < N; ++i) {
        char *run;
        const char *code;
        long st = direct_post(x, "[[fake:stream;deltas=3;gap_ms=20]] direct under the fault", &run, &code);
        if (st == 202) {
            char *ev = read_direct(x, run, NULL, 1);
            ck_assert_msg(ev == NULL || strcmp(ev, "run.completed") == 0 || strcmp(ev, "run.failed") == 0,
                          "%s round %d: relay ended with %s", fault, round, ev);
            free(ev);
            free(run);
        }
    }
    /* a JSON call through the run proxy too: its list, or a JSON error with a 5xx */
    hlt_response_t mr;
    hlt_api(D, HLT_H1, "GET", "/api/v1/models", TOK, NULL, &mr);
    ck_assert_msg(mr.status == 200 || (mr.status >= 500 && json_is_object(json_object_get(mr.json, "error"))),
                  "%s round %d: GET /api/v1/models: %ld %s", fault, round, mr.status, mr.body);
    hlt_response_free(&mr);
    for (int i = 0; i < N; ++i) {
        char *type, *code;
        conv_outcome(x, convs[i], &type, &code);
        ck_assert_msg(type != NULL, "%s round %d: a conversation run never ended", fault, round);
        ck_assert_msg(strcmp(type, "run.completed") == 0 || (strcmp(type, "run.failed") == 0 && code != NULL),
                      "%s round %d: the run ended with %s (code %s)", fault, round, type, code != NULL ? code : "none");
        free(type);
        free(code);
        free(convs[i]);
    }
    ck_assert_msg(hlt_daemon_alive(D), "%s round %d: the daemon died", fault, round);
}

static void malloc_fault(const char *words, const char *fault)
{
    ctx_t ctx, *x = &ctx;
    start(x, 1);
    char *conv = conv_send(x, "[[fake:stream;deltas=2]] before", NULL);
    expect_conv_completed(x, conv, "before the fault");
    free(conv);
    hlt_write_file(x->fault_file, words);
    for (int round = 0; round < 3; ++round)
        malloc_round(x, fault, round);
    hlt_write_file(x->fault_file, "");
    hlt_sleep_ms(100); /* the shim rereads its switch every 20 ms */
    unsigned long n = injected(x);
    ck_assert_msg(n > 0, "%s: the shim failed no allocation", fault);
    printf("upstream_faults: %s: %lu allocations failed on the run proxy's thread\n", fault, n);
    /* off: runs work again */
    conv = conv_send(x, "[[fake:stream;deltas=3]] after", NULL);
    expect_conv_completed(x, conv, "after the fault");
    free(conv);
    char *run = direct_run(x, "[[fake:stream;deltas=3]] after");
    char *ev = direct_last_event(x, run, NULL);
    ck_assert_str_eq(ev, "run.completed");
    free(ev);
    free(run);
    finish(x, fault);
}

/* every allocation libcurl makes on the run proxy's thread fails: each upstream call fails at its first one, in
 * curl_easy_init (deterministic: it found the hl_fatal() there) */
START_TEST(malloc_always)
{
    malloc_fault("malloc=1", "malloc always");
}
END_TEST

/* a seeded 2%: failures land anywhere in a call (setup, transfer, parsing, the answer), a different place each run of the
 * daemon's threads but the same draws */

START_TEST(malloc_random)
{
    malloc_fault("mallocp=2:5", "malloc 2% (seed 5)");
}
END_TEST

/** The suite (tests/integration/main.c runs it): case "faults" (the fake's faults), case "malloc" (the fault shim). */
Suite *suite_upstream_faults(void)
{
    Suite *s = suite_create("upstream_faults");
    TCase *tc = tcase_create("faults");
    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, slow_answer_to_200_runs);
    tcase_add_test(tc, upstream_restart);
    tcase_add_test(tc, stall);
    tcase_add_test(tc, reset);
    tcase_add_test(tc, garbage);
    tcase_add_test(tc, close_mid_frame);
    suite_add_tcase(s, tc);
    TCase *tm = tcase_create("malloc");
    tcase_set_timeout(tm, 180);
    tcase_add_test(tm, malloc_always);
    tcase_add_test(tm, malloc_random);
    suite_add_tcase(s, tm);
    return s;
}
