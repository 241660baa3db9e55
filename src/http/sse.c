/*
 * SSE fan-out on a worker (DESIGN §2): rings of shared frames per topic, a cursor per stream, one h2o_send with many
 * iovecs per stream per wake-up. Everything below runs on the worker's own thread except hl_event_frame_*, hl_sse_publish
 * and hl_sse_deliver_page, which any thread may call.
 *
 * Topics: one for all conversations, one per conversation that has a stream on this worker. A frame is appended to the
 * all-conversations ring and to its conversation's ring when that topic exists. A stream first sends its replay (history
 * from the topic kind's replay source, in pages), then live frames from its cursor, skipping any id it already
 * sent; it subscribed before asking for history, so nothing falls between the two.
 */
#include "hl/sse.h"

#include <ctype.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hl/clock.h"
#include "hl/config.h"
#include "hl/keyed_counts.h"
#include "hl/log.h"
#include "hl/token_table.h"
#include "conn_guard.h"
#include "worker.h"

#define GLOBAL_RING 8192
#define CONV_RING 1024
#define RUN_RING 4096
/* rings are bounded by bytes as well (frames of 1 MB would otherwise pin GBs): past it the oldest frames go, and a stream
 * that still needed them catches up from its source */
#define GLOBAL_RING_BYTES (32u * 1024 * 1024)
#define CONV_RING_BYTES (8u * 1024 * 1024)
#define RUN_RING_BYTES (16u * 1024 * 1024)
#define MAX_FRAMES_PER_SEND 64
#define REPLAY_PAGE 512
#define TOPIC_BUCKETS 1024
/* streams flushed per loop turn: a broadcast to thousands of streams must not hold up the worker's other requests */
#define KICK_SLICE 256
/* how often a worker checks that its streams' credentials still hold (revocation, logout, reuse, expiry) */
#define CREDENTIALS_CHECK_MS 1000

/* ---- frames ---- */

hl_event_frame_t *hl_event_frame_new(int64_t event_id, const char *conversation_id, int64_t seq, const char *type, bool notify,
                                     const char *json, size_t json_len)
{
    char conv_head[160], global_head[160];
    int cl = snprintf(conv_head, sizeof(conv_head), "id: %lld\nevent: %s\ndata: ", (long long)seq, type);
    int gl = snprintf(global_head, sizeof(global_head), "id: %lld\nevent: %s\ndata: ", (long long)event_id, type);
    if (cl < 0 || gl < 0 || (size_t)cl >= sizeof(conv_head) || (size_t)gl >= sizeof(global_head))
        hl_fatal("event type too long");
    size_t keylen = strlen(conversation_id) + 1;
    hl_event_frame_t *f = hl_malloc(sizeof(*f) + keylen + (size_t)cl + (size_t)gl + json_len + 2);
    atomic_init(&f->refs, 1);
    f->event_id = event_id;
    f->seq = seq;
    f->notify = notify;
    char *p = f->data;
    memcpy(p, conversation_id, keylen);
    f->conversation_id = p;
    p += keylen;
    memcpy(p, conv_head, (size_t)cl);
    f->conv_head = h2o_iovec_init(p, (size_t)cl);
    p += cl;
    memcpy(p, global_head, (size_t)gl);
    f->global_head = h2o_iovec_init(p, (size_t)gl);
    p += gl;
    memcpy(p, json, json_len);
    memcpy(p + json_len, "\n\n", 2);
    f->body = h2o_iovec_init(p, json_len + 2);
    f->run = f->final = f->job = false;
    return f;
}

/* A run frame: "id: <seq>\n", then the upstream's data lines and the blank line that ends the event. */
static hl_event_frame_t *run_frame_new(const char *run_id, int64_t seq, const char *lines, size_t len, bool final)
{
    char head[40];
    int hl = snprintf(head, sizeof(head), "id: %lld\n", (long long)seq);
    size_t keylen = strlen(run_id) + 1;
    hl_event_frame_t *f = hl_malloc(sizeof(*f) + keylen + (size_t)hl + len + 1);
    atomic_init(&f->refs, 1);
    f->event_id = 0;
    f->seq = seq;
    f->notify = false;
    f->run = true;
    f->job = false;
    f->final = final;
    char *p = f->data;
    memcpy(p, run_id, keylen);
    f->conversation_id = p;
    p += keylen;
    memcpy(p, head, (size_t)hl);
    f->conv_head = f->global_head = h2o_iovec_init(p, (size_t)hl);
    p += hl;
    memcpy(p, lines, len);
    p[len] = '\n';
    f->body = h2o_iovec_init(p, len + 1);
    return f;
}

static hl_event_frame_t *frame_of(const hl_sse_record_t *r)
{
    if (r->run)
        return run_frame_new(r->key, r->seq, r->json, r->json_len, r->final);
    hl_event_frame_t *f = hl_event_frame_new(r->event_id, r->key, r->seq, r->type, r->notify, r->json, r->json_len);
    f->job = r->job;
    if (f->job) {
        /* status streams carry no `id:` line (API.md §1.9): a client that reconnects gets the current status first,
         * so it has nothing to resume; the version still orders the topic's ring */
        const char *nl = memchr(f->conv_head.base, '\n', f->conv_head.len);
        size_t skip = (size_t)(nl - f->conv_head.base) + 1;
        f->conv_head = h2o_iovec_init(f->conv_head.base + skip, f->conv_head.len - skip);
    }
    return f;
}

void hl_event_frame_retain(hl_event_frame_t *f)
{
    atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
}

void hl_event_frame_release(hl_event_frame_t *f)
{
    if (f != NULL && atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) == 1)
        free(f);
}

/* ---- topics and streams ---- */

typedef struct st_topic_t topic_t;
typedef struct st_stream_t stream_t;

struct st_topic_t {
    topic_t *next_in_bucket;
    hl_sse_topic_kind_t kind;
    char *key; /* the conversation id; NULL for all conversations */
    hl_event_frame_t **ring;
    size_t cap;
    uint64_t head;             /* frames ever appended; slot = position % cap */
    uint64_t tail;             /* the oldest position still held (head - tail <= cap) */
    size_t bytes;              /* bytes of the frames held */
    size_t max_bytes;          /* the bound on bytes */
    atomic_size_t *ring_bytes; /* its worker's count of bytes held by rings */
    h2o_linklist_t streams;
};

typedef struct st_sse_worker_t {
    hl_worker_t *worker;
    topic_t global;
    topic_t *buckets[TOPIC_BUCKETS];
    h2o_timeout_t heartbeat_timeout;
    h2o_timeout_entry_t heartbeat;
    h2o_timeout_t credentials_timeout;
    h2o_timeout_entry_t credentials;
    size_t num_streams;
    h2o_linklist_t kick_queue; /* streams to flush, a slice per loop iteration */
    bool kick_posted;
    atomic_size_t ring_bytes;  /* bytes held by this worker's rings (a frame in two rings counts twice) */
    uint64_t token_generation; /* hl_token_table_generation() when the streams' tokens were last checked */
    int64_t next_expiry;       /* the earliest expiry among the bound streams' tokens (a bound, not exact) */
    h2o_linklist_t h1_streams; /* the streams with an h1_sock, watched for their client leaving */
    /* the iovecs of the h2o_send being made: h2o 2.2.5 copies the array (not the bytes) before h2o_send returns (HTTP/1.1:
     * into the socket's write request; HTTP/2: into the stream's queue), so one per worker serves every stream, 2 KiB
     * less per stream than an array in each */
    h2o_iovec_t vecs[MAX_FRAMES_PER_SEND * 2];
} sse_worker_t;

struct st_stream_t {
    h2o_generator_t super;
    h2o_req_t *req; /* NULL once the request is gone */
    hl_worker_t *worker;
    topic_t *topic;
    h2o_linklist_t topic_link;
    h2o_linklist_t kick_link;
    hl_stream_link_t shutdown_link;
    int refs; /* the request pool, and an outstanding replay page; worker thread only */
    bool notifications_only;
    bool bound;             /* opened with a device's access token: it ends when that token stops being valid */
    hl_token_hash_t token;  /* that token's hash */
    h2o_socket_t *h1_sock;  /* HTTP/1.1: the socket, watched for the client leaving (h2o 2.2.5 does not read it) */
    h2o_linklist_t h1_link; /* in the worker's h1_streams while h1_sock is set and the stream is in a topic */
    int64_t expires_at;     /* when bound: its token's expiry (ms, the token table's clock) */
    size_t device_len;      /* counted against its device's stream cap under device_key when > 0 */
    char device_key[HL_KEYED_COUNTS_KEY_MAX];
    bool sending;
    bool heartbeat_due;     /* a heartbeat round queued it: it sends the comment at its next flush unless data goes */
    bool replaying;         /* history not fully sent yet: live frames wait behind the cursor */
    bool page_pending;      /* a history page was asked for and has not arrived */
    bool more_pages;        /* the last page was full: ask for the next once it is sent */
    int64_t page_after;     /* the id the next page starts after */
    bool finish_asked;      /* end the response once what is in flight is sent */
    const char *final_text; /* with finish_asked: a last comment to send (a string literal), or NULL */
    bool finished;          /* FINAL sent */
    int64_t last_id;        /* the last id sent (seq, or the global id for the all-conversations stream) */
    uint64_t cursor;        /* next ring position to look at */
    hl_event_frame_t **replay;
    size_t replay_len, replay_pos;
    hl_event_frame_t *inflight[MAX_FRAMES_PER_SEND];
    size_t num_inflight;
    char opening[32];
};

static sse_worker_t *sse_of(hl_worker_t *w)
{
    return (sse_worker_t *)w->sse;
}

static size_t bucket_of(const char *id)
{
    uint32_t h = 2166136261u;
    for (; *id; ++id)
        h = (h ^ (unsigned char)*id) * 16777619u;
    return h % TOPIC_BUCKETS;
}

static void add_ring_bytes(hl_worker_t *w, void *data)
{
    sse_worker_t *sw = sse_of(w);
    if (sw != NULL)
        *(size_t *)data += atomic_load_explicit(&sw->ring_bytes, memory_order_relaxed);
}

size_t hl_sse_ring_bytes(void)
{
    size_t total = 0;
    hl_server_each_worker(add_ring_bytes, &total);
    return total;
}

/* Moves a worker's count of ring bytes: its own thread is the only writer, so a relaxed load and store (no locked
 * instruction, no cache line shared between workers) keep it readable from elsewhere. */
static void count_ring_bytes(topic_t *t, size_t add, size_t sub)
{
    atomic_store_explicit(t->ring_bytes, atomic_load_explicit(t->ring_bytes, memory_order_relaxed) + add - sub,
                          memory_order_relaxed);
}

static size_t frame_size(const hl_event_frame_t *f)
{
    return sizeof(*f) + f->conv_head.len + f->global_head.len + f->body.len;
}

static void topic_init(sse_worker_t *sw, topic_t *t, hl_sse_topic_kind_t kind, const char *key, size_t cap, size_t max_bytes)
{
    memset(t, 0, sizeof(*t));
    t->ring_bytes = &sw->ring_bytes;
    t->kind = kind;
    t->key = hl_strdup(key);
    t->cap = cap;
    t->max_bytes = max_bytes;
    t->ring = hl_calloc(cap, sizeof(*t->ring));
    h2o_linklist_init_anchor(&t->streams);
}

static void topic_clear(topic_t *t)
{
    count_ring_bytes(t, 0, t->bytes);
    t->bytes = 0;
    for (size_t i = 0; i < t->cap; ++i)
        hl_event_frame_release(t->ring[i]);
    free(t->ring);
    t->ring = NULL;
    free(t->key);
    t->key = NULL;
}

static topic_t *topic_find(sse_worker_t *sw, hl_sse_topic_kind_t kind, const char *key, int create)
{
    if (kind == HL_SSE_TOPIC_ALL)
        return &sw->global;
    size_t b = bucket_of(key);
    for (topic_t *t = sw->buckets[b]; t != NULL; t = t->next_in_bucket)
        if (t->kind == kind && strcmp(t->key, key) == 0)
            return t;
    if (!create)
        return NULL;
    topic_t *t = hl_malloc(sizeof(*t));
    topic_init(sw, t, kind, key, kind == HL_SSE_TOPIC_RUN ? RUN_RING : CONV_RING,
               kind == HL_SSE_TOPIC_RUN ? RUN_RING_BYTES : CONV_RING_BYTES);
    t->next_in_bucket = sw->buckets[b];
    sw->buckets[b] = t;
    return t;
}

/* A conversation topic goes away with its last stream (its ring holds only what those streams had not read yet). */
static void topic_maybe_drop(sse_worker_t *sw, topic_t *t)
{
    if (t == &sw->global || !h2o_linklist_is_empty(&t->streams))
        return;
    topic_t **pp = &sw->buckets[bucket_of(t->key)];
    while (*pp != t)
        pp = &(*pp)->next_in_bucket;
    *pp = t->next_in_bucket;
    topic_clear(t);
    free(t);
}

/* Drops the oldest frame held. */
static void topic_drop_oldest(topic_t *t)
{
    size_t slot = (size_t)(t->tail % t->cap);
    hl_event_frame_t *f = t->ring[slot];
    t->ring[slot] = NULL;
    if (f != NULL) {
        t->bytes -= frame_size(f);
        count_ring_bytes(t, 0, frame_size(f));
        hl_event_frame_release(f);
    }
    ++t->tail;
}

static void topic_append(topic_t *t, hl_event_frame_t *f)
{
    if (t->head - t->tail == t->cap)
        topic_drop_oldest(t); /* its slot is the one this frame takes */
    size_t size = frame_size(f);
    while (t->tail < t->head && t->bytes + size > t->max_bytes)
        topic_drop_oldest(t);
    hl_event_frame_retain(f);
    t->ring[(size_t)(t->head % t->cap)] = f;
    t->bytes += size;
    count_ring_bytes(t, size, 0);
    ++t->head;
}

static void release_inflight(stream_t *s)
{
    for (size_t i = 0; i < s->num_inflight; ++i)
        hl_event_frame_release(s->inflight[i]);
    s->num_inflight = 0;
}

static void release_replay(stream_t *s)
{
    for (size_t i = s->replay_pos; i < s->replay_len; ++i)
        hl_event_frame_release(s->replay[i]);
    free(s->replay);
    s->replay = NULL;
    s->replay_len = s->replay_pos = 0;
}

/* Leaves the topic (and the worker's shutdown list); safe to call twice. */
static void detach(stream_t *s)
{
    if (s->topic == NULL)
        return;
    sse_worker_t *sw = sse_of(s->worker);
    h2o_linklist_unlink(&s->topic_link);
    if (h2o_linklist_is_linked(&s->kick_link))
        h2o_linklist_unlink(&s->kick_link);
    if (h2o_linklist_is_linked(&s->h1_link))
        h2o_linklist_unlink(&s->h1_link);
    hl_worker_remove_stream(&s->shutdown_link);
    topic_t *t = s->topic;
    s->topic = NULL;
    --sw->num_streams;
    topic_maybe_drop(sw, t);
}

/* event streams open per device, over every worker */
static hl_keyed_counts_t device_streams;
static pthread_once_t device_streams_once = PTHREAD_ONCE_INIT;
static int max_streams_per_device = HL_DEFAULT_MAX_STREAMS_PER_DEVICE;

static void init_device_streams(void)
{
    hl_keyed_counts_init(&device_streams);
}

void hl_sse_set_max_streams_per_device(int max)
{
    max_streams_per_device = max;
}

static void stream_release(stream_t *s)
{
    if (--s->refs > 0)
        return;
    if (s->device_len > 0)
        hl_keyed_counts_release(&device_streams, s->device_key, s->device_len);
    detach(s);
    release_inflight(s);
    release_replay(s);
    free(s);
}

static int64_t frame_id(const stream_t *s, const hl_event_frame_t *f)
{
    return s->topic->kind == HL_SSE_TOPIC_ALL ? f->event_id : f->seq;
}

static void add_frame(stream_t *s, hl_event_frame_t *f, h2o_iovec_t *vecs, size_t *nvec)
{
    bool global = s->topic->kind == HL_SSE_TOPIC_ALL;
    vecs[(*nvec)++] = global ? f->global_head : f->conv_head;
    vecs[(*nvec)++] = f->body;
    hl_event_frame_retain(f);
    s->inflight[s->num_inflight++] = f;
    s->last_id = frame_id(s, f);
    if (f->final) {
        s->finish_asked = true; /* the run ended: the response ends once this frame is sent */
        s->replaying = false;
    }
}

/* Ends the response. `text` is a string literal (h2o may still read it after the request is gone). */
static void send_final(stream_t *s, const char *text)
{
    s->finished = true;
    detach(s);
    size_t n = 0;
    h2o_iovec_t vec = {NULL, 0};
    if (text != NULL) {
        vec = h2o_iovec_init(text, strlen(text));
        n = 1;
    }
    /* after FINAL the pool may be disposed at once (and s freed): nothing of s may be touched afterwards */
    h2o_send(s->req, &vec, n, H2O_SEND_STATE_FINAL);
}

static void request_page(stream_t *s, int64_t after);

static const char HEARTBEAT[] = ": heartbeat\n\n";

/* Sends what the stream may send now: the next replay frames, else live frames from its cursor. */
static void flush(stream_t *s)
{
    if (s->req == NULL || s->sending || s->finished)
        return;
    if (s->finish_asked) {
        send_final(s, s->final_text);
        return;
    }
    h2o_iovec_t *vecs = sse_of(s->worker)->vecs;
    size_t nvec = 0;
    while (s->replay_pos < s->replay_len && s->num_inflight < MAX_FRAMES_PER_SEND && !s->finish_asked) {
        hl_event_frame_t *f = s->replay[s->replay_pos++];
        if (frame_id(s, f) > s->last_id && (!s->notifications_only || f->notify)) {
            add_frame(s, f, vecs, &nvec);
        } else if (f->final) {
            /* the client already has the run's last frame: nothing more will come, the response ends */
            s->finish_asked = true;
            s->replaying = false;
        }
        hl_event_frame_release(f);
    }
    if (s->replay_pos == s->replay_len && s->replaying && !s->page_pending && nvec == 0) {
        if (s->more_pages) {
            request_page(s, s->page_after);
            return;
        }
        s->replaying = false;
    }
    if (s->replay_pos == s->replay_len && !s->replaying && s->topic != NULL && !s->finish_asked) {
        topic_t *t = s->topic;
        if (s->cursor < t->tail) {
            /* the ring moved past this stream (a burst larger than the ring, or a slow reader): it catches up from the
             * topic's source, page by page, from the last id it sent, then goes on live from the ring's head — nothing
             * skipped, nothing sent twice, and the client keeps its connection */
            if (nvec == 0 && s->topic->kind == HL_SSE_TOPIC_ALL && s->last_id == 0) {
                /* a live-only stream that sent nothing yet has no point to replay from: it ends, the client resumes */
                hl_logf(HL_LOG_DEBUG, "sse: live stream fell behind its ring before its first event; ending it");
                send_final(s, ": behind, reconnect with Last-Event-ID\n\n");
                return;
            }
            if (nvec == 0) {
                hl_logf(HL_LOG_DEBUG, "sse: stream fell behind its ring; replaying from its source");
                s->cursor = t->head;
                s->replaying = true;
                request_page(s, s->last_id);
                return;
            }
        } else {
            while (s->cursor < t->head && s->num_inflight < MAX_FRAMES_PER_SEND && !s->finish_asked) {
                hl_event_frame_t *f = t->ring[s->cursor % t->cap];
                ++s->cursor;
                if (frame_id(s, f) > s->last_id && (!s->notifications_only || f->notify))
                    add_frame(s, f, vecs, &nvec);
            }
        }
    }
    if (nvec == 0 && s->heartbeat_due) {
        /* a write is the only way to notice a vanished HTTP/1.1 client in h2o 2.2.5 */
        vecs[0] = h2o_iovec_init(HEARTBEAT, sizeof(HEARTBEAT) - 1);
        nvec = 1;
    }
    if (nvec == 0)
        return;
    s->heartbeat_due = false; /* frames are as good a write as the comment */
    s->sending = true;
    h2o_send(s->req, vecs, nvec, H2O_SEND_STATE_IN_PROGRESS);
}

static void on_proceed(h2o_generator_t *gen, h2o_req_t *req)
{
    (void)req;
    stream_t *s = (stream_t *)gen;
    s->sending = false;
    release_inflight(s);
    flush(s);
}

static void on_stop(h2o_generator_t *gen, h2o_req_t *req)
{
    (void)req;
    stream_t *s = (stream_t *)gen;
    /* the client left (HTTP/2 reset, or a failed write): stop sending; the pool hook frees */
    s->finished = true;
    detach(s);
}

static void on_pool_dispose(void *hook)
{
    stream_t *s = *(stream_t **)hook;
    s->req = NULL;
    stream_release(s);
}

/* Ends the response once what is in flight is sent, with `text` (a string literal, or NULL) as its last comment. */
static void finish(stream_t *s, const char *text)
{
    if (s->finished || s->req == NULL || s->finish_asked)
        return;
    s->finish_asked = true;
    s->final_text = text;
    s->replaying = false;
    flush(s); /* sends FINAL now unless a send is in flight; proceed() finishes it then */
}

static void on_shutdown(hl_stream_link_t *link)
{
    finish(H2O_STRUCT_FROM_MEMBER(stream_t, shutdown_link, link), NULL);
}

/* ---- replay ---- */

typedef struct st_replay_msg_t {
    hl_worker_msg_t super;
    stream_t *stream;
    hl_event_frame_t **frames;
    size_t n;
    bool more;
    bool failed;
} replay_msg_t;

static void on_replay(hl_worker_t *w, hl_worker_msg_t *msg)
{
    replay_msg_t *m = (replay_msg_t *)msg;
    stream_t *s = m->stream;
    --w->num_pending;
    s->page_pending = false;
    if (s->req != NULL && !s->finished && !s->finish_asked && !m->failed) {
        release_replay(s);
        s->replay = m->frames;
        s->replay_len = m->n;
        s->replay_pos = 0;
        s->more_pages = m->more && m->n > 0;
        if (m->n > 0)
            s->page_after = frame_id(s, m->frames[m->n - 1]);
        m->frames = NULL;
        flush(s);
    } else if (m->failed && s->req != NULL && !s->finished && !s->sending) {
        send_final(s, ": history unavailable, reconnect\n\n");
    } else if (m->failed) {
        /* a send is in flight: the comment goes out with FINAL once it is done (proceed → flush) */
        s->finish_asked = true;
        if (s->final_text == NULL)
            s->final_text = ": history unavailable, reconnect\n\n";
    }
    for (size_t i = 0; m->frames != NULL && i < m->n; ++i)
        hl_event_frame_release(m->frames[i]);
    free(m->frames);
    free(m);
    stream_release(s); /* the page's reference */
}

static void free_replay_msg(hl_msg_t *msg)
{
    /* a worker mailbox disposed with a page still queued (forced shutdown) */
    replay_msg_t *m = (replay_msg_t *)msg;
    for (size_t i = 0; m->frames != NULL && i < m->n; ++i)
        hl_event_frame_release(m->frames[i]);
    free(m->frames);
    free(m);
}

static void deliver_replay(hl_worker_t *worker, stream_t *stream, hl_event_frame_t **frames, size_t n, bool more, bool failed)
{
    replay_msg_t *m = hl_malloc(sizeof(*m));
    hl_msg_init(&m->super.super, 1, free_replay_msg);
    m->super.run = on_replay;
    m->stream = stream;
    m->frames = frames;
    m->n = n;
    m->more = more;
    m->failed = failed;
    hl_worker_post(worker, &m->super);
}

/* The replay sources of the topic kinds (set at start-up, read-only afterwards). */
static hl_sse_source_t sources[HL_SSE_NUM_TOPIC_KINDS];

void hl_sse_set_source(hl_sse_topic_kind_t kind, const hl_sse_source_t *source)
{
    sources[kind] = *source;
}

void hl_sse_deliver_page(void *page_ctx, const hl_sse_record_t *records, size_t n, bool more, bool failed)
{
    stream_t *s = page_ctx;
    hl_event_frame_t **frames = NULL;
    if (!failed) {
        frames = hl_malloc(sizeof(*frames) * (n ? n : 1));
        for (size_t i = 0; i < n; ++i)
            frames[i] = frame_of(&records[i]);
    }
    /* s->worker is fixed for the stream's life, and the page holds a reference on s */
    deliver_replay(s->worker, s, frames, n, more, failed);
}

static void request_page(stream_t *s, int64_t after)
{
    ++s->refs;
    ++s->worker->num_pending; /* shutdown waits for the source to answer */
    s->page_pending = true;
    const hl_sse_source_t *src = &sources[s->topic->kind];
    src->read(src->data, s->topic->key, after, s->notifications_only, REPLAY_PAGE, s);
}

/* ---- opening ---- */

/* parseInt of a cursor ("12", "12abc" → 12); -1 when absent or not a number */
static int64_t parse_cursor(const char *s)
{
    if (s == NULL)
        return -1;
    while (isspace((unsigned char)*s))
        ++s;
    char *end;
    long long v = strtoll(s, &end, 10);
    return end == s || v < 0 ? -1 : (int64_t)v;
}

int64_t hl_sse_request_cursor(hl_request_t *r)
{
    int64_t after = parse_cursor(hl_request_query(r, "after", NULL));
    if (after < 0) {
        size_t len;
        const char *h = hl_request_header(r, "last-event-id", &len);
        if (h != NULL) {
            char *v = h2o_strdup(&r->req->pool, h, len).base;
            after = parse_cursor(v);
        }
    }
    return after;
}

static void open_stream(hl_request_t *r, hl_sse_topic_kind_t kind, const char *key, bool notifications_only, int64_t after);
static bool credentials_hold(const stream_t *s, int64_t now);

void hl_sse_open(hl_request_t *r, const char *conversation_id, bool notifications_only, int64_t after)
{
    open_stream(r, conversation_id != NULL ? HL_SSE_TOPIC_CONVERSATION : HL_SSE_TOPIC_ALL, conversation_id, notifications_only,
                after);
}

void hl_sse_open_run(hl_request_t *r, const char *run_id, int64_t after)
{
    open_stream(r, HL_SSE_TOPIC_RUN, run_id, false, after);
}

void hl_sse_open_job(hl_request_t *r, const char *key, int64_t after)
{
    open_stream(r, HL_SSE_TOPIC_JOB, key, false, after);
}

static void open_stream(hl_request_t *r, hl_sse_topic_kind_t kind, const char *key, bool notifications_only, int64_t after)
{
    sse_worker_t *sw = sse_of(r->worker);
    h2o_req_t *req = r->req;
    char device_key[HL_KEYED_COUNTS_KEY_MAX];
    size_t device_len = 0;
    if (r->device != NULL && r->device->id != NULL) {
        device_len = strnlen(r->device->id, sizeof(device_key));
        memcpy(device_key, r->device->id, device_len);
        if (!hl_keyed_counts_acquire(&device_streams, device_key, device_len, (uint64_t)max_streams_per_device)) {
            hl_reply_error(r, 429, "too_many_streams", "This device has as many event streams open as it may; close one and retry");
            return;
        }
    }
    stream_t *s = hl_calloc(1, sizeof(*s));
    s->device_len = device_len;
    memcpy(s->device_key, device_key, device_len);
    s->h1_sock = hl_conn_guard_h1_socket(r->worker, req);
    s->super.proceed = on_proceed;
    s->super.stop = on_stop;
    s->req = req;
    s->worker = r->worker;
    s->notifications_only = notifications_only;
    s->refs = 1;
    s->last_id = after < 0 ? 0 : after;
    s->shutdown_link.on_shutdown = on_shutdown;
    if (r->token_hash != NULL && r->device != NULL) {
        s->bound = true;
        s->token = *r->token_hash;
        s->expires_at = r->device->access_expires_at;
        /* the sweep walks the streams only when the token table changed or a token expired: one that is already gone
         * (revoked while this request waited for an actor, after the last sweep) makes the next sweep walk them all */
        if (!credentials_hold(s, hl_now_ms()))
            sw->next_expiry = INT64_MIN;
        else if (s->expires_at < sw->next_expiry)
            sw->next_expiry = s->expires_at;
    }
    if (s->h1_sock != NULL)
        h2o_linklist_insert(&sw->h1_streams, &s->h1_link);
    stream_t **hook = h2o_mem_alloc_shared(&req->pool, sizeof(*hook), on_pool_dispose);
    *hook = s;

    /* subscribe first: from here on every live frame lands in the ring behind the cursor */
    s->topic = topic_find(sw, kind, key, 1);
    if (sources[s->topic->kind].read == NULL)
        hl_fatal("no replay source for this kind of topic");
    s->cursor = s->topic->head;
    h2o_linklist_insert(&s->topic->streams, &s->topic_link);
    hl_worker_add_stream(r->worker, &s->shutdown_link);
    ++sw->num_streams;

    req->res.status = 200;
    req->res.reason = "OK";
    if (kind == HL_SSE_TOPIC_RUN) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("text/event-stream; charset=utf-8"));
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-store"));
    } else {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("text/event-stream"));
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-cache"));
    }
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-accel-buffering"), 0, NULL, H2O_STRLIT("no"));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ACCESS_CONTROL_ALLOW_ORIGIN, NULL, H2O_STRLIT("*"));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_VARY, NULL, H2O_STRLIT("Origin"));
    h2o_start_response(req, &s->super);

    /* then history: everything after the client's cursor, in pages, before any live frame. The all-conversations stream
     * without a cursor is live only (as in the original); with one it resumes. */
    if (kind != HL_SSE_TOPIC_ALL || after >= 0) {
        s->replaying = true;
        request_page(s, s->last_id);
    }

    int n = snprintf(s->opening, sizeof(s->opening), "retry: %d\n\n", HL_SSE_RETRY_MS);
    h2o_iovec_t vec = h2o_iovec_init(s->opening, (size_t)n);
    s->sending = true;
    h2o_send(req, &vec, 1, H2O_SEND_STATE_IN_PROGRESS);
}

/* ---- broadcast ---- */

typedef struct st_broadcast_msg_t {
    hl_worker_msg_t super;
    hl_event_frame_t **frames;
    size_t n;
} broadcast_msg_t;

static void kick_topic(topic_t *t)
{
    sse_worker_t *sw = NULL;
    for (h2o_linklist_t *l = t->streams.next; l != &t->streams; l = l->next) {
        stream_t *s = H2O_STRUCT_FROM_MEMBER(stream_t, topic_link, l);
        if (sw == NULL)
            sw = sse_of(s->worker);
        if (!h2o_linklist_is_linked(&s->kick_link) && !s->sending)
            h2o_linklist_insert(&sw->kick_queue, &s->kick_link);
    }
}

static void kick_some(sse_worker_t *sw);
static void on_kick(hl_worker_t *w, hl_worker_msg_t *msg);

static void free_kick_msg(hl_msg_t *msg)
{
    free(msg);
}

/* Asks for a flush of the kick queue on the next loop iteration (a message to ourselves), once. */
static void post_kick(sse_worker_t *sw)
{
    if (h2o_linklist_is_empty(&sw->kick_queue) || sw->kick_posted)
        return;
    sw->kick_posted = true;
    hl_worker_msg_t *m = hl_malloc(sizeof(*m));
    hl_msg_init(&m->super, 1, free_kick_msg);
    m->run = on_kick;
    hl_worker_post(sw->worker, m);
}

static void on_kick(hl_worker_t *w, hl_worker_msg_t *msg)
{
    free(msg);
    sse_worker_t *sw = sse_of(w);
    sw->kick_posted = false;
    kick_some(sw);
}

/* Flushes a slice of the queued streams; the rest wait for the next loop iteration (a message to ourselves), so that
 * requests on other sockets are read between slices instead of after the whole fan-out. */
static void kick_some(sse_worker_t *sw)
{
    for (size_t n = 0; n < KICK_SLICE && !h2o_linklist_is_empty(&sw->kick_queue); ++n) {
        stream_t *s = H2O_STRUCT_FROM_MEMBER(stream_t, kick_link, sw->kick_queue.next);
        h2o_linklist_unlink(&s->kick_link);
        flush(s);
    }
    post_kick(sw);
}

static void on_broadcast(hl_worker_t *w, hl_worker_msg_t *msg)
{
    broadcast_msg_t *m = (broadcast_msg_t *)msg;
    sse_worker_t *sw = sse_of(w);
    /* append the whole batch first, then wake each affected topic once */
    topic_t *touched[64];
    size_t ntouched = 0;
    bool overflow = false;
    for (size_t i = 0; i < m->n; ++i) {
        hl_event_frame_t *f = m->frames[i];
        if (!f->run && !f->job)
            topic_append(&sw->global, f);
        topic_t *t = topic_find(sw,
                                f->job   ? HL_SSE_TOPIC_JOB
                                : f->run ? HL_SSE_TOPIC_RUN
                                         : HL_SSE_TOPIC_CONVERSATION,
                                f->conversation_id, 0);
        if (t != NULL) {
            topic_append(t, f);
            bool seen = false;
            for (size_t k = 0; k < ntouched; ++k)
                seen |= touched[k] == t;
            if (!seen) {
                if (ntouched < HL_ARRAY_SIZE(touched))
                    touched[ntouched++] = t;
                else
                    overflow = true;
            }
        }
        hl_event_frame_release(f);
    }
    kick_topic(&sw->global);
    for (size_t k = 0; k < ntouched; ++k)
        kick_topic(touched[k]);
    if (overflow) {
        for (size_t b = 0; b < TOPIC_BUCKETS; ++b)
            for (topic_t *t = sw->buckets[b]; t != NULL;) {
                topic_t *next = t->next_in_bucket;
                kick_topic(t);
                t = next;
            }
    }
    /* flush on the next loop iteration: broadcasts queued behind this one (and those arriving meanwhile) join the same
     * writev per stream */
    post_kick(sw);
    free(m->frames);
    free(m);
}

static void free_broadcast_msg(hl_msg_t *msg)
{
    broadcast_msg_t *m = (broadcast_msg_t *)msg;
    for (size_t i = 0; i < m->n; ++i)
        hl_event_frame_release(m->frames[i]);
    free(m->frames);
    free(m);
}

typedef struct st_broadcast_args_t {
    hl_event_frame_t **frames;
    size_t n;
} broadcast_args_t;

static void post_to(hl_worker_t *w, void *data)
{
    broadcast_args_t *a = data;
    broadcast_msg_t *m = hl_malloc(sizeof(*m));
    hl_msg_init(&m->super.super, 1, free_broadcast_msg);
    m->super.run = on_broadcast;
    m->n = a->n;
    m->frames = hl_malloc(sizeof(*m->frames) * (a->n ? a->n : 1));
    for (size_t i = 0; i < a->n; ++i) {
        hl_event_frame_retain(a->frames[i]);
        m->frames[i] = a->frames[i];
    }
    hl_worker_post(w, &m->super);
}

void hl_sse_publish(const hl_sse_record_t *records, size_t n)
{
    if (n == 0)
        return;
    hl_event_frame_t **frames = hl_malloc(sizeof(*frames) * n);
    for (size_t i = 0; i < n; ++i)
        frames[i] = frame_of(&records[i]);
    broadcast_args_t a = {frames, n};
    hl_server_each_worker(post_to, &a);
    for (size_t i = 0; i < n; ++i)
        hl_event_frame_release(frames[i]);
    free(frames);
}

/* ---- heartbeat and lifecycle ---- */

/* Queues the topic's idle streams for a heartbeat: they go out through the kick queue, a slice per loop turn like a
 * broadcast's frames (one pass sending to 50,000 streams held a worker for 250-400 ms every 15 s). A stream that is
 * sending needs none: its write is under way. */
static void heartbeat_topic(sse_worker_t *sw, topic_t *t)
{
    for (h2o_linklist_t *l = t->streams.next; l != &t->streams; l = l->next) {
        stream_t *s = H2O_STRUCT_FROM_MEMBER(stream_t, topic_link, l);
        if (s->req == NULL || s->sending || s->finished)
            continue;
        s->heartbeat_due = true;
        if (!h2o_linklist_is_linked(&s->kick_link))
            h2o_linklist_insert(&sw->kick_queue, &s->kick_link);
    }
}

static void on_heartbeat(h2o_timeout_entry_t *entry)
{
    sse_worker_t *sw = H2O_STRUCT_FROM_MEMBER(sse_worker_t, heartbeat, entry);
    heartbeat_topic(sw, &sw->global);
    for (size_t b = 0; b < TOPIC_BUCKETS && sw->num_streams > 0; ++b)
        for (topic_t *t = sw->buckets[b]; t != NULL; t = t->next_in_bucket)
            heartbeat_topic(sw, t);
    post_kick(sw);
    if (!hl_worker_shutting_down(sw->worker))
        h2o_timeout_link(sw->worker->loop, &sw->heartbeat_timeout, &sw->heartbeat);
}

/* ---- streams bound to their credentials ---- */

static bool credentials_hold(const stream_t *s, int64_t now)
{
    if (!s->bound)
        return true;
    bool post_seen = false;
    /* the table answers false once the token expired, was revoked or was rotated away */
    return hl_token_table_lookup(&s->token, now, INT64_MAX, &post_seen, NULL, NULL);
}

static const char CREDENTIALS_ENDED[] = ": credentials ended, reconnect with a valid token and Last-Event-ID\n\n";

typedef struct st_stream_list_t {
    stream_t **v;
    size_t n, cap;
} stream_list_t;

static void list_push(stream_list_t *l, stream_t *s)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->v = hl_realloc(l->v, l->cap * sizeof(*l->v));
    }
    l->v[l->n++] = s;
}

/* Collects a topic's live streams whose token stopped being valid, and lowers *next_expiry to the earliest expiry of the
 * others. Collected before anything ends: ending a stream may drop its topic. */
static void sweep_topic(topic_t *t, int64_t now, stream_list_t *ended, int64_t *next_expiry)
{
    for (h2o_linklist_t *l = t->streams.next; l != &t->streams; l = l->next) {
        stream_t *s = H2O_STRUCT_FROM_MEMBER(stream_t, topic_link, l);
        if (s->finished || s->req == NULL || s->finish_asked || !s->bound)
            continue;
        if (!credentials_hold(s, now))
            list_push(ended, s);
        else if (s->expires_at < *next_expiry)
            *next_expiry = s->expires_at;
    }
}

/* h2o 2.2.5 stops reading an HTTP/1.1 socket while it answers, so a client that closed its event stream would keep the
 * socket (CLOSE-WAIT) until the next heartbeat fails. One poll() over those sockets finds the ones whose peer hung up;
 * each is shut down and its stream ended, so h2o's FINAL write fails and it frees the connection now. */
static size_t end_departed_h1(const stream_list_t *h1)
{
    if (h1->n == 0)
        return 0;
    struct pollfd *fds = hl_malloc(h1->n * sizeof(*fds));
    for (size_t i = 0; i < h1->n; ++i)
        fds[i] = (struct pollfd){.fd = h2o_socket_get_fd(h1->v[i]->h1_sock), .events = POLLRDHUP};
    size_t ended = 0;
    if (poll(fds, h1->n, 0) > 0) {
        for (size_t i = 0; i < h1->n; ++i) {
            if ((fds[i].revents & (POLLRDHUP | POLLHUP | POLLERR)) == 0)
                continue;
            shutdown(fds[i].fd, SHUT_RDWR);
            h1->v[i]->h1_sock = NULL;
            if (h2o_linklist_is_linked(&h1->v[i]->h1_link))
                h2o_linklist_unlink(&h1->v[i]->h1_link);
            finish(h1->v[i], NULL);
            ++ended;
        }
    }
    free(fds);
    return ended;
}

/* Streams whose token was revoked, logged out, rotated away as reused, or expired end (the client reconnects with a
 * fresh token and Last-Event-ID and loses nothing), and so do HTTP/1.1 streams whose client left. */
static void sweep_streams(sse_worker_t *sw)
{
    int64_t now = hl_now_ms();
    stream_list_t ended = {0}, h1 = {0};
    /* a token stops being valid only by a change of the table (revocation, logout, rotation) or by its expiry: with
     * neither since the last walk, no stream needs a lookup (a walk over 50,000 streams a second is what this saves) */
    uint64_t generation = hl_token_table_generation();
    if (generation != sw->token_generation || now >= sw->next_expiry) {
        sw->token_generation = generation;
        sw->next_expiry = INT64_MAX;
        sweep_topic(&sw->global, now, &ended, &sw->next_expiry);
        for (size_t b = 0; b < TOPIC_BUCKETS; ++b)
            for (topic_t *t = sw->buckets[b]; t != NULL; t = t->next_in_bucket)
                sweep_topic(t, now, &ended, &sw->next_expiry);
        for (size_t i = 0; i < ended.n; ++i)
            finish(ended.v[i], CREDENTIALS_ENDED);
        if (ended.n > 0)
            hl_logf(HL_LOG_INFO, "sse: %zu streams ended: their access token is no longer valid", ended.n);
    }
    /* collected before any ends: ending one unlinks it */
    for (h2o_linklist_t *l = sw->h1_streams.next; l != &sw->h1_streams; l = l->next) {
        stream_t *s = H2O_STRUCT_FROM_MEMBER(stream_t, h1_link, l);
        if (!s->finished && s->req != NULL && !s->finish_asked && s->h1_sock != NULL)
            list_push(&h1, s);
    }
    size_t departed = end_departed_h1(&h1);
    if (departed > 0)
        hl_logf(HL_LOG_DEBUG, "sse: %zu HTTP/1.1 streams ended: their clients left", departed);
    free(ended.v);
    free(h1.v);
}

static void on_credentials(h2o_timeout_entry_t *entry)
{
    sse_worker_t *sw = H2O_STRUCT_FROM_MEMBER(sse_worker_t, credentials, entry);
    if (sw->num_streams > 0)
        sweep_streams(sw);
    if (!hl_worker_shutting_down(sw->worker))
        h2o_timeout_link(sw->worker->loop, &sw->credentials_timeout, &sw->credentials);
}

void hl_sse_worker_init(hl_worker_t *worker)
{
    pthread_once(&device_streams_once, init_device_streams);
    sse_worker_t *sw = hl_calloc(1, sizeof(*sw));
    sw->worker = worker;
    topic_init(sw, &sw->global, HL_SSE_TOPIC_ALL, NULL, GLOBAL_RING, GLOBAL_RING_BYTES);
    h2o_linklist_init_anchor(&sw->kick_queue);
    h2o_linklist_init_anchor(&sw->h1_streams);
    sw->token_generation = hl_token_table_generation();
    sw->next_expiry = INT64_MAX;
    h2o_timeout_init(worker->loop, &sw->heartbeat_timeout, HL_SSE_HEARTBEAT_MS);
    sw->heartbeat.cb = on_heartbeat;
    h2o_timeout_link(worker->loop, &sw->heartbeat_timeout, &sw->heartbeat);
    h2o_timeout_init(worker->loop, &sw->credentials_timeout, CREDENTIALS_CHECK_MS);
    sw->credentials.cb = on_credentials;
    h2o_timeout_link(worker->loop, &sw->credentials_timeout, &sw->credentials);
    worker->sse = (struct st_hl_sse_worker_t *)sw;
}

void hl_sse_worker_dispose(hl_worker_t *worker)
{
    sse_worker_t *sw = sse_of(worker);
    if (sw == NULL)
        return;
    h2o_timeout_unlink(&sw->heartbeat);
    h2o_timeout_dispose(worker->loop, &sw->heartbeat_timeout);
    h2o_timeout_unlink(&sw->credentials);
    h2o_timeout_dispose(worker->loop, &sw->credentials_timeout);
    topic_clear(&sw->global);
    for (size_t b = 0; b < TOPIC_BUCKETS; ++b) {
        while (sw->buckets[b] != NULL) {
            topic_t *t = sw->buckets[b];
            sw->buckets[b] = t->next_in_bucket;
            topic_clear(t);
            free(t);
        }
    }
    free(sw);
    worker->sse = NULL;
}
