/*
 * Event streams (spec/API.md §1.9 and §7, GAPS.md §C.5, issue 4): framing (id/event/data, retry: on open, the SSE headers,
 * CORS); errors as JSON before a stream starts; replay from ?after= or Last-Event-ID, then live, with no gap and no
 * duplicate; the all-conversations stream (global ids in id: and event_id, per-conversation seq, live only without a
 * cursor, resumable with one); resumption under load (a client dropping and reconnecting with Last-Event-ID while another
 * thread generates events: the ids received are exactly 1..N); 50 streams on one HTTP/2 connection; a reader that stops
 * reading (bounded memory, other streams unaffected, consistent ids when it reads again); graceful shutdown ends every
 * stream.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness_conv.h"
#include "hl/common.h"

static hltc_ctx_t ctx;
#define D (&ctx.d)
#define TOK (ctx.dev.access)

static hlt_env_t env;

static void setup(void)
{
    /* the fan-out tests open hundreds of streams with one device's token: past the default cap of event streams per
     * device (suite edge_limits tests that cap) */
    hlt_env_init(&env);
    hlt_env_write_config(&env, "{\"maxStreamsPerDevice\": 100000}\n");
    hltc_start(&ctx, 1, &env);
}

static void teardown(void)
{
    hltc_teardown_shared(&ctx, "sse daemon");
    hlt_env_dispose(&env);
}

static void rename_conv(const char *id, int i)
{
    json_decref(hltc_call(D, HLT_H1, TOK, "PATCH", hltc_fmt("/api/v1/conversations/%s/title", id),
                          hltc_fmt("{\"title\":\"r%d\"}", i), 200));
}

/* Asserts that the events are exactly ids from..to of conversation conv, framed consistently. */
static void assert_seq_range(const hltc_events_t *e, const char *conv, int64_t from, int64_t to)
{
    ck_assert_msg(e->n == (size_t)(to - from + 1), "%zu events, expected %lld (%lld..%lld)", e->n, (long long)(to - from + 1),
                  (long long)from, (long long)to);
    for (size_t i = 0; i < e->n; ++i) {
        const hltc_event_t *ev = &e->v[i];
        ck_assert_msg(ev->id == from + (int64_t)i, "event %zu has id %lld, expected %lld", i, (long long)ev->id,
                      (long long)(from + (int64_t)i));
        ck_assert_int_eq(json_integer_value(json_object_get(ev->json, "seq")), ev->id);
        ck_assert_str_eq(hlt_str(ev->json, "type"), ev->type);
        ck_assert_str_eq(hlt_str(ev->json, "conversation_id"), conv);
    }
}

START_TEST(test_stream_errors)
{
    static const hlt_proto_t protos[] = {HLT_H1, HLT_H2C, HLT_H2_TLS};
    char *gone = hltc_create(D, HLT_H1, TOK, "deleted");
    json_decref(hltc_call(D, HLT_H1, TOK, "DELETE", hltc_fmt("/api/v1/conversations/%s", gone), NULL, 200));
    for (size_t i = 0; i < HL_ARRAY_SIZE(protos); ++i) {
        hlt_proto_t p = protos[i];
        hltc_call_error(D, p, TOK, "GET", "/api/v1/conversations/conv_bad-id/events", NULL, 400, "invalid_conversation_id");
        hltc_call_error(D, p, TOK, "GET", "/api/v1/conversations/..%2Fconv_x/events", NULL, 400, "invalid_conversation_id");
        hltc_call_error(D, p, TOK, "GET", "/api/v1/conversations/conv_00000000000000000000000000000000/events", NULL, 404,
                        "conversation_not_found");
        hltc_call_error(D, p, TOK, "GET", hltc_fmt("/api/v1/conversations/%s/events", gone), NULL, 404, "conversation_not_found");
        hltc_call_error(D, p, NULL, "GET", "/api/v1/conversations/conv_abc/events", NULL, 401, "auth_required");
        hltc_call_error(D, p, NULL, "GET", "/api/v1/conversations/events", NULL, 401, "auth_required");
        hltc_call_error(D, p, "hlat_00000000000000000000000000000000", "GET", "/api/v1/conversations/events?mode=notifications",
                        NULL, 401, "device_access_token_invalid");
    }
    free(gone);
}
END_TEST

START_TEST(test_replay_then_live)
{
    static const hlt_proto_t protos[] = {HLT_H1, HLT_H2C, HLT_H2C_UPGRADE, HLT_H2_TLS};
    hlt_proto_t p = protos[_i];
    char *id = hltc_create(D, HLT_H1, TOK, "replay");
    for (int i = 0; i < 3; ++i)
        rename_conv(id, i); /* seq 2..4 */
    const char *base = hltc_fmt("/api/v1/conversations/%s/events", id);
    char path[200];
    snprintf(path, sizeof(path), "%s", base);

    /* no cursor: the whole history, then live */
    hltc_sse_t s;
    hltc_sse_open(&s, D, p, TOK, path, NULL, NULL);
    ck_assert(hltc_sse_wait(&s, 4, 0, 10000));
    hltc_sse_assert_head(&s);
    ck_assert_int_eq(s.ev.retry, 3000);
    for (int i = 3; i < 6; ++i)
        rename_conv(id, i); /* seq 5..7 */
    ck_assert(hltc_sse_wait(&s, 7, 0, 10000));
    hltc_sse_pump(&s, 100);
    assert_seq_range(&s.ev, id, 1, 7);
    ck_assert_str_eq(s.ev.v[0].type, "conversation.created");
    for (int i = 1; i < 7; ++i)
        ck_assert_str_eq(s.ev.v[i].type, "conversation.updated");
    /* the raw framing: id, event, data lines in that order */
    ck_assert_msg(strstr(s.res.body, "\n\nid: 1\nevent: conversation.created\ndata: {") != NULL, "framing: %.200s", s.res.body);
    hltc_sse_close(&s);

    /* ?after= */
    hltc_sse_open(&s, D, p, TOK, hltc_fmt("%s?after=2", path), NULL, NULL);
    ck_assert(hltc_sse_wait(&s, 5, 0, 10000));
    hltc_sse_pump(&s, 100);
    assert_seq_range(&s.ev, id, 3, 7);
    hltc_sse_close(&s);
    /* Last-Event-ID */
    hltc_sse_open(&s, D, p, TOK, path, (const char *[]){"Last-Event-ID: 5", NULL}, NULL);
    ck_assert(hltc_sse_wait(&s, 2, 0, 10000));
    hltc_sse_pump(&s, 100);
    assert_seq_range(&s.ev, id, 6, 7);
    /* then live on the same stream */
    rename_conv(id, 7);
    ck_assert(hltc_sse_wait(&s, 3, 0, 10000));
    assert_seq_range(&s.ev, id, 6, 8);
    hltc_sse_close(&s);
    /* ?after= wins over Last-Event-ID */
    hltc_sse_open(&s, D, p, TOK, hltc_fmt("%s?after=6", path), (const char *[]){"Last-Event-ID: 1", NULL}, NULL);
    ck_assert(hltc_sse_wait(&s, 2, 0, 10000));
    hltc_sse_pump(&s, 100);
    assert_seq_range(&s.ev, id, 7, 8);
    hltc_sse_close(&s);
    /* a cursor at the end: nothing until the next event; a malformed cursor is no cursor */
    hltc_sse_open(&s, D, p, TOK, hltc_fmt("%s?after=8", path), NULL, NULL);
    hltc_sse_pump(&s, 200);
    ck_assert_int_eq(s.ev.n, 0);
    hltc_sse_assert_head(&s);
    rename_conv(id, 8);
    ck_assert(hltc_sse_wait(&s, 1, 0, 10000));
    assert_seq_range(&s.ev, id, 9, 9);
    hltc_sse_close(&s);
    hltc_sse_open(&s, D, p, TOK, hltc_fmt("%s?after=abc", path), NULL, NULL);
    ck_assert(hltc_sse_wait(&s, 9, 0, 10000));
    assert_seq_range(&s.ev, id, 1, 9);
    hltc_sse_close(&s);
    free(id);
}
END_TEST

START_TEST(test_global_stream)
{
    char *a = hltc_create(D, HLT_H1, TOK, "global a");
    rename_conv(a, 0);
    /* without a cursor the stream is live only: nothing of the past */
    hltc_sse_t s;
    hltc_sse_open(&s, D, HLT_H2_TLS, TOK, "/api/v1/conversations/events", NULL, NULL);
    hltc_sse_pump(&s, 300);
    hltc_sse_assert_head(&s);
    ck_assert_msg(s.ev.n == 0, "the all-conversations stream replayed %zu events without a cursor", s.ev.n);
    char *b = hltc_create(D, HLT_H1, TOK, "global b");
    rename_conv(a, 1);
    rename_conv(b, 1);
    rename_conv(a, 2);
    ck_assert(hltc_sse_wait(&s, 4, 0, 10000));
    hltc_sse_pump(&s, 100);
    ck_assert_int_eq(s.ev.n, 4);
    static const struct {
        int conv_b;
        const char *type;
        int seq;
    } want[] = {{1, "conversation.created", 1},
                {0, "conversation.updated", 3},
                {1, "conversation.updated", 2},
                {0, "conversation.updated", 4}};
    for (size_t i = 0; i < 4; ++i) {
        hltc_event_t *ev = &s.ev.v[i];
        ck_assert_str_eq(ev->type, want[i].type);
        ck_assert_str_eq(hlt_str(ev->json, "conversation_id"), want[i].conv_b ? b : a);
        ck_assert_int_eq(json_integer_value(json_object_get(ev->json, "seq")), want[i].seq);
        ck_assert_int_eq(json_integer_value(json_object_get(ev->json, "event_id")), ev->id);
        if (i > 0)
            ck_assert_int_eq(ev->id, s.ev.v[i - 1].id + 1);
    }
    int64_t first = s.ev.v[0].id;
    hltc_sse_close(&s);
    /* resume with ?after= and with Last-Event-ID: exactly the rest, then live */
    for (int how = 0; how < 2; ++how) {
        if (how == 0)
            hltc_sse_open(&s, D, HLT_H1, TOK, hltc_fmt("/api/v1/conversations/events?after=%lld", (long long)first + 1), NULL,
                          NULL);
        else
            hltc_sse_open(&s, D, HLT_H2C, TOK, "/api/v1/conversations/events",
                          (const char *[]){hltc_fmt("Last-Event-ID: %lld", (long long)first + 1), NULL}, NULL);
        ck_assert(hltc_sse_wait(&s, 2, 0, 10000));
        hltc_sse_pump(&s, 100);
        ck_assert_int_eq(s.ev.n, 2 + how);
        ck_assert_int_eq(s.ev.v[0].id, first + 2);
        ck_assert_int_eq(s.ev.v[1].id, first + 3);
        rename_conv(b, 10 + how);
        ck_assert(hltc_sse_wait(&s, 3 + (size_t)how, 0, 10000));
        hltc_event_t *last = &s.ev.v[s.ev.n - 1];
        ck_assert_str_eq(hlt_str(last->json, "conversation_id"), b);
        ck_assert_int_eq(last->id, s.ev.v[s.ev.n - 2].id + 1);
        hltc_sse_close(&s);
    }
    free(a);
    free(b);
}
END_TEST

/* ---- resumption under load ---- */

typedef struct st_resumer_t {
    int global;
    const char *conv;
    int64_t start_after;
    hltc_sse_t s;
    int open;
    size_t consumed;
    int64_t last_id;  /* the last id received: the resume cursor */
    int64_t last_seq; /* the last seq of conv received */
    long close_at;
    int connections;
    json_t *seen; /* ids received, for duplicates */
} resumer_t;

static const hlt_proto_t RESUME_PROTOS[] = {HLT_H1, HLT_H2C, HLT_H2C_UPGRADE, HLT_H2_TLS};

static void resumer_step(resumer_t *r, unsigned *rnd)
{
    if (!r->open) {
        hlt_proto_t p = RESUME_PROTOS[r->connections % 4];
        const char *base = r->global ? "/api/v1/conversations/events" : hltc_fmt("/api/v1/conversations/%s/events", r->conv);
        int64_t cursor = r->connections == 0 ? r->start_after : r->last_id;
        if (r->connections % 3 == 1)
            hltc_sse_open(&r->s, D, p, TOK, hltc_fmt("%s?after=%lld", base, (long long)cursor), NULL, NULL);
        else
            hltc_sse_open(&r->s, D, p, TOK, base, (const char *[]){hltc_fmt("Last-Event-ID: %lld", (long long)cursor), NULL}, NULL);
        r->open = 1;
        r->consumed = 0;
        *rnd = *rnd * 1103515245u + 12345u;
        r->close_at = hlt_now_ms() + 20 + (long)((*rnd >> 16) % 200);
        ++r->connections;
    }
    hltc_sse_pump(&r->s, 5);
    ck_assert_msg(!r->s.done || r->s.res.status == 200, "stream refused: %ld %.200s", r->s.res.status, r->s.res.body);
    for (; r->consumed < r->s.ev.n; ++r->consumed) {
        hltc_event_t *ev = &r->s.ev.v[r->consumed];
        char key[32];
        snprintf(key, sizeof(key), "%lld", (long long)ev->id);
        ck_assert_msg(json_object_get(r->seen, key) == NULL, "%s stream: id %lld received twice (connection %d)",
                      r->global ? "all-conversations" : "conversation", (long long)ev->id, r->connections);
        json_object_set_new(r->seen, key, json_true());
        ck_assert_msg(ev->id > r->last_id, "ids went back: %lld after %lld", (long long)ev->id, (long long)r->last_id);
        if (!r->global)
            ck_assert_msg(ev->id == r->last_id + 1, "conversation stream: gap from %lld to %lld (connection %d)",
                          (long long)r->last_id, (long long)ev->id, r->connections);
        r->last_id = ev->id;
        const char *c = json_string_value(json_object_get(ev->json, "conversation_id"));
        if (c != NULL && strcmp(c, r->conv) == 0) {
            int64_t seq = json_integer_value(json_object_get(ev->json, "seq"));
            ck_assert_msg(seq == r->last_seq + 1, "%s stream: seq %lld after %lld",
                          r->global ? "all-conversations" : "conversation", (long long)seq, (long long)r->last_seq);
            r->last_seq = seq;
        }
    }
    if (r->s.done || hlt_now_ms() >= r->close_at) {
        hltc_sse_close(&r->s);
        r->open = 0;
    }
}

START_TEST(test_resume_under_load)
{
    enum { N = 300 };
    char *id = hltc_create(D, HLT_H1, TOK, "resume");
    /* the global id of this conversation's first event: the all-conversations client resumes from just before it */
    hltc_events_t *e = hltc_replay(D, TOK, id, 0, 1);
    int64_t created_event = json_integer_value(json_object_get(e->v[0].json, "event_id"));
    hltc_events_free(e);
    free(e);

    resumer_t rs[2] = {{.global = 0, .conv = id, .start_after = 0}, {.global = 1, .conv = id, .start_after = created_event - 1}};
    rs[0].seen = json_object();
    rs[1].seen = json_object();
    rs[1].last_id = created_event - 1;
    hltc_gen_t g;
    hltc_gen_start(&g, D, TOK, id, "title", N, 40, 1, 2000);
    unsigned rnd = 12345;
    long deadline = hlt_now_ms() + 60000;
    for (;;) {
        resumer_step(&rs[0], &rnd);
        resumer_step(&rs[1], &rnd);
        int gen_done = __atomic_load_n(&g.done, __ATOMIC_ACQUIRE);
        if (gen_done && rs[0].last_seq == N + 1 && rs[1].last_seq == N + 1)
            break;
        ck_assert_msg(hlt_now_ms() < deadline,
                      "resumption did not catch up: conversation stream at %lld, all-conversations at %lld",
                      (long long)rs[0].last_seq, (long long)rs[1].last_seq);
    }
    hltc_gen_join(&g);
    for (int k = 0; k < 2; ++k) {
        if (rs[k].open)
            hltc_sse_close(&rs[k].s);
        ck_assert_msg(rs[k].connections >= 5, "only %d connections: the test did not reconnect enough", rs[k].connections);
    }
    /* the conversation stream: exactly 1..N+1 */
    ck_assert_int_eq(json_object_size(rs[0].seen), N + 1);
    for (int i = 1; i <= N + 1; ++i)
        ck_assert_msg(json_object_get(rs[0].seen, hltc_fmt("%d", i)) != NULL, "id %d never received", i);
    json_decref(rs[0].seen);
    json_decref(rs[1].seen);
    free(id);
}
END_TEST

/* ---- 50 streams on one HTTP/2 connection ---- */

START_TEST(test_h2_fanout)
{
    static const hlt_proto_t protos[] = {HLT_H2C_UPGRADE, HLT_H2_TLS};
    hlt_proto_t p = protos[_i];
    enum { N = 50, RENAMES = 20 };
    char *id = hltc_create(D, HLT_H1, TOK, "fanout");
    CURLM *multi = hlt_multi_new();
    /* one short request first, so that libcurl knows the connection multiplexes before the streams pile up */
    hltc_sse_t warm;
    hltc_sse_open(&warm, D, p, TOK, hltc_fmt("/api/v1/conversations/%s/messages", id), NULL, multi);
    long deadline = hlt_now_ms() + 10000;
    while (!warm.done && hlt_now_ms() < deadline)
        hltc_sse_drive(multi, 20);
    ck_assert_msg(warm.done && warm.res.status == 200, "warm-up over %s: %ld", hlt_proto_name(p), warm.res.status);
    hltc_sse_close(&warm);

    static hltc_sse_t s[N];
    for (int i = 0; i < N; ++i)
        hltc_sse_open(&s[i], D, p, TOK,
                      i % 2 == 0 ? hltc_fmt("/api/v1/conversations/%s/events", id) : "/api/v1/conversations/events", NULL, multi);
    /* every conversation stream has its replay (seq 1), every stream its head */
    deadline = hlt_now_ms() + 15000;
    for (;;) {
        hltc_sse_drive(multi, 20);
        int ready = 0;
        for (int i = 0; i < N; ++i) {
            hltc_sse_update(&s[i]);
            ck_assert_msg(!s[i].done, "stream %d ended: %ld %.200s", i, s[i].res.status, s[i].res.body);
            ready += s[i].res.body_len > 0 && (i % 2 == 1 || s[i].ev.n >= 1);
        }
        if (ready == N)
            break;
        ck_assert_msg(hlt_now_ms() < deadline, "only %d of %d streams are open over %s", ready, N, hlt_proto_name(p));
    }
    long port0 = -1;
    for (int i = 0; i < N; ++i) {
        hltc_sse_assert_head(&s[i]);
        long port = -1;
        curl_easy_getinfo(s[i].easy, CURLINFO_LOCAL_PORT, &port);
        if (i == 0)
            port0 = port;
        ck_assert_msg(port == port0, "stream %d is on another connection (local port %ld, not %ld)", i, port, port0);
    }
    for (int r = 0; r < RENAMES; ++r)
        rename_conv(id, r);
    deadline = hlt_now_ms() + 15000;
    for (;;) {
        hltc_sse_drive(multi, 20);
        int complete = 0;
        for (int i = 0; i < N; ++i) {
            hltc_sse_update(&s[i]);
            size_t mine = 0;
            for (size_t k = 0; k < s[i].ev.n; ++k)
                mine += strcmp(hlt_str(s[i].ev.v[k].json, "conversation_id"), id) == 0;
            complete += mine == (i % 2 == 0 ? RENAMES + 1 : RENAMES);
        }
        if (complete == N)
            break;
        ck_assert_msg(hlt_now_ms() < deadline, "only %d of %d streams got every event over %s", complete, N, hlt_proto_name(p));
    }
    for (int i = 0; i < N; ++i) {
        if (i % 2 == 0) {
            assert_seq_range(&s[i].ev, id, 1, RENAMES + 1);
        } else {
            for (size_t k = 0; k < s[i].ev.n; ++k) {
                ck_assert_int_eq(json_integer_value(json_object_get(s[i].ev.v[k].json, "seq")), (json_int_t)k + 2);
                if (k > 0)
                    ck_assert_int_gt(s[i].ev.v[k].id, s[i].ev.v[k - 1].id);
            }
        }
        hltc_sse_close(&s[i]);
    }
    curl_multi_cleanup(multi);
    free(id);
}
END_TEST

/* ---- a reader that stops reading ---- */

START_TEST(test_slow_reader)
{
    enum { N = 3000, TITLE = 2000 };
    char *warm_id = hltc_create(D, HLT_H1, TOK, "slow warm-up"), *id = hltc_create(D, HLT_H1, TOK, "slow");
    /* the same load once without a slow reader first: the daemon's allocator (ASan keeps 256 MiB of freed memory in
     * quarantine) reaches its steady state, so that what is measured below is what the slow reader costs */
    hltc_gen_t warm;
    long w0 = hlt_now_ms(), rss_cold = hltc_rss_kib(D->pid);
    /* (on a conversation of its own: a conversation's summary costs grow with its history) */
    hltc_gen_start(&warm, D, TOK, warm_id, "profile", N, TITLE, 16, 0);
    hltc_gen_join(&warm);
    if (getenv("HLT_VERBOSE") != NULL)
        fprintf(stderr, "slow reader: warm-up of %d events in %ld ms, RSS %ld -> %ld MiB\n", N, hlt_now_ms() - w0, rss_cold / 1024,
                hltc_rss_kib(D->pid) / 1024);
    int64_t base_seq = 1;
    /* events of ~4.5 KB (a 2000-character profile name, twice in the summary): 3000 of them are more than the kernel's
     * socket buffers hold (4 MiB), so the server has to hold back */
    /* the slow reader: a raw HTTP/1.1 request for the all-conversations stream, a tiny receive buffer, nothing read */
    int slow = hltc_raw_get(D->port, "/api/v1/conversations/events", TOK, 1024);
    /* a normal reader on another connection */
    hltc_sse_t fast;
    hltc_sse_open(&fast, D, HLT_H2_TLS, TOK, "/api/v1/conversations/events", NULL, NULL);
    hltc_sse_pump(&fast, 300);
    hltc_sse_assert_head(&fast);
    long rss0 = hltc_rss_kib(D->pid);
    ck_assert(rss0 > 0);

    hltc_gen_t g;
    long t0 = hlt_now_ms();
    hltc_gen_start(&g, D, TOK, id, "profile", N, TITLE, 16, 0);
    long gen_end = -1, caught_up = -1, rss_max = rss0;
    long deadline = hlt_now_ms() + 90000;
    size_t consumed = 0, mine = 0;
    int64_t last_seq = base_seq;
    for (;;) {
        hltc_sse_pump(&fast, 20);
        for (; consumed < fast.ev.n; ++consumed) {
            hltc_event_t *ev = &fast.ev.v[consumed];
            if (strcmp(hlt_str(ev->json, "conversation_id"), id) != 0)
                continue;
            int64_t seq = json_integer_value(json_object_get(ev->json, "seq"));
            ck_assert_msg(seq == last_seq + 1, "normal stream: seq %lld after %lld", (long long)seq, (long long)last_seq);
            last_seq = seq;
            ++mine;
        }
        /* the normal stream's copy of the frames is not what we measure: drop what was parsed */
        if (consumed > 256) {
            hltc_events_free(&fast.ev);
            hltc_sse_compact(&fast);
            consumed = 0;
        }
        long rss = hltc_rss_kib(D->pid);
        if (rss > rss_max)
            rss_max = rss;
        if (gen_end < 0 && __atomic_load_n(&g.done, __ATOMIC_ACQUIRE))
            gen_end = hlt_now_ms();
        if (mine == N) {
            caught_up = hlt_now_ms();
            break;
        }
        ck_assert_msg(!fast.done, "the normal stream ended: %.200s",
                      fast.res.body + (fast.res.body_len > 200 ? fast.res.body_len - 200 : 0));
        ck_assert_msg(hlt_now_ms() < deadline, "the normal stream got %zu of %d events", mine, N);
    }
    hltc_gen_join(&g);
    if (gen_end < 0)
        gen_end = hlt_now_ms();
    /* the slow reader has read nothing yet: the normal stream catching up at all shows it is not held back by it (how
     * far behind the generator it was is printed with HLT_VERBOSE, never asserted: that is the machine's speed) */
    long growth_mib = (rss_max - rss0) / 1024;
    if (getenv("HLT_VERBOSE") != NULL)
        fprintf(stderr, "slow reader: %d events in %ld ms (%ld ms after the generator), daemon RSS %ld MiB -> max %ld MiB\n", N,
                caught_up - t0, caught_up - gen_end, rss0 / 1024, rss_max / 1024);
    /* (under TSan, HLT_TSAN=1, shadow memory multiplies every allocation: the bound is the ASan run's) */
    if (getenv("HLT_TSAN") == NULL)
        ck_assert_msg(growth_mib <= 64, "the daemon's RSS grew by %ld MiB with a reader that does not read", growth_mib);
    hltc_sse_close(&fast);

    /* the slow reader reads again: its ids are consistent (strictly increasing, this conversation's seqs contiguous), and it
     * either got everything or was ended to resume with Last-Event-ID */
    char *raw = NULL;
    size_t raw_len = 0;
    /* a bound on an endless stream, not a speed check: the backlog is many MiB through an ASan daemon on a loaded machine */
    long deadline2 = hlt_now_ms() + 120000;
    hltc_events_t ev = {.retry = -1};
    size_t parsed = 0;
    int complete = 0;
    int big = 4 * 1024 * 1024;
    ck_assert(setsockopt(slow, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big)) == 0);
    /* read until the connection is idle for a while (everything was generated before) or ends */
    for (;;) {
        long n = hltc_raw_read(slow, &raw, &raw_len, 500);
        if (n <= 0)
            break;
        ck_assert_msg(hlt_now_ms() < deadline2, "the slow reader is still receiving after 120 s (%zu bytes)", raw_len);
    }
    char *head_end = raw != NULL ? strstr(raw, "\r\n\r\n") : NULL;
    ck_assert_msg(head_end != NULL, "the slow reader got no response head");
    size_t body_len;
    char *body = hltc_dechunk(head_end + 4, raw_len - (size_t)(head_end + 4 - raw), &body_len, &complete);
    hltc_sse_parse(&ev, body, body_len, &parsed);
    free(body);
    ck_assert_msg(raw != NULL && strncmp(raw, "HTTP/1.1 200", 12) == 0, "slow reader response: %.200s", raw != NULL ? raw : "");
    ck_assert_msg(ev.n > 0, "the slow reader got no event at all");
    int64_t seq = 0;
    for (size_t i = 0; i < ev.n; ++i) {
        if (i > 0)
            ck_assert_msg(ev.v[i].id > ev.v[i - 1].id, "slow reader: id %lld after %lld", (long long)ev.v[i].id,
                          (long long)ev.v[i - 1].id);
        ck_assert_int_eq(json_integer_value(json_object_get(ev.v[i].json, "event_id")), ev.v[i].id);
        if (strcmp(hlt_str(ev.v[i].json, "conversation_id"), id) != 0)
            continue;
        int64_t s = json_integer_value(json_object_get(ev.v[i].json, "seq"));
        ck_assert_msg(seq == 0 ? s == base_seq + 1 : s == seq + 1, "slow reader: seq %lld after %lld", (long long)s,
                      (long long)seq);
        seq = s;
    }
    if (getenv("HLT_VERBOSE") != NULL)
        fprintf(stderr, "slow reader: received %zu events, last seq %lld, ended %d (%s)\n", ev.n, (long long)seq, complete,
                ev.last_comment != NULL ? ev.last_comment : "");
    ck_assert_msg(seq == base_seq + N || complete, "the slow reader stopped at seq %lld without the stream ending", (long long)seq);
    hltc_events_free(&ev);
    free(raw);
    close(slow);
    free(warm_id);
    free(id);
}
END_TEST

/* ---- graceful shutdown ---- */

START_TEST(test_shutdown_ends_streams)
{
    hltc_ctx_t c;
    hltc_start(&c, 1, NULL);
    char *id = hltc_create(&c.d, HLT_H1, c.dev.access, "shutdown");
    static const hlt_proto_t protos[] = {HLT_H1, HLT_H1, HLT_H2C, HLT_H2C_UPGRADE, HLT_H2_TLS};
    hltc_sse_t s[5];
    for (int i = 0; i < 5; ++i)
        hltc_sse_open(&s[i], &c.d, protos[i], c.dev.access,
                      i % 2 == 0 ? hltc_fmt("/api/v1/conversations/%s/events", id)
                                 : "/api/v1/conversations/events?mode=notifications",
                      NULL, NULL);
    long deadline = hlt_now_ms() + 10000;
    for (;;) {
        int ready = 0;
        for (int i = 0; i < 5; ++i) {
            hltc_sse_pump(&s[i], 10);
            ready += s[i].ev.retry > 0 && (i % 2 == 1 || s[i].ev.n >= 1);
        }
        if (ready == 5)
            break;
        ck_assert_msg(hlt_now_ms() < deadline, "only %d of 5 streams open", ready);
    }
    long t0 = hlt_now_ms();
    ck_assert(kill(c.d.pid, SIGTERM) == 0);
    deadline = t0 + 5000;
    for (;;) {
        int ended = 0;
        for (int i = 0; i < 5; ++i) {
            hltc_sse_pump(&s[i], 10);
            ended += s[i].done;
        }
        if (ended == 5)
            break;
        ck_assert_msg(hlt_now_ms() < deadline, "%d of 5 streams still open 5 s after SIGTERM", 5 - ended);
    }
    for (int i = 0; i < 5; ++i) {
        ck_assert_msg(s[i].res.rc == CURLE_OK, "stream %d over %s did not end cleanly: %s (%s)", i, hlt_proto_name(protos[i]),
                      curl_easy_strerror(s[i].res.rc), s[i].res.errbuf);
        hltc_sse_close(&s[i]);
    }
    long elapsed;
    const char *msg = hlt_daemon_stop_timed(&c.d, &elapsed);
    char excerpt[1024];
    snprintf(excerpt, sizeof(excerpt), "%s", msg != NULL ? msg : "");
    long total = hlt_now_ms() - t0;
    hlt_device_free(&c.dev);
    hlt_daemon_dispose(&c.d);
    ck_assert_msg(msg == NULL, "%s", excerpt);
    ck_assert_msg(total < 5000, "the daemon took %ld ms to exit after SIGTERM", total);
    free(id);
}
END_TEST

Suite *suite_sse(void)
{
    Suite *s = suite_create("sse");
    TCase *tc = tcase_create("sse");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300); /* the slow reader's two bounded phases (90 s, 120 s) on a loaded machine */
    tcase_add_test(tc, test_stream_errors);
    tcase_add_loop_test(tc, test_replay_then_live, 0, 4);
    tcase_add_test(tc, test_global_stream);
    tcase_add_test(tc, test_resume_under_load);
    tcase_add_loop_test(tc, test_h2_fanout, 0, 2);
    tcase_add_test(tc, test_slow_reader);
    tcase_add_test(tc, test_shutdown_ends_streams);
    suite_add_tcase(s, tc);
    return s;
}
