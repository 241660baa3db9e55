/*
 * Agent runs through Hermes's API server (issue 8), against the fake upstream (tests/fake_upstream): the daemon finds the
 * fake through HERMES_HOME/.env (API_SERVER_PORT, API_SERVER_KEY), scenarios are chosen by a [[fake:…]] token in the
 * message. Covered: a streamed answer with usage and the history/session/key the upstream saw, tool events kept on the
 * message, approvals approved and denied (forwarded upstream), a failing run, a slow run cancelled (the upstream is told
 * to stop), a dropped upstream connection, UTF-8 split into 1–7 byte writes, upstream 429, upstream down, a wrong key,
 * queued runs starting in order, a run reconciled after a kill -9 (and an approval decision Hermes had not taken by then,
 * sent again), and the same over HTTP/2.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "hl/common.h"
#include "hl/control.h"

#include "fake_hermes.h"
#include "harness_conv.h"

#define KEY "fake-key-0123456789"

typedef struct st_ctx_t {
    hlt_env_t env;
    hlt_fake_t fake;
    hltc_ctx_t c;
    int fake_up;
} ctx_t;

/* A fake (with `args`), a HERMES_HOME whose .env points at it (with `key`, or at a closed port when port_override > 0),
 * and a daemon with a device. */
static void start(ctx_t *x, const char *const *args, const char *key, int port_override)
{
    memset(x, 0, sizeof(*x));
    hlt_env_init(&x->env);
    static const char *const DEFAULT_ARGS[] = {"--key", KEY, "--time-scale", "0.5", NULL};
    if (port_override == 0) {
        hlt_fake_start(&x->fake, x->env.dir, args != NULL ? args : DEFAULT_ARGS);
        x->fake_up = 1;
    }
    char *envfile = hl_asprintf("%s/.env", x->env.hermes_home);
    char *text = hl_asprintf("# written by the test\nAPI_SERVER_HOST=127.0.0.1\nAPI_SERVER_PORT=%d\n%s%s%s",
                             port_override > 0 ? port_override : x->fake.port, key != NULL ? "API_SERVER_KEY=\"" : "",
                             key != NULL ? key : "", key != NULL ? "\"\n" : "");
    hlt_write_file(envfile, text);
    free(envfile);
    free(text);
    hltc_start(&x->c, 1, &x->env);
}

static void stop(ctx_t *x)
{
    hlt_daemon_stop_clean(&x->c.d);
    hlt_device_free(&x->c.dev);
    if (x->fake_up) {
        const char *err = hlt_fake_stop(&x->fake);
        ck_assert_msg(err == NULL, "fake: %s", err);
    }
    hlt_env_dispose(&x->env);
}

#define D (&x->c.d)
#define TOK (x->c.dev.access)

/* Sends `text` to a new conversation over `p`, waits for its runs to end; returns the conversation's events. */
static hltc_events_t *run_one(ctx_t *x, hlt_proto_t p, const char *text, char **conv_out, json_t **sent_out)
{
    char *conv = hltc_create(D, p, TOK, "agent");
    json_t *sent = hltc_send(D, p, TOK, conv, text);
    hltc_events_t *e = hltc_wait_runs_done(D, TOK, conv, 45000);
    if (conv_out != NULL)
        *conv_out = conv;
    else
        free(conv);
    if (sent_out != NULL)
        *sent_out = sent;
    else
        json_decref(sent);
    return e;
}

static void events_free(hltc_events_t *e)
{
    hltc_events_free(e);
    free(e);
}

/* The assistant message of a send, as GET …/messages shows it now. */
static json_t *assistant_of(ctx_t *x, const char *conv, json_t *sent)
{
    json_t *msgs = hltc_messages(D, HLT_H1, TOK, conv);
    const char *id = hlt_str(json_object_get(sent, "assistant_message"), "id");
    json_t *found = NULL;
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(msgs, "messages"), i, m) if (strcmp(hlt_str(m, "id"), id) == 0) found = json_incref(m);
    json_decref(msgs);
    ck_assert_msg(found != NULL, "assistant message %s not listed", id);
    return found;
}

static const char *text_of(json_t *message)
{
    return hlt_str(json_array_get(json_object_get(message, "parts"), 0), "text");
}

/* The fake's request log as one JSON array. */
static json_t *fake_requests(ctx_t *x)
{
    return hlt_fake_requests(&x->fake);
}

static json_t *find_request(json_t *reqs, const char *method, const char *path_prefix)
{
    return hlt_fake_find_request(reqs, method, path_prefix, NULL);
}

static const char *run_error_code(const hltc_events_t *e)
{
    long f = hltc_find(e, "run.failed", NULL, NULL);
    ck_assert_msg(f >= 0, "no run.failed");
    return hlt_str(json_object_get(json_object_get(e->v[f].json, "payload"), "error"), "code");
}

/* ---- tests ---- */

static void streamed_answer(hlt_proto_t p)
{
    ctx_t ctx, *x = &ctx;
    start(x, NULL, KEY, 0);
    char *conv;
    json_t *sent;
    /* a first exchange, so that the second run carries history */
    hltc_events_t *e0 = run_one(x, p, "first [[fake:stream;deltas=2;text=one two]]", &conv, &sent);
    events_free(e0);
    json_decref(sent);
    sent = hltc_send(D, p, TOK, conv, "[[fake:stream;deltas=7;in=100;out=42]] hello");
    hltc_events_t *e = hltc_wait_runs_done(D, TOK, conv, 45000);
    const char *run = hlt_str(json_object_get(sent, "run"), "id");
    long done = hltc_find(e, "run.completed", "run_id", run);
    ck_assert_msg(done >= 0, "no run.completed");
    json_t *usage = json_object_get(json_object_get(json_object_get(e->v[done].json, "payload"), "run"), "usage");
    ck_assert_int_eq(json_integer_value(json_object_get(usage, "input_tokens")), 100);
    ck_assert_int_eq(json_integer_value(json_object_get(usage, "output_tokens")), 42);
    ck_assert_int_eq(json_integer_value(json_object_get(usage, "total_tokens")), 142);
    long mc = hltc_find(e, "message.completed", "run_id", run);
    ck_assert_msg(mc >= 0 && mc < done, "message.completed missing or after run.completed");
    /* the upstream's reasoning.available (here: the answer itself), replayed from its compact form */
    long ra = hltc_find(e, "reasoning.available", "run_id", run);
    ck_assert_msg(ra >= 0 && ra < mc, "reasoning.available missing or after message.completed");
    ck_assert_str_eq(hlt_str(json_object_get(e->v[ra].json, "payload"), "text"), "Hello from the fake LLM.");
    ck_assert_str_eq(text_of(json_object_get(json_object_get(e->v[mc].json, "payload"), "message")), "Hello from the fake LLM.");
    /* message.updated carries the accumulated text, growing, and the final message the whole answer */
    size_t updates = 0, last_len = 0;
    for (size_t i = 0; i < e->n; ++i) {
        if (e->v[i].type == NULL || strcmp(e->v[i].type, "message.updated") != 0 ||
            strcmp(hlt_str(e->v[i].json, "run_id") != NULL ? hlt_str(e->v[i].json, "run_id") : "", run) != 0)
            continue;
        const char *t = text_of(json_object_get(json_object_get(e->v[i].json, "payload"), "message"));
        ck_assert_uint_ge(strlen(t), last_len);
        last_len = strlen(t);
        updates++;
    }
    ck_assert_uint_ge(updates, 1);
    json_t *m = assistant_of(x, conv, sent);
    ck_assert_str_eq(hlt_str(m, "status"), "completed");
    ck_assert_str_eq(text_of(m), "Hello from the fake LLM.");
    json_decref(m);
    /* what the upstream saw: the key, the input, the history of the first exchange, a session id */
    json_t *reqs = fake_requests(x);
    json_t *posts = json_array();
    size_t i;
    json_t *r;
    json_array_foreach(reqs, i, r) if (strcmp(hlt_str(r, "method"), "POST") == 0 && strcmp(hlt_str(r, "path"), "/v1/runs") == 0)
        json_array_append(posts, r);
    ck_assert_uint_eq(json_array_size(posts), 2);
    json_t *second = json_array_get(posts, 1);
    ck_assert_str_eq(hlt_str(json_object_get(second, "headers"), "authorization"), "matches-key");
    json_error_t err;
    json_t *body = json_is_string(json_object_get(second, "body")) ? json_loads(hlt_str(second, "body"), 0, &err)
                                                                   : json_incref(json_object_get(second, "body"));
    ck_assert_ptr_nonnull(body);
    ck_assert_str_eq(hlt_str(body, "input"), "[[fake:stream;deltas=7;in=100;out=42]] hello");
    json_t *hist = json_object_get(body, "conversation_history");
    ck_assert_uint_eq(json_array_size(hist), 2);
    ck_assert_str_eq(hlt_str(json_array_get(hist, 0), "role"), "user");
    ck_assert_str_eq(hlt_str(json_array_get(hist, 1), "role"), "assistant");
    ck_assert_str_eq(hlt_str(json_array_get(hist, 1), "content"), "one two");
    ck_assert_str_eq(hlt_str(body, "session_id"), conv);
    json_decref(body);
    json_decref(posts);
    json_decref(reqs);
    json_decref(sent);
    events_free(e);
    free(conv);
    stop(x);
}

START_TEST(stream_h1)
{
    streamed_answer(HLT_H1);
}
END_TEST

START_TEST(stream_h2)
{
    streamed_answer(HLT_H2_TLS);
}
END_TEST

START_TEST(tool_events)
{
    ctx_t ctx, *x = &ctx;
    start(x, NULL, KEY, 0);
    char *conv;
    json_t *sent;
    hltc_events_t *e = run_one(x, HLT_H1, "[[fake:tool;tool=read_file;preview=README.md]] read it", &conv, &sent);
    long ts = hltc_find(e, "tool.started", NULL, NULL), tc = hltc_find(e, "tool.completed", NULL, NULL);
    ck_assert_msg(ts >= 0 && tc > ts, "tool events missing or out of order");
    json_t *p1 = json_object_get(e->v[ts].json, "payload"), *p2 = json_object_get(e->v[tc].json, "payload");
    ck_assert_str_eq(hlt_str(p1, "tool"), "read_file");
    ck_assert_str_eq(hlt_str(p1, "preview"), "README.md");
    ck_assert_str_eq(hlt_str(p1, "run_id"), hlt_str(json_object_get(sent, "run"), "id"));
    ck_assert(json_is_false(json_object_get(p2, "error")));
    ck_assert(json_is_number(json_object_get(p2, "duration")));
    ck_assert_msg(hltc_find(e, "run.completed", NULL, NULL) > tc, "run.completed not after the tool");
    json_t *m = assistant_of(x, conv, sent);
    json_t *ae = json_object_get(m, "agent_events");
    ck_assert_uint_eq(json_array_size(ae), 2);
    ck_assert_str_eq(hlt_str(json_array_get(ae, 0), "type"), "tool.started");
    ck_assert_str_eq(hlt_str(json_array_get(ae, 1), "type"), "tool.completed");
    ck_assert_str_eq(text_of(m), "\n\nHello from the fake LLM.");
    json_decref(m);
    json_decref(sent);
    events_free(e);
    free(conv);
    stop(x);
}
END_TEST

static void approval(int approve)
{
    ctx_t ctx, *x = &ctx;
    start(x, NULL, KEY, 0);
    char *conv = hltc_create(D, HLT_H1, TOK, "approval");
    json_t *sent = hltc_send(D, HLT_H1, TOK, conv, "[[fake:approval;command=rm -rf scratch]] clean up");
    /* the approval request reaches the conversation's stream */
    char *path = hl_asprintf("/api/v1/conversations/%s/events", conv);
    hltc_sse_t s;
    hltc_sse_open(&s, D, HLT_H1, TOK, path, NULL, NULL);
    long deadline = hlt_now_ms() + 30000, a = -1;
    while (a < 0 && hlt_now_ms() < deadline) {
        hltc_sse_pump(&s, 50);
        a = hltc_find(&s.ev, "approval.requested", NULL, NULL);
    }
    ck_assert_msg(a >= 0, "no approval.requested");
    json_t *appr = json_object_get(json_object_get(s.ev.v[a].json, "payload"), "approval");
    ck_assert_str_eq(hlt_str(appr, "status"), "pending");
    ck_assert_str_eq(hlt_str(appr, "command"), "rm -rf scratch");
    ck_assert_str_eq(hlt_str(appr, "run_id"), hlt_str(json_object_get(sent, "run"), "id"));
    ck_assert_str_eq(hlt_str(appr, "message_id"), hlt_str(json_object_get(sent, "assistant_message"), "id"));
    ck_assert_uint_eq(json_array_size(json_object_get(appr, "choices")), 4);
    char *id = hl_strdup(hlt_str(appr, "id"));
    hltc_sse_close(&s);
    free(path);
    /* unknown → 404; decide; twice → 409 */
    char *p404 = hl_asprintf("/api/v1/conversations/%s/approvals/appr_unknown/approve", conv);
    hltc_call_error(D, HLT_H1, TOK, "POST", p404, "{}", 404, "approval_not_found");
    char *pd = hl_asprintf("/api/v1/conversations/%s/approvals/%s/%s", conv, id, approve ? "approve" : "deny");
    json_t *r = hltc_call(D, HLT_H1, TOK, "POST", pd, approve ? "{\"scope\":\"session\"}" : NULL, 200);
    ck_assert_str_eq(hlt_str(json_object_get(r, "approval"), "status"), approve ? "approved" : "denied");
    json_decref(r);
    hltc_call_error(D, HLT_H1, TOK, "POST", pd, NULL, 409, "approval_not_pending");
    hltc_events_t *e = hltc_wait_runs_done(D, TOK, conv, 45000);
    ck_assert_msg(hltc_find(e, "approval.resolved", NULL, NULL) >= 0, "no approval.resolved");
    long tc = hltc_find(e, "tool.completed", NULL, NULL);
    ck_assert_msg(tc >= 0, "no tool.completed");
    ck_assert(json_is_true(json_object_get(json_object_get(e->v[tc].json, "payload"), "error")) == !approve);
    ck_assert_msg(hltc_find(e, "run.completed", NULL, NULL) >= 0, "the run did not complete");
    /* the upstream got the choice */
    json_t *reqs = fake_requests(x);
    json_t *ap = find_request(reqs, "POST", "/v1/runs/run_");
    size_t i;
    json_t *q;
    json_array_foreach(reqs, i, q) if (strstr(hlt_str(q, "path"), "/approval") != NULL) ap = q;
    ck_assert_ptr_nonnull(ap);
    ck_assert_ptr_nonnull(strstr(hlt_str(ap, "path"), "/approval"));
    const char *b = json_is_string(json_object_get(ap, "body")) ? hlt_str(ap, "body") : "";
    ck_assert_msg(strstr(b, approve ? "session" : "deny") != NULL, "approval body %s", b);
    json_decref(reqs);
    events_free(e);
    free(p404);
    free(pd);
    free(id);
    json_decref(sent);
    free(conv);
    stop(x);
}

START_TEST(approval_approve)
{
    approval(1);
}
END_TEST

START_TEST(approval_deny)
{
    approval(0);
}
END_TEST

START_TEST(failing_run)
{
    ctx_t ctx, *x = &ctx;
    start(x, NULL, KEY, 0);
    char *conv;
    json_t *sent;
    hltc_events_t *e = run_one(x, HLT_H1, "[[fake:fail;after_deltas=2;error=model exploded]] go", &conv, &sent);
    ck_assert_str_eq(run_error_code(e), "hermes_run_failed");
    long f = hltc_find(e, "run.failed", NULL, NULL);
    ck_assert_str_eq(hlt_str(json_object_get(json_object_get(e->v[f].json, "payload"), "error"), "message"), "model exploded");
    ck_assert_msg(hltc_find(e, "message.failed", NULL, NULL) >= 0, "no message.failed");
    json_t *m = assistant_of(x, conv, sent);
    ck_assert_str_eq(hlt_str(m, "status"), "failed");
    ck_assert_msg(strlen(text_of(m)) > 0, "the partial text was lost");
    json_decref(m);
    json_decref(sent);
    events_free(e);
    free(conv);
    stop(x);
}
END_TEST

START_TEST(slow_run_cancelled)
{
    ctx_t ctx, *x = &ctx;
    start(x, NULL, KEY, 0);
    char *conv = hltc_create(D, HLT_H1, TOK, "cancel");
    json_t *sent = hltc_send(D, HLT_H1, TOK, conv, "[[fake:slow;first_delay_ms=20000]] take your time");
    const char *run = hlt_str(json_object_get(sent, "run"), "id");
    /* wait until the upstream has the run (its events stream is open), then cancel */
    ck_assert_msg(hlt_fake_wait_request(&x->fake, "GET", "/v1/runs/run_", NULL, 30000),
                  "the daemon never subscribed to the upstream run");
    char *path = hl_asprintf("/api/v1/conversations/%s/runs/%s/cancel", conv, run);
    json_t *r = hltc_call(D, HLT_H1, TOK, "POST", path, NULL, 200);
    ck_assert_str_eq(hlt_str(json_object_get(r, "run"), "status"), "cancelled");
    json_decref(r);
    hltc_events_t *e = hltc_wait_runs_done(D, TOK, conv, 45000);
    ck_assert_msg(hltc_find(e, "run.cancelled", "run_id", run) >= 0, "no run.cancelled");
    json_t *m = assistant_of(x, conv, sent);
    ck_assert_str_eq(hlt_str(m, "status"), "cancelled");
    json_decref(m);
    /* the upstream was told to stop */
    ck_assert_msg(hlt_fake_wait_request(&x->fake, NULL, NULL, "/stop", 20000), "no POST /v1/runs/{id}/stop reached the upstream");
    events_free(e);
    free(path);
    json_decref(sent);
    free(conv);
    stop(x);
}
END_TEST

/* How many event streams (GET /v1/runs/{id}/events) the fake has been asked for. */
static size_t upstream_subscriptions(ctx_t *x)
{
    json_t *reqs = fake_requests(x), *q;
    size_t subs = 0, i;
    json_array_foreach(reqs, i, q) if (strcmp(hlt_str(q, "method"), "GET") == 0 && strstr(hlt_str(q, "path"), "/events") != NULL)
        subs++;
    json_decref(reqs);
    return subs;
}

/* The daemon's memory report (control.sock {"cmd":"memory"}); the caller frees it. */
static json_t *memory_report(ctx_t *x)
{
    json_t *req = json_pack("{s:s}", "cmd", "memory"), *r = hl_control_call(x->env.home, req, 15000);
    json_decref(req);
    ck_assert_msg(r != NULL && json_is_true(json_object_get(r, "ok")), "the memory command failed");
    return r;
}

/* The bytes the daemon has allocated and not freed, SQLite's (its page caches) left out: its memory report, with the
 * sanitizer allocator's count in this build. */
static json_int_t daemon_in_use(ctx_t *x)
{
    json_t *r = memory_report(x);
    json_int_t v = json_integer_value(json_object_get(json_object_get(r, "malloc"), "in_use_bytes")) -
                   json_integer_value(json_object_get(json_object_get(r, "sqlite"), "used_bytes"));
    json_decref(r);
    return v;
}

/* A run sends the conversation's whole history upstream, but does not keep it while it streams: held for the run's
 * life, the history of every long conversation with a run in flight stayed in memory (the soak's RSS grew with its
 * conversations, tests/RELIABILITY.md "Soak"). */
START_TEST(history_not_kept_while_streaming)
{
    ctx_t ctx, *x = &ctx;
    start(x, NULL, KEY, 0);
    char *conv = hltc_create(D, HLT_H1, TOK, "history");
    /* eight messages of 400 KB: the next run's conversation_history carries 3.2 MB of their text */
    const size_t fill = 400 * 1024;
    const char *prefix = "[[fake:stream;deltas=1]] ";
    char *text = malloc(strlen(prefix) + fill + 1);
    ck_assert_ptr_nonnull(text);
    strcpy(text, prefix);
    memset(text + strlen(prefix), 'h', fill);
    text[strlen(prefix) + fill] = '\0';
    for (int i = 0; i < 8; ++i)
        json_decref(hltc_send(D, HLT_H1, TOK, conv, text));
    events_free(hltc_wait_runs_done(D, TOK, conv, 60000));
    json_int_t idle = daemon_in_use(x);
    json_t *sent = hltc_send(D, HLT_H1, TOK, conv, "[[fake:slow;first_delay_ms=20000]] and now?");
    long deadline = hlt_now_ms() + 30000;
    while (upstream_subscriptions(x) < 9 && hlt_now_ms() < deadline)
        hlt_sleep_ms(20);
    ck_assert_msg(upstream_subscriptions(x) == 9, "the daemon never subscribed to the ninth run");
    json_int_t streaming = daemon_in_use(x);
    ck_assert_msg(streaming - idle < 1024 * 1024, "a streaming run holds %lld more bytes than none (its history is 3.2 MB)",
                  (long long)(streaming - idle));
    /* end it */
    char *path = hl_asprintf("/api/v1/conversations/%s/runs/%s/cancel", conv, hlt_str(json_object_get(sent, "run"), "id"));
    json_decref(hltc_call(D, HLT_H1, TOK, "POST", path, NULL, 200));
    events_free(hltc_wait_runs_done(D, TOK, conv, 45000));
    free(path);
    json_decref(sent);
    free(text);
    free(conv);
    stop(x);
}
END_TEST

static void expect_failure(const char *const *fake_args, const char *key, int closed_port, const char *text, const char *code,
                           long within_ms)
{
    ctx_t ctx, *x = &ctx;
    start(x, fake_args, key, closed_port);
    long t0 = hlt_now_ms();
    char *conv;
    json_t *sent;
    hltc_events_t *e = run_one(x, HLT_H1, text, &conv, &sent);
    long took = hlt_now_ms() - t0;
    ck_assert_str_eq(run_error_code(e), code);
    ck_assert_msg(took < within_ms, "the run took %ld ms to fail", took);
    json_t *m = assistant_of(x, conv, sent);
    ck_assert_str_eq(hlt_str(m, "status"), "failed");
    json_decref(m);
    json_decref(sent);
    events_free(e);
    free(conv);
    stop(x);
}

START_TEST(dropped_connection)
{
    expect_failure(NULL, KEY, 0, "[[fake:stream;deltas=6;drop_after=2]] hi", "hermes_stream_interrupted", 30000);
}
END_TEST

START_TEST(upstream_rate_limited)
{
    expect_failure(NULL, KEY, 0, "[[fake:stream;status_code=429]] hi", "hermes_rate_limited", 30000);
}
END_TEST

START_TEST(wrong_key)
{
    expect_failure(NULL, "not-the-key", 0, "hi", "hermes_response_invalid", 30000);
}
END_TEST

START_TEST(upstream_down)
{
    /* a port nothing listens on: refused at once; the run fails within about a second */
    int closed = hlt_free_port();
    expect_failure(NULL, KEY, closed, "hi", "hermes_api_server_unavailable", 30000);
}
END_TEST

START_TEST(utf8_split_into_bytes)
{
    ctx_t ctx, *x = &ctx;
    start(x, NULL, KEY, 0);
    char *conv;
    json_t *sent;
    hltc_events_t *e = run_one(x, HLT_H1, "[[fake:unicode;chunking=bytes]] hi", &conv, &sent);
    ck_assert_msg(hltc_find(e, "run.completed", NULL, NULL) >= 0, "no run.completed");
    json_t *m = assistant_of(x, conv, sent);
    const char *t = text_of(m);
    ck_assert_msg(strstr(t, "\xF0\x9F") != NULL || strstr(t, "\xC3") != NULL || strstr(t, "\xE2") != NULL,
                  "no multi-byte character in %s", t);
    ck_assert_msg(strstr(t, "data: not-an-event") != NULL, "the escaped SSE text was lost: %s", t);
    json_decref(m);
    json_decref(sent);
    events_free(e);
    free(conv);
    stop(x);
}
END_TEST

START_TEST(queued_runs_in_order)
{
    ctx_t ctx, *x = &ctx;
    start(x, NULL, KEY, 0);
    char *conv = hltc_create(D, HLT_H1, TOK, "queue");
    json_t *s1 = hltc_send(D, HLT_H1, TOK, conv, "[[fake:stream;deltas=3;gap_ms=100]] first");
    json_t *s2 = hltc_send(D, HLT_H1, TOK, conv, "[[fake:stream;deltas=2;text=second answer]] second");
    ck_assert_str_eq(hlt_str(json_object_get(s2, "run"), "status"), "queued");
    hltc_events_t *e = hltc_wait_runs_done(D, TOK, conv, 45000);
    long c1 = hltc_find(e, "run.completed", "run_id", hlt_str(json_object_get(s1, "run"), "id"));
    long c2 = hltc_find(e, "run.completed", "run_id", hlt_str(json_object_get(s2, "run"), "id"));
    ck_assert_msg(c1 >= 0 && c2 > c1, "runs did not complete in order (%ld, %ld)", c1, c2);
    json_t *m = assistant_of(x, conv, s2);
    ck_assert_str_eq(text_of(m), "second answer");
    json_decref(m);
    events_free(e);
    json_decref(s1);
    json_decref(s2);
    free(conv);
    stop(x);
}
END_TEST

/* kill -9 while a run streams, then a restart: the run is reconciled with the upstream (its events are gone with the
 * old subscriber, so the new process asks GET /v1/runs/{id}) and completes with the whole answer. */
START_TEST(crash_mid_run_reconciled)
{
    ctx_t ctx, *x = &ctx;
    start(x, NULL, KEY, 0);
    char *conv = hltc_create(D, HLT_H1, TOK, "crash");
    json_t *sent = hltc_send(D, HLT_H1, TOK, conv, "[[fake:stream;deltas=40;gap_ms=100;text=a b c d e f g h i j]] go");
    const char *run = hlt_str(json_object_get(sent, "run"), "id");
    /* wait for the first streamed text, then kill */
    long deadline = hlt_now_ms() + 30000;
    int streaming = 0;
    while (!streaming && hlt_now_ms() < deadline) {
        json_t *m = assistant_of(x, conv, sent);
        streaming = strlen(text_of(m)) > 0;
        json_decref(m);
        if (!streaming)
            hlt_sleep_ms(20);
    }
    ck_assert_msg(streaming, "no text streamed before the kill");
    hltc_kill9(D);
    hlt_daemon_dispose(D);
    hlt_daemon_opts_t o = {.env = &x->env, .tls = 1};
    hlt_daemon_start(D, &o);
    hltc_events_t *e = hltc_wait_runs_done(D, TOK, conv, 45000);
    ck_assert_msg(hltc_find(e, "run.completed", "run_id", run) >= 0, "the run was not reconciled as completed");
    json_t *m = assistant_of(x, conv, sent);
    ck_assert_str_eq(hlt_str(m, "status"), "completed");
    ck_assert_str_eq(text_of(m), "a b c d e f g h i j");
    json_decref(m);
    /* the new process asked the upstream for the run's status */
    json_t *reqs = fake_requests(x);
    int polled = 0;
    size_t i;
    json_t *q;
    json_array_foreach(reqs, i, q) polled |= strcmp(hlt_str(q, "method"), "GET") == 0 &&
                                             strncmp(hlt_str(q, "path"), "/v1/runs/run_", 13) == 0 &&
                                             strstr(hlt_str(q, "path"), "/events") == NULL;
    ck_assert_msg(polled, "no GET /v1/runs/{id} after the restart");
    json_decref(reqs);
    events_free(e);
    json_decref(sent);
    free(conv);
    stop(x);
}
END_TEST

/* An approval answered 200 whose decision Hermes had not taken when the process died (here its POST got a 503, then the
 * kill): the next start sends it again while reconciling the run, which then completes with the tool approved. Before,
 * the decision stayed `approved` in link.db and never reached Hermes (found by kill9_loop). */
START_TEST(crash_after_approval_resends_decision)
{
    ctx_t ctx, *x = &ctx;
    start(x, NULL, KEY, 0);
    char *conv = hltc_create(D, HLT_H1, TOK, "decided, then the crash");
    json_t *sent = hltc_send(D, HLT_H1, TOK, conv, "[[fake:approval;timeout_ms=120000]] clean up");
    const char *run = hlt_str(json_object_get(sent, "run"), "id");
    hltc_sse_t s;
    char *path = hl_asprintf("/api/v1/conversations/%s/events", conv);
    hltc_sse_open(&s, D, HLT_H1, TOK, path, NULL, NULL);
    long deadline = hlt_now_ms() + 30000, a = -1;
    while (a < 0 && hlt_now_ms() < deadline) {
        hltc_sse_pump(&s, 50);
        a = hltc_find(&s.ev, "approval.requested", NULL, NULL);
    }
    ck_assert_msg(a >= 0, "no approval.requested");
    char *id = hl_strdup(hlt_str(json_object_get(json_object_get(s.ev.v[a].json, "payload"), "approval"), "id"));
    hltc_sse_close(&s);
    void *db = hltc_db_open(&x->env, 0);
    char *up = hltc_db_str(db, "SELECT upstream_run_id FROM runs WHERE id = ?1", run);
    hltc_db_close(db);
    ck_assert_ptr_nonnull(up);
    /* the decision is answered, but Hermes refuses it this once */
    char *ap = hl_asprintf("/v1/runs/%s/approval", up);
    hlt_fake_respond(&x->fake, "POST", ap, 503, "{\"error\":{\"message\":\"busy\"}}", 1);
    char *pd = hl_asprintf("/api/v1/conversations/%s/approvals/%s/approve", conv, id);
    json_decref(hltc_call(D, HLT_H1, TOK, "POST", pd, "{\"scope\":\"once\"}", 200));
    ck_assert(hlt_fake_wait_request(&x->fake, "POST", ap, NULL, 30000));
    hlt_sleep_ms(300); /* the 503 reaches the daemon, which keeps the decision as not delivered */
    hltc_kill9(D);
    hlt_daemon_dispose(D);
    hlt_daemon_opts_t o = {.env = &x->env, .tls = 1};
    hlt_daemon_start(D, &o);
    hltc_events_t *e = hltc_wait_runs_done(D, TOK, conv, 30000);
    ck_assert_msg(hltc_find(e, "run.completed", "run_id", run) >= 0, "the run did not complete");
    hlt_response_t res;
    hlt_fake_request(&x->fake, "GET", hltc_fmt("/__fake/runs/%s", up), NULL, NULL, &res);
    json_t *choices = json_object_get(res.json, "approval_choices");
    ck_assert_msg(json_array_size(choices) == 1 && strcmp(json_string_value(json_array_get(choices, 0)), "once") == 0,
                  "Hermes got %s", res.body);
    hlt_response_free(&res);
    db = hltc_db_open(&x->env, 0);
    ck_assert_int_eq(hltc_db_int(db, "SELECT delivered_at IS NOT NULL FROM approvals WHERE id = ?1", id), 1);
    hltc_db_close(db);
    events_free(e);
    free(pd);
    free(ap);
    free(up);
    free(id);
    free(path);
    json_decref(sent);
    free(conv);
    stop(x);
}
END_TEST

static int64_t db_bytes(ctx_t *x)
{
    void *db = hltc_db_open(&x->env, 0);
    int64_t pages = hltc_db_int(db, "PRAGMA page_count", NULL), size = hltc_db_int(db, "PRAGMA page_size", NULL);
    sqlite3_close(db);
    return pages * size;
}

/* A long answer streamed as 20,000 deltas: message.updated stays coalesced in time (at most about 20 a second, the last
 * text always sent) and link.db grows by at most 3× the answer's bytes (issue 8). */
START_TEST(long_answer_coalesced_and_compact)
{
    ctx_t ctx, *x = &ctx;
    start(x, NULL, KEY, 0);
    char *conv = hltc_create(D, HLT_H1, TOK, "long");
    /* a first answer, so that the tables and the index exist before the measurement */
    json_t *warm = hltc_send(D, HLT_H1, TOK, conv, "[[fake:stream;deltas=3]] warm up");
    hltc_events_t *e0 = hltc_wait_runs_done(D, TOK, conv, 45000);
    events_free(e0);
    json_decref(warm);
    int64_t before = db_bytes(x);
    long t0 = hlt_now_ms();
    json_t *sent = hltc_send(D, HLT_H1, TOK, conv, "[[fake:stream;deltas=80000;gap_ms=0]] a long one");
    hltc_events_t *e = hltc_wait_runs_done(D, TOK, conv, 60000);
    long took = hlt_now_ms() - t0;
    int64_t after = db_bytes(x);
    const char *run = hlt_str(json_object_get(sent, "run"), "id");
    size_t updates = 0;
    const char *last_text = NULL;
    for (size_t i = 0; i < e->n; ++i)
        if (strcmp(e->v[i].type, "message.updated") == 0 && hlt_str(e->v[i].json, "run_id") != NULL &&
            strcmp(hlt_str(e->v[i].json, "run_id"), run) == 0) {
            updates++;
            last_text = text_of(json_object_get(json_object_get(e->v[i].json, "payload"), "message"));
        }
    json_t *m = assistant_of(x, conv, sent);
    size_t text_bytes = strlen(text_of(m));
    ck_assert_msg(strcmp(hlt_str(m, "status"), "completed") == 0, "the long run ended %s: %s", hlt_str(m, "status"),
                  hltc_find(e, "run.failed", "run_id", run) >= 0 ? e->v[hltc_find(e, "run.failed", "run_id", run)].data : "");
    ck_assert_uint_ge(text_bytes, 80000);
    ck_assert_ptr_nonnull(last_text);
    ck_assert_str_eq(last_text, text_of(m)); /* the last update carries the whole answer */
    ck_assert_msg(updates <= (size_t)(took / 50) + 3, "%zu message.updated in %ld ms: not coalesced", updates, took);
    if (getenv("HLT_VERBOSE") != NULL) {
        void *db = hltc_db_open(&x->env, 0);
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(db, "SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC LIMIT 12", -1, &st, NULL) ==
            SQLITE_OK) {
            while (sqlite3_step(st) == SQLITE_ROW)
                fprintf(stderr, "  %-32s %lld\n", sqlite3_column_text(st, 0), (long long)sqlite3_column_int64(st, 1));
            sqlite3_finalize(st);
        }
        fprintf(stderr, "  freelist pages %lld\n", (long long)hltc_db_int(db, "PRAGMA freelist_count", NULL));
        sqlite3_close(db);
    }
    double ratio = (double)(after - before) / (double)text_bytes;
    fprintf(stderr, "long answer: %zu bytes of text, %zu updates in %ld ms, link.db +%lld bytes (%.2fx)\n", text_bytes, updates,
            took, (long long)(after - before), ratio);
    ck_assert_msg(ratio <= 3.0, "link.db grew by %.2fx the answer's bytes", ratio);
    json_decref(m);
    events_free(e);
    json_decref(sent);
    free(conv);
    stop(x);
}
END_TEST

/* ---- direct runs: POST /api/v1/runs, the relay of /api/v1/runs/:id/events, cancel ---- */

static char *post_run(ctx_t *x, hlt_proto_t p, const char *input)
{
    json_t *in = json_pack("{s:s, s:[]}", "input", input, "conversation_history");
    char *body = json_dumps(in, JSON_COMPACT);
    json_decref(in);
    hlt_request_t req = {.method = "POST",
                         .path = "/api/v1/runs",
                         .body = body,
                         .body_len = strlen(body),
                         .headers = (const char *const[]){"Content-Type: application/json", NULL}};
    char *auth = hl_asprintf("Authorization: Bearer %s", TOK);
    const char *headers[] = {"Content-Type: application/json", auth, NULL};
    req.headers = headers;
    hlt_response_t res;
    hlt_fetch(D, p, &req, &res);
    ck_assert_msg(res.status == 202, "POST /api/v1/runs: %ld %s", res.status, res.body);
    ck_assert(json_is_false(json_object_get(res.json, "fallback")));
    ck_assert_ptr_null(json_object_get(res.json, "ok")); /* [no ok] */
    char *id = hl_strdup(hlt_str(res.json, "run_id"));
    hlt_response_free(&res);
    free(auth);
    free(body);
    return id;
}

/* Reads /api/v1/runs/:id/events (extra header e.g. Last-Event-ID) until the response ends; returns the events. */
static hltc_sse_t *read_run(ctx_t *x, hlt_proto_t p, const char *run, const char *extra)
{
    char *path = hl_asprintf("/api/v1/runs/%s/events", run);
    const char *headers[] = {extra, NULL};
    hltc_sse_t *s = calloc(1, sizeof(*s));
    hltc_sse_open(s, D, p, TOK, path, extra != NULL ? headers : NULL, NULL);
    long deadline = hlt_now_ms() + 45000;
    while (!s->done && hlt_now_ms() < deadline)
        hltc_sse_pump(s, 50);
    ck_assert_msg(s->done, "the run's stream did not end");
    ck_assert_int_eq(s->res.status, 200);
    ck_assert_str_eq(hlt_header(&s->res, "content-type"), "text/event-stream; charset=utf-8");
    ck_assert_str_eq(hlt_header(&s->res, "cache-control"), "no-store");
    free(path);
    return s;
}

static void close_run(hltc_sse_t *s)
{
    hltc_sse_close(s);
    free(s);
}

/* The bytes of an SSE body's `data` lines, each with its LF. */
static size_t data_line_bytes(const char *body)
{
    size_t n = 0;
    for (const char *line = body; *line != '\0';) {
        const char *lf = strchr(line, '\n');
        size_t len = lf != NULL ? (size_t)(lf - line) + 1 : strlen(line);
        if (strncmp(line, "data", 4) == 0)
            n += len;
        line += len;
    }
    return n;
}

static void direct_relay(hlt_proto_t p)
{
    ctx_t ctx, *x = &ctx;
    start(x, NULL, KEY, 0);
    char *run = post_run(x, p, "[[fake:stream;deltas=5;in=7;out=3]] hi");
    /* two clients from the start, then a late joiner, then one resuming after frame 3 */
    hltc_sse_t *a = read_run(x, p, run, NULL), *b = read_run(x, HLT_H1, run, NULL), *late = read_run(x, p, run, NULL);
    hltc_sse_t *resumed = read_run(x, p, run, "Last-Event-ID: 3");
    hltc_sse_t *all[] = {a, b, late};
    for (size_t k = 0; k < 3; ++k) {
        hltc_events_t *e = &all[k]->ev;
        ck_assert_uint_eq(e->n, 7); /* 5 deltas, reasoning.available, run.completed */
        for (size_t i = 0; i < e->n; ++i) {
            ck_assert_int_eq(e->v[i].id, (int64_t)i + 1);
            ck_assert_ptr_null(e->v[i].type); /* the upstream's data-only frames, relayed as they came */
            ck_assert_str_eq(hlt_str(e->v[i].json, "run_id"), run);
        }
        ck_assert_str_eq(hlt_str(e->v[0].json, "event"), "message.delta");
        ck_assert_str_eq(hlt_str(e->v[6].json, "event"), "run.completed");
    }
    ck_assert_uint_eq(resumed->ev.n, 4);
    ck_assert_int_eq(resumed->ev.v[0].id, 4);
    /* byte for byte: the data line is the upstream's */
    ck_assert_ptr_nonnull(strstr(a->res.body, "\ndata: {\"event\":\"message.delta\",\"run_id\":\""));
    /* the memory report counts what the relay keeps: one relay, exactly the data lines it relayed */
    json_t *mem = memory_report(x), *caches = json_object_get(mem, "caches");
    ck_assert_msg(caches != NULL, "the memory report has no caches");
    ck_assert_int_eq(json_integer_value(json_object_get(caches, "relays")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(caches, "relay_bytes")), (json_int_t)data_line_bytes(a->res.body));
    json_decref(mem);
    close_run(a);
    close_run(b);
    close_run(late);
    close_run(resumed);
    /* the run's usage was recorded */
    long deadline = hlt_now_ms() + 30000;
    int64_t total = -1;
    while (total != 10 && hlt_now_ms() < deadline) {
        void *db = hltc_db_open(&x->env, 0);
        total = hltc_db_int(db, "SELECT total_tokens FROM direct_runs WHERE upstream_run_id = ?1", run);
        sqlite3_close(db);
        if (total != 10)
            hlt_sleep_ms(50);
    }
    ck_assert_int_eq(total, 10);
    /* the upstream saw one subscriber only */
    ck_assert_uint_eq(upstream_subscriptions(x), 1);
    free(run);
    stop(x);
}

START_TEST(direct_run_relay_h1)
{
    direct_relay(HLT_H1);
}
END_TEST

START_TEST(direct_run_relay_h2)
{
    direct_relay(HLT_H2_TLS);
}
END_TEST

START_TEST(direct_run_errors_and_cancel)
{
    ctx_t ctx, *x = &ctx;
    start(x, NULL, KEY, 0);
    hltc_call_error(D, HLT_H1, TOK, "POST", "/api/v1/runs", "{\"input\":\"   \"}", 400, "run_input_required");
    hltc_call_error(D, HLT_H1, TOK, "POST", "/api/v1/runs", "{}", 400, "run_input_required");
    hltc_call_error(D, HLT_H1, TOK, "POST", "/api/v1/runs", "{\"input\":\"x\",\"conversation_history\":{}}", 400,
                    "invalid_conversation_history");
    hltc_call_error(D, HLT_H1, TOK, "POST", "/api/v1/runs", "[\"input\"]", 400, "run_input_required");
    hltc_call_error(D, HLT_H1, TOK, "POST", "/api/v1/runs", "{\"input\":", 400, "invalid_json");
    hltc_call_error(D, HLT_H1, TOK, "POST", "/api/v1/runs", "{\"input\":42}", 400, "run_input_required");
    hltc_call_error(D, HLT_H1, TOK, "GET", "/api/v1/runs/bad%20id/events", NULL, 400, "invalid_run_id");
    hltc_call_error(D, HLT_H1, TOK, "POST", "/api/v1/runs/bad%20id/cancel", NULL, 400, "invalid_run_id");
    hltc_call_error(D, HLT_H1, TOK, "POST", "/api/v1/runs/run_x/cancel?profile=..", NULL, 400, "invalid_profile_name");
    hltc_call_error(D, HLT_H1, TOK, "GET", "/api/v1/runs/run_x/events?profile=nosuch", NULL, 404, "profile_not_found");
    hltc_call_error(D, HLT_H1, TOK, "GET", "/api/v1/runs/run_00000000000000000000000000000000/events", NULL, 404, "run_not_found");
    hltc_call_error(D, HLT_H1, TOK, "POST", "/api/v1/runs/run_00000000000000000000000000000000/cancel", NULL, 404, "run_not_found");
    /* a slow run, cancelled: the relay ends with the upstream's run.cancelled */
    char *run = post_run(x, HLT_H1, "[[fake:slow;first_delay_ms=20000]] wait");
    char *path = hl_asprintf("/api/v1/runs/%s/cancel", run);
    json_t *r = hltc_call(D, HLT_H1, TOK, "POST", path, NULL, 200);
    json_decref(r);
    hltc_sse_t *s = read_run(x, HLT_H1, run, NULL);
    ck_assert_uint_ge(s->ev.n, 1);
    ck_assert_str_eq(hlt_str(s->ev.v[s->ev.n - 1].json, "event"), "run.cancelled");
    close_run(s);
    free(path);
    free(run);
    /* the upstream's 429 */
    hltc_call_error(D, HLT_H1, TOK, "POST", "/api/v1/runs", "{\"input\":\"[[fake:stream;status_code=429]] x\"}", 429,
                    "hermes_rate_limited");
    stop(x);
}
END_TEST

START_TEST(models_verbatim_and_down)
{
    ctx_t ctx, *x = &ctx;
    start(x, NULL, KEY, 0);
    hlt_response_t res;
    hlt_fake_request(&x->fake, "POST", "/__fake/models", "{\"data\":[{\"id\":\"a\"},{\"id\":\"b\"},{\"id\":\"c\"}]}", NULL, &res);
    hlt_response_free(&res);
    for (hlt_proto_t p = HLT_H1; p <= HLT_H2_TLS; p += HLT_H2_TLS - HLT_H1) {
        char *auth = hl_asprintf("Authorization: Bearer %s", TOK);
        const char *headers[] = {auth, NULL};
        hlt_request_t req = {.path = "/api/v1/models", .headers = headers};
        hlt_fetch(D, p, &req, &res);
        ck_assert_int_eq(res.status, 200);
        ck_assert_ptr_null(json_object_get(res.json, "ok"));
        ck_assert_uint_eq(json_array_size(json_object_get(res.json, "data")), 3);
        hlt_response_free(&res);
        free(auth);
    }
    hltc_call_error(D, HLT_H1, TOK, "GET", "/api/v1/models?profile=..", NULL, 400, "invalid_profile_name");
    hltc_call_error(D, HLT_H1, TOK, "GET", "/api/v1/models?profile=nosuch", NULL, 404, "profile_not_found");
    /* the upstream goes away: 503 at once */
    const char *err = hlt_fake_stop(&x->fake);
    ck_assert_msg(err == NULL, "fake: %s", err);
    x->fake_up = 0;
    long t0 = hlt_now_ms();
    hltc_call_error(D, HLT_H1, TOK, "GET", "/api/v1/models", NULL, 503, "hermes_api_server_unavailable");
    /* not after some long connect timeout (a generous bound for a loaded machine: this is no speed check) */
    ck_assert_int_lt(hlt_now_ms() - t0, 15000);
    stop(x);
}
END_TEST

/* A stream that sends nothing ends the run (hermes_stream_stalled) and the upstream run is stopped; a run waiting on an
 * approval is not stalled by its silence (stall limits shortened for the test: 1 s, 20 s while an approval waits). */
START_TEST(stalled_stream_and_approval_wait)
{
    setenv("HERMESLINK_TEST_STALL_MS", "1000", 1);
    setenv("HERMESLINK_TEST_APPROVAL_STALL_MS", "20000", 1);
    ctx_t ctx, *x = &ctx;
    start(x, NULL, KEY, 0);
    char *conv;
    json_t *sent;
    long t0 = hlt_now_ms();
    hltc_events_t *e = run_one(x, HLT_H1, "[[fake:hang]] wait forever", &conv, &sent);
    ck_assert_str_eq(run_error_code(e), "hermes_stream_stalled");
    ck_assert_int_lt(hlt_now_ms() - t0, 30000); /* the 1 s stall limit, not the default's minutes */
    ck_assert_msg(hlt_fake_wait_request(&x->fake, NULL, NULL, "/stop", 20000), "the stalled run was not stopped upstream");
    events_free(e);
    json_decref(sent);
    free(conv);

    /* silent for 2.5 s while the approval waits: still running; approved, it completes */
    conv = hltc_create(D, HLT_H1, TOK, "approval wait");
    sent = hltc_send(D, HLT_H1, TOK, conv, "[[fake:approval]] careful");
    char *path = hl_asprintf("/api/v1/conversations/%s/events", conv);
    hltc_sse_t s;
    hltc_sse_open(&s, D, HLT_H1, TOK, path, NULL, NULL);
    long a = -1, deadline = hlt_now_ms() + 30000;
    while (a < 0 && hlt_now_ms() < deadline) {
        hltc_sse_pump(&s, 50);
        a = hltc_find(&s.ev, "approval.requested", NULL, NULL);
    }
    ck_assert_msg(a >= 0, "no approval.requested");
    char *id = hl_strdup(hlt_str(json_object_get(json_object_get(s.ev.v[a].json, "payload"), "approval"), "id"));
    hltc_sse_pump(&s, 2500);
    ck_assert_msg(hltc_find(&s.ev, "run.failed", NULL, NULL) < 0, "the run failed while its approval waited");
    hltc_sse_close(&s);
    char *pd = hl_asprintf("/api/v1/conversations/%s/approvals/%s/approve", conv, id);
    json_decref(hltc_call(D, HLT_H1, TOK, "POST", pd, NULL, 200));
    e = hltc_wait_runs_done(D, TOK, conv, 45000);
    ck_assert_msg(hltc_find(e, "run.completed", NULL, NULL) >= 0, "the approved run did not complete");
    events_free(e);
    free(pd);
    free(id);
    free(path);
    json_decref(sent);
    free(conv);
    stop(x);
}
END_TEST

/* Two clients on one conversation run's relay at the same time, opened before the upstream sends anything: both get
 * every frame, once, in order (the upstream saw one subscriber: HermesLink). */
START_TEST(two_clients_on_one_relay)
{
    ctx_t ctx, *x = &ctx;
    start(x, NULL, KEY, 0);
    char *run = post_run(x, HLT_H1, "[[fake:slow;first_delay_ms=1500;deltas=4]] later");
    char *path = hl_asprintf("/api/v1/runs/%s/events", run);
    CURLM *multi = hlt_multi_new();
    hltc_sse_t a, b;
    hltc_sse_open(&a, D, HLT_H1, TOK, path, NULL, multi);
    hltc_sse_open(&b, D, HLT_H2_TLS, TOK, path, NULL, multi);
    long deadline = hlt_now_ms() + 45000;
    while ((!a.done || !b.done) && hlt_now_ms() < deadline) {
        hltc_sse_drive(multi, 50);
        hltc_sse_update(&a);
        hltc_sse_update(&b);
    }
    ck_assert_msg(a.done && b.done, "the relayed streams did not end");
    hltc_sse_update(&a);
    hltc_sse_update(&b);
    ck_assert_uint_eq(a.ev.n, 6);
    ck_assert_uint_eq(b.ev.n, 6);
    for (size_t i = 0; i < 6; ++i) {
        ck_assert_int_eq(a.ev.v[i].id, (int64_t)i + 1);
        ck_assert_int_eq(b.ev.v[i].id, (int64_t)i + 1);
        ck_assert_str_eq(a.ev.v[i].data, b.ev.v[i].data);
    }
    hltc_sse_close(&a);
    hltc_sse_close(&b);
    curl_multi_cleanup(multi);
    free(path);
    free(run);
    stop(x);
}
END_TEST

/* A burst larger than a worker's run ring (4,096 frames) reaches a reader on one connection, whole: the stream catches up
 * from the relay instead of being ended (found by bench/proxy). */
START_TEST(relay_burst_larger_than_ring)
{
    ctx_t ctx, *x = &ctx;
    start(x, NULL, KEY, 0);
    char *run = post_run(x, HLT_H1, "[[fake:stream;deltas=12000;gap_ms=0;reasoning=0]] burst");
    hltc_sse_t *s = read_run(x, HLT_H1, run, NULL);
    ck_assert_uint_eq(s->ev.n, 12001);
    for (size_t i = 0; i < s->ev.n; ++i)
        ck_assert_int_eq(s->ev.v[i].id, (int64_t)i + 1);
    ck_assert_str_eq(hlt_str(s->ev.v[12000].json, "event"), "run.completed");
    ck_assert_ptr_null(strstr(s->res.body, "behind"));
    close_run(s);
    free(run);
    stop(x);
}
END_TEST

/* Older upstreams: v0.15 takes approval answers (forwarded); v0.12 has no approval route, which its capabilities say, so
 * the answer is not sent there (the agent decides when its approval times out) and the run still completes. */
static void old_dialect(const char *dialect, int forwards)
{
    ctx_t ctx, *x = &ctx;
    const char *args[] = {"--key", KEY, "--time-scale", "0.5", "--dialect", dialect, NULL};
    start(x, args, KEY, 0);
    char *conv = hltc_create(D, HLT_H1, TOK, dialect);
    json_t *sent = hltc_send(D, HLT_H1, TOK, conv, "[[fake:approval;timeout_ms=3000]] old upstream");
    char *path = hl_asprintf("/api/v1/conversations/%s/events", conv);
    hltc_sse_t s;
    hltc_sse_open(&s, D, HLT_H1, TOK, path, NULL, NULL);
    long a = -1, deadline = hlt_now_ms() + 30000;
    while (a < 0 && hlt_now_ms() < deadline) {
        hltc_sse_pump(&s, 50);
        a = hltc_find(&s.ev, "approval.requested", NULL, NULL);
    }
    ck_assert_msg(a >= 0, "no approval.requested from %s", dialect);
    char *id = hl_strdup(hlt_str(json_object_get(json_object_get(s.ev.v[a].json, "payload"), "approval"), "id"));
    hltc_sse_close(&s);
    char *pd = hl_asprintf("/api/v1/conversations/%s/approvals/%s/approve", conv, id);
    json_decref(hltc_call(D, HLT_H1, TOK, "POST", pd, NULL, 200));
    hltc_events_t *e = hltc_wait_runs_done(D, TOK, conv, 45000);
    ck_assert_msg(hltc_find(e, "run.completed", NULL, NULL) >= 0, "the run on %s did not complete", dialect);
    json_t *reqs = fake_requests(x);
    int caps = 0, approvals = 0;
    size_t i;
    json_t *q;
    json_array_foreach(reqs, i, q)
    {
        caps |= strcmp(hlt_str(q, "path"), "/v1/capabilities") == 0;
        approvals += strstr(hlt_str(q, "path"), "/approval") != NULL;
    }
    ck_assert_msg(caps, "the capabilities of %s were not read", dialect);
    ck_assert_int_eq(approvals, forwards);
    json_decref(reqs);
    events_free(e);
    free(pd);
    free(id);
    free(path);
    json_decref(sent);
    free(conv);
    stop(x);
}

START_TEST(dialect_v015_forwards_approvals)
{
    old_dialect("v0.15", 1);
}
END_TEST

START_TEST(dialect_v012_has_no_approval_route)
{
    old_dialect("v0.12", 0);
}
END_TEST

/* A direct run whose upstream events stream goes silent (not even a keep-alive) ends as a dropped one does: the relay's
 * stream ends with run.failed, the run is recorded as failed and the upstream run is asked to stop (stall limit 1 s). */
START_TEST(direct_run_stalled)
{
    setenv("HERMESLINK_TEST_STALL_MS", "1000", 1);
    ctx_t ctx, *x = &ctx;
    start(x, NULL, KEY, 0);
    long t0 = hlt_now_ms();
    char *run = post_run(x, HLT_H1, "[[fake:hang]] wait forever");
    hltc_sse_t *s = read_run(x, HLT_H1, run, NULL);
    ck_assert_int_lt(hlt_now_ms() - t0, 30000); /* the 1 s stall limit, not the default's minutes */
    ck_assert_uint_ge(s->ev.n, 1);
    json_t *last = s->ev.v[s->ev.n - 1].json;
    ck_assert_str_eq(hlt_str(last, "event"), "run.failed");
    ck_assert_ptr_nonnull(strstr(hlt_str(last, "error"), "Hermes sent nothing"));
    close_run(s);
    long deadline = hlt_now_ms() + 30000;
    char *status = NULL;
    int stopped = 0;
    while ((status == NULL || !stopped) && hlt_now_ms() < deadline) {
        free(status);
        void *db = hltc_db_open(&x->env, 0);
        status = hltc_db_str(db, "SELECT status FROM direct_runs WHERE upstream_run_id = ?1", run);
        hltc_db_close(db);
        json_t *reqs = fake_requests(x);
        size_t i;
        json_t *q;
        json_array_foreach(reqs, i, q) stopped |= strstr(hlt_str(q, "path"), "/stop") != NULL;
        json_decref(reqs);
        if (status == NULL || !stopped)
            hlt_sleep_ms(50);
    }
    ck_assert_msg(status != NULL && strcmp(status, "failed") == 0, "the stalled run was recorded as %s", status);
    ck_assert_msg(stopped, "the stalled run was not stopped upstream");
    free(status);
    free(run);
    stop(x);
}
END_TEST

/* POST /api/v1/runs/:id/cancel when the upstream cannot stop runs: its 405 or 501 → 501 hermes_cancel_unsupported; any
 * other failure → 502 hermes_cancel_failed; its 404 stays 404 run_not_found (the fake's /__fake/stop sets the answer). */
START_TEST(direct_run_cancel_unsupported)
{
    ctx_t ctx, *x = &ctx;
    start(x, NULL, KEY, 0);
    char *run = post_run(x, HLT_H1, "[[fake:slow;first_delay_ms=20000]] wait");
    char *path = hl_asprintf("/api/v1/runs/%s/cancel", run);
    static const struct {
        int upstream;
        long status;
        const char *code;
    } cases[] = {{405, 501, "hermes_cancel_unsupported"},
                 {501, 501, "hermes_cancel_unsupported"},
                 {500, 502, "hermes_cancel_failed"},
                 {409, 502, "hermes_cancel_failed"},
                 {404, 404, "run_not_found"}};
    hlt_response_t res;
    for (size_t i = 0; i < HL_ARRAY_SIZE(cases); ++i) {
        char *ctl = hl_asprintf("{\"status\":%d,\"error\":\"no stopping here\"}", cases[i].upstream);
        hlt_fake_request(&x->fake, "POST", "/__fake/stop", ctl, NULL, &res);
        ck_assert_int_eq(res.status, 200);
        hlt_response_free(&res);
        free(ctl);
        hltc_call_error(D, HLT_H1, TOK, "POST", path, NULL, cases[i].status, cases[i].code);
    }
    /* the upstream stops runs again: cancelled */
    hlt_fake_request(&x->fake, "POST", "/__fake/stop", "{\"status\":0}", NULL, &res);
    ck_assert_int_eq(res.status, 200);
    hlt_response_free(&res);
    json_decref(hltc_call(D, HLT_H1, TOK, "POST", path, NULL, 200));
    free(path);
    free(run);
    stop(x);
}
END_TEST

Suite *suite_agent_runs(void)
{
    Suite *s = suite_create("agent_runs");
    TCase *tc = tcase_create("runs");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, stream_h1);
    tcase_add_test(tc, stream_h2);
    tcase_add_test(tc, tool_events);
    tcase_add_test(tc, approval_approve);
    tcase_add_test(tc, approval_deny);
    tcase_add_test(tc, failing_run);
    tcase_add_test(tc, slow_run_cancelled);
    tcase_add_test(tc, history_not_kept_while_streaming);
    tcase_add_test(tc, dropped_connection);
    tcase_add_test(tc, upstream_rate_limited);
    tcase_add_test(tc, wrong_key);
    tcase_add_test(tc, upstream_down);
    tcase_add_test(tc, utf8_split_into_bytes);
    tcase_add_test(tc, queued_runs_in_order);
    tcase_add_test(tc, crash_mid_run_reconciled);
    tcase_add_test(tc, long_answer_coalesced_and_compact);
    tcase_add_test(tc, direct_run_relay_h1);
    tcase_add_test(tc, direct_run_relay_h2);
    tcase_add_test(tc, direct_run_errors_and_cancel);
    tcase_add_test(tc, models_verbatim_and_down);
    tcase_add_test(tc, stalled_stream_and_approval_wait);
    tcase_add_test(tc, two_clients_on_one_relay);
    tcase_add_test(tc, relay_burst_larger_than_ring);
    tcase_add_test(tc, dialect_v015_forwards_approvals);
    tcase_add_test(tc, dialect_v012_has_no_approval_route);
    tcase_add_test(tc, direct_run_stalled);
    tcase_add_test(tc, direct_run_cancel_unsupported);
    suite_add_tcase(s, tc);
    TCase *crash = tcase_create("decision_resend"); /* on its own: CK_RUN_CASE=decision_resend */
    tcase_set_timeout(crash, 120);
    tcase_add_test(crash, crash_after_approval_resends_decision);
    suite_add_tcase(s, crash);
    return s;
}
