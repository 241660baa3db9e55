/*
 * Private to the store actor: the job every operation runs in, event appends, conversation rows and summaries.
 * Everything here runs on the store actor's thread.
 */
#ifndef HL_STORE_INTERNAL_H
#define HL_STORE_INTERNAL_H

#include <stdint.h>

#include <pthread.h>
#include <stdatomic.h>

#include "hl/db_readers.h"
#include "hl/json_job.h"
#include "hl/json_util.h"
#include "hl/store.h"

#define CONV_DEFAULT_TITLE "New conversation"

/* The typed arguments of every store operation: each request function fills the fields its operation reads. */
typedef struct st_store_args_t {
    char *conversation_id, *run_id, *blob_id, *approval_id, *plan_id;
    char *title, *profile, *new_profile, *model_id, *cursor, *query, *before, *content, *client_message_id, *scope;
    bool has_title; /* create: title given (even "") */
    bool archived;  /* lists: archived instead of active */
    bool approve;   /* approvals: approve (else deny) */
    int limit;      /* pages */
    int64_t seq;    /* ack: last_event_seq, -1 = the last event */
    hl_plan_kind_t plan_kind;
    char **ids; /* bulk delete: conversation ids; send: attachment blob ids; plans: excluded ids */
    size_t num_ids;
    hl_run_event_kind_t event_kind; /* run events */
    char *upstream_run_id, *session_id, *delta, *error_code, *error_message, *tool, *preview, *text;
    char *approval_kind, *approval_command, *approval_description;
    json_t *approval_choices;
    double duration;
    bool tool_error;
    json_t *usage;
    json_t *answer; /* profile statistics and rename: the answer (or its other fields), which the operation completes */
} store_args_t;

/* An owned event record: the struct and its strings in one allocation. */
typedef struct st_store_event_t {
    hl_event_record_t rec;
    char data[];
} store_event_t;

typedef struct st_store_job_t store_job_t;
typedef int (*store_op_fn)(store_job_t *job, hl_db_t *db);

struct st_store_job_t {
    hl_json_job_t super;
    hl_store_t *store;
    store_op_fn op;
    /* reads: the store's generation when the job was posted (its snapshot is at least that new) */
    uint64_t generation;
    /* frees what a larger job (one that embeds this one) owns; optional */
    void (*dispose_extra)(store_job_t *job);
    store_args_t a;
    char *device_id;
    int64_t now;
    /* events this job appended: handed to the observers after the commit, dropped on rollback */
    store_event_t **events;
    size_t num_events, cap_events;
    /* runs to start upstream after the commit: [{run_id, conversation_id, request}] */
    json_t *start_runs;
    /* run ids whose upstream run must stop after the commit */
    json_t *cancel_runs;
    /* approval decisions to forward upstream after the commit: [{run_id, approval_id, upstream_id, decision}] */
    json_t *approval_decisions;
    /* upstream run ids of direct runs whose end this job recorded (for the statistics observers) */
    json_t *direct_runs;
    /* content hashes of blob files that may have lost their last row: checked and removed after the batch */
    json_t *unlink_after_commit;
};

/* The store: its write actor, its readers, and what the current batch committed. */
struct st_hl_store_t {
    hl_db_actor_t writer;
    hl_db_readers_t *readers;  /* lists, messages, event pages, blob reads */
    hl_db_readers_t *searches; /* searches: bounded work, never ahead of the cheap reads */
    char *db_path, *blobs_dir;
    int64_t next_event_id;
    store_event_t **batch_events;
    size_t num_batch_events, cap_batch_events;
    json_t *batch_starts, *batch_cancels, *batch_decisions, *batch_direct_runs;
    json_t *unlink_candidates;
    struct {
        hl_store_observer_fn fn;
        void *data;
    } observers[4];
    size_t num_observers;
    atomic_int uploads;              /* blob uploads whose bytes are in memory */
    atomic_uint_fast64_t generation; /* moves after every committed write batch, before its answers */
    /* HermesLink's own writes (no reply: run progress, recorded usage) that a full disk or an I/O error lost, in order,
     * run again every STORE_RETRY_MS; while any waits here, newer ones queue behind it (their order is kept) */
    struct {
        pthread_mutex_t mutex;
        store_job_t **v;
        size_t n, cap;
        int64_t next_ms;
        int64_t next_sweep_ms; /* (the tick's other job: expired plans, once a minute) */
    } lost;
    /* test hook: searches wait here while held (hl_store_test_hold_searches) */
    struct {
        pthread_mutex_t mutex;
        pthread_cond_t cond;
        bool on;
        unsigned waiting;
    } search_hold;
};

/** A new job for `op` (args zeroed for the caller to fill; strings it sets are owned by the job). Any thread. */
store_job_t *store_job_new(hl_store_t *s, hl_reply_to_t *to, store_op_fn op, const char *device_id);

/** The same for a job type that embeds store_job_t first, of `size` bytes. */
store_job_t *store_job_new_sized(hl_store_t *s, hl_reply_to_t *to, store_op_fn op, const char *device_id, size_t size);

/** Test hook: waits (at most 30 s) while searches are held. A search reader's thread. */
void store_search_hold_wait(hl_store_t *s);

/** Posts a job to the writer. */
void store_post_write(store_job_t *job);

/** Posts a read-only job to the readers (or, for a search, the search readers). */
void store_post_read(store_job_t *job, bool search);

/* operations (conv_*.c) */
int op_list(store_job_t *job, hl_db_t *db);
int op_create(store_job_t *job, hl_db_t *db);
int op_delete(store_job_t *job, hl_db_t *db);
int op_bulk_delete(store_job_t *job, hl_db_t *db);
int op_delete_profile(store_job_t *job, hl_db_t *db);
int op_rename_profile(store_job_t *job, hl_db_t *db);
int op_profile_statistics(store_job_t *job, hl_db_t *db);
int op_rename(store_job_t *job, hl_db_t *db);
int op_set_model(store_job_t *job, hl_db_t *db);
int op_set_profile(store_job_t *job, hl_db_t *db);
int op_archive(store_job_t *job, hl_db_t *db);
int op_unarchive(store_job_t *job, hl_db_t *db);
int op_ack(store_job_t *job, hl_db_t *db);
int op_stream_check(store_job_t *job, hl_db_t *db);
int op_messages(store_job_t *job, hl_db_t *db);
int op_send(store_job_t *job, hl_db_t *db);
int op_cancel_run(store_job_t *job, hl_db_t *db);
int op_resolve_approval(store_job_t *job, hl_db_t *db);
int op_run_event(store_job_t *job, hl_db_t *db);
int op_plan_create(store_job_t *job, hl_db_t *db);
int op_plan_get(store_job_t *job, hl_db_t *db);
int op_plan_execute(store_job_t *job, hl_db_t *db);
int op_blob_get(store_job_t *job, hl_db_t *db);
int op_blob_delete(store_job_t *job, hl_db_t *db);
int op_ping(store_job_t *job, hl_db_t *db);
int op_direct_run(store_job_t *job, hl_db_t *db);

/* ---- conversation rows ---- */
typedef struct st_conv_row_t {
    int64_t rowid;
    char *id, *title, *status, *profile, *model_override, *model, *provider;
    int64_t last_event_seq, input_tokens, output_tokens, total_tokens, context_window;
    int64_t stats_updated_at, created_at, updated_at, archived_at, deleted_at;
} conv_row_t;

/** Loads a conversation by id: 0, or -ENOENT (also for a malformed id). */
int conv_load(hl_db_t *db, const char *id, conv_row_t *row);
void conv_row_dispose(conv_row_t *row);

/**
 * Loads a conversation for an operation and answers the common errors itself: 400 invalid_conversation_id, 404
 * conversation_not_found (missing, deleted, or — with active_only — archived). Returns 0 with *row filled, or -1.
 */
int conv_require(store_job_t *job, hl_db_t *db, const char *id, int active_only, conv_row_t *row);

/** ConversationSummary (spec/API.md §1.10) plus last_message, status and unread_count for the job's device. */
json_t *conv_summary(hl_db_t *db, const conv_row_t *row, const char *device_id);

/** Runtime (spec/API.md §1.10). */
json_t *conv_runtime(const conv_row_t *row);

/** Sets updated_at (and the row's copy). */
int conv_touch(hl_db_t *db, conv_row_t *row, int64_t now);

/** Re-reads the row (after updates). */
int conv_reload(hl_db_t *db, conv_row_t *row);

/**
 * Appends an event to a conversation in the current transaction (seq = last_event_seq + 1, a new global id) and queues
 * it for the observers after the commit. `payload` is stolen. Returns the seq, or -1 on a database error.
 */
int64_t store_event(store_job_t *job, hl_db_t *db, const char *conversation_id, const char *type, const char *message_id,
                    const char *run_id, json_t *payload);
/* A message as the API shows it (as it is now), or NULL. Any connection (writer or reader). */
json_t *store_message_json(hl_db_t *db, const char *id);

/* store_event for a streaming text update of an assistant message whose text is now text_end bytes long: observers get the
 * whole event, link.db keeps it without the text (rebuilt on replay), so an answer costs O(its length), not O(updates × length). */
int64_t store_event_text(store_job_t *job, hl_db_t *db, const char *conversation_id, const char *type, const char *message_id,
                         const char *run_id, json_t *payload, int64_t text_end);

/** True for the event types that count as notifications (unread counts, the notify column). */
bool store_type_notifies(const char *type);

/** A new id: prefix + 32 lowercase hex. Caller frees. */
char *store_new_id(const char *prefix);

/** Soft-deletes a conversation (status, deleted_at, a conversation.deleted event). 0 or -1. */
int conv_soft_delete(store_job_t *job, hl_db_t *db, conv_row_t *row);

/** Archives an active conversation (status, archived_at, conversation.archived). 0 or -1. */
int conv_do_archive(store_job_t *job, hl_db_t *db, conv_row_t *row);

/** Cancels every queued and running run of a conversation (it is going away), stopping the running one upstream. 0 or -1. */
int runs_stop_all(store_job_t *job, hl_db_t *db, const char *conversation_id);

/** Starts the oldest queued run of a conversation when none is running (after a run ended). 0 or -1. */
/* A run a crash left running upstream: handed to the run proxy to reconcile with the upstream's state (its description has
 * reconcile: true and upstream_run_id). -1 when the run has no upstream run id. */
int runs_reconcile(store_job_t *job, hl_db_t *db, const char *run_id);
int runs_start_next(store_job_t *job, hl_db_t *db, const char *conversation_id);

/** Writes a blob's file (temp file, fsync, rename; kept when the same content is already stored). 0 or -errno. */
int blob_write_file(const hl_store_t *s, const char *path, const char *data, size_t len);

/** Replaces a conversation's title in the search index. 0 or -1. */
int store_index_title(hl_db_t *db, int64_t rowid, const char *title);

/** Inserts a message (indexed for search) with no run, client id or profile. 0 or -1. */
int store_insert_message(hl_db_t *db, const char *id, const char *conv, const char *role, const char *status, const char *text,
                         int64_t now);

/** Appends a message event (`type`, e.g. message.created) carrying the message as it is now. 0 or -1. */
int store_message_event(store_job_t *job, hl_db_t *db, const char *type, const char *message_id);

/** Blob data path for a content hash. Caller frees. */
char *blob_path(const hl_store_t *s, const char *sha256_hex);

/** An owned copy of an event record. */
store_event_t *store_event_new(int64_t event_id, const char *conversation_id, int64_t seq, const char *type, bool notify,
                               const char *json, size_t json_len);

#endif
