/*
 * Server-Sent Events fan-out (DESIGN §2), the SSE hub. Committed events are formatted once into refcounted frames and
 * posted in one message per batch to every worker; each worker appends the frames to its rings (one for all conversations,
 * one per conversation that has listeners on that worker) and wakes the idle streams, which send from their cursor in one
 * h2o_send with many iovecs. Rings are bounded by frames and bytes; a stream that falls behind its ring catches up from
 * the topic's source, page by page, then goes on live (a live-only stream that has sent nothing yet ends, and its client
 * resumes with Last-Event-ID): nothing is skipped or sent twice, and memory stays bounded.
 */
#ifndef HL_SSE_H
#define HL_SSE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "hl/http.h"

#define HL_SSE_HEARTBEAT_MS 15000
#define HL_SSE_RETRY_MS 3000

/**
 * One event, pre-formatted for the streams that carry it. Immutable once created; shared across threads. A conversation
 * event has heads for both kinds of conversation stream; a run frame (run) has one head, "id: <seq>\n", and the
 * upstream's data lines as its body.
 */
typedef struct st_hl_event_frame_t {
    atomic_uint refs;
    int64_t event_id;            /* global id: the `id:` of the all-conversations stream */
    int64_t seq;                 /* per-conversation seq (per-run frame number): the `id:` of a conversation (run) stream */
    const char *conversation_id; /* the topic key (conversation or run id), never truncated (points into data) */
    bool notify;                 /* passes ?mode=notifications */
    bool run;                    /* a run frame */
    bool job;                    /* a HermesLink job's status frame (HL_SSE_TOPIC_JOB) */
    bool final;                  /* a run's last frame: its streams end after it */
    h2o_iovec_t conv_head;       /* "id: <seq>\nevent: <type>\ndata: " */
    h2o_iovec_t global_head;     /* "id: <event_id>\nevent: <type>\ndata: " */
    h2o_iovec_t body;            /* "<event JSON>\n\n" */
    char data[];
} hl_event_frame_t;

/** Builds a frame (refs = 1) from the event's JSON text. Any thread. */
hl_event_frame_t *hl_event_frame_new(int64_t event_id, const char *conversation_id, int64_t seq, const char *type, bool notify,
                                     const char *json, size_t json_len);
/** Takes a reference. Any thread. */
void hl_event_frame_retain(hl_event_frame_t *f);
/** Drops a reference; frees on the last. Any thread. */
void hl_event_frame_release(hl_event_frame_t *f);

/** The kinds of topic a stream can follow. */
typedef enum en_hl_sse_topic_kind_t {
    HL_SSE_TOPIC_ALL,          /* every conversation: ids are global event ids */
    HL_SSE_TOPIC_CONVERSATION, /* one conversation (key = its id): ids are its seqs */
    HL_SSE_TOPIC_RUN,          /* one upstream run's events, relayed (key = its id): ids are frame numbers */
    HL_SSE_TOPIC_JOB,          /* a HermesLink job's status events (key = the job kind, e.g. "profile-creation"): ids are
                                  status versions */
    HL_SSE_NUM_TOPIC_KINDS
} hl_sse_topic_kind_t;

/** One stored event as a source hands it over (borrowed for the call). */
typedef struct st_hl_sse_record_t {
    int64_t event_id, seq;
    const char *key; /* conversation id (run id for a run frame) */
    const char *type;
    bool notify;
    const char *json; /* the event's JSON; for a run frame, its data lines as received ("data: …\n" each) */
    size_t json_len;
    bool run;   /* a run frame (HL_SSE_TOPIC_RUN): no event_id, type or notify */
    bool final; /* a run frame that ends its run's streams */
    bool job;   /* a job status event (HL_SSE_TOPIC_JOB): seq, type and json, no event_id */
} hl_sse_record_t;

/**
 * Where a topic kind's history comes from: read(data, key, after, notifications_only, limit, page_ctx) fetches up to `limit`
 * records after `after` (key NULL for the all-conversations kind) and answers with hl_sse_deliver_page(page_ctx, …) exactly
 * once, from any thread.
 */
typedef struct st_hl_sse_source_t {
    void (*read)(void *data, const char *key, int64_t after, bool notifications_only, size_t limit, void *page_ctx);
    void *data;
} hl_sse_source_t;

/** Sets the replay source of a topic kind. Main thread, before the server runs. */
void hl_sse_set_source(hl_sse_topic_kind_t kind, const hl_sse_source_t *source);

/** A source's answer to read(): `records` (borrowed), `more` when the page was full, `failed` when it could not read. */
void hl_sse_deliver_page(void *page_ctx, const hl_sse_record_t *records, size_t n, bool more, bool failed);

/** Formats committed events once and posts them to every worker, in commit order. Any thread (a store observer). */
void hl_sse_publish(const hl_sse_record_t *records, size_t n);

/** The client's cursor: query `after`, else the Last-Event-ID header (parseInt); -1 when absent or not a number. */
int64_t hl_sse_request_cursor(hl_request_t *r);

/**
 * Opens a relay of one upstream run's frames on `r` (HL_SSE_TOPIC_RUN): frames after `after` (-1 = all) from the run
 * topic's source, then live ones, ending after the run's final frame. Headers as the original's relay: text/event-stream
 * (charset utf-8), Cache-Control: no-store, X-Accel-Buffering: no. Worker thread; the run is known to the source.
 */
void hl_sse_open_run(hl_request_t *r, const char *run_id, int64_t after);

struct st_hl_runproxy_t;
/** Makes the run proxy the source of run topics and publishes the frames it relays. Main thread, before start. */
void hl_sse_attach_runproxy(struct st_hl_runproxy_t *runproxy);

struct st_hl_updater_t;
/** Makes the updater actor the source of the "hermes-update" and "link-update" job topics and publishes their status
 * changes. Main thread, before start. */
void hl_sse_attach_updater(struct st_hl_updater_t *updater);

struct st_hl_hermes_t;
/** Makes the Hermes files actor the source of the "profile-creation" job topic and publishes its status changes. Main
 * thread, before start. */
void hl_sse_attach_hermes(struct st_hl_hermes_t *hermes);

/**
 * Opens a job's status stream on `r` (HL_SSE_TOPIC_JOB, key e.g. "profile-creation"): the current status (when newer
 * than `after`), then each change, with heartbeats; it never ends by itself. Worker thread.
 */
void hl_sse_open_job(hl_request_t *r, const char *key, int64_t after);

struct st_hl_store_t;
/** Makes the store the source of both conversation topic kinds and publishes what it commits. Main thread, before start. */
void hl_sse_attach_store(struct st_hl_store_t *store);

/** Bytes of the frames every worker's rings hold now (a frame in two rings counts twice). Any thread; tests. */
size_t hl_sse_ring_bytes(void);

/** Per-worker set-up and tear-down of the fan-out state (server.c calls these on the worker's thread). */
void hl_sse_worker_init(hl_worker_t *worker);

/** Caps the event streams one device may hold open (over every worker); past it an open answers 429 too_many_streams.
 * Main thread, before workers start. */
void hl_sse_set_max_streams_per_device(int max);
void hl_sse_worker_dispose(hl_worker_t *worker);

/**
 * Opens an event stream on `r`: `conversation_id` NULL for all conversations (then `notifications_only` filters), else that
 * conversation; `after` = the last id the client has (-1 = none). History after it is replayed from the store, then live
 * events follow with no gap and no duplicate. Without a cursor a conversation stream replays its whole history and the
 * all-conversations stream is live only. Worker thread; the route has validated its inputs.
 */
void hl_sse_open(hl_request_t *r, const char *conversation_id, bool notifications_only, int64_t after);

#endif
