/*
 * The store actor (src/store/store*.c, conv_*.c): conversations, messages, runs, events, approvals, blobs, plans and read
 * cursors in link.db. Every mutation and its events commit in one transaction; replies and SSE broadcasts happen after.
 * Requests are operations with JSON arguments so that route files stay thin; every function posts and returns at once.
 */
#ifndef HL_STORE_H
#define HL_STORE_H

#include <jansson.h>
#include <stdbool.h>

#include "hl/db.h"
#include "hl/http.h"

/** Longest search query, in Unicode characters (longer → 400 query_too_long before any SQL). */
#define HL_SEARCH_MAX_CHARS 256

typedef enum {
    HL_STORE_LIST,             /* {status, limit, cursor} */
    HL_STORE_SEARCH,           /* {status, query, limit, cursor} */
    HL_STORE_CREATE,           /* {title?, profile?} */
    HL_STORE_DELETE,           /* {conversation_id} */
    HL_STORE_BULK_DELETE,      /* {conversation_ids} */
    HL_STORE_MESSAGES,         /* {conversation_id, limit, before?} */
    HL_STORE_SEND,             /* {conversation_id, content, attachments, client_message_id?, profile?} */
    HL_STORE_RENAME,           /* {conversation_id, title} */
    HL_STORE_SET_MODEL,        /* {conversation_id, model_id} */
    HL_STORE_SET_PROFILE,      /* {conversation_id, profile} */
    HL_STORE_ARCHIVE,          /* {conversation_id} */
    HL_STORE_UNARCHIVE,        /* {conversation_id} */
    HL_STORE_ACK,              /* {conversation_id, last_event_seq} */
    HL_STORE_CANCEL_RUN,       /* {conversation_id, run_id} */
    HL_STORE_RESOLVE_APPROVAL, /* {conversation_id, approval_id, decision, scope} */
    HL_STORE_STREAM_CHECK,     /* {conversation_id}: exists and not deleted (before an SSE stream opens) */
    HL_STORE_PLAN_CREATE,      /* {kind, exclude?} */
    HL_STORE_PLAN_GET,         /* {kind, plan_id} */
    HL_STORE_PLAN_EXECUTE,     /* {kind, plan_id} */
    HL_STORE_BLOB_GET,         /* {conversation_id, blob_id} */
    HL_STORE_BLOB_DELETE,      /* {conversation_id, blob_id} */
    HL_STORE_RUN_EVENT,        /* internal: {run_id, type, …} from the runproxy actor */
    HL_STORE_NUM_OPS
} hl_store_op_t;

/** Prepares the store actor on link.db. Main thread. */
int hl_store_actor_init(hl_db_actor_t *actor) HL_WARN_UNUSED;

/**
 * Runs `op` with `args` (stolen) for the authenticated device `device_id` (may be NULL) and answers `pending` (may be NULL
 * for internal operations).
 */
void hl_store_call(hl_pending_t *pending, hl_store_op_t op, json_t *args, const char *device_id);

/**
 * Like hl_store_call, but the outcome goes to `done` (on the store actor's thread, after the commit) instead of straight to
 * the client: done(pending, status, reply, data) must answer or resume `pending` and owns `reply`.
 */
void hl_store_call_then(hl_pending_t *pending, hl_store_op_t op, json_t *args, const char *device_id,
                        void (*done)(hl_pending_t *pending, int status, json_t *reply, void *data), void *data);

/** Reserves one of the few uploads whose bytes may be held in memory at once; false when busy (answer 503). Any thread. */
bool hl_store_upload_begin(void);

/** Gives back a reservation that was not used (the upload was refused before reaching the store). Any thread. */
void hl_store_upload_abort(void);

/**
 * Stores an uploaded blob for a conversation: `data` (len bytes, malloc'd; ownership passes) is written to a temp file,
 * fsynced and renamed under blobs/ by content hash. Answers 201 with the blob, or the conversation errors. Ends the
 * upload reservation taken with hl_store_upload_begin.
 */
void hl_store_put_blob(hl_pending_t *pending, const char *conversation_id, const char *data, size_t len, const char *mime,
                       const char *filename);

/** Answers the bytes of a blob of a conversation (Content-Type, Content-Disposition), or 404 blob_not_found. */
void hl_store_get_blob(hl_pending_t *pending, const char *conversation_id, const char *blob_id);

/**
 * Reads a page of stored events for a stream: of one conversation with seq > after, or (conversation_id NULL) of all
 * with global id > after, only notification types when asked; answers with hl_sse_deliver_replay. Any thread.
 */
void hl_store_replay(hl_worker_t *worker, void *stream, const char *conversation_id, int64_t after, bool notifications_only,
                     size_t limit);

/** True for "conv_" + one or more of [a-zA-Z0-9] (spec/API.md §7). */
bool hl_conversation_id_valid(const char *id);

/** True for "blob_" + 32 lowercase hex. */
bool hl_blob_id_valid(const char *id);

#endif
