/*
 * The store's typed API (include/hl/store.h) in-process: a migrated link.db in a temporary directory, the store's threads
 * running, requests answered through a reply address of our own, committed batches seen by an observer. The runproxy is
 * not running: runs only move when a test feeds run events itself.
 *
 * Results and observer calls arrive on the store's threads: everything they hand over goes through one mutex and
 * condition variable (also fine under ThreadSanitizer).
 */
#include <check.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sqlite3.h>

#include "hl/clock.h"
#include "hl/db_schema.h"
#include "hl/ids.h"
#include "hl/reply.h"
#include "hl/store.h"
#include "unit_util.h"

#define DEV "dev_aaaa"
#define DEV_B "dev_bbbb"
#define WAIT_MS 20000
#define NO_INDEX ((size_t)-1)

/* ---- fixture: a running store, what its observer saw, the results to free ---- */

typedef struct st_ev_t {
    int64_t event_id, seq;
    char *conv, *type;
    bool notify;
    json_t *json; /* the event as stored (parsed) */
} ev_t;

typedef struct st_start_t {
    char *run_id, *conv;
    json_t *request;
} start_t;

typedef struct st_call_t {
    hl_reply_to_t super;
    hl_result_t *result;
    bool done;
} call_t;

static struct {
    char *dir, *db_path, *blobs_dir;
    hl_store_t *s;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* observer (under mu) */
    ev_t *events;
    size_t num_events;
    start_t *starts;
    size_t num_starts;
    char **cancels;
    size_t num_cancels;
    json_t *decisions; /* [{run_id, approval_id, decision}] */
    /* results kept until teardown (test thread only) */
    hl_result_t **results;
    size_t num_results;
    call_t *cur;
} g;

#define S (g.s)

static void *grow(void *p, size_t n, size_t size)
{
    /* room for n + 1 elements */
    p = realloc(p, (n + 1) * size);
    if (p == NULL)
        abort();
    return p;
}

static char *xstrdup(const char *s)
{
    return s != NULL ? strdup(s) : NULL;
}

static void observer(void *data, const hl_store_commit_t *c)
{
    (void)data;
    pthread_mutex_lock(&g.mu);
    for (size_t i = 0; i < c->num_events; ++i) {
        const hl_event_record_t *e = &c->events[i];
        g.events = grow(g.events, g.num_events, sizeof(*g.events));
        g.events[g.num_events++] = (ev_t){.event_id = e->event_id,
                                          .seq = e->seq,
                                          .conv = xstrdup(e->conversation_id),
                                          .type = xstrdup(e->type),
                                          .notify = e->notify,
                                          .json = json_loadb(e->json, e->json_len, 0, NULL)};
    }
    for (size_t i = 0; i < c->num_run_starts; ++i) {
        const hl_run_start_t *r = &c->run_starts[i];
        g.starts = grow(g.starts, g.num_starts, sizeof(*g.starts));
        g.starts[g.num_starts++] =
            (start_t){.run_id = xstrdup(r->run_id), .conv = xstrdup(r->conversation_id), .request = json_deep_copy(r->request)};
    }
    for (size_t i = 0; i < c->num_run_cancels; ++i) {
        g.cancels = grow(g.cancels, g.num_cancels, sizeof(*g.cancels));
        g.cancels[g.num_cancels++] = xstrdup(c->run_cancels[i]);
    }
    for (size_t i = 0; i < c->num_decisions; ++i) {
        const hl_approval_decision_t *d = &c->decisions[i];
        json_array_append_new(g.decisions, json_pack("{s:s?, s:s?, s:s?}", "run_id", d->run_id, "approval_id", d->approval_id,
                                                     "decision", d->decision));
    }
    pthread_cond_broadcast(&g.cv);
    pthread_mutex_unlock(&g.mu);
}

static void start_store(void)
{
    ck_assert_int_eq(hl_store_init(&g.s, g.db_path, g.blobs_dir), 0);
    hl_store_observe(g.s, observer, NULL);
    ck_assert_int_eq(hl_store_start(g.s), 0);
}

static void stop_store(void)
{
    hl_store_stop(g.s);
    hl_store_dispose(g.s);
    g.s = NULL;
}

static void clear_observed(void)
{
    for (size_t i = 0; i < g.num_events; ++i) {
        free(g.events[i].conv);
        free(g.events[i].type);
        json_decref(g.events[i].json);
    }
    free(g.events);
    g.events = NULL;
    g.num_events = 0;
    for (size_t i = 0; i < g.num_starts; ++i) {
        free(g.starts[i].run_id);
        free(g.starts[i].conv);
        json_decref(g.starts[i].request);
    }
    free(g.starts);
    g.starts = NULL;
    g.num_starts = 0;
    for (size_t i = 0; i < g.num_cancels; ++i)
        free(g.cancels[i]);
    free(g.cancels);
    g.cancels = NULL;
    g.num_cancels = 0;
    json_array_clear(g.decisions);
}

static void setup(void)
{
    memset(&g, 0, sizeof(g));
    pthread_mutex_init(&g.mu, NULL);
    pthread_cond_init(&g.cv, NULL);
    g.decisions = json_array();
    g.dir = ut_mkdtemp();
    g.db_path = ut_path(g.dir, "link.db");
    g.blobs_dir = ut_path(g.dir, "blobs");
    ck_assert_int_eq(mkdir(g.blobs_dir, 0700), 0);
    char err[256] = "";
    ck_assert_msg(hl_db_migrate(g.db_path, err, sizeof(err)) == 0, "migrate: %s", err);
    start_store();
}

static void teardown(void)
{
    if (g.s != NULL)
        stop_store(); /* every thread joined: nothing touches g any more */
    clear_observed();
    json_decref(g.decisions);
    for (size_t i = 0; i < g.num_results; ++i)
        hl_result_free(g.results[i]);
    free(g.results);
    free(g.db_path);
    free(g.blobs_dir);
    ut_rm_rf(g.dir);
    pthread_cond_destroy(&g.cv);
    pthread_mutex_destroy(&g.mu);
}

/* ---- waiting ---- */

static void deadline(struct timespec *ts)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += WAIT_MS / 1000;
}

/* Waits (under g.mu) until `cond` holds; fails the test after WAIT_MS. */
#define WAIT_FOR(cond)                                                                                                             \
    do {                                                                                                                           \
        struct timespec dl_;                                                                                                       \
        deadline(&dl_);                                                                                                            \
        pthread_mutex_lock(&g.mu);                                                                                                 \
        int rc_ = 0;                                                                                                               \
        while (!(cond) && rc_ == 0)                                                                                                \
            rc_ = pthread_cond_timedwait(&g.cv, &g.mu, &dl_);                                                                      \
        bool ok_ = (cond);                                                                                                         \
        pthread_mutex_unlock(&g.mu);                                                                                               \
        ck_assert_msg(ok_, "timed out waiting for %s", #cond);                                                                     \
    } while (0)

static void deliver(hl_reply_to_t *to, hl_result_t *result)
{
    call_t *c = (call_t *)to;
    pthread_mutex_lock(&g.mu);
    c->result = result;
    c->done = true;
    pthread_cond_broadcast(&g.cv);
    pthread_mutex_unlock(&g.mu);
}

static call_t *call_new(void)
{
    call_t *c = calloc(1, sizeof(*c));
    ck_assert_ptr_nonnull(c);
    c->super.deliver = deliver;
    return c;
}

/* Waits for the call's result (kept until teardown) and frees the call. */
static hl_result_t *call_wait(call_t *c)
{
    WAIT_FOR(c->done);
    hl_result_t *r = c->result;
    free(c);
    ck_assert_ptr_nonnull(r);
    g.results = grow(g.results, g.num_results, sizeof(*g.results));
    g.results[g.num_results++] = r;
    return r;
}

/* One request at a time: `hl_store_x(S, to(), …); r = res();` */
static hl_reply_to_t *to(void)
{
    ck_assert_ptr_null(g.cur);
    g.cur = call_new();
    return &g.cur->super;
}

/* Reads a streamed result's whole body (chunks come back on the store's reader threads). Caller frees. */
typedef struct st_drain_t {
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    char *buf;
    size_t len, got;
    int err, done, eof;
} drain_t;

static void drain_chunk(void *ctx, const char *data, size_t len, int err)
{
    drain_t *d = ctx;
    pthread_mutex_lock(&d->mutex);
    if (err == 0 && len > 0) {
        d->buf = hl_realloc(d->buf, d->len + len + 1);
        memcpy(d->buf + d->len, data, len);
        d->len += len;
    }
    d->err = err;
    d->eof = len == 0;
    d->done = 1;
    pthread_cond_signal(&d->cond);
    pthread_mutex_unlock(&d->mutex);
}

static char *read_stream(hl_result_t *r, size_t *len)
{
    ck_assert_ptr_nonnull(r->source);
    drain_t d = {.buf = hl_malloc(1)};
    pthread_mutex_init(&d.mutex, NULL);
    pthread_cond_init(&d.cond, NULL);
    for (int i = 0; i < 1000 && !d.eof && d.err == 0; ++i) {
        d.done = 0;
        r->source->read(r->source, 4, drain_chunk, &d); /* small chunks: several reads per blob */
        pthread_mutex_lock(&d.mutex);
        while (!d.done)
            pthread_cond_wait(&d.cond, &d.mutex);
        pthread_mutex_unlock(&d.mutex);
    }
    ck_assert_int_eq(d.err, 0);
    ck_assert(d.eof);
    pthread_mutex_destroy(&d.mutex);
    pthread_cond_destroy(&d.cond);
    d.buf[d.len] = '\0';
    *len = d.len;
    return d.buf;
}

static hl_result_t *res(void)
{
    call_t *c = g.cur;
    g.cur = NULL;
    return call_wait(c);
}

static size_t nevents(void)
{
    pthread_mutex_lock(&g.mu);
    size_t n = g.num_events;
    pthread_mutex_unlock(&g.mu);
    return n;
}

/* A shallow copy of observed event i (its strings and JSON live until teardown). */
static ev_t ev(size_t i)
{
    pthread_mutex_lock(&g.mu);
    size_t n = g.num_events;
    ev_t e = i < n ? g.events[i] : (ev_t){0};
    pthread_mutex_unlock(&g.mu);
    ck_assert_msg(i < n, "event %zu of %zu", i, n);
    ck_assert_msg(e.json != NULL, "event %zu is not JSON", i);
    return e;
}

static size_t nstarts(void)
{
    pthread_mutex_lock(&g.mu);
    size_t n = g.num_starts;
    pthread_mutex_unlock(&g.mu);
    return n;
}

static start_t start_at(size_t i)
{
    WAIT_FOR(g.num_starts > i);
    pthread_mutex_lock(&g.mu);
    start_t s = g.starts[i];
    pthread_mutex_unlock(&g.mu);
    return s;
}

static size_t ncancels(void)
{
    pthread_mutex_lock(&g.mu);
    size_t n = g.num_cancels;
    pthread_mutex_unlock(&g.mu);
    return n;
}

static void nap(void)
{
    /* timestamps are in ms: later operations get strictly later updated_at */
    struct timespec ts = {0, 3 * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* ---- JSON and result checks ---- */

/* A value by dotted path ("conversation.profile.name", "messages.0.id"), or NULL. */
static json_t *jget(json_t *v, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", path);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ".", &save); tok != NULL && v != NULL; tok = strtok_r(NULL, ".", &save))
        v = json_is_array(v) ? json_array_get(v, strtoul(tok, NULL, 10)) : json_object_get(v, tok);
    return v;
}

static const char *jstr(json_t *v, const char *path)
{
    json_t *x = jget(v, path);
    ck_assert_msg(json_is_string(x), "%s is not a string", path);
    return json_string_value(x);
}

static json_int_t jint(json_t *v, const char *path)
{
    json_t *x = jget(v, path);
    ck_assert_msg(json_is_integer(x), "%s is not an integer", path);
    return json_integer_value(x);
}

static bool jbool(json_t *v, const char *path)
{
    json_t *x = jget(v, path);
    ck_assert_msg(json_is_boolean(x), "%s is not a boolean", path);
    return json_is_true(x);
}

static bool jnull(json_t *v, const char *path)
{
    return json_is_null(jget(v, path));
}

static size_t jlen(json_t *v, const char *path)
{
    json_t *x = jget(v, path);
    ck_assert_msg(json_is_array(x), "%s is not an array", path);
    return json_array_size(x);
}

static void expect_ok_at(int line, const hl_result_t *r, hl_result_kind_t kind)
{
    ck_assert_msg(r->kind == kind, "line %d: kind %d (%s: %s), expected %d", line, (int)r->kind, r->code ? r->code : "-",
                  r->message ? r->message : "-", (int)kind);
    ck_assert_msg(r->code == NULL, "line %d: success with code %s", line, r->code);
}

static void expect_err_at(int line, const hl_result_t *r, hl_result_kind_t kind, const char *code)
{
    ck_assert_msg(r->kind == kind && r->code != NULL && strcmp(r->code, code) == 0, "line %d: kind %d code %s, expected %d %s",
                  line, (int)r->kind, r->code ? r->code : "(null)", (int)kind, code);
    ck_assert_msg(r->message != NULL && r->message[0] != '\0', "line %d: error without a message", line);
}

#define EXPECT_OK(r, kind) expect_ok_at(__LINE__, (r), (kind))
#define EXPECT_ERR(r, kind, code) expect_err_at(__LINE__, (r), (kind), (code))

/* The ids of body.conversations, in order, are exactly the NULL-terminated list. */
static void expect_ids_at(int line, json_t *body, ...)
{
    json_t *convs = json_object_get(body, "conversations");
    ck_assert_msg(json_is_array(convs), "line %d: no conversations", line);
    va_list ap;
    va_start(ap, body);
    size_t i = 0;
    for (const char *id; (id = va_arg(ap, const char *)) != NULL; ++i) {
        json_t *c = json_array_get(convs, i);
        ck_assert_msg(c != NULL, "line %d: %zu conversations, expected more", line, json_array_size(convs));
        ck_assert_msg(strcmp(jstr(c, "id"), id) == 0, "line %d: item %zu is %s, expected %s", line, i, jstr(c, "id"), id);
    }
    va_end(ap);
    ck_assert_msg(json_array_size(convs) == i, "line %d: %zu conversations, expected %zu", line, json_array_size(convs), i);
}

#define EXPECT_IDS(body, ...) expect_ids_at(__LINE__, (body), __VA_ARGS__, (const char *)NULL)
#define EXPECT_NONE(body) expect_ids_at(__LINE__, (body), (const char *)NULL)

/* ---- store shortcuts ---- */

/* A new conversation's id (borrowed from the kept result). */
static const char *new_conv(const char *title)
{
    hl_store_create(S, to(), DEV, title, NULL);
    hl_result_t *r = res();
    EXPECT_OK(r, HL_RESULT_CREATED);
    return jstr(r->body, "conversation.id");
}

static hl_result_t *list(bool archived, int limit, const char *cursor, const char *query, const char *device)
{
    hl_conv_list_req_t req = {.archived = archived, .limit = limit, .cursor = cursor, .query = query};
    hl_store_list(S, to(), device, &req);
    hl_result_t *r = res();
    EXPECT_OK(r, HL_RESULT_OK);
    ck_assert_int_eq(jint(r->body, "page.limit"), limit);
    return r;
}

static json_t *search(const char *query, int limit, const char *cursor)
{
    return list(false, limit, cursor, query, DEV)->body;
}

static hl_result_t *send_msg(const char *conv, const char *content)
{
    hl_send_req_t req = {.conversation_id = conv, .content = content};
    hl_store_send(S, to(), DEV, &req);
    return res();
}

static hl_result_t *run_event(hl_run_event_kind_t kind, const char *run_id, const char *delta, json_t *usage)
{
    hl_run_event_t e = {.kind = kind, .run_id = run_id, .delta = delta, .usage = usage};
    if (kind == HL_RUN_EVENT_UPSTREAM) {
        e.upstream_run_id = delta;
        e.delta = NULL;
    } else if (kind == HL_RUN_EVENT_FAILED) {
        e.error_code = "upstream_broke";
        e.error_message = delta;
        e.delta = NULL;
    }
    hl_store_run_event(S, to(), &e);
    return res();
}

static json_t *messages_page(const char *conv)
{
    hl_store_messages(S, to(), DEV, conv, 1, NULL);
    hl_result_t *r = res();
    EXPECT_OK(r, HL_RESULT_OK);
    return r->body;
}

static int64_t last_seq(const char *conv)
{
    hl_store_stream_check(S, to(), conv);
    hl_result_t *r = res();
    EXPECT_OK(r, HL_RESULT_OK);
    return jint(r->body, "last_event_seq");
}

/* Waits until everything the writer answered so far was handed to the observers (and its blob files cleaned up): the
 * writer takes its mailbox in whole batches and runs the observers after each, so a round trip posted now is answered
 * only after the batches before it were done with. Emits nothing. */
static void sync_store(void)
{
    hl_store_ping(S, to(), 0);
    hl_result_t *r = res();
    EXPECT_OK(r, HL_RESULT_OK);
    ck_assert_int_eq(jint(r->body, "delay_ms"), 0);
}

/* The number of events observed once everything answered so far was observed. */
static size_t mark(void)
{
    sync_store();
    return nevents();
}

/* Index of the first observed event at or after `from` of `conv` with `type`, or NO_INDEX. */
static size_t find_event(size_t from, const char *conv, const char *type)
{
    size_t n = nevents();
    for (size_t i = from; i < n; ++i) {
        ev_t e = ev(i);
        if ((conv == NULL || strcmp(e.conv, conv) == 0) && strcmp(e.type, type) == 0)
            return i;
    }
    return NO_INDEX;
}

/* The events observed from index `from` on are exactly these types (NULL-terminated), all of `conv`, with consecutive seqs. */
static void expect_types_at(int line, size_t from, const char *conv, ...)
{
    const char *types[32];
    size_t n = 0;
    va_list ap;
    va_start(ap, conv);
    for (const char *t; (t = va_arg(ap, const char *)) != NULL && n < 32;)
        types[n++] = t;
    va_end(ap);
    WAIT_FOR(g.num_events >= from + n);
    sync_store();
    ck_assert_msg(nevents() == from + n, "line %d: %zu events, expected %zu", line, nevents() - from, n);
    for (size_t i = 0; i < n; ++i) {
        ev_t e = ev(from + i);
        ck_assert_msg(strcmp(e.type, types[i]) == 0, "line %d: event %zu is %s, expected %s", line, i, e.type, types[i]);
        ck_assert_msg(strcmp(e.conv, conv) == 0, "line %d: event %zu of %s, expected %s", line, i, e.conv, conv);
        if (i > 0)
            ck_assert_msg(e.seq == ev(from + i - 1).seq + 1, "line %d: event %zu has seq %lld", line, i, (long long)e.seq);
    }
}

#define EXPECT_TYPES(from, conv, ...) expect_types_at(__LINE__, (from), (conv), __VA_ARGS__, (const char *)NULL)

/* Every observed event, in order: increasing global ids, per-conversation seqs 1, 2, 3…, the record matching its JSON. */
static void check_event_order(void)
{
    char msg[256] = "";
    pthread_mutex_lock(&g.mu);
    for (size_t i = 0; i < g.num_events && msg[0] == '\0'; ++i) {
        const ev_t *e = &g.events[i];
        int64_t prev_seq = 0;
        for (size_t j = i; j-- > 0;)
            if (strcmp(g.events[j].conv, e->conv) == 0) {
                prev_seq = g.events[j].seq;
                break;
            }
        if (i > 0 && e->event_id <= g.events[i - 1].event_id)
            snprintf(msg, sizeof(msg), "event %zu: id %lld after %lld", i, (long long)e->event_id,
                     (long long)g.events[i - 1].event_id);
        else if (e->seq != prev_seq + 1)
            snprintf(msg, sizeof(msg), "event %zu (%s): seq %lld after %lld", i, e->type, (long long)e->seq, (long long)prev_seq);
        else if (e->json == NULL || json_integer_value(json_object_get(e->json, "seq")) != e->seq ||
                 json_integer_value(json_object_get(e->json, "event_id")) != e->event_id ||
                 strcmp(json_string_value(json_object_get(e->json, "type")), e->type) != 0 ||
                 strcmp(json_string_value(json_object_get(e->json, "conversation_id")), e->conv) != 0)
            snprintf(msg, sizeof(msg), "event %zu: record and JSON disagree", i);
    }
    pthread_mutex_unlock(&g.mu);
    ck_assert_msg(msg[0] == '\0', "%s", msg);
}

/* ---- validation (no store) ---- */

START_TEST(conversation_id_validation)
{
    char max[101], over[102];
    memcpy(max, "conv_", 5);
    memset(max + 5, 'a', 95);
    max[100] = '\0';
    memcpy(over, max, 100);
    over[100] = 'b';
    over[101] = '\0';
    ck_assert(hl_conversation_id_valid("conv_a"));
    ck_assert(hl_conversation_id_valid("conv_aZ09"));
    ck_assert(hl_conversation_id_valid(max)); /* 100 characters */
    ck_assert(!hl_conversation_id_valid(over));
    ck_assert(!hl_conversation_id_valid(NULL));
    ck_assert(!hl_conversation_id_valid(""));
    ck_assert(!hl_conversation_id_valid("x"));
    ck_assert(!hl_conversation_id_valid("conv_"));
    ck_assert(!hl_conversation_id_valid("conv"));
    ck_assert(!hl_conversation_id_valid("CONV_abc"));
    ck_assert(!hl_conversation_id_valid("conv_ab-c"));
    ck_assert(!hl_conversation_id_valid("conv_ab_c"));
    ck_assert(!hl_conversation_id_valid("conv_ab c"));
    ck_assert(!hl_conversation_id_valid("conv_ab/../c"));
    ck_assert(!hl_conversation_id_valid("conv_\xc3\xa4"));
    ck_assert(!hl_conversation_id_valid(" conv_abc"));
}
END_TEST

START_TEST(blob_id_validation)
{
    ck_assert(hl_blob_id_valid("blob_0123456789abcdef0123456789abcdef"));
    ck_assert(!hl_blob_id_valid("blob_0123456789ABCDEF0123456789abcdef"));
    ck_assert(!hl_blob_id_valid("blob_0123456789abcdef0123456789abcde"));   /* 31 */
    ck_assert(!hl_blob_id_valid("blob_0123456789abcdef0123456789abcdef0")); /* 33 */
    ck_assert(!hl_blob_id_valid("blob_0123456789abcdef0123456789abcdeg"));
    ck_assert(!hl_blob_id_valid("blob-0123456789abcdef0123456789abcdef"));
    ck_assert(!hl_blob_id_valid("bLob_0123456789abcdef0123456789abcdef"));
    ck_assert(!hl_blob_id_valid("blob_../456789abcdef0123456789abcdef"));
    ck_assert(!hl_blob_id_valid("blob_"));
    ck_assert(!hl_blob_id_valid(""));
    ck_assert(!hl_blob_id_valid(NULL));
}
END_TEST

/* ---- conversations ---- */

START_TEST(create_defaults_and_profile)
{
    size_t m = mark();
    hl_store_create(S, to(), DEV, NULL, NULL);
    hl_result_t *r = res();
    EXPECT_OK(r, HL_RESULT_CREATED);
    ck_assert_ptr_null(r->bytes);
    json_t *c = jget(r->body, "conversation");
    const char *id = jstr(c, "id");
    ck_assert(hl_conversation_id_valid(id));
    ck_assert_uint_eq(strlen(id), 37);
    ck_assert_str_eq(jstr(c, "title"), "New conversation");
    ck_assert_str_eq(jstr(c, "status"), "active");
    ck_assert_int_eq(jint(c, "last_event_seq"), 1);
    ck_assert_str_eq(jstr(c, "profile.name"), "default");
    ck_assert_str_eq(jstr(c, "profile.display_name"), "default");
    ck_assert(jnull(c, "profile.avatar_url"));
    ck_assert(jnull(c, "last_message"));
    ck_assert_int_eq(jint(c, "unread_count"), 0);
    ck_assert_int_eq(jint(c, "usage.input_tokens"), 0);
    ck_assert_int_eq(jint(c, "usage.output_tokens"), 0);
    ck_assert_int_eq(jint(c, "usage.total_tokens"), 0);
    ck_assert_ptr_null(jget(c, "usage.updated_at"));
    ck_assert_uint_eq(strlen(jstr(c, "created_at")), 24);
    ck_assert_str_eq(jstr(c, "created_at"), jstr(c, "updated_at"));

    hl_store_create(S, to(), DEV, "", NULL); /* an explicit empty title is kept */
    r = res();
    EXPECT_OK(r, HL_RESULT_CREATED);
    const char *empty = jstr(r->body, "conversation.id");
    ck_assert_str_eq(jstr(r->body, "conversation.title"), "");

    hl_store_create(S, to(), NULL, "Plans", "work");
    r = res();
    EXPECT_OK(r, HL_RESULT_CREATED);
    const char *work = jstr(r->body, "conversation.id");
    ck_assert_str_eq(jstr(r->body, "conversation.title"), "Plans");
    ck_assert_str_eq(jstr(r->body, "conversation.profile.name"), "work");
    ck_assert_str_eq(jstr(r->body, "conversation.profile.display_name"), "work");
    ck_assert_str_ne(id, empty);
    ck_assert_str_ne(empty, work);

    /* one conversation.created each, seq 1, its summary in the payload */
    const char *ids[] = {id, empty, work};
    WAIT_FOR(g.num_events >= m + 3);
    ck_assert_uint_eq(nevents(), m + 3);
    for (size_t i = 0; i < 3; ++i) {
        ev_t e = ev(m + i);
        ck_assert_str_eq(e.type, "conversation.created");
        ck_assert_str_eq(e.conv, ids[i]);
        ck_assert_int_eq(e.seq, 1);
        ck_assert(e.notify);
        ck_assert_str_eq(jstr(e.json, "payload.conversation.id"), ids[i]);
        ck_assert_int_eq(jint(e.json, "payload.conversation.last_event_seq"), 1);
        ck_assert_int_eq(jint(e.json, "event_id"), e.event_id);
        ck_assert_ptr_null(jget(e.json, "message_id"));
        ck_assert_ptr_null(jget(e.json, "run_id"));
    }
    ck_assert_str_eq(jstr(ev(m + 1).json, "payload.conversation.title"), "");
    ck_assert_str_eq(jstr(ev(m + 2).json, "payload.conversation.profile.name"), "work");
    ck_assert_int_eq(ev(m + 2).event_id, ev(m).event_id + 2);

    /* the stored rows say the same */
    ck_assert_str_eq(jstr(list(false, 10, NULL, "Plans", DEV)->body, "conversations.0.profile.name"), "work");
    check_event_order();
}
END_TEST

START_TEST(list_keyset_pages)
{
    const char *c[5];
    for (int i = 0; i < 5; ++i) {
        char title[16];
        snprintf(title, sizeof(title), "list %d", i);
        c[i] = new_conv(title);
        nap();
    }
    hl_result_t *r = list(false, 100, NULL, NULL, DEV);
    EXPECT_IDS(r->body, c[4], c[3], c[2], c[1], c[0]); /* newest first */
    ck_assert(!jbool(r->body, "page.has_more"));
    ck_assert(jnull(r->body, "page.next_cursor"));
    ck_assert_str_eq(jstr(r->body, "conversations.0.title"), "list 4");

    r = list(false, 2, NULL, NULL, DEV);
    EXPECT_IDS(r->body, c[4], c[3]);
    ck_assert(jbool(r->body, "page.has_more"));
    ck_assert_str_eq(jstr(r->body, "page.next_cursor"), c[3]);
    r = list(false, 2, c[3], NULL, DEV);
    EXPECT_IDS(r->body, c[2], c[1]);
    ck_assert(jbool(r->body, "page.has_more"));
    ck_assert_str_eq(jstr(r->body, "page.next_cursor"), c[1]);
    r = list(false, 2, c[1], NULL, DEV);
    EXPECT_IDS(r->body, c[0]);
    ck_assert(!jbool(r->body, "page.has_more"));
    ck_assert(jnull(r->body, "page.next_cursor"));
    r = list(false, 2, c[0], NULL, DEV); /* after the last one */
    EXPECT_NONE(r->body);
    ck_assert(!jbool(r->body, "page.has_more"));

    /* a page that is exactly full has no more */
    r = list(false, 5, NULL, NULL, DEV);
    ck_assert_uint_eq(jlen(r->body, "conversations"), 5);
    ck_assert(!jbool(r->body, "page.has_more"));
    ck_assert(jnull(r->body, "page.next_cursor"));
    r = list(false, 1, NULL, NULL, DEV);
    EXPECT_IDS(r->body, c[4]);
    ck_assert_str_eq(jstr(r->body, "page.next_cursor"), c[4]);

    /* an unknown cursor (well-formed or not) restarts from the top */
    EXPECT_IDS(list(false, 2, "conv_unknown", NULL, DEV)->body, c[4], c[3]);
    EXPECT_IDS(list(false, 2, "garbage", NULL, DEV)->body, c[4], c[3]);

    /* archived ones move to the archived list; their id is an unknown cursor for the active list */
    hl_store_archive(S, to(), DEV, c[2], true);
    EXPECT_OK(res(), HL_RESULT_OK);
    EXPECT_IDS(list(false, 10, NULL, NULL, DEV)->body, c[4], c[3], c[1], c[0]);
    EXPECT_IDS(list(false, 10, c[2], NULL, DEV)->body, c[4], c[3], c[1], c[0]);
    r = list(true, 10, NULL, NULL, DEV);
    EXPECT_IDS(r->body, c[2]);
    ck_assert_str_eq(jstr(r->body, "conversations.0.status"), "archived");
    ck_assert(!jbool(r->body, "page.has_more"));
    EXPECT_NONE(list(true, 10, c[2], NULL, DEV)->body);

    /* an update moves a conversation to the top; a deleted one leaves the list */
    nap();
    hl_store_rename(S, to(), DEV, c[0], "renamed");
    EXPECT_OK(res(), HL_RESULT_OK);
    hl_store_delete(S, to(), DEV, c[3]);
    EXPECT_OK(res(), HL_RESULT_OK);
    r = list(false, 10, NULL, NULL, DEV);
    EXPECT_IDS(r->body, c[0], c[4], c[1]);
    ck_assert_str_eq(jstr(r->body, "conversations.0.title"), "renamed");
    EXPECT_IDS(list(false, 10, c[3], NULL, DEV)->body, c[0], c[4], c[1]); /* a deleted cursor restarts too */
}
END_TEST

START_TEST(search_titles_and_messages)
{
    const char *a = new_conv("Gr\xc3\xbc\xc3\x9f"
                             "e aus M\xc3\x9cNCHEN"); /* "Grüße aus MÜNCHEN" */
    nap();
    const char *b = new_conv("Weekly planning notes");
    nap();
    const char *c = new_conv("ab testing");
    nap();
    const char *d = new_conv(NULL);
    EXPECT_OK(send_msg(d, "the quick brown fox"), HL_RESULT_ACCEPTED);
    hl_store_rename(S, to(), DEV, d, "Other");
    EXPECT_OK(res(), HL_RESULT_OK);

    /* three characters or more: FTS5 trigram phrases, Unicode case folding */
    EXPECT_IDS(search("m\xc3\xbcnchen", 10, NULL), a); /* "münchen" */
    EXPECT_IDS(search("m\xc3\x9cnChEn", 10, NULL), a); /* "mÜnChEn" */
    EXPECT_IDS(search("GR\xc3\x9c\xc3\x9f"
                      "E",
                      10, NULL),
               a); /* "GRÜßE" */
    EXPECT_IDS(search("PLANNING", 10, NULL), b);
    EXPECT_IDS(search("BROWN", 10, NULL), d); /* message text */
    EXPECT_IDS(search("the quick", 10, NULL), d);
    EXPECT_IDS(search("other", 10, NULL), d);          /* the renamed title */
    EXPECT_NONE(search("New conversation", 10, NULL)); /* the replaced titles left the index */
    EXPECT_NONE(search("the quick brown fox!", 10, NULL));
    EXPECT_NONE(search("\"needle\"", 10, NULL)); /* quotes are part of the phrase, not syntax */
    EXPECT_NONE(search("ab* OR x", 10, NULL));

    /* shorter: LIKE '%q%' with the query's wildcards escaped; ASCII case folding only */
    EXPECT_IDS(search("ab", 10, NULL), c);
    EXPECT_IDS(search("AB", 10, NULL), c);
    EXPECT_IDS(search("\xc3\x9cN", 10, NULL), a); /* "ÜN", same case */
    EXPECT_NONE(search("\xc3\xbcn", 10, NULL));   /* "ün": LIKE does not fold non-ASCII */
    EXPECT_NONE(search("_b", 10, NULL));
    EXPECT_NONE(search("%", 10, NULL));
    EXPECT_NONE(search("a%", 10, NULL));
    EXPECT_NONE(search("\\", 10, NULL));

    /* an empty query lists */
    EXPECT_IDS(list(false, 10, NULL, "", DEV)->body, d, c, b, a);

    /* only the requested status, never deleted ones */
    hl_store_archive(S, to(), DEV, b, true);
    EXPECT_OK(res(), HL_RESULT_OK);
    EXPECT_NONE(search("planning", 10, NULL));
    EXPECT_IDS(list(true, 10, NULL, "planning", DEV)->body, b);
    EXPECT_IDS(list(true, 10, NULL, "pl", DEV)->body, b);
    hl_store_delete(S, to(), DEV, c);
    EXPECT_OK(res(), HL_RESULT_OK);
    EXPECT_NONE(search("ab", 10, NULL));
    EXPECT_NONE(search("testing", 10, NULL));

    /* as implemented, searches page with real keyset cursors (the original ignored cursors, spec/GAPS.md B.29) */
    nap();
    const char *n1 = new_conv("needle one");
    nap();
    const char *n2 = new_conv("needle two");
    nap();
    const char *n3 = new_conv("needle three");
    json_t *p = search("NEEDLE", 2, NULL);
    EXPECT_IDS(p, n3, n2);
    ck_assert(jbool(p, "page.has_more"));
    ck_assert_str_eq(jstr(p, "page.next_cursor"), n2);
    p = search("NEEDLE", 2, n2);
    EXPECT_IDS(p, n1);
    ck_assert(!jbool(p, "page.has_more"));
    ck_assert(jnull(p, "page.next_cursor"));
    EXPECT_IDS(search("NEEDLE", 2, "conv_unknown"), n3, n2); /* an unknown cursor restarts */
    p = search("ne", 2, NULL);                               /* LIKE pages the same way */
    EXPECT_IDS(p, n3, n2);
    ck_assert_str_eq(jstr(p, "page.next_cursor"), n2);
    EXPECT_IDS(search("ne", 2, n2), n1);
}
END_TEST

START_TEST(delete_soft)
{
    const char *c = new_conv("to delete");
    size_t m = mark();
    hl_store_delete(S, to(), DEV, c);
    hl_result_t *r = res();
    EXPECT_OK(r, HL_RESULT_OK);
    ck_assert_str_eq(jstr(r->body, "conversation_id"), c);
    ck_assert(!jbool(r->body, "hermes_deleted"));
    ck_assert(jbool(r->body, "blob_gc_completed"));
    ck_assert_uint_eq(strlen(jstr(r->body, "deleted_at")), 24);
    EXPECT_TYPES(m, c, "conversation.deleted");
    ck_assert_int_eq(ev(m).seq, 2);
    ck_assert_str_eq(jstr(ev(m).json, "payload.conversation.status"), "deleted_soft");

    /* gone for every later operation */
    hl_store_delete(S, to(), DEV, c);
    EXPECT_ERR(res(), HL_RESULT_NOT_FOUND, "conversation_not_found");
    hl_store_stream_check(S, to(), c);
    EXPECT_ERR(res(), HL_RESULT_NOT_FOUND, "conversation_not_found");
    hl_store_messages(S, to(), DEV, c, 20, NULL);
    EXPECT_ERR(res(), HL_RESULT_NOT_FOUND, "conversation_not_found");
    hl_store_archive(S, to(), DEV, c, false);
    EXPECT_ERR(res(), HL_RESULT_NOT_FOUND, "conversation_not_found");
    EXPECT_ERR(send_msg(c, "hello"), HL_RESULT_NOT_FOUND, "conversation_not_found");
    EXPECT_NONE(list(false, 10, NULL, NULL, DEV)->body);
    EXPECT_NONE(list(true, 10, NULL, NULL, DEV)->body);

    /* archived conversations can be deleted; unknown ones cannot */
    const char *a = new_conv("archived");
    hl_store_archive(S, to(), DEV, a, true);
    EXPECT_OK(res(), HL_RESULT_OK);
    hl_store_delete(S, to(), DEV, a);
    EXPECT_OK(res(), HL_RESULT_OK);
    EXPECT_NONE(list(true, 10, NULL, NULL, DEV)->body);
    hl_store_delete(S, to(), DEV, "conv_doesnotexist");
    EXPECT_ERR(res(), HL_RESULT_NOT_FOUND, "conversation_not_found");
}
END_TEST

START_TEST(bulk_delete_partial_failure)
{
    const char *a = new_conv("a"), *b = new_conv("b"), *keep = new_conv("keep");
    size_t m = mark();
    const char *ids[] = {a, "conv_missing", "bad id", b, a};
    hl_store_bulk_delete(S, to(), DEV, ids, 5);
    hl_result_t *r = res();
    EXPECT_ERR(r, HL_RESULT_CONFLICT, "conversation_bulk_delete_partial_failure");
    ck_assert_ptr_nonnull(r->body); /* a conflict with the counters */
    ck_assert_int_eq(jint(r->body, "deleted_count"), 2);
    ck_assert_int_eq(jint(r->body, "failed_count"), 3);
    ck_assert(jbool(r->body, "blob_gc_completed"));
    ck_assert_uint_eq(jlen(r->body, "conversations"), 5);
    json_t *items = jget(r->body, "conversations");
    ck_assert_str_eq(jstr(items, "0.conversation_id"), a);
    ck_assert_str_eq(jstr(items, "0.status"), "deleted");
    ck_assert(!jbool(items, "0.hermes_deleted"));
    ck_assert_uint_eq(strlen(jstr(items, "0.deleted_at")), 24);
    ck_assert_str_eq(jstr(items, "1.conversation_id"), "conv_missing");
    ck_assert_str_eq(jstr(items, "1.status"), "failed");
    ck_assert_str_eq(jstr(items, "1.error.code"), "conversation_not_found");
    ck_assert_str_eq(jstr(items, "2.conversation_id"), "bad id");
    ck_assert_str_eq(jstr(items, "2.error.code"), "invalid_conversation_id");
    ck_assert_str_eq(jstr(items, "3.conversation_id"), b);
    ck_assert_str_eq(jstr(items, "3.status"), "deleted");
    ck_assert_str_eq(jstr(items, "4.error.code"), "conversation_not_found"); /* a repeated id: already deleted */

    /* the deletions that worked are kept, with their events */
    EXPECT_IDS(list(false, 10, NULL, NULL, DEV)->body, keep);
    WAIT_FOR(g.num_events >= m + 2);
    ck_assert_uint_eq(nevents(), m + 2);
    ck_assert_str_eq(ev(m).type, "conversation.deleted");
    ck_assert_str_eq(ev(m).conv, a);
    ck_assert_str_eq(ev(m + 1).type, "conversation.deleted");
    ck_assert_str_eq(ev(m + 1).conv, b);

    const char *ok_ids[] = {keep};
    hl_store_bulk_delete(S, to(), DEV, ok_ids, 1);
    r = res();
    EXPECT_OK(r, HL_RESULT_OK);
    ck_assert_int_eq(jint(r->body, "deleted_count"), 1);
    ck_assert_int_eq(jint(r->body, "failed_count"), 0);
    ck_assert_str_eq(jstr(r->body, "conversations.0.status"), "deleted");
    EXPECT_NONE(list(false, 10, NULL, NULL, DEV)->body);
    check_event_order();
}
END_TEST

START_TEST(rename_model_profile)
{
    const char *c = new_conv("first");
    size_t m = mark();
    hl_store_rename(S, to(), DEV, c, "second");
    hl_result_t *r = res();
    EXPECT_OK(r, HL_RESULT_OK);
    ck_assert_str_eq(jstr(r->body, "conversation_id"), c);
    ck_assert_str_eq(jstr(r->body, "title"), "second");
    ck_assert_str_eq(jstr(r->body, "conversation.title"), "second");
    ck_assert_int_eq(jint(r->body, "conversation.last_event_seq"), 2);
    ck_assert(!jbool(r->body, "hermes_synced"));
    ck_assert_int_eq(jint(r->body, "last_event_seq"), 2);
    EXPECT_TYPES(m, c, "conversation.updated");
    ck_assert_int_eq(ev(m).seq, 2);
    ck_assert(ev(m).notify);
    ck_assert_str_eq(jstr(ev(m).json, "payload.conversation.title"), "second");
    ck_assert_int_eq(jint(ev(m).json, "payload.conversation.last_event_seq"), 2);

    hl_store_set_model(S, to(), DEV, c, "gpt-test");
    r = res();
    EXPECT_OK(r, HL_RESULT_OK);
    ck_assert_str_eq(jstr(r->body, "conversation_id"), c);
    ck_assert_str_eq(jstr(r->body, "model_override"), "gpt-test");
    ck_assert_str_eq(jstr(r->body, "runtime.model.id"), "gpt-test");
    ck_assert_str_eq(jstr(r->body, "runtime.context.source"), "estimated");
    ck_assert_str_eq(jstr(r->body, "runtime.profile.name"), "default");
    ck_assert_int_eq(jint(r->body, "last_event_seq"), 3);
    EXPECT_TYPES(m, c, "conversation.updated", "conversation.updated");

    hl_store_set_profile(S, to(), DEV, c, "work");
    r = res();
    EXPECT_OK(r, HL_RESULT_OK);
    ck_assert_str_eq(jstr(r->body, "profile.name"), "work");
    ck_assert_str_eq(jstr(r->body, "profile.display_name"), "work");
    ck_assert_str_eq(jstr(r->body, "profile.uid"), "");
    ck_assert(jnull(r->body, "profile.avatar_url"));
    ck_assert_str_eq(jstr(r->body, "runtime.profile.name"), "work");
    ck_assert_str_eq(jstr(r->body, "conversation.profile.name"), "work");
    ck_assert_int_eq(jint(r->body, "last_event_seq"), 4);
    EXPECT_TYPES(m, c, "conversation.updated", "conversation.updated", "conversation.updated");
    ck_assert_str_eq(jstr(ev(m + 2).json, "payload.conversation.profile.name"), "work");

    /* both are sent with the next run */
    hl_result_t *s = send_msg(c, "go");
    EXPECT_OK(s, HL_RESULT_ACCEPTED);
    start_t st = start_at(0);
    ck_assert_str_eq(st.run_id, jstr(s->body, "run.id"));
    ck_assert_str_eq(jstr(st.request, "model"), "gpt-test");
    ck_assert_str_eq(jstr(st.request, "profile"), "work");
    ck_assert_str_eq(jstr(messages_page(c), "runtime.model.id"), "gpt-test");

    /* active conversations only */
    hl_store_archive(S, to(), DEV, c, true);
    EXPECT_OK(res(), HL_RESULT_OK);
    hl_store_rename(S, to(), DEV, c, "third");
    EXPECT_ERR(res(), HL_RESULT_NOT_FOUND, "conversation_not_found");
    hl_store_set_model(S, to(), DEV, c, "m");
    EXPECT_ERR(res(), HL_RESULT_NOT_FOUND, "conversation_not_found");
    hl_store_set_profile(S, to(), DEV, c, "p");
    EXPECT_ERR(res(), HL_RESULT_NOT_FOUND, "conversation_not_found");
    hl_store_rename(S, to(), DEV, "conv_missing", "x");
    EXPECT_ERR(res(), HL_RESULT_NOT_FOUND, "conversation_not_found");
    check_event_order();
}
END_TEST

START_TEST(archive_unarchive)
{
    const char *c = new_conv("arch");
    size_t m = mark();
    hl_store_archive(S, to(), DEV, c, false);
    EXPECT_ERR(res(), HL_RESULT_INVALID, "conversation_not_archived");
    hl_store_archive(S, to(), DEV, c, true);
    hl_result_t *r = res();
    EXPECT_OK(r, HL_RESULT_OK);
    ck_assert_str_eq(jstr(r->body, "conversation_id"), c);
    ck_assert_uint_eq(strlen(jstr(r->body, "archived_at")), 24);
    EXPECT_TYPES(m, c, "conversation.archived");
    ck_assert(!ev(m).notify);
    ck_assert_str_eq(jstr(ev(m).json, "payload.conversation.status"), "archived");

    hl_store_archive(S, to(), DEV, c, true); /* must be active */
    EXPECT_ERR(res(), HL_RESULT_NOT_FOUND, "conversation_not_found");
    hl_store_messages(S, to(), DEV, c, 20, NULL); /* archived ones stay readable */
    EXPECT_OK(res(), HL_RESULT_OK);

    hl_store_archive(S, to(), DEV, c, false);
    r = res();
    EXPECT_OK(r, HL_RESULT_OK);
    ck_assert_str_eq(jstr(r->body, "conversation_id"), c);
    ck_assert_uint_eq(strlen(jstr(r->body, "unarchived_at")), 24);
    EXPECT_TYPES(m, c, "conversation.archived", "conversation.unarchived");
    ck_assert_str_eq(jstr(ev(m + 1).json, "payload.conversation.status"), "active");
    EXPECT_IDS(list(false, 10, NULL, NULL, DEV)->body, c);
    EXPECT_NONE(list(true, 10, NULL, NULL, DEV)->body);
    hl_store_archive(S, to(), DEV, c, false);
    EXPECT_ERR(res(), HL_RESULT_INVALID, "conversation_not_archived");
    hl_store_archive(S, to(), DEV, "conv_missing", false);
    EXPECT_ERR(res(), HL_RESULT_NOT_FOUND, "conversation_not_found");

    /* sending to an archived conversation brings it back */
    hl_store_archive(S, to(), DEV, c, true);
    EXPECT_OK(res(), HL_RESULT_OK);
    m = mark();
    hl_result_t *s = send_msg(c, "back");
    EXPECT_OK(s, HL_RESULT_ACCEPTED);
    ck_assert_str_eq(jstr(s->body, "conversation.status"), "active");
    EXPECT_TYPES(m, c, "conversation.unarchived", "message.created", "message.created", "run.started");
    EXPECT_IDS(list(false, 10, NULL, NULL, DEV)->body, c);
    check_event_order();
}
END_TEST

START_TEST(ack_and_unread_counts)
{
    const char *c = new_conv("ack");
    hl_store_ack(S, to(), DEV, c, -1);
    hl_result_t *r = res();
    EXPECT_OK(r, HL_RESULT_OK);
    ck_assert_str_eq(jstr(r->body, "conversation_id"), c);
    ck_assert_int_eq(jint(r->body, "last_event_seq"), 1);
    ck_assert_int_eq(jint(r->body, "unread_count"), 0);

    /* seqs 2..4: message.created (user), message.created (assistant), run.started */
    EXPECT_OK(send_msg(c, "hello"), HL_RESULT_ACCEPTED);
    ck_assert_int_eq(jint(list(false, 10, NULL, NULL, DEV)->body, "conversations.0.unread_count"), 2);
    ck_assert_int_eq(jint(list(false, 10, NULL, NULL, DEV_B)->body, "conversations.0.unread_count"), 2);
    ck_assert_int_eq(jint(list(false, 10, NULL, NULL, NULL)->body, "conversations.0.unread_count"), 2);

    hl_store_ack(S, to(), DEV, c, 2);
    r = res();
    EXPECT_OK(r, HL_RESULT_OK);
    ck_assert_int_eq(jint(r->body, "last_event_seq"), 2);
    ck_assert_int_eq(jint(r->body, "unread_count"), 1);

    hl_store_ack(S, to(), DEV, c, 5); /* past the last event */
    EXPECT_ERR(res(), HL_RESULT_INVALID, "invalid_event_seq");
    ck_assert_int_eq(jint(list(false, 10, NULL, NULL, DEV)->body, "conversations.0.unread_count"), 1);

    hl_store_ack(S, to(), DEV, c, -1); /* -1: up to the last event */
    r = res();
    EXPECT_OK(r, HL_RESULT_OK);
    ck_assert_int_eq(jint(r->body, "last_event_seq"), 4);
    ck_assert_int_eq(jint(r->body, "unread_count"), 0);

    /* a late, older ack never moves the cursor back */
    hl_store_ack(S, to(), DEV, c, 1);
    r = res();
    EXPECT_OK(r, HL_RESULT_OK);
    ck_assert_int_eq(jint(r->body, "last_event_seq"), 1);
    ck_assert_int_eq(jint(r->body, "unread_count"), 0);
    hl_store_ack(S, to(), DEV, c, 0);
    EXPECT_OK(res(), HL_RESULT_OK);

    /* per device */
    ck_assert_int_eq(jint(list(false, 10, NULL, NULL, DEV)->body, "conversations.0.unread_count"), 0);
    ck_assert_int_eq(jint(list(false, 10, NULL, NULL, DEV_B)->body, "conversations.0.unread_count"), 2);
    hl_store_ack(S, to(), DEV_B, c, 3);
    r = res();
    EXPECT_OK(r, HL_RESULT_OK);
    ck_assert_int_eq(jint(r->body, "unread_count"), 0);
    hl_store_ack(S, to(), NULL, c, -1); /* no device: nothing to remember */
    r = res();
    EXPECT_OK(r, HL_RESULT_OK);
    ck_assert_int_eq(jint(r->body, "unread_count"), 2);

    /* only message.created counts */
    EXPECT_OK(send_msg(c, "again"), HL_RESULT_ACCEPTED);
    ck_assert_int_eq(jint(list(false, 10, NULL, NULL, DEV)->body, "conversations.0.unread_count"), 2);

    /* archived conversations can be acked; deleted ones cannot; acks emit no events */
    size_t m = mark();
    hl_store_archive(S, to(), DEV, c, true);
    EXPECT_OK(res(), HL_RESULT_OK);
    hl_store_ack(S, to(), DEV, c, -1);
    EXPECT_OK(res(), HL_RESULT_OK);
    EXPECT_TYPES(m, c, "conversation.archived");
    ck_assert_int_eq(jint(list(true, 10, NULL, NULL, DEV)->body, "conversations.0.unread_count"), 0);
    hl_store_delete(S, to(), DEV, c);
    EXPECT_OK(res(), HL_RESULT_OK);
    hl_store_ack(S, to(), DEV, c, -1);
    EXPECT_ERR(res(), HL_RESULT_NOT_FOUND, "conversation_not_found");
}
END_TEST

START_TEST(messages_window)
{
    const char *c = new_conv(NULL);
    hl_send_req_t req = {.conversation_id = c, .content = "one", .client_message_id = "client-1"};
    hl_store_send(S, to(), DEV, &req);
    hl_result_t *s1 = res();
    EXPECT_OK(s1, HL_RESULT_ACCEPTED);
    hl_result_t *s2 = send_msg(c, "two");
    EXPECT_OK(s2, HL_RESULT_ACCEPTED);
    hl_result_t *s3 = send_msg(c, "three");
    EXPECT_OK(s3, HL_RESULT_ACCEPTED);
    const char *u1 = jstr(s1->body, "user_message.id"), *a1 = jstr(s1->body, "assistant_message.id");
    const char *u2 = jstr(s2->body, "user_message.id"), *a2 = jstr(s2->body, "assistant_message.id");
    const char *u3 = jstr(s3->body, "user_message.id"), *a3 = jstr(s3->body, "assistant_message.id");

    hl_store_messages(S, to(), DEV, c, 100, NULL);
    hl_result_t *r = res();
    EXPECT_OK(r, HL_RESULT_OK);
    json_t *b = r->body;
    ck_assert_str_eq(jstr(b, "conversation_id"), c);
    ck_assert_int_eq(jint(b, "last_event_seq"), 10);
    ck_assert_uint_eq(jlen(b, "messages"), 6);
    ck_assert_str_eq(jstr(b, "messages.0.id"), u1);
    ck_assert_str_eq(jstr(b, "messages.0.role"), "user");
    ck_assert_str_eq(jstr(b, "messages.0.status"), "completed");
    ck_assert_str_eq(jstr(b, "messages.0.client_message_id"), "client-1");
    ck_assert_str_eq(jstr(b, "messages.0.conversation_id"), c);
    ck_assert_int_eq(jint(b, "messages.0.schema_version"), 1);
    ck_assert_str_eq(jstr(b, "messages.0.sender.id"), "app_user");
    ck_assert_str_eq(jstr(b, "messages.0.sender.type"), "human");
    ck_assert_str_eq(jstr(b, "messages.0.parts.0.type"), "text");
    ck_assert_str_eq(jstr(b, "messages.0.parts.0.text"), "one");
    ck_assert_uint_eq(jlen(b, "messages.0.attachments"), 0);
    ck_assert_ptr_null(jget(b, "messages.0.run_id"));
    ck_assert_str_eq(jstr(b, "messages.1.id"), a1);
    ck_assert_str_eq(jstr(b, "messages.1.role"), "assistant");
    ck_assert_str_eq(jstr(b, "messages.1.status"), "streaming");
    ck_assert_str_eq(jstr(b, "messages.1.run_id"), jstr(s1->body, "run.id"));
    ck_assert_str_eq(jstr(b, "messages.1.sender.id"), "agent_default");
    ck_assert_str_eq(jstr(b, "messages.1.sender.type"), "agent");
    ck_assert_str_eq(jstr(b, "messages.1.parts.0.text"), "");
    ck_assert_ptr_null(jget(b, "messages.1.client_message_id"));
    ck_assert_str_eq(jstr(b, "messages.2.id"), u2);
    ck_assert_str_eq(jstr(b, "messages.2.status"), "queued");
    ck_assert_str_eq(jstr(b, "messages.3.id"), a2);
    ck_assert_str_eq(jstr(b, "messages.3.status"), "queued");
    ck_assert_str_eq(jstr(b, "messages.5.id"), a3);
    ck_assert(!jbool(b, "page.has_more_before"));
    ck_assert(!jbool(b, "page.has_more_after"));
    ck_assert_str_eq(jstr(b, "page.oldest_message_id"), u1);
    ck_assert_str_eq(jstr(b, "page.newest_message_id"), a3);
    ck_assert_int_eq(jint(b, "page.limit"), 100);
    ck_assert_str_eq(jstr(b, "runtime.model.id"), "unknown");
    ck_assert_str_eq(jstr(b, "runtime.context.source"), "unknown");

    /* the newest 4, oldest first; then the 2 before them */
    hl_store_messages(S, to(), DEV, c, 4, NULL);
    b = res()->body;
    ck_assert_uint_eq(jlen(b, "messages"), 4);
    ck_assert_str_eq(jstr(b, "messages.0.id"), u2);
    ck_assert_str_eq(jstr(b, "messages.3.id"), a3);
    ck_assert(jbool(b, "page.has_more_before"));
    ck_assert(!jbool(b, "page.has_more_after"));
    ck_assert_str_eq(jstr(b, "page.oldest_message_id"), u2);
    ck_assert_str_eq(jstr(b, "page.newest_message_id"), a3);
    hl_store_messages(S, to(), DEV, c, 4, u2);
    b = res()->body;
    ck_assert_uint_eq(jlen(b, "messages"), 2);
    ck_assert_str_eq(jstr(b, "messages.0.id"), u1);
    ck_assert_str_eq(jstr(b, "messages.1.id"), a1);
    ck_assert(!jbool(b, "page.has_more_before"));
    ck_assert(jbool(b, "page.has_more_after"));
    hl_store_messages(S, to(), DEV, c, 2, u1); /* nothing before the first */
    b = res()->body;
    ck_assert_uint_eq(jlen(b, "messages"), 0);
    ck_assert(jnull(b, "page.oldest_message_id"));
    ck_assert(jnull(b, "page.newest_message_id"));
    ck_assert(!jbool(b, "page.has_more_before"));
    ck_assert(jbool(b, "page.has_more_after"));
    hl_store_messages(S, to(), DEV, c, 1, a3);
    b = res()->body;
    ck_assert_str_eq(jstr(b, "messages.0.id"), u3);
    ck_assert(jbool(b, "page.has_more_before"));

    /* a cursor that is not a message of this conversation */
    hl_store_messages(S, to(), DEV, c, 4, "msg_unknown");
    EXPECT_ERR(res(), HL_RESULT_INVALID, "message_cursor_not_found");
    const char *other = new_conv("other");
    hl_store_messages(S, to(), DEV, other, 4, u1);
    EXPECT_ERR(res(), HL_RESULT_INVALID, "message_cursor_not_found");
    hl_store_messages(S, to(), DEV, other, 4, NULL);
    b = res()->body;
    ck_assert_uint_eq(jlen(b, "messages"), 0);
    ck_assert_int_eq(jint(b, "last_event_seq"), 1);
    hl_store_messages(S, to(), DEV, "conv_missing", 4, NULL);
    EXPECT_ERR(res(), HL_RESULT_NOT_FOUND, "conversation_not_found");
}
END_TEST

/* ---- sending and runs ---- */

START_TEST(send_runs_and_queue)
{
    const char *c = new_conv(NULL);
    size_t m = mark();
    hl_send_req_t req = {.conversation_id = c, .content = "hello", .client_message_id = "cm-1"};
    hl_store_send(S, to(), DEV, &req);
    hl_result_t *s1 = res();
    EXPECT_OK(s1, HL_RESULT_ACCEPTED);
    json_t *b = s1->body;
    const char *run1 = jstr(b, "run.id"), *u1 = jstr(b, "user_message.id"), *a1 = jstr(b, "assistant_message.id");
    ck_assert_str_eq(jstr(b, "conversation_id"), c);
    ck_assert_str_eq(jstr(b, "user_message.status"), "completed");
    ck_assert_str_eq(jstr(b, "assistant_message.status"), "streaming");
    ck_assert_str_eq(jstr(b, "run.status"), "running");
    ck_assert_int_eq(strncmp(run1, "run_", 4), 0);
    ck_assert_int_eq(strncmp(u1, "msg_", 4), 0);
    ck_assert_int_eq(jint(b, "last_event_seq"), 4);
    ck_assert_str_eq(jstr(b, "conversation.title"), "hello"); /* the default title follows the first message */
    ck_assert_int_eq(jint(b, "conversation.last_event_seq"), 4);
    ck_assert_str_eq(jstr(b, "conversation.last_message.id"), a1);
    ck_assert_str_eq(jstr(b, "conversation.last_message.role"), "assistant");

    EXPECT_TYPES(m, c, "message.created", "message.created", "run.started");
    ev_t e = ev(m);
    ck_assert_int_eq(e.seq, 2);
    ck_assert_str_eq(jstr(e.json, "message_id"), u1);
    ck_assert_ptr_null(jget(e.json, "run_id"));
    ck_assert_str_eq(jstr(e.json, "payload.message.parts.0.text"), "hello");
    ck_assert_str_eq(jstr(e.json, "payload.message.client_message_id"), "cm-1");
    e = ev(m + 1);
    ck_assert_str_eq(jstr(e.json, "message_id"), a1);
    ck_assert_str_eq(jstr(e.json, "run_id"), run1);
    ck_assert_str_eq(jstr(e.json, "payload.message.status"), "streaming");
    e = ev(m + 2);
    ck_assert_int_eq(e.seq, 4);
    ck_assert_str_eq(jstr(e.json, "run_id"), run1);
    ck_assert_str_eq(jstr(e.json, "message_id"), a1);
    ck_assert_str_eq(jstr(e.json, "payload.run.status"), "running");
    ck_assert_str_eq(jstr(e.json, "payload.run.trigger_message_id"), u1);
    ck_assert_str_eq(jstr(e.json, "payload.run.assistant_message_id"), a1);

    /* the run start is in the same commit */
    ck_assert_uint_eq(nstarts(), 1);
    start_t st = start_at(0);
    ck_assert_str_eq(st.run_id, run1);
    ck_assert_str_eq(st.conv, c);
    ck_assert_str_eq(jstr(st.request, "run_id"), run1);
    ck_assert_str_eq(jstr(st.request, "conversation_id"), c);
    ck_assert_str_eq(jstr(st.request, "input"), "hello");
    ck_assert_uint_eq(jlen(st.request, "conversation_history"), 0);
    ck_assert_uint_eq(jlen(st.request, "attachments"), 0);
    ck_assert_ptr_null(jget(st.request, "model"));
    ck_assert_ptr_null(jget(st.request, "profile"));

    /* a second message waits behind the running run: queued, still announced with run.started, nothing handed over */
    m = mark();
    hl_result_t *s2 = send_msg(c, "second");
    EXPECT_OK(s2, HL_RESULT_ACCEPTED);
    const char *run2 = jstr(s2->body, "run.id"), *u2 = jstr(s2->body, "user_message.id"),
               *a2 = jstr(s2->body, "assistant_message.id");
    ck_assert_str_eq(jstr(s2->body, "user_message.status"), "queued");
    ck_assert_str_eq(jstr(s2->body, "assistant_message.status"), "queued");
    ck_assert_str_eq(jstr(s2->body, "run.status"), "queued");
    ck_assert_str_eq(jstr(s2->body, "conversation.title"), "hello"); /* only the first message names it */
    EXPECT_TYPES(m, c, "message.created", "message.created", "run.started");
    ck_assert_str_eq(jstr(ev(m + 2).json, "payload.run.status"), "queued");
    ck_assert_uint_eq(nstarts(), 1);

    /* deltas accumulate */
    m = mark();
    hl_result_t *r = run_event(HL_RUN_EVENT_UPSTREAM, run1, "upstream-run-1", NULL);
    EXPECT_OK(r, HL_RESULT_OK);
    EXPECT_OK(run_event(HL_RUN_EVENT_DELTA, run1, "Hi", NULL), HL_RESULT_OK);
    EXPECT_OK(run_event(HL_RUN_EVENT_DELTA, run1, " there, zebra!", NULL), HL_RESULT_OK);
    EXPECT_TYPES(m, c, "message.updated", "message.updated");
    ck_assert_str_eq(jstr(ev(m).json, "payload.message.parts.0.text"), "Hi");
    ck_assert_str_eq(jstr(ev(m + 1).json, "payload.message.parts.0.text"), "Hi there, zebra!");
    ck_assert_str_eq(jstr(ev(m + 1).json, "payload.message.status"), "streaming");
    ck_assert_str_eq(jstr(ev(m + 1).json, "message_id"), a1);
    ck_assert_str_eq(jstr(ev(m + 1).json, "run_id"), run1);
    ck_assert(!ev(m).notify);

    /* completion: usage, message.completed + run.completed, then the queued run starts */
    json_t *usage = json_pack("{s:i, s:i, s:i}", "input_tokens", 10, "output_tokens", 5, "total_tokens", 15);
    m = mark();
    r = run_event(HL_RUN_EVENT_COMPLETED, run1, NULL, usage);
    json_decref(usage);
    EXPECT_OK(r, HL_RESULT_OK);
    EXPECT_TYPES(m, c, "message.completed", "run.completed", "message.updated", "message.updated", "run.started");
    ck_assert_str_eq(jstr(ev(m).json, "payload.message.status"), "completed");
    ck_assert_str_eq(jstr(ev(m).json, "payload.message.parts.0.text"), "Hi there, zebra!");
    ck_assert_str_eq(jstr(ev(m + 1).json, "payload.run.status"), "completed");
    ck_assert_str_eq(jstr(ev(m + 1).json, "run_id"), run1);
    ck_assert_int_eq(jint(ev(m + 1).json, "payload.run.usage.input_tokens"), 10);
    ck_assert_int_eq(jint(ev(m + 1).json, "payload.run.usage.output_tokens"), 5);
    ck_assert_int_eq(jint(ev(m + 1).json, "payload.run.usage.total_tokens"), 15);
    ck_assert_str_eq(jstr(ev(m + 2).json, "message_id"), u2);
    ck_assert_str_eq(jstr(ev(m + 2).json, "payload.message.status"), "completed");
    ck_assert_str_eq(jstr(ev(m + 3).json, "message_id"), a2);
    ck_assert_str_eq(jstr(ev(m + 3).json, "payload.message.status"), "streaming");
    ck_assert_str_eq(jstr(ev(m + 4).json, "run_id"), run2);
    ck_assert_str_eq(jstr(ev(m + 4).json, "payload.run.status"), "running");
    ck_assert_uint_eq(nstarts(), 2);
    st = start_at(1);
    ck_assert_str_eq(st.run_id, run2);
    ck_assert_str_eq(st.conv, c);
    ck_assert_str_eq(jstr(st.request, "input"), "second");
    ck_assert_uint_eq(jlen(st.request, "conversation_history"), 2);
    ck_assert_str_eq(jstr(st.request, "conversation_history.0.role"), "user");
    ck_assert_str_eq(jstr(st.request, "conversation_history.0.content"), "hello");
    ck_assert_str_eq(jstr(st.request, "conversation_history.1.role"), "assistant");
    ck_assert_str_eq(jstr(st.request, "conversation_history.1.content"), "Hi there, zebra!");

    /* the conversation's totals, the stored messages, the finished reply in the search index */
    json_t *sum = messages_page(c);
    ck_assert_int_eq(jint(sum, "runtime.context.total_tokens"), 15);
    ck_assert_int_eq(jint(sum, "runtime.context.input_tokens"), 10);
    ck_assert_int_eq(jint(list(false, 10, NULL, NULL, DEV)->body, "conversations.0.usage.total_tokens"), 15);
    hl_store_messages(S, to(), DEV, c, 100, NULL);
    b = res()->body;
    ck_assert_str_eq(jstr(b, "messages.1.status"), "completed");
    ck_assert_str_eq(jstr(b, "messages.1.parts.0.text"), "Hi there, zebra!");
    ck_assert_str_eq(jstr(b, "messages.2.status"), "completed");
    ck_assert_str_eq(jstr(b, "messages.3.status"), "streaming");
    EXPECT_IDS(search("ZEBRA", 10, NULL), c);

    /* late events of a finished run are ignored; unknown runs are not found */
    m = mark();
    r = run_event(HL_RUN_EVENT_DELTA, run1, "late", NULL);
    EXPECT_OK(r, HL_RESULT_OK);
    ck_assert(jbool(r->body, "ignored"));
    EXPECT_ERR(run_event(HL_RUN_EVENT_DELTA, "run_unknown", "x", NULL), HL_RESULT_NOT_FOUND, "run_not_found");
    EXPECT_ERR(run_event(HL_RUN_EVENT_COMPLETED, NULL, NULL, NULL), HL_RESULT_NOT_FOUND, "run_not_found");

    /* failure */
    r = run_event(HL_RUN_EVENT_FAILED, run2, "boom", NULL);
    EXPECT_OK(r, HL_RESULT_OK);
    EXPECT_TYPES(m, c, "message.failed", "run.failed");
    ck_assert_str_eq(jstr(ev(m).json, "message_id"), a2);
    ck_assert_str_eq(jstr(ev(m).json, "payload.message.status"), "failed");
    ck_assert_str_eq(jstr(ev(m + 1).json, "payload.run.status"), "failed");
    ck_assert_str_eq(jstr(ev(m + 1).json, "payload.run.error_message"), "boom");
    ck_assert_str_eq(jstr(ev(m + 1).json, "payload.error.code"), "upstream_broke");
    ck_assert_str_eq(jstr(ev(m + 1).json, "payload.error.message"), "boom");
    ck_assert(ev(m + 1).notify);
    ck_assert_uint_eq(nstarts(), 2);

    /* the next send starts at once, with the history of completed messages only */
    hl_result_t *s3 = send_msg(c, "third");
    EXPECT_OK(s3, HL_RESULT_ACCEPTED);
    ck_assert_str_eq(jstr(s3->body, "run.status"), "running");
    st = start_at(2);
    ck_assert_str_eq(st.run_id, jstr(s3->body, "run.id"));
    ck_assert_uint_eq(jlen(st.request, "conversation_history"), 3); /* hello, the reply, second (the failed reply is out) */
    ck_assert_str_eq(jstr(st.request, "conversation_history.2.content"), "second");
    check_event_order();
}
END_TEST

START_TEST(title_from_first_message)
{
    char text[128];
    memset(text, 'a', 70);
    text[70] = '\0';
    const char *c = new_conv(NULL);
    EXPECT_OK(send_msg(c, text), HL_RESULT_ACCEPTED);
    text[60] = '\0';
    ck_assert_str_eq(jstr(list(false, 10, NULL, NULL, DEV)->body, "conversations.0.title"), text);

    /* 60 UTF-16 code units: a character outside the BMP counts two and is never split */
    char emoji[31 * 4 + 1] = "";
    for (int i = 0; i < 31; ++i)
        strcat(emoji, "\xf0\x9f\x98\x80"); /* U+1F600 */
    nap();
    const char *e = new_conv(NULL);
    EXPECT_OK(send_msg(e, emoji), HL_RESULT_ACCEPTED);
    emoji[30 * 4] = '\0';
    hl_result_t *r = list(false, 1, NULL, NULL, DEV);
    ck_assert_str_eq(jstr(r->body, "conversations.0.id"), e);
    ck_assert_str_eq(jstr(r->body, "conversations.0.title"), emoji);

    /* an explicit title is kept */
    nap();
    const char *t = new_conv("Mine");
    EXPECT_OK(send_msg(t, "something else"), HL_RESULT_ACCEPTED);
    ck_assert_str_eq(jstr(list(false, 1, NULL, NULL, DEV)->body, "conversations.0.title"), "Mine");
}
END_TEST

START_TEST(cancel_queued_and_running)
{
    const char *c = new_conv(NULL);
    hl_result_t *s1 = send_msg(c, "m1"), *s2 = send_msg(c, "m2"), *s3 = send_msg(c, "m3");
    const char *r1 = jstr(s1->body, "run.id"), *r2 = jstr(s2->body, "run.id"), *r3 = jstr(s3->body, "run.id");
    ck_assert_str_eq(jstr(s3->body, "run.status"), "queued");
    start_at(0);

    /* a queued run: cancelled in place, nothing to stop upstream, nothing started */
    size_t m = mark();
    hl_store_cancel_run(S, to(), DEV, c, r2);
    hl_result_t *r = res();
    EXPECT_OK(r, HL_RESULT_OK);
    ck_assert_str_eq(jstr(r->body, "conversation_id"), c);
    ck_assert_str_eq(jstr(r->body, "run.id"), r2);
    ck_assert_str_eq(jstr(r->body, "run.status"), "cancelled");
    EXPECT_TYPES(m, c, "message.updated", "run.cancelled");
    ck_assert_int_eq(jint(r->body, "last_event_seq"), ev(m + 1).seq);
    ck_assert_str_eq(jstr(ev(m).json, "message_id"), jstr(s2->body, "assistant_message.id"));
    ck_assert_str_eq(jstr(ev(m).json, "payload.message.status"), "cancelled");
    ck_assert_str_eq(jstr(ev(m + 1).json, "payload.run.status"), "cancelled");
    ck_assert_uint_eq(ncancels(), 0);
    ck_assert_uint_eq(nstarts(), 1);
    hl_store_messages(S, to(), DEV, c, 100, NULL);
    json_t *b = res()->body;
    ck_assert_str_eq(jstr(b, "messages.2.status"), "cancelled"); /* its user message was never sent */
    ck_assert_str_eq(jstr(b, "messages.3.status"), "cancelled");

    /* the running run: stopped upstream, and the next queued run (r3, r2 is gone) starts */
    m = mark();
    hl_store_cancel_run(S, to(), DEV, c, r1);
    r = res();
    EXPECT_OK(r, HL_RESULT_OK);
    ck_assert_str_eq(jstr(r->body, "run.status"), "cancelled");
    EXPECT_TYPES(m, c, "message.updated", "run.cancelled", "message.updated", "message.updated", "run.started");
    ck_assert_str_eq(jstr(ev(m + 4).json, "run_id"), r3);
    WAIT_FOR(g.num_cancels == 1);
    pthread_mutex_lock(&g.mu);
    bool cancelled_r1 = strcmp(g.cancels[0], r1) == 0;
    pthread_mutex_unlock(&g.mu);
    ck_assert(cancelled_r1);
    ck_assert_uint_eq(nstarts(), 2);
    ck_assert_str_eq(start_at(1).run_id, r3);
    ck_assert_str_eq(jstr(start_at(1).request, "input"), "m3");

    /* a finished run: nothing changes */
    m = mark();
    hl_store_cancel_run(S, to(), DEV, c, r1);
    r = res();
    EXPECT_OK(r, HL_RESULT_OK);
    ck_assert_str_eq(jstr(r->body, "run.status"), "cancelled");
    EXPECT_OK(run_event(HL_RUN_EVENT_COMPLETED, r3, NULL, NULL), HL_RESULT_OK);
    hl_store_cancel_run(S, to(), DEV, c, r3);
    r = res();
    EXPECT_OK(r, HL_RESULT_OK);
    ck_assert_str_eq(jstr(r->body, "run.status"), "completed");
    EXPECT_TYPES(m, c, "message.completed", "run.completed");
    ck_assert_uint_eq(ncancels(), 1);

    /* errors */
    hl_store_cancel_run(S, to(), DEV, c, "run_unknown");
    EXPECT_ERR(res(), HL_RESULT_NOT_FOUND, "run_not_found");
    hl_store_cancel_run(S, to(), DEV, c, NULL);
    EXPECT_ERR(res(), HL_RESULT_NOT_FOUND, "run_not_found");
    const char *other = new_conv("other");
    hl_store_cancel_run(S, to(), DEV, other, r1); /* a run of another conversation */
    EXPECT_ERR(res(), HL_RESULT_NOT_FOUND, "run_not_found");
    hl_store_archive(S, to(), DEV, c, true);
    EXPECT_OK(res(), HL_RESULT_OK);
    hl_store_cancel_run(S, to(), DEV, c, r1); /* active conversations only */
    EXPECT_ERR(res(), HL_RESULT_NOT_FOUND, "conversation_not_found");
    check_event_order();
}
END_TEST

START_TEST(approvals_and_stream_check)
{
    const char *c = new_conv("approvals");
    hl_store_stream_check(S, to(), c);
    hl_result_t *r = res();
    EXPECT_OK(r, HL_RESULT_OK);
    ck_assert_int_eq(jint(r->body, "last_event_seq"), 1);

    hl_store_resolve_approval(S, to(), DEV, c, "appr_unknown", true, NULL);
    EXPECT_ERR(res(), HL_RESULT_NOT_FOUND, "approval_not_found");
    hl_store_resolve_approval(S, to(), DEV, c, NULL, false, NULL);
    EXPECT_ERR(res(), HL_RESULT_NOT_FOUND, "approval_not_found");
    hl_store_resolve_approval(S, to(), DEV, "conv_missing", "appr_unknown", true, NULL);
    EXPECT_ERR(res(), HL_RESULT_NOT_FOUND, "conversation_not_found");

    /* approvals as the run proxy reports them: approve with a scope, deny, then neither twice */
    hl_result_t *s = send_msg(c, "run it");
    const char *run = jstr(s->body, "run.id");
    const char *assistant = jstr(s->body, "assistant_message.id");
    size_t m0 = mark();
    json_t *two = json_pack("[s, s]", "once", "deny");
    hl_run_event_t req1 = {.kind = HL_RUN_EVENT_APPROVAL,
                           .run_id = run,
                           .approval = {.kind = "terminal_command", .command = "ls -la", .description = "list files"}};
    hl_run_event_t req2 = {.kind = HL_RUN_EVENT_APPROVAL, .run_id = run, .approval = {.command = "rm x", .choices = two}};
    hl_store_run_event(S, to(), &req1);
    EXPECT_OK(res(), HL_RESULT_OK);
    hl_store_run_event(S, to(), &req2);
    EXPECT_OK(res(), HL_RESULT_OK);
    json_decref(two);
    EXPECT_TYPES(m0, c, "approval.requested", "approval.requested");
    char *a1 = strdup(jstr(ev(m0).json, "payload.approval.id")), *a2 = strdup(jstr(ev(m0 + 1).json, "payload.approval.id"));
    ck_assert_str_eq(jstr(ev(m0).json, "payload.approval.status"), "pending");
    ck_assert_str_eq(jstr(ev(m0).json, "payload.approval.run_id"), run);
    ck_assert_str_eq(jstr(ev(m0).json, "payload.approval.message_id"), assistant);
    ck_assert_str_eq(jstr(ev(m0).json, "payload.approval.description"), "list files");
    ck_assert_uint_eq(jlen(ev(m0).json, "payload.approval.choices"), 4);
    ck_assert_uint_eq(jlen(ev(m0 + 1).json, "payload.approval.choices"), 2);
    const char *other = new_conv("other");
    hl_store_resolve_approval(S, to(), DEV, other, a1, true, NULL); /* another conversation's */
    EXPECT_ERR(res(), HL_RESULT_NOT_FOUND, "approval_not_found");
    hl_store_resolve_approval(S, to(), DEV, c, a1, true, "forever");
    EXPECT_ERR(res(), HL_RESULT_INVALID, "invalid_approval_scope");

    size_t m = mark();
    hl_store_resolve_approval(S, to(), DEV, c, a1, true, "session");
    r = res();
    EXPECT_OK(r, HL_RESULT_OK);
    ck_assert_str_eq(jstr(r->body, "conversation_id"), c);
    ck_assert_str_eq(jstr(r->body, "message_id"), assistant);
    ck_assert_str_eq(jstr(r->body, "approval.id"), a1);
    ck_assert_str_eq(jstr(r->body, "approval.status"), "approved");
    ck_assert_str_eq(jstr(r->body, "approval.decision"), "session");
    ck_assert_str_eq(jstr(r->body, "approval.command"), "ls -la");
    ck_assert_uint_eq(jlen(r->body, "approval.choices"), 4);
    ck_assert(!jbool(r->body, "resume_available"));
    EXPECT_TYPES(m, c, "approval.resolved");
    ck_assert_int_eq(jint(r->body, "last_event_seq"), ev(m).seq);
    ck_assert_str_eq(jstr(ev(m).json, "run_id"), run);
    WAIT_FOR(json_array_size(g.decisions) == 1);
    pthread_mutex_lock(&g.mu);
    json_t *d = json_deep_copy(json_array_get(g.decisions, 0));
    pthread_mutex_unlock(&g.mu);
    ck_assert_str_eq(jstr(d, "run_id"), run);
    ck_assert_str_eq(jstr(d, "approval_id"), a1);
    ck_assert_str_eq(jstr(d, "decision"), "session");
    json_decref(d);

    hl_store_resolve_approval(S, to(), DEV, c, a1, false, NULL); /* no longer pending */
    EXPECT_ERR(res(), HL_RESULT_CONFLICT, "approval_not_pending");
    hl_store_resolve_approval(S, to(), DEV, c, a2, false, "ignored");
    r = res();
    EXPECT_OK(r, HL_RESULT_OK);
    ck_assert_str_eq(jstr(r->body, "approval.status"), "denied");
    ck_assert_str_eq(jstr(r->body, "approval.decision"), "deny");
    ck_assert_str_eq(jstr(r->body, "message_id"), assistant);
    WAIT_FOR(json_array_size(g.decisions) == 2);
    free(a1);
    free(a2);

    /* stream_check: archived is fine, deleted is not */
    hl_store_archive(S, to(), DEV, c, true);
    EXPECT_OK(res(), HL_RESULT_OK);
    size_t n = mark();
    ck_assert_str_eq(ev(n - 1).type, "conversation.archived");
    ck_assert_int_eq(last_seq(c), ev(n - 1).seq);
    hl_store_delete(S, to(), DEV, c);
    EXPECT_OK(res(), HL_RESULT_OK);
    hl_store_stream_check(S, to(), c);
    EXPECT_ERR(res(), HL_RESULT_NOT_FOUND, "conversation_not_found");
    hl_store_stream_check(S, to(), "conv_missing");
    EXPECT_ERR(res(), HL_RESULT_NOT_FOUND, "conversation_not_found");
}
END_TEST

/* ---- plans ---- */

START_TEST(clear_and_archive_plans)
{
    const char *a = new_conv("a");
    nap();
    const char *b = new_conv("b");
    nap();
    const char *arch = new_conv("archived");
    hl_store_archive(S, to(), DEV, arch, true);
    EXPECT_OK(res(), HL_RESULT_OK);

    const char *exclude[] = {b};
    hl_store_plan_create(S, to(), DEV, HL_PLAN_CLEAR, exclude, 1);
    hl_result_t *r = res();
    EXPECT_OK(r, HL_RESULT_CREATED);
    json_t *p = jget(r->body, "plan");
    const char *plan = jstr(p, "id");
    ck_assert_int_eq(strncmp(plan, "plan_", 5), 0);
    ck_assert_uint_eq(strlen(plan), 37);
    ck_assert_str_eq(jstr(p, "status"), "prepared");
    ck_assert_str_eq(jstr(p, "target_status"), "active");
    ck_assert_int_eq(jint(p, "total_count"), 1);
    ck_assert_int_eq(jint(p, "deleted_count"), 0);
    ck_assert_int_eq(jint(p, "failed_count"), 0);
    ck_assert_uint_eq(jlen(p, "conversation_ids"), 1);
    ck_assert_str_eq(jstr(p, "conversation_ids.0"), a);
    ck_assert_uint_eq(jlen(p, "conversations"), 0);
    ck_assert_uint_eq(strlen(jstr(p, "expires_at")), 24);

    hl_store_plan_get(S, to(), DEV, HL_PLAN_CLEAR, plan);
    r = res();
    EXPECT_OK(r, HL_RESULT_OK);
    ck_assert_str_eq(jstr(r->body, "plan.id"), plan);
    ck_assert_str_eq(jstr(r->body, "plan.status"), "prepared");
    hl_store_plan_get(S, to(), DEV, HL_PLAN_ARCHIVE, plan); /* plans are per kind */
    EXPECT_ERR(res(), HL_RESULT_NOT_FOUND, "plan_not_found");
    hl_store_plan_get(S, to(), DEV, HL_PLAN_CLEAR, "plan_unknown");
    EXPECT_ERR(res(), HL_RESULT_NOT_FOUND, "plan_not_found");
    hl_store_plan_get(S, to(), DEV, HL_PLAN_CLEAR, NULL);
    EXPECT_ERR(res(), HL_RESULT_NOT_FOUND, "plan_not_found");
    hl_store_plan_execute(S, to(), DEV, HL_PLAN_CLEAR, "plan_unknown");
    EXPECT_ERR(res(), HL_RESULT_NOT_FOUND, "plan_not_found");
    hl_store_plan_execute(S, to(), DEV, HL_PLAN_ARCHIVE, plan);
    EXPECT_ERR(res(), HL_RESULT_NOT_FOUND, "plan_not_found");

    size_t m = mark();
    hl_store_plan_execute(S, to(), DEV, HL_PLAN_CLEAR, plan);
    r = res();
    EXPECT_OK(r, HL_RESULT_OK);
    p = jget(r->body, "plan");
    ck_assert_str_eq(jstr(p, "id"), plan);
    ck_assert_str_eq(jstr(p, "status"), "completed");
    ck_assert_uint_eq(strlen(jstr(p, "completed_at")), 24);
    ck_assert_int_eq(jint(p, "deleted_count"), 1);
    ck_assert_int_eq(jint(p, "failed_count"), 0);
    ck_assert_uint_eq(jlen(p, "conversations"), 1);
    ck_assert_str_eq(jstr(p, "conversations.0.conversation_id"), a);
    ck_assert_str_eq(jstr(p, "conversations.0.status"), "deleted");
    EXPECT_TYPES(m, a, "conversation.deleted");
    EXPECT_IDS(list(false, 10, NULL, NULL, DEV)->body, b);
    EXPECT_IDS(list(true, 10, NULL, NULL, DEV)->body, arch);
    hl_store_plan_get(S, to(), DEV, HL_PLAN_CLEAR, plan); /* the completed plan is kept */
    r = res();
    EXPECT_OK(r, HL_RESULT_OK);
    ck_assert_str_eq(jstr(r->body, "plan.status"), "completed");
    ck_assert_int_eq(jint(r->body, "plan.deleted_count"), 1);

    /* executing again re-runs the deletes, which now fail */
    hl_store_plan_execute(S, to(), DEV, HL_PLAN_CLEAR, plan);
    r = res();
    EXPECT_OK(r, HL_RESULT_OK);
    ck_assert_int_eq(jint(r->body, "plan.deleted_count"), 0);
    ck_assert_int_eq(jint(r->body, "plan.failed_count"), 1);
    ck_assert_str_eq(jstr(r->body, "plan.conversations.0.status"), "failed");
    ck_assert_str_eq(jstr(r->body, "plan.conversations.0.error.code"), "conversation_not_found");

    /* archive plans: every active conversation, newest first */
    nap();
    const char *d = new_conv("d");
    hl_store_plan_create(S, to(), DEV, HL_PLAN_ARCHIVE, NULL, 0);
    r = res();
    EXPECT_OK(r, HL_RESULT_CREATED);
    p = jget(r->body, "plan");
    const char *aplan = jstr(p, "id");
    ck_assert_ptr_null(jget(p, "target_status"));
    ck_assert_int_eq(jint(p, "total_count"), 2);
    ck_assert_int_eq(jint(p, "archived_count"), 0);
    ck_assert_ptr_null(jget(p, "deleted_count"));
    ck_assert_str_eq(jstr(p, "conversation_ids.0"), d);
    ck_assert_str_eq(jstr(p, "conversation_ids.1"), b);
    hl_store_delete(S, to(), DEV, b); /* gone before the plan runs */
    EXPECT_OK(res(), HL_RESULT_OK);
    hl_store_plan_execute(S, to(), DEV, HL_PLAN_ARCHIVE, aplan);
    r = res();
    EXPECT_OK(r, HL_RESULT_OK);
    p = jget(r->body, "plan");
    ck_assert_str_eq(jstr(p, "status"), "completed");
    ck_assert_int_eq(jint(p, "archived_count"), 1);
    ck_assert_int_eq(jint(p, "failed_count"), 1);
    ck_assert_str_eq(jstr(p, "conversations.0.conversation_id"), d);
    ck_assert_str_eq(jstr(p, "conversations.0.status"), "archived");
    ck_assert_uint_eq(strlen(jstr(p, "conversations.0.archived_at")), 24);
    ck_assert_str_eq(jstr(p, "conversations.1.status"), "failed");
    ck_assert_str_eq(jstr(p, "conversations.1.error.code"), "conversation_not_found");
    EXPECT_IDS(list(true, 10, NULL, NULL, DEV)->body, d, arch);
    EXPECT_NONE(list(false, 10, NULL, NULL, DEV)->body);

    /* plans last an hour */
    hl_clock_advance(60LL * 60 * 1000 + 1000);
    hl_store_plan_get(S, to(), DEV, HL_PLAN_ARCHIVE, aplan);
    EXPECT_ERR(res(), HL_RESULT_NOT_FOUND, "plan_not_found");
    hl_store_plan_execute(S, to(), DEV, HL_PLAN_CLEAR, plan);
    EXPECT_ERR(res(), HL_RESULT_NOT_FOUND, "plan_not_found");
    hl_clock_advance(-(60LL * 60 * 1000 + 1000));
    check_event_order();
}
END_TEST

/* ---- blobs ---- */

static hl_result_t *put_blob(const char *conv, const char *content, const char *mime, const char *filename)
{
    ck_assert(hl_store_upload_begin(S));
    hl_store_put_blob(S, to(), conv, strdup(content), strlen(content), mime, filename);
    return res();
}

START_TEST(blobs_put_get_delete)
{
    const char *c = new_conv("blobs");
    hl_result_t *r = put_blob(c, "hello blob", "text/plain", "note.txt");
    EXPECT_OK(r, HL_RESULT_CREATED);
    const char *b1 = jstr(r->body, "blob.id");
    ck_assert(hl_blob_id_valid(b1));
    ck_assert_int_eq(jint(r->body, "blob.size"), 10);
    ck_assert_str_eq(jstr(r->body, "blob.mime"), "text/plain");
    ck_assert_str_eq(jstr(r->body, "blob.filename"), "note.txt");
    ck_assert_uint_eq(strlen(jstr(r->body, "blob.created_at")), 24);
    ck_assert_uint_eq(jlen(r->body, "blob.conversation_ids"), 1);
    ck_assert_str_eq(jstr(r->body, "blob.conversation_ids.0"), c);
    ck_assert_int_eq(ut_count_entries(g.blobs_dir), 1);
    char sha[65];
    hl_sha256_hex("hello blob", 10, sha); /* content-addressed */
    char *file = ut_path(g.blobs_dir, sha);
    ck_assert_int_eq(access(file, R_OK), 0);

    hl_store_get_blob(S, to(), c, b1);
    r = res();
    EXPECT_OK(r, HL_RESULT_OK);
    ck_assert_ptr_null(r->body);
    ck_assert_uint_eq(r->source_len, 10);
    size_t blen;
    char *bytes = read_stream(r, &blen);
    ck_assert_uint_eq(blen, 10);
    ck_assert_int_eq(memcmp(bytes, "hello blob", 10), 0);
    free(bytes);
    ck_assert_str_eq(r->content_type, "text/plain; charset=utf-8");
    ck_assert_str_eq(r->filename, "note.txt");

    /* no file name: the blob id; other types unchanged; the same bytes share one file */
    r = put_blob(c, "hello blob", "image/png", NULL);
    EXPECT_OK(r, HL_RESULT_CREATED);
    const char *b2 = jstr(r->body, "blob.id");
    ck_assert_str_ne(b1, b2);
    ck_assert_str_eq(jstr(r->body, "blob.filename"), b2);
    ck_assert_int_eq(ut_count_entries(g.blobs_dir), 1);
    hl_store_get_blob(S, to(), c, b2);
    r = res();
    EXPECT_OK(r, HL_RESULT_OK);
    ck_assert_str_eq(r->content_type, "image/png");
    ck_assert_str_eq(r->filename, b2);
    r = put_blob(c, "other bytes", "text/plain; charset=latin1", "x.txt");
    EXPECT_OK(r, HL_RESULT_CREATED);
    const char *b3 = jstr(r->body, "blob.id");
    ck_assert_int_eq(ut_count_entries(g.blobs_dir), 2);
    hl_store_get_blob(S, to(), c, b3);
    ck_assert_str_eq(res()->content_type, "text/plain; charset=latin1");

    /* reads are per conversation */
    const char *other = new_conv("other");
    hl_store_get_blob(S, to(), other, b1);
    EXPECT_ERR(res(), HL_RESULT_NOT_FOUND, "blob_not_found");
    hl_store_get_blob(S, to(), c, "blob_0123456789abcdef0123456789abcdef");
    EXPECT_ERR(res(), HL_RESULT_NOT_FOUND, "blob_not_found");
    hl_store_delete_blob(S, to(), other, b1);
    EXPECT_ERR(res(), HL_RESULT_NOT_FOUND, "blob_not_found");

    /* attached to a message: in the message, in the run request, and in use */
    const char *att[] = {b1};
    hl_send_req_t req = {.conversation_id = c, .content = "see attached", .blob_ids = att, .num_blob_ids = 1};
    hl_store_send(S, to(), DEV, &req);
    r = res();
    EXPECT_OK(r, HL_RESULT_ACCEPTED);
    start_t st = start_at(0);
    ck_assert_uint_eq(jlen(st.request, "attachments"), 1);
    ck_assert_str_eq(jstr(st.request, "attachments.0.blob_id"), b1);
    hl_store_messages(S, to(), DEV, c, 10, NULL);
    json_t *b = res()->body;
    ck_assert_uint_eq(jlen(b, "messages.0.attachments"), 1);
    ck_assert_str_eq(jstr(b, "messages.0.attachments.0.blob_id"), b1);
    ck_assert_str_eq(jstr(b, "messages.0.attachments.0.filename"), "note.txt");
    ck_assert_str_eq(jstr(b, "messages.0.attachments.0.mime"), "text/plain");
    ck_assert_int_eq(jint(b, "messages.0.attachments.0.size"), 10);
    hl_store_delete_blob(S, to(), c, b1);
    EXPECT_ERR(res(), HL_RESULT_CONFLICT, "blob_in_use");
    hl_store_get_blob(S, to(), c, b1);
    EXPECT_OK(res(), HL_RESULT_OK);

    /* an attachment must be a blob of this conversation */
    const char *foreign[] = {b1};
    hl_send_req_t bad = {.conversation_id = other, .content = "x", .blob_ids = foreign, .num_blob_ids = 1};
    hl_store_send(S, to(), DEV, &bad);
    EXPECT_ERR(res(), HL_RESULT_INVALID, "attachment_invalid");

    /* deleting the second upload of shared bytes keeps the file; the last one removes it after the batch */
    hl_store_delete_blob(S, to(), c, b2);
    r = res();
    EXPECT_OK(r, HL_RESULT_OK);
    ck_assert(jbool(r->body, "deleted"));
    ck_assert_str_eq(jstr(r->body, "blob_id"), b2);
    hl_store_get_blob(S, to(), c, b2);
    EXPECT_ERR(res(), HL_RESULT_NOT_FOUND, "blob_not_found");
    hl_store_delete_blob(S, to(), c, b2);
    EXPECT_ERR(res(), HL_RESULT_NOT_FOUND, "blob_not_found");
    hl_store_delete_blob(S, to(), c, b3);
    EXPECT_OK(res(), HL_RESULT_OK);
    sync_store();
    ck_assert_int_eq(ut_count_entries(g.blobs_dir), 1); /* b1's file (shared with b2) stays, b3's went */
    ck_assert_int_eq(access(file, R_OK), 0);
    hl_store_get_blob(S, to(), c, b1);
    r = res();
    EXPECT_OK(r, HL_RESULT_OK);
    bytes = read_stream(r, &blen);
    ck_assert_uint_eq(blen, 10);
    ck_assert_int_eq(memcmp(bytes, "hello blob", 10), 0);
    free(bytes);

    /* a failed upload leaves no file behind */
    r = put_blob("conv_missing", "orphan bytes", "text/plain", "o.txt");
    EXPECT_ERR(r, HL_RESULT_NOT_FOUND, "conversation_not_found");
    r = put_blob("x", "orphan bytes 2", "text/plain", "o.txt");
    EXPECT_ERR(r, HL_RESULT_INVALID, "invalid_conversation_id");
    hl_store_delete(S, to(), DEV, other);
    EXPECT_OK(res(), HL_RESULT_OK);
    r = put_blob(other, "orphan bytes 3", "text/plain", "o.txt"); /* deleted conversation */
    EXPECT_ERR(r, HL_RESULT_NOT_FOUND, "conversation_not_found");
    sync_store();
    ck_assert_int_eq(ut_count_entries(g.blobs_dir), 1);

    /* every reservation was given back (each when its job is done with, just after its answer): four uploads may be held
     * at once, no more */
    for (int i = 0; i < 4; ++i)
        ck_assert(hl_store_upload_begin(S));
    ck_assert(!hl_store_upload_begin(S));
    for (int i = 0; i < 4; ++i)
        hl_store_upload_abort(S);
    free(file);
}
END_TEST

/* ---- event pages ---- */

typedef struct st_page_t {
    bool done, more, failed;
    size_t n;
    int64_t ids[64], seqs[64];
    char types[64][32];
    char conv[64][40];
    char texts[64][64]; /* message.updated: the message's text */
} page_t;

static void page_done(void *ctx, const hl_event_record_t *recs, size_t n, bool more, bool failed)
{
    page_t *p = ctx;
    pthread_mutex_lock(&g.mu);
    for (size_t i = 0; i < n && i < 64; ++i) {
        p->ids[i] = recs[i].event_id;
        p->seqs[i] = recs[i].seq;
        snprintf(p->types[i], sizeof(p->types[i]), "%s", recs[i].type);
        snprintf(p->conv[i], sizeof(p->conv[i]), "%s", recs[i].conversation_id);
        /* the record and its JSON agree */
        json_t *j = json_loadb(recs[i].json, recs[i].json_len, 0, NULL);
        json_t *part = json_array_get(json_object_get(json_object_get(json_object_get(j, "payload"), "message"), "parts"), 0);
        snprintf(p->texts[i], sizeof(p->texts[i]), "%s",
                 json_string_value(json_object_get(part, "text")) != NULL ? json_string_value(json_object_get(part, "text")) : "");
        if (j == NULL || json_integer_value(json_object_get(j, "seq")) != recs[i].seq ||
            json_integer_value(json_object_get(j, "event_id")) != recs[i].event_id)
            p->failed = true;
        json_decref(j);
    }
    p->n = n;
    p->more = more;
    p->failed |= failed;
    p->done = true;
    pthread_cond_broadcast(&g.cv);
    pthread_mutex_unlock(&g.mu);
}

static page_t *read_page(const char *conv, int64_t after, bool notifications_only, size_t limit)
{
    page_t *p = calloc(1, sizeof(*p));
    ck_assert_ptr_nonnull(p);
    hl_event_page_req_t req = {.conversation_id = conv, .after = after, .notifications_only = notifications_only, .limit = limit};
    hl_store_read_events(S, &req, page_done, p);
    WAIT_FOR(p->done);
    ck_assert(!p->failed);
    return p;
}

/* Replayed events as JSON texts (for comparing a rebuilt event with the one observers got live). */
typedef struct st_json_page_t {
    bool done;
    json_t *events;
} json_page_t;

static void json_page_done(void *ctx, const hl_event_record_t *recs, size_t n, bool more, bool failed)
{
    (void)more;
    json_page_t *p = ctx;
    pthread_mutex_lock(&g.mu);
    for (size_t i = 0; i < n && !failed; ++i)
        json_array_append_new(p->events, json_loadb(recs[i].json, recs[i].json_len, 0, NULL));
    p->done = true;
    pthread_cond_broadcast(&g.cv);
    pthread_mutex_unlock(&g.mu);
}

/* Streamed text is stored compactly (the event without the text, rebuilt from the final text on replay): observers and
 * replays see the accumulated text of each update; link.db does not hold it once per update. */
START_TEST(text_updates_stored_compact)
{
    const char *c = new_conv("compact");
    hl_result_t *s = send_msg(c, "hello");
    const char *run = jstr(s->body, "run.id");
    size_t m = mark();
    const char *pieces[] = {"Hel", "lo", " w\xC3\xB6rld"};
    for (size_t i = 0; i < 3; ++i)
        EXPECT_OK(run_event(HL_RUN_EVENT_DELTA, run, pieces[i], NULL), HL_RESULT_OK);
    /* reasoning: the end of the answer again (kept as a reference), then real reasoning (kept whole) */
    hl_run_event_t rs1 = {.kind = HL_RUN_EVENT_REASONING, .run_id = run, .text = "lo w\xC3\xB6rld"};
    hl_run_event_t rs2 = {.kind = HL_RUN_EVENT_REASONING, .run_id = run, .text = "thinking hard"};
    hl_store_run_event(S, to(), &rs1);
    EXPECT_OK(res(), HL_RESULT_OK);
    hl_store_run_event(S, to(), &rs2);
    EXPECT_OK(res(), HL_RESULT_OK);
    EXPECT_TYPES(m, c, "message.updated", "message.updated", "message.updated", "reasoning.available", "reasoning.available");
    ck_assert_str_eq(jstr(ev(m + 3).json, "payload.text"), "lo w\xC3\xB6rld");
    ck_assert_str_eq(jstr(ev(m + 4).json, "payload.text"), "thinking hard");
    const char *want[] = {"Hel", "Hello", "Hello w\xC3\xB6rld"};
    for (size_t i = 0; i < 3; ++i)
        ck_assert_str_eq(jstr(ev(m + i).json, "payload.message.parts.0.text"), want[i]);
    page_t *p = read_page(c, ev(m).seq - 1, false, 64);
    ck_assert_uint_eq(p->n, 5);
    for (size_t i = 0; i < 3; ++i) {
        ck_assert_str_eq(p->types[i], "message.updated");
        ck_assert_str_eq(p->texts[i], want[i]);
    }
    free(p);
    /* a replayed update is the very event observers got live (rebuilt from the stub and the final text) */
    json_page_t jp = {.events = json_array()};
    hl_event_page_req_t req = {.conversation_id = c, .after = ev(m).seq - 1, .limit = 64};
    hl_store_read_events(S, &req, json_page_done, &jp);
    WAIT_FOR(jp.done);
    ck_assert_uint_eq(json_array_size(jp.events), 5);
    for (size_t i = 0; i < 5; ++i) {
        char *live = json_dumps(ev(m + i).json, JSON_COMPACT | JSON_SORT_KEYS);
        char *replayed = json_dumps(json_array_get(jp.events, i), JSON_COMPACT | JSON_SORT_KEYS);
        ck_assert_str_eq(replayed, live);
        free(live);
        free(replayed);
    }
    json_decref(jp.events);
    /* what link.db holds for these events: no copy of the text */
    sqlite3 *db = NULL;
    ck_assert_int_eq(sqlite3_open_v2(g.db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    ck_assert_int_eq(sqlite3_prepare_v2(db,
                                        "SELECT json, text_end FROM events WHERE conversation_id = ?1 AND type = "
                                        "'message.updated' AND text_end IS NOT NULL ORDER BY seq",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(st, 1, c, -1, SQLITE_STATIC);
    int rows = 0;
    const int64_t ends[] = {3, 5, 12};
    while (sqlite3_step(st) == SQLITE_ROW) {
        ck_assert_ptr_null(strstr((const char *)sqlite3_column_text(st, 0), "Hel"));
        ck_assert_int_eq(sqlite3_column_int64(st, 1), ends[rows]);
        ++rows;
    }
    ck_assert_int_eq(rows, 3);
    sqlite3_finalize(st);
    sqlite3_close(db);
}
END_TEST

START_TEST(read_event_pages)
{
    const char *a = new_conv("a");
    hl_result_t *s = send_msg(a, "hello");
    const char *b = new_conv("b");
    EXPECT_OK(run_event(HL_RUN_EVENT_DELTA, jstr(s->body, "run.id"), "x", NULL), HL_RESULT_OK);
    hl_store_archive(S, to(), DEV, b, true);
    EXPECT_OK(res(), HL_RESULT_OK);
    WAIT_FOR(g.num_events == 7);

    /* one conversation, by seq */
    page_t *p = read_page(a, 0, false, 3);
    ck_assert_uint_eq(p->n, 3);
    ck_assert(p->more);
    for (size_t i = 0; i < 3; ++i)
        ck_assert_int_eq(p->seqs[i], (int64_t)i + 1);
    ck_assert_str_eq(p->types[0], "conversation.created");
    ck_assert_str_eq(p->types[2], "message.created");
    free(p);
    p = read_page(a, 3, false, 3);
    ck_assert_uint_eq(p->n, 2);
    ck_assert(!p->more);
    ck_assert_int_eq(p->seqs[0], 4);
    ck_assert_str_eq(p->types[0], "run.started");
    ck_assert_str_eq(p->types[1], "message.updated");
    free(p);
    p = read_page(a, 5, false, 3);
    ck_assert_uint_eq(p->n, 0);
    ck_assert(!p->more);
    free(p);
    p = read_page(a, 2, false, 3); /* a page exactly full says `more` (as implemented: full page) */
    ck_assert_uint_eq(p->n, 3);
    ck_assert(p->more);
    free(p);
    p = read_page("conv_unknown", 0, false, 3);
    ck_assert_uint_eq(p->n, 0);
    free(p);

    /* every conversation, by global id: the same as the observer saw */
    p = read_page(NULL, 0, false, 64);
    ck_assert_uint_eq(p->n, 7);
    ck_assert(!p->more);
    for (size_t i = 0; i < 7; ++i) {
        ev_t e = ev(i);
        ck_assert_int_eq(p->ids[i], e.event_id);
        ck_assert_int_eq(p->seqs[i], e.seq);
        ck_assert_str_eq(p->types[i], e.type);
        ck_assert_str_eq(p->conv[i], e.conv);
    }
    int64_t third = p->ids[2];
    free(p);
    p = read_page(NULL, third, false, 2);
    ck_assert_uint_eq(p->n, 2);
    ck_assert(p->more);
    ck_assert_int_eq(p->ids[0], ev(3).event_id);
    free(p);

    /* notifications only: not message.updated, not conversation.archived */
    p = read_page(NULL, 0, true, 64);
    ck_assert_uint_eq(p->n, 5);
    ck_assert(!p->more);
    for (size_t i = 0; i < p->n; ++i) {
        ck_assert_str_ne(p->types[i], "message.updated");
        ck_assert_str_ne(p->types[i], "conversation.archived");
    }
    ck_assert_str_eq(p->types[4], "conversation.created");
    ck_assert_str_eq(p->conv[4], b);
    free(p);
    p = read_page(NULL, 0, true, 2);
    ck_assert_uint_eq(p->n, 2);
    ck_assert(p->more);
    free(p);
    check_event_order();
}
END_TEST

/* ---- commit order and rollbacks ---- */

START_TEST(observer_commit_order)
{
    /* many requests in flight at once (group commit: several jobs per batch), over a few conversations */
    const char *c[3] = {new_conv("x"), new_conv("y"), new_conv("z")};
    call_t *calls[60];
    for (int i = 0; i < 60; ++i) {
        calls[i] = call_new();
        const char *conv = c[i % 3];
        switch (i % 4) {
        case 0: {
            hl_send_req_t req = {.conversation_id = conv, .content = "msg"};
            hl_store_send(S, &calls[i]->super, DEV, &req);
            break;
        }
        case 1:
            hl_store_rename(S, &calls[i]->super, DEV, conv, "t");
            break;
        case 2:
            hl_store_create(S, &calls[i]->super, DEV, "more", NULL);
            break;
        default:
            hl_store_ack(S, &calls[i]->super, DEV, conv, -1);
            break;
        }
    }
    for (int i = 0; i < 60; ++i)
        ck_assert(hl_result_is_ok(call_wait(calls[i])));
    /* 3 creates, then 15 sends (3 events each), 15 renames, 15 creates; acks emit nothing */
    WAIT_FOR(g.num_events == 3 + 15 * 3 + 15 + 15);
    check_event_order();
    for (int i = 0; i < 3; ++i)
        ck_assert_int_eq(last_seq(c[i]), ev(find_event(0, c[i], "conversation.created")).seq + 5 * 3 + 5);
    ck_assert_uint_eq(nstarts(), 3); /* one running run per conversation, the rest queued */
}
END_TEST

START_TEST(rollback_emits_no_events)
{
    /* send to an archived conversation with an attachment that is not its own: the unarchive (and its event) happen
     * before the attachment check fails; everything is rolled back */
    const char *c = new_conv("rollback");
    hl_store_archive(S, to(), DEV, c, true);
    EXPECT_OK(res(), HL_RESULT_OK);
    int64_t seq = last_seq(c);
    size_t m = mark();
    const char *att[] = {"blob_0123456789abcdef0123456789abcdef"};
    hl_send_req_t req = {.conversation_id = c, .content = "x", .blob_ids = att, .num_blob_ids = 1};
    hl_store_send(S, to(), DEV, &req);
    EXPECT_ERR(res(), HL_RESULT_INVALID, "attachment_invalid");
    ck_assert_uint_eq(mark(), m);
    ck_assert_uint_eq(nstarts(), 0);
    ck_assert_int_eq(last_seq(c), seq);
    EXPECT_IDS(list(true, 10, NULL, NULL, DEV)->body, c); /* still archived */
    hl_store_messages(S, to(), DEV, c, 10, NULL);
    ck_assert_uint_eq(jlen(res()->body, "messages"), 0);

    /* errors answered before any write emit nothing either */
    hl_store_archive(S, to(), DEV, c, true);
    EXPECT_ERR(res(), HL_RESULT_NOT_FOUND, "conversation_not_found");
    hl_store_ack(S, to(), DEV, c, 99);
    EXPECT_ERR(res(), HL_RESULT_INVALID, "invalid_event_seq");
    ck_assert_uint_eq(mark(), m);

    /* the next event continues the seq without a gap; global ids still increase */
    m = mark();
    hl_store_archive(S, to(), DEV, c, false);
    EXPECT_OK(res(), HL_RESULT_OK);
    EXPECT_TYPES(m, c, "conversation.unarchived");
    ck_assert_int_eq(ev(m).seq, seq + 1);
    check_event_order();
}
END_TEST

START_TEST(invalid_conversation_ids)
{
    char over[102];
    memcpy(over, "conv_", 5);
    memset(over + 5, 'a', 96);
    over[101] = '\0';
    const char *bad[] = {"x", "conv_", over, "conv_a-b", "", NULL};
    size_t m = mark();
    for (size_t i = 0; i < HL_ARRAY_SIZE(bad); ++i) {
        const char *id = bad[i];
        hl_store_delete(S, to(), DEV, id);
        EXPECT_ERR(res(), HL_RESULT_INVALID, "invalid_conversation_id");
        hl_store_rename(S, to(), DEV, id, "t");
        EXPECT_ERR(res(), HL_RESULT_INVALID, "invalid_conversation_id");
        hl_store_set_model(S, to(), DEV, id, "m");
        EXPECT_ERR(res(), HL_RESULT_INVALID, "invalid_conversation_id");
        hl_store_set_profile(S, to(), DEV, id, "p");
        EXPECT_ERR(res(), HL_RESULT_INVALID, "invalid_conversation_id");
        hl_store_archive(S, to(), DEV, id, true);
        EXPECT_ERR(res(), HL_RESULT_INVALID, "invalid_conversation_id");
        hl_store_archive(S, to(), DEV, id, false);
        EXPECT_ERR(res(), HL_RESULT_INVALID, "invalid_conversation_id");
        hl_store_ack(S, to(), DEV, id, -1);
        EXPECT_ERR(res(), HL_RESULT_INVALID, "invalid_conversation_id");
        hl_store_messages(S, to(), DEV, id, 20, NULL);
        EXPECT_ERR(res(), HL_RESULT_INVALID, "invalid_conversation_id");
        EXPECT_ERR(send_msg(id, "hi"), HL_RESULT_INVALID, "invalid_conversation_id");
        hl_store_cancel_run(S, to(), DEV, id, "run_x");
        EXPECT_ERR(res(), HL_RESULT_INVALID, "invalid_conversation_id");
        hl_store_resolve_approval(S, to(), DEV, id, "appr_x", true, NULL);
        EXPECT_ERR(res(), HL_RESULT_INVALID, "invalid_conversation_id");
        hl_store_stream_check(S, to(), id);
        EXPECT_ERR(res(), HL_RESULT_INVALID, "invalid_conversation_id");
        EXPECT_ERR(put_blob(id, "bytes", "text/plain", NULL), HL_RESULT_INVALID, "invalid_conversation_id");
        /* blob reads and deletes do not check the id's form (the routes do): simply not found */
        hl_store_get_blob(S, to(), id, "blob_0123456789abcdef0123456789abcdef");
        EXPECT_ERR(res(), HL_RESULT_NOT_FOUND, "blob_not_found");
        hl_store_delete_blob(S, to(), id, "blob_0123456789abcdef0123456789abcdef");
        EXPECT_ERR(res(), HL_RESULT_NOT_FOUND, "blob_not_found");
    }
    /* 100 characters is a valid id: merely unknown */
    over[100] = '\0';
    hl_store_delete(S, to(), DEV, over);
    EXPECT_ERR(res(), HL_RESULT_NOT_FOUND, "conversation_not_found");
    hl_store_stream_check(S, to(), over);
    EXPECT_ERR(res(), HL_RESULT_NOT_FOUND, "conversation_not_found");
    ck_assert_uint_eq(mark(), m);
    ck_assert_int_eq(ut_count_entries(g.blobs_dir), 0); /* the failed uploads' files went after their batch */
}
END_TEST

START_TEST(restart_recovers_unfinished_runs)
{
    /* a crash leaves: in c, run1 running before it reached Hermes and run2 queued behind it; in c2, run3 running upstream */
    const char *c = new_conv(NULL);
    hl_result_t *s1 = send_msg(c, "first"), *s2 = send_msg(c, "second");
    const char *run1 = jstr(s1->body, "run.id"), *run2 = jstr(s2->body, "run.id");
    const char *c2 = new_conv(NULL);
    hl_result_t *s3 = send_msg(c2, "third");
    const char *run3 = jstr(s3->body, "run.id");
    EXPECT_OK(run_event(HL_RUN_EVENT_UPSTREAM, run3, "run_upstream3", NULL), HL_RESULT_OK);
    int64_t seq = last_seq(c);
    stop_store();
    clear_observed();
    start_store();
    /* run1 failed (link_restarted), with its events; run2 started (not lost); run3 handed over to be reconciled */
    hl_store_messages(S, to(), DEV, c, 10, NULL);
    hl_result_t *r = res();
    EXPECT_OK(r, HL_RESULT_OK);
    ck_assert_int_gt(jint(r->body, "last_event_seq"), seq);
    ck_assert_str_eq(jstr(r->body, "messages.1.status"), "failed");
    ck_assert_str_eq(jstr(r->body, "messages.2.status"), "completed");
    ck_assert_str_eq(jstr(r->body, "messages.3.status"), "streaming");
    page_t *p = read_page(c, seq, false, 64);
    bool failed1 = false, started2 = false;
    for (size_t i = 0; i < p->n; ++i) {
        failed1 |= strcmp(p->types[i], "run.failed") == 0;
        started2 |= strcmp(p->types[i], "run.started") == 0;
    }
    ck_assert(failed1 && started2);
    free(p);
    WAIT_FOR(g.num_starts == 2);
    bool saw2 = false, saw3 = false;
    for (size_t i = 0; i < 2; ++i) {
        start_t st = start_at(i);
        if (strcmp(st.run_id, run2) == 0) {
            saw2 = true;
            ck_assert(!json_is_true(json_object_get(st.request, "reconcile")));
        } else if (strcmp(st.run_id, run3) == 0) {
            saw3 = true;
            ck_assert(json_is_true(json_object_get(st.request, "reconcile")));
            ck_assert_str_eq(jstr(st.request, "upstream_run_id"), "run_upstream3");
            ck_assert_str_eq(jstr(st.request, "conversation_id"), c2);
        }
    }
    ck_assert(saw2 && saw3);
    hl_store_cancel_run(S, to(), DEV, c, run1);
    r = res();
    EXPECT_OK(r, HL_RESULT_OK);
    ck_assert_str_eq(jstr(r->body, "run.status"), "failed");
    hl_store_cancel_run(S, to(), DEV, c2, run3); /* still running: cancellable */
    ck_assert_str_eq(jstr(res()->body, "run.status"), "cancelled");

    /* event ids continue after the restart */
    size_t m = mark();
    hl_result_t *s4 = send_msg(c, "fourth");
    EXPECT_OK(s4, HL_RESULT_ACCEPTED);
    ck_assert_str_eq(jstr(s4->body, "run.status"), "queued"); /* behind run2 */
    EXPECT_TYPES(m, c, "message.created", "message.created", "run.started");
    ck_assert_int_eq(ev(m).seq, jint(r->body, "last_event_seq") + 1);
}
END_TEST

/* ---- regressions: bugs this suite found in the store (fixed) ---- */

/*
 * Regression, fixed (src/store/conv_ops.c op_set_model; the two tests below): include/hl/store.h says "`model_id` NULL or "" clears
 * the override".
 * - NULL: the column is cleared, but the answer is built with json_pack("{s:s, s:s, …}", …, "model_override", NULL, …),
 *   which fails on the NULL string: the result is HL_RESULT_OK with a NULL body (no conversation_id, runtime, seq).
 * - "": stored as "" rather than NULL, so the runtime reports model id "" and the next run is sent upstream with
 *   "model": "" instead of no model.
 * (The HTTP route refuses both with 400 model_id_required, so only direct callers of the store API see this.)
 */
START_TEST(set_model_null_clears_override)
{
    const char *c = new_conv("model");
    hl_store_set_model(S, to(), DEV, c, "gpt-test");
    EXPECT_OK(res(), HL_RESULT_OK);
    hl_store_set_model(S, to(), DEV, c, NULL);
    hl_result_t *r = res();
    EXPECT_OK(r, HL_RESULT_OK);
    ck_assert_msg(r->body != NULL, "set_model(NULL) answered OK without a body");
    ck_assert(jnull(r->body, "model_override"));
    ck_assert_str_eq(jstr(r->body, "conversation_id"), c);
    ck_assert_str_eq(jstr(r->body, "runtime.model.id"), "unknown");
}
END_TEST

START_TEST(set_model_empty_clears_override)
{
    const char *c = new_conv("model");
    hl_store_set_model(S, to(), DEV, c, "gpt-test");
    EXPECT_OK(res(), HL_RESULT_OK);
    hl_store_set_model(S, to(), DEV, c, "");
    hl_result_t *r = res();
    EXPECT_OK(r, HL_RESULT_OK);
    EXPECT_OK(send_msg(c, "go"), HL_RESULT_ACCEPTED);
    json_t *model = jget(start_at(0).request, "model");
    ck_assert_msg(model == NULL, "run sent upstream with model \"%s\" after the override was cleared", json_string_value(model));
    ck_assert_str_eq(jstr(r->body, "runtime.model.id"), "unknown");
}
END_TEST

/*
 * Regression, fixed (src/store/conv_ops.c conv_soft_delete, src/store/conv_messages.c runs_start_next): deleting a
 * conversation leaves its runs alone. When its running run ends, runs_start_next still starts the next queued run of
 * the deleted conversation: the message is handed to the run proxy (sent upstream) and run.started/message.updated
 * events are appended to a conversation nobody can see any more. A delete (and a clear plan, bulk delete) should at
 * least cancel its queued runs.
 */
START_TEST(delete_drops_queued_runs)
{
    const char *c = new_conv(NULL);
    const char *r1 = jstr(send_msg(c, "first")->body, "run.id");
    EXPECT_OK(send_msg(c, "second"), HL_RESULT_ACCEPTED);
    hl_store_delete(S, to(), DEV, c);
    EXPECT_OK(res(), HL_RESULT_OK);
    EXPECT_OK(run_event(HL_RUN_EVENT_COMPLETED, r1, NULL, NULL), HL_RESULT_OK);
    sync_store();
    ck_assert_msg(nstarts() == 1, "a queued run of the deleted conversation was handed to the run proxy (%zu starts)", nstarts());
}
END_TEST

Suite *suite_store(void)
{
    Suite *s = suite_create("store");
    TCase *v = tcase_create("validation");
    tcase_add_test(v, conversation_id_validation);
    tcase_add_test(v, blob_id_validation);
    suite_add_tcase(s, v);

    TCase *conv = tcase_create("conversations");
    tcase_set_timeout(conv, 60);
    tcase_add_checked_fixture(conv, setup, teardown);
    tcase_add_test(conv, create_defaults_and_profile);
    tcase_add_test(conv, list_keyset_pages);
    tcase_add_test(conv, search_titles_and_messages);
    tcase_add_test(conv, delete_soft);
    tcase_add_test(conv, bulk_delete_partial_failure);
    tcase_add_test(conv, rename_model_profile);
    tcase_add_test(conv, archive_unarchive);
    tcase_add_test(conv, ack_and_unread_counts);
    tcase_add_test(conv, messages_window);
    tcase_add_test(conv, invalid_conversation_ids);
    tcase_add_test(conv, clear_and_archive_plans);
    suite_add_tcase(s, conv);

    TCase *runs = tcase_create("runs");
    tcase_set_timeout(runs, 60);
    tcase_add_checked_fixture(runs, setup, teardown);
    tcase_add_test(runs, send_runs_and_queue);
    tcase_add_test(runs, title_from_first_message);
    tcase_add_test(runs, cancel_queued_and_running);
    tcase_add_test(runs, approvals_and_stream_check);
    tcase_add_test(runs, restart_recovers_unfinished_runs);
    suite_add_tcase(s, runs);

    TCase *blobs = tcase_create("blobs");
    tcase_set_timeout(blobs, 60);
    tcase_add_checked_fixture(blobs, setup, teardown);
    tcase_add_test(blobs, blobs_put_get_delete);
    suite_add_tcase(s, blobs);

    TCase *events = tcase_create("events");
    tcase_set_timeout(events, 60);
    tcase_add_checked_fixture(events, setup, teardown);
    tcase_add_test(events, read_event_pages);
    tcase_add_test(events, text_updates_stored_compact);
    tcase_add_test(events, observer_commit_order);
    tcase_add_test(events, rollback_emits_no_events);
    suite_add_tcase(s, events);

    /* regressions: bugs this suite found in the store, fixed */
    TCase *fixed = tcase_create("regressions");
    tcase_set_timeout(fixed, 60);
    tcase_add_checked_fixture(fixed, setup, teardown);
    tcase_add_test(fixed, set_model_null_clears_override);
    tcase_add_test(fixed, set_model_empty_clears_override);
    tcase_add_test(fixed, delete_drops_queued_runs);
    suite_add_tcase(s, fixed);
    return s;
}
