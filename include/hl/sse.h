/*
 * Server-Sent Events fan-out (DESIGN §2). The store actor formats each committed event once into a refcounted frame and
 * posts one message per batch to every worker; each worker appends the frames to its rings (one for all conversations,
 * one per conversation that has listeners on that worker) and wakes the idle streams, which send from their cursor in one
 * h2o_send with many iovecs. A stream that falls behind its ring is ended so that the client resumes with Last-Event-ID:
 * nothing is skipped silently and memory stays bounded.
 */
#ifndef HL_SSE_H
#define HL_SSE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "hl/http.h"

#define HL_SSE_HEARTBEAT_MS 15000
#define HL_SSE_RETRY_MS 3000

/** One stored event, pre-formatted for both kinds of stream. Immutable once created; shared across threads. */
typedef struct st_hl_event_frame_t {
    atomic_uint refs;
    int64_t event_id; /* global id: the `id:` of the all-conversations stream */
    int64_t seq;      /* per-conversation seq: the `id:` of a conversation stream */
    char conversation_id[48];
    bool notify;             /* passes ?mode=notifications */
    h2o_iovec_t conv_head;   /* "id: <seq>\nevent: <type>\ndata: " */
    h2o_iovec_t global_head; /* "id: <event_id>\nevent: <type>\ndata: " */
    h2o_iovec_t body;        /* "<event JSON>\n\n" */
    char data[];
} hl_event_frame_t;

/** Builds a frame (refs = 1) from the event's JSON text. Any thread. */
hl_event_frame_t *hl_event_frame_new(int64_t event_id, const char *conversation_id, int64_t seq, const char *type, bool notify,
                                     const char *json, size_t json_len);
/** Takes a reference. Any thread. */
void hl_event_frame_retain(hl_event_frame_t *f);
/** Drops a reference; frees on the last. Any thread. */
void hl_event_frame_release(hl_event_frame_t *f);

/** True for the event types the notifications mode passes. */
bool hl_event_type_notifies(const char *type);

/**
 * Posts a batch of frames to every worker (each worker gets its own references; the caller keeps its own). The frames
 * must be in commit order. Any thread (the store actor after a commit).
 */
void hl_sse_broadcast(hl_event_frame_t **frames, size_t n);

/**
 * Hands a page of history to the stream that asked for it (see hl_store_replay): `frames` (ownership passes, each with one
 * reference), `more` when the page was full, `failed` when the store could not read it. Any thread (the store actor).
 */
void hl_sse_deliver_replay(hl_worker_t *worker, void *stream, hl_event_frame_t **frames, size_t n, bool more, bool failed);

/** Per-worker set-up and tear-down of the fan-out state (server.c calls these on the worker's thread). */
void hl_sse_worker_init(hl_worker_t *worker);
void hl_sse_worker_dispose(hl_worker_t *worker);

/**
 * Opens an event stream on `r`: `conversation_id` NULL for all conversations (then `notifications_only` filters), else that
 * conversation; `after` = the last id the client has (-1 = none). History after it is replayed from the store, then live
 * events follow with no gap and no duplicate. Without a cursor a conversation stream replays its whole history and the
 * all-conversations stream is live only. Worker thread; the route has validated its inputs.
 */
void hl_sse_open(hl_request_t *r, const char *conversation_id, bool notifications_only, int64_t after);

#endif
