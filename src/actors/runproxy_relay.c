/*
 * Relays of upstream run events (spec/API.md §12, GET /api/v1/runs/:id/events): the upstream allows one subscriber per
 * run, so the run proxy is that subscriber and keeps the run's frames — each upstream event's data lines as received —
 * numbered from 1, for any number of clients and for late joiners (bounded: RELAY_MAX_FRAMES / RELAY_MAX_BYTES per run,
 * RELAY_KEEP_MS after the end, RELAY_MAX runs). New frames go to the observer (the SSE hub) once per loop turn.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "hl/clock.h"
#include "hl/log.h"
#include "runproxy_internal.h"

/* The run proxy's relay bytes and count, published for the memory report: only the actor thread writes them (a plain
 * relaxed store of its own counters, no locked instruction), any thread reads. */
static atomic_size_t published_bytes, published_relays;

size_t hl_runproxy_relay_bytes(size_t *relays)
{
    if (relays != NULL)
        *relays = atomic_load_explicit(&published_relays, memory_order_relaxed);
    return atomic_load_explicit(&published_bytes, memory_order_relaxed);
}

/* Moves the proxy's count of frame bytes and publishes it with the number of relays. */
static void count_bytes(hl_runproxy_t *rp, size_t add, size_t sub)
{
    rp->relay_bytes = rp->relay_bytes + add - sub;
    atomic_store_explicit(&published_bytes, rp->relay_bytes, memory_order_relaxed);
    atomic_store_explicit(&published_relays, rp->num_relays, memory_order_relaxed);
}

static void relay_free(relay_t *rl)
{
    count_bytes(rl->rp, 0, rl->bytes);
    for (size_t i = 0; i < rl->count; ++i)
        free(rl->frames[(rl->first + i) % rl->cap]);
    free(rl->frames);
    up_cancel(rl->call);
    rp_target_dispose(&rl->target);
    hl_sse_parser_dispose(&rl->parser);
    if (rl->opening != NULL)
        hl_reply(rl->opening, hl_result_error(HL_RESULT_UNAVAILABLE, "hermes_api_server_unavailable", "The relay was dropped"));
    free(rl->profile);
    free(rl->run_id);
    free(rl);
}

static void unlink_relay(hl_runproxy_t *rp, relay_t *rl)
{
    relay_t **p = &rp->relays;
    while (*p != NULL && *p != rl)
        p = &(*p)->next;
    if (*p == rl) {
        *p = rl->next;
        rp->num_relays--;
        count_bytes(rp, 0, 0);
    }
}

relay_t *rp_relay_find(hl_runproxy_t *rp, const char *run_id)
{
    for (relay_t *rl = rp->relays; rl != NULL; rl = rl->next)
        if (strcmp(rl->run_id, run_id) == 0)
            return rl;
    return NULL;
}

/* A relay that may be freed: ended, and nothing (its own subscription, an opening, a conversation run) refers to it. */
static bool evictable(const relay_t *rl)
{
    return rl->ended && rl->call == NULL && rl->opening == NULL && !rl->fed;
}

/* Past RELAY_MAX relays or RELAY_TOTAL_BYTES: the relay that ended longest ago goes (relays of running runs stay). */
static void make_room(hl_runproxy_t *rp, size_t more_bytes)
{
    while (rp->num_relays >= RELAY_MAX || rp->relay_bytes + more_bytes > RELAY_TOTAL_BYTES) {
        relay_t *oldest = NULL;
        for (relay_t *rl = rp->relays; rl != NULL; rl = rl->next)
            if (evictable(rl) && (oldest == NULL || rl->ended_ms < oldest->ended_ms))
                oldest = rl;
        if (oldest == NULL)
            return;
        unlink_relay(rp, oldest);
        relay_free(oldest);
    }
}

relay_t *rp_relay_get(hl_runproxy_t *rp, const char *run_id)
{
    relay_t *rl = rp_relay_find(rp, run_id);
    if (rl != NULL)
        return rl;
    make_room(rp, 0);
    rl = hl_calloc(1, sizeof(*rl));
    rl->rp = rp;
    rl->run_id = hl_strdup(run_id);
    rl->cap = 64;
    rl->frames = hl_calloc(rl->cap, sizeof(*rl->frames));
    rl->next_seq = 1;
    hl_sse_parser_init(&rl->parser, RP_MAX_EVENT_BYTES);
    rl->next = rp->relays;
    rp->relays = rl;
    rp->num_relays++;
    count_bytes(rp, 0, 0);
    return rl;
}

static void drop_oldest(relay_t *rl)
{
    relay_frame_t *f = rl->frames[rl->first];
    rl->frames[rl->first] = NULL;
    rl->bytes -= f->len;
    count_bytes(rl->rp, 0, f->len);
    free(f);
    rl->first = (rl->first + 1) % rl->cap;
    rl->count--;
}

void rp_relay_append(hl_runproxy_t *rp, relay_t *rl, const char *lines, size_t len, bool final)
{
    if (rl->ended)
        return;
    while (rl->count > 0 && (rl->count >= RELAY_MAX_FRAMES || rl->bytes + len > RELAY_MAX_BYTES))
        drop_oldest(rl);
    if (rp->relay_bytes + len > RELAY_TOTAL_BYTES)
        make_room(rp, len);
    if (rl->count == rl->cap) {
        size_t cap = rl->cap * 2;
        relay_frame_t **frames = hl_calloc(cap, sizeof(*frames));
        for (size_t i = 0; i < rl->count; ++i)
            frames[i] = rl->frames[(rl->first + i) % rl->cap];
        free(rl->frames);
        rl->frames = frames;
        rl->cap = cap;
        rl->first = 0;
    }
    relay_frame_t *f = hl_malloc(sizeof(*f) + len);
    f->seq = rl->next_seq++;
    f->final = final;
    f->len = len;
    memcpy(f->lines, lines, len);
    rl->frames[(rl->first + rl->count) % rl->cap] = f;
    rl->count++;
    rl->bytes += len;
    count_bytes(rp, len, 0);
    if (final) {
        rl->ended = true;
        rl->ended_ms = hl_monotonic_ms();
    }
}

void rp_relay_end(hl_runproxy_t *rp, relay_t *rl, const char *event, const char *error)
{
    if (rl->ended)
        return;
    json_t *ev = json_pack("{s:s, s:s}", "event", event, "run_id", rl->run_id);
    if (error != NULL)
        json_object_set_new(ev, "error", json_string(error));
    char *json = json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(ev);
    char *lines = hl_asprintf("data: %s\n", json);
    rp_relay_append(rp, rl, lines, strlen(lines), true);
    free(lines);
    free(json);
}

static void publish_one(hl_runproxy_t *rp, relay_t *rl)
{
    if (rl->count == 0)
        return;
    /* frames are numbered consecutively: the first unpublished one is found directly (those dropped unpublished are gone) */
    int64_t first_seq = rl->frames[rl->first]->seq;
    size_t i = rl->published_seq + 1 > first_seq ? (size_t)(rl->published_seq + 1 - first_seq) : 0;
    if (i >= rl->count)
        return;
    size_t n = rl->count - i;
    hl_run_frame_t stack[16];
    hl_run_frame_t *out = n <= HL_ARRAY_SIZE(stack) ? stack : hl_malloc(sizeof(*out) * n);
    for (size_t k = 0; k < n; ++k) {
        relay_frame_t *f = rl->frames[(rl->first + i + k) % rl->cap];
        out[k] = (hl_run_frame_t){.run_id = rl->run_id, .seq = f->seq, .lines = f->lines, .len = f->len, .final = f->final};
    }
    rl->published_seq = out[n - 1].seq;
    if (rp->frames_fn != NULL)
        rp->frames_fn(rp->frames_data, out, n);
    if (out != stack)
        free(out);
}

static bool check_stall(hl_runproxy_t *rp, relay_t *rl);

void rp_relay_publish(hl_runproxy_t *rp)
{
    /* one walk (at most RELAY_MAX relays): new frames go out; ended relays are kept a while for late subscribers */
    uint64_t now = hl_monotonic_ms();
    for (relay_t *rl = rp->relays, *next; rl != NULL; rl = next) {
        next = rl->next;
        if (check_stall(rp, rl))
            continue; /* it relayed nothing: forgotten */
        if (rl->next_seq - 1 > rl->published_seq)
            publish_one(rp, rl);
        if (evictable(rl) && now - rl->ended_ms > RELAY_KEEP_MS) {
            unlink_relay(rp, rl);
            relay_free(rl);
        }
    }
}

void rp_relay_drop_all(hl_runproxy_t *rp)
{
    while (rp->relays != NULL) {
        relay_t *rl = rp->relays;
        unlink_relay(rp, rl);
        relay_free(rl);
    }
}

/* ---- reading kept frames (the SSE hub's replay source) ---- */

typedef struct st_read_arg_t {
    char *run_id;
    int64_t after;
    size_t limit;
    void (*done)(void *ctx, const hl_run_frame_t *frames, size_t n, bool more, bool failed);
    void *ctx;
} read_arg_t;

static void free_read(void *arg)
{
    read_arg_t *a = arg;
    a->done(a->ctx, NULL, 0, false, true);
    free(a->run_id);
    free(a);
}

static void task_read(hl_runproxy_t *rp, void *arg)
{
    read_arg_t *a = arg;
    relay_t *rl = rp_relay_find(rp, a->run_id);
    /* unknown, or the frames right after `after` are gone: the client cannot get a gapless history */
    bool failed = rl == NULL || (rl->count > 0 && rl->frames[rl->first]->seq > a->after + 1) ||
                  (rl->count == 0 && rl->next_seq > a->after + 1);
    size_t n = 0;
    hl_run_frame_t *out = NULL;
    if (!failed) {
        out = hl_malloc(sizeof(*out) * (a->limit ? a->limit : 1));
        /* frames are numbered consecutively: the one after `after` is found directly, not by a scan */
        int64_t first_seq = rl->count > 0 ? rl->frames[rl->first]->seq : rl->next_seq;
        size_t i = a->after + 1 > first_seq ? (size_t)(a->after + 1 - first_seq) : 0;
        /* a client that already has the run's last frame gets that frame again, which its stream does not resend but
         * ends on: the run is over */
        relay_frame_t *last = rl->count > 0 ? rl->frames[(rl->first + rl->count - 1) % rl->cap] : NULL;
        if (i >= rl->count && last != NULL && last->final && last->seq <= rl->published_seq)
            i = rl->count - 1;
        for (; i < rl->count && n < a->limit; ++i) {
            relay_frame_t *f = rl->frames[(rl->first + i) % rl->cap];
            /* only what was published: later frames reach the stream live, in order */
            if (f->seq > rl->published_seq)
                break;
            out[n++] = (hl_run_frame_t){.run_id = rl->run_id, .seq = f->seq, .lines = f->lines, .len = f->len, .final = f->final};
        }
    }
    a->done(a->ctx, out, n, n == a->limit, failed);
    free(out);
    free(a->run_id);
    free(a);
}

void hl_runproxy_read_frames(hl_runproxy_t *rp, const char *run_id, int64_t after, size_t limit,
                             void (*done)(void *ctx, const hl_run_frame_t *frames, size_t n, bool more, bool failed), void *ctx)
{
    read_arg_t *a = hl_malloc(sizeof(*a));
    a->run_id = hl_strdup(run_id);
    a->after = after < 0 ? 0 : after;
    a->limit = limit;
    a->done = done;
    a->ctx = ctx;
    rp_post(rp, task_read, a, free_read);
}

void hl_runproxy_observe_frames(hl_runproxy_t *rp, hl_run_frames_fn fn, void *data)
{
    rp->frames_fn = fn;
    rp->frames_data = data;
}

/* ---- a relay's own subscription (direct runs) ---- */

static int on_sse(void *data, const hl_sse_event_t *sse)
{
    relay_t *rl = data;
    json_error_t err;
    json_t *ev = json_loadb(sse->data, sse->data_len, 0, &err);
    const char *type = rp_event_type(ev);
    bool final = rp_event_terminal(type);
    /* the upstream may stay silent while an approval waits: the longer stall limit applies meanwhile */
    if (type != NULL && (strcmp(type, "approval.request") == 0 || strcmp(type, "approval.requested") == 0))
        rl->waiting_approval = true;
    else if (type != NULL && strcmp(type, "approval.responded") == 0)
        rl->waiting_approval = false;
    if (final && rl->record_usage) {
        bool completed = strcmp(type, "run.completed") == 0;
        json_t *u = completed ? rp_usage_of(ev) : NULL;
        hl_direct_usage_t usage = {.upstream_run_id = rl->run_id,
                                   .profile = rl->profile,
                                   .status = completed                         ? "completed"
                                             : strcmp(type, "run.failed") == 0 ? "failed"
                                                                               : "cancelled",
                                   .input_tokens = json_integer_value(json_object_get(u, "input_tokens")),
                                   .output_tokens = json_integer_value(json_object_get(u, "output_tokens")),
                                   .total_tokens = json_integer_value(json_object_get(u, "total_tokens"))};
        hl_store_record_direct_run(rl->rp->store, &usage);
        json_decref(u);
    }
    json_decref(ev);
    rp_relay_append(rl->rp, rl, sse->raw_data, sse->raw_data_len, final);
    return final ? 1 : 0;
}

static void answer_opening(relay_t *rl, hl_result_t *res)
{
    if (rl->opening != NULL) {
        hl_reply(rl->opening, res);
        rl->opening = NULL;
    } else {
        hl_result_free(res);
    }
}

static void on_open(void *data, long status)
{
    relay_t *rl = data;
    rl->stream_status = (int)status;
    if (status >= 200 && status < 300)
        answer_opening(rl, hl_result_ok(HL_RESULT_OK, json_pack("{s:s}", "run_id", rl->run_id)));
}

static int on_bytes(void *data, const char *bytes, size_t len)
{
    relay_t *rl = data;
    if (rl->stream_status < 200 || rl->stream_status >= 300)
        return 0;
    int ret = hl_sse_parser_feed(&rl->parser, bytes, len, on_sse, rl);
    if (ret < 0)
        rp_relay_end(rl->rp, rl, "run.failed", "Hermes sent an event larger than 4 MiB");
    return ret != 0;
}

/* The subscription is over (it ended with answer `a`, or stalled and was dropped): a waiting opening is answered; unless the run
 * ended, the relay ends with run.failed (`why`), and is forgotten if the upstream sent nothing. True when it was forgotten (freed).
 */
static bool subscription_over(relay_t *rl, const up_answer_t *a, const char *why)
{
    hl_runproxy_t *rp = rl->rp;
    rl->call = NULL;
    long status = rl->stream_status != 0 ? rl->stream_status : a->status; /* an answer without a body never opened */
    if (a->connect_failed || status == 0)
        answer_opening(rl, rp_upstream_error(a, "hermes_api_server_unavailable"));
    else if (status == 404)
        answer_opening(rl, hl_result_error(HL_RESULT_NOT_FOUND, "run_not_found", "Hermes has no events for this run"));
    else if (status < 200 || status >= 300) {
        char msg[120];
        snprintf(msg, sizeof(msg), "Hermes API Server returned HTTP %ld for the run's events", status);
        answer_opening(rl, hl_result_error(HL_RESULT_UPSTREAM, "hermes_events_unavailable", msg));
    }
    if (rl->ended)
        return false;
    bool relayed = rl->next_seq > 1;
    if (rl->record_usage) {
        hl_direct_usage_t usage = {.upstream_run_id = rl->run_id, .profile = rl->profile, .status = "failed"};
        hl_store_record_direct_run(rp->store, &usage);
    }
    rp_relay_end(rp, rl, "run.failed", why);
    if (!relayed) {
        /* nothing came from the upstream: clients that joined already get the failure now, then the relay is forgotten (a
         * later subscriber tries the upstream again) */
        publish_one(rp, rl);
        unlink_relay(rp, rl);
        relay_free(rl);
        return true;
    }
    return false;
}

static void on_end(void *data, const up_answer_t *a)
{
    (void)subscription_over(data, a, "The connection to Hermes ended before the run finished");
}

static void ignore_stop_answer(void *data, const up_answer_t *a)
{
    char *run_id = data;
    if (a->connect_failed || a->status < 200 || a->status >= 300)
        hl_logf(HL_LOG_WARN, "runproxy: stop %s: HTTP %ld", run_id, a->status);
    free(run_id);
}

/* A subscription that sent nothing (not even a keep-alive) for the stall limit is dropped as a dropped connection would
 * be, and the upstream run is asked to stop (best effort), as a conversation run's stalled stream is. True when rl was
 * freed (it relayed nothing). */
static bool check_stall(hl_runproxy_t *rp, relay_t *rl)
{
    int64_t limit = rl->waiting_approval ? rp->approval_stall_ms : rp->stall_ms;
    if (rl->call == NULL || rl->ended || up_idle_ms(rl->call) <= limit)
        return false;
    char msg[160];
    snprintf(msg, sizeof(msg), "Hermes sent nothing for %lld s", (long long)(limit / 1000));
    hl_logf(HL_LOG_WARN, "runproxy: run %s's events stalled: %s", rl->run_id, msg);
    up_cancel(rl->call);
    char *esc = up_escape(rl->run_id);
    char *path = hl_asprintf("/v1/runs/%s/stop", esc);
    up_json(rp->up, &rl->target, "POST", path, NULL, ignore_stop_answer, hl_strdup(rl->run_id));
    free(path);
    free(esc);
    up_answer_t a = {.error = msg}; /* no answer: an opening still waiting gets a 503 */
    return subscription_over(rl, &a, msg);
}

void rp_relay_subscribe(hl_runproxy_t *rp, relay_t *rl)
{
    static const up_stream_cb_t cb = {.on_open = on_open, .on_bytes = on_bytes, .on_end = on_end};
    char *esc = up_escape(rl->run_id);
    char *path = hl_asprintf("/v1/runs/%s/events", esc);
    rl->call = up_stream(rp->up, &rl->target, path, &cb, rl);
    free(path);
    free(esc);
}
