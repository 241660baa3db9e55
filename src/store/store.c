/*
 * The store actor: the job every operation runs in, event appends and their broadcast after the commit, SSE history
 * pages, and start-up recovery of runs a crash left running.
 */
#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "hl/app.h"
#include "hl/clock.h"
#include "hl/ids.h"
#include "hl/log.h"
#include "hl/runproxy.h"
#include "store_internal.h"

static struct {
    int64_t next_event_id;
    /* frames committed by the current batch, broadcast once it is done */
    hl_event_frame_t **pending;
    size_t num_pending, cap_pending;
    /* content hashes whose last blob row a committed job deleted: their files go once the batch is done */
    json_t *unlink_candidates;
} state;

static const store_op_fn OPS[HL_STORE_NUM_OPS] = {
    [HL_STORE_LIST] = op_list,
    [HL_STORE_SEARCH] = op_search,
    [HL_STORE_CREATE] = op_create,
    [HL_STORE_DELETE] = op_delete,
    [HL_STORE_BULK_DELETE] = op_bulk_delete,
    [HL_STORE_MESSAGES] = op_messages,
    [HL_STORE_SEND] = op_send,
    [HL_STORE_RENAME] = op_rename,
    [HL_STORE_SET_MODEL] = op_set_model,
    [HL_STORE_SET_PROFILE] = op_set_profile,
    [HL_STORE_ARCHIVE] = op_archive,
    [HL_STORE_UNARCHIVE] = op_unarchive,
    [HL_STORE_ACK] = op_ack,
    [HL_STORE_CANCEL_RUN] = op_cancel_run,
    [HL_STORE_RESOLVE_APPROVAL] = op_resolve_approval,
    [HL_STORE_STREAM_CHECK] = op_stream_check,
    [HL_STORE_PLAN_CREATE] = op_plan_create,
    [HL_STORE_PLAN_GET] = op_plan_get,
    [HL_STORE_PLAN_EXECUTE] = op_plan_execute,
    [HL_STORE_BLOB_GET] = op_blob_get,
    [HL_STORE_BLOB_DELETE] = op_blob_delete,
    [HL_STORE_RUN_EVENT] = op_run_event,
};

/* ---- small helpers ---- */

bool hl_conversation_id_valid(const char *id)
{
    if (id == NULL || strncmp(id, "conv_", 5) != 0 || id[5] == '\0' || strlen(id) > 100)
        return false;
    for (const char *p = id + 5; *p; ++p)
        if (!isalnum((unsigned char)*p))
            return false;
    return true;
}

bool hl_blob_id_valid(const char *id)
{
    if (id == NULL || strlen(id) != 37 || strncmp(id, "blob_", 5) != 0)
        return false;
    for (const char *p = id + 5; *p; ++p)
        if (!isdigit((unsigned char)*p) && !(*p >= 'a' && *p <= 'f'))
            return false;
    return true;
}

const char *arg_str(const store_job_t *job, const char *key)
{
    return json_string_value(json_object_get(job->args, key));
}

json_int_t arg_int(const store_job_t *job, const char *key, json_int_t fallback)
{
    json_t *v = json_object_get(job->args, key);
    return json_is_integer(v) ? json_integer_value(v) : fallback;
}

char *store_new_id(const char *prefix)
{
    return hl_random_hex_id(prefix, 16);
}

json_t *store_iso(int64_t ms)
{
    char buf[HL_ISO_TIME_LEN];
    return ms != 0 ? json_string(hl_format_iso(ms, buf)) : json_null();
}

/* ---- events ---- */

static void push_frame(store_job_t *job, hl_event_frame_t *f)
{
    if (job->num_frames == job->cap_frames) {
        job->cap_frames = job->cap_frames ? job->cap_frames * 2 : 8;
        job->frames = hl_realloc(job->frames, sizeof(*job->frames) * job->cap_frames);
    }
    job->frames[job->num_frames++] = f;
}

int64_t store_event(store_job_t *job, hl_db_t *db, const char *conversation_id, const char *type, const char *message_id,
                    const char *run_id, json_t *payload)
{
    sqlite3_stmt *st = hl_db_stmt(db, "UPDATE conversations SET last_event_seq = last_event_seq + 1 WHERE id = ?1 "
                                      "RETURNING last_event_seq");
    sqlite3_bind_text(st, 1, conversation_id, -1, SQLITE_STATIC);
    int64_t seq = -1;
    if (sqlite3_step(st) == SQLITE_ROW)
        seq = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (seq < 0) {
        json_decref(payload);
        return -1;
    }
    /* a summary in the payload was built before the counter moved: it describes the conversation as of this event */
    json_t *summary = json_object_get(payload, "conversation");
    if (json_is_object(summary) && json_object_get(summary, "last_event_seq") != NULL)
        json_object_set_new(summary, "last_event_seq", json_integer(seq));
    int64_t event_id = state.next_event_id++;
    json_t *ev = json_object();
    json_object_set_new(ev, "type", json_string(type));
    if (message_id != NULL)
        json_object_set_new(ev, "message_id", json_string(message_id));
    if (run_id != NULL)
        json_object_set_new(ev, "run_id", json_string(run_id));
    json_object_set_new(ev, "payload", payload);
    json_object_set_new(ev, "seq", json_integer(seq));
    json_object_set_new(ev, "conversation_id", json_string(conversation_id));
    json_object_set_new(ev, "created_at", store_iso(job->now));
    json_object_set_new(ev, "event_id", json_integer(event_id));
    char *text = json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(ev);
    bool notify = hl_event_type_notifies(type);
    st = hl_db_stmt(
        db, "INSERT INTO events(id, conversation_id, seq, type, notify, json, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
    sqlite3_bind_int64(st, 1, event_id);
    sqlite3_bind_text(st, 2, conversation_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, seq);
    sqlite3_bind_text(st, 4, type, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 5, notify);
    sqlite3_bind_text(st, 6, text, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, job->now);
    int rc = hl_db_exec(st);
    if (rc == 0)
        push_frame(job, hl_event_frame_new(event_id, conversation_id, seq, type, notify, text, strlen(text)));
    free(text);
    return rc == 0 ? seq : -1;
}

/* ---- jobs ---- */

static int exec_job(hl_json_job_t *base, hl_db_t *db)
{
    store_job_t *job = (store_job_t *)base;
    job->now = hl_now_ms();
    int r = OPS[job->op](job, db);
    if (r != 0) {
        /* rolled back: its events never happened */
        for (size_t i = 0; i < job->num_frames; ++i)
            hl_event_frame_release(job->frames[i]);
        job->num_frames = 0;
        json_decref(job->start_runs);
        job->start_runs = NULL;
        json_decref(job->cancel_runs);
        job->cancel_runs = NULL;
        json_decref(job->approval_decisions);
        job->approval_decisions = NULL;
        json_decref(job->unlink_after_commit);
        job->unlink_after_commit = NULL;
    }
    return r;
}

static void after_commit(hl_json_job_t *base)
{
    store_job_t *job = (store_job_t *)base;
    for (size_t i = 0; i < job->num_frames; ++i) {
        if (state.num_pending == state.cap_pending) {
            state.cap_pending = state.cap_pending ? state.cap_pending * 2 : 64;
            state.pending = hl_realloc(state.pending, sizeof(*state.pending) * state.cap_pending);
        }
        state.pending[state.num_pending++] = job->frames[i];
    }
    job->num_frames = 0;
    size_t i;
    json_t *run;
    json_array_foreach(job->start_runs, i, run) hl_runproxy_start(json_incref(run));
    json_array_foreach(job->cancel_runs, i, run) hl_runproxy_cancel(json_string_value(run));
    json_array_foreach(job->approval_decisions, i, run) hl_runproxy_approval(json_incref(run));
    json_t *sha;
    json_array_foreach(job->unlink_after_commit, i, sha) json_array_append(state.unlink_candidates, sha);
}

static void dispose_job(hl_json_job_t *base)
{
    store_job_t *job = (store_job_t *)base;
    for (size_t i = 0; i < job->num_frames; ++i)
        hl_event_frame_release(job->frames[i]);
    free(job->frames);
    json_decref(job->args);
    json_decref(job->start_runs);
    json_decref(job->cancel_runs);
    json_decref(job->approval_decisions);
    json_decref(job->unlink_after_commit);
    free(job->device_id);
}

void hl_store_init_job(store_job_t *job, hl_store_op_t op, json_t *args, const char *device_id)
{
    job->super.exec = exec_job;
    job->super.after_commit = after_commit;
    job->super.dispose = dispose_job;
    job->op = op;
    job->args = args != NULL ? args : json_object();
    job->device_id = hl_strdup(device_id);
}

void hl_store_call(hl_pending_t *pending, hl_store_op_t op, json_t *args, const char *device_id)
{
    store_job_t *job = hl_json_job_new(sizeof(*job), pending, exec_job);
    hl_store_init_job(job, op, args, device_id);
    hl_db_actor_post(&hl_app.store, &job->super.super);
}

typedef struct st_then_job_t {
    store_job_t super;
    void (*done)(hl_pending_t *pending, int status, json_t *reply, void *data);
    void *data;
} then_job_t;

static void deliver_then(hl_json_job_t *base)
{
    then_job_t *job = (then_job_t *)base;
    json_t *reply = base->reply;
    base->reply = NULL;
    job->done(base->pending, base->status, reply, job->data);
}

void hl_store_call_then(hl_pending_t *pending, hl_store_op_t op, json_t *args, const char *device_id,
                        void (*done)(hl_pending_t *pending, int status, json_t *reply, void *data), void *data)
{
    then_job_t *job = hl_json_job_new(sizeof(*job), pending, exec_job);
    hl_store_init_job(&job->super, op, args, device_id);
    job->super.super.deliver = deliver_then;
    job->done = done;
    job->data = data;
    hl_db_actor_post(&hl_app.store, &job->super.super.super);
}

/* Removes blob files no row refers to any more. Checked after the whole batch, because an upload of the same content
 * in the same batch found the file present and relies on it. */
static void remove_unused_blob_files(hl_db_t *db)
{
    size_t i;
    json_t *sha;
    json_array_foreach(state.unlink_candidates, i, sha)
    {
        sqlite3_stmt *st = hl_db_stmt(db, "SELECT count(*) FROM blobs WHERE sha256 = ?1");
        sqlite3_bind_text(st, 1, json_string_value(sha), -1, SQLITE_STATIC);
        int used = sqlite3_step(st) != SQLITE_ROW || sqlite3_column_int(st, 0) > 0;
        sqlite3_reset(st);
        if (!used) {
            char *path = blob_path(json_string_value(sha));
            unlink(path);
            free(path);
        }
    }
    json_array_clear(state.unlink_candidates);
}

static void on_batch_done(hl_db_t *db)
{
    remove_unused_blob_files(db);
    if (state.num_pending == 0)
        return;
    hl_sse_broadcast(state.pending, state.num_pending);
    for (size_t i = 0; i < state.num_pending; ++i)
        hl_event_frame_release(state.pending[i]);
    state.num_pending = 0;
}

/* ---- history pages for streams ---- */

typedef struct st_replay_job_t {
    hl_db_job_t super;
    hl_worker_t *worker;
    void *stream;
    char *conversation_id;
    int64_t after;
    bool notifications_only;
    size_t limit;
    hl_event_frame_t **frames;
    size_t n;
} replay_job_t;

static int run_replay(hl_db_job_t *base, hl_db_t *db)
{
    replay_job_t *job = (replay_job_t *)base;
    sqlite3_stmt *st;
    if (job->conversation_id != NULL) {
        st = hl_db_stmt(db,
                        "SELECT id, conversation_id, seq, type, notify, json FROM events WHERE conversation_id = ?1 AND seq > ?2 "
                        "ORDER BY seq LIMIT ?3");
        sqlite3_bind_text(st, 1, job->conversation_id, -1, SQLITE_STATIC);
    } else if (job->notifications_only) {
        st = hl_db_stmt(db, "SELECT id, conversation_id, seq, type, notify, json FROM events WHERE ?1 IS NULL AND id > ?2 AND "
                            "notify = 1 ORDER BY id LIMIT ?3");
        sqlite3_bind_null(st, 1);
    } else {
        st = hl_db_stmt(db, "SELECT id, conversation_id, seq, type, notify, json FROM events WHERE ?1 IS NULL AND id > ?2 ORDER BY "
                            "id LIMIT ?3");
        sqlite3_bind_null(st, 1);
    }
    sqlite3_bind_int64(st, 2, job->after);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)job->limit);
    job->frames = hl_malloc(sizeof(*job->frames) * (job->limit ? job->limit : 1));
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && job->n < job->limit) {
        const char *json = (const char *)sqlite3_column_text(st, 5);
        job->frames[job->n++] = hl_event_frame_new(sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 1),
                                                   sqlite3_column_int64(st, 2), (const char *)sqlite3_column_text(st, 3),
                                                   sqlite3_column_int(st, 4) != 0, json, (size_t)sqlite3_column_bytes(st, 5));
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -1;
}

static void complete_replay(hl_db_job_t *base, int status)
{
    replay_job_t *job = (replay_job_t *)base;
    if (status != 0) {
        for (size_t i = 0; i < job->n; ++i)
            hl_event_frame_release(job->frames[i]);
        free(job->frames);
        hl_sse_deliver_replay(job->worker, job->stream, NULL, 0, false, true);
    } else {
        hl_sse_deliver_replay(job->worker, job->stream, job->frames, job->n, job->n == job->limit, false);
    }
    free(job->conversation_id);
    free(job);
}

void hl_store_replay(hl_worker_t *worker, void *stream, const char *conversation_id, int64_t after, bool notifications_only,
                     size_t limit)
{
    replay_job_t *job = hl_calloc(1, sizeof(*job));
    hl_db_job_init(&job->super, run_replay, complete_replay);
    job->worker = worker;
    job->stream = stream;
    job->conversation_id = hl_strdup(conversation_id);
    job->after = after;
    job->notifications_only = notifications_only;
    job->limit = limit;
    hl_db_actor_post(&hl_app.store, &job->super);
}

/* ---- start-up ---- */

/* Runs a crash left queued or running cannot resume (their upstream streams are gone): they fail, with their events, so
 * clients see an end and later messages are not stuck behind them. */
static void recover_runs(hl_db_t *db)
{
    store_job_t job = {.now = hl_now_ms()};
    sqlite3_stmt *st = hl_db_stmt(db, "SELECT id FROM runs WHERE status IN ('queued', 'running') ORDER BY rowid");
    json_t *ids = json_array();
    while (sqlite3_step(st) == SQLITE_ROW)
        json_array_append_new(ids, json_string((const char *)sqlite3_column_text(st, 0)));
    sqlite3_reset(st);
    size_t i;
    json_t *id;
    json_array_foreach(ids, i, id)
    {
        job.args = json_pack("{s:O, s:s, s:s, s:s}", "run_id", id, "type", "run.failed", "error_code", "link_restarted",
                             "error_message", "Hermes Link restarted while this run was in progress");
        job.op = HL_STORE_RUN_EVENT;
        op_run_event(&job, db);
        json_decref(job.args);
        json_decref(job.super.reply);
        job.super.reply = NULL;
    }
    if (json_array_size(ids) > 0)
        hl_logf(HL_LOG_WARN, "store: %zu runs left unfinished by the previous process were marked failed", json_array_size(ids));
    json_decref(ids);
    /* these events are stored; nobody is connected yet, so there is nothing to broadcast */
    for (size_t k = 0; k < job.num_frames; ++k)
        hl_event_frame_release(job.frames[k]);
    free(job.frames);
    json_decref(job.start_runs);
    json_decref(job.cancel_runs);
    json_decref(job.approval_decisions);
}

static int on_open(hl_db_t *db)
{
    state.unlink_candidates = json_array();
    sqlite3_stmt *st = hl_db_stmt(db, "SELECT coalesce(max(id), 0) FROM events");
    state.next_event_id = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) + 1 : 1;
    sqlite3_reset(st);
    if (sqlite3_exec(hl_db_conn(db), "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return -EIO;
    recover_runs(db);
    if (sqlite3_exec(hl_db_conn(db), "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        sqlite3_exec(hl_db_conn(db), "ROLLBACK", NULL, NULL, NULL);
        return -EIO;
    }
    return 0;
}

static void on_tick(hl_db_t *db)
{
    sqlite3_stmt *st = hl_db_stmt(db, "DELETE FROM plans WHERE expires_at <= ?1");
    sqlite3_bind_int64(st, 1, hl_now_ms());
    hl_db_exec(st);
}

static void on_close(hl_db_t *db)
{
    (void)db;
    for (size_t i = 0; i < state.num_pending; ++i)
        hl_event_frame_release(state.pending[i]);
    free(state.pending);
    json_decref(state.unlink_candidates);
    memset(&state, 0, sizeof(state));
}

int hl_store_actor_init(hl_db_actor_t *actor)
{
    static const hl_db_actor_hooks_t hooks = {
        .on_open = on_open, .on_tick = on_tick, .tick_ms = 60000, .on_close = on_close, .on_batch_done = on_batch_done};
    return hl_db_actor_init(actor, "store", hl_app.db_path, &hooks, NULL);
}
