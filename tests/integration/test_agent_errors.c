/*
 * The thin run proxy's error paths (spec/API.md §9 GET /api/v1/models, §12 runs), against the fake upstream: the profile
 * "down" points at a closed port (503 hermes_api_server_unavailable), and answers no scenario gives (a 2xx without a run
 * id, bodies that are not JSON objects, statuses a route never returns) come from the fake's canned answers
 * (POST /__fake/respond). Covered: POST /api/v1/runs mapping upstream failures (503, 502 hermes_response_invalid,
 * 502 hermes_run_invalid) and its body's profile; GET /api/v1/runs/:id/events failing before the stream (503, 502
 * hermes_events_unavailable) and resuming with ?after=; POST /api/v1/runs/:id/cancel on an upstream 500 (502
 * hermes_cancel_failed) and with an invalid JSON body; run ids of 128 (accepted) and 129 characters (refused); GET
 * /api/v1/models on an upstream 404 ({"models":[]}), another non-2xx and a non-object answer; an approval with an invalid
 * scope. (Cancel's 405/501 mapping and relay stalls are tested in suite agent_runs.)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hl/common.h"

#include "fake_hermes.h"
#include "harness_conv.h"

#define KEY "fake-key-0123456789"

typedef struct st_ctx_t {
    hlt_env_t env;
    hlt_fake_t fake;
    hltc_ctx_t c;
} ctx_t;

#define D (&x->c.d)
#define TOK (x->c.dev.access)

static void write_env(const char *dir, int port)
{
    char *path = hl_asprintf("%s/.env", dir);
    char *text = hl_asprintf("API_SERVER_HOST=127.0.0.1\nAPI_SERVER_PORT=%d\nAPI_SERVER_KEY=\"%s\"\n", port, KEY);
    hlt_write_file(path, text);
    free(text);
    free(path);
}

/* A fake, the default profile pointing at it, the profile "down" at a closed port, and a daemon with a device. */
static void start(ctx_t *x)
{
    memset(x, 0, sizeof(*x));
    hlt_env_init(&x->env);
    static const char *const ARGS[] = {"--key", KEY, "--time-scale", "0.5", NULL};
    hlt_fake_start(&x->fake, x->env.dir, ARGS);
    write_env(x->env.hermes_home, x->fake.port);
    char *profiles = hl_asprintf("%s/profiles", x->env.hermes_home), *down = hl_asprintf("%s/down", profiles);
    ck_assert(mkdir(profiles, 0700) == 0 && mkdir(down, 0700) == 0);
    write_env(down, hlt_free_port());
    free(down);
    free(profiles);
    hltc_start(&x->c, 1, &x->env);
}

static void stop(ctx_t *x)
{
    hlt_daemon_stop_clean(&x->c.d);
    hlt_device_free(&x->c.dev);
    const char *err = hlt_fake_stop(&x->fake);
    ck_assert_msg(err == NULL, "fake: %s", err);
    hlt_env_dispose(&x->env);
}

/* `method path [body]` with the device's token: asserts the error envelope and, when not NULL, a part of its message. */
static void expect_error(ctx_t *x, const char *method, const char *path, const char *body, long status, const char *code,
                         const char *message_part)
{
    hlt_response_t res;
    hlt_api(D, HLT_H1, method, path, TOK, body, &res);
    ck_assert_msg(res.status == status, "%s %s %s: expected %ld %s, got %ld %s", method, path, body != NULL ? body : "", status,
                  code, res.status, res.body);
    hlt_assert_error(D, &res, status, code);
    if (message_part != NULL) {
        const char *m = hlt_str(json_object_get(res.json, "error"), "message");
        ck_assert_msg(strstr(m, message_part) != NULL, "%s %s: message \"%s\" lacks \"%s\"", method, path, m, message_part);
    }
    hlt_response_free(&res);
}

/* POST /api/v1/runs {"input": input}; asserts 202 and returns the run id (caller frees). */
static char *post_run(ctx_t *x, const char *input)
{
    json_t *in = json_pack("{s:s}", "input", input);
    char *body = json_dumps(in, JSON_COMPACT);
    json_decref(in);
    hlt_response_t res;
    hlt_api(D, HLT_H1, "POST", "/api/v1/runs", TOK, body, &res);
    ck_assert_msg(res.status == 202, "POST /api/v1/runs: %ld %s", res.status, res.body);
    char *id = hl_strdup(hlt_str(res.json, "run_id"));
    hlt_response_free(&res);
    free(body);
    return id;
}

/* Reads `path` as an event stream until it ends (headers e.g. Last-Event-ID, may be NULL); asserts 200. */
static hltc_sse_t *read_stream(ctx_t *x, const char *path, const char *const *headers)
{
    hltc_sse_t *s = calloc(1, sizeof(*s));
    hltc_sse_open(s, D, HLT_H1, TOK, path, headers, NULL);
    long deadline = hlt_now_ms() + 45000;
    while (!s->done && hlt_now_ms() < deadline)
        hltc_sse_pump(s, 50);
    ck_assert_msg(s->done, "%s did not end within 45 s", path);
    ck_assert_msg(s->res.status == 200, "%s: %ld %s", path, s->res.status, s->res.body);
    return s;
}

static void close_stream(hltc_sse_t *s)
{
    hltc_sse_close(s);
    free(s);
}

/* A run id of n characters (run_ then x's). */
static char *long_id(size_t n)
{
    char *id = hl_malloc(n + 1);
    memcpy(id, "run_", 4);
    memset(id + 4, 'x', n - 4);
    id[n] = '\0';
    return id;
}

/* ---- POST /api/v1/runs ---- */

START_TEST(create_run_upstream_failures)
{
    ctx_t ctx, *x = &ctx;
    start(x);
    /* unreachable (the body's profile names it), and the upstream's own 404 and 503: 503 */
    expect_error(x, "POST", "/api/v1/runs", "{\"input\":\"hi\",\"profile\":\"down\"}", 503, "hermes_api_server_unavailable", NULL);
    expect_error(x, "POST", "/api/v1/runs", "{\"input\":\"[[fake:stream;status_code=404]] hi\"}", 503,
                 "hermes_api_server_unavailable", NULL);
    expect_error(x, "POST", "/api/v1/runs", "{\"input\":\"[[fake:stream;status_code=503]] hi\"}", 503,
                 "hermes_api_server_unavailable", NULL);
    /* another non-2xx: 502 with the status and the upstream's message */
    expect_error(x, "POST", "/api/v1/runs", "{\"input\":\"[[fake:stream;status_code=500]] hi\"}", 502, "hermes_response_invalid",
                 "Hermes API Server returned HTTP 500");
    expect_error(x, "POST", "/api/v1/runs", "{\"input\":\"[[fake:stream;status_code=400]] hi\"}", 502, "hermes_response_invalid",
                 "HTTP 400");
    /* a 2xx that is not a JSON object: 502 hermes_response_invalid */
    hlt_fake_respond(&x->fake, "POST", "/v1/runs", 202, "[\"run_1\"]", 1);
    expect_error(x, "POST", "/api/v1/runs", "{\"input\":\"hi\"}", 502, "hermes_response_invalid", NULL);
    hlt_fake_respond(&x->fake, "POST", "/v1/runs", 202, "not json", 1);
    expect_error(x, "POST", "/api/v1/runs", "{\"input\":\"hi\"}", 502, "hermes_response_invalid", NULL);
    /* a 2xx object without a run id (or an empty one): 502 hermes_run_invalid */
    hlt_fake_respond(&x->fake, "POST", "/v1/runs", 202, "{\"status\":\"started\"}", 1);
    expect_error(x, "POST", "/api/v1/runs", "{\"input\":\"hi\"}", 502, "hermes_run_invalid", NULL);
    hlt_fake_respond(&x->fake, "POST", "/v1/runs", 202, "{\"run_id\":\"\",\"status\":\"started\"}", 1);
    expect_error(x, "POST", "/api/v1/runs", "{\"input\":\"hi\"}", 502, "hermes_run_invalid", NULL);
    hlt_fake_respond(&x->fake, "POST", "/v1/runs", 202, "{\"run_id\":42}", 1);
    expect_error(x, "POST", "/api/v1/runs", "{\"input\":\"hi\"}", 502, "hermes_run_invalid", NULL);
    /* the id under the other names the spec allows (run_id|runId|id) */
    hlt_fake_respond(&x->fake, "POST", "/v1/runs", 202, "{\"runId\":\"run_camel\"}", 1);
    char *id = post_run(x, "hi");
    ck_assert_str_eq(id, "run_camel");
    free(id);
    hlt_fake_respond(&x->fake, "POST", "/v1/runs", 202, "{\"id\":\"run_plain\"}", 1);
    id = post_run(x, "hi");
    ck_assert_str_eq(id, "run_plain");
    free(id);
    /* after all that, a real run is admitted */
    id = post_run(x, "[[fake:stream;deltas=2]] fine");
    ck_assert_msg(strncmp(id, "run_", 4) == 0, "run id %s", id);
    free(id);
    stop(x);
}
END_TEST

/* The body's profile (profile|profile_name|profileName) is checked as the query's is. */
START_TEST(create_run_body_profile)
{
    ctx_t ctx, *x = &ctx;
    start(x);
    static const char *const KEYS[] = {"profile", "profile_name", "profileName"};
    for (size_t i = 0; i < HL_ARRAY_SIZE(KEYS); ++i) {
        expect_error(x, "POST", "/api/v1/runs", hltc_fmt("{\"input\":\"hi\",\"%s\":\"..\"}", KEYS[i]), 400, "invalid_profile_name",
                     NULL);
        expect_error(x, "POST", "/api/v1/runs", hltc_fmt("{\"input\":\"hi\",\"%s\":\"nosuch\"}", KEYS[i]), 404, "profile_not_found",
                     NULL);
    }
    /* the query's form gives the same codes */
    expect_error(x, "POST", "/api/v1/runs?profile=..", "{\"input\":\"hi\"}", 400, "invalid_profile_name", NULL);
    expect_error(x, "POST", "/api/v1/runs?profile=nosuch", "{\"input\":\"hi\"}", 404, "profile_not_found", NULL);
    /* nothing of it reached the upstream */
    json_t *reqs = hlt_fake_requests(&x->fake);
    ck_assert_ptr_null(hlt_fake_find_request(reqs, "POST", "/v1/runs", NULL));
    json_decref(reqs);
    stop(x);
}
END_TEST

/* ---- run ids ---- */

START_TEST(run_id_length)
{
    ctx_t ctx, *x = &ctx;
    start(x);
    char *ok = long_id(128), *too_long = long_id(129);
    /* 128 characters: accepted and asked upstream (which has no such run) */
    expect_error(x, "GET", hltc_fmt("/api/v1/runs/%s/events", ok), NULL, 404, "run_not_found", NULL);
    ck_assert(hlt_fake_wait_request(&x->fake, "GET", hltc_fmt("/v1/runs/%s/events", ok), NULL, 15000));
    hlt_fake_respond(&x->fake, "POST", hltc_fmt("/v1/runs/%s/stop", ok), 200, "{\"status\":\"stopping\"}", 1);
    hlt_fake_respond(&x->fake, "POST", hltc_fmt("/v1/runs/%s/cancel", ok), 200, "{\"status\":\"stopping\"}", 1);
    json_t *r = hltc_call(D, HLT_H1, TOK, "POST", hltc_fmt("/api/v1/runs/%s/cancel", ok), NULL, 200);
    json_decref(r);
    /* 129: refused before anything is sent */
    hlt_response_t res;
    hlt_fake_request(&x->fake, "DELETE", "/__fake/requests", NULL, NULL, &res);
    hlt_response_free(&res);
    expect_error(x, "GET", hltc_fmt("/api/v1/runs/%s/events", too_long), NULL, 400, "invalid_run_id", NULL);
    expect_error(x, "POST", hltc_fmt("/api/v1/runs/%s/cancel", too_long), NULL, 400, "invalid_run_id", NULL);
    json_t *reqs = hlt_fake_requests(&x->fake);
    ck_assert_uint_eq(json_array_size(reqs), 0);
    json_decref(reqs);
    free(ok);
    free(too_long);
    stop(x);
}
END_TEST

/* ---- GET /api/v1/runs/:id/events ---- */

START_TEST(run_events_failures_and_after)
{
    ctx_t ctx, *x = &ctx;
    start(x);
    /* unreachable: 503 */
    expect_error(x, "GET", "/api/v1/runs/run_x/events?profile=down", NULL, 503, "hermes_api_server_unavailable", NULL);
    /* the upstream's non-2xx (not 404): 502 hermes_events_unavailable, and a later try asks the upstream again */
    hlt_fake_respond(&x->fake, "GET", "/v1/runs/run_e500/events", 500, "{\"error\":{\"message\":\"boom\"}}", 1);
    expect_error(x, "GET", "/api/v1/runs/run_e500/events", NULL, 502, "hermes_events_unavailable", "HTTP 500");
    hlt_fake_respond(&x->fake, "GET", "/v1/runs/run_e500/events", 403, "{\"error\":{\"message\":\"no\"}}", 1);
    expect_error(x, "GET", "/api/v1/runs/run_e500/events", NULL, 502, "hermes_events_unavailable", "HTTP 403");
    /* ?after= resumes after that frame; it wins over Last-Event-ID */
    char *run = post_run(x, "[[fake:stream;deltas=5]] hi");
    char *path = hl_asprintf("/api/v1/runs/%s/events", run);
    hltc_sse_t *all = read_stream(x, path, NULL);
    ck_assert_uint_eq(all->ev.n, 7); /* 5 deltas, reasoning.available, run.completed */
    hltc_sse_t *after = read_stream(x, hltc_fmt("%s?after=3", path), NULL);
    ck_assert_uint_eq(after->ev.n, 4);
    for (size_t i = 0; i < after->ev.n; ++i) {
        ck_assert_int_eq(after->ev.v[i].id, (int64_t)i + 4);
        ck_assert_str_eq(after->ev.v[i].data, all->ev.v[i + 3].data);
    }
    hltc_sse_t *both = read_stream(x, hltc_fmt("%s?after=5", path), (const char *const[]){"Last-Event-ID: 1", NULL});
    ck_assert_uint_eq(both->ev.n, 2);
    ck_assert_int_eq(both->ev.v[0].id, 6);
    /* a client that already has the terminal frame (?after=7, or Last-Event-ID 7) gets a stream that ends at once, with
     * nothing sent again (it stayed open forever, sending nothing) */
    hltc_sse_t *done = read_stream(x, hltc_fmt("%s?after=7", path), NULL);
    ck_assert_uint_eq(done->ev.n, 0);
    hltc_sse_t *done_h = read_stream(x, path, (const char *const[]){"Last-Event-ID: 7", NULL});
    ck_assert_uint_eq(done_h->ev.n, 0);
    close_stream(done);
    close_stream(done_h);
    /* an upstream that takes the connection and closes it without an answer: unavailable too, as for POST /api/v1/runs */
    hlt_response_t res;
    hlt_fake_request(&x->fake, "POST", "/__fake/health", "{\"down\":true}", NULL, &res);
    ck_assert_int_eq(res.status, 200);
    hlt_response_free(&res);
    expect_error(x, "POST", "/api/v1/runs", "{\"input\":\"hi\"}", 503, "hermes_api_server_unavailable", NULL);
    expect_error(x, "GET", "/api/v1/runs/run_gone/events", NULL, 503, "hermes_api_server_unavailable", NULL);
    close_stream(all);
    close_stream(after);
    close_stream(both);
    free(path);
    free(run);
    stop(x);
}
END_TEST

/* ---- POST /api/v1/runs/:id/cancel ---- */

START_TEST(cancel_failures)
{
    ctx_t ctx, *x = &ctx;
    start(x);
    /* the upstream's 500: 502 hermes_cancel_failed with its status (its stop route; /cancel too, should the call move) */
    hlt_fake_respond(&x->fake, "POST", "/v1/runs/run_c500/stop", 500, "{\"error\":{\"message\":\"disk full\"}}", 1);
    hlt_fake_respond(&x->fake, "POST", "/v1/runs/run_c500/cancel", 500, "{\"error\":{\"message\":\"disk full\"}}", 1);
    expect_error(x, "POST", "/api/v1/runs/run_c500/cancel", NULL, 502, "hermes_cancel_failed", "HTTP 500");
    /* unreachable: 503 (the body's profile) */
    expect_error(x, "POST", "/api/v1/runs/run_x/cancel", "{\"profile\":\"down\"}", 503, "hermes_api_server_unavailable", NULL);
    /* a body that is not JSON: 400 invalid_json, as on every JSON route; the body's bad profile: 400 */
    expect_error(x, "POST", "/api/v1/runs/run_x/cancel", "{\"profile\":", 400, "invalid_json", NULL);
    expect_error(x, "POST", "/api/v1/runs/run_x/cancel", "{\"profile\":\"..\"}", 400, "invalid_profile_name", NULL);
    stop(x);
}
END_TEST

/* ---- GET /api/v1/models ---- */

START_TEST(models_upstream_answers)
{
    ctx_t ctx, *x = &ctx;
    start(x);
    /* upstream 404: an empty list, 200 */
    hlt_fake_respond(&x->fake, "GET", "/v1/models", 404, "{\"error\":\"Not Found\"}", 1);
    hlt_response_t res;
    hlt_api(D, HLT_H1, "GET", "/api/v1/models", TOK, NULL, &res);
    ck_assert_msg(res.status == 200, "models on an upstream 404: %ld %s", res.status, res.body);
    ck_assert_str_eq(res.body, "{\"models\":[]}");
    hlt_assert_json(&res);
    hlt_response_free(&res);
    /* another non-2xx: 502 with the status */
    hlt_fake_respond(&x->fake, "GET", "/v1/models", 500, "{\"error\":{\"message\":\"models broke\"}}", 1);
    expect_error(x, "GET", "/api/v1/models", NULL, 502, "hermes_response_invalid", "HTTP 500");
    hlt_fake_respond(&x->fake, "GET", "/v1/models", 418, "teapot", 1);
    expect_error(x, "GET", "/api/v1/models", NULL, 502, "hermes_response_invalid", "HTTP 418");
    /* a 2xx that is not a JSON object: 502 */
    hlt_fake_respond(&x->fake, "GET", "/v1/models", 200, "[{\"id\":\"a\"}]", 1);
    expect_error(x, "GET", "/api/v1/models", NULL, 502, "hermes_response_invalid", NULL);
    hlt_fake_respond(&x->fake, "GET", "/v1/models", 200, "not json", 1);
    expect_error(x, "GET", "/api/v1/models", NULL, 502, "hermes_response_invalid", NULL);
    /* and the real list again */
    hlt_api(D, HLT_H1, "GET", "/api/v1/models", TOK, NULL, &res);
    ck_assert_int_eq(res.status, 200);
    ck_assert_msg(json_is_array(json_object_get(res.json, "data")), "models: %s", res.body);
    hlt_response_free(&res);
    stop(x);
}
END_TEST

/* ---- approvals ---- */

START_TEST(approval_invalid_scope)
{
    ctx_t ctx, *x = &ctx;
    start(x);
    char *conv = hltc_create(D, HLT_H1, TOK, "scope");
    json_t *sent = hltc_send(D, HLT_H1, TOK, conv, "[[fake:approval]] careful");
    char *path = hl_asprintf("/api/v1/conversations/%s/events", conv);
    hltc_sse_t s;
    hltc_sse_open(&s, D, HLT_H1, TOK, path, NULL, NULL);
    long a = -1, deadline = hlt_now_ms() + 10000;
    while (a < 0 && hlt_now_ms() < deadline) {
        hltc_sse_pump(&s, 50);
        a = hltc_find(&s.ev, "approval.requested", NULL, NULL);
    }
    ck_assert_msg(a >= 0, "no approval.requested");
    char *id = hl_strdup(hlt_str(json_object_get(json_object_get(s.ev.v[a].json, "payload"), "approval"), "id"));
    hltc_sse_close(&s);
    char *pa = hl_asprintf("/api/v1/conversations/%s/approvals/%s/approve", conv, id);
    expect_error(x, "POST", pa, "{\"scope\":\"forever\"}", 400, "invalid_approval_scope", NULL);
    expect_error(x, "POST", pa, "{\"scope\":\"ONCE\"}", 400, "invalid_approval_scope", NULL);
    expect_error(x, "POST", pa, "{\"scope\":\"deny\"}", 400, "invalid_approval_scope", NULL); /* deny has its own route */
    /* nothing was decided: the approval still waits, and a valid scope settles it */
    json_t *reqs = hlt_fake_requests(&x->fake);
    ck_assert_ptr_null(hlt_fake_find_request(reqs, NULL, NULL, "/approval"));
    json_decref(reqs);
    json_t *r = hltc_call(D, HLT_H1, TOK, "POST", pa, "{\"scope\":\"always\"}", 200);
    ck_assert_str_eq(hlt_str(json_object_get(r, "approval"), "status"), "approved");
    json_decref(r);
    hltc_events_t *e = hltc_wait_runs_done(D, TOK, conv, 20000);
    ck_assert_msg(hltc_find(e, "run.completed", NULL, NULL) >= 0, "the approved run did not complete");
    hltc_events_free(e);
    free(e);
    free(pa);
    free(id);
    free(path);
    json_decref(sent);
    free(conv);
    stop(x);
}
END_TEST

Suite *suite_agent_errors(void)
{
    Suite *s = suite_create("agent_errors");
    TCase *tc = tcase_create("errors");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, create_run_upstream_failures);
    tcase_add_test(tc, create_run_body_profile);
    tcase_add_test(tc, run_id_length);
    tcase_add_test(tc, run_events_failures_and_after);
    tcase_add_test(tc, cancel_failures);
    tcase_add_test(tc, models_upstream_answers);
    tcase_add_test(tc, approval_invalid_scope);
    suite_add_tcase(s, tc);
    return s;
}
