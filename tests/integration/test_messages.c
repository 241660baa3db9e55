/*
 * Messages and runs (spec/API.md §7, FLOWS.md §4, issue 4): sending stores the user message, the assistant placeholder and a
 * run, emits message.created ×2 and run.started, and the run fails at once with run.failed (payload.error.code
 * hermes_api_server_unavailable, the runproxy stub) — over every protocol; input errors; the message window with
 * before-cursors; rapid sends on one conversation queue behind the active run and are drained (never stuck queued, one
 * run at a time); cancelling a running and a queued run, made deterministic by the test-mode hold of the runproxy stub
 * (/__test/runproxy/hold), over every protocol; the notifications filter of the all-conversations stream, live and resumed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness_conv.h"
#include "hl/common.h"

static hltc_ctx_t ctx;
#define D (&ctx.d)
#define TOK (ctx.dev.access)

static void setup(void)
{
    hltc_start(&ctx, 1, NULL);
}

static void teardown(void)
{
    hltc_teardown_shared(&ctx, "messages daemon");
}

static const hlt_proto_t PROTOS[] = {HLT_H1, HLT_H2C, HLT_H2C_UPGRADE, HLT_H2_TLS};

/* Asserts the common fields of a conversation event. */
static void assert_event(const hltc_event_t *e, const char *conv, int64_t seq, const char *type)
{
    ck_assert_msg(e->id == seq, "event id %lld, expected %lld (%s)", (long long)e->id, (long long)seq, e->data);
    ck_assert_msg(e->type != NULL && strcmp(e->type, type) == 0, "event %lld is %s, expected %s", (long long)seq, e->type, type);
    ck_assert_str_eq(hlt_str(e->json, "type"), type);
    ck_assert_int_eq(json_integer_value(json_object_get(e->json, "seq")), seq);
    ck_assert_str_eq(hlt_str(e->json, "conversation_id"), conv);
    hlt_iso(e->json, "created_at");
    ck_assert(json_is_integer(json_object_get(e->json, "event_id")));
    ck_assert(json_is_object(json_object_get(e->json, "payload")));
}

static void assert_run(json_t *run, const char *id, const char *conv, const char *status)
{
    ck_assert_str_eq(hlt_str(run, "id"), id);
    ck_assert_str_eq(hlt_str(run, "kind"), "agent");
    ck_assert_str_eq(hlt_str(run, "conversation_id"), conv);
    hltc_assert_id(hlt_str(run, "trigger_message_id"), "msg_");
    hltc_assert_id(hlt_str(run, "assistant_message_id"), "msg_");
    ck_assert(json_is_null(json_object_get(run, "hermes_session_id")));
    ck_assert_str_eq(hlt_str(run, "status"), status);
    hlt_iso(run, "started_at");
}

START_TEST(test_send_flow)
{
    hlt_proto_t p = PROTOS[_i];
    char *id = hltc_create(D, p, TOK, NULL);
    /* a stream open before the send: replay (conversation.created) then live */
    hltc_sse_t s;
    hltc_sse_open(&s, D, p, TOK, hltc_fmt("/api/v1/conversations/%s/events", id), NULL, NULL);
    ck_assert(hltc_sse_wait(&s, 1, 0, 10000));

    /* 😀 is two UTF-16 code units: the title takes the first 60 units of the trimmed text */
    char text[200] = "  \xF0\x9F\x98\x80", want_title[200] = "\xF0\x9F\x98\x80";
    for (int i = 0; i < 70; ++i)
        strcat(text, "a");
    for (int i = 0; i < 58; ++i)
        strcat(want_title, "a");
    strcat(text, " \n");
    json_t *b = json_pack("{s:s, s:s}", "text", text, "client_message_id", "cm-1");
    char *body = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    json_t *r = hltc_call(D, p, TOK, "POST", hltc_fmt("/api/v1/conversations/%s/messages", id), body, 202);
    free(body);
    const char *user = hlt_str(json_object_get(r, "user_message"), "id"),
               *asst = hlt_str(json_object_get(r, "assistant_message"), "id"), *run = hlt_str(json_object_get(r, "run"), "id");
    ck_assert_int_eq(json_integer_value(json_object_get(r, "last_event_seq")), 4);
    json_t *summary = json_object_get(r, "conversation");
    hltc_assert_summary(summary, "send response conversation");
    ck_assert_str_eq(hlt_str(summary, "title"), want_title);
    ck_assert_int_eq(json_integer_value(json_object_get(summary, "last_event_seq")), 4);
    json_t *lm = json_object_get(summary, "last_message");
    hlt_assert_keys(lm, "last_message", "id", "role", "content_preview", NULL);

    ck_assert_msg(hltc_sse_wait(&s, 6, 0, 10000), "over %s: only %zu events: %s", hlt_proto_name(p), s.ev.n, s.res.body);
    hltc_sse_assert_head(&s);
    hltc_event_t *ev = s.ev.v;
    assert_event(&ev[0], id, 1, "conversation.created");
    assert_event(&ev[1], id, 2, "message.created");
    ck_assert_str_eq(hlt_str(ev[1].json, "message_id"), user);
    ck_assert_msg(json_object_get(ev[1].json, "run_id") == NULL, "user message.created has a run_id");
    json_t *m = json_object_get(json_object_get(ev[1].json, "payload"), "message");
    hltc_assert_message(m, "user message");
    ck_assert_str_eq(hlt_str(m, "id"), user);
    ck_assert_str_eq(hlt_str(m, "role"), "user");
    ck_assert_str_eq(hlt_str(m, "client_message_id"), "cm-1");
    ck_assert_str_eq(hlt_str(json_array_get(json_object_get(m, "parts"), 0), "text"), hltc_fmt("\xF0\x9F\x98\x80%.70s", text + 6));
    assert_event(&ev[2], id, 3, "message.created");
    ck_assert_str_eq(hlt_str(ev[2].json, "message_id"), asst);
    ck_assert_str_eq(hlt_str(ev[2].json, "run_id"), run);
    m = json_object_get(json_object_get(ev[2].json, "payload"), "message");
    hltc_assert_message(m, "assistant placeholder");
    ck_assert_str_eq(hlt_str(m, "status"), "streaming");
    ck_assert_str_eq(hlt_str(json_array_get(json_object_get(m, "parts"), 0), "text"), "");
    assert_event(&ev[3], id, 4, "run.started");
    ck_assert_str_eq(hlt_str(ev[3].json, "message_id"), asst);
    ck_assert_str_eq(hlt_str(ev[3].json, "run_id"), run);
    assert_run(json_object_get(json_object_get(ev[3].json, "payload"), "run"), run, id, "running");
    /* then the stub fails the run: message.failed and run.failed with the code */
    long f = hltc_find(&s.ev, "run.failed", "run_id", run);
    if (f < 0) {
        ck_assert(hltc_sse_wait(&s, 7, 0, 20000));
        f = hltc_find(&s.ev, "run.failed", "run_id", run);
    }
    ck_assert_msg(f >= 0, "no run.failed: %s", s.res.body);
    long mf = hltc_find(&s.ev, "message.failed", "message_id", asst);
    ck_assert_msg(mf >= 0 && mf < f, "message.failed missing or after run.failed");
    json_t *payload = json_object_get(s.ev.v[f].json, "payload");
    json_t *frun = json_object_get(payload, "run");
    assert_run(frun, run, id, "failed");
    hlt_iso(frun, "completed_at");
    hlt_str(frun, "error_message");
    ck_assert_str_eq(hlt_str(json_object_get(payload, "error"), "code"), "hermes_api_server_unavailable");
    hlt_str(json_object_get(payload, "error"), "message");
    ck_assert_str_eq(hlt_str(json_object_get(json_object_get(s.ev.v[mf].json, "payload"), "message"), "status"), "failed");
    for (size_t i = 0; i < s.ev.n; ++i)
        ck_assert_int_eq(s.ev.v[i].id, (int64_t)i + 1); /* no gap, no duplicate */
    hltc_sse_close(&s);

    /* the stored messages */
    json_t *msgs = hltc_messages(D, p, TOK, id);
    json_t *list = json_object_get(msgs, "messages");
    ck_assert_int_eq(json_array_size(list), 2);
    json_t *mu = json_array_get(list, 0), *ma = json_array_get(list, 1);
    hltc_assert_message(mu, "stored user message");
    hltc_assert_message(ma, "stored assistant message");
    ck_assert_str_eq(hlt_str(mu, "id"), user);
    ck_assert_str_eq(hlt_str(mu, "status"), "completed");
    ck_assert_str_eq(hlt_str(json_array_get(json_object_get(mu, "parts"), 0), "text"), hltc_fmt("\xF0\x9F\x98\x80%.70s", text + 6));
    ck_assert_int_eq(json_array_size(json_object_get(mu, "attachments")), 0);
    ck_assert_str_eq(hlt_str(ma, "id"), asst);
    ck_assert_str_eq(hlt_str(ma, "status"), "failed");
    ck_assert_str_eq(hlt_str(ma, "run_id"), run);
    ck_assert_msg(json_object_get(ma, "client_message_id") == NULL, "the assistant message carries client_message_id");
    json_t *page = json_object_get(msgs, "page");
    ck_assert_str_eq(hlt_str(page, "oldest_message_id"), user);
    ck_assert_str_eq(hlt_str(page, "newest_message_id"), asst);
    ck_assert(json_is_false(json_object_get(page, "has_more_before")) && json_is_false(json_object_get(page, "has_more_after")));
    json_decref(msgs);
    json_decref(r);
    free(id);
}
END_TEST

START_TEST(test_send_errors)
{
    char *id = hltc_create(D, HLT_H1, TOK, "errors");
    char path[200];
    snprintf(path, sizeof(path), "/api/v1/conversations/%s/messages", id);
    static const char *const empty[] = {NULL,
                                        "{}",
                                        "{\"content\":\"\"}",
                                        "{\"content\":\"  \\n\\t \"}",
                                        "{\"content\":42}",
                                        "{\"attachments\":[]}",
                                        "{\"blobs\":[]}",
                                        "[\"content\"]"};
    for (size_t i = 0; i < HL_ARRAY_SIZE(empty); ++i)
        hltc_call_error(D, HLT_H1, TOK, "POST", path, empty[i], 400, "message_content_required");
    hltc_call_error(D, HLT_H1, TOK, "POST", path, "{\"content\":", 400, "invalid_json");
    hltc_call_error(D, HLT_H1, NULL, "POST", path, "{\"content\":\"x\"}", 401, "auth_required");
    hltc_call_error(D, HLT_H1, TOK, "POST", "/api/v1/conversations/conv_/messages", "{\"content\":\"x\"}", 400,
                    "invalid_conversation_id");
    hltc_call_error(D, HLT_H1, TOK, "POST", "/api/v1/conversations/conv_a.b/messages", "{\"content\":\"x\"}", 400,
                    "invalid_conversation_id");
    hltc_call_error(D, HLT_H1, TOK, "POST", "/api/v1/conversations/conv_abc/messages", "{\"content\":\"x\"}", 404,
                    "conversation_not_found");
    hltc_call_error(D, HLT_H1, TOK, "GET", "/api/v1/conversations/conv_abc/messages", NULL, 404, "conversation_not_found");
    hltc_call_error(D, HLT_H1, TOK, "GET", "/api/v1/conversations/c0nv_abc/messages", NULL, 400, "invalid_conversation_id");
    /* aliases: input; text wins over nothing; the Idempotency-Key header is accepted */
    hlt_response_t res;
    static const char *const hdr[] = {"Idempotency-Key: k1", NULL};
    hlt_api_ex(D, HLT_H1, "POST", path, hdr, TOK, "{\"input\":\"via input\"}", &res);
    ck_assert_msg(res.status == 202, "input alias: %ld %s", res.status, res.body);
    hlt_response_free(&res);
    json_t *msgs = hltc_messages(D, HLT_H1, TOK, id);
    ck_assert_str_eq(
        hlt_str(json_array_get(json_object_get(json_array_get(json_object_get(msgs, "messages"), 0), "parts"), 0), "text"),
        "via input");
    json_decref(msgs);
    free(id);
}
END_TEST

START_TEST(test_messages_paging)
{
    char *id = hltc_create(D, HLT_H1, TOK, "paging");
    for (int i = 0; i < 5; ++i) {
        json_decref(hltc_send(D, HLT_H1, TOK, id, hltc_fmt("m%d", i)));
        hltc_events_t *e = hltc_wait_runs_done(D, TOK, id, 10000);
        hltc_events_free(e);
        free(e);
    }
    /* 10 messages; walk back 3 at a time */
    json_t *all = hltc_messages(D, HLT_H1, TOK, id);
    json_t *list = json_object_get(all, "messages");
    ck_assert_int_eq(json_array_size(list), 10);
    for (int i = 0; i < 10; ++i)
        ck_assert_str_eq(hlt_str(json_array_get(list, (size_t)i), "role"), i % 2 == 0 ? "user" : "assistant");
    char before[64] = "";
    size_t got = 0;
    int pages = 0;
    for (;;) {
        const char *path = before[0] ? hltc_fmt("/api/v1/conversations/%s/messages?limit=3&before_message_id=%s", id, before)
                                     : hltc_fmt("/api/v1/conversations/%s/messages?limit=3", id);
        json_t *j = hltc_call(D, HLT_H1, TOK, "GET", path, NULL, 200);
        json_t *page = json_object_get(j, "page"), *ms = json_object_get(j, "messages");
        size_t n = json_array_size(ms);
        ++pages;
        ck_assert_int_le(n, 3);
        /* the window is the `n` messages right before the cursor, oldest first */
        for (size_t k = 0; k < n; ++k)
            ck_assert_str_eq(hlt_str(json_array_get(ms, k), "id"), hlt_str(json_array_get(list, 10 - got - n + k), "id"));
        ck_assert_int_eq(json_is_true(json_object_get(page, "has_more_after")), before[0] != '\0');
        int more = json_is_true(json_object_get(page, "has_more_before"));
        ck_assert_int_eq(more, got + n < 10);
        ck_assert_str_eq(hlt_str(page, "oldest_message_id"), hlt_str(json_array_get(ms, 0), "id"));
        ck_assert_str_eq(hlt_str(page, "newest_message_id"), hlt_str(json_array_get(ms, n - 1), "id"));
        got += n;
        snprintf(before, sizeof(before), "%s", hlt_str(page, "oldest_message_id"));
        json_decref(j);
        if (!more)
            break;
    }
    ck_assert_int_eq(got, 10);
    ck_assert_int_eq(pages, 4);
    /* the `before` alias; an unknown cursor; a cursor of another conversation */
    json_t *j =
        hltc_call(D, HLT_H1, TOK, "GET",
                  hltc_fmt("/api/v1/conversations/%s/messages?before=%s", id, hlt_str(json_array_get(list, 1), "id")), NULL, 200);
    ck_assert_int_eq(json_array_size(json_object_get(j, "messages")), 1);
    json_decref(j);
    hltc_call_error(D, HLT_H1, TOK, "GET", hltc_fmt("/api/v1/conversations/%s/messages?before=msg_nope", id), NULL, 400,
                    "message_cursor_not_found");
    char *other = hltc_create(D, HLT_H1, TOK, "other");
    hltc_call_error(D, HLT_H1, TOK, "GET",
                    hltc_fmt("/api/v1/conversations/%s/messages?before=%s", other, hlt_str(json_array_get(list, 3), "id")), NULL,
                    400, "message_cursor_not_found");
    /* limits: default 20, cap 100 */
    j = hltc_call(D, HLT_H1, TOK, "GET", hltc_fmt("/api/v1/conversations/%s/messages?limit=0", id), NULL, 200);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(j, "page"), "limit")), 20);
    json_decref(j);
    j = hltc_call(D, HLT_H1, TOK, "GET", hltc_fmt("/api/v1/conversations/%s/messages?limit=1000", id), NULL, 200);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(j, "page"), "limit")), 100);
    json_decref(j);
    json_decref(all);
    free(other);
    free(id);
}
END_TEST

/* Rapid sends: later ones queue behind the active run and are drained; at most one run runs at a time; none stays queued. */
START_TEST(test_queue_drain)
{
    char *id = hltc_create(D, HLT_H1, TOK, "queue");
    enum { N_PAR = 8, N_SEQ = 4 };
    const char *paths[N_PAR], *bearers[N_PAR], *bodies[N_PAR];
    char path[200];
    snprintf(path, sizeof(path), "/api/v1/conversations/%s/messages", id);
    for (int i = 0; i < N_PAR; ++i) {
        paths[i] = path;
        bearers[i] = TOK;
        bodies[i] = hltc_fmt("{\"content\":\"parallel %d\"}", i);
    }
    hlt_response_t res[N_PAR];
    hlt_parallel(D, HLT_H2C_UPGRADE, N_PAR, "POST", paths, bearers, bodies, res);
    json_t *runs = json_object();
    int queued = 0;
    for (int i = 0; i < N_PAR; ++i) {
        ck_assert_msg(res[i].status == 202, "parallel send %d: %ld %s", i, res[i].status, res[i].body);
        json_t *run = json_object_get(res[i].json, "run");
        const char *st = hlt_str(run, "status");
        ck_assert_msg(strcmp(st, "running") == 0 || strcmp(st, "queued") == 0, "run status %s", st);
        if (strcmp(st, "queued") == 0) {
            ++queued;
            ck_assert_str_eq(hlt_str(json_object_get(res[i].json, "user_message"), "status"), "queued");
            ck_assert_str_eq(hlt_str(json_object_get(res[i].json, "assistant_message"), "status"), "queued");
        }
        json_object_set_new(runs, hlt_str(run, "id"), json_true());
        hlt_response_free(&res[i]);
    }
    for (int i = 0; i < N_SEQ; ++i) {
        json_t *j = hltc_send(D, HLT_H1, TOK, id, hltc_fmt("sequential %d", i));
        json_object_set_new(runs, hlt_str(json_object_get(j, "run"), "id"), json_true());
        json_decref(j);
    }
    ck_assert_int_eq(json_object_size(runs), N_PAR + N_SEQ);

    hltc_events_t *e = hltc_wait_runs_done(D, TOK, id, 15000);
    /* replay in order: one running run at a time, each run fails exactly once with the stub's code */
    const char *current = NULL;
    json_t *failed = json_object();
    for (size_t i = 0; i < e->n; ++i) {
        hltc_event_t *ev = &e->v[i];
        ck_assert_int_eq(ev->id, (int64_t)i + 1);
        json_t *payload = json_object_get(ev->json, "payload");
        const char *run = json_string_value(json_object_get(ev->json, "run_id"));
        if (strcmp(ev->type, "run.started") == 0) {
            const char *st = hlt_str(json_object_get(payload, "run"), "status");
            if (strcmp(st, "running") == 0) {
                ck_assert_msg(current == NULL, "run %s started while %s was running (seq %lld)", run, current, (long long)ev->id);
                current = run;
            }
        } else if (strcmp(ev->type, "run.failed") == 0) {
            ck_assert_msg(json_object_get(failed, run) == NULL, "run %s failed twice", run);
            json_object_set_new(failed, run, json_true());
            ck_assert_str_eq(hlt_str(json_object_get(payload, "error"), "code"), "hermes_api_server_unavailable");
            ck_assert_msg(current != NULL && strcmp(current, run) == 0, "run %s failed while not the running one", run);
            current = NULL;
        } else {
            ck_assert_msg(strcmp(ev->type, "run.completed") != 0 && strcmp(ev->type, "run.cancelled") != 0, "unexpected %s",
                          ev->type);
        }
    }
    ck_assert_int_eq(json_object_size(failed), N_PAR + N_SEQ);
    const char *rid;
    json_t *v;
    json_object_foreach(runs, rid, v) ck_assert_msg(json_object_get(failed, rid) != NULL, "run %s never ended", rid);
    json_decref(failed);
    hltc_events_free(e);
    free(e);
    /* nothing is left queued or streaming */
    json_t *msgs = hltc_messages(D, HLT_H1, TOK, id);
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(msgs, "messages"), i, m)
    {
        const char *st = hlt_str(m, "status");
        if (strcmp(hlt_str(m, "role"), "user") == 0)
            ck_assert_msg(strcmp(st, "completed") == 0, "user message %s is %s", hlt_str(m, "id"), st);
        else
            ck_assert_msg(strcmp(st, "failed") == 0, "assistant message %s is %s", hlt_str(m, "id"), st);
    }
    ck_assert_int_eq(json_array_size(json_object_get(msgs, "messages")), 2 * (N_PAR + N_SEQ));
    json_decref(msgs);
    json_decref(runs);
    if (getenv("HLT_VERBOSE") != NULL)
        fprintf(stderr, "queue drain: %d of %d parallel sends were queued\n", queued, N_PAR);
    free(id);
}
END_TEST

/* ---- cancelling a running run, held running by the runproxy stub (/__test/runproxy/hold) ---- */

/*
 * POST /__test/runproxy/hold {"hold": on} (or /release when on < 0); asserts the answer (and its "released" count unless
 * want_released < 0) and returns its "held" count.
 */
static json_int_t runproxy_hold(hlt_proto_t p, int on, json_int_t want_released)
{
    json_t *j = on < 0 ? hltc_call(D, p, NULL, "POST", "/__test/runproxy/release", NULL, 200)
                       : hltc_call(D, p, NULL, "POST", "/__test/runproxy/hold", on ? "{\"hold\":true}" : "{\"hold\":false}", 200);
    if (on >= 0)
        ck_assert_int_eq(json_is_true(json_object_get(j, "hold")), on);
    ck_assert_msg(want_released < 0 || json_integer_value(json_object_get(j, "released")) == want_released, "runproxy %s: %s",
                  on < 0 ? "release" : "hold", json_dumps(j, JSON_COMPACT));
    json_int_t held = json_integer_value(json_object_get(j, "held"));
    json_decref(j);
    return held;
}

/* Before each test: no hold left over (a test that failed while holding runs must not stall the next). */
static void no_hold(void)
{
    ck_assert_int_eq(runproxy_hold(HLT_H1, 0, -1), 0);
}

/* Index of the first `type` event of run (with payload.run.status `status` when not NULL), else -1. */
static long find_run_event(const hltc_events_t *e, const char *type, const char *run, const char *status)
{
    for (size_t i = 0; i < e->n; ++i) {
        const hltc_event_t *ev = &e->v[i];
        if (ev->type == NULL || strcmp(ev->type, type) != 0)
            continue;
        const char *r = json_string_value(json_object_get(ev->json, "run_id"));
        if (r == NULL || strcmp(r, run) != 0)
            continue;
        const char *st = json_string_value(json_object_get(json_object_get(json_object_get(ev->json, "payload"), "run"), "status"));
        if (status == NULL || (st != NULL && strcmp(st, status) == 0))
            return (long)i;
    }
    return -1;
}

static long wait_run_event(hltc_sse_t *s, const char *type, const char *run, const char *status)
{
    long deadline = hlt_now_ms() + 10000, i;
    while ((i = find_run_event(&s->ev, type, run, status)) < 0) {
        ck_assert_msg(hlt_now_ms() < deadline, "no %s (%s) of run %s within 10 s: %s", type, status != NULL ? status : "any", run,
                      s->res.body);
        hltc_sse_pump(s, 20);
    }
    return i;
}

/* The stored message `id` of the conversation (asserts it is there); borrowed from msgs. */
static json_t *message_of(json_t *msgs, const char *id)
{
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(msgs, "messages"), i, m) if (strcmp(hlt_str(m, "id"), id) == 0) return m;
    ck_abort_msg("message %s not stored", id);
    return NULL;
}

static void assert_statuses(hlt_proto_t p, const char *conv, const char *const *ids, const char *const *want, size_t n)
{
    json_t *msgs = hltc_messages(D, p, TOK, conv);
    for (size_t i = 0; i < n; ++i) {
        json_t *m = message_of(msgs, ids[i]);
        hltc_assert_message(m, "stored message");
        ck_assert_msg(strcmp(hlt_str(m, "status"), want[i]) == 0, "over %s: message %s (%s) is %s, expected %s", hlt_proto_name(p),
                      ids[i], hlt_str(m, "role"), hlt_str(m, "status"), want[i]);
    }
    json_decref(msgs);
}

/*
 * Cancelling a running run and a queued one, deterministically: the runproxy holds the runs handed to it running. A send
 * starts run 1 (running, held); a second send queues run 2 behind it; cancelling run 1 answers "cancelled", appends
 * run.cancelled and starts run 2 (held in turn; run 1 is dropped by the runproxy); a third send queues run 3, whose cancel
 * ends it without starting; the release fails run 2 as the stub does. Each run ends exactly once, the cancel answers and
 * the events agree, and nothing stays queued or streaming.
 */
START_TEST(test_cancel_running)
{
    hlt_proto_t p = PROTOS[_i];
    char *id = hltc_create(D, p, TOK, "cancel running");
    hltc_sse_t s;
    hltc_sse_open(&s, D, p, TOK, hltc_fmt("/api/v1/conversations/%s/events", id), NULL, NULL);
    ck_assert(hltc_sse_wait(&s, 1, 0, 10000));
    ck_assert_int_eq(runproxy_hold(p, 1, 0), 0);

    /* run 1 starts and stays running: the runproxy holds it */
    json_t *j = hltc_send(D, p, TOK, id, "one");
    char *run1 = hl_strdup(hlt_str(json_object_get(j, "run"), "id")),
         *user1 = hl_strdup(hlt_str(json_object_get(j, "user_message"), "id")),
         *asst1 = hl_strdup(hlt_str(json_object_get(j, "assistant_message"), "id"));
    ck_assert_str_eq(hlt_str(json_object_get(j, "run"), "status"), "running");
    ck_assert_str_eq(hlt_str(json_object_get(j, "assistant_message"), "status"), "streaming");
    json_decref(j);
    ck_assert_int_eq(runproxy_hold(p, 1, 0), 1); /* handed over before the send was answered */
    wait_run_event(&s, "run.started", run1, "running");
    {
        const char *ids[] = {user1, asst1}, *want[] = {"completed", "streaming"};
        assert_statuses(p, id, ids, want, 2);
    }

    /* run 2 queues behind it */
    j = hltc_send(D, p, TOK, id, "two");
    char *run2 = hl_strdup(hlt_str(json_object_get(j, "run"), "id")),
         *user2 = hl_strdup(hlt_str(json_object_get(j, "user_message"), "id")),
         *asst2 = hl_strdup(hlt_str(json_object_get(j, "assistant_message"), "id"));
    ck_assert_str_eq(hlt_str(json_object_get(j, "run"), "status"), "queued");
    ck_assert_str_eq(hlt_str(json_object_get(j, "user_message"), "status"), "queued");
    ck_assert_str_eq(hlt_str(json_object_get(j, "assistant_message"), "status"), "queued");
    json_decref(j);
    ck_assert_msg(find_run_event(&s.ev, "run.failed", run1, NULL) < 0, "held run 1 failed");

    /* cancel the running run 1: 200 cancelled, run.cancelled, then run 2 starts */
    char cancel1[300];
    snprintf(cancel1, sizeof(cancel1), "/api/v1/conversations/%s/runs/%s/cancel", id, run1);
    j = hltc_call(D, p, TOK, "POST", cancel1, NULL, 200);
    hlt_assert_keys(j, "cancel response", "ok", "conversation_id", "run", "last_event_seq", NULL);
    ck_assert_str_eq(hlt_str(j, "conversation_id"), id);
    ck_assert_str_eq(hlt_str(json_object_get(j, "run"), "id"), run1);
    ck_assert_str_eq(hlt_str(json_object_get(j, "run"), "status"), "cancelled");
    int64_t seq = json_integer_value(json_object_get(j, "last_event_seq"));
    json_decref(j);
    long c1 = wait_run_event(&s, "run.cancelled", run1, "cancelled");
    long st2 = wait_run_event(&s, "run.started", run2, "running");
    ck_assert_msg(c1 < st2, "run 2 started (at %ld) before run 1 was cancelled (at %ld)", st2, c1);
    ck_assert_int_le(s.ev.v[st2].id, seq);       /* both came with the cancel's commit */
    ck_assert_int_eq(runproxy_hold(p, 1, 0), 1); /* run 2 held; run 1 dropped */
    {
        const char *ids[] = {user1, asst1, user2, asst2}, *want[] = {"completed", "cancelled", "completed", "streaming"};
        assert_statuses(p, id, ids, want, 4);
    }
    /* cancelling it again changes nothing */
    int64_t before = hltc_last_seq(D, TOK, id);
    j = hltc_call(D, p, TOK, "POST", cancel1, NULL, 200);
    ck_assert_str_eq(hlt_str(json_object_get(j, "run"), "status"), "cancelled");
    json_decref(j);
    ck_assert_int_eq(hltc_last_seq(D, TOK, id), before);

    /* a queued run 3 cancelled: it ends without ever running; run 2 keeps running */
    j = hltc_send(D, p, TOK, id, "three");
    char *run3 = hl_strdup(hlt_str(json_object_get(j, "run"), "id")),
         *user3 = hl_strdup(hlt_str(json_object_get(j, "user_message"), "id")),
         *asst3 = hl_strdup(hlt_str(json_object_get(j, "assistant_message"), "id"));
    ck_assert_str_eq(hlt_str(json_object_get(j, "run"), "status"), "queued");
    json_decref(j);
    j = hltc_call(D, p, TOK, "POST", hltc_fmt("/api/v1/conversations/%s/runs/%s/cancel", id, run3), NULL, 200);
    ck_assert_str_eq(hlt_str(json_object_get(j, "run"), "status"), "cancelled");
    json_decref(j);
    wait_run_event(&s, "run.cancelled", run3, "cancelled");
    ck_assert_int_eq(runproxy_hold(p, 1, 0), 1);
    {
        const char *ids[] = {user2, asst2, user3, asst3}, *want[] = {"completed", "streaming", "cancelled", "cancelled"};
        assert_statuses(p, id, ids, want, 4);
    }

    /* the release fails run 2 as the stub does; nothing else is started */
    ck_assert_int_eq(runproxy_hold(p, -1, 1), 0);
    long f2 = wait_run_event(&s, "run.failed", run2, "failed");
    ck_assert_str_eq(hlt_str(json_object_get(json_object_get(s.ev.v[f2].json, "payload"), "error"), "code"),
                     "hermes_api_server_unavailable");
    ck_assert_int_eq(runproxy_hold(p, 0, 0), 0);
    hltc_sse_close(&s);

    /* the stored history: each run ended exactly once, as its cancel answer said */
    hltc_events_t *e = hltc_wait_runs_done(D, TOK, id, 10000);
    for (size_t i = 0; i < e->n; ++i)
        ck_assert_int_eq(e->v[i].id, (int64_t)i + 1); /* no gap, no duplicate */
    const char *runs[] = {run1, run2, run3}, *ends[] = {"run.cancelled", "run.failed", "run.cancelled"};
    for (size_t k = 0; k < HL_ARRAY_SIZE(runs); ++k) {
        long f = find_run_event(e, "run.failed", runs[k], NULL), c = find_run_event(e, "run.cancelled", runs[k], NULL);
        ck_assert_msg((f >= 0) != (c >= 0), "run %s: run.failed at %ld, run.cancelled at %ld", runs[k], f, c);
        ck_assert_msg(find_run_event(e, ends[k], runs[k], NULL) >= 0, "run %s did not end with %s", runs[k], ends[k]);
        if (c >= 0)
            ck_assert_str_eq(hlt_str(json_object_get(json_object_get(e->v[c].json, "payload"), "run"), "status"), "cancelled");
    }
    ck_assert_int_eq(hltc_count_type(e, "run.completed"), 0);
    ck_assert_msg(find_run_event(e, "run.started", run3, "running") < 0, "the cancelled queued run 3 was started");
    hltc_events_free(e);
    free(e);
    {
        const char *ids[] = {user1, asst1, user2, asst2, user3, asst3},
                   *want[] = {"completed", "cancelled", "completed", "failed", "cancelled", "cancelled"};
        assert_statuses(p, id, ids, want, 6);
    }
    json_t *msgs = hltc_messages(D, p, TOK, id);
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(msgs, "messages"), i, m)
    {
        const char *st = hlt_str(m, "status");
        ck_assert_msg(strcmp(st, "queued") != 0 && strcmp(st, "streaming") != 0, "message %s stays %s", hlt_str(m, "id"), st);
    }
    ck_assert_int_eq(json_array_size(json_object_get(msgs, "messages")), 6);
    json_decref(msgs);
    free(run1);
    free(run2);
    free(run3);
    free(user1);
    free(user2);
    free(user3);
    free(asst1);
    free(asst2);
    free(asst3);
    free(id);
}
END_TEST

/* ?mode=notifications: conversation.created/updated/deleted, message.created, run.started/completed/failed/cancelled only. */
static const char *const NOTIFY[] = {"conversation.created", "conversation.updated", "conversation.deleted", "message.created",
                                     "run.started",          "run.completed",        "run.failed",           "run.cancelled"};

static int notifies(const char *type)
{
    for (size_t i = 0; i < HL_ARRAY_SIZE(NOTIFY); ++i)
        if (strcmp(type, NOTIFY[i]) == 0)
            return 1;
    return 0;
}

static void wait_deleted(hltc_sse_t *s, const char *conv)
{
    long deadline = hlt_now_ms() + 10000;
    while (hltc_find(&s->ev, "conversation.deleted", "conversation_id", conv) < 0) {
        ck_assert_msg(hlt_now_ms() < deadline, "no conversation.deleted for %s (%zu events)", conv, s->ev.n);
        hltc_sse_pump(s, 20);
    }
}

/* The events of conv in s, filtered to notification types when filter. */
static json_t *events_of(const hltc_events_t *e, const char *conv, int filter)
{
    json_t *out = json_array();
    for (size_t i = 0; i < e->n; ++i) {
        const char *c = json_string_value(json_object_get(e->v[i].json, "conversation_id"));
        if (c == NULL || strcmp(c, conv) != 0 || (filter && !notifies(e->v[i].type)))
            continue;
        ck_assert_msg(e->v[i].id == json_integer_value(json_object_get(e->v[i].json, "event_id")),
                      "all-conversations stream: id: %lld but event_id %lld", (long long)e->v[i].id,
                      (long long)json_integer_value(json_object_get(e->v[i].json, "event_id")));
        json_array_append_new(out, json_pack("{s:I, s:s, s:I}", "id", (json_int_t)e->v[i].id, "type", e->v[i].type, "seq",
                                             json_integer_value(json_object_get(e->v[i].json, "seq"))));
    }
    return out;
}

START_TEST(test_notifications_filter)
{
    hltc_sse_t full, notif;
    hltc_sse_open(&full, D, HLT_H1, TOK, "/api/v1/conversations/events", NULL, NULL);
    hltc_sse_open(&notif, D, HLT_H2_TLS, TOK, "/api/v1/conversations/events?mode=notifications", NULL, NULL);
    hltc_sse_pump(&full, 200);
    hltc_sse_pump(&notif, 200);
    hltc_sse_assert_head(&full);
    hltc_sse_assert_head(&notif);

    char *id = hltc_create(D, HLT_H1, TOK, "notify me");
    json_decref(hltc_call(D, HLT_H1, TOK, "PATCH", hltc_fmt("/api/v1/conversations/%s/title", id), "{\"title\":\"renamed\"}", 200));
    /* two sends at once: the second may queue, and its drain emits message.updated */
    const char *paths[2] = {hltc_fmt("/api/v1/conversations/%s/messages", id), NULL};
    paths[1] = paths[0];
    const char *bearers[2] = {TOK, TOK}, *bodies[2] = {"{\"content\":\"one\"}", "{\"content\":\"two\"}"};
    hlt_response_t res[2];
    hlt_parallel(D, HLT_H2_TLS, 2, "POST", paths, bearers, bodies, res);
    for (int i = 0; i < 2; ++i) {
        ck_assert_int_eq(res[i].status, 202);
        hlt_response_free(&res[i]);
    }
    hltc_events_t *e = hltc_wait_runs_done(D, TOK, id, 10000);
    hltc_events_free(e);
    free(e);
    json_decref(hltc_call(D, HLT_H1, TOK, "POST", hltc_fmt("/api/v1/conversations/%s/archive", id), NULL, 200));
    json_decref(hltc_call(D, HLT_H1, TOK, "POST", hltc_fmt("/api/v1/conversations/%s/unarchive", id), NULL, 200));
    json_decref(hltc_call(D, HLT_H1, TOK, "PATCH", hltc_fmt("/api/v1/conversations/%s/model", id), "{\"model_id\":\"x\"}", 200));
    json_decref(hltc_call(D, HLT_H1, TOK, "DELETE", hltc_fmt("/api/v1/conversations/%s", id), NULL, 200));
    wait_deleted(&full, id);
    wait_deleted(&notif, id);

    json_t *all = events_of(&full.ev, id, 0), *want = events_of(&full.ev, id, 1), *got = events_of(&notif.ev, id, 0);
    /* the full stream has everything, seq 1..n in order */
    size_t i;
    json_t *v;
    json_array_foreach(all, i, v) ck_assert_int_eq(json_integer_value(json_object_get(v, "seq")), (json_int_t)i + 1);
    ck_assert_msg(json_equal(want, got), "notifications stream\n%s\nexpected\n%s", json_dumps(got, JSON_COMPACT),
                  json_dumps(want, JSON_COMPACT));
    static const char *const must[] = {"conversation.created", "conversation.updated", "conversation.deleted",
                                       "message.created",      "run.started",          "run.failed"};
    for (size_t k = 0; k < HL_ARRAY_SIZE(must); ++k)
        ck_assert_msg(hltc_find(&notif.ev, must[k], "conversation_id", id) >= 0, "notifications stream lacks %s", must[k]);
    static const char *const never[] = {"message.updated", "message.failed", "conversation.archived", "conversation.unarchived"};
    for (size_t k = 0; k < HL_ARRAY_SIZE(never); ++k)
        ck_assert_msg(hltc_find(&notif.ev, never[k], NULL, NULL) < 0, "notifications stream carries %s", never[k]);
    ck_assert_msg(hltc_find(&full.ev, "message.failed", "conversation_id", id) >= 0 &&
                      hltc_find(&full.ev, "conversation.archived", "conversation_id", id) >= 0,
                  "the full stream lacks message.failed / conversation.archived");

    /* resuming the notifications stream from before the conversation replays the same */
    int64_t first = json_integer_value(json_object_get(json_array_get(all, 0), "id"));
    hltc_sse_t again;
    hltc_sse_open(&again, D, HLT_H1, TOK,
                  hltc_fmt("/api/v1/conversations/events?mode=notifications&after=%lld", (long long)first - 1), NULL, NULL);
    wait_deleted(&again, id);
    json_t *replayed = events_of(&again.ev, id, 0);
    ck_assert_msg(json_equal(want, replayed), "resumed notifications stream\n%s\nexpected\n%s", json_dumps(replayed, JSON_COMPACT),
                  json_dumps(want, JSON_COMPACT));
    json_decref(replayed);
    hltc_sse_close(&again);
    json_decref(all);
    json_decref(want);
    json_decref(got);
    hltc_sse_close(&full);
    hltc_sse_close(&notif);
    free(id);
}
END_TEST

Suite *suite_messages(void)
{
    Suite *s = suite_create("messages");
    TCase *tc = tcase_create("messages");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_add_checked_fixture(tc, no_hold, NULL);
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_send_flow, 0, HL_ARRAY_SIZE(PROTOS));
    tcase_add_test(tc, test_send_errors);
    tcase_add_test(tc, test_messages_paging);
    tcase_add_test(tc, test_queue_drain);
    tcase_add_loop_test(tc, test_cancel_running, 0, HL_ARRAY_SIZE(PROTOS));
    tcase_add_test(tc, test_notifications_filter);
    suite_add_tcase(s, tc);
    return s;
}
