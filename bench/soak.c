/*
 * bench/soak: mixed traffic from N simulated devices for D seconds against one running daemon (issue 14).
 *
 * Devices take turns in their protocol: HTTP/1.1, h2c (prior knowledge, one connection per transfer: see xfer_new) and
 * h2 over TLS; all transfers run on one libcurl multi handle (HTTP/1.1 and TLS connections are pooled and reused, h2
 * multiplexed). Each device is a slot: it pairs over the real pairing API (a session from the `pair` command on control.sock, then
 * GET /api/v1/pairing/session and POST /api/v1/pairing/claim, or POST /api/v1/auth/device-session with the connect
 * token), creates its conversation and keeps one event stream on it (GET /api/v1/conversations/:id/events) open for the
 * whole run. Then, every think time (default 1–4 s), it does one action, picked at random by weight:
 *
 *   send     POST …/messages "[[fake:stream;deltas=K;gap_ms=G]] …": a run that streams from the fake upstream; a few are
 *            long and some of those are cancelled (POST …/runs/:runId/cancel) half-way; at most two runs per slot at
 *            once (the second one waits queued behind the first)
 *   read     one of GET …/messages, GET /conversations, GET /bootstrap, GET /auth/me, GET /devices, GET /status
 *   refresh  POST /auth/refresh (rotation); sometimes GET /auth/me with the old access token, which must answer 401
 *   upload   POST …/blobs (1 KiB–512 KiB of random bytes), GET it back byte for byte, DELETE it
 *   drop     close the event stream and reconnect 0–3 s later with Last-Event-ID (or ?after=)
 *   run      POST /api/v1/runs and read GET /api/v1/runs/:id/events to its end (reconnecting with Last-Event-ID if cut)
 *   revoke   DELETE /devices/:id by another device (then it hides it: DELETE …/app-listing), by itself, or POST
 *            /auth/logout; the old access and refresh tokens must answer 401 and the stream must end; a new device is
 *            then paired into the slot and takes over its conversation, resuming the stream with Last-Event-ID
 *
 * A stream the server ends (a rotated or revoked token, falling behind, shutdown) is reopened with the slot's current
 * token and Last-Event-ID. Checks, per slot (across its re-pairings and reconnects):
 *   - the stream's ids are contiguous: an id at or below the last one seen is a duplicate, a jump is a loss;
 *   - every sent message's events arrive: message.created (user, then assistant), run.started, then message.completed
 *     with the fake's full answer ("Hello from the fake LLM." repeated up to the number of deltas) and run.completed
 *     (or run.cancelled when the cancel won), in order;
 *   - after the run: once everything is quiet, GET …/messages's last_event_seq equals the last id seen, and a replay of
 *     the whole conversation (a fresh stream without cursor) gives every id once with the same bytes as seen live;
 *   - direct runs: frame ids 1..n contiguous, ending with run.completed;
 *   - every request answers its expected status (a 503 server_busy is counted apart).
 * Latency (p50/p99/max) is kept per route, and for two stream deliveries: the user's message.created after the POST (when
 * the stream stayed open meanwhile) and the stream's end after a refresh or revocation. Every --sample-s seconds (default
 * 10) the daemon's VmRSS (and its anonymous and file parts), VmHWM, threads, open descriptors (/proc/<pid>/fd) and CPU
 * time, link.db and WAL sizes, the fake's RSS and CPU time, the machine's load average and the client's counts go to the
 * CSV given by --csv. The fake's log of requests is emptied every minute (DELETE /__fake/requests) so that it stays small.
 * Every action, timer and stream runs on one thread; the clock is CLOCK_MONOTONIC; latencies are measured from adding the
 * transfer to the multi handle to its completion (or, for streams, to their retry: line), so they include the client's
 * own scheduling on the shared cores.
 *
 * Output: key=value lines on stdout (read by bench/soak.sh), a readable summary on stderr. Exit status 0 when no event
 * was lost or duplicated and every check passed, 1 otherwise, 2 on usage or set-up errors.
 *
 * Environment: SOAK_VERBOSE_SLOT=N prints libcurl's trace of device N's transfers on stderr.
 *
 * Build: cc -O2 -std=c17 -D_GNU_SOURCE -o soak bench/soak.c -lcurl -ljansson
 */
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define BENCH_NAME "soak"
#include "bench_util.h"

#define FAKE_TEXT "Hello from the fake LLM." /* the fake's answer, repeated up to the number of deltas */
#define MAX_RUNS_PER_SLOT 2
#define REQUEST_TIMEOUT_MS 30000
#define STREAM_END_DEADLINE_MS 5000 /* a stream whose token was rotated or revoked must end within this */
#define MAX_DETAILS 20              /* problems printed one by one, then only counted */

/* ---- options ---- */

static struct {
    int port, tls_port, fake_port, daemon_pid, fake_pid;
    const char *home, *csv;
    int devices, seconds, sample_s;
    int think_min_ms, think_max_ms;
    double revoke_pct;
    int drain_s, replay_parallel, replay_s;
    unsigned seed;
} opt = {.devices = 200,
         .seconds = 1800,
         .sample_s = 10,
         .think_min_ms = 1000,
         .think_max_ms = 4000,
         .revoke_pct = 0.25,
         .drain_s = 90,
         .replay_parallel = 16,
         .replay_s = 240,
         .seed = 1};

/* xorshift64*: one generator per slot, seeded from --seed */
static uint64_t rnd_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static int rnd_range(uint64_t *s, int lo, int hi) /* lo..hi inclusive */
{
    return lo + (int)(rnd_next(s) % (uint64_t)(hi - lo + 1));
}

static double rnd_unit(uint64_t *s)
{
    return (double)(rnd_next(s) >> 11) / 9007199254740992.0;
}

static uint64_t fnv1a(const void *data, size_t n)
{
    const unsigned char *p = data;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; ++i) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

/* ---- latency per route ---- */

typedef struct {
    const char *name;
    uint32_t *us; /* one sample per answered request, microseconds */
    size_t n, cap;
    uint64_t unexpected, busy, transport; /* answers other than the expected status (503 server_busy apart), errors */
} route_t;

static route_t routes[64];
static size_t num_routes;

static route_t *route(const char *name)
{
    for (size_t i = 0; i < num_routes; ++i)
        if (strcmp(routes[i].name, name) == 0)
            return &routes[i];
    if (num_routes == sizeof(routes) / sizeof(routes[0]))
        die("too many routes");
    routes[num_routes].name = name;
    return &routes[num_routes++];
}

static void route_sample(route_t *r, uint64_t us)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 1024;
        r->us = xrealloc(r->us, r->cap * sizeof(*r->us));
    }
    r->us[r->n++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

/* ---- global counters ---- */

static struct {
    uint64_t events, lost, dups, replay_mismatch, replay_lost, replay_dups, replay_unfinished, final_seq_mismatch;
    uint64_t msgs_sent, msgs_incomplete, msgs_out_of_order, msgs_bad_text, runs_completed, runs_cancelled, runs_failed;
    uint64_t foreign_events, heartbeats, behind, credentials_ended, stream_opens, stream_client_drops, stream_server_ends;
    uint64_t stream_errors, stream_open_refused, stream_outlived_token, stream_stalls;
    uint64_t refreshes, old_token_checks, old_token_accepted, revocations, revoked_tokens_accepted, pairings, claims_by_session;
    uint64_t uploads, upload_mismatch, cancels, cancel_won;
    uint64_t direct_runs, direct_runs_ok, direct_lost, direct_dups, direct_unfinished, direct_reconnects;
    uint64_t problems;
    uint64_t requests;
} C;

static void problem(const char *fmt, ...)
{
    if (++C.problems > MAX_DETAILS)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "soak: PROBLEM: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
}

/* ---- slots (simulated devices) ---- */

typedef enum { P_H1, P_H2C, P_H2TLS } proto_t;
static const char *const PROTO_NAMES[] = {"http/1.1", "h2c", "h2 (TLS)"};

typedef struct st_xfer_t xfer_t;
typedef struct st_slot_t slot_t;

/* One sent message and what its events showed: seq of each event (0 = not seen) */
typedef struct {
    char user_id[48], asst_id[48], run_id[48];
    int64_t seq_user, seq_asst, seq_started, seq_completed_msg, seq_end;
    char end_type[24];
    uint64_t text_hash; /* FNV-1a of the answer the fake streams for this message's number of deltas */
    bool text_ok, text_seen, expect_cancel, done;
    uint64_t t_post_us, stream_gen; /* the slot's stream generation when posted: deliveries are timed only without a reconnect */
} msg_t;

/* An event of a message or run the client does not know yet (its POST's answer is still on the way) */
typedef struct {
    char type[32], message_id[48], run_id[48], role[16];
    int64_t seq;
    uint64_t text_hash;
} early_t;

struct st_slot_t {
    int idx;
    proto_t proto;
    uint64_t rng;
    bool paired;
    int pairings;
    char dev_id[48], access[64], refresh[64];
    char conv[48];
    /* the conversation stream */
    int64_t last_seq; /* highest id seen on the slot's conversation */
    uint64_t *hashes; /* [seq]: FNV-1a of the event's data as first received */
    size_t hashes_cap;
    xfer_t *stream;
    bool stream_open; /* its retry: arrived */
    uint64_t stream_at, stream_gen;
    int auth_epoch;     /* bumped when a refresh or revocation starts: a stream opened before may see 401 */
    bool auth_changing; /* a refresh or revocation is in flight: no new stream until it ends */
    uint64_t token_dead_at_us;
    const char *token_dead_why; /* "refresh" or "revoke": the open stream must end within STREAM_END_DEADLINE_MS */
    int lent;                   /* another slot is using this slot's token: no refresh or revocation meanwhile */
    /* the action in progress (a chain of requests), and when the next one starts */
    bool busy;
    uint64_t next_at;
    uint64_t timer_at;
    void (*timer_fn)(slot_t *);
    int action;
    /* state of the action in progress */
    char session_id[64], connect[96], blob_id[64], old_access[64], old_refresh[64], revoked_dev[48];
    uint64_t blob_hash;
    size_t blob_size;
    slot_t *helper;
    int mode;
    msg_t *cancel_msg;
    int send_deltas;
    int64_t seq_at_request; /* the last id seen when a GET …/messages was sent */
    uint64_t lost, dups;    /* this slot's own counts (summed in C) */
    /* messages */
    msg_t *msgs;
    size_t num_msgs, cap_msgs;
    int runs_active;
    early_t *early;
    size_t num_early, cap_early;
    int msg_counter, blob_counter;
    /* the direct run (POST /api/v1/runs) */
    xfer_t *run_stream;
    bool run_active;
    char run_id[64];
    int64_t run_last;
    int run_expected;
    bool run_terminal;
    uint64_t run_at;
    /* the end: server's last_event_seq and the replay */
    int64_t server_last;
    xfer_t *replay;
    int64_t replay_last;
    bool replay_done;
};

static slot_t *slots;
static CURLM *multi;
static char base_http[64], base_https[64];
static enum { PH_RUN, PH_DRAIN, PH_FINAL, PH_REPLAY, PH_END } phase;

/* ---- transfers ---- */

typedef enum { X_REQ, X_STREAM, X_RUN, X_REPLAY, X_MISC } xkind_t;

typedef void (*done_fn)(xfer_t *x, long status, CURLcode rc);

struct st_xfer_t {
    CURL *easy;
    slot_t *slot;
    xkind_t kind;
    route_t *route;
    done_fn done;
    struct curl_slist *hdrs;
    char *body;
    buf_t resp;
    uint64_t t0_us;
    int auth_epoch;
    /* SSE */
    buf_t line, data;
    int64_t ev_id;
    char ev_type[48];
    bool opened;
    const char *last_comment;
    long status;
};

static size_t on_body(char *p, size_t size, size_t n, void *arg);
static int verbose_slot = -1;

static const char *base_of(const slot_t *s)
{
    return s != NULL && s->proto == P_H2TLS ? base_https : base_http;
}

static xfer_t *xfer_new(slot_t *s, xkind_t kind, const char *method, const char *path, const char *bearer, const char *body,
                        size_t body_len, const char *content_type, const char *route_name, done_fn done)
{
    xfer_t *x = xcalloc(1, sizeof(*x));
    x->slot = s;
    x->kind = kind;
    x->route = route_name != NULL ? route(route_name) : NULL;
    x->done = done;
    x->auth_epoch = s != NULL ? s->auth_epoch : 0;
    x->easy = curl_easy_init();
    if (x->easy == NULL)
        die("curl_easy_init failed");
    char url[1024];
    snprintf(url, sizeof(url), "%s%s", base_of(s), path);
    CURL *e = x->easy;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, x);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    proto_t proto = s != NULL ? s->proto : P_H1;
    if (proto == P_H1) {
        curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    } else if (proto == P_H2C) {
        /* prior knowledge, one connection per transfer: libcurl 7.88.1 fails every transfer but the first on a reused
         * prior-knowledge h2c connection ("Error in the HTTP2 framing layer", curl issue 10634, fixed in 8.0;
         * tests/integration/harness.h), and by Upgrade it sometimes writes an HTTP/1.1 request on a connection another
         * transfer already upgraded ("Received HTTP/0.9") */
        curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE);
        curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
        curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
    } else {
        curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
        curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L); /* the daemon's self-signed certificate */
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (verbose_slot >= 0 && s != NULL && s->idx == verbose_slot)
        curl_easy_setopt(e, CURLOPT_VERBOSE, 1L); /* libcurl's trace of one device, on stderr (SOAK_VERBOSE_SLOT) */
    if (kind == X_STREAM || kind == X_RUN || kind == X_REPLAY) {
        /* heartbeats come every 15 s: 45 s without a byte is a stalled stream */
        curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, 45L);
    } else {
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)REQUEST_TIMEOUT_MS);
    }
    if (strcmp(method, "GET") != 0)
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    x->hdrs = curl_slist_append(x->hdrs, "Expect:");
    if (bearer != NULL) {
        char h[160];
        snprintf(h, sizeof(h), "Authorization: Bearer %s", bearer);
        x->hdrs = curl_slist_append(x->hdrs, h);
    }
    if (body != NULL) {
        x->body = xrealloc(NULL, body_len + 1);
        memcpy(x->body, body, body_len);
        x->body[body_len] = '\0';
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, x->body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
        char h[160];
        snprintf(h, sizeof(h), "Content-Type: %s", content_type != NULL ? content_type : "application/json");
        x->hdrs = curl_slist_append(x->hdrs, h);
    } else if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
    }
    return x;
}

static void xfer_header(xfer_t *x, const char *h)
{
    x->hdrs = curl_slist_append(x->hdrs, h);
}

static void xfer_start(xfer_t *x)
{
    curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->hdrs);
    x->t0_us = mono_us();
    if (curl_multi_add_handle(multi, x->easy) != CURLM_OK)
        die("curl_multi_add_handle failed");
    ++C.requests;
}

static void xfer_free(xfer_t *x)
{
    curl_multi_remove_handle(multi, x->easy);
    curl_easy_cleanup(x->easy);
    curl_slist_free_all(x->hdrs);
    free(x->body);
    buf_free(&x->resp);
    buf_free(&x->line);
    buf_free(&x->data);
    free(x);
}

/* A request of the slot's action chain (one at a time per slot) */
static void request(slot_t *s, const char *method, const char *path, const char *bearer, json_t *body, const char *route_name,
                    done_fn done)
{
    char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
    xfer_t *x = xfer_new(s, X_REQ, method, path, bearer, text, text != NULL ? strlen(text) : 0, NULL, route_name, done);
    free(text);
    json_decref(body);
    xfer_start(x);
}

static json_t *resp_json(xfer_t *x)
{
    if (x->resp.len == 0)
        return NULL;
    return json_loadb(x->resp.p, x->resp.len, 0, NULL);
}

static const char *jstr(json_t *j, const char *path) /* "a.b.c" */
{
    char key[64];
    const char *p = path;
    while (j != NULL && *p != '\0') {
        const char *dot = strchr(p, '.');
        size_t n = dot != NULL ? (size_t)(dot - p) : strlen(p);
        if (n >= sizeof(key))
            return NULL;
        memcpy(key, p, n);
        key[n] = '\0';
        j = json_object_get(j, key);
        p += n + (dot != NULL);
    }
    return json_string_value(j);
}

static void copy(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src != NULL ? src : "");
}

/* Records the latency and checks the status; true when it is the expected one */
static bool answered(xfer_t *x, long status, CURLcode rc, long want)
{
    route_t *r = x->route;
    if (rc != CURLE_OK) {
        r->transport++;
        problem("%s: slot %d: %s", r->name, x->slot != NULL ? x->slot->idx : -1, curl_easy_strerror(rc));
        return false;
    }
    route_sample(r, mono_us() - x->t0_us);
    if (status == want)
        return true;
    if (status == 503 && x->resp.p != NULL && strstr(x->resp.p, "server_busy") != NULL) {
        r->busy++;
        return false;
    }
    r->unexpected++;
    problem("%s: slot %d: status %ld, expected %ld: %.300s", r->name, x->slot != NULL ? x->slot->idx : -1, status, want,
            x->resp.p != NULL ? x->resp.p : "");
    return false;
}

/* ---- action scheduling ---- */

static void think(slot_t *s)
{
    s->busy = false;
    s->next_at = mono_ms() + (uint64_t)rnd_range(&s->rng, opt.think_min_ms, opt.think_max_ms);
}

static void after(slot_t *s, int ms, void (*fn)(slot_t *))
{
    s->timer_at = mono_ms() + (uint64_t)ms;
    s->timer_fn = fn;
}

static void release_helper(slot_t *s)
{
    if (s->helper != NULL) {
        s->helper->lent--;
        s->helper = NULL;
    }
}

/* another paired slot whose token may be borrowed (no refresh or revocation of its own in flight) */
static slot_t *borrow(slot_t *s)
{
    for (int tries = 0; tries < 20; ++tries) {
        slot_t *o = &slots[rnd_range(&s->rng, 0, opt.devices - 1)];
        if (o != s && o->paired && !o->auth_changing) {
            o->lent++;
            s->helper = o;
            return o;
        }
    }
    return NULL;
}

/* ---- the conversation stream ---- */

static void stream_event(xfer_t *x);
static void stream_comment(xfer_t *x, const char *text);

/* One line of an event stream (without its newline) */
static void sse_line(xfer_t *x, const char *p, size_t n)
{
    if (n > 0 && p[n - 1] == '\r')
        --n;
    if (n == 0) {
        if (x->ev_id >= 0 || x->data.len > 0)
            stream_event(x);
        x->ev_id = -1;
        x->ev_type[0] = '\0';
        x->data.len = 0;
        return;
    }
    if (p[0] == ':') {
        char text[160];
        size_t m = n - 1 < sizeof(text) - 1 ? n - 1 : sizeof(text) - 1;
        memcpy(text, p + 1, m);
        text[m] = '\0';
        stream_comment(x, text);
        return;
    }
    if (n >= 6 && memcmp(p, "retry:", 6) == 0) {
        if (!x->opened) {
            x->opened = true;
            route_sample(x->route, mono_us() - x->t0_us);
            if (x->kind == X_STREAM && x->slot->stream == x)
                x->slot->stream_open = true;
        }
        return;
    }
    if (n >= 3 && memcmp(p, "id:", 3) == 0) {
        x->ev_id = strtoll(p + 3 + (n > 3 && p[3] == ' '), NULL, 10);
        return;
    }
    if (n >= 6 && memcmp(p, "event:", 6) == 0) {
        size_t off = 6 + (n > 6 && p[6] == ' ');
        size_t m = n - off < sizeof(x->ev_type) - 1 ? n - off : sizeof(x->ev_type) - 1;
        memcpy(x->ev_type, p + off, m);
        x->ev_type[m] = '\0';
        return;
    }
    if (n >= 5 && memcmp(p, "data:", 5) == 0) {
        size_t off = 5 + (n > 5 && p[5] == ' ');
        if (x->data.len > 0)
            buf_add(&x->data, "\n", 1);
        buf_add(&x->data, p + off, n - off);
    }
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    xfer_t *x = arg;
    size_t len = size * n;
    if (x->status == 0)
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &x->status);
    if (x->kind == X_REQ || x->kind == X_MISC || x->status != 200) {
        buf_add(&x->resp, p, len);
        return len;
    }
    /* an event stream: split into lines; a line may span calls */
    size_t start = 0;
    for (size_t i = 0; i < len; ++i) {
        if (p[i] != '\n')
            continue;
        if (x->line.len > 0) {
            buf_add(&x->line, p + start, i - start);
            sse_line(x, x->line.p, x->line.len);
            x->line.len = 0;
        } else {
            sse_line(x, p + start, i - start);
        }
        start = i + 1;
    }
    if (start < len)
        buf_add(&x->line, p + start, len - start);
    return len;
}

static void stream_comment(xfer_t *x, const char *text)
{
    if (strstr(text, "credentials") != NULL) {
        x->last_comment = "credentials";
        C.credentials_ended++;
    } else if (strstr(text, "behind") != NULL) {
        x->last_comment = "behind";
        C.behind++;
    } else if (strstr(text, "heartbeat") != NULL) {
        C.heartbeats++;
    } else {
        x->last_comment = "other";
    }
}

static msg_t *find_msg(slot_t *s, const char *message_id, const char *run_id)
{
    for (size_t i = s->num_msgs; i-- > 0;) {
        msg_t *m = &s->msgs[i];
        if (message_id != NULL && (strcmp(m->user_id, message_id) == 0 || strcmp(m->asst_id, message_id) == 0))
            return m;
        if (run_id != NULL && strcmp(m->run_id, run_id) == 0)
            return m;
    }
    return NULL;
}

static void msg_end(slot_t *s, msg_t *m)
{
    if (m->done)
        return;
    m->done = true;
    s->runs_active--;
    if (strcmp(m->end_type, "run.completed") == 0)
        C.runs_completed++;
    else if (strcmp(m->end_type, "run.cancelled") == 0)
        C.runs_cancelled++;
    else
        C.runs_failed++;
    route_sample(route("stream: POST message -> run's end event"), mono_us() - m->t_post_us);
}

/* Applies one event to the message it belongs to */
static void msg_event(slot_t *s, msg_t *m, const char *type, const char *message_id, const char *role, int64_t seq,
                      uint64_t text_hash)
{
    if (strcmp(type, "message.created") == 0) {
        if (strcmp(role, "user") == 0 || (message_id != NULL && strcmp(message_id, m->user_id) == 0)) {
            m->seq_user = seq;
            if (s->stream_gen == m->stream_gen && m->t_post_us != 0)
                route_sample(route("stream: POST message -> its message.created"), mono_us() - m->t_post_us);
        } else {
            m->seq_asst = seq;
        }
    } else if (strcmp(type, "run.started") == 0) {
        m->seq_started = seq;
    } else if (strcmp(type, "message.completed") == 0) {
        m->seq_completed_msg = seq;
        m->text_seen = true;
        m->text_ok = text_hash == m->text_hash;
    } else if (strcmp(type, "run.completed") == 0 || strcmp(type, "run.failed") == 0 || strcmp(type, "run.cancelled") == 0) {
        m->seq_end = seq;
        copy(m->end_type, sizeof(m->end_type), type);
        msg_end(s, m);
    }
}

static void stream_event(xfer_t *x)
{
    slot_t *s = x->slot;
    if (x->kind == X_RUN) { /* a direct run's frame: {"event":"…",…} with HermesLink's id */
        if (x->ev_id <= s->run_last) {
            C.direct_dups++;
            problem("direct run %s of slot %d: frame %" PRId64 " again (last %" PRId64 ")", s->run_id, s->idx, x->ev_id,
                    s->run_last);
            return;
        }
        if (x->ev_id != s->run_last + 1) {
            C.direct_lost += (uint64_t)(x->ev_id - s->run_last - 1);
            problem("direct run %s of slot %d: frames %" PRId64 "..%" PRId64 " missing", s->run_id, s->idx, s->run_last + 1,
                    x->ev_id - 1);
        }
        s->run_last = x->ev_id;
        if (x->data.p != NULL && strstr(x->data.p, "\"run.completed\"") != NULL)
            s->run_terminal = true;
        return;
    }
    if (x->kind == X_REPLAY) {
        int64_t id = x->ev_id;
        if (id != s->replay_last + 1) {
            if (id <= s->replay_last)
                C.replay_dups++;
            else
                C.replay_lost += (uint64_t)(id - s->replay_last - 1);
            problem("replay of slot %d: id %" PRId64 " after %" PRId64, s->idx, id, s->replay_last);
        }
        if (id > s->replay_last)
            s->replay_last = id;
        if (id >= 1 && (size_t)id < s->hashes_cap && s->hashes[id] != fnv1a(x->data.p, x->data.len)) {
            C.replay_mismatch++;
            problem("replay of slot %d: event %" PRId64 " differs from the one seen live: %.200s", s->idx, id, x->data.p);
        }
        return;
    }
    C.events++;
    int64_t id = x->ev_id;
    if (id < 0) {
        problem("slot %d: an event without id: %.200s", s->idx, x->data.p != NULL ? x->data.p : "");
        return;
    }
    if (id <= s->last_seq) {
        C.dups++;
        s->dups++;
        problem("slot %d (%s): event %" PRId64 " again (last seen %" PRId64 ")", s->idx, PROTO_NAMES[s->proto], id, s->last_seq);
        return;
    }
    if (id != s->last_seq + 1) {
        C.lost += (uint64_t)(id - s->last_seq - 1);
        s->lost += (uint64_t)(id - s->last_seq - 1);
        problem("slot %d (%s): events %" PRId64 "..%" PRId64 " never arrived", s->idx, PROTO_NAMES[s->proto], s->last_seq + 1,
                id - 1);
    }
    s->last_seq = id;
    if ((size_t)id >= s->hashes_cap) {
        size_t cap = s->hashes_cap ? s->hashes_cap : 1024;
        while ((size_t)id >= cap)
            cap *= 2;
        s->hashes = xrealloc(s->hashes, cap * sizeof(*s->hashes));
        memset(s->hashes + s->hashes_cap, 0, (cap - s->hashes_cap) * sizeof(*s->hashes));
        s->hashes_cap = cap;
    }
    s->hashes[id] = fnv1a(x->data.p, x->data.len);

    json_t *j = json_loadb(x->data.p != NULL ? x->data.p : "", x->data.len, 0, NULL);
    const char *type = jstr(j, "type");
    if (type == NULL) {
        problem("slot %d: event %" PRId64 " without a type: %.200s", s->idx, id, x->data.p);
        json_decref(j);
        return;
    }
    if (strcmp(type, x->ev_type) != 0)
        problem("slot %d: event %" PRId64 ": event: %s but type %s", s->idx, id, x->ev_type, type);
    const char *message_id = jstr(j, "message_id"), *run_id = jstr(j, "run_id");
    const char *role = jstr(j, "payload.message.role");
    uint64_t text_hash = 0;
    if (strcmp(type, "message.completed") == 0) {
        json_t *part = json_array_get(json_object_get(json_object_get(json_object_get(j, "payload"), "message"), "parts"), 0);
        const char *text = json_string_value(json_object_get(part, "text"));
        if (text != NULL)
            text_hash = fnv1a(text, strlen(text));
    }
    bool ours = strncmp(type, "message.", 8) == 0 || strncmp(type, "run.", 4) == 0;
    if (ours) {
        msg_t *m = find_msg(s, message_id, run_id);
        if (m != NULL) {
            msg_event(s, m, type, message_id, role != NULL ? role : "", id, text_hash);
        } else if (strcmp(type, "message.updated") != 0) {
            /* its POST's answer has not arrived yet: kept until it does */
            if (s->num_early == s->cap_early) {
                s->cap_early = s->cap_early ? s->cap_early * 2 : 8;
                s->early = xrealloc(s->early, s->cap_early * sizeof(*s->early));
            }
            early_t *e = &s->early[s->num_early++];
            memset(e, 0, sizeof(*e));
            copy(e->type, sizeof(e->type), type);
            copy(e->message_id, sizeof(e->message_id), message_id);
            copy(e->run_id, sizeof(e->run_id), run_id);
            copy(e->role, sizeof(e->role), role);
            e->seq = id;
            e->text_hash = text_hash;
        }
    }
    json_decref(j);
}

static void stream_open(slot_t *s)
{
    char path[256];
    int by_query = rnd_range(&s->rng, 0, 3) == 0;
    if (by_query && s->last_seq > 0)
        snprintf(path, sizeof(path), "/api/v1/conversations/%s/events?after=%" PRId64, s->conv, s->last_seq);
    else
        snprintf(path, sizeof(path), "/api/v1/conversations/%s/events", s->conv);
    xfer_t *x = xfer_new(s, X_STREAM, "GET", path, s->access, NULL, 0, NULL, "GET /conversations/:id/events (until retry:)", NULL);
    x->ev_id = -1;
    if (!by_query && s->last_seq > 0) {
        char h[64];
        snprintf(h, sizeof(h), "Last-Event-ID: %" PRId64, s->last_seq);
        xfer_header(x, h);
    }
    s->stream = x;
    s->stream_open = false;
    s->stream_gen++;
    C.stream_opens++;
    xfer_start(x);
}

static void stream_close(slot_t *s)
{
    if (s->stream != NULL) {
        xfer_free(s->stream);
        s->stream = NULL;
        s->stream_open = false;
        s->stream_gen++;
    }
}

/* The server ended the conversation stream (or it failed): reopen it soon with the slot's current token */
static void stream_ended(xfer_t *x, long status, CURLcode rc)
{
    slot_t *s = x->slot;
    s->stream = NULL;
    s->stream_open = false;
    s->stream_gen++;
    uint64_t delay = (uint64_t)rnd_range(&s->rng, 50, 500);
    if (rc == CURLE_OPERATION_TIMEDOUT) {
        C.stream_stalls++;
        problem("slot %d: its event stream stalled (no byte for 45 s)", s->idx);
    } else if (rc != CURLE_OK && rc != CURLE_PARTIAL_FILE && rc != CURLE_RECV_ERROR && rc != CURLE_HTTP2_STREAM &&
               rc != CURLE_HTTP2) {
        C.stream_errors++;
        problem("slot %d: event stream: %s", s->idx, curl_easy_strerror(rc));
    } else if (status == 401 && x->auth_epoch != s->auth_epoch) {
        /* opened with a token that a refresh or revocation replaced meanwhile */
    } else if (status != 200) {
        C.stream_open_refused++;
        problem("slot %d: event stream answered %ld: %.200s", s->idx, status, x->resp.p != NULL ? x->resp.p : "");
        delay = 1000;
    } else {
        C.stream_server_ends++;
        if (s->token_dead_why != NULL && x->last_comment != NULL && strcmp(x->last_comment, "credentials") == 0) {
            route_sample(route(strcmp(s->token_dead_why, "refresh") == 0 ? "stream: refresh -> old stream's end"
                                                                         : "stream: revocation -> stream's end"),
                         mono_us() - s->token_dead_at_us);
            s->token_dead_why = NULL;
        }
    }
    s->stream_at = mono_ms() + delay;
}

/* ---- pairing ---- */

static void pair_claimed(xfer_t *x, long status, CURLcode rc);
static void pair_conversation(xfer_t *x, long status, CURLcode rc);

/* one command on control.sock (blocking, about a millisecond): `req` is its JSON line, the answer line parsed or NULL */
static json_t *control_command(const char *req)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/control.sock", opt.home) >= sizeof(sa.sun_path))
        die("control.sock path too long");
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return NULL;
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    json_t *j = NULL;
    buf_t b = {0};
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
        goto Exit;
    size_t len = strlen(req);
    if (write(fd, req, len) != (ssize_t)len)
        goto Exit;
    char chunk[4096];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        buf_add(&b, chunk, (size_t)n);
        if (memchr(chunk, '\n', (size_t)n) != NULL)
            break;
    }
    if (b.len > 0)
        j = json_loadb(b.p, b.len, JSON_DISABLE_EOF_CHECK, NULL);
Exit:
    buf_free(&b);
    close(fd);
    return j;
}

/* `hermeslink pair` without a process */
static json_t *control_pair(void)
{
    return control_command("{\"cmd\":\"pair\"}\n");
}

static void pair_session(xfer_t *x, long status, CURLcode rc)
{
    slot_t *s = x->slot;
    json_t *j = resp_json(x);
    bool ok = answered(x, status, rc, 200);
    if (ok && json_is_true(json_object_get(json_object_get(j, "session"), "claimed")))
        problem("slot %d: a new pairing session is already claimed", s->idx);
    json_decref(j);
    if (!ok) {
        think(s);
        return;
    }
    char label[64], model[64];
    snprintf(label, sizeof(label), "soak %d.%d", s->idx, s->pairings);
    snprintf(model, sizeof(model), "Soak Phone %d", s->idx % 7);
    static const char *const platforms[] = {"ios", "android", "web"};
    request(s, "POST", "/api/v1/pairing/claim", NULL,
            json_pack("{s:s, s:s, s:s, s:s, s:s}", "session_id", s->session_id, "claim_token", s->connect, "device_label", label,
                      "device_platform", platforms[s->idx % 3], "device_model", model),
            "POST /pairing/claim", pair_claimed);
}

static void pair_start(slot_t *s)
{
    s->busy = true;
    uint64_t t0 = mono_us();
    json_t *p = control_pair();
    route_t *r = route("control.sock pair");
    const char *sid = jstr(p, "session_id"), *ct = jstr(p, "connect_token");
    if (sid == NULL || ct == NULL) {
        r->transport++;
        problem("slot %d: the pair command on control.sock failed", s->idx);
        json_decref(p);
        think(s);
        return;
    }
    route_sample(r, mono_us() - t0);
    copy(s->session_id, sizeof(s->session_id), sid);
    copy(s->connect, sizeof(s->connect), ct);
    json_decref(p);
    s->pairings++;
    if (rnd_range(&s->rng, 0, 3) == 0) {
        /* the app-connect way: the connect token as a bearer on POST /auth/device-session */
        char label[64];
        snprintf(label, sizeof(label), "soak %d.%d", s->idx, s->pairings);
        request(s, "POST", "/api/v1/auth/device-session", s->connect,
                json_pack("{s:s, s:s}", "device_label", label, "device_platform", "cli"), "POST /auth/device-session",
                pair_claimed);
        return;
    }
    C.claims_by_session++;
    char path[160];
    snprintf(path, sizeof(path), "/api/v1/pairing/session?session_id=%s", s->session_id);
    request(s, "GET", path, NULL, NULL, "GET /pairing/session", pair_session);
}

static void pair_me(xfer_t *x, long status, CURLcode rc)
{
    slot_t *s = x->slot;
    json_t *j = resp_json(x);
    if (answered(x, status, rc, 200)) {
        const char *id = jstr(j, "device.id");
        if (id == NULL || strcmp(id, s->dev_id) != 0)
            problem("slot %d: /auth/me names device %s, expected %s", s->idx, id ? id : "(none)", s->dev_id);
    }
    json_decref(j);
    if (s->conv[0] != '\0') {
        think(s);
        return;
    }
    char title[64];
    snprintf(title, sizeof(title), "soak slot %d", s->idx);
    request(s, "POST", "/api/v1/conversations", s->access, json_pack("{s:s}", "title", title), "POST /conversations",
            pair_conversation);
}

static void pair_claimed(xfer_t *x, long status, CURLcode rc)
{
    slot_t *s = x->slot;
    json_t *j = resp_json(x);
    if (!answered(x, status, rc, 200)) {
        json_decref(j);
        think(s);
        return;
    }
    const char *id = jstr(j, "device.id"), *acc = jstr(j, "access_token.token"), *ref = jstr(j, "refresh_token.token");
    if (id == NULL || acc == NULL || ref == NULL) {
        problem("slot %d: a claim answered without a device or tokens: %.200s", s->idx, x->resp.p);
        json_decref(j);
        think(s);
        return;
    }
    copy(s->dev_id, sizeof(s->dev_id), id);
    copy(s->access, sizeof(s->access), acc);
    copy(s->refresh, sizeof(s->refresh), ref);
    json_decref(j);
    s->paired = true;
    s->auth_changing = false;
    s->auth_epoch++;
    C.pairings++;
    s->stream_at = mono_ms();
    request(s, "GET", "/api/v1/auth/me", s->access, NULL, "GET /auth/me", pair_me);
}

static void pair_conversation(xfer_t *x, long status, CURLcode rc)
{
    slot_t *s = x->slot;
    json_t *j = resp_json(x);
    if (answered(x, status, rc, 201)) {
        const char *id = jstr(j, "conversation.id");
        copy(s->conv, sizeof(s->conv), id);
        s->stream_at = mono_ms();
    }
    json_decref(j);
    think(s);
}

/* ---- send ---- */

/* The fake's answer for n deltas: its text repeated (joined by a space) until it has at least n characters */
static uint64_t answer_hash(int n)
{
    char text[1024];
    size_t len = sizeof(FAKE_TEXT) - 1;
    memcpy(text, FAKE_TEXT, len);
    while (len < (size_t)n && len + sizeof(FAKE_TEXT) < sizeof(text)) {
        text[len] = ' ';
        memcpy(text + len + 1, FAKE_TEXT, sizeof(FAKE_TEXT) - 1);
        len += sizeof(FAKE_TEXT);
    }
    return fnv1a(text, len);
}

static void send_cancelled(xfer_t *x, long status, CURLcode rc)
{
    slot_t *s = x->slot;
    json_t *j = resp_json(x);
    if (answered(x, status, rc, 200)) {
        const char *st = jstr(j, "run.status");
        if (st != NULL && strcmp(st, "cancelled") == 0 && s->cancel_msg != NULL) {
            s->cancel_msg->expect_cancel = true;
            C.cancel_won++;
        }
    }
    json_decref(j);
    s->cancel_msg = NULL;
    think(s);
}

static void send_cancel(slot_t *s)
{
    msg_t *m = s->cancel_msg;
    char path[256];
    snprintf(path, sizeof(path), "/api/v1/conversations/%s/runs/%s/cancel", s->conv, m->run_id);
    C.cancels++;
    request(s, "POST", path, s->access, NULL, "POST /conversations/:id/runs/:runId/cancel", send_cancelled);
}

static void send_posted(xfer_t *x, long status, CURLcode rc)
{
    slot_t *s = x->slot;
    json_t *j = resp_json(x);
    if (!answered(x, status, rc, 202)) {
        json_decref(j);
        think(s);
        return;
    }
    if (s->num_msgs == s->cap_msgs) {
        s->cap_msgs = s->cap_msgs ? s->cap_msgs * 2 : 64;
        s->msgs = xrealloc(s->msgs, s->cap_msgs * sizeof(*s->msgs));
    }
    msg_t *m = &s->msgs[s->num_msgs++];
    memset(m, 0, sizeof(*m));
    copy(m->user_id, sizeof(m->user_id), jstr(j, "user_message.id"));
    copy(m->asst_id, sizeof(m->asst_id), jstr(j, "assistant_message.id"));
    copy(m->run_id, sizeof(m->run_id), jstr(j, "run.id"));
    m->t_post_us = x->t0_us;
    m->text_hash = answer_hash(s->send_deltas);
    m->stream_gen = s->stream_gen;
    if (!s->stream_open)
        m->stream_gen = UINT64_MAX; /* no delivery timing: the stream was not open when it was sent */
    json_decref(j);
    s->runs_active++;
    C.msgs_sent++;
    /* events that came before this answer */
    for (size_t i = 0; i < s->num_early;) {
        early_t *e = &s->early[i];
        if ((e->message_id[0] != '\0' && (strcmp(e->message_id, m->user_id) == 0 || strcmp(e->message_id, m->asst_id) == 0)) ||
            (e->run_id[0] != '\0' && strcmp(e->run_id, m->run_id) == 0)) {
            msg_event(s, m, e->type, e->message_id, e->role, e->seq, e->text_hash);
            s->early[i] = s->early[--s->num_early];
        } else {
            ++i;
        }
    }
    if (s->mode == 2 && !m->done) { /* a long run cancelled half-way */
        s->cancel_msg = m;
        after(s, rnd_range(&s->rng, 300, 1500), send_cancel);
        return;
    }
    think(s);
}

static void act_send(slot_t *s)
{
    int deltas, gap;
    s->mode = 0;
    double r = rnd_unit(&s->rng);
    if (r < 0.06) { /* long: ~3–5 s, half of them cancelled */
        deltas = rnd_range(&s->rng, 100, 160);
        gap = 30;
        s->mode = r < 0.03 ? 2 : 1;
    } else {
        deltas = rnd_range(&s->rng, 3, 30);
        gap = rnd_range(&s->rng, 10, 80);
    }
    s->send_deltas = deltas;
    char content[256], cmid[64], path[160];
    snprintf(content, sizeof(content), "[[fake:stream;deltas=%d;gap_ms=%d]] soak slot %d message %d", deltas, gap, s->idx,
             ++s->msg_counter);
    snprintf(cmid, sizeof(cmid), "soak-%d-%d", s->idx, s->msg_counter);
    snprintf(path, sizeof(path), "/api/v1/conversations/%s/messages", s->conv);
    request(s, "POST", path, s->access, json_pack("{s:s, s:s}", "content", content, "client_message_id", cmid),
            "POST /conversations/:id/messages", send_posted);
}

/* ---- read ---- */

static void read_done(xfer_t *x, long status, CURLcode rc)
{
    slot_t *s = x->slot;
    json_t *j = resp_json(x);
    if (answered(x, status, rc, 200) && s->action == 1) {
        /* an event delivered before the request was sent is in what it reads */
        json_t *v = json_object_get(j, "last_event_seq");
        if (!json_is_integer(v) || json_integer_value(v) < s->seq_at_request)
            problem("slot %d: last_event_seq %lld below the %" PRId64 " events seen before the request", s->idx,
                    (long long)json_integer_value(v), s->seq_at_request);
    }
    json_decref(j);
    think(s);
}

static void act_read(slot_t *s)
{
    char path[160];
    int which = rnd_range(&s->rng, 1, 6);
    s->action = which;
    switch (which) {
    case 1:
        s->seq_at_request = s->last_seq;
        snprintf(path, sizeof(path), "/api/v1/conversations/%s/messages?limit=20", s->conv);
        request(s, "GET", path, s->access, NULL, "GET /conversations/:id/messages", read_done);
        break;
    case 2:
        request(s, "GET", "/api/v1/conversations?limit=20", s->access, NULL, "GET /conversations", read_done);
        break;
    case 3:
        request(s, "GET", "/api/v1/bootstrap", NULL, NULL, "GET /bootstrap", read_done);
        break;
    case 4:
        request(s, "GET", "/api/v1/auth/me", s->access, NULL, "GET /auth/me", read_done);
        break;
    case 5:
        request(s, "GET", "/api/v1/devices", s->access, NULL, "GET /devices", read_done);
        break;
    default:
        request(s, "GET", "/api/v1/status", s->access, NULL, "GET /status", read_done);
        break;
    }
}

/* ---- refresh ---- */

static void refresh_old_checked(xfer_t *x, long status, CURLcode rc)
{
    slot_t *s = x->slot;
    if (rc == CURLE_OK && status == 200) {
        C.old_token_accepted++;
        problem("slot %d: the access token rotated away by a refresh was still accepted", s->idx);
    }
    answered(x, status, rc, 401);
    think(s);
}

static void refresh_done(xfer_t *x, long status, CURLcode rc)
{
    slot_t *s = x->slot;
    json_t *j = resp_json(x);
    bool ok = answered(x, status, rc, 200);
    const char *acc = jstr(j, "access_token.token"), *ref = jstr(j, "refresh_token.token");
    s->auth_changing = false;
    if (!ok || acc == NULL || ref == NULL) {
        json_decref(j);
        think(s);
        return;
    }
    copy(s->access, sizeof(s->access), acc);
    copy(s->refresh, sizeof(s->refresh), ref);
    json_decref(j);
    C.refreshes++;
    if (s->stream != NULL && s->token_dead_why == NULL) {
        s->token_dead_why = "refresh";
        s->token_dead_at_us = mono_us();
    }
    if (rnd_range(&s->rng, 0, 2) == 0) {
        C.old_token_checks++;
        request(s, "GET", "/api/v1/auth/me", s->old_access, NULL, "GET /auth/me (rotated token: 401)", refresh_old_checked);
        return;
    }
    think(s);
}

static void act_refresh(slot_t *s)
{
    copy(s->old_access, sizeof(s->old_access), s->access);
    s->auth_changing = true;
    s->auth_epoch++;
    request(s, "POST", "/api/v1/auth/refresh", NULL, json_pack("{s:s}", "refresh_token", s->refresh), "POST /auth/refresh",
            refresh_done);
}

/* ---- upload ---- */

static void upload_deleted(xfer_t *x, long status, CURLcode rc)
{
    answered(x, status, rc, 200);
    think(x->slot);
}

static void upload_fetched(xfer_t *x, long status, CURLcode rc)
{
    slot_t *s = x->slot;
    if (answered(x, status, rc, 200) && (x->resp.len != s->blob_size || fnv1a(x->resp.p, x->resp.len) != s->blob_hash)) {
        C.upload_mismatch++;
        problem("slot %d: blob %s read back %zu bytes, not the %zu uploaded", s->idx, s->blob_id, x->resp.len, s->blob_size);
    }
    char path[200];
    snprintf(path, sizeof(path), "/api/v1/conversations/%s/blobs/%s", s->conv, s->blob_id);
    request(s, "DELETE", path, s->access, NULL, "DELETE /conversations/:id/blobs/:blobId", upload_deleted);
}

static void upload_posted(xfer_t *x, long status, CURLcode rc)
{
    slot_t *s = x->slot;
    json_t *j = resp_json(x);
    if (!answered(x, status, rc, 201)) {
        json_decref(j);
        think(s);
        return;
    }
    copy(s->blob_id, sizeof(s->blob_id), jstr(j, "blob.id"));
    json_int_t size = json_integer_value(json_object_get(json_object_get(j, "blob"), "size"));
    json_decref(j);
    if ((size_t)size != s->blob_size)
        problem("slot %d: blob %s has size %lld, %zu uploaded", s->idx, s->blob_id, (long long)size, s->blob_size);
    C.uploads++;
    char path[200];
    snprintf(path, sizeof(path), "/api/v1/conversations/%s/blobs/%s", s->conv, s->blob_id);
    request(s, "GET", path, s->access, NULL, "GET /conversations/:id/blobs/:blobId", upload_fetched);
}

static void act_upload(slot_t *s)
{
    size_t size = (size_t)(rnd_unit(&s->rng) < 0.8 ? rnd_range(&s->rng, 1024, 65536) : rnd_range(&s->rng, 65536, 524288));
    unsigned char *data = xrealloc(NULL, size);
    for (size_t i = 0; i < size; i += 8) {
        uint64_t v = rnd_next(&s->rng);
        memcpy(data + i, &v, size - i < 8 ? size - i : 8);
    }
    s->blob_size = size;
    s->blob_hash = fnv1a(data, size);
    char path[160], disp[128];
    snprintf(path, sizeof(path), "/api/v1/conversations/%s/blobs", s->conv);
    snprintf(disp, sizeof(disp), "Content-Disposition: attachment; filename=\"soak-%d-%d.bin\"", s->idx, ++s->blob_counter);
    xfer_t *x = xfer_new(s, X_REQ, "POST", path, s->access, (const char *)data, size, "application/octet-stream",
                         "POST /conversations/:id/blobs", upload_posted);
    xfer_header(x, disp);
    free(data);
    xfer_start(x);
}

/* ---- drop the stream ---- */

static void act_drop(slot_t *s)
{
    stream_close(s);
    C.stream_client_drops++;
    s->stream_at = mono_ms() + (uint64_t)rnd_range(&s->rng, 0, 3000);
    think(s);
}

/* ---- direct run ---- */

static void run_stream_open(slot_t *s);

static void run_stream_ended(xfer_t *x, long status, CURLcode rc)
{
    slot_t *s = x->slot;
    s->run_stream = NULL;
    if (status == 200 && s->run_terminal) {
        if (s->run_last != s->run_expected) {
            problem("direct run %s of slot %d: ended after frame %" PRId64 ", expected %d", s->run_id, s->idx, s->run_last,
                    s->run_expected);
            C.direct_unfinished++;
        } else {
            C.direct_runs_ok++;
        }
        s->run_active = false;
        return;
    }
    if (!(status == 401 && x->auth_epoch != s->auth_epoch) && (status != 200 || rc != CURLE_OK)) {
        if (rc == CURLE_OK)
            problem("direct run %s of slot %d: events answered %ld: %.200s", s->run_id, s->idx, status,
                    x->resp.p != NULL ? x->resp.p : "");
        else
            problem("direct run %s of slot %d: %s", s->run_id, s->idx, curl_easy_strerror(rc));
    }
    if (mono_ms() - s->run_at > 120000) {
        C.direct_unfinished++;
        problem("direct run %s of slot %d: no end after 120 s", s->run_id, s->idx);
        s->run_active = false;
        return;
    }
    C.direct_reconnects++; /* reopened by the main loop with Last-Event-ID once the slot has a valid token */
}

static void run_stream_open(slot_t *s)
{
    char path[160];
    snprintf(path, sizeof(path), "/api/v1/runs/%s/events", s->run_id);
    xfer_t *x = xfer_new(s, X_RUN, "GET", path, s->access, NULL, 0, NULL, "GET /runs/:runId/events (until retry:)", NULL);
    x->ev_id = -1;
    if (s->run_last > 0) {
        char h[64];
        snprintf(h, sizeof(h), "Last-Event-ID: %" PRId64, s->run_last);
        xfer_header(x, h);
    }
    s->run_stream = x;
    xfer_start(x);
}

static void run_posted(xfer_t *x, long status, CURLcode rc)
{
    slot_t *s = x->slot;
    json_t *j = resp_json(x);
    if (answered(x, status, rc, 202) && jstr(j, "run_id") != NULL) {
        copy(s->run_id, sizeof(s->run_id), jstr(j, "run_id"));
        s->run_active = true;
        s->run_last = 0;
        s->run_terminal = false;
        s->run_at = mono_ms();
        C.direct_runs++;
        run_stream_open(s);
    }
    json_decref(j);
    think(s);
}

static void act_run(slot_t *s)
{
    int deltas = rnd_range(&s->rng, 5, 40);
    s->run_expected = deltas + 2; /* the deltas, reasoning.available, run.completed */
    char input[128];
    snprintf(input, sizeof(input), "[[fake:stream;deltas=%d;gap_ms=20]] soak direct run of slot %d", deltas, s->idx);
    request(s, "POST", "/api/v1/runs", s->access, json_pack("{s:s}", "input", input), "POST /runs", run_posted);
}

/* ---- revoke ---- */

static void revoke_hidden(xfer_t *x, long status, CURLcode rc)
{
    answered(x, status, rc, 200);
    release_helper(x->slot);
    slot_t *s = x->slot;
    after(s, rnd_range(&s->rng, 200, 3000), pair_start);
}

static void revoke_refresh_checked(xfer_t *x, long status, CURLcode rc)
{
    slot_t *s = x->slot;
    if (rc == CURLE_OK && status == 200) {
        C.revoked_tokens_accepted++;
        problem("slot %d: the refresh token of revoked device %s still works", s->idx, s->revoked_dev);
    }
    answered(x, status, rc, 401);
    if (s->helper != NULL) {
        char path[160];
        snprintf(path, sizeof(path), "/api/v1/devices/%s/app-listing", s->revoked_dev);
        request(s, "DELETE", path, s->helper->access, NULL, "DELETE /devices/:id/app-listing", revoke_hidden);
        return;
    }
    after(s, rnd_range(&s->rng, 200, 3000), pair_start);
}

static void revoke_access_checked(xfer_t *x, long status, CURLcode rc)
{
    slot_t *s = x->slot;
    if (rc == CURLE_OK && status == 200) {
        C.revoked_tokens_accepted++;
        problem("slot %d: the access token of revoked device %s still works", s->idx, s->revoked_dev);
    }
    answered(x, status, rc, 401);
    request(s, "POST", "/api/v1/auth/refresh", NULL, json_pack("{s:s}", "refresh_token", s->old_refresh),
            "POST /auth/refresh (revoked: 401)", revoke_refresh_checked);
}

static void revoked(xfer_t *x, long status, CURLcode rc)
{
    slot_t *s = x->slot;
    bool ok = answered(x, status, rc, 200);
    if (!ok) { /* still paired as far as we know: go on */
        release_helper(s);
        s->auth_changing = false;
        think(s);
        return;
    }
    C.revocations++;
    s->paired = false;
    s->auth_changing = false;
    if (s->stream != NULL) {
        s->token_dead_why = "revoke";
        s->token_dead_at_us = mono_us();
    }
    request(s, "GET", "/api/v1/auth/me", s->old_access, NULL, "GET /auth/me (revoked: 401)", revoke_access_checked);
}

static void act_revoke(slot_t *s)
{
    copy(s->old_access, sizeof(s->old_access), s->access);
    copy(s->old_refresh, sizeof(s->old_refresh), s->refresh);
    copy(s->revoked_dev, sizeof(s->revoked_dev), s->dev_id);
    s->auth_changing = true;
    s->auth_epoch++;
    slot_t *h = borrow(s);
    int mode = rnd_range(&s->rng, 0, 2);
    char path[160];
    snprintf(path, sizeof(path), "/api/v1/devices/%s", s->dev_id);
    if (mode == 0 && h != NULL)
        request(s, "DELETE", path, h->access, NULL, "DELETE /devices/:id", revoked);
    else if (mode == 1)
        request(s, "DELETE", path, s->access, NULL, "DELETE /devices/:id (itself)", revoked);
    else
        request(s, "POST", "/api/v1/auth/logout", NULL, json_pack("{s:s}", "refresh_token", s->refresh), "POST /auth/logout",
                revoked);
}

/* ---- the action picker ---- */

static void start_action(slot_t *s)
{
    s->busy = true;
    if (!s->paired) {
        pair_start(s);
        return;
    }
    if (s->conv[0] == '\0') { /* its creation failed: try again */
        char title[64];
        snprintf(title, sizeof(title), "soak slot %d", s->idx);
        request(s, "POST", "/api/v1/conversations", s->access, json_pack("{s:s}", "title", title), "POST /conversations",
                pair_conversation);
        return;
    }
    for (;;) {
        double r = rnd_unit(&s->rng) * 100.0;
        if ((r -= opt.revoke_pct) < 0) {
            if (s->lent > 0)
                continue;
            act_revoke(s);
        } else if ((r -= 32) < 0) {
            if (s->runs_active >= MAX_RUNS_PER_SLOT)
                continue;
            act_send(s);
        } else if ((r -= 30) < 0) {
            act_read(s);
        } else if ((r -= 8) < 0) {
            if (s->lent > 0)
                continue;
            act_refresh(s);
        } else if ((r -= 10) < 0) {
            act_upload(s);
        } else if ((r -= 10) < 0) {
            if (s->stream == NULL)
                continue;
            act_drop(s);
        } else {
            if (s->run_active)
                continue;
            act_run(s);
        }
        return;
    }
}

/* ---- sampling ---- */

static FILE *csv;
static uint64_t t_start_ms;

static long file_kib(const char *name)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", opt.home, name);
    struct stat st;
    return stat(path, &st) == 0 ? (long)(st.st_size / 1024) : 0;
}

static long max_rss, max_fds, samples;

/* obj[key], an integer; -1 if absent */
static long json_long(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_integer(v) ? (long)json_integer_value(v) : -1;
}

/* obj[key], a count of bytes, in KiB; -1 if absent */
static long json_kib(json_t *obj, const char *key)
{
    long bytes = json_long(obj, key);
    return bytes >= 0 ? bytes / 1024 : -1;
}

static void sample(void)
{
    int pid = opt.daemon_pid;
    long rss = proc_status_kib(pid, "VmRSS"), hwm = proc_status_kib(pid, "VmHWM"), threads = proc_status_kib(pid, "Threads");
    long fds = count_fds(pid);
    int streams = 0, paired = 0, runs = 0;
    for (int i = 0; i < opt.devices; ++i) {
        streams += slots[i].stream_open;
        paired += slots[i].paired;
        runs += slots[i].runs_active + slots[i].run_active;
    }
    long fake_rss = opt.fake_pid > 0 ? proc_status_kib(opt.fake_pid, "VmRSS") : -1;
    long anon = proc_status_kib(pid, "RssAnon"), file = proc_status_kib(pid, "RssFile");
    double load1 = 0;
    FILE *la = fopen("/proc/loadavg", "r");
    if (la != NULL) {
        if (fscanf(la, "%lf", &load1) != 1)
            load1 = 0;
        fclose(la);
    }
    /* the daemon's own account (control.sock "memory"): what malloc holds and uses, what SQLite uses */
    json_t *mem = control_command("{\"cmd\":\"memory\"}\n");
    json_t *mal = json_object_get(mem, "malloc");
    long heap = json_kib(mal, "heap_bytes"), in_use = json_kib(mal, "in_use_bytes"), mmapped = json_kib(mal, "mmap_bytes");
    long sqlite_kib = json_kib(json_object_get(mem, "sqlite"), "used_bytes");
    json_t *caches = json_object_get(mem, "caches");
    long rings_kib = json_kib(caches, "sse_ring_bytes"), replies_kib = json_kib(caches, "reply_cache_bytes");
    long relays_kib = json_kib(caches, "relay_bytes"), relays = json_long(caches, "relays");
    long release_max_us = json_long(mem, "release_us_max"), releases = json_long(mem, "releases");
    json_decref(mem);
    fprintf(csv,
            "%.0f,%ld,%ld,%ld,%ld,%ld,%ld,%.2f,%d,%d,%d,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
            ",%ld,%ld,%ld,%.2f,%.2f,%ld,%ld,%ld,%ld,%ld,%ld,%ld,%ld,%ld,%ld\n",
            (double)(mono_ms() - t_start_ms) / 1000.0, rss, hwm, fds, threads, file_kib("link.db"), file_kib("link.db-wal"),
            proc_cpu_s(pid), paired, streams, runs, C.requests, C.events, C.msgs_sent, C.revocations, C.lost, C.dups, fake_rss,
            anon, file, opt.fake_pid > 0 ? proc_cpu_s(opt.fake_pid) : -1.0, load1, heap, in_use, mmapped, sqlite_kib, releases,
            release_max_us, rings_kib, replies_kib, relays_kib, relays);
    fflush(csv);
    if (rss > max_rss)
        max_rss = rss;
    if (fds > max_fds)
        max_fds = fds;
    ++samples;
}

/* ---- the end: quiet, compare with the server, replay ---- */

static void final_seq(xfer_t *x, long status, CURLcode rc)
{
    slot_t *s = x->slot;
    json_t *j = resp_json(x);
    if (answered(x, status, rc, 200))
        s->server_last = json_integer_value(json_object_get(j, "last_event_seq"));
    else
        s->server_last = -1;
    json_decref(j);
    s->busy = false;
}

static void replay_ended(xfer_t *x, long status, CURLcode rc)
{
    slot_t *s = x->slot;
    s->replay = NULL;
    s->replay_done = true;
    if (status != 200 || s->replay_last < s->server_last) {
        C.replay_unfinished++;
        problem("replay of slot %d: ended at %" PRId64 " of %" PRId64 " (%ld, %s)", s->idx, s->replay_last, s->server_last, status,
                curl_easy_strerror(rc));
    }
}

static void replay_open(slot_t *s)
{
    char path[160];
    snprintf(path, sizeof(path), "/api/v1/conversations/%s/events", s->conv);
    xfer_t *x =
        xfer_new(s, X_REPLAY, "GET", path, s->access, NULL, 0, NULL, "GET /conversations/:id/events (replay, until retry:)", NULL);
    x->ev_id = -1;
    s->replay = x;
    s->replay_last = 0;
    xfer_start(x);
}

/* ---- report ---- */

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static double pct_ms(route_t *r, double p)
{
    if (r->n == 0)
        return 0;
    size_t i = (size_t)(p * (double)(r->n - 1) + 0.5);
    return r->us[i] / 1000.0;
}

static double phase_s[PH_END + 1]; /* how long each phase took */

static void report(double elapsed_s)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double client_cpu =
        (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec + ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
    printf("devices=%d\nseconds=%d\nelapsed_s=%.1f\nclient_cpu_s=%.1f\ndaemon_cpu_s=%.1f\n", opt.devices, opt.seconds, elapsed_s,
           client_cpu, proc_cpu_s(opt.daemon_pid));
    printf("drain_s=%.1f\nfinal_s=%.1f\nreplay_s=%.1f\n", phase_s[PH_DRAIN], phase_s[PH_FINAL], phase_s[PH_REPLAY]);

    fprintf(stderr, "\n%-56s %8s %9s %9s %9s %6s %5s %5s\n", "route", "n", "p50 ms", "p99 ms", "max ms", "unexp", "503", "err");
    for (size_t i = 0; i < num_routes; ++i) {
        route_t *r = &routes[i];
        qsort(r->us, r->n, sizeof(*r->us), cmp_u32);
        double p50 = pct_ms(r, 0.5), p99 = pct_ms(r, 0.99), mx = r->n ? r->us[r->n - 1] / 1000.0 : 0;
        fprintf(stderr, "%-56s %8zu %9.2f %9.2f %9.2f %6" PRIu64 " %5" PRIu64 " %5" PRIu64 "\n", r->name, r->n, p50, p99, mx,
                r->unexpected, r->busy, r->transport);
        printf("route=%s|%zu|%.2f|%.2f|%.2f|%" PRIu64 "|%" PRIu64 "|%" PRIu64 "\n", r->name, r->n, p50, p99, mx, r->unexpected,
               r->busy, r->transport);
    }
#define KV(name) printf(#name "=%" PRIu64 "\n", C.name)
    KV(requests);
    KV(events);
    KV(lost);
    KV(dups);
    KV(final_seq_mismatch);
    KV(replay_lost);
    KV(replay_dups);
    KV(replay_mismatch);
    KV(replay_unfinished);
    KV(msgs_sent);
    KV(msgs_incomplete);
    KV(msgs_out_of_order);
    KV(msgs_bad_text);
    KV(runs_completed);
    KV(runs_cancelled);
    KV(runs_failed);
    KV(cancels);
    KV(cancel_won);
    KV(foreign_events);
    KV(heartbeats);
    KV(behind);
    KV(credentials_ended);
    KV(stream_opens);
    KV(stream_client_drops);
    KV(stream_server_ends);
    KV(stream_errors);
    KV(stream_open_refused);
    KV(stream_outlived_token);
    KV(stream_stalls);
    KV(pairings);
    KV(claims_by_session);
    KV(refreshes);
    KV(old_token_checks);
    KV(old_token_accepted);
    KV(revocations);
    KV(revoked_tokens_accepted);
    KV(uploads);
    KV(upload_mismatch);
    KV(direct_runs);
    KV(direct_runs_ok);
    KV(direct_lost);
    KV(direct_dups);
    KV(direct_unfinished);
    KV(direct_reconnects);
    KV(problems);
#undef KV
    printf("samples=%ld\nmax_rss_kib=%ld\nmax_fds=%ld\n", samples, max_rss, max_fds);
    int64_t most = 0, least = INT64_MAX;
    int most_pairings = 0;
    for (int i = 0; i < opt.devices; ++i) {
        if (slots[i].last_seq > most)
            most = slots[i].last_seq;
        if (slots[i].last_seq < least)
            least = slots[i].last_seq;
        if (slots[i].pairings > most_pairings)
            most_pairings = slots[i].pairings;
    }
    int bad_slots = 0;
    for (int i = 0; i < opt.devices; ++i) {
        slot_t *s = &slots[i];
        bad_slots += s->lost > 0 || s->dups > 0;
        /* per simulated device: protocol, devices paired into the slot, last id seen (= its conversation's events),
         * lost, duplicated, messages sent */
        printf("slot=%d|%s|%d|%" PRId64 "|%" PRIu64 "|%" PRIu64 "|%zu\n", i, PROTO_NAMES[s->proto], s->pairings, s->last_seq,
               s->lost, s->dups, s->num_msgs);
    }
    printf("slots_with_loss_or_dup=%d\n", bad_slots);
    printf("events_per_slot_min=%" PRId64 "\nevents_per_slot_max=%" PRId64 "\npairings_per_slot_max=%d\n", least, most,
           most_pairings);
    fprintf(stderr,
            "\n%d devices, %.0f s: %" PRIu64 " requests, %" PRIu64 " events (per slot %" PRId64 "..%" PRId64 "), %" PRIu64
            " messages (%" PRIu64 " completed, %" PRIu64 " cancelled, %" PRIu64 " failed), %" PRIu64 " direct runs, %" PRIu64
            " pairings, %" PRIu64 " refreshes, %" PRIu64 " revocations, %" PRIu64 " uploads, %" PRIu64
            " stream reconnects (%" PRIu64 " dropped by the client, %" PRIu64 " ended by the server)\n",
            opt.devices, elapsed_s, C.requests, C.events, least, most, C.msgs_sent, C.runs_completed, C.runs_cancelled,
            C.runs_failed, C.direct_runs, C.pairings, C.refreshes, C.revocations, C.uploads, C.stream_opens - C.pairings,
            C.stream_client_drops, C.stream_server_ends);
    fprintf(stderr,
            "integrity: lost %" PRIu64 ", duplicated %" PRIu64 ", final seq mismatches %" PRIu64 ", replay lost/dup/differing/"
            "unfinished %" PRIu64 "/%" PRIu64 "/%" PRIu64 "/%" PRIu64 ", messages incomplete %" PRIu64 ", out of order %" PRIu64
            ", wrong text %" PRIu64 ", direct runs lost/dup/unfinished %" PRIu64 "/%" PRIu64 "/%" PRIu64 ", problems %" PRIu64 "\n",
            C.lost, C.dups, C.final_seq_mismatch, C.replay_lost, C.replay_dups, C.replay_mismatch, C.replay_unfinished,
            C.msgs_incomplete, C.msgs_out_of_order, C.msgs_bad_text, C.direct_lost, C.direct_dups, C.direct_unfinished, C.problems);
    fprintf(stderr,
            "after the %d s of traffic: drain %.1f s, final check %.1f s, replay %.1f s; CPU used: daemon %.0f s, client %.0f s\n",
            opt.seconds, phase_s[PH_DRAIN], phase_s[PH_FINAL], phase_s[PH_REPLAY], proc_cpu_s(opt.daemon_pid), client_cpu);
}

/* Checks every sent message's events once the run is over */
static void check_messages(void)
{
    for (int i = 0; i < opt.devices; ++i) {
        slot_t *s = &slots[i];
        for (size_t k = 0; k < s->num_msgs; ++k) {
            msg_t *m = &s->msgs[k];
            bool cancelled = strcmp(m->end_type, "run.cancelled") == 0;
            if (!m->seq_user || !m->seq_asst || !m->seq_started || !m->seq_end || (!cancelled && !m->seq_completed_msg)) {
                C.msgs_incomplete++;
                problem("slot %d: message %s (run %s): user %" PRId64 " assistant %" PRId64 " started %" PRId64
                        " completed %" PRId64 " end %" PRId64 " (%s)",
                        i, m->user_id, m->run_id, m->seq_user, m->seq_asst, m->seq_started, m->seq_completed_msg, m->seq_end,
                        m->end_type);
                continue;
            }
            if (strcmp(m->end_type, "run.completed") != 0 && !(cancelled && m->expect_cancel)) {
                C.msgs_incomplete++;
                problem("slot %d: run %s ended with %s", i, m->run_id, m->end_type);
            }
            if (!(m->seq_user < m->seq_asst && m->seq_asst < m->seq_started && m->seq_started < m->seq_end &&
                  (cancelled || m->seq_completed_msg < m->seq_end))) {
                C.msgs_out_of_order++;
                problem("slot %d: message %s: events out of order", i, m->user_id);
            }
            if (!cancelled && !m->text_ok) {
                C.msgs_bad_text++;
                problem("slot %d: message %s: message.completed without the full text", i, m->asst_id);
            }
        }
        for (size_t k = 0; k < s->num_early; ++k) {
            C.foreign_events++;
            problem("slot %d: event %" PRId64 " (%s) of no message sent: %s %s", i, s->early[k].seq, s->early[k].type,
                    s->early[k].message_id, s->early[k].run_id);
        }
    }
}

static bool quiet(void)
{
    for (int i = 0; i < opt.devices; ++i) {
        slot_t *s = &slots[i];
        if (s->busy || !s->paired || !s->stream_open || s->runs_active > 0 || s->run_active)
            return false;
    }
    return true;
}

static volatile sig_atomic_t interrupted;
static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

static void usage(void)
{
    fprintf(stderr, "usage: soak --port P --tls-port T --home DIR --daemon-pid PID --csv FILE [--fake-port P] [--fake-pid PID]\n"
                    "            [--devices N] [--seconds D] [--sample-s S] [--think-ms MIN,MAX]\n"
                    "            [--revoke-pct P] [--drain-s S] [--replay-s S] [--seed N]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"port", 1, 0, 'p'},    {"tls-port", 1, 0, 't'},  {"home", 1, 0, 'H'},     {"daemon-pid", 1, 0, 'P'},
        {"csv", 1, 0, 'c'},     {"fake-port", 1, 0, 'f'}, {"fake-pid", 1, 0, 'F'}, {"devices", 1, 0, 'n'},
        {"seconds", 1, 0, 'd'}, {"sample-s", 1, 0, 's'},  {"think-ms", 1, 0, 'k'}, {"revoke-pct", 1, 0, 'r'},
        {"drain-s", 1, 0, 'D'}, {"replay-s", 1, 0, 'R'},  {"seed", 1, 0, 'S'},     {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'p':
            opt.port = (int)strtol(optarg, NULL, 10);
            break;
        case 't':
            opt.tls_port = (int)strtol(optarg, NULL, 10);
            break;
        case 'H':
            opt.home = optarg;
            break;
        case 'P':
            opt.daemon_pid = (int)strtol(optarg, NULL, 10);
            break;
        case 'c':
            opt.csv = optarg;
            break;
        case 'f':
            opt.fake_port = (int)strtol(optarg, NULL, 10);
            break;
        case 'F':
            opt.fake_pid = (int)strtol(optarg, NULL, 10);
            break;
        case 'n':
            opt.devices = (int)strtol(optarg, NULL, 10);
            break;
        case 'd':
            opt.seconds = (int)strtol(optarg, NULL, 10);
            break;
        case 's':
            opt.sample_s = (int)strtol(optarg, NULL, 10);
            break;
        case 'k':
            if (sscanf(optarg, "%d,%d", &opt.think_min_ms, &opt.think_max_ms) != 2)
                usage();
            break;
        case 'r':
            opt.revoke_pct = strtod(optarg, NULL);
            break;
        case 'D':
            opt.drain_s = (int)strtol(optarg, NULL, 10);
            break;
        case 'R':
            opt.replay_s = (int)strtol(optarg, NULL, 10);
            break;
        case 'S':
            opt.seed = (unsigned)strtoul(optarg, NULL, 10);
            break;
        default:
            usage();
        }
    }
    if (opt.port <= 0 || opt.tls_port <= 0 || opt.home == NULL || opt.daemon_pid <= 0 || opt.csv == NULL || opt.devices < 2 ||
        opt.seconds < 1 || opt.sample_s < 1 || opt.think_min_ms < 0 || opt.think_max_ms < opt.think_min_ms)
        usage();
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    const char *vs = getenv("SOAK_VERBOSE_SLOT");
    if (vs != NULL && *vs != '\0')
        verbose_slot = (int)strtol(vs, NULL, 10);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK)
        die("curl_global_init failed");
    multi = curl_multi_init();
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, (long)(opt.devices * 3));
    snprintf(base_http, sizeof(base_http), "http://127.0.0.1:%d", opt.port);
    snprintf(base_https, sizeof(base_https), "https://127.0.0.1:%d", opt.tls_port);
    csv = fopen(opt.csv, "w");
    if (csv == NULL)
        die("cannot write %s: %s", opt.csv, strerror(errno));
    fprintf(csv, "t_s,rss_kib,hwm_kib,fds,threads,db_kib,wal_kib,cpu_s,paired,streams,runs,requests,events,messages,revocations,"
                 "lost,dups,fake_rss_kib,rss_anon_kib,rss_file_kib,fake_cpu_s,load1,malloc_heap_kib,malloc_in_use_kib,"
                 "malloc_mmap_kib,sqlite_kib,releases,release_max_us,sse_ring_kib,reply_cache_kib,relay_kib,relays\n");

    slots = xcalloc((size_t)opt.devices, sizeof(*slots));
    t_start_ms = mono_ms();
    for (int i = 0; i < opt.devices; ++i) {
        slot_t *s = &slots[i];
        s->idx = i;
        s->proto = (proto_t)(i % 3);
        s->rng = 0x9E3779B97F4A7C15ULL * (uint64_t)(opt.seed * 1000003u + (unsigned)i + 1);
        /* pair gradually over the first ~10 s (or the first third of a short run) */
        int spread = opt.seconds * 1000 / 3 < 10000 ? opt.seconds * 1000 / 3 : 10000;
        s->next_at = t_start_ms + (uint64_t)rnd_range(&s->rng, 0, spread);
    }
    fprintf(stderr, "soak: %d devices (http/1.1, h2c, h2 in turn) for %d s against 127.0.0.1:%d/%d, daemon %d\n", opt.devices,
            opt.seconds, opt.port, opt.tls_port, opt.daemon_pid);
    sample();
    uint64_t next_sample = t_start_ms + (uint64_t)opt.sample_s * 1000, next_fake_clear = t_start_ms + 60000;
    uint64_t end_at = t_start_ms + (uint64_t)opt.seconds * 1000, phase_deadline = 0, next_progress = t_start_ms + 60000;
    uint64_t phase_t0 = 0;
    int replay_next = 0;
    while (phase != PH_END) {
        int running = 0;
        curl_multi_poll(multi, NULL, 0, 20, NULL);
        curl_multi_perform(multi, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(multi, &left)) != NULL) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            xfer_t *x = NULL;
            CURLcode rc = msg->data.result;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
            long status = 0;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
            curl_multi_remove_handle(multi, x->easy);
            switch (x->kind) {
            case X_REQ:
                x->done(x, status, rc);
                break;
            case X_STREAM:
                stream_ended(x, status, rc);
                break;
            case X_RUN:
                run_stream_ended(x, status, rc);
                break;
            case X_REPLAY:
                replay_ended(x, status, rc);
                break;
            case X_MISC:
                break;
            }
            xfer_free(x);
        }
        uint64_t now = mono_ms();
        for (int i = 0; i < opt.devices; ++i) {
            slot_t *s = &slots[i];
            if (s->timer_fn != NULL && now >= s->timer_at) {
                void (*fn)(slot_t *) = s->timer_fn;
                s->timer_fn = NULL;
                fn(s);
            }
            if (phase <= PH_DRAIN && !s->busy && now >= s->next_at && (phase == PH_RUN || !s->paired))
                start_action(s);
            if (phase <= PH_FINAL && s->paired && !s->auth_changing && s->conv[0] != '\0' && s->stream == NULL &&
                now >= s->stream_at)
                stream_open(s);
            if (s->paired && !s->auth_changing && s->run_active && s->run_stream == NULL)
                run_stream_open(s);
            if (s->token_dead_why != NULL && mono_us() - s->token_dead_at_us > STREAM_END_DEADLINE_MS * 1000ull) {
                if (s->stream != NULL) {
                    C.stream_outlived_token++;
                    problem("slot %d: its stream outlived the %s of its token by %d s", s->idx, s->token_dead_why,
                            STREAM_END_DEADLINE_MS / 1000);
                    stream_close(s);
                    s->stream_at = now;
                }
                s->token_dead_why = NULL;
            }
        }
        if (now >= next_sample) {
            sample();
            next_sample += (uint64_t)opt.sample_s * 1000;
        }
        if (opt.fake_port > 0 && now >= next_fake_clear) {
            /* the fake keeps a log of every request it got: emptied every minute so that it stays small */
            char url[128];
            snprintf(url, sizeof(url), "/__fake/requests");
            xfer_t *x = xfer_new(NULL, X_MISC, "DELETE", url, NULL, NULL, 0, NULL, NULL, NULL);
            char full[128];
            snprintf(full, sizeof(full), "http://127.0.0.1:%d/__fake/requests", opt.fake_port);
            curl_easy_setopt(x->easy, CURLOPT_URL, full);
            xfer_start(x);
            C.requests--;
            next_fake_clear = now + 60000;
        }
        if (now >= next_progress && phase == PH_RUN) {
            fprintf(stderr,
                    "soak: %3.0f s: %" PRIu64 " requests, %" PRIu64 " events, %" PRIu64 " messages, lost %" PRIu64 ", dup %" PRIu64
                    ", problems %" PRIu64 "\n",
                    (double)(now - t_start_ms) / 1000.0, C.requests, C.events, C.msgs_sent, C.lost, C.dups, C.problems);
            next_progress = now + 60000;
        }
        if (interrupted && phase < PH_END) {
            fprintf(stderr, "soak: interrupted\n");
            phase = PH_END;
        }
        switch (phase) {
        case PH_RUN:
            if (now >= end_at) {
                phase = PH_DRAIN;
                phase_t0 = now;
                phase_deadline = now + (uint64_t)opt.drain_s * 1000;
                fprintf(stderr, "soak: %d s over: waiting for the runs and actions in flight\n", opt.seconds);
            }
            break;
        case PH_DRAIN:
            if (quiet() || now >= phase_deadline) {
                if (!quiet())
                    problem("not quiet %d s after the end (runs, actions or streams still open)", opt.drain_s);
                for (int i = 0; i < opt.devices; ++i) {
                    slot_t *s = &slots[i];
                    s->server_last = -2;
                    if (!s->paired || s->busy || s->conv[0] == '\0')
                        continue;
                    char path[160];
                    snprintf(path, sizeof(path), "/api/v1/conversations/%s/messages?limit=1", s->conv);
                    s->busy = true;
                    request(s, "GET", path, s->access, NULL, "GET /conversations/:id/messages", final_seq);
                }
                phase_s[PH_DRAIN] = (double)(now - phase_t0) / 1000.0;
                phase_t0 = now;
                phase = PH_FINAL;
                phase_deadline = now + 30000;
            }
            break;
        case PH_FINAL: {
            bool caught_up = true;
            for (int i = 0; i < opt.devices; ++i) {
                slot_t *s = &slots[i];
                if (s->busy || s->last_seq < s->server_last)
                    caught_up = false;
            }
            if (caught_up || now >= phase_deadline) {
                for (int i = 0; i < opt.devices; ++i) {
                    slot_t *s = &slots[i];
                    if (s->server_last != s->last_seq) {
                        C.final_seq_mismatch++;
                        problem("slot %d: the server's last_event_seq is %" PRId64 ", the stream's last id %" PRId64, i,
                                s->server_last, s->last_seq);
                    }
                    stream_close(s);
                }
                check_messages();
                sample();
                phase_s[PH_FINAL] = (double)(now - phase_t0) / 1000.0;
                phase_t0 = now;
                phase = PH_REPLAY;
                phase_deadline = now + (uint64_t)opt.replay_s * 1000;
                fprintf(stderr, "soak: replaying every conversation from its start (%d at a time)\n", opt.replay_parallel);
            }
            break;
        }
        case PH_REPLAY: {
            int open = 0, done = 0;
            for (int i = 0; i < opt.devices; ++i) {
                slot_t *s = &slots[i];
                if (s->replay != NULL && s->replay_last >= s->server_last) {
                    xfer_free(s->replay);
                    s->replay = NULL;
                    s->replay_done = true;
                }
                open += s->replay != NULL;
                done += s->replay_done;
            }
            while (open < opt.replay_parallel && replay_next < opt.devices) {
                slot_t *s = &slots[replay_next++];
                if (!s->paired || s->server_last <= 0) {
                    s->replay_done = true;
                    continue;
                }
                replay_open(s);
                ++open;
            }
            if (done == opt.devices || now >= phase_deadline) {
                for (int i = 0; i < opt.devices; ++i)
                    if (!slots[i].replay_done) {
                        C.replay_unfinished++;
                        if (slots[i].replay != NULL) {
                            xfer_free(slots[i].replay);
                            slots[i].replay = NULL;
                        }
                    }
                phase_s[PH_REPLAY] = (double)(now - phase_t0) / 1000.0;
                phase = PH_END;
            }
            break;
        }
        case PH_END:
            break;
        }
    }
    double elapsed = (double)(mono_ms() - t_start_ms) / 1000.0;
    fclose(csv);
    report(elapsed);
    bool ok = C.lost == 0 && C.dups == 0 && C.final_seq_mismatch == 0 && C.replay_lost == 0 && C.replay_dups == 0 &&
              C.replay_mismatch == 0 && C.replay_unfinished == 0 && C.msgs_incomplete == 0 && C.msgs_out_of_order == 0 &&
              C.msgs_bad_text == 0 && C.foreign_events == 0 && C.direct_lost == 0 && C.direct_dups == 0 &&
              C.direct_unfinished == 0 && C.old_token_accepted == 0 && C.revoked_tokens_accepted == 0 && C.upload_mismatch == 0 &&
              C.stream_outlived_token == 0 && C.problems == 0 && !interrupted;
    printf("result=%s\n", ok ? "pass" : "FAIL");
    return ok ? 0 : 1;
}
