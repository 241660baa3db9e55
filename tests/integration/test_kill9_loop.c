/*
 * kill -9 at many moments (issue 14, "Crash and fault injection"). One daemon on one home, the fake Hermes upstream
 * (tests/fake_upstream) behind it, and each round 20 client threads working at once:
 *   4 senders      send messages whose runs stream from the fake ([[fake:stream]]), so runs are running at the kill;
 *   2 renamers     rename a conversation of their own;
 *   3 uploaders    upload blobs of 1 KiB to 129 KiB;
 *   4 refreshers   one device each, refreshing its token pair in a loop (every acknowledged pair is kept);
 *   2 approvers    send [[fake:approval]] messages and approve each approval the run asks for;
 *   3 readers      follow a sender's conversation event stream (HTTP/1.1, reconnecting with Last-Event-ID);
 *   2 run readers  start direct runs (POST /api/v1/runs) and follow GET /api/v1/runs/:id/events, dropping the stream
 *                  once per run and resuming it with Last-Event-ID.
 * The daemon gets SIGKILL after a number of answered writes that changes from round to round (a fixed seed: a failing
 * round replays), in a third of the rounds right as a refresh commits and in a third right after an approval was
 * answered, then starts again on the same home. After every restart:
 *   - link.db passes PRAGMA integrity_check (before the restart too);
 *   - approvals still pending are approved (as the app would), every run of every conversation ends, and then no run is
 *     queued or running in link.db and no message queued or streaming;
 *   - every send answered 202 in any round is there; each title is the last rename answered 200 or the one in flight;
 *   - every upload answered 201 reads back byte for byte, and no half-written blob is visible: every blob row's file
 *     exists with the row's size and hashes to its name, and every such blob downloads whole;
 *   - every approval answered 200 is `approved` with its scope, and the fake upstream received the choice;
 *   - per device: the last acknowledged pair works (or, when a refresh was in flight at the kill, that refresh
 *     committed: its refresh token is retired); every pair it replaced is refused; a replaced refresh token presented
 *     again is reuse, which revokes the device, after which its current pair is refused too (API.md §3, the reuse
 *     detection of DESIGN.md; the 30 s retry grace of a lost answer lives in memory and does not outlive the process),
 *     and every device revoked in an earlier round stays refused;
 *   - the conversation streams: the ids each reader received in the last life were consecutive, match the full replay
 *     (same id, same type), and a stream re-opened with the last id continues with exactly the next ids;
 *   - a run stream of the previous life re-opened with its Last-Event-ID never starts over (its relay died with the
 *     process: it is refused, or continues with the next id).
 * HLT_KILL_ROUNDS sets the rounds (default 4 in make test; `make soak` runs 50); HLT_VERBOSE=1 prints each round.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sqlite3.h>

#include "fake_hermes.h"
#include "harness_conv.h"
#include "hl/common.h"
#include "hl/ids.h"

#define KEY "fake-key-kill9-0123456789"
#define MAX_ITEMS 8192

enum { N_SEND = 4, N_NAME = 2, N_BLOB = 3, N_REFRESH = 4, N_APPROVE = 2, N_READ = 3, N_RUNREAD = 2 };
enum { N_CLIENTS = N_SEND + N_NAME + N_BLOB + N_REFRESH + N_APPROVE + N_READ + N_RUNREAD };

/* an event (or run frame) a stream delivered: its id and type */
typedef struct st_seen_t {
    int64_t id;
    char type[48];
} seen_t;

typedef struct st_world_t world_t;

typedef struct st_client_t {
    world_t *w;
    void *(*fn)(void *);
    int index;
    char *conv;             /* senders, renamers, uploaders, approvers, readers (a sender's) */
    char *acked[MAX_ITEMS]; /* sends: user message ids; uploads: "<id> <sha256>"; approvals: ids */
    size_t n_acked;
    char last_title[96], inflight_title[96];
    /* refreshers: the device and every pair it was given, oldest first */
    char *device_id;
    char *access[MAX_ITEMS], *refresh[MAX_ITEMS];
    size_t n_pairs;
    int inflight;      /* a refresh of the last pair was sent and not answered (atomic while the round runs) */
    int cut;           /* (atomic) set by the killer: the answer to the refresh in flight dies with the process */
    char *lost_access; /* the access token of that answer (the app never got it; the test checks it) */
    /* readers: the last id received (over lives), what this life delivered */
    int64_t last_id;
    seen_t *seen;
    size_t n_seen, cap_seen;
    /* run readers: the run followed last and how far */
    char run_id[80];
    int run_done;
    size_t runs_followed, resumes;
    char err[300]; /* the first failure a thread saw (threads never assert) */
} client_t;

struct st_world_t {
    hlt_env_t env;
    hlt_fake_t fake;
    hltc_ctx_t c;
    int round;
    volatile int stop;
    size_t answered;         /* writes answered as asked (atomic), read by the killer */
    size_t refreshes_acked;  /* refreshes answered 200 (atomic) */
    size_t approvals_acked;  /* approvals answered 200 (atomic), read by the killer */
    size_t kills_by_mode[3]; /* how the moments were chosen (see pick_moment) */
    client_t cl[N_CLIENTS];
    /* totals for the report */
    size_t at_kill_running, at_kill_queued, at_kill_pending; /* what the kills interrupted, from link.db */
    size_t blob_rows_checked, crash_refreshes, reuse_revoked, resumed_checked, approvals_late, run_resume_refused;
    json_t *files_checked; /* blob file names already hashed */
    json_t *revoked;       /* the last access token of every device revoked so far (reuse) */
};

static void fail_once(client_t *cl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail_once(client_t *cl, const char *fmt, ...)
{
    if (cl->err[0] != '\0')
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cl->err, sizeof(cl->err), fmt, ap);
    va_end(ap);
}

static void answered(client_t *cl)
{
    __atomic_add_fetch(&cl->w->answered, 1, __ATOMIC_RELEASE);
}

static int stopped(const client_t *cl)
{
    return __atomic_load_n(&cl->w->stop, __ATOMIC_ACQUIRE);
}

/* One request from a client thread (never asserts): bearer may be NULL, body NULL for none. */
static void request(client_t *cl, hlt_proto_t p, const char *tok, const char *method, const char *path, const char *body,
                    size_t body_len, const char *const *extra, hlt_response_t *res)
{
    char auth[512];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", tok != NULL ? tok : "");
    const char *hdrs[8] = {tok != NULL ? auth : "X-No-Auth: 1", "Content-Type: application/json"};
    size_t n = extra != NULL && extra[0] != NULL && strncmp(extra[0], "Content-Type:", 13) == 0 ? 1 : 2; /* theirs instead */
    for (size_t i = 0; extra != NULL && extra[i] != NULL && n < 7; ++i)
        hdrs[n++] = extra[i];
    hdrs[n] = NULL;
    hlt_request_t req = {.method = method,
                         .path = path,
                         .headers = hdrs,
                         .body = body,
                         .body_len = body != NULL ? (body_len ? body_len : strlen(body)) : 0,
                         .has_body = body != NULL,
                         .timeout_ms = 20000};
    hlt_request(&cl->w->c.d, p, &req, res);
}

static int ok_status(const hlt_response_t *res, long status)
{
    return res->rc == CURLE_OK && res->status == status;
}

static void push(client_t *cl, char *item)
{
    if (cl->n_acked < MAX_ITEMS)
        cl->acked[cl->n_acked++] = item;
    else
        free(item);
}

/* ---- a raw HTTP/1.1 event stream (never asserts: usable from the client threads) ---- */

typedef struct st_stream_t {
    int fd;
    char *raw;
    size_t raw_len, head_end, chunk_off;
    char *body;
    size_t body_len, parsed, taken; /* taken: events already handed out by stream_next */
    long status;
    int eof;
    hltc_events_t ev;
} stream_t;

/* Connects and sends GET path with the bearer and, when last_id > 0, Last-Event-ID. 0, or -1 if the daemon is not there. */
static int stream_open(stream_t *s, int port, const char *path, const char *bearer, int64_t last_id)
{
    memset(s, 0, sizeof(*s));
    s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (s->fd < 0 || connect(s->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
        goto Fail;
    char req[1024], lei[64] = "";
    if (last_id > 0)
        snprintf(lei, sizeof(lei), "Last-Event-ID: %lld\r\n", (long long)last_id);
    int n =
        snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n%s\r\n", path, bearer, lei);
    if (write(s->fd, req, (size_t)n) != n)
        goto Fail;
    return 0;
Fail:
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
    s->eof = 1;
    return -1;
}

static void stream_close(stream_t *s)
{
    if (s->fd >= 0)
        close(s->fd);
    free(s->raw);
    free(s->body);
    hltc_events_free(&s->ev);
    memset(s, 0, sizeof(*s));
    s->fd = -1;
}

/* Decodes the complete chunks received so far into the body. */
static void stream_dechunk(stream_t *s)
{
    for (;;) {
        const char *p = s->raw + s->chunk_off, *end = s->raw + s->raw_len, *crlf = NULL;
        for (const char *q = p; q + 1 < end; ++q)
            if (q[0] == '\r' && q[1] == '\n') {
                crlf = q;
                break;
            }
        if (crlf == NULL)
            return;
        size_t size = strtoul(p, NULL, 16);
        if (size == 0) {
            s->eof = 1;
            return;
        }
        if ((size_t)(end - (crlf + 2)) < size + 2)
            return;
        s->body = hl_realloc(s->body, s->body_len + size + 1);
        memcpy(s->body + s->body_len, crlf + 2, size);
        s->body_len += size;
        s->body[s->body_len] = '\0';
        s->chunk_off = (size_t)(crlf + 2 + size + 2 - s->raw);
    }
}

/* Reads what arrives within ms and parses it: the status once the head is in, then the events. -1 once the stream ended. */
static int stream_pump(stream_t *s, long ms)
{
    if (s->fd < 0)
        return -1;
    struct pollfd p = {.fd = s->fd, .events = POLLIN};
    if (poll(&p, 1, (int)ms) > 0) {
        char tmp[65536];
        ssize_t r = read(s->fd, tmp, sizeof(tmp));
        if (r <= 0) {
            s->eof = 1;
        } else {
            s->raw = hl_realloc(s->raw, s->raw_len + (size_t)r + 1);
            memcpy(s->raw + s->raw_len, tmp, (size_t)r);
            s->raw_len += (size_t)r;
            s->raw[s->raw_len] = '\0';
        }
    }
    if (s->head_end == 0 && s->raw != NULL) {
        const char *h = strstr(s->raw, "\r\n\r\n");
        if (h != NULL) {
            s->head_end = s->chunk_off = (size_t)(h + 4 - s->raw);
            s->status = strncmp(s->raw, "HTTP/1.1 ", 9) == 0 ? strtol(s->raw + 9, NULL, 10) : -1;
            if (s->status != 200)
                s->eof = 1; /* an error answer: its status is what counts */
        }
    }
    if (s->head_end > 0 && s->status == 200) {
        stream_dechunk(s);
        if (s->body != NULL)
            hltc_sse_parse(&s->ev, s->body, s->body_len, &s->parsed);
    }
    return s->eof ? -1 : 0;
}

/* The next event with an id not handed out yet, or NULL. */
static const hltc_event_t *stream_next(stream_t *s)
{
    while (s->taken < s->ev.n) {
        const hltc_event_t *e = &s->ev.v[s->taken++];
        if (e->id >= 0)
            return e;
    }
    return NULL;
}

static void seen_add(client_t *cl, const hltc_event_t *e)
{
    if (cl->n_seen == cl->cap_seen) {
        cl->cap_seen = cl->cap_seen ? cl->cap_seen * 2 : 256;
        cl->seen = hl_realloc(cl->seen, sizeof(*cl->seen) * cl->cap_seen);
    }
    seen_t *s = &cl->seen[cl->n_seen++];
    s->id = e->id;
    snprintf(s->type, sizeof(s->type), "%s", e->type != NULL ? e->type : "");
}

/* ---- the clients ---- */

static void *sender(void *arg)
{
    client_t *cl = arg;
    for (int i = 0; !stopped(cl); ++i) {
        char body[160], path[200];
        snprintf(body, sizeof(body), "{\"content\":\"[[fake:stream;deltas=4;gap_ms=60]] r%d s%d m%d\"}", cl->w->round, cl->index,
                 i);
        snprintf(path, sizeof(path), "/api/v1/conversations/%s/messages", cl->conv);
        hlt_response_t res;
        request(cl, i % 2 ? HLT_H2C : HLT_H1, cl->w->c.dev.access, "POST", path, body, 0, NULL, &res);
        int ok = ok_status(&res, 202);
        if (ok)
            push(cl, hl_strdup(json_string_value(json_object_get(json_object_get(res.json, "user_message"), "id"))));
        hlt_response_free(&res);
        if (!ok)
            break; /* the daemon is gone */
        answered(cl);
        hlt_sleep_ms(100); /* about one run in flight, not a growing queue */
    }
    return NULL;
}

static void *renamer(void *arg)
{
    client_t *cl = arg;
    for (int i = 0; !stopped(cl); ++i) {
        snprintf(cl->inflight_title, sizeof(cl->inflight_title), "round %d title %d", cl->w->round, i);
        char body[140], path[200];
        snprintf(body, sizeof(body), "{\"title\":\"%s\"}", cl->inflight_title);
        snprintf(path, sizeof(path), "/api/v1/conversations/%s/title", cl->conv);
        hlt_response_t res;
        request(cl, HLT_H1, cl->w->c.dev.access, "PATCH", path, body, 0, NULL, &res);
        int ok = ok_status(&res, 200);
        hlt_response_free(&res);
        if (!ok)
            break;
        memcpy(cl->last_title, cl->inflight_title, sizeof(cl->last_title));
        answered(cl);
        hlt_sleep_ms(5);
    }
    return NULL;
}

/* The bytes of upload i of a round: 1 KiB to 129 KiB, unique (the round and index lead). */
static char *blob_bytes(int round, int index, int i, size_t *len)
{
    *len = 1024 + ((size_t)i * 7919 + (size_t)round * 104729 + (size_t)index * 31337) % (128 * 1024);
    char *data = hl_malloc(*len);
    int n = snprintf(data, *len, "round %d uploader %d blob %d ", round, index, i);
    for (size_t k = (size_t)n; k < *len; ++k)
        data[k] = (char)('a' + (k * 7 + (size_t)i) % 26);
    return data;
}

static void *uploader(void *arg)
{
    client_t *cl = arg;
    for (int i = 0; !stopped(cl); ++i) {
        size_t len;
        char *data = blob_bytes(cl->w->round, cl->index, i, &len), path[200];
        snprintf(path, sizeof(path), "/api/v1/conversations/%s/blobs", cl->conv);
        const char *extra[] = {"Content-Type: text/plain", "Content-Disposition: attachment; filename=\"part.txt\"", NULL};
        hlt_response_t res;
        request(cl, HLT_H1, cl->w->c.dev.access, "POST", path, data, len, extra, &res);
        int ok = ok_status(&res, 201);
        if (ok) {
            char hex[65];
            hl_sha256_hex(data, len, hex);
            const char *id = json_string_value(json_object_get(json_object_get(res.json, "blob"), "id"));
            push(cl, hl_asprintf("%s %s %zu", id != NULL ? id : "?", hex, len));
        }
        hlt_response_free(&res);
        free(data);
        if (!ok)
            break;
        answered(cl);
    }
    return NULL;
}

static void *refresher(void *arg)
{
    client_t *cl = arg;
    for (int i = 0; !stopped(cl) && cl->n_pairs < MAX_ITEMS; ++i) {
        char body[200];
        snprintf(body, sizeof(body), "{\"refresh_token\":\"%s\"}", cl->refresh[cl->n_pairs - 1]);
        __atomic_store_n(&cl->inflight, 1, __ATOMIC_RELEASE);
        hlt_response_t res;
        request(cl, i % 2 ? HLT_H2C : HLT_H1, NULL, "POST", "/api/v1/auth/refresh", body, 0, NULL, &res);
        if (res.rc != CURLE_OK || res.status == 0) {
            hlt_response_free(&res);
            break; /* the daemon is gone: the refresh stays in flight */
        }
        if (res.status != 200) {
            if (!stopped(cl))
                fail_once(cl, "refresh of device %s answered %ld: %.200s", cl->device_id, res.status, res.body);
            __atomic_store_n(&cl->inflight, 0, __ATOMIC_RELEASE);
            hlt_response_free(&res);
            break;
        }
        const char *access = json_string_value(json_object_get(json_object_get(res.json, "access_token"), "token"));
        if (__atomic_load_n(&cl->cut, __ATOMIC_ACQUIRE)) { /* the killer took this answer with the process */
            cl->lost_access = hl_strdup(access);
            hlt_response_free(&res);
            break;
        }
        cl->access[cl->n_pairs] = hl_strdup(access);
        cl->refresh[cl->n_pairs] =
            hl_strdup(json_string_value(json_object_get(json_object_get(res.json, "refresh_token"), "token")));
        __atomic_add_fetch(&cl->n_pairs, 1, __ATOMIC_RELEASE);
        __atomic_store_n(&cl->inflight, 0, __ATOMIC_RELEASE);
        __atomic_add_fetch(&cl->w->refreshes_acked, 1, __ATOMIC_RELEASE);
        hlt_response_free(&res);
        answered(cl);
        if (i % 4 == 3) { /* the new access token works at once */
            request(cl, HLT_H1, cl->access[cl->n_pairs - 1], "GET", "/api/v1/auth/me", NULL, 0, NULL, &res);
            if (res.rc == CURLE_OK && res.status != 0 && res.status != 200)
                fail_once(cl, "device %s: a fresh access token answered %ld", cl->device_id, res.status);
            hlt_response_free(&res);
        }
        hlt_sleep_ms(40);
    }
    return NULL;
}

/* The assistant message `id` among the newest messages of the conversation (new reference), NULL if not (yet) there or the
 * daemon is gone (*gone set). */
static json_t *assistant_now(client_t *cl, const char *id, int *gone)
{
    char path[200];
    snprintf(path, sizeof(path), "/api/v1/conversations/%s/messages?limit=4", cl->conv);
    hlt_response_t res;
    request(cl, HLT_H1, cl->w->c.dev.access, "GET", path, NULL, 0, NULL, &res);
    *gone = !ok_status(&res, 200);
    json_t *found = NULL;
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(res.json, "messages"), i, m)
    {
        const char *mid = json_string_value(json_object_get(m, "id"));
        if (mid != NULL && strcmp(mid, id) == 0)
            found = json_incref(m);
    }
    hlt_response_free(&res);
    return found;
}

static int message_done(json_t *m)
{
    const char *s = json_string_value(json_object_get(m, "status"));
    return s != NULL && strcmp(s, "queued") != 0 && strcmp(s, "streaming") != 0;
}

/* The id of a pending approval on the message (caller frees), NULL if none. */
static char *pending_approval(json_t *m)
{
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(m, "approvals"), i, a)
    {
        const char *st = json_string_value(json_object_get(a, "status"));
        if (st != NULL && strcmp(st, "pending") == 0)
            return hl_strdup(json_string_value(json_object_get(a, "id")));
    }
    return NULL;
}

/* POST …/approve {"scope":"once"}: 1 answered 200 (recorded), 0 refused, -1 the daemon is gone. */
static int approve(client_t *cl, const char *approval_id)
{
    char path[240];
    snprintf(path, sizeof(path), "/api/v1/conversations/%s/approvals/%s/approve", cl->conv, approval_id);
    hlt_response_t res;
    request(cl, HLT_H1, cl->w->c.dev.access, "POST", path, "{\"scope\":\"once\"}", 0, NULL, &res);
    int ret = ok_status(&res, 200) ? 1 : res.rc != CURLE_OK || res.status == 0 ? -1 : 0;
    if (ret == 0 && res.status != 409 && !stopped(cl))
        fail_once(cl, "approve %s answered %ld: %.200s", approval_id, res.status, res.body);
    hlt_response_free(&res);
    if (ret == 1) {
        push(cl, hl_strdup(approval_id));
        __atomic_add_fetch(&cl->w->approvals_acked, 1, __ATOMIC_RELEASE);
    }
    return ret;
}

/* Waits for the assistant message to ask for an approval (approving it) and then to end. 0, or -1 if the daemon is gone. */
static int follow_approval_run(client_t *cl, const char *assistant_id)
{
    int approved = 0;
    for (long deadline = hlt_now_ms() + 15000; hlt_now_ms() < deadline && !stopped(cl);) {
        int gone;
        json_t *m = assistant_now(cl, assistant_id, &gone);
        if (gone) {
            json_decref(m);
            return -1;
        }
        char *pending = !approved && m != NULL ? pending_approval(m) : NULL;
        int done = m != NULL && message_done(m);
        json_decref(m);
        if (pending != NULL) {
            int r = approve(cl, pending);
            free(pending);
            if (r < 0)
                return -1;
            if (r > 0)
                answered(cl);
            approved = 1;
        }
        if (done)
            return 0;
        hlt_sleep_ms(30);
    }
    return 0;
}

static void *approver(void *arg)
{
    client_t *cl = arg;
    for (int i = 0; !stopped(cl); ++i) {
        char body[200], path[200];
        snprintf(body, sizeof(body), "{\"content\":\"[[fake:approval;timeout_ms=20000;deltas=2;gap_ms=20]] r%d a%d m%d\"}",
                 cl->w->round, cl->index, i);
        snprintf(path, sizeof(path), "/api/v1/conversations/%s/messages", cl->conv);
        hlt_response_t res;
        request(cl, HLT_H1, cl->w->c.dev.access, "POST", path, body, 0, NULL, &res);
        char *assistant = ok_status(&res, 202)
                              ? hl_strdup(json_string_value(json_object_get(json_object_get(res.json, "assistant_message"), "id")))
                              : NULL;
        hlt_response_free(&res);
        if (assistant == NULL)
            break;
        answered(cl);
        int r = follow_approval_run(cl, assistant);
        free(assistant);
        if (r < 0)
            break;
    }
    return NULL;
}

/* Takes the stream's new events: each must be the next id after the last one received. */
static void reader_take(client_t *cl, stream_t *s)
{
    const hltc_event_t *e;
    while ((e = stream_next(s)) != NULL) {
        if (e->id != cl->last_id + 1)
            fail_once(cl, "conversation %s: after id %lld the stream sent id %lld (round %d)", cl->conv, (long long)cl->last_id,
                      (long long)e->id, cl->w->round);
        seen_add(cl, e);
        if (e->id > cl->last_id)
            cl->last_id = e->id;
    }
}

static void *reader(void *arg)
{
    client_t *cl = arg;
    char path[200];
    snprintf(path, sizeof(path), "/api/v1/conversations/%s/events", cl->conv);
    while (!stopped(cl)) {
        stream_t s;
        if (stream_open(&s, cl->w->c.d.port, path, cl->w->c.dev.access, cl->last_id) != 0) {
            stream_close(&s);
            hlt_sleep_ms(10); /* the daemon is gone (or going): the test stops us */
            continue;
        }
        while (!stopped(cl) && stream_pump(&s, 50) == 0)
            reader_take(cl, &s);
        reader_take(cl, &s);
        if (s.head_end > 0 && s.status != 200 && !stopped(cl))
            fail_once(cl, "conversation %s: the stream answered %ld", cl->conv, s.status);
        stream_close(&s);
    }
    return NULL;
}

static int frame_final(const hltc_event_t *e)
{
    const char *d = e->data != NULL ? e->data : "";
    return strstr(d, "\"run.completed\"") != NULL || strstr(d, "\"run.failed\"") != NULL ||
           strstr(d, "\"run.cancelled\"") != NULL || (e->type != NULL && strncmp(e->type, "run.", 4) == 0);
}

/* Follows the run stream from cl->last_id until the run ends, the stream ends, or (drop_after > 0) that many frames came.
 * Returns the frames taken, -1 if the daemon is not there. */
static long follow_run(client_t *cl, long drop_after)
{
    char path[200];
    snprintf(path, sizeof(path), "/api/v1/runs/%s/events", cl->run_id);
    stream_t s;
    if (stream_open(&s, cl->w->c.d.port, path, cl->w->c.dev.access, cl->last_id) != 0) {
        stream_close(&s);
        return -1;
    }
    long taken = 0;
    for (long deadline = hlt_now_ms() + 20000; !cl->run_done && hlt_now_ms() < deadline && !stopped(cl);) {
        int end = stream_pump(&s, 50);
        const hltc_event_t *e;
        while ((e = stream_next(&s)) != NULL) {
            if (e->id != cl->last_id + 1)
                fail_once(cl, "run %s: after frame %lld came frame %lld", cl->run_id, (long long)cl->last_id, (long long)e->id);
            cl->last_id = e->id;
            cl->run_done |= frame_final(e);
            taken++;
        }
        if (end < 0 || (drop_after > 0 && taken >= drop_after))
            break;
    }
    if (s.head_end > 0 && s.status != 200 && !stopped(cl))
        fail_once(cl, "run %s: its stream answered %ld", cl->run_id, s.status);
    stream_close(&s);
    return taken;
}

static void *run_reader(void *arg)
{
    client_t *cl = arg;
    for (int i = 0; !stopped(cl); ++i) {
        char body[160];
        snprintf(body, sizeof(body), "{\"input\":\"[[fake:stream;deltas=8;gap_ms=40]] direct r%d i%d\"}", cl->w->round, i);
        hlt_response_t res;
        request(cl, HLT_H1, cl->w->c.dev.access, "POST", "/api/v1/runs", body, 0, NULL, &res);
        const char *id = json_string_value(json_object_get(res.json, "run_id"));
        int ok = ok_status(&res, 202) && id != NULL;
        if (ok) {
            snprintf(cl->run_id, sizeof(cl->run_id), "%s", id);
            cl->last_id = 0;
            cl->run_done = 0;
            cl->runs_followed++;
        }
        hlt_response_free(&res);
        if (!ok)
            break;
        /* a few frames, then the stream is dropped and resumed from the last id */
        if (follow_run(cl, 3) < 0)
            break;
        if (!cl->run_done && !stopped(cl)) {
            cl->resumes++;
            if (follow_run(cl, 0) < 0)
                break;
        }
    }
    return NULL;
}

/* ---- set-up ---- */

static void enroll(world_t *w, client_t *cl)
{
    for (size_t i = 0; i < cl->n_pairs; ++i) {
        free(cl->access[i]);
        free(cl->refresh[i]);
    }
    free(cl->device_id);
    hlt_device_t dev;
    hlt_enroll(&w->c.d, HLT_H1, "{\"device_label\":\"kill9 refresher\"}", &dev);
    cl->device_id = hl_strdup(dev.id);
    cl->access[0] = hl_strdup(dev.access);
    cl->refresh[0] = hl_strdup(dev.refresh);
    cl->n_pairs = 1;
    cl->inflight = 0;
    free(cl->lost_access);
    cl->lost_access = NULL;
    hlt_device_free(&dev);
}

static void world_start(world_t *w)
{
    memset(w, 0, sizeof(*w));
    hlt_env_init(&w->env);
    static const char *const ARGS[] = {"--key", KEY, "--time-scale", "0.5", "--max-runs", "500", NULL};
    hlt_fake_start(&w->fake, w->env.dir, ARGS);
    char *envfile = hl_asprintf("%s/.env", w->env.hermes_home);
    char *text = hl_asprintf("API_SERVER_HOST=127.0.0.1\nAPI_SERVER_PORT=%d\nAPI_SERVER_KEY=\"%s\"\n", w->fake.port, KEY);
    hlt_write_file(envfile, text);
    free(envfile);
    free(text);
    hltc_start(&w->c, 0, &w->env);
    w->files_checked = json_object();
    w->revoked = json_array();
    static void *(*const FNS[])(void *) = {sender, renamer, uploader, refresher, approver, reader, run_reader};
    static const int COUNTS[] = {N_SEND, N_NAME, N_BLOB, N_REFRESH, N_APPROVE, N_READ, N_RUNREAD};
    static const char *const NAMES[] = {"send", "name", "blob", "refresh", "approve", "read", "runread"};
    size_t k = 0;
    for (size_t f = 0; f < HL_ARRAY_SIZE(FNS); ++f)
        for (int i = 0; i < COUNTS[f]; ++i, ++k) {
            client_t *cl = &w->cl[k];
            cl->w = w;
            cl->fn = FNS[f];
            cl->index = i;
            if (FNS[f] == reader)
                cl->conv = hl_strdup(w->cl[i].conv); /* sender i's conversation (senders come first) */
            else if (FNS[f] == refresher)
                enroll(w, cl);
            else if (FNS[f] != run_reader)
                cl->conv = hltc_create(&w->c.d, HLT_H1, w->c.dev.access, hltc_fmt("kill9 %s %d", NAMES[f], i));
        }
}

static void world_free(world_t *w)
{
    for (size_t k = 0; k < N_CLIENTS; ++k) {
        client_t *cl = &w->cl[k];
        for (size_t i = 0; i < cl->n_acked; ++i)
            free(cl->acked[i]);
        for (size_t i = 0; i < cl->n_pairs; ++i) {
            free(cl->access[i]);
            free(cl->refresh[i]);
        }
        free(cl->device_id);
        free(cl->lost_access);
        free(cl->conv);
        free(cl->seen);
    }
    json_decref(w->files_checked);
    json_decref(w->revoked);
    hlt_device_free(&w->c.dev);
    const char *err = hlt_fake_stop(&w->fake);
    ck_assert_msg(err == NULL, "fake upstream: %s", err);
    hlt_env_dispose(&w->env);
}

/* ---- checks after a restart ---- */

static const char *db_text(void *db, const char *sql, const char *arg, char *buf, size_t len)
{
    char *s = hltc_db_str(db, sql, arg);
    snprintf(buf, len, "%s", s != NULL ? s : "(none)");
    free(s);
    return buf;
}

/* The app answers what the kill left waiting: every pending approval of an approver's conversation is approved. */
static void approve_leftovers(world_t *w)
{
    void *db = hltc_db_open(&w->env, 0);
    for (size_t k = 0; k < N_CLIENTS; ++k) {
        client_t *cl = &w->cl[k];
        if (cl->fn != approver)
            continue;
        char *id;
        while ((id = hltc_db_str(db, "SELECT id FROM approvals WHERE conversation_id = ?1 AND status = 'pending' LIMIT 1",
                                 cl->conv)) != NULL) {
            int r = approve(cl, id); /* 0: it ended meanwhile (409) */
            ck_assert_msg(r >= 0, "round %d: approving %s left by the kill: the daemon did not answer", w->round, id);
            w->approvals_late += r == 1;
            free(id);
        }
    }
    hltc_db_close(db);
}

static void check_conversation_runs(world_t *w, client_t *cl, hltc_events_t **replay)
{
    hltc_events_t *e = hltc_wait_runs_done(&w->c.d, w->c.dev.access, cl->conv, 60000);
    for (size_t i = 0; i < e->n; ++i)
        ck_assert_msg(e->v[i].id == (int64_t)i + 1, "round %d: %s: event %zu has id %lld", w->round, cl->conv, i,
                      (long long)e->v[i].id);
    json_t *ids = hltc_all_messages(&w->c.d, w->c.dev.access, cl->conv);
    if (cl->fn == sender)
        for (size_t i = 0; i < cl->n_acked; ++i)
            ck_assert_msg(json_object_get(ids, cl->acked[i]) != NULL, "round %d: message %s (answered 202) is gone", w->round,
                          cl->acked[i]);
    const char *mid;
    json_t *st;
    json_object_foreach(ids, mid, st)
    {
        const char *s = json_string_value(st);
        ck_assert_msg(strcmp(s, "queued") != 0 && strcmp(s, "streaming") != 0, "round %d: message %s is still %s", w->round, mid,
                      s);
    }
    json_decref(ids);
    *replay = e;
}

/* What reader `cl` received in the last life matches the replay, and a stream re-opened with its last id continues with
 * exactly the next ids. */
static void check_reader(world_t *w, client_t *cl, const hltc_events_t *replay)
{
    for (size_t i = 0; i < cl->n_seen; ++i) {
        const seen_t *s = &cl->seen[i];
        ck_assert_msg(s->id >= 1 && (size_t)s->id <= replay->n,
                      "round %d: %s: the stream delivered id %lld, the replay ends at %zu", w->round, cl->conv, (long long)s->id,
                      replay->n);
        const char *t = replay->v[s->id - 1].type != NULL ? replay->v[s->id - 1].type : "";
        ck_assert_msg(strcmp(t, s->type) == 0, "round %d: %s: id %lld was %s live, %s in the replay", w->round, cl->conv,
                      (long long)s->id, s->type, t);
    }
    cl->n_seen = 0;
    int64_t last = cl->last_id, want = (int64_t)replay->n;
    if (last >= want)
        return;
    char path[200];
    snprintf(path, sizeof(path), "/api/v1/conversations/%s/events", cl->conv);
    stream_t s;
    ck_assert(stream_open(&s, w->c.d.port, path, w->c.dev.access, last) == 0);
    int64_t next = last + 1;
    for (long deadline = hlt_now_ms() + 20000; next <= want && hlt_now_ms() < deadline;) {
        int end = stream_pump(&s, 50);
        const hltc_event_t *e;
        while ((e = stream_next(&s)) != NULL) {
            ck_assert_msg(e->id == next, "round %d: %s resumed after %lld: id %lld where %lld was due", w->round, cl->conv,
                          (long long)last, (long long)e->id, (long long)next);
            next++;
        }
        if (end < 0)
            break;
    }
    ck_assert_msg(next == want + 1, "round %d: %s resumed after %lld: got up to %lld of %lld (status %ld)", w->round, cl->conv,
                  (long long)last, (long long)next - 1, (long long)want, s.status);
    stream_close(&s);
    w->resumed_checked++;
}

static void check_title(world_t *w, client_t *cl)
{
    json_t *j = hltc_call(&w->c.d, HLT_H1, w->c.dev.access, "GET", "/api/v1/conversations?limit=100", NULL, 200);
    const char *title = NULL;
    size_t i;
    json_t *conv;
    json_array_foreach(json_object_get(j, "conversations"), i, conv) if (strcmp(hlt_str(conv, "id"), cl->conv) == 0) title =
        hlt_str(conv, "title");
    ck_assert_msg(title != NULL, "round %d: the renamed conversation %s is gone", w->round, cl->conv);
    if (cl->last_title[0] != '\0')
        ck_assert_msg(strcmp(title, cl->last_title) == 0 || strcmp(title, cl->inflight_title) == 0,
                      "round %d: title \"%s\", last answered \"%s\", in flight \"%s\"", w->round, title, cl->last_title,
                      cl->inflight_title);
    snprintf(cl->last_title, sizeof(cl->last_title), "%s", title); /* what the next round starts from */
    json_decref(j);
}

/* GET the blob from conversation conv: 200 and exactly the bytes with this sha256 and size. */
static void check_blob_download(world_t *w, const char *conv, const char *id, const char *sha, size_t size, const char *what)
{
    hlt_response_t res;
    hlt_api(&w->c.d, HLT_H1, "GET", hltc_fmt("/api/v1/conversations/%s/blobs/%s", conv, id), w->c.dev.access, NULL, &res);
    ck_assert_msg(res.status == 200, "round %d: blob %s (%s): %ld", w->round, id, what, res.status);
    char got[65];
    hl_sha256_hex(res.body, res.body_len, got);
    ck_assert_msg(res.body_len == size && strcmp(got, sha) == 0, "round %d: blob %s (%s) reads back %zu bytes of %zu, or others",
                  w->round, id, what, res.body_len, size);
    hlt_response_free(&res);
}

/* Every acknowledged upload of this round reads back (older ones were read back after their round). */
static void check_uploads(world_t *w, client_t *cl, size_t from)
{
    for (size_t b = from; b < cl->n_acked; ++b) {
        char id[80], sha[65];
        size_t size;
        ck_assert_int_eq(sscanf(cl->acked[b], "%79s %64s %zu", id, sha, &size), 3);
        check_blob_download(w, cl->conv, id, sha, size, "answered 201");
    }
}

/* No half-written blob is visible: every blob row has its whole file (hashing to its name) and downloads whole. */
static void check_blob_rows(world_t *w)
{
    void *db = hltc_db_open(&w->env, 0);
    sqlite3_stmt *st = NULL;
    ck_assert(sqlite3_prepare_v2(db,
                                 "SELECT b.id, b.sha256, b.size, l.conversation_id FROM blobs b JOIN blob_links l ON "
                                 "l.blob_id = b.id ORDER BY b.rowid",
                                 -1, &st, NULL) == SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(st, 0), *sha = (const char *)sqlite3_column_text(st, 1);
        size_t size = (size_t)sqlite3_column_int64(st, 2);
        if (json_object_get(w->files_checked, id) != NULL)
            continue;
        char *path = hl_asprintf("%s/blobs/%s", w->env.home, sha);
        size_t len = 0;
        char *data = hlt_read_file(path, &len), hex[65] = "";
        ck_assert_msg(data != NULL, "round %d: blob %s is listed, its file %s is missing", w->round, id, path);
        hl_sha256_hex(data, len, hex);
        ck_assert_msg(len == size && strcmp(hex, sha) == 0, "round %d: blob %s: file of %zu bytes (row: %zu), hash %s", w->round,
                      id, len, size, hex);
        free(data);
        free(path);
        check_blob_download(w, (const char *)sqlite3_column_text(st, 3), id, sha, size, "listed");
        json_object_set_new(w->files_checked, id, json_true());
        w->blob_rows_checked++;
    }
    sqlite3_finalize(st);
    hltc_db_close(db);
}

static void token_hash(const char *token, char out[65])
{
    hl_sha256_hex(token, strlen(token), out);
}

/* GET /auth/me with the access token: its status. */
static long me_status(world_t *w, const char *access)
{
    hlt_response_t res;
    hlt_api(&w->c.d, HLT_H1, "GET", "/api/v1/auth/me", access, NULL, &res);
    long s = res.status;
    hlt_response_free(&res);
    return s;
}

static long refresh_status(world_t *w, const char *refresh)
{
    hlt_response_t res;
    hlt_refresh(&w->c.d, HLT_H1, refresh, &res);
    long s = res.status;
    hlt_response_free(&res);
    return s;
}

/* A device whose refresh token came back after it was replaced is revoked: its current pair is refused too. */
static void assert_revoked_for_reuse(world_t *w, client_t *cl, const char *old_refresh, const char *current_access)
{
    ck_assert_msg(refresh_status(w, old_refresh) == 401, "round %d: device %s: a replaced refresh token was accepted", w->round,
                  cl->device_id);
    ck_assert_msg(me_status(w, current_access) == 401, "round %d: device %s: revoked for reuse, its current pair still works",
                  w->round, cl->device_id);
    void *db = hltc_db_open(&w->env, 0);
    ck_assert_int_eq(hltc_db_int(db, "SELECT revoked_at IS NOT NULL FROM devices WHERE id = ?1", cl->device_id), 1);
    hltc_db_close(db);
    json_array_append_new(w->revoked, json_string(current_access));
}

/* Every device revoked in an earlier life stays refused after the restart (its tokens are still stored). */
static void check_revoked(world_t *w)
{
    size_t i;
    json_t *t;
    json_array_foreach(w->revoked, i, t) ck_assert_msg(me_status(w, json_string_value(t)) == 401,
                                                       "round %d: the access token of revoked device %zu works again", w->round, i);
}

/* The device's pairs after a restart (see the header); the device is replaced by a new one when it had to be revoked. */
static void check_device(world_t *w, client_t *cl, int probe_reuse)
{
    size_t k = cl->n_pairs - 1;
    char h[65], buf[80];
    void *db = hltc_db_open(&w->env, 0);
    ck_assert_int_eq(hltc_db_int(db, "SELECT revoked_at IS NULL FROM devices WHERE id = ?1", cl->device_id), 1);
    for (size_t i = 0; i < k; ++i) { /* every replaced refresh token is retired, never current */
        token_hash(cl->refresh[i], h);
        ck_assert_msg(hltc_db_int(db, "SELECT count(*) FROM retired_refresh_tokens WHERE token_hash = ?1", h) == 1,
                      "round %d: device %s: replaced refresh token %zu is not retired", w->round, cl->device_id, i);
    }
    token_hash(cl->refresh[k], h);
    const char *current = db_text(db, "SELECT refresh_token_hash FROM devices WHERE id = ?1", cl->device_id, buf, sizeof(buf));
    int rotated = strcmp(current, h) != 0;
    int retired = hltc_db_int(db, "SELECT count(*) FROM retired_refresh_tokens WHERE token_hash = ?1", h) == 1;
    hltc_db_close(db);
    for (size_t i = k > 3 ? k - 3 : 0; i < k; ++i) /* the last replaced access tokens are refused */
        ck_assert_msg(me_status(w, cl->access[i]) == 401, "round %d: device %s: replaced access token %zu still works", w->round,
                      cl->device_id, i);
    if (!rotated) {
        ck_assert_msg(!retired, "round %d: device %s: its current refresh token is retired", w->round, cl->device_id);
        ck_assert_msg(me_status(w, cl->access[k]) == 200, "round %d: device %s: the last acknowledged pair is refused", w->round,
                      cl->device_id);
        if (probe_reuse && k >= 1) {
            assert_revoked_for_reuse(w, cl, cl->refresh[k - 1], cl->access[k]);
            w->reuse_revoked++;
            enroll(w, cl);
        }
        cl->inflight = 0;
        free(cl->lost_access);
        cl->lost_access = NULL;
        return;
    }
    /* the pair was replaced by the refresh the kill interrupted: committed, its answer lost with the process */
    ck_assert_msg(cl->inflight, "round %d: device %s: its last acknowledged pair was replaced with no refresh in flight", w->round,
                  cl->device_id);
    ck_assert_msg(retired, "round %d: device %s: replaced, but its refresh token is not retired", w->round, cl->device_id);
    ck_assert_msg(me_status(w, cl->access[k]) == 401, "round %d: device %s: a replaced access token still works", w->round,
                  cl->device_id);
    if (cl->lost_access != NULL) /* the pair the app never received is the device's, committed */
        ck_assert_msg(me_status(w, cl->lost_access) == 200, "round %d: device %s: the committed pair is refused", w->round,
                      cl->device_id);
    /* the app retries that refresh: the grace that would hand it the same pair again died with the process, so this is
       reuse; the device is revoked and the pair the app never received is refused with it */
    assert_revoked_for_reuse(w, cl, cl->refresh[k], cl->access[k]);
    if (cl->lost_access != NULL)
        ck_assert_msg(me_status(w, cl->lost_access) == 401, "round %d: device %s: revoked, the pair it never delivered still works",
                      w->round, cl->device_id);
    w->crash_refreshes++;
    enroll(w, cl);
}

/* The fake's view of an upstream run and the requests it received about it (a failure message; static storage). */
static const char *upstream_story(world_t *w, const char *up, json_t *run)
{
    static char buf[1500];
    char *r = json_dumps(run, JSON_COMPACT);
    json_t *reqs = hlt_fake_requests(&w->fake), *mine = json_array();
    size_t i;
    json_t *q;
    json_array_foreach(reqs, i, q) if (strstr(json_string_value(json_object_get(q, "path")), up) != NULL)
        json_array_append(mine, q);
    char *m = json_dumps(mine, JSON_COMPACT);
    snprintf(buf, sizeof(buf), "%.600s; requests: %.800s", r, m);
    free(r);
    free(m);
    json_decref(mine);
    json_decref(reqs);
    return buf;
}

/* Every acknowledged approval is approved with its scope, and the fake upstream received the choice. */
static void check_approvals(world_t *w, client_t *cl, size_t from)
{
    void *db = hltc_db_open(&w->env, 0);
    char buf[160];
    for (size_t i = from; i < cl->n_acked; ++i) {
        const char *id = cl->acked[i];
        db_text(db, "SELECT status || ' ' || coalesce(decision, '-') FROM approvals WHERE id = ?1", id, buf, sizeof(buf));
        ck_assert_msg(strcmp(buf, "approved once") == 0, "round %d: approval %s (answered 200) is %s", w->round, id, buf);
        char *up = hltc_db_str(db, "SELECT r.upstream_run_id FROM approvals a JOIN runs r ON r.id = a.run_id WHERE a.id = ?1", id);
        ck_assert_msg(up != NULL, "round %d: approval %s: its run has no upstream id", w->round, id);
        hlt_response_t res;
        hlt_fake_request(&w->fake, "GET", hltc_fmt("/__fake/runs/%s", up), NULL, NULL, &res);
        ck_assert_msg(res.status == 200, "round %d: the fake has no run %s", w->round, up);
        json_t *choices = json_object_get(res.json, "approval_choices");
        int got = 0;
        size_t j;
        json_t *c;
        json_array_foreach(choices, j, c) got |= json_is_string(c) && strcmp(json_string_value(c), "once") == 0;
        if (!got)
            ck_abort_msg("round %d: approval %s answered 200, but run %s upstream never got the choice: %s", w->round, id, up,
                         upstream_story(w, up, res.json));
        hlt_response_free(&res);
        free(up);
    }
    hltc_db_close(db);
}

/* The run a run reader followed when the process died: re-opened with its Last-Event-ID, it never starts over. */
static void check_run_resume(world_t *w, client_t *cl)
{
    if (cl->run_id[0] == '\0' || cl->last_id == 0 || cl->run_done)
        return;
    char path[200];
    snprintf(path, sizeof(path), "/api/v1/runs/%s/events", cl->run_id);
    stream_t s;
    ck_assert(stream_open(&s, w->c.d.port, path, w->c.dev.access, cl->last_id) == 0);
    for (long deadline = hlt_now_ms() + 3000; hlt_now_ms() < deadline && !cl->run_done;) {
        int end = stream_pump(&s, 50);
        const hltc_event_t *e;
        while ((e = stream_next(&s)) != NULL) {
            ck_assert_msg(e->id == cl->last_id + 1, "round %d: run %s resumed after frame %lld with frame %lld", w->round,
                          cl->run_id, (long long)cl->last_id, (long long)e->id);
            cl->last_id = e->id;
            cl->run_done |= frame_final(e);
        }
        if (end < 0)
            break;
    }
    if (s.status != 200)
        w->run_resume_refused++;
    stream_close(&s);
}

/* Waits (up to ms) until link.db has no run queued or running: cheaper than replaying every history meanwhile. */
static void wait_runs_idle(world_t *w, long ms)
{
    void *db = hltc_db_open(&w->env, 0);
    long t = hlt_now_ms(), deadline = t + ms;
    while (hltc_db_int(db, "SELECT count(*) FROM runs WHERE status IN ('queued', 'running')", NULL) > 0 && hlt_now_ms() < deadline)
        hlt_sleep_ms(50);
    hltc_db_close(db);
    if (getenv("HLT_VERBOSE") != NULL && hlt_now_ms() - t > 3000)
        fprintf(stderr, "kill9 round %d: the runs took %.1f s to end after the restart\n", w->round,
                (double)(hlt_now_ms() - t) / 1000);
}

static void check_round(world_t *w, size_t *acked_before)
{
    approve_leftovers(w);
    for (size_t k = 0; k < N_CLIENTS; ++k)
        ck_assert_msg(w->cl[k].err[0] == '\0', "round %d: client %zu: %s", w->round, k, w->cl[k].err);
    wait_runs_idle(w, 60000);
    hltc_events_t *replays[N_SEND] = {0};
    for (size_t k = 0; k < N_CLIENTS; ++k) {
        client_t *cl = &w->cl[k];
        if (cl->fn == sender || cl->fn == approver) {
            hltc_events_t *e;
            check_conversation_runs(w, cl, &e);
            if (cl->fn == sender)
                replays[cl->index] = e;
            else {
                hltc_events_free(e);
                free(e);
            }
        }
    }
    void *db = hltc_db_open(&w->env, 0);
    ck_assert_int_eq(hltc_db_int(db, "SELECT count(*) FROM runs WHERE status IN ('queued', 'running')", NULL), 0);
    hltc_db_close(db);
    for (size_t k = 0; k < N_CLIENTS; ++k) {
        client_t *cl = &w->cl[k];
        if (cl->fn == reader)
            check_reader(w, cl, replays[cl->index]);
        else if (cl->fn == renamer)
            check_title(w, cl);
        else if (cl->fn == uploader)
            check_uploads(w, cl, acked_before[k]);
        else if (cl->fn == approver)
            check_approvals(w, cl, acked_before[k]);
        else if (cl->fn == refresher)
            check_device(w, cl, cl->index == w->round % N_REFRESH);
        else if (cl->fn == run_reader)
            check_run_resume(w, cl);
    }
    check_blob_rows(w);
    check_revoked(w);
    for (size_t i = 0; i < N_SEND; ++i) {
        hltc_events_free(replays[i]);
        free(replays[i]);
    }
}

/* ---- the loop ---- */

/* Counts what the kill interrupted (runs running or queued, approvals pending), read from link.db before the restart. */
static void note_interrupted(world_t *w)
{
    void *db = hltc_db_open(&w->env, 0);
    w->at_kill_running += (size_t)hltc_db_int(db, "SELECT count(*) FROM runs WHERE status = 'running'", NULL);
    w->at_kill_queued += (size_t)hltc_db_int(db, "SELECT count(*) FROM runs WHERE status = 'queued'", NULL);
    w->at_kill_pending += (size_t)hltc_db_int(db, "SELECT count(*) FROM approvals WHERE status = 'pending'", NULL);
    hltc_db_close(db);
}

/* Waits (up to `until`) for a refresher's refresh to commit — its refresh token retired in link.db — and makes its
 * answer die with the process: the client drops it if it has not taken it yet (the state of an app whose connection
 * broke after the commit). */
static void wait_refresh_commit(world_t *w, long until)
{
    char token[200] = "", h[65];
    client_t *watched = NULL;
    while (token[0] == '\0' && hlt_now_ms() < until) {
        for (size_t k = 0; k < N_CLIENTS && token[0] == '\0'; ++k) {
            client_t *cl = &w->cl[k];
            if (cl->fn == refresher && __atomic_load_n(&cl->inflight, __ATOMIC_ACQUIRE)) {
                snprintf(token, sizeof(token), "%s", cl->refresh[__atomic_load_n(&cl->n_pairs, __ATOMIC_ACQUIRE) - 1]);
                watched = cl;
            }
        }
        if (token[0] == '\0')
            usleep(50);
    }
    if (token[0] == '\0')
        return;
    hl_sha256_hex(token, strlen(token), h);
    void *db = hltc_db_open(&w->env, 0);
    for (long end = hlt_now_ms() + 300; hlt_now_ms() < end && hlt_now_ms() < until;)
        if (hltc_db_int(db, "SELECT count(*) FROM retired_refresh_tokens WHERE token_hash = ?1", h) > 0) {
            /* committed: its answer dies with the process (unless the client took it already) */
            __atomic_store_n(&watched->cut, 1, __ATOMIC_RELEASE);
            break;
        }
    hltc_db_close(db);
}

/* Waits for the moment of the kill: after 20 to 219 answered writes of all the clients together (counted, not timed),
 * then, in a third of the rounds each, right as a refresh commits (wait_refresh_commit) or right after an approval was
 * answered 200 (its decision on its way to Hermes). Returns the count. */
static size_t pick_moment(world_t *w, unsigned *seed)
{
    size_t after = 20 + (size_t)(rand_r(seed) % 200);
    int mode = (int)(rand_r(seed) % 3);
    long deadline = hlt_now_ms() + 60000;
    while (__atomic_load_n(&w->answered, __ATOMIC_ACQUIRE) < after && hlt_now_ms() < deadline)
        hlt_sleep_ms(1);
    if (mode == 1)
        wait_refresh_commit(w, deadline);
    if (mode == 2) {
        size_t base = __atomic_load_n(&w->approvals_acked, __ATOMIC_ACQUIRE);
        while (__atomic_load_n(&w->approvals_acked, __ATOMIC_ACQUIRE) == base && hlt_now_ms() < deadline)
            usleep(50);
    }
    w->kills_by_mode[mode]++;
    return after;
}

static void run_round(world_t *w, unsigned *seed)
{
    pthread_t th[N_CLIENTS];
    __atomic_store_n(&w->stop, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&w->answered, 0, __ATOMIC_RELEASE);
    for (size_t k = 0; k < N_CLIENTS; ++k) {
        w->cl[k].cut = 0;
        ck_assert(pthread_create(&th[k], NULL, w->cl[k].fn, &w->cl[k]) == 0);
    }
    size_t after = pick_moment(w, seed);
    hltc_kill9(&w->c.d);
    __atomic_store_n(&w->stop, 1, __ATOMIC_RELEASE);
    for (size_t k = 0; k < N_CLIENTS; ++k)
        pthread_join(th[k], NULL);
    hltc_assert_integrity(&w->env, hltc_fmt("after the kill of round %d", w->round));
    note_interrupted(w);
    hlt_daemon_dispose(&w->c.d);
    hlt_daemon_opts_t o = {.env = &w->env};
    hlt_daemon_start(&w->c.d, &o);
    if (getenv("HLT_VERBOSE") != NULL)
        fprintf(stderr, "kill9 round %d: killed after %zu answered writes\n", w->round, after);
}

/* What the clients of one kind kept (runs followed, for the run readers). */
static size_t total(const world_t *w, void *(*fn)(void *))
{
    size_t n = 0;
    for (size_t k = 0; k < N_CLIENTS; ++k)
        if (w->cl[k].fn == fn)
            n += fn == run_reader ? w->cl[k].runs_followed : w->cl[k].n_acked;
    return n;
}

START_TEST(kill9_rounds)
{
    const char *env_rounds = getenv("HLT_KILL_ROUNDS");
    int rounds = env_rounds != NULL ? atoi(env_rounds) : 4;
    ck_assert_int_gt(rounds, 0);
    static world_t world;
    world_t *w = &world;
    world_start(w);
    unsigned seed = 20261204;
    long t0 = hlt_now_ms();
    for (w->round = 0; w->round < rounds; ++w->round) {
        size_t acked_before[N_CLIENTS];
        for (size_t k = 0; k < N_CLIENTS; ++k)
            acked_before[k] = w->cl[k].n_acked;
        run_round(w, &seed);
        check_round(w, acked_before);
        if (getenv("HLT_VERBOSE") != NULL)
            fprintf(stderr,
                    "kill9 round %d checked (%.1f s so far): kills after a count / at a refresh commit / after an approval: "
                    "%zu/%zu/%zu; "
                    "interrupted %zu running runs, %zu queued, %zu pending approvals; kept %zu sends, %zu uploads, %zu "
                    "approvals (%zu after a restart), %zu refreshes; %zu refreshes cut by the kill, %zu reuse revocations, %zu "
                    "blob rows, %zu resumed streams, %zu runs followed, %zu run streams refused after a restart\n",
                    w->round, (double)(hlt_now_ms() - t0) / 1000, w->kills_by_mode[0], w->kills_by_mode[1], w->kills_by_mode[2],
                    w->at_kill_running, w->at_kill_queued, w->at_kill_pending, total(w, sender), total(w, uploader),
                    total(w, approver), w->approvals_late, w->refreshes_acked, w->crash_refreshes, w->reuse_revoked,
                    w->blob_rows_checked, w->resumed_checked, total(w, run_reader), w->run_resume_refused);
    }
    hlt_assert_stop_clean(&w->c.d);
    hltc_assert_integrity(&w->env, "after the last clean stop");
    world_free(w);
}
END_TEST

Suite *suite_kill9_loop(void)
{
    Suite *s = suite_create("kill9_loop");
    TCase *tc = tcase_create("kill9_loop");
    tcase_set_timeout(tc, 3600);
    tcase_add_test(tc, kill9_rounds);
    suite_add_tcase(s, tc);
    return s;
}
