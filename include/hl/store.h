/*
 * The store (src/store/): conversations, messages, runs, events, approvals, blobs, plans and read cursors in link.db.
 * Domain layer: typed requests in, hl_result_t out (no HTTP here).
 *
 * Writes run on the store actor in group commit: every mutation and its events commit in one transaction, then the
 * result is answered and the committed events go to the observers registered at start-up (the SSE hub, the run proxy).
 * Reads (lists, search, messages, event pages, blob reads) run on reader threads with their own WAL connections, so they
 * never wait for the write lock nor hold up writes. Every request function copies what it needs, posts and returns.
 */
#ifndef HL_STORE_H
#define HL_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "hl/actor.h"
#include "hl/reply.h"

/** Longest search query, in Unicode characters (longer → 400 query_too_long before any SQL). */
#define HL_SEARCH_MAX_CHARS 256
/** Largest blob. */
#define HL_BLOB_MAX_BYTES (50 * 1024 * 1024)
/** Most ids in one bulk delete, attachments in one message. */
#define HL_STORE_MAX_BULK_IDS 1000
#define HL_STORE_MAX_ATTACHMENTS 32

typedef struct st_hl_store_t hl_store_t;

/* ---- life cycle (main thread) ---- */

/** Prepares the store on `db_path` (migrated) with blobs under `blobs_dir`. 0 or -errno. */
int hl_store_init(hl_store_t **out, const char *db_path, const char *blobs_dir) HL_WARN_UNUSED;

/** One committed event, as it is stored (borrowed for the duration of an observer call or a replay callback). */
typedef struct st_hl_event_record_t {
    int64_t event_id; /* global id, for the all-conversations stream */
    int64_t seq;      /* per-conversation seq */
    const char *conversation_id;
    const char *type;
    bool notify;      /* passes ?mode=notifications */
    const char *json; /* the whole event object as JSON */
    size_t json_len;
} hl_event_record_t;

/** A run the store wants started upstream: its ids and the upstream request (JSON at the edge: the upstream's body). */
typedef struct st_hl_run_start_t {
    const char *run_id;
    const char *conversation_id;
    json_t *request; /* {input, conversation_history, profile?, model?, session_id?, attachments?} */
} hl_run_start_t;

/** An approval decision to forward upstream. */
typedef struct st_hl_approval_decision_t {
    const char *run_id;
    const char *approval_id;
    const char *decision; /* "deny" or the approval scope */
} hl_approval_decision_t;

/** What one batch committed, handed to every observer after the COMMIT (on the store's thread; all borrowed). */
typedef struct st_hl_store_commit_t {
    const hl_event_record_t *events;
    size_t num_events;
    const hl_run_start_t *run_starts;
    size_t num_run_starts;
    const char *const *run_cancels; /* run ids whose upstream run must stop */
    size_t num_run_cancels;
    const hl_approval_decision_t *decisions;
    size_t num_decisions;
    const char *const *direct_runs; /* upstream run ids of direct runs (POST /api/v1/runs) whose end was recorded */
    size_t num_direct_runs;
} hl_store_commit_t;

/** Observer of committed batches: runs on the store's thread, must not block. */
typedef void (*hl_store_observer_fn)(void *data, const hl_store_commit_t *commit);

/** Registers an observer (before hl_store_start). */
void hl_store_observe(hl_store_t *store, hl_store_observer_fn fn, void *data);

/** Starts the store's threads (runs crash recovery first). 0 or -errno. */
int hl_store_start(hl_store_t *store) HL_WARN_UNUSED;

/** Stops the store's threads after everything queued was handled. */
void hl_store_stop(hl_store_t *store);

/** Frees the store (after hl_store_stop, or when never started). */
void hl_store_dispose(hl_store_t *store);

/**
 * The version of the store's data: it moves after every committed write, before that write's answer is sent. A read's
 * result carries the version it was read at (result->version), so an answer may be reused while this is unchanged.
 * Any thread.
 */
uint64_t hl_store_generation(hl_store_t *store);

/** The actor whose in-flight bound guards requests to the store (the HTTP layer's back-pressure). Any thread. */
hl_actor_t *hl_store_actor(hl_store_t *store);

/* ---- validation (any thread) ---- */

/** True for "conv_" + one or more of [a-zA-Z0-9], at most 100 characters in all (spec/API.md §7). */
bool hl_conversation_id_valid(const char *id);

/** True for "blob_" + 32 lowercase hex. */
bool hl_blob_id_valid(const char *id);

/* ---- requests (any thread; `device_id` is the caller's device, may be NULL; results described in spec/API.md §7) ---- */

typedef struct st_hl_conv_list_req_t {
    bool archived;      /* archived conversations instead of active ones */
    int limit;          /* 1..100 */
    const char *cursor; /* conversation id to start after, or NULL */
    const char *query;  /* search: at most HL_SEARCH_MAX_CHARS characters; NULL or "" lists */
} hl_conv_list_req_t;

void hl_store_list(hl_store_t *s, hl_reply_to_t *to, const char *device_id, const hl_conv_list_req_t *req);

/** `title` NULL = the default title ("" is kept); `profile` may be NULL. */
void hl_store_create(hl_store_t *s, hl_reply_to_t *to, const char *device_id, const char *title, const char *profile);
void hl_store_delete(hl_store_t *s, hl_reply_to_t *to, const char *device_id, const char *conversation_id);
void hl_store_bulk_delete(hl_store_t *s, hl_reply_to_t *to, const char *device_id, const char *const *ids, size_t n);
/** A page of messages, newest `limit`, before message `before` (NULL = the newest). */
/** Soft-deletes every conversation of Hermes profile `profile` (it was deleted), announcing each; {"deleted_count":n}. */
void hl_store_delete_profile_conversations(hl_store_t *s, hl_reply_to_t *to, const char *profile);
/**
 * The conversations of Hermes profile `from` follow its rename to `to_name` (deleted ones too; each live one announced
 * as conversation.updated, its updated_at kept); answers 200 with `answer` (stolen) once committed.
 */
void hl_store_rename_profile_conversations(hl_store_t *s, hl_reply_to_t *to, const char *from, const char *to_name, json_t *answer);
/**
 * GET /api/v1/profiles/:name/statistics, its store part: `answer` (stolen: {"profile","capabilities"}) gets "statistics"
 * — the conversations of Hermes profile `profile` by status (total = active + archived; deleted counted on its own), the
 * tokens, messages and runs of those not deleted, and the
 * capabilities' model and skill counts — and is the answer. For "default", conversations without a profile count too.
 */
void hl_store_profile_statistics(hl_store_t *s, hl_reply_to_t *to, const char *profile, json_t *answer);
void hl_store_messages(hl_store_t *s, hl_reply_to_t *to, const char *device_id, const char *conversation_id, int limit,
                       const char *before);

typedef struct st_hl_send_req_t {
    const char *conversation_id;
    const char *content;         /* trimmed text (may be "" with attachments) */
    const char *const *blob_ids; /* attachments: valid blob ids */
    size_t num_blob_ids;
    const char *client_message_id; /* may be NULL */
    const char *profile;           /* may be NULL */
} hl_send_req_t;

void hl_store_send(hl_store_t *s, hl_reply_to_t *to, const char *device_id, const hl_send_req_t *req);
void hl_store_rename(hl_store_t *s, hl_reply_to_t *to, const char *device_id, const char *conversation_id, const char *title);
/** `model_id` NULL or "" clears the override. */
void hl_store_set_model(hl_store_t *s, hl_reply_to_t *to, const char *device_id, const char *conversation_id, const char *model_id);
void hl_store_set_profile(hl_store_t *s, hl_reply_to_t *to, const char *device_id, const char *conversation_id,
                          const char *profile);
void hl_store_archive(hl_store_t *s, hl_reply_to_t *to, const char *device_id, const char *conversation_id, bool archive);
/** Marks read up to `last_event_seq` for the device (-1 = up to the last event). */
void hl_store_ack(hl_store_t *s, hl_reply_to_t *to, const char *device_id, const char *conversation_id, int64_t last_event_seq);
void hl_store_cancel_run(hl_store_t *s, hl_reply_to_t *to, const char *device_id, const char *conversation_id, const char *run_id);
/** Approves (with `scope`, NULL = the default) or denies a pending approval. */
void hl_store_resolve_approval(hl_store_t *s, hl_reply_to_t *to, const char *device_id, const char *conversation_id,
                               const char *approval_id, bool approve, const char *scope);
/** Whether a conversation exists and is not deleted; the result's body carries its last_event_seq. */
void hl_store_stream_check(hl_store_t *s, hl_reply_to_t *to, const char *conversation_id);

typedef enum en_hl_plan_kind_t { HL_PLAN_CLEAR, HL_PLAN_ARCHIVE } hl_plan_kind_t;

void hl_store_plan_create(hl_store_t *s, hl_reply_to_t *to, const char *device_id, hl_plan_kind_t kind,
                          const char *const *exclude_ids, size_t num_exclude);
void hl_store_plan_get(hl_store_t *s, hl_reply_to_t *to, const char *device_id, hl_plan_kind_t kind, const char *plan_id);
void hl_store_plan_execute(hl_store_t *s, hl_reply_to_t *to, const char *device_id, hl_plan_kind_t kind, const char *plan_id);

/* ---- blobs ---- */

/** Reserves one of the few uploads whose bytes may be held in memory at once; false when busy. Any thread. */
bool hl_store_upload_begin(hl_store_t *s);

/** Gives back a reservation that was not used (the upload was refused before reaching the store). Any thread. */
void hl_store_upload_abort(hl_store_t *s);

/**
 * Stores an uploaded blob: `data` (len bytes, malloc'd; ownership passes) is written to a temp file and fsynced before the
 * write transaction that links it; CREATED with {blob}. Ends the reservation taken with hl_store_upload_begin.
 */
void hl_store_put_blob(hl_store_t *s, hl_reply_to_t *to, const char *conversation_id, char *data, size_t len, const char *mime,
                       const char *filename);

/** Most files one delivery may stage (POST /internal/deliver). */
#define HL_DELIVERY_MAX_FILES 100
/** The title of the conversation deliveries go to. */
#define HL_DELIVERIES_TITLE "Deliveries"

/**
 * POST /internal/deliver (spec/API.md §17, as README documents it): stages every regular file of `staging_dir` (an
 * absolute path; the caller checked that) as a blob of the "Deliveries" conversation (created on first use, remembered in
 * link.db, brought back when archived, made anew when deleted) and announces them with one message.created of an
 * assistant message whose attachments they are. The directory must be owned by the daemon's user and not writable by
 * group or others (else INVALID delivery_staging_invalid); symbolic links and other non-regular entries are skipped; more
 * than HL_DELIVERY_MAX_FILES files → INVALID delivery_too_many_files, a file over HL_BLOB_MAX_BYTES → TOO_LARGE
 * blob_too_large, an unreadable file → INVALID delivery_file_unreadable, each with nothing staged. Files are read, and
 * blob files written and fsynced, on a reader thread before the write transaction that links them; the directory is left
 * as it was. A missing directory stages nothing. OK with {staged_count}. Ends the reservation taken with
 * hl_store_upload_begin. Any thread.
 */
void hl_store_deliver(hl_store_t *s, hl_reply_to_t *to, const char *staging_dir);

/** The bytes of a blob of a conversation (raw result with its type and file name), or NOT_FOUND blob_not_found. */
void hl_store_get_blob(hl_store_t *s, hl_reply_to_t *to, const char *conversation_id, const char *blob_id);
void hl_store_delete_blob(hl_store_t *s, hl_reply_to_t *to, const char *conversation_id, const char *blob_id);

/* ---- event history (the SSE hub's replay source) ---- */

typedef struct st_hl_event_page_req_t {
    const char *conversation_id; /* NULL: every conversation, by global id */
    int64_t after;               /* seq (or global id) the reader already has */
    bool notifications_only;
    size_t limit;
} hl_event_page_req_t;

/**
 * Reads a page of stored events on a reader thread and calls done(ctx, records, n, more, failed) there (records borrowed for
 * the call; `more` when the page was full). Any thread.
 */
void hl_store_read_events(hl_store_t *s, const hl_event_page_req_t *req,
                          void (*done)(void *ctx, const hl_event_record_t *records, size_t n, bool more, bool failed), void *ctx);

/* ---- run events (from the run proxy) ---- */

typedef enum en_hl_run_event_kind_t {
    HL_RUN_EVENT_UPSTREAM,       /* the upstream accepted the run: upstream_run_id, session_id */
    HL_RUN_EVENT_DELTA,          /* assistant text (coalesced pieces): delta */
    HL_RUN_EVENT_TOOL_STARTED,   /* tool, preview */
    HL_RUN_EVENT_TOOL_COMPLETED, /* tool, duration, tool_error */
    HL_RUN_EVENT_REASONING,      /* text */
    HL_RUN_EVENT_APPROVAL,       /* the agent waits for a decision: approval */
    HL_RUN_EVENT_COMPLETED,      /* usage (may be NULL), text (the upstream's final output, used when no delta came) */
    HL_RUN_EVENT_FAILED,         /* error_code, error_message */
    HL_RUN_EVENT_CANCELLED,      /* the upstream stopped the run */
    HL_RUN_EVENT_DECIDED,        /* the upstream has the decision on approval_id (or nothing waits for it any more) */
} hl_run_event_kind_t;

/** What the agent asks a decision about (an upstream approval request). */
typedef struct st_hl_run_approval_t {
    const char *kind;        /* e.g. "terminal_command" */
    const char *command;     /* the command or action, as the upstream shows it */
    const char *description; /* why it needs approval */
    json_t *choices;         /* array of strings (borrowed), NULL = once, session, always, deny */
} hl_run_approval_t;

typedef struct st_hl_run_event_t {
    hl_run_event_kind_t kind;
    const char *run_id;
    const char *upstream_run_id;
    const char *session_id;
    const char *delta;
    const char *tool;
    const char *preview;
    double duration; /* seconds */
    bool tool_error;
    const char *text;
    hl_run_approval_t approval;
    const char *error_code;
    const char *error_message;
    json_t *usage;           /* {input_tokens, output_tokens, total_tokens}; borrowed */
    const char *approval_id; /* HL_RUN_EVENT_DECIDED */
} hl_run_event_t;

/** A run started through POST /api/v1/runs (no conversation), as it ended: kept for statistics. */
typedef struct st_hl_direct_usage_t {
    const char *upstream_run_id;
    const char *profile; /* NULL: default */
    const char *status;  /* completed | failed | cancelled */
    int64_t input_tokens, output_tokens, total_tokens;
} hl_direct_usage_t;

/** Records (or updates) a direct run and its usage. Any thread; no answer. */
void hl_store_record_direct_run(hl_store_t *s, const hl_direct_usage_t *u);

/** A round trip through the writer that reads link.db and waits `delay_ms` there: {db_created_at, delay_ms}; with a
 * negative delay_ms it waits while the test hold (hl_store_test_hold_searches) is on, at most 30 s. (Tests.) */
void hl_store_ping(hl_store_t *s, hl_reply_to_t *to, int delay_ms);

/** Test hook: while `on`, searches wait (at most 30 s each) before they run. Returns how many wait now. (Tests.) */
unsigned hl_store_test_hold_searches(hl_store_t *s, bool on);

/** Applies a run event (copied); `to` may be NULL. Any thread. */
void hl_store_run_event(hl_store_t *s, hl_reply_to_t *to, const hl_run_event_t *ev);

#endif
