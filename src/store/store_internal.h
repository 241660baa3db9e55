/*
 * Private to the store actor: the job every operation runs in, event appends, conversation rows and summaries.
 * Everything here runs on the store actor's thread.
 */
#ifndef HL_STORE_INTERNAL_H
#define HL_STORE_INTERNAL_H

#include <stdint.h>

#include "hl/json_job.h"
#include "hl/sse.h"
#include "hl/store.h"

#define CONV_DEFAULT_TITLE "New conversation"

typedef struct st_store_job_t {
    hl_json_job_t super;
    hl_store_op_t op;
    json_t *args;
    char *device_id;
    int64_t now;
    /* events this job appended: broadcast after the commit, dropped on rollback */
    hl_event_frame_t **frames;
    size_t num_frames, cap_frames;
    /* runs to hand to the runproxy actor after the commit: [{run_id, conversation_id, …}] */
    json_t *start_runs;
    /* run ids whose upstream run the runproxy actor should cancel after the commit */
    json_t *cancel_runs;
    /* approval decisions to forward upstream after the commit */
    json_t *approval_decisions;
    /* content hashes of blob files that may have lost their last row: checked and removed after the batch */
    json_t *unlink_after_commit;
} store_job_t;

typedef int (*store_op_fn)(store_job_t *job, hl_db_t *db);

/** Sets up a job allocated with hl_json_job_new as a store operation (callbacks, args stolen). */
void hl_store_init_job(store_job_t *job, hl_store_op_t op, json_t *args, const char *device_id);

/* operations (conv_*.c) */
int op_list(store_job_t *job, hl_db_t *db);
int op_search(store_job_t *job, hl_db_t *db);
int op_create(store_job_t *job, hl_db_t *db);
int op_delete(store_job_t *job, hl_db_t *db);
int op_bulk_delete(store_job_t *job, hl_db_t *db);
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

/* ---- arguments ---- */
const char *arg_str(const store_job_t *job, const char *key);
json_int_t arg_int(const store_job_t *job, const char *key, json_int_t fallback);

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
 * its frame for broadcast after the commit. `payload` is stolen. Returns the seq, or -1 on a database error.
 */
int64_t store_event(store_job_t *job, hl_db_t *db, const char *conversation_id, const char *type, const char *message_id,
                    const char *run_id, json_t *payload);

/** A new id: prefix + 32 lowercase hex. Caller frees. */
char *store_new_id(const char *prefix);

/** ISO-8601 string or JSON null for 0. */
json_t *store_iso(int64_t ms);

/** Soft-deletes a conversation (status, deleted_at, a conversation.deleted event). 0 or -1. */
int conv_soft_delete(store_job_t *job, hl_db_t *db, conv_row_t *row);

/** Archives an active conversation (status, archived_at, conversation.archived). 0 or -1. */
int conv_do_archive(store_job_t *job, hl_db_t *db, conv_row_t *row);

/** Starts the oldest queued run of a conversation when none is running (after a run ended). 0 or -1. */
int runs_start_next(store_job_t *job, hl_db_t *db, const char *conversation_id);

/** Blob data path for a content hash. Caller frees. */
char *blob_path(const char *sha256_hex);

#endif
