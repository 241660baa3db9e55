/*
 * The SSE hub (include/hl/sse.h, src/http/sse.c) in-process: the real HTTP server (1 or 2 workers on 127.0.0.1, port picked
 * by the kernel, no TLS) with a router of its own whose routes call hl_sse_open directly (no auth, no store), fake replay
 * sources answering from an in-memory list of records (at once, or held until the test releases them, so that live
 * events can be published while a replay page is in flight), live events published from the test thread with
 * hl_sse_publish, and streams read with libcurl over HTTP/1.1 and cleartext HTTP/2 (prior knowledge, and Upgrade where two
 * streams share a connection).
 *
 * Nothing of the daemon's globals (hl_app) is needed: the dispatcher only reads them for routes flagged HL_ROUTE_AUTH. Like
 * the daemon, the test ignores SIGPIPE (h2o writes with writev to clients that may have left).
 * Every server test ends with a clean shutdown (streams still open must end with FINAL) and, under ASan, a LeakSanitizer
 * check: frames, pages and streams must all be freed once the streams closed and the workers stopped.
 */
#include <check.h>
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "hl/common.h"
#include "hl/http.h"
#include "hl/routes.h"
#include "hl/server.h"
#include "hl/sse.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define UT_LSAN 1
/* The two bounded leaks of libh2o 2.2.5 that tests/lsan.supp lists for the whole test run (per-thread recycle bins, the
 * multithread queue struct): an in-process server is now part of this binary, so it carries them itself. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:h2o_mem_alloc_recycle\nleak:h2o_multithread_create_queue\n";
}
#endif

/* Mirrors of the private sizes of src/http/sse.c (keep in sync). */
#define T_REPLAY_PAGE 512
#define T_CONV_RING 1024

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the fake store: committed records, and the replay source that reads them ---- */

typedef struct st_rec_t {
    int64_t event_id, seq;
    char *key;
    char type[32];
    bool notify;
    char *json;
    size_t json_len;
} rec_t;

/* A read() as the hub asked for it. */
typedef struct st_read_t {
    hl_sse_topic_kind_t kind;
    char *key;
    int64_t after;
    bool notifications_only;
    size_t limit;
    void *page_ctx;
    size_t snapshot; /* records committed when the read was asked */
} read_t;

#define MAX_READS 64
#define MAX_KEYS 128

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    rec_t *recs;
    size_t n, cap;
    int64_t next_event_id;
    struct {
        char *key;
        int64_t seq;
    } seqs[MAX_KEYS];
    /* behaviour */
    bool fail; /* answer every read with failed = true */
    bool hold; /* keep reads (of hold_key, or all when NULL) until src_release */
    const char *hold_key;
    bool ignore_notify; /* answer notifications_only reads with every record (the hub must filter) */
    /* what the hub asked */
    read_t log[MAX_READS];
    size_t nlog;
    read_t held[MAX_READS];
    size_t nheld;
} src = {.mu = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

static void src_reset(void)
{
    pthread_mutex_lock(&src.mu);
    for (size_t i = 0; i < src.n; ++i) {
        free(src.recs[i].key);
        free(src.recs[i].json);
    }
    free(src.recs);
    for (size_t i = 0; i < MAX_KEYS; ++i)
        free(src.seqs[i].key);
    for (size_t i = 0; i < src.nlog; ++i)
        free(src.log[i].key);
    for (size_t i = 0; i < src.nheld; ++i)
        free(src.held[i].key);
    src.recs = NULL;
    src.n = src.cap = 0;
    src.next_event_id = 1;
    memset(src.seqs, 0, sizeof(src.seqs));
    src.fail = src.hold = src.ignore_notify = false;
    src.hold_key = NULL;
    src.nlog = src.nheld = 0;
    pthread_mutex_unlock(&src.mu);
}

static int64_t next_seq_locked(const char *key)
{
    for (size_t i = 0; i < MAX_KEYS; ++i) {
        if (src.seqs[i].key == NULL) {
            src.seqs[i].key = strdup(key);
            return src.seqs[i].seq = 1;
        }
        if (strcmp(src.seqs[i].key, key) == 0)
            return ++src.seqs[i].seq;
    }
    ck_abort_msg("too many keys");
    return -1;
}

static hl_sse_record_t as_record(const rec_t *r)
{
    return (hl_sse_record_t){.event_id = r->event_id,
                             .seq = r->seq,
                             .key = r->key,
                             .type = r->type,
                             .notify = r->notify,
                             .json = r->json,
                             .json_len = r->json_len};
}

typedef enum { NOTIFY_NONE, NOTIFY_ALL, NOTIFY_ODD } notify_mode_t;

/*
 * Commits `count` events of conversation `key` (seqs follow the key's last one, event ids the global last one) with
 * `pad` bytes of padding in their JSON; publishes them when `batch` > 0, in batches of that many (like the store's observer:
 * committed first, then published, in commit order). Returns the event id of the first.
 */
static int64_t commit(const char *key, int count, size_t pad, notify_mode_t notify, int batch)
{
    char *padding = malloc(pad + 1);
    memset(padding, 'x', pad);
    padding[pad] = '\0';
    pthread_mutex_lock(&src.mu);
    size_t first = src.n;
    int64_t first_id = src.next_event_id;
    for (int i = 0; i < count; ++i) {
        if (src.n == src.cap) {
            src.cap = src.cap ? src.cap * 2 : 256;
            src.recs = realloc(src.recs, sizeof(*src.recs) * src.cap);
        }
        rec_t *r = &src.recs[src.n++];
        r->event_id = src.next_event_id++;
        r->seq = next_seq_locked(key);
        r->key = strdup(key);
        snprintf(r->type, sizeof(r->type), "%s", r->seq % 2 ? "message.created" : "run.updated");
        r->notify = notify == NOTIFY_ALL || (notify == NOTIFY_ODD && r->seq % 2 == 1);
        r->json = hl_asprintf("{\"e\":%lld,\"s\":%lld,\"c\":\"%s\",\"n\":%s,\"p\":\"%s\"}", (long long)r->event_id,
                              (long long)r->seq, key, r->notify ? "true" : "false", padding);
        r->json_len = strlen(r->json);
    }
    /* copies for publishing outside the lock (the array may move under a concurrent commit) */
    hl_sse_record_t *out = malloc(sizeof(*out) * (size_t)(count ? count : 1));
    for (int i = 0; i < count; ++i)
        out[i] = as_record(&src.recs[first + (size_t)i]);
    pthread_mutex_unlock(&src.mu);
    for (int i = 0; batch > 0 && i < count; i += batch)
        hl_sse_publish(out + i, (size_t)(count - i < batch ? count - i : batch));
    free(out);
    free(padding);
    return first_id;
}

/* Answers a read from the records (only the first `upto`): the records after `after`, up to `limit`; more = page full. */
static void answer_locked(const read_t *q, size_t upto, bool failed)
{
    if (failed) {
        hl_sse_deliver_page(q->page_ctx, NULL, 0, false, true);
        return;
    }
    hl_sse_record_t *out = malloc(sizeof(*out) * (q->limit ? q->limit : 1));
    size_t n = 0;
    for (size_t i = 0; i < upto && n < q->limit; ++i) {
        const rec_t *r = &src.recs[i];
        if (q->kind == HL_SSE_TOPIC_CONVERSATION) {
            if (strcmp(r->key, q->key) != 0 || r->seq <= q->after)
                continue;
        } else if (r->event_id <= q->after || (q->notifications_only && !src.ignore_notify && !r->notify)) {
            continue;
        }
        out[n++] = as_record(r);
    }
    hl_sse_deliver_page(q->page_ctx, out, n, n == q->limit, false);
    free(out);
}

static void fake_read(void *data, const char *key, int64_t after, bool notifications_only, size_t limit, void *page_ctx)
{
    read_t q = {.kind = (hl_sse_topic_kind_t)(intptr_t)data,
                .after = after,
                .notifications_only = notifications_only,
                .limit = limit,
                .page_ctx = page_ctx};
    pthread_mutex_lock(&src.mu);
    q.snapshot = src.n;
    if (src.nlog < MAX_READS) {
        src.log[src.nlog] = q;
        src.log[src.nlog++].key = key != NULL ? strdup(key) : NULL;
    }
    bool hold = src.hold && (src.hold_key == NULL || (key != NULL && strcmp(key, src.hold_key) == 0));
    if (hold && src.nheld < MAX_READS) {
        q.key = key != NULL ? strdup(key) : NULL;
        src.held[src.nheld++] = q;
        pthread_cond_broadcast(&src.cond);
    } else {
        q.key = (char *)key;
        answer_locked(&q, src.n, src.fail);
    }
    pthread_mutex_unlock(&src.mu);
}

static void drive(long ms);

/* Waits (bounded) until at least n reads are held, running the clients meanwhile. */
static bool src_wait_held(size_t n, long ms)
{
    long deadline = now_ms() + ms;
    for (;;) {
        pthread_mutex_lock(&src.mu);
        bool ok = src.nheld >= n;
        pthread_mutex_unlock(&src.mu);
        if (ok || now_ms() >= deadline)
            return ok;
        drive(5);
    }
}

typedef enum { ANSWER_NOW, ANSWER_SNAPSHOT, ANSWER_FAIL } answer_t;

/* Answers the oldest held read: from the records as they are now (ANSWER_NOW: what was committed since the read was asked
 * is included, as a reader that started late would see it), as they were when it was asked, or with a failure. */
static void src_release(answer_t how)
{
    pthread_mutex_lock(&src.mu);
    ck_assert_msg(src.nheld > 0, "no read is held");
    read_t q = src.held[0];
    memmove(src.held, src.held + 1, sizeof(*src.held) * --src.nheld);
    answer_locked(&q, how == ANSWER_SNAPSHOT ? q.snapshot : src.n, how == ANSWER_FAIL);
    free(q.key);
    pthread_mutex_unlock(&src.mu);
}

static void src_release_all(void)
{
    pthread_mutex_lock(&src.mu);
    src.hold = false;
    while (src.nheld > 0) {
        read_t q = src.held[0];
        memmove(src.held, src.held + 1, sizeof(*src.held) * --src.nheld);
        answer_locked(&q, src.n, false);
        free(q.key);
    }
    pthread_mutex_unlock(&src.mu);
}

/* Holds the reads of conversation `key` (NULL: every read) until src_release. */
static void src_hold(const char *key)
{
    pthread_mutex_lock(&src.mu);
    src.hold = true;
    src.hold_key = key;
    pthread_mutex_unlock(&src.mu);
}

static void src_set(bool fail, bool ignore_notify)
{
    pthread_mutex_lock(&src.mu);
    src.fail = fail;
    src.ignore_notify = ignore_notify;
    pthread_mutex_unlock(&src.mu);
}

static size_t src_reads(void)
{
    pthread_mutex_lock(&src.mu);
    size_t n = src.nlog;
    pthread_mutex_unlock(&src.mu);
    return n;
}

/* A copy of the i-th read asked (key not owned). */
static read_t src_read_at(size_t i)
{
    pthread_mutex_lock(&src.mu);
    ck_assert_msg(i < src.nlog, "read %zu was not asked (%zu reads)", i, src.nlog);
    read_t q = src.log[i];
    pthread_mutex_unlock(&src.mu);
    return q;
}

/* ---- the server with a router of its own ---- */

static int64_t parse_after(hl_request_t *r)
{
    const char *v = hl_request_query(r, "after", NULL);
    char buf[32] = "";
    if (v == NULL) {
        size_t len;
        const char *h = hl_request_header(r, "last-event-id", &len);
        if (h != NULL && len < sizeof(buf)) {
            memcpy(buf, h, len);
            buf[len] = '\0';
            v = buf;
        }
    }
    return v != NULL && *v != '\0' ? strtoll(v, NULL, 10) : -1;
}

static void route_conv(hl_request_t *r)
{
    hl_sse_open(r, hl_request_param(r, "key"), false, parse_after(r));
}

static void route_all(hl_request_t *r)
{
    const char *mode = hl_request_query(r, "mode", NULL);
    hl_sse_open(r, NULL, mode != NULL && strcmp(mode, "notifications") == 0, parse_after(r));
}

static const hl_route_t ROUTES[] = {
    {HL_METHOD_GET, "/conv/:key", route_conv, 0, 0},
    {HL_METHOD_GET, "/all", route_all, 0, 0},
};

static hl_server_t *srv;
static hl_router_t *rt;
static int srv_port;
static CURLM *multi;

static void srv_start(int workers)
{
    /* as the daemon does (src/daemon.c): h2o writes with writev, and a client that left must not kill the process */
    signal(SIGPIPE, SIG_IGN);
    src_reset();
    hl_sse_source_t all = {fake_read, (void *)(intptr_t)HL_SSE_TOPIC_ALL};
    hl_sse_source_t conv = {fake_read, (void *)(intptr_t)HL_SSE_TOPIC_CONVERSATION};
    hl_sse_set_source(HL_SSE_TOPIC_ALL, &all);
    hl_sse_set_source(HL_SSE_TOPIC_CONVERSATION, &conv);
    rt = hl_router_new();
    for (size_t i = 0; i < HL_ARRAY_SIZE(ROUTES); ++i)
        ck_assert_int_eq(hl_router_add(rt, &ROUTES[i]), 0);
    hl_dispatch_set_router(rt);
    hl_server_config_t cfg = {.listen_host = "127.0.0.1", .port = 0, .tls_port = -1, .workers = workers};
    char err[256] = "";
    ck_assert_msg(hl_server_bind(&srv, &cfg, err, sizeof(err)) == 0, "bind: %s", err);
    ck_assert_msg(hl_server_run(srv, err, sizeof(err)) == 0, "run: %s", err);
    srv_port = hl_server_port(srv);
    ck_assert_int_gt(srv_port, 0);
    ck_assert_int_eq(curl_global_init(CURL_GLOBAL_DEFAULT), CURLE_OK);
    multi = curl_multi_init();
}

/* ---- an SSE client on libcurl ---- */

typedef struct st_ev_t {
    int64_t id; /* the `id:` line */
    char type[32];
    int64_t e, s; /* event id and seq, from the data */
    char c[128];  /* conversation, from the data */
    bool notify;
} ev_t;

typedef struct st_cli_t {
    CURL *easy;
    struct curl_slist *headers;
    int rcvbuf;
    char *buf;
    size_t len, cap;
    ev_t *ev;
    size_t n, evcap;
    size_t comments;
    char last_comment[128];
    long retry;
    char bad[256]; /* the first malformed block */
    bool pause_wanted, paused;
    bool done;
    CURLcode rc;
    long status;
    long http_version;
} cli_t;

static void parse_block(cli_t *c, char *b, size_t len)
{
    ev_t ev = {.id = -1};
    const char *data = NULL;
    size_t data_len = 0;
    bool field = false;
    for (char *p = b, *end = b + len; p < end;) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *le = nl != NULL ? nl : end;
        *le = '\0';
        if (p[0] == ':') {
            ++c->comments;
            snprintf(c->last_comment, sizeof(c->last_comment), "%s", p + (p[1] == ' ' ? 2 : 1));
        } else if (strncmp(p, "retry: ", 7) == 0) {
            c->retry = strtol(p + 7, NULL, 10);
        } else if (strncmp(p, "id: ", 4) == 0) {
            ev.id = strtoll(p + 4, NULL, 10);
            field = true;
        } else if (strncmp(p, "event: ", 7) == 0) {
            snprintf(ev.type, sizeof(ev.type), "%s", p + 7);
            field = true;
        } else if (strncmp(p, "data: ", 6) == 0) {
            data = p + 6;
            data_len = (size_t)(le - data);
            field = true;
        } else if (c->bad[0] == '\0') {
            snprintf(c->bad, sizeof(c->bad), "unexpected line: %.100s", p);
        }
        p = le + 1;
    }
    if (!field)
        return;
    json_t *j = data != NULL ? json_loadb(data, data_len, 0, NULL) : NULL;
    if (j == NULL || ev.id < 0 || ev.type[0] == '\0') {
        if (c->bad[0] == '\0')
            snprintf(c->bad, sizeof(c->bad), "malformed event (id %lld): %.100s", (long long)ev.id, data ? data : "(no data)");
        json_decref(j);
        return;
    }
    ev.e = json_integer_value(json_object_get(j, "e"));
    ev.s = json_integer_value(json_object_get(j, "s"));
    const char *conv = json_string_value(json_object_get(j, "c"));
    snprintf(ev.c, sizeof(ev.c), "%s", conv != NULL ? conv : "");
    ev.notify = json_is_true(json_object_get(j, "n"));
    json_decref(j);
    if (c->n == c->evcap) {
        c->evcap = c->evcap ? c->evcap * 2 : 64;
        c->ev = realloc(c->ev, sizeof(*c->ev) * c->evcap);
    }
    c->ev[c->n++] = ev;
}

/* Parses the whole blocks received so far and drops them from the buffer. */
static void parse_all(cli_t *c)
{
    size_t off = 0;
    for (;;) {
        char *sep = off < c->len ? memmem(c->buf + off, c->len - off, "\n\n", 2) : NULL;
        if (sep == NULL)
            break;
        parse_block(c, c->buf + off, (size_t)(sep - (c->buf + off)));
        off = (size_t)(sep + 2 - c->buf);
    }
    memmove(c->buf, c->buf + off, c->len - off);
    c->len -= off;
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    cli_t *c = userdata;
    size_t n = size * nmemb;
    if (c->pause_wanted) {
        c->paused = true;
        return CURL_WRITEFUNC_PAUSE;
    }
    if (c->len + n + 1 > c->cap) {
        c->cap = (c->len + n + 1) * 2;
        c->buf = realloc(c->buf, c->cap);
    }
    memcpy(c->buf + c->len, ptr, n);
    c->len += n;
    parse_all(c);
    return n;
}

static int on_sockopt(void *clientp, curl_socket_t fd, curlsocktype purpose)
{
    cli_t *c = clientp;
    if (c->rcvbuf > 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &c->rcvbuf, sizeof(c->rcvbuf));
    return CURL_SOCKOPT_OK;
}

typedef struct st_open_opts_t {
    bool h2;
    bool upgrade; /* HTTP/2 through Upgrade: h2c (h2: prior knowledge) */
    bool share;   /* HTTP/2: wait for a connection that is being opened to multiplex on it (PIPEWAIT) */
    const char *last_event_id;
    int rcvbuf;
} open_opts_t;

static void cli_open(cli_t *c, const char *path, open_opts_t o)
{
    memset(c, 0, sizeof(*c));
    c->retry = -1;
    c->rcvbuf = o.rcvbuf;
    char url[512];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", srv_port, path);
    c->easy = curl_easy_init();
    curl_easy_setopt(c->easy, CURLOPT_URL, url);
    curl_easy_setopt(c->easy, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c->easy, CURLOPT_NOSIGNAL, 1L);
    if (getenv("UT_CURL_VERBOSE") != NULL)
        curl_easy_setopt(c->easy, CURLOPT_VERBOSE, 1L);
    curl_easy_setopt(c->easy, CURLOPT_TIMEOUT_MS, 60000L);
    curl_easy_setopt(c->easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c->easy, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(c->easy, CURLOPT_PRIVATE, c);
    curl_easy_setopt(c->easy, CURLOPT_SOCKOPTFUNCTION, on_sockopt);
    curl_easy_setopt(c->easy, CURLOPT_SOCKOPTDATA, c);
    long version = o.upgrade ? (long)CURL_HTTP_VERSION_2_0
                   : o.h2    ? (long)CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE
                             : (long)CURL_HTTP_VERSION_1_1;
    curl_easy_setopt(c->easy, CURLOPT_HTTP_VERSION, version);
    if ((o.h2 || o.upgrade) && o.share)
        curl_easy_setopt(c->easy, CURLOPT_PIPEWAIT, 1L);
    if (o.last_event_id != NULL) {
        char h[64];
        snprintf(h, sizeof(h), "Last-Event-ID: %s", o.last_event_id);
        c->headers = curl_slist_append(NULL, h);
        curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, c->headers);
    }
    ck_assert_int_eq(curl_multi_add_handle(multi, c->easy), CURLM_OK);
}

/* Runs the transfers for up to ms; finished ones are marked done (their handle stays for cli_close). */
static void drive(long ms)
{
    long deadline = now_ms() + ms;
    for (;;) {
        int running;
        curl_multi_perform(multi, &running);
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(multi, &left)) != NULL) {
            if (m->msg != CURLMSG_DONE)
                continue;
            cli_t *c = NULL;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&c);
            c->done = true;
            c->rc = m->data.result;
            curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &c->status);
            curl_easy_getinfo(c->easy, CURLINFO_HTTP_VERSION, &c->http_version);
            curl_multi_remove_handle(multi, c->easy);
        }
        long left_ms = deadline - now_ms();
        if (left_ms <= 0)
            break;
        curl_multi_poll(multi, NULL, 0, (int)(left_ms < 10 ? left_ms : 10), NULL);
    }
}

/* Drives until c has n events (or ended), at most ms. */
#define wait_events(c, n, ms) ck_assert_msg(wait_events_((c), (n), (ms)), "%s: %s", #c, state_of(c))
static const char *state_of(const cli_t *c);
static bool wait_events_(cli_t *c, size_t n, long ms)
{
    long deadline = now_ms() + ms;
    while (c->n < n && !c->done && now_ms() < deadline)
        drive(10);
    return c->n >= n;
}

/* Drives until the stream has opened (retry: received: it is subscribed), at most ms. */
static bool wait_open(cli_t *c, long ms)
{
    long deadline = now_ms() + ms;
    while (c->retry < 0 && !c->done && now_ms() < deadline)
        drive(10);
    return c->retry >= 0;
}

static bool wait_done(cli_t *c, long ms)
{
    long deadline = now_ms() + ms;
    while (!c->done && now_ms() < deadline)
        drive(10);
    return c->done;
}

static void cli_pause(cli_t *c)
{
    c->pause_wanted = true;
}

static void cli_unpause(cli_t *c)
{
    c->pause_wanted = false;
    if (c->paused) {
        c->paused = false;
        curl_easy_pause(c->easy, CURLPAUSE_CONT);
    }
}

static void cli_close(cli_t *c)
{
    if (c->easy != NULL) {
        if (!c->done)
            curl_multi_remove_handle(multi, c->easy);
        curl_easy_cleanup(c->easy);
        c->easy = NULL;
    }
    curl_slist_free_all(c->headers);
    c->headers = NULL;
    free(c->buf);
    free(c->ev);
    c->buf = NULL;
    c->ev = NULL;
}

/* The ids received, for messages ("1 2 3 … 9 (n=9)"). */
static const char *ids_of(const cli_t *c)
{
    static char out[600];
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < c->n && o + 40 < sizeof(out); ++i) {
        if (i == 12 && c->n > 24) {
            o += (size_t)snprintf(out + o, sizeof(out) - o, "… ");
            i = c->n - 12;
        }
        o += (size_t)snprintf(out + o, sizeof(out) - o, "%lld ", (long long)c->ev[i].id);
    }
    snprintf(out + o, sizeof(out) - o, "(n=%zu)", c->n);
    return out;
}

/* What a stream got so far and how it ended, for messages. */
static const char *state_of(const cli_t *c)
{
    static char out[800];
    snprintf(out, sizeof(out), "%s, %s%s%s, last comment \"%s\"%s%s", ids_of(c), c->done ? "ended: " : "open",
             c->done ? curl_easy_strerror(c->rc) : "", c->paused ? " (paused)" : "", c->last_comment, c->bad[0] ? ", " : "",
             c->bad);
    return out;
}

/* Asserts that a conversation stream received exactly the seqs from..to of `key`, in order, each once, ids = seqs. */
static void assert_conv_range(const cli_t *c, const char *key, int64_t from, int64_t to)
{
    ck_assert_msg(c->bad[0] == '\0', "%s", c->bad);
    size_t want = to >= from ? (size_t)(to - from + 1) : 0;
    ck_assert_msg(c->n == want, "expected seqs %lld..%lld of %.20s…, got %s", (long long)from, (long long)to, key, ids_of(c));
    for (size_t i = 0; i < c->n; ++i) {
        const ev_t *e = &c->ev[i];
        ck_assert_msg(e->id == from + (int64_t)i, "event %zu has id %lld, expected %lld: %s", i, (long long)e->id,
                      (long long)(from + (int64_t)i), ids_of(c));
        ck_assert_msg(e->s == e->id, "event %zu: id %lld is not its seq %lld", i, (long long)e->id, (long long)e->s);
        ck_assert_msg(strcmp(e->c, key) == 0, "event %zu belongs to %s, not %s", i, e->c, key);
        ck_assert_str_eq(e->type, e->s % 2 ? "message.created" : "run.updated");
    }
}

/* Asserts that an all-conversations stream received exactly these event ids, in order, ids = event ids. */
static void assert_all_ids(const cli_t *c, const int64_t *ids, size_t n)
{
    ck_assert_msg(c->bad[0] == '\0', "%s", c->bad);
    ck_assert_msg(c->n == n, "expected %zu events, got %s", n, ids_of(c));
    for (size_t i = 0; i < n; ++i) {
        ck_assert_msg(c->ev[i].id == ids[i], "event %zu has id %lld, expected %lld: %s", i, (long long)c->ev[i].id,
                      (long long)ids[i], ids_of(c));
        ck_assert_msg(c->ev[i].e == c->ev[i].id, "event %zu: id %lld is not its event id %lld", i, (long long)c->ev[i].id,
                      (long long)c->ev[i].e);
    }
}

/* Asserts the response head of an open stream: 200, text/event-stream, and the retry: block first. */
static void assert_head(cli_t *c)
{
    long status = 0;
    char *ct = NULL;
    curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(c->easy, CURLINFO_CONTENT_TYPE, &ct);
    ck_assert_int_eq(status, 200);
    ck_assert_msg(ct != NULL && strcmp(ct, "text/event-stream") == 0, "content-type %s", ct ? ct : "(none)");
    ck_assert_int_eq(c->retry, HL_SSE_RETRY_MS);
}

/* Asserts that the stream ended cleanly (FINAL: the chunked body or the HTTP/2 stream was closed properly). */
static void assert_ended(cli_t *c, long ms)
{
    ck_assert_msg(wait_done(c, ms), "the stream did not end within %ld ms (%s)", ms, ids_of(c));
    ck_assert_msg(c->rc == CURLE_OK, "the stream ended with %s, not a clean end", curl_easy_strerror(c->rc));
    ck_assert_int_eq(c->status, 200);
}

/* ---- synchronising with the worker: a probe stream on a key of its own ---- */

static cli_t probe;

static void probe_open(void)
{
    cli_open(&probe, "/conv/sync", (open_opts_t){0});
    ck_assert_msg(wait_open(&probe, 5000), "the probe stream did not open");
}

/* Every broadcast published so far has been handled by the probe's worker (the same mailbox, in order) once the probe
 * receives a marker published now. One worker only. */
static void sync_worker(void)
{
    size_t before = probe.n;
    commit("sync", 1, 0, NOTIFY_NONE, 1);
    wait_events(&probe, before + 1, 5000);
}

/* ---- stopping ---- */

static atomic_bool shutdown_done;

static void *shutdown_main(void *arg)
{
    hl_server_shutdown(arg);
    atomic_store(&shutdown_done, true);
    return NULL;
}

/* Shuts the server down on a thread of its own while the clients are driven (they must be able to read FINAL and see
 * their connections close); answers held reads after `release_after_ms`. Returns how long the shutdown took. */
static long srv_shutdown(long release_after_ms)
{
    atomic_store(&shutdown_done, false);
    long start = now_ms();
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, shutdown_main, srv), 0);
    bool released = false;
    while (!atomic_load(&shutdown_done) && now_ms() - start < 20000) {
        if (!released && now_ms() - start >= release_after_ms) {
            src_release_all();
            released = true;
        }
        drive(10);
    }
    if (!released)
        src_release_all();
    pthread_join(th, NULL);
    long took = now_ms() - start;
    if (getenv("UT_SSE_TIMING") != NULL)
        fprintf(stderr, "shutdown took %ld ms\n", took);
    drive(50);
    return took;
}

/* Frees everything and checks that nothing leaked (frames, pages, streams, topics). */
static void srv_free(void)
{
    hl_server_free(srv);
    srv = NULL;
    hl_router_free(rt);
    rt = NULL;
    if (probe.easy != NULL || probe.buf != NULL)
        cli_close(&probe);
    memset(&probe, 0, sizeof(probe));
    curl_multi_cleanup(multi);
    multi = NULL;
    curl_global_cleanup();
    src_reset();
#ifdef UT_LSAN
    const char *fork_mode = getenv("CK_FORK");
    /* in one process (CK_FORK=no) earlier tests' leftovers would be counted too; LeakSanitizer still reports at exit */
    if (fork_mode == NULL || strcmp(fork_mode, "no") != 0)
        ck_assert_msg(__lsan_do_recoverable_leak_check() == 0, "LeakSanitizer found leaks (report on stderr)");
#endif
}

static void srv_stop(void)
{
    long took = srv_shutdown(0);
    ck_assert_msg(took < 10000, "shutdown took %ld ms", took);
    srv_free();
}

/* ---- frames ---- */

START_TEST(frame_format_and_refs)
{
    char key[101];
    memset(key, 'k', 100);
    key[100] = '\0';
    const char json[] = "{\"a\":1}";
    hl_event_frame_t *f = hl_event_frame_new(42, key, 7, "message.created", true, json, strlen(json));
    ck_assert_int_eq(f->event_id, 42);
    ck_assert_int_eq(f->seq, 7);
    ck_assert(f->notify);
    ck_assert_str_eq(f->conversation_id, key);
    ck_assert_int_eq(strlen(f->conversation_id), 100);
    ck_assert_int_eq(f->conv_head.len, strlen("id: 7\nevent: message.created\ndata: "));
    ck_assert(memcmp(f->conv_head.base, "id: 7\nevent: message.created\ndata: ", f->conv_head.len) == 0);
    ck_assert_int_eq(f->global_head.len, strlen("id: 42\nevent: message.created\ndata: "));
    ck_assert(memcmp(f->global_head.base, "id: 42\nevent: message.created\ndata: ", f->global_head.len) == 0);
    ck_assert_int_eq(f->body.len, strlen(json) + 2);
    ck_assert(memcmp(f->body.base, "{\"a\":1}\n\n", f->body.len) == 0);
    ck_assert_uint_eq(atomic_load(&f->refs), 1);
    hl_event_frame_retain(f);
    ck_assert_uint_eq(atomic_load(&f->refs), 2);
    hl_event_frame_release(f);
    ck_assert_uint_eq(atomic_load(&f->refs), 1);
    hl_event_frame_release(f); /* freed: ASan would report a leak or a double free */
    hl_event_frame_release(NULL);
}
END_TEST

/* ---- (1) conversation topic: replay, then live ---- */

START_TEST(conv_replay_then_live)
{
    srv_start(2);
    commit("conv-a", 5, 16, NOTIFY_NONE, 1);
    commit("conv-b", 3, 16, NOTIFY_NONE, 1); /* other conversations interleave */
    commit("conv-a", 2, 16, NOTIFY_NONE, 1);
    cli_t c;
    cli_open(&c, "/conv/conv-a", (open_opts_t){0});
    wait_events(&c, 7, 5000);
    assert_head(&c);
    assert_conv_range(&c, "conv-a", 1, 7);
    ck_assert_int_eq(src_reads(), 1);
    read_t q = src_read_at(0);
    ck_assert_int_eq(q.kind, HL_SSE_TOPIC_CONVERSATION);
    ck_assert_str_eq(q.key, "conv-a");
    ck_assert_int_eq(q.after, 0);
    ck_assert_int_eq(q.limit, T_REPLAY_PAGE);
    ck_assert(!q.notifications_only);

    commit("conv-b", 2, 16, NOTIFY_NONE, 1);
    commit("conv-a", 3, 16, NOTIFY_NONE, 2);
    wait_events(&c, 10, 5000);
    drive(100); /* nothing else may follow */
    assert_conv_range(&c, "conv-a", 1, 10);
    ck_assert_int_eq(src_reads(), 1);
    ck_assert(!c.done);
    cli_close(&c);
    srv_stop();
}
END_TEST

START_TEST(conv_resume_from_cursor)
{
    srv_start(1);
    commit("conv-a", 9, 16, NOTIFY_NONE, 1);
    cli_t a, b;
    cli_open(&a, "/conv/conv-a", (open_opts_t){.last_event_id = "4"});
    cli_open(&b, "/conv/conv-a?after=7", (open_opts_t){0});
    wait_events(&a, 5, 5000);
    wait_events(&b, 2, 5000);
    commit("conv-a", 1, 16, NOTIFY_NONE, 1);
    wait_events(&a, 6, 5000);
    wait_events(&b, 3, 5000);
    drive(100);
    assert_conv_range(&a, "conv-a", 5, 10);
    assert_conv_range(&b, "conv-a", 8, 10);
    ck_assert_int_eq(src_reads(), 2);
    int64_t afters[2] = {src_read_at(0).after, src_read_at(1).after};
    ck_assert_msg((afters[0] == 4 && afters[1] == 7) || (afters[0] == 7 && afters[1] == 4), "reads after %lld and %lld",
                  (long long)afters[0], (long long)afters[1]);
    cli_close(&a);
    cli_close(&b);
    srv_stop();
}
END_TEST

/*
 * Live frames published while the first page is in flight, and a page that includes them (its reader started after they
 * were committed): each seq once, in order.
 */
static void replay_race(answer_t how, bool h2)
{
    srv_start(1);
    probe_open();
    commit("conv-a", 5, 16, NOTIFY_NONE, 1);
    src_hold("conv-a");
    cli_t c;
    cli_open(&c, "/conv/conv-a", (open_opts_t){.h2 = h2});
    ck_assert_msg(src_wait_held(1, 5000), "the hub did not ask for history");
    ck_assert(wait_open(&c, 5000));
    commit("conv-a", 3, 16, NOTIFY_NONE, 1); /* 6..8: live, and in the store */
    sync_worker();                           /* they are in the stream's ring, behind its cursor */
    drive(50);
    ck_assert_msg(c.n == 0, "live frames went out before the replay: %s", ids_of(&c));
    src_release(how);
    wait_events(&c, 8, 5000);
    commit("conv-a", 2, 16, NOTIFY_NONE, 1);
    wait_events(&c, 10, 5000);
    drive(100);
    assert_conv_range(&c, "conv-a", 1, 10);
    if (h2) {
        long version = 0;
        curl_easy_getinfo(c.easy, CURLINFO_HTTP_VERSION, &version);
        ck_assert_int_eq(version, CURL_HTTP_VERSION_2_0);
    }
    ck_assert_int_eq(src_reads(), 2); /* the probe's and the stream's */
    cli_close(&c);
    srv_stop();
}

START_TEST(conv_live_during_replay_overlap)
{
    replay_race(ANSWER_NOW, false);
}
END_TEST

START_TEST(conv_live_during_replay_snapshot)
{
    replay_race(ANSWER_SNAPSHOT, false);
}
END_TEST

START_TEST(conv_live_during_replay_h2)
{
    replay_race(ANSWER_NOW, true);
}
END_TEST

/* Two streams multiplexed on one HTTP/2 connection (h2c Upgrade), each with its own conversation. */
START_TEST(conv_h2_multiplexed)
{
    srv_start(2);
    commit("conv-a", 3, 16, NOTIFY_NONE, 1);
    commit("conv-b", 4, 16, NOTIFY_NONE, 1);
    cli_t a, b;
    /* HTTP/2 through Upgrade, a short request first (a 404) so that libcurl knows that the connection multiplexes before
     * the streams are added, as the integration tests do (libcurl 7.88 fails a second prior-knowledge stream on a reused
     * connection with "Error in the HTTP2 framing layer" before sending anything) */
    cli_t warm;
    cli_open(&warm, "/nothing-here", (open_opts_t){.upgrade = true, .share = true});
    ck_assert(wait_done(&warm, 5000));
    ck_assert_int_eq(warm.status, 404);
    ck_assert_int_eq(warm.http_version, CURL_HTTP_VERSION_2_0);
    cli_close(&warm);
    cli_open(&a, "/conv/conv-a", (open_opts_t){.upgrade = true, .share = true});
    cli_open(&b, "/conv/conv-b", (open_opts_t){.upgrade = true, .share = true});
    wait_events(&a, 3, 5000);
    wait_events(&b, 4, 5000);
    long connects[2] = {-1, -1};
    curl_easy_getinfo(a.easy, CURLINFO_NUM_CONNECTS, &connects[0]);
    curl_easy_getinfo(b.easy, CURLINFO_NUM_CONNECTS, &connects[1]);
    ck_assert_int_eq(connects[0] + connects[1], 0); /* both streams on the warm-up's connection */
    for (int i = 0; i < 5; ++i) {
        commit("conv-b", 1, 16, NOTIFY_NONE, 1);
        commit("conv-a", 1, 16, NOTIFY_NONE, 1);
    }
    wait_events(&a, 8, 5000);
    wait_events(&b, 9, 5000);
    drive(100);
    assert_conv_range(&a, "conv-a", 1, 8);
    assert_conv_range(&b, "conv-b", 1, 9);
    assert_head(&a);
    assert_head(&b);
    /* one stream reset by the client; the other one goes on */
    cli_close(&a);
    commit("conv-b", 1, 16, NOTIFY_NONE, 1);
    wait_events(&b, 10, 5000);
    assert_conv_range(&b, "conv-b", 1, 10);
    srv_stop();
    ck_assert_msg(b.done && b.rc == CURLE_OK, "the HTTP/2 stream did not end cleanly at shutdown: %s", curl_easy_strerror(b.rc));
    cli_close(&b);
}
END_TEST

/* ---- (2) replay in pages ---- */

START_TEST(multi_page_replay)
{
    srv_start(1);
    probe_open();
    commit("conv-a", 1300, 8, NOTIFY_NONE, 0); /* committed before anything listened: history only */
    src_hold("conv-a");
    cli_t c;
    cli_open(&c, "/conv/conv-a", (open_opts_t){0});
    ck_assert(src_wait_held(1, 5000));
    src_release(ANSWER_NOW); /* 1..512, more */
    ck_assert_msg(src_wait_held(1, 5000), "no second page asked (%s)", ids_of(&c));
    wait_events(&c, T_REPLAY_PAGE, 5000);
    assert_conv_range(&c, "conv-a", 1, T_REPLAY_PAGE);
    commit("conv-a", 5, 8, NOTIFY_NONE, 1); /* 1301..1305, live while the replay goes on */
    sync_worker();
    src_release(ANSWER_NOW); /* 513..1024, more */
    ck_assert(src_wait_held(1, 5000));
    wait_events(&c, 2 * T_REPLAY_PAGE, 5000);
    src_release(ANSWER_NOW); /* 1025..1305: the store grew, so the page overlaps the ring */
    wait_events(&c, 1305, 5000);
    commit("conv-a", 1, 8, NOTIFY_NONE, 1);
    wait_events(&c, 1306, 5000);
    drive(100);
    assert_conv_range(&c, "conv-a", 1, 1306);
    /* the probe's read, then the stream's three pages, each after the last id of the previous one */
    ck_assert_int_eq(src_reads(), 4);
    const int64_t afters[] = {0, T_REPLAY_PAGE, 2 * T_REPLAY_PAGE};
    for (size_t i = 0; i < 3; ++i) {
        read_t q = src_read_at(i + 1);
        ck_assert_str_eq(q.key, "conv-a");
        ck_assert_int_eq(q.after, afters[i]);
        ck_assert_int_eq(q.limit, T_REPLAY_PAGE);
    }
    cli_close(&c);
    srv_stop();
}
END_TEST

/* A history of exactly one page: the full page says more, the next one is empty, then the stream goes live. */
START_TEST(replay_exact_page)
{
    srv_start(1);
    commit("conv-a", T_REPLAY_PAGE, 8, NOTIFY_NONE, 0);
    cli_t c;
    cli_open(&c, "/conv/conv-a", (open_opts_t){0});
    wait_events(&c, T_REPLAY_PAGE, 5000);
    commit("conv-a", 1, 8, NOTIFY_NONE, 1);
    wait_events(&c, T_REPLAY_PAGE + 1, 5000);
    drive(100);
    assert_conv_range(&c, "conv-a", 1, T_REPLAY_PAGE + 1);
    ck_assert_int_eq(src_reads(), 2);
    ck_assert_int_eq(src_read_at(1).after, T_REPLAY_PAGE);
    cli_close(&c);
    srv_stop();
}
END_TEST

/* ---- (3) the all-conversations topic ---- */

START_TEST(all_live_only_without_cursor)
{
    srv_start(1);
    probe_open();
    commit("conv-a", 3, 16, NOTIFY_NONE, 1);
    commit("conv-b", 3, 16, NOTIFY_NONE, 1);
    sync_worker(); /* the history is in the worker's ring before the stream opens */
    cli_t c;
    cli_open(&c, "/all", (open_opts_t){0});
    ck_assert(wait_open(&c, 5000));
    assert_head(&c);
    int64_t first = commit("conv-b", 2, 16, NOTIFY_NONE, 1); /* event ids 8, 9 (seqs 4, 5) */
    commit("conv-a", 1, 16, NOTIFY_NONE, 1);                 /* 10 (seq 4) */
    ck_assert_int_eq(first, 8);
    wait_events(&c, 3, 5000);
    drive(100);
    const int64_t want[] = {8, 9, 10};
    assert_all_ids(&c, want, 3);
    ck_assert_int_eq(c.ev[0].s, 4);
    ck_assert_str_eq(c.ev[2].c, "conv-a");
    ck_assert_int_eq(src_reads(), 1); /* the probe's only: no history for a live-only stream */
    cli_close(&c);
    srv_stop();
}
END_TEST

START_TEST(all_after_replays)
{
    srv_start(2);
    commit("conv-a", 3, 16, NOTIFY_NONE, 1);
    commit("conv-b", 3, 16, NOTIFY_NONE, 1);
    cli_t c, h;
    cli_open(&c, "/all?after=4", (open_opts_t){0});
    cli_open(&h, "/all", (open_opts_t){.last_event_id = "2"});
    wait_events(&c, 2, 5000);
    wait_events(&h, 4, 5000);
    commit("conv-a", 2, 16, NOTIFY_NONE, 1);
    wait_events(&c, 4, 5000);
    wait_events(&h, 6, 5000);
    drive(100);
    const int64_t want[] = {3, 4, 5, 6, 7, 8};
    assert_all_ids(&c, want + 2, 4);
    assert_all_ids(&h, want, 6);
    ck_assert_int_eq(src_reads(), 2);
    for (size_t i = 0; i < 2; ++i) {
        read_t q = src_read_at(i);
        ck_assert_int_eq(q.kind, HL_SSE_TOPIC_ALL);
        ck_assert_ptr_null(q.key);
        ck_assert(q.after == 4 || q.after == 2);
        ck_assert(!q.notifications_only);
    }
    cli_close(&c);
    cli_close(&h);
    srv_stop();
}
END_TEST

static void notifications(bool source_filters)
{
    srv_start(1);
    src_set(false, !source_filters);
    commit("conv-a", 6, 16, NOTIFY_ODD, 1); /* ids 1..6, notify on odd seqs: 1, 3, 5 */
    commit("conv-b", 2, 16, NOTIFY_ALL, 1); /* 7, 8 */
    cli_t live, replay, every;
    cli_open(&replay, "/all?mode=notifications&after=0", (open_opts_t){0});
    wait_events(&replay, 5, 5000);
    cli_open(&live, "/all?mode=notifications", (open_opts_t){0});
    cli_open(&every, "/all?after=6", (open_opts_t){0});
    ck_assert(wait_open(&live, 5000));
    wait_events(&every, 2, 5000);
    commit("conv-a", 4, 16, NOTIFY_ODD, 1);  /* 9..12 = seqs 7..10: notify 9, 11 */
    commit("conv-b", 1, 16, NOTIFY_NONE, 1); /* 13 */
    wait_events(&every, 7, 5000);
    wait_events(&replay, 7, 5000);
    wait_events(&live, 2, 5000);
    drive(100);
    const int64_t want_replay[] = {1, 3, 5, 7, 8, 9, 11};
    assert_all_ids(&replay, want_replay, 7);
    assert_all_ids(&live, want_replay + 5, 2);
    const int64_t want_every[] = {7, 8, 9, 10, 11, 12, 13};
    assert_all_ids(&every, want_every, 7);
    for (size_t i = 0; i < replay.n; ++i)
        ck_assert(replay.ev[i].notify);
    bool asked = false;
    for (size_t i = 0; i < src_reads(); ++i)
        asked |= src_read_at(i).notifications_only && src_read_at(i).after == 0;
    ck_assert_msg(asked, "the source was not asked for notifications only");
    cli_close(&live);
    cli_close(&replay);
    cli_close(&every);
    srv_stop();
}

START_TEST(all_notifications_only)
{
    notifications(true);
}
END_TEST

/* A source that ignores notifications_only: the hub still filters what it replays. */
START_TEST(all_notifications_only_hub_filters_replay)
{
    notifications(false);
}
END_TEST

/* ---- (4) keys ---- */

START_TEST(keys_isolated)
{
    srv_start(2);
    cli_t a, b;
    cli_open(&a, "/conv/conv-a", (open_opts_t){0});
    cli_open(&b, "/conv/conv-b", (open_opts_t){.h2 = true});
    ck_assert(wait_open(&a, 5000));
    ck_assert(wait_open(&b, 5000));
    for (int i = 0; i < 20; ++i) {
        commit(i % 3 ? "conv-a" : "conv-b", 1, 16, NOTIFY_NONE, 1);
        commit("conv-c", 1, 16, NOTIFY_NONE, 1);
    }
    wait_events(&a, 13, 5000);
    wait_events(&b, 7, 5000);
    drive(150);
    assert_conv_range(&a, "conv-a", 1, 13);
    assert_conv_range(&b, "conv-b", 1, 7);
    cli_close(&a);
    cli_close(&b);
    srv_stop();
}
END_TEST

/* Keys of 100 characters: k1 and k2 share their first 47, k1 and k3 their first 99; each stream gets its own key's only. */
START_TEST(long_key_not_truncated)
{
    char k1[101], k2[101], k3[101];
    memset(k1, 'k', 47);
    memset(k1 + 47, '1', 53);
    k1[100] = '\0';
    memcpy(k2, k1, sizeof(k1));
    memset(k2 + 47, '2', 53);
    memcpy(k3, k1, sizeof(k1));
    k3[99] = '3';
    ck_assert_int_eq(strlen(k1), 100);
    ck_assert_int_eq(strlen(k2), 100);
    ck_assert_int_eq(strlen(k3), 100);
    srv_start(1);
    commit(k2, 3, 16, NOTIFY_NONE, 1);
    commit(k3, 4, 16, NOTIFY_NONE, 1);
    commit(k1, 2, 16, NOTIFY_NONE, 1);
    char p1[128], p2[128];
    snprintf(p1, sizeof(p1), "/conv/%s", k1);
    snprintf(p2, sizeof(p2), "/conv/%s", k2);
    cli_t a, b;
    cli_open(&a, p1, (open_opts_t){0});
    cli_open(&b, p2, (open_opts_t){0});
    wait_events(&a, 2, 5000);
    wait_events(&b, 3, 5000);
    for (int i = 0; i < 9; ++i)
        commit(i % 3 == 0 ? k1 : i % 3 == 1 ? k2 : k3, 1, 16, NOTIFY_NONE, 1);
    wait_events(&a, 5, 5000);
    wait_events(&b, 6, 5000);
    drive(150);
    assert_conv_range(&a, k1, 1, 5);
    assert_conv_range(&b, k2, 1, 6);
    ck_assert_int_eq(src_reads(), 2);
    for (size_t i = 0; i < src_reads(); ++i) {
        read_t q = src_read_at(i);
        ck_assert_msg(strcmp(q.key, k1) == 0 || strcmp(q.key, k2) == 0, "the source was asked for %s", q.key);
    }
    cli_close(&a);
    cli_close(&b);
    srv_stop();
}
END_TEST

/* ---- (5) a stream behind its ring ---- */

/*
 * The client stops reading (its transfer paused, a small receive buffer) while more than a ring of its conversation's
 * events is published: once it reads again it gets what was in flight, without a gap, then the end of the response with a
 * comment, and resuming from its last id gives the rest.
 */
/* A reader that stops reading while far more than its ring arrives: when it reads again, the stream catches up from the
 * topic's source, on the same connection, with every event once and in order. */
START_TEST(stalled_stream_catches_up)
{
    srv_start(1);
    probe_open();
    commit("conv-a", 3, 16, NOTIFY_NONE, 1);
    cli_t c;
    cli_open(&c, "/conv/conv-a", (open_opts_t){.rcvbuf = 4096});
    wait_events(&c, 3, 5000);
    cli_pause(&c);
    const int total = 3 + 4 * T_CONV_RING; /* 2 KiB each: far more than the socket buffers hold */
    for (int sent = 3; sent < total; sent += 64) {
        commit("conv-a", total - sent < 64 ? total - sent : 64, 2048, NOTIFY_NONE, 64);
        drive(1);
    }
    sync_worker(); /* every batch reached the worker; the paused stream is still blocked on its send */
    ck_assert_msg(!c.done, "the stream ended while its client was not reading");
    cli_unpause(&c);
    wait_events(&c, (size_t)total, 20000);
    drive(100);
    assert_conv_range(&c, "conv-a", 1, total);
    ck_assert_msg(!c.done, "the stream ended instead of catching up");
    cli_close(&c);
    srv_stop();
}
END_TEST

/* Rings are bounded by bytes too (issue 9, finding 7): 80 MiB of 512 KiB events to a conversation with a stalled reader
 * leave at most the conversation ring's 8 MiB and the all-conversations ring's 32 MiB held (not 160 frames twice); when
 * the reader reads again it gets everything, in order, from the source. */
START_TEST(rings_bounded_by_bytes)
{
    enum { BIG = 512 * 1024, N = 160 };
    srv_start(1);
    probe_open();
    commit("conv-a", 1, 16, NOTIFY_NONE, 1);
    cli_t c;
    cli_open(&c, "/conv/conv-a", (open_opts_t){.rcvbuf = 4096});
    wait_events(&c, 1, 5000);
    cli_pause(&c);
    size_t before = hl_sse_ring_bytes();
    for (int sent = 0; sent < N; sent += 8) {
        commit("conv-a", 8, BIG, NOTIFY_NONE, 8);
        drive(1);
    }
    sync_worker();
    size_t held = hl_sse_ring_bytes() - before;
    ck_assert_msg(held <= (size_t)(8 + 32) * 1024 * 1024 + 2 * (BIG + 1024), "the rings hold %zu bytes", held);
    cli_unpause(&c);
    wait_events(&c, N + 1, 30000);
    drive(50);
    assert_conv_range(&c, "conv-a", 1, N + 1);
    ck_assert(!c.done);
    cli_close(&c);
    srv_stop();
}
END_TEST

/* One batch larger than the ring: the stream goes on from the source instead of being ended. */
START_TEST(batch_larger_than_ring_catches_up)
{
    srv_start(1);
    commit("conv-a", 2, 16, NOTIFY_NONE, 1);
    cli_t c;
    cli_open(&c, "/conv/conv-a", (open_opts_t){0});
    wait_events(&c, 2, 5000);
    commit("conv-a", T_CONV_RING + 1, 16, NOTIFY_NONE, T_CONV_RING + 1);
    wait_events(&c, T_CONV_RING + 3, 10000);
    drive(50);
    assert_conv_range(&c, "conv-a", 1, T_CONV_RING + 3);
    ck_assert_msg(!c.done, "the stream ended instead of catching up");
    cli_close(&c);
    srv_stop();
}
END_TEST

/* ---- (6) a failing source ---- */

START_TEST(source_fails_at_once)
{
    srv_start(1);
    commit("conv-a", 3, 16, NOTIFY_NONE, 1);
    src_set(true, false);
    cli_t c, g;
    cli_open(&c, "/conv/conv-a", (open_opts_t){0});
    cli_open(&g, "/all?after=1", (open_opts_t){.h2 = true});
    assert_ended(&c, 5000);
    assert_ended(&g, 5000);
    ck_assert_int_eq(c.retry, HL_SSE_RETRY_MS);
    ck_assert_int_eq(c.n, 0);
    ck_assert_int_eq(g.n, 0);
    ck_assert_str_eq(c.last_comment, "history unavailable, reconnect");
    ck_assert_str_eq(g.last_comment, "history unavailable, reconnect");
    cli_close(&c);
    cli_close(&g);
    srv_stop();
}
END_TEST

START_TEST(source_fails_later)
{
    srv_start(1);
    probe_open();
    commit("conv-a", 3, 16, NOTIFY_NONE, 1);
    src_hold("conv-a");
    cli_t c;
    cli_open(&c, "/conv/conv-a", (open_opts_t){0});
    ck_assert(src_wait_held(1, 5000));
    ck_assert(wait_open(&c, 5000));
    commit("conv-a", 2, 16, NOTIFY_NONE, 1); /* live frames waiting behind the replay are not sent either */
    sync_worker();
    src_release(ANSWER_FAIL);
    assert_ended(&c, 5000);
    ck_assert_int_eq(c.n, 0);
    ck_assert_str_eq(c.last_comment, "history unavailable, reconnect");
    cli_close(&c);
    srv_stop();
}
END_TEST

START_TEST(source_fails_on_second_page)
{
    srv_start(1);
    commit("conv-a", T_REPLAY_PAGE + 100, 8, NOTIFY_NONE, 0);
    src_hold(NULL);
    cli_t c;
    cli_open(&c, "/conv/conv-a", (open_opts_t){0});
    ck_assert(src_wait_held(1, 5000));
    src_release(ANSWER_NOW);
    ck_assert(src_wait_held(1, 5000));
    wait_events(&c, T_REPLAY_PAGE, 5000);
    src_release(ANSWER_FAIL);
    assert_ended(&c, 5000);
    assert_conv_range(&c, "conv-a", 1, T_REPLAY_PAGE);
    ck_assert_str_eq(c.last_comment, "history unavailable, reconnect");
    cli_close(&c);
    srv_stop();
}
END_TEST

/* ---- (7) shutdown and references ---- */

/* Streams still open at shutdown end with FINAL (HTTP/1.1 and HTTP/2, on both workers), after what was published. */
START_TEST(shutdown_ends_streams)
{
    srv_start(2);
    cli_t s[5];
    cli_open(&s[1], "/all", (open_opts_t){0});
    cli_open(&s[4], "/conv/conv-z", (open_opts_t){0}); /* empty history */
    ck_assert(wait_open(&s[1], 5000));
    ck_assert(wait_open(&s[4], 5000));
    commit("conv-a", 4, 16, NOTIFY_NONE, 1);
    cli_open(&s[0], "/conv/conv-a", (open_opts_t){0});
    cli_open(&s[2], "/conv/conv-a", (open_opts_t){.h2 = true});
    cli_open(&s[3], "/all?after=0", (open_opts_t){.h2 = true});
    for (size_t i = 0; i < 5; ++i)
        ck_assert(wait_open(&s[i], 5000));
    wait_events(&s[0], 4, 5000);
    wait_events(&s[1], 4, 5000);
    wait_events(&s[2], 4, 5000);
    wait_events(&s[3], 4, 5000);
    commit("conv-a", 2, 16, NOTIFY_NONE, 1);
    wait_events(&s[0], 6, 5000);
    wait_events(&s[1], 6, 5000);
    wait_events(&s[2], 6, 5000);
    wait_events(&s[3], 6, 5000);
    long took = srv_shutdown(0);
    ck_assert_msg(took < 5000, "shutdown took %ld ms", took);
    for (size_t i = 0; i < 5; ++i)
        assert_ended(&s[i], 100);
    assert_conv_range(&s[0], "conv-a", 1, 6);
    assert_conv_range(&s[2], "conv-a", 1, 6);
    assert_conv_range(&s[4], "conv-z", 1, 0);
    const int64_t all[] = {1, 2, 3, 4, 5, 6};
    assert_all_ids(&s[1], all, 6);
    assert_all_ids(&s[3], all, 6);
    ck_assert_int_eq(s[2].http_version, CURL_HTTP_VERSION_2_0);
    for (size_t i = 0; i < 5; ++i)
        cli_close(&s[i]);
    srv_free();
}
END_TEST

/* Shutdown with a replay page still owed: the stream ends at once, the worker waits for the source, nothing leaks. */
START_TEST(shutdown_with_page_pending)
{
    srv_start(1);
    commit("conv-a", 4, 16, NOTIFY_NONE, 1);
    src_hold(NULL);
    cli_t c;
    cli_open(&c, "/conv/conv-a", (open_opts_t){0});
    ck_assert(src_wait_held(1, 5000));
    ck_assert(wait_open(&c, 5000));
    long took = srv_shutdown(300);
    ck_assert_msg(took >= 250 && took < 5000, "shutdown took %ld ms (it must wait for the page)", took);
    assert_ended(&c, 100);
    ck_assert_int_eq(c.n, 0);
    cli_close(&c);
    srv_free();
}
END_TEST

/* Clients that leave in every state (HTTP/2 resets mid-send, HTTP/1.1 closes, a paused client, a pending page): frames
 * in flight, in rings and in pages are all released once the streams and the workers are gone (LeakSanitizer). */
START_TEST(clients_leave_nothing_leaks)
{
    srv_start(2);
    commit("conv-a", 200, 512, NOTIFY_NONE, 50);
    commit("conv-b", 3, 16, NOTIFY_NONE, 1);
    cli_t s[6];
    cli_open(&s[0], "/conv/conv-a", (open_opts_t){.h2 = true});
    cli_open(&s[1], "/all?after=0", (open_opts_t){.h2 = true});
    cli_open(&s[2], "/conv/conv-a", (open_opts_t){0});
    cli_open(&s[3], "/all?after=0", (open_opts_t){.rcvbuf = 4096});
    cli_open(&s[4], "/conv/conv-b", (open_opts_t){0});
    for (size_t i = 0; i < 5; ++i)
        ck_assert(wait_open(&s[i], 5000));
    wait_events(&s[0], 10, 5000);
    wait_events(&s[3], 10, 5000);
    cli_pause(&s[3]);
    src_hold("conv-c");
    cli_open(&s[5], "/conv/conv-c", (open_opts_t){0});
    ck_assert(src_wait_held(1, 5000));
    /* leave while frames are in flight */
    cli_close(&s[0]);
    cli_close(&s[1]);
    cli_close(&s[2]);
    cli_close(&s[5]);
    commit("conv-a", 100, 512, NOTIFY_NONE, 10);
    commit("conv-c", 5, 16, NOTIFY_NONE, 1);
    drive(200);
    wait_events(&s[4], 3, 5000);
    src_release(ANSWER_NOW); /* the page of a stream whose client left */
    drive(100);
    cli_close(&s[3]);
    commit("conv-b", 1, 16, NOTIFY_NONE, 1);
    wait_events(&s[4], 4, 5000);
    assert_conv_range(&s[4], "conv-b", 1, 4);
    srv_stop(); /* checks for leaks */
    cli_close(&s[4]);
}
END_TEST

/* ---- fan-out ---- */

/* One batch touching more conversation topics than on_broadcast tracks (64): every stream still gets its events. */
START_TEST(fanout_batch_over_many_topics)
{
    enum { K = 70 };
    srv_start(1);
    static cli_t c[K];
    char keys[K][8];
    for (int i = 0; i < K; ++i) {
        snprintf(keys[i], sizeof(keys[i]), "t%02d", i);
        char path[32];
        snprintf(path, sizeof(path), "/conv/%s", keys[i]);
        cli_open(&c[i], path, (open_opts_t){0});
    }
    for (int i = 0; i < K; ++i)
        ck_assert_msg(wait_open(&c[i], 10000), "stream %d did not open", i);
    /* one batch: two events per conversation, interleaved */
    hl_sse_record_t recs[2 * K];
    char *json[2 * K];
    for (int i = 0; i < 2 * K; ++i) {
        const char *key = keys[i % K];
        int64_t seq = i / K + 1;
        json[i] = hl_asprintf("{\"e\":%d,\"s\":%lld,\"c\":\"%s\",\"n\":false}", i + 1, (long long)seq, key);
        recs[i] = (hl_sse_record_t){.event_id = i + 1,
                                    .seq = seq,
                                    .key = key,
                                    .type = seq % 2 ? "message.created" : "run.updated",
                                    .json = json[i],
                                    .json_len = strlen(json[i])};
    }
    hl_sse_publish(recs, 2 * K);
    for (int i = 0; i < 2 * K; ++i)
        free(json[i]);
    for (int i = 0; i < K; ++i)
        wait_events(&c[i], 2, 5000);
    drive(100);
    for (int i = 0; i < K; ++i)
        assert_conv_range(&c[i], keys[i], 1, 2);
    for (int i = 0; i < K; ++i)
        cli_close(&c[i]);
    srv_stop();
}
END_TEST

/* More streams on one worker than it flushes per loop turn (256): each gets every frame, in order. */
START_TEST(fanout_more_streams_than_a_slice)
{
    enum { N = 300, BATCHES = 4, PER = 10 };
    srv_start(1);
    static cli_t c[N];
    for (int i = 0; i < N; ++i)
        cli_open(&c[i], i % 2 ? "/all" : "/conv/conv-a", (open_opts_t){0});
    for (int i = 0; i < N; ++i)
        ck_assert_msg(wait_open(&c[i], 20000), "stream %d did not open", i);
    for (int b = 0; b < BATCHES; ++b)
        commit("conv-a", PER, 64, NOTIFY_NONE, PER);
    for (int i = 0; i < N; ++i)
        wait_events(&c[i], BATCHES * PER, 10000);
    drive(100);
    int64_t ids[BATCHES * PER];
    for (int i = 0; i < BATCHES * PER; ++i)
        ids[i] = i + 1;
    for (int i = 0; i < N; ++i) {
        if (i % 2)
            assert_all_ids(&c[i], ids, BATCHES * PER);
        else
            assert_conv_range(&c[i], "conv-a", 1, BATCHES * PER);
    }
    for (int i = 0; i < N; ++i)
        cli_close(&c[i]);
    srv_stop();
}
END_TEST

Suite *suite_sse_hub(void)
{
    Suite *s = suite_create("sse_hub");
    TCase *frames = tcase_create("frames");
    tcase_add_test(frames, frame_format_and_refs);
    suite_add_tcase(s, frames);

    TCase *conv = tcase_create("conversation");
    tcase_set_timeout(conv, 60);
    tcase_add_test(conv, conv_replay_then_live);
    tcase_add_test(conv, conv_resume_from_cursor);
    tcase_add_test(conv, conv_live_during_replay_overlap);
    tcase_add_test(conv, conv_live_during_replay_snapshot);
    tcase_add_test(conv, conv_live_during_replay_h2);
    tcase_add_test(conv, conv_h2_multiplexed);
    suite_add_tcase(s, conv);

    TCase *pages = tcase_create("replay_pages");
    tcase_set_timeout(pages, 60);
    tcase_add_test(pages, multi_page_replay);
    tcase_add_test(pages, replay_exact_page);
    suite_add_tcase(s, pages);

    TCase *all = tcase_create("all_conversations");
    tcase_set_timeout(all, 60);
    tcase_add_test(all, all_live_only_without_cursor);
    tcase_add_test(all, all_after_replays);
    tcase_add_test(all, all_notifications_only);
    tcase_add_test(all, all_notifications_only_hub_filters_replay);
    suite_add_tcase(s, all);

    TCase *keys = tcase_create("keys");
    tcase_set_timeout(keys, 60);
    tcase_add_test(keys, keys_isolated);
    tcase_add_test(keys, long_key_not_truncated);
    suite_add_tcase(s, keys);

    TCase *behind = tcase_create("behind_ring");
    tcase_set_timeout(behind, 60);
    tcase_add_test(behind, stalled_stream_catches_up);
    tcase_add_test(behind, batch_larger_than_ring_catches_up);
    tcase_add_test(behind, rings_bounded_by_bytes);
    suite_add_tcase(s, behind);

    TCase *fail = tcase_create("source_failure");
    tcase_set_timeout(fail, 60);
    tcase_add_test(fail, source_fails_at_once);
    tcase_add_test(fail, source_fails_later);
    tcase_add_test(fail, source_fails_on_second_page);
    suite_add_tcase(s, fail);

    TCase *fanout = tcase_create("fanout");
    tcase_set_timeout(fanout, 120);
    tcase_add_test(fanout, fanout_batch_over_many_topics);
    tcase_add_test(fanout, fanout_more_streams_than_a_slice);
    suite_add_tcase(s, fanout);

    TCase *life = tcase_create("lifecycle");
    tcase_set_timeout(life, 60);
    tcase_add_test(life, shutdown_ends_streams);
    tcase_add_test(life, shutdown_with_page_pending);
    tcase_add_test(life, clients_leave_nothing_leaks);
    suite_add_tcase(s, life);
    return s;
}
