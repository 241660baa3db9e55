/*
 * The store: the job every operation runs in, event appends, what a committed batch hands to the observers, event pages
 * for replay, and start-up recovery of runs a crash left running.
 */
#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hl/clock.h"
#include "hl/json_util.h"
#include "hl/fsutil.h"
#include "hl/ids.h"
#include "hl/log.h"
#include "store_internal.h"

/* readers for cheap reads, and for searches, whose work is bounded in time so that no query can hold a thread for long */
#define NUM_READERS 3
#define NUM_SEARCH_READERS 2
#define SEARCH_MAX_MS 5000
#define READ_MAX_MS 30000

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

char *store_new_id(const char *prefix)
{
    return hl_random_hex_id(prefix, 16);
}

/* ---- events ---- */

store_event_t *store_event_new(int64_t event_id, const char *conversation_id, int64_t seq, const char *type, bool notify,
                               const char *json, size_t json_len)
{
    size_t cl = strlen(conversation_id) + 1, tl = strlen(type) + 1;
    store_event_t *e = hl_malloc(sizeof(*e) + cl + tl + json_len + 1);
    char *p = e->data;
    memcpy(p, conversation_id, cl);
    e->rec.conversation_id = p;
    p += cl;
    memcpy(p, type, tl);
    e->rec.type = p;
    p += tl;
    memcpy(p, json, json_len);
    p[json_len] = '\0';
    e->rec.json = p;
    e->rec.json_len = json_len;
    e->rec.event_id = event_id;
    e->rec.seq = seq;
    e->rec.notify = notify;
    return e;
}

static void push_event(store_event_t ***list, size_t *n, size_t *cap, store_event_t *e)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        *list = hl_realloc(*list, sizeof(**list) * *cap);
    }
    (*list)[(*n)++] = e;
}

/* the event types ?mode=notifications passes (spec/API.md §7) */
bool store_type_notifies(const char *type)
{
    static const char *const types[] = {"conversation.created", "conversation.updated", "conversation.deleted", "message.created",
                                        "run.started",          "run.completed",        "run.failed",           "run.cancelled"};
    for (size_t i = 0; i < HL_ARRAY_SIZE(types); ++i)
        if (strcmp(type, types[i]) == 0)
            return true;
    return false;
}

int64_t store_event(store_job_t *job, hl_db_t *db, const char *conversation_id, const char *type, const char *message_id,
                    const char *run_id, json_t *payload)
{
    return store_event_text(job, db, conversation_id, type, message_id, run_id, payload, -1);
}

/* The stored form of a text event. message.updated (one per coalesced piece of a streaming answer) keeps only a stub —
 * the message and run ids, how many agent events the message had and whether it had reasoning — and replay rebuilds the
 * message from its row (status streaming, the first text_end bytes of its text); a reasoning.available that repeats the
 * end of the answer keeps its length; message.completed keeps the event without the text. */
static char *compact_text_event(json_t *ev, const char *type)
{
    json_t *msg = json_object_get(json_object_get(ev, "payload"), "message");
    json_t *copy;
    if (strcmp(type, "message.updated") == 0) {
        copy = json_pack("{s:s?, s:s?, s:I, s:b}", "m", json_string_value(json_object_get(ev, "message_id")), "r",
                         json_string_value(json_object_get(ev, "run_id")), "a",
                         (json_int_t)json_array_size(json_object_get(msg, "agent_events")), "h",
                         json_object_get(msg, "reasoning") != NULL);
    } else if (strcmp(type, "reasoning.available") == 0) {
        /* its text is the end of the answer, `l` bytes long, ending at text_end */
        copy = json_pack("{s:s?, s:s?, s:I}", "m", json_string_value(json_object_get(ev, "message_id")), "r",
                         json_string_value(json_object_get(ev, "run_id")), "l",
                         (json_int_t)strlen(json_string_value(json_object_get(json_object_get(ev, "payload"), "text"))));
    } else {
        /* the event itself, its text emptied while it is written out (no copy of the whole answer) */
        json_t *part = json_array_get(json_object_get(msg, "parts"), 0);
        json_t *whole = json_incref(json_object_get(part, "text"));
        if (whole != NULL)
            json_object_set_new(part, "text", json_string(""));
        char *text = json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (whole != NULL)
            json_object_set_new(part, "text", whole);
        if (text == NULL)
            hl_fatal("json_dumps failed");
        return text;
    }
    char *text = json_dumps(copy, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(copy);
    if (text == NULL)
        hl_fatal("json_dumps failed");
    return text;
}

int64_t store_event_text(store_job_t *job, hl_db_t *db, const char *conversation_id, const char *type, const char *message_id,
                         const char *run_id, json_t *payload, int64_t text_end)
{
    sqlite3_stmt *st = hl_db_stmt(db, "UPDATE conversations SET last_event_seq = last_event_seq + 1 WHERE id = ?1 "
                                      "RETURNING last_event_seq");
    sqlite3_bind_text(st, 1, conversation_id, -1, SQLITE_STATIC);
    int64_t seq = -1;
    if (hl_db_step(st) == SQLITE_ROW)
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
    int64_t event_id = job->store->next_event_id++;
    json_t *ev = json_object();
    json_object_set_new(ev, "type", json_string(type));
    if (message_id != NULL)
        json_object_set_new(ev, "message_id", json_string(message_id));
    if (run_id != NULL)
        json_object_set_new(ev, "run_id", json_string(run_id));
    json_object_set_new(ev, "payload", payload);
    json_object_set_new(ev, "seq", json_integer(seq));
    json_object_set_new(ev, "conversation_id", json_string(conversation_id));
    json_object_set_new(ev, "created_at", hl_json_iso(job->now));
    json_object_set_new(ev, "event_id", json_integer(event_id));
    char *text = json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER);
    char *stored = text_end >= 0 ? compact_text_event(ev, type) : NULL;
    json_decref(ev);
    if (text == NULL)
        hl_fatal("json_dumps failed");
    bool notify = store_type_notifies(type);
    st = hl_db_stmt(db, "INSERT INTO events(id, conversation_id, seq, type, notify, json, created_at, text_end) VALUES (?1, "
                        "?2, ?3, ?4, ?5, ?6, ?7, ?8)");
    sqlite3_bind_int64(st, 1, event_id);
    sqlite3_bind_text(st, 2, conversation_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, seq);
    sqlite3_bind_text(st, 4, type, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 5, notify);
    sqlite3_bind_text(st, 6, stored != NULL ? stored : text, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, job->now);
    if (text_end >= 0)
        sqlite3_bind_int64(st, 8, text_end);
    int rc = hl_db_exec(st);
    free(stored);
    if (rc == 0)
        push_event(&job->events, &job->num_events, &job->cap_events,
                   store_event_new(event_id, conversation_id, seq, type, notify, text, strlen(text)));
    free(text);
    return rc == 0 ? seq : -1;
}

/* ---- jobs ---- */

static void free_strv(char **v, size_t n)
{
    for (size_t i = 0; i < n; ++i)
        free(v[i]);
    free(v);
}

static void drop_effects(store_job_t *job)
{
    for (size_t i = 0; i < job->num_events; ++i)
        free(job->events[i]);
    job->num_events = 0;
    json_decref(job->start_runs);
    json_decref(job->cancel_runs);
    json_decref(job->approval_decisions);
    json_decref(job->direct_runs);
    json_decref(job->unlink_after_commit);
    job->start_runs = job->cancel_runs = job->approval_decisions = job->direct_runs = job->unlink_after_commit = NULL;
}

static int exec_job(hl_json_job_t *base, hl_db_t *db)
{
    store_job_t *job = (store_job_t *)base;
    job->now = hl_now_ms();
    int r = job->op(job, db);
    if (r != 0)
        drop_effects(job); /* rolled back: its events never happened */
    else if (job->generation != 0 && base->result != NULL)
        base->result->version = job->generation; /* a read: valid until the next commit */
    return r;
}

static void append_all(json_t **to, json_t *from)
{
    if (from == NULL)
        return;
    if (*to == NULL)
        *to = json_array();
    json_array_extend(*to, from);
}

static void after_commit(hl_json_job_t *base)
{
    store_job_t *job = (store_job_t *)base;
    hl_store_t *s = job->store;
    for (size_t i = 0; i < job->num_events; ++i)
        push_event(&s->batch_events, &s->num_batch_events, &s->cap_batch_events, job->events[i]);
    job->num_events = 0;
    append_all(&s->batch_starts, job->start_runs);
    append_all(&s->batch_cancels, job->cancel_runs);
    append_all(&s->batch_decisions, job->approval_decisions);
    append_all(&s->batch_direct_runs, job->direct_runs);
    append_all(&s->unlink_candidates, job->unlink_after_commit);
}

static void dispose_job(hl_json_job_t *base)
{
    store_job_t *job = (store_job_t *)base;
    store_args_t *a = &job->a;
    if (job->dispose_extra != NULL)
        job->dispose_extra(job);
    drop_effects(job);
    free(job->events);
    free(job->device_id);
    char *strs[] = {a->conversation_id,
                    a->run_id,
                    a->blob_id,
                    a->approval_id,
                    a->plan_id,
                    a->title,
                    a->profile,
                    a->new_profile,
                    a->model_id,
                    a->cursor,
                    a->query,
                    a->before,
                    a->content,
                    a->client_message_id,
                    a->scope,
                    a->upstream_run_id,
                    a->delta,
                    a->error_code,
                    a->error_message,
                    a->session_id,
                    a->tool,
                    a->preview,
                    a->text,
                    a->approval_kind,
                    a->approval_command,
                    a->approval_description};
    for (size_t i = 0; i < HL_ARRAY_SIZE(strs); ++i)
        free(strs[i]);
    free_strv(a->ids, a->num_ids);
    json_decref(a->usage);
    json_decref(a->answer);
    json_decref(a->approval_choices);
}

/* ---- HermesLink's own writes that were lost ---- */

#define STORE_RETRY_MS 500

static void push_lost(hl_store_t *s, store_job_t *job)
{
    if (s->lost.n == s->lost.cap) {
        s->lost.cap = s->lost.cap ? s->lost.cap * 2 : 16;
        s->lost.v = hl_realloc(s->lost.v, s->lost.cap * sizeof(*s->lost.v));
    }
    s->lost.v[s->lost.n++] = job;
}

/* on_lost of a job without a reply (the writer's thread): it waits to run again; a run's progress must never vanish */
static void park_lost(hl_json_job_t *base)
{
    store_job_t *job = (store_job_t *)base;
    hl_store_t *s = job->store;
    drop_effects(job); /* it runs again from the start */
    pthread_mutex_lock(&s->lost.mutex);
    if (s->lost.n == 0) {
        s->lost.next_ms = (int64_t)hl_monotonic_ms() + STORE_RETRY_MS;
        hl_log(HL_LOG_WARN, "a write of HermesLink's own failed (disk full or an I/O error); retrying until it succeeds", NULL);
    }
    push_lost(s, job);
    pthread_mutex_unlock(&s->lost.mutex);
}

/* Posts the lost writes again, in order, when their time has come (the writer's thread: its tick and after batches). */
static void retry_lost(hl_store_t *s)
{
    pthread_mutex_lock(&s->lost.mutex);
    if (s->lost.n > 0 && (int64_t)hl_monotonic_ms() >= s->lost.next_ms) {
        for (size_t i = 0; i < s->lost.n; ++i)
            hl_db_actor_post(&s->writer, &s->lost.v[i]->super.super);
        s->lost.n = 0;
    }
    pthread_mutex_unlock(&s->lost.mutex);
}

store_job_t *store_job_new_sized(hl_store_t *s, hl_reply_to_t *to, store_op_fn op, const char *device_id, size_t size)
{
    store_job_t *job = hl_json_job_new(size, to, exec_job);
    job->op = op;
    job->store = s;
    job->super.after_commit = after_commit;
    job->super.dispose = dispose_job;
    if (to == NULL)
        job->super.on_lost = park_lost;
    job->device_id = hl_strdup(device_id);
    return job;
}

store_job_t *store_job_new(hl_store_t *s, hl_reply_to_t *to, store_op_fn op, const char *device_id)
{
    return store_job_new_sized(s, to, op, device_id, sizeof(store_job_t));
}

void store_post_write(store_job_t *job)
{
    hl_store_t *s = job->store;
    if (job->super.reply_to == NULL) {
        /* behind the lost ones, if any: HermesLink's own writes keep their order */
        pthread_mutex_lock(&s->lost.mutex);
        int queued = s->lost.n > 0;
        if (queued)
            push_lost(s, job);
        pthread_mutex_unlock(&s->lost.mutex);
        if (queued)
            return;
    }
    hl_db_actor_post(&s->writer, &job->super.super);
}

void store_post_read(store_job_t *job, bool search)
{
    /* a read commits nothing: nothing for the observers */
    job->super.after_commit = NULL;
    /* read before the snapshot is taken: an answer cached under it is dropped by the next commit, never kept stale */
    job->generation = hl_store_generation(job->store);
    hl_db_readers_post(search ? job->store->searches : job->store->readers, &job->super.super);
}

/* ---- test hooks ---- */

void store_search_hold_wait(hl_store_t *s)
{
    pthread_mutex_lock(&s->search_hold.mutex);
    if (s->search_hold.on) {
        struct timespec deadline;
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += 30;
        ++s->search_hold.waiting;
        pthread_cond_broadcast(&s->search_hold.cond);
        while (s->search_hold.on && pthread_cond_timedwait(&s->search_hold.cond, &s->search_hold.mutex, &deadline) == 0)
            ;
        --s->search_hold.waiting;
    }
    pthread_mutex_unlock(&s->search_hold.mutex);
}

unsigned hl_store_test_hold_searches(hl_store_t *s, bool on)
{
    pthread_mutex_lock(&s->search_hold.mutex);
    s->search_hold.on = on;
    pthread_cond_broadcast(&s->search_hold.cond);
    unsigned waiting = s->search_hold.waiting;
    pthread_mutex_unlock(&s->search_hold.mutex);
    return waiting;
}

/* ---- a round trip (tests) ---- */

int op_ping(store_job_t *job, hl_db_t *db)
{
    sqlite3_stmt *st = hl_db_stmt(db, "SELECT value FROM meta WHERE key = 'created_at'");
    char *created_at = hl_db_step(st) == SQLITE_ROW ? hl_db_text(st, 0) : NULL;
    sqlite3_reset(st);
    if (created_at == NULL)
        return -1;
    if (job->a.limit < 0) {
        store_search_hold_wait(job->store); /* held by the test until it lets go */
    } else if (job->a.limit > 0) {
        struct timespec ts = {job->a.limit / 1000, (job->a.limit % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    json_t *body = json_pack("{s:s, s:i}", "db_created_at", created_at, "delay_ms", job->a.limit);
    free(created_at);
    return hl_json_job_ok(&job->super, HL_RESULT_OK, body);
}

/* ---- after each batch ---- */

/* Removes blob files no row refers to any more. Checked after the whole batch, because an upload of the same content
 * in the same batch found the file present and relies on it. */
static void remove_unused_blob_files(hl_store_t *s, hl_db_t *db)
{
    size_t i;
    json_t *sha;
    json_array_foreach(s->unlink_candidates, i, sha)
    {
        sqlite3_stmt *st = hl_db_stmt(db, "SELECT count(*) FROM blobs WHERE sha256 = ?1");
        sqlite3_bind_text(st, 1, json_string_value(sha), -1, SQLITE_STATIC);
        int used = hl_db_step(st) != SQLITE_ROW || sqlite3_column_int(st, 0) > 0;
        sqlite3_reset(st);
        if (!used) {
            char *path = blob_path(s, json_string_value(sha));
            unlink(path);
            free(path);
        }
    }
    json_array_clear(s->unlink_candidates);
}

/* Hands what the batch committed to every observer, in commit order, then forgets it. */
static void notify_observers(hl_store_t *s)
{
    size_t ne = s->num_batch_events, ns = json_array_size(s->batch_starts), nc = json_array_size(s->batch_cancels),
           nd = json_array_size(s->batch_decisions), nr = json_array_size(s->batch_direct_runs);
    if (ne + ns + nc + nd + nr == 0)
        return;
    hl_event_record_t *events = hl_malloc(sizeof(*events) * (ne ? ne : 1));
    hl_run_start_t *starts = hl_malloc(sizeof(*starts) * (ns ? ns : 1));
    const char **cancels = hl_malloc(sizeof(*cancels) * (nc ? nc : 1));
    hl_approval_decision_t *decisions = hl_malloc(sizeof(*decisions) * (nd ? nd : 1));
    const char **direct = hl_malloc(sizeof(*direct) * (nr ? nr : 1));
    for (size_t i = 0; i < nr; ++i)
        direct[i] = json_string_value(json_array_get(s->batch_direct_runs, i));
    for (size_t i = 0; i < ne; ++i)
        events[i] = s->batch_events[i]->rec;
    for (size_t i = 0; i < ns; ++i) {
        json_t *r = json_array_get(s->batch_starts, i);
        starts[i] = (hl_run_start_t){.run_id = json_string_value(json_object_get(r, "run_id")),
                                     .conversation_id = json_string_value(json_object_get(r, "conversation_id")),
                                     .request = r};
    }
    for (size_t i = 0; i < nc; ++i)
        cancels[i] = json_string_value(json_array_get(s->batch_cancels, i));
    for (size_t i = 0; i < nd; ++i) {
        json_t *d = json_array_get(s->batch_decisions, i);
        decisions[i] = (hl_approval_decision_t){.run_id = json_string_value(json_object_get(d, "run_id")),
                                                .approval_id = json_string_value(json_object_get(d, "approval_id")),
                                                .decision = json_string_value(json_object_get(d, "decision"))};
    }
    hl_store_commit_t c = {.events = events,
                           .num_events = ne,
                           .run_starts = starts,
                           .num_run_starts = ns,
                           .run_cancels = cancels,
                           .num_run_cancels = nc,
                           .decisions = decisions,
                           .num_decisions = nd,
                           .direct_runs = direct,
                           .num_direct_runs = nr};
    for (size_t i = 0; i < s->num_observers; ++i)
        s->observers[i].fn(s->observers[i].data, &c);
    free(events);
    free(starts);
    free(cancels);
    free(decisions);
    free(direct);
    for (size_t i = 0; i < ne; ++i)
        free(s->batch_events[i]);
    s->num_batch_events = 0;
    json_array_clear(s->batch_starts);
    json_array_clear(s->batch_cancels);
    json_array_clear(s->batch_decisions);
    json_array_clear(s->batch_direct_runs);
}

static void on_committed(hl_db_t *db)
{
    hl_store_t *s = hl_db_data(db);
    atomic_fetch_add(&s->generation, 1);
}

uint64_t hl_store_generation(hl_store_t *s)
{
    return atomic_load(&s->generation);
}

static void on_batch_done(hl_db_t *db)
{
    hl_store_t *s = hl_db_data(db);
    remove_unused_blob_files(s, db);
    notify_observers(s);
    retry_lost(s);
}

/* ---- event pages (replay) ---- */

typedef struct st_page_job_t {
    hl_db_job_t super;
    hl_event_page_req_t req;
    char *conversation_id;
    void (*done)(void *ctx, const hl_event_record_t *records, size_t n, bool more, bool failed);
    void *ctx;
    store_event_t **events;
    size_t n, cap;
} page_job_t;

/* The message a page's compact text events were cut from, built once per page for a run of its events (a replay of one
 * long answer is hundreds of them): the message as it is now, its text whole. */
typedef struct st_message_cache_t {
    char *id;
    json_t *msg;
} message_cache_t;

static json_t *cached_message(hl_db_t *db, message_cache_t *c, const char *id)
{
    if (c->id == NULL || strcmp(c->id, id) != 0) {
        free(c->id);
        json_decref(c->msg);
        c->id = hl_strdup(id);
        c->msg = store_message_json(db, id);
    }
    return c->msg;
}

static void message_cache_dispose(message_cache_t *c)
{
    free(c->id);
    json_decref(c->msg);
}

/* `len` bytes of the message's text from byte `from` (clamped to the text), as a JSON string. */
static json_t *text_slice(json_t *msg, int64_t from, int64_t len)
{
    json_t *text = json_object_get(json_array_get(json_object_get(msg, "parts"), 0), "text");
    int64_t size = (int64_t)json_string_length(text);
    from = from < 0 ? 0 : from > size ? size : from;
    len = len < 0 ? 0 : len > size - from ? size - from : len;
    return json_stringn(json_string_value(text) + from, (size_t)len);
}

/* The envelope of a stored event row (id, conversation_id, seq, type, …, created_at) around `payload` (taken). */
static json_t *event_envelope(sqlite3_stmt *row, const char *message_id, const char *run_id, json_t *payload)
{
    char when[32];
    hl_format_iso(sqlite3_column_int64(row, 7), when);
    return json_pack("{s:s, s:s, s:s?, s:o, s:I, s:s, s:s, s:I}", "type", (const char *)sqlite3_column_text(row, 3), "message_id",
                     message_id, "run_id", run_id, "payload", payload, "seq", (json_int_t)sqlite3_column_int64(row, 2),
                     "conversation_id", (const char *)sqlite3_column_text(row, 1), "created_at", when, "event_id",
                     (json_int_t)sqlite3_column_int64(row, 0));
}

/* A message.updated stub's message: as it was while it streamed (agent events, reasoning and approvals of then). */
static json_t *streaming_message(json_t *now, json_t *stub, const char *when)
{
    json_t *msg = json_deep_copy(now);
    json_object_set_new(msg, "status", json_string("streaming"));
    json_object_set_new(msg, "updated_at", json_string(when));
    if (!json_is_true(json_object_get(stub, "h")))
        json_object_del(msg, "reasoning"); /* it came later */
    json_t *ae = json_object_get(msg, "agent_events");
    size_t keep = (size_t)json_integer_value(json_object_get(stub, "a"));
    while (json_array_size(ae) > keep)
        json_array_remove(ae, json_array_size(ae) - 1);
    json_t *kept = json_array(), *a;
    size_t i;
    json_array_foreach(json_object_get(msg, "approvals"), i, a)
    {
        const char *at = json_string_value(json_object_get(a, "created_at"));
        if (at != NULL && strcmp(at, when) <= 0) {
            json_t *c = json_deep_copy(a);
            json_object_set_new(c, "status", json_string("pending")); /* undecided then */
            json_object_del(c, "decision");
            json_object_del(c, "resolved_at");
            json_array_append_new(kept, c);
        }
    }
    json_object_set_new(msg, "approvals", kept);
    return msg;
}

/* A compact text event (text_end set) made whole again: the message's text now, cut to text_end bytes. */
static char *expand_text_event(hl_db_t *db, message_cache_t *cache, sqlite3_stmt *row, int64_t text_end)
{
    json_t *stored = json_loads((const char *)sqlite3_column_text(row, 5), 0, NULL), *ev = NULL, *msg = NULL;
    const char *mid = json_string_value(json_object_get(stored, "m")), *run_id = json_string_value(json_object_get(stored, "r"));
    json_t *now = mid != NULL ? cached_message(db, cache, mid) : NULL;
    if (mid != NULL && now == NULL) {
        ev = NULL;
    } else if (mid != NULL && json_is_integer(json_object_get(stored, "l"))) {
        /* a reasoning.available that repeated the end of the answer: `l` bytes ending at text_end */
        json_int_t l = json_integer_value(json_object_get(stored, "l"));
        json_t *text = text_slice(now, text_end - l, l);
        ev = text == NULL ? NULL : event_envelope(row, mid, run_id, json_pack("{s:s?, s:o}", "run_id", run_id, "text", text));
    } else if (mid != NULL) {
        /* a message.updated stub: the message as it was while it streamed, its text cut to text_end */
        char when[32];
        hl_format_iso(sqlite3_column_int64(row, 7), when);
        msg = streaming_message(now, stored, when);
        json_t *text = text_slice(now, 0, text_end);
        json_t *part = json_array_get(json_object_get(msg, "parts"), 0);
        if (text != NULL && json_is_object(part)) {
            json_object_set_new(part, "text", text);
            ev = event_envelope(row, mid, run_id, json_pack("{s:o}", "message", msg));
        } else {
            json_decref(text);
            json_decref(msg);
        }
    } else {
        /* stored whole but for its text (message.completed) */
        ev = json_incref(stored);
        msg = json_object_get(json_object_get(ev, "payload"), "message");
        json_t *part = json_array_get(json_object_get(msg, "parts"), 0);
        const char *id = json_string_value(json_object_get(msg, "id"));
        json_t *whole = id != NULL ? cached_message(db, cache, id) : NULL;
        json_t *text = whole != NULL ? text_slice(whole, 0, text_end) : NULL;
        if (text == NULL || !json_is_object(part)) {
            json_decref(text);
            json_decref(ev);
            ev = NULL;
        } else {
            json_object_set_new(part, "text", text);
        }
    }
    json_decref(stored);
    if (ev == NULL)
        return NULL;
    char *out = json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(ev);
    return out;
}

static int run_page(hl_db_job_t *base, hl_db_t *db)
{
    page_job_t *job = (page_job_t *)base;
    sqlite3_stmt *st;
    if (job->conversation_id != NULL) {
        st = hl_db_stmt(db, "SELECT id, conversation_id, seq, type, notify, json, text_end, created_at FROM events WHERE "
                            "conversation_id = ?1 AND seq > ?2 "
                            "ORDER BY seq LIMIT ?3");
        sqlite3_bind_text(st, 1, job->conversation_id, -1, SQLITE_STATIC);
    } else if (job->req.notifications_only) {
        st = hl_db_stmt(db, "SELECT id, conversation_id, seq, type, notify, json, text_end, created_at FROM events WHERE ?1 IS "
                            "NULL AND id > ?2 AND "
                            "notify = 1 ORDER BY id LIMIT ?3");
        sqlite3_bind_null(st, 1);
    } else {
        st = hl_db_stmt(db, "SELECT id, conversation_id, seq, type, notify, json, text_end, created_at FROM events WHERE ?1 IS "
                            "NULL AND id > ?2 ORDER BY "
                            "id LIMIT ?3");
        sqlite3_bind_null(st, 1);
    }
    sqlite3_bind_int64(st, 2, job->req.after);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)job->req.limit);
    int ret = 0;
    message_cache_t cache = {NULL, NULL};
    while (job->n < job->req.limit && hl_db_step(st) == SQLITE_ROW) {
        const char *json = (const char *)sqlite3_column_text(st, 5);
        size_t len = (size_t)sqlite3_column_bytes(st, 5);
        char *expanded = NULL;
        if (sqlite3_column_type(st, 6) != SQLITE_NULL) {
            expanded = expand_text_event(db, &cache, st, sqlite3_column_int64(st, 6));
            if (expanded == NULL) {
                ret = -1;
                break;
            }
            json = expanded;
            len = strlen(expanded);
        }
        push_event(&job->events, &job->n, &job->cap,
                   store_event_new(sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 1),
                                   sqlite3_column_int64(st, 2), (const char *)sqlite3_column_text(st, 3),
                                   sqlite3_column_int(st, 4) != 0, json, len));
        free(expanded);
    }
    sqlite3_reset(st);
    message_cache_dispose(&cache);
    return ret;
}

static void complete_page(hl_db_job_t *base, int status)
{
    page_job_t *job = (page_job_t *)base;
    hl_event_record_t *recs = hl_malloc(sizeof(*recs) * (job->n ? job->n : 1));
    for (size_t i = 0; i < job->n; ++i)
        recs[i] = job->events[i]->rec;
    if (status != 0)
        job->done(job->ctx, NULL, 0, false, true);
    else
        job->done(job->ctx, recs, job->n, job->n == job->req.limit, false);
    free(recs);
    for (size_t i = 0; i < job->n; ++i)
        free(job->events[i]);
    free(job->events);
    free(job->conversation_id);
    free(job);
}

void hl_store_read_events(hl_store_t *s, const hl_event_page_req_t *req,
                          void (*done)(void *ctx, const hl_event_record_t *records, size_t n, bool more, bool failed), void *ctx)
{
    page_job_t *job = hl_calloc(1, sizeof(*job));
    hl_db_job_init(&job->super, run_page, complete_page);
    job->req = *req;
    job->conversation_id = hl_strdup(req->conversation_id);
    job->req.conversation_id = job->conversation_id;
    job->done = done;
    job->ctx = ctx;
    hl_db_readers_post(s->readers, &job->super);
}

/* ---- start-up ---- */

/* A job of the start-up recovery: its events are in link.db for replay (nobody is connected yet), the runs it hands over
 * join the batch the observers get after the COMMIT. */
static store_job_t *recovery_job(hl_store_t *s)
{
    store_job_t *job = store_job_new(s, NULL, op_run_event, NULL);
    job->now = hl_now_ms();
    return job;
}

static void recovery_job_done(hl_store_t *s, store_job_t *job)
{
    append_all(&s->batch_starts, job->start_runs);
    hl_result_free(job->super.result);
    job->super.result = NULL;
    dispose_job(&job->super);
    free(job);
}

/* What a crash left unfinished. A run that was running upstream is handed to the run proxy, which asks the upstream how it
 * went (and follows it to its end); one that never reached the upstream fails (link_restarted), with its events. Queued
 * runs stay queued: each conversation without a running run starts its next one, so no sent message is lost. */
static int recover_runs(hl_store_t *s, hl_db_t *db)
{
    sqlite3_stmt *st = hl_db_stmt(db, "SELECT id, upstream_run_id IS NOT NULL FROM runs WHERE status = 'running' ORDER BY rowid");
    json_t *running = json_array();
    while (hl_db_step(st) == SQLITE_ROW)
        json_array_append_new(running, json_pack("{s:s, s:b}", "id", (const char *)sqlite3_column_text(st, 0), "upstream",
                                                 sqlite3_column_int(st, 1)));
    sqlite3_reset(st);
    size_t i, failed = 0, reconciled = 0, started = 0;
    json_t *r;
    int ret = 0;
    json_array_foreach(running, i, r)
    {
        store_job_t *job = recovery_job(s);
        job->a.run_id = hl_strdup(json_string_value(json_object_get(r, "id")));
        if (json_is_true(json_object_get(r, "upstream")) && runs_reconcile(job, db, job->a.run_id) == 0) {
            reconciled++;
        } else {
            job->a.event_kind = HL_RUN_EVENT_FAILED;
            job->a.error_code = hl_strdup("link_restarted");
            job->a.error_message = hl_strdup("Hermes Link restarted before this run reached Hermes");
            ret |= op_run_event(job, db);
            failed++;
        }
        recovery_job_done(s, job);
    }
    json_decref(running);
    st = hl_db_stmt(db, "SELECT DISTINCT conversation_id FROM runs WHERE status = 'queued' AND conversation_id NOT IN "
                        "(SELECT conversation_id FROM runs WHERE status = 'running')");
    json_t *convs = json_array();
    while (hl_db_step(st) == SQLITE_ROW)
        json_array_append_new(convs, json_string((const char *)sqlite3_column_text(st, 0)));
    sqlite3_reset(st);
    json_array_foreach(convs, i, r)
    {
        store_job_t *job = recovery_job(s);
        ret |= runs_start_next(job, db, json_string_value(r));
        started += json_array_size(job->start_runs);
        recovery_job_done(s, job);
    }
    json_decref(convs);
    if (failed + reconciled + started > 0)
        hl_logf(HL_LOG_WARN,
                "store: runs left unfinished by the previous process: %zu reconciled with Hermes, %zu failed, %zu "
                "queued started",
                reconciled, failed, started);
    return ret;
}

static int on_open(hl_db_t *db)
{
    hl_store_t *s = hl_db_data(db);
    sqlite3_stmt *st = hl_db_stmt(db, "SELECT coalesce(max(id), 0) FROM events");
    if (st == NULL || hl_db_step(st) != SQLITE_ROW)
        return -EIO;
    s->next_event_id = sqlite3_column_int64(st, 0) + 1;
    sqlite3_reset(st);
    if (sqlite3_exec(hl_db_conn(db), "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return -EIO;
    if (recover_runs(s, db) != 0 || sqlite3_exec(hl_db_conn(db), "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        sqlite3_exec(hl_db_conn(db), "ROLLBACK", NULL, NULL, NULL);
        json_array_clear(s->batch_starts);
        return -EIO;
    }
    notify_observers(s); /* the runs recovery handed over (no events: nobody is connected yet) */
    return 0;
}

/* every STORE_TICK_MS: lost writes run again when due; expired plans go once a minute */
#define STORE_TICK_MS 1000

static void on_tick(hl_db_t *db)
{
    hl_store_t *s = hl_db_data(db);
    retry_lost(s);
    int64_t now = (int64_t)hl_monotonic_ms();
    if (now < s->lost.next_sweep_ms)
        return;
    s->lost.next_sweep_ms = now + 60000;
    sqlite3_stmt *st = hl_db_stmt(db, "DELETE FROM plans WHERE expires_at <= ?1");
    sqlite3_bind_int64(st, 1, hl_now_ms());
    hl_db_exec(st);
}

static void on_close(hl_db_t *db)
{
    hl_store_t *s = hl_db_data(db);
    for (size_t i = 0; i < s->num_batch_events; ++i)
        free(s->batch_events[i]);
    s->num_batch_events = 0;
}

/* ---- life cycle ---- */

int hl_store_init(hl_store_t **out, const char *db_path, const char *blobs_dir)
{
    static const hl_db_actor_hooks_t hooks = {.on_open = on_open,
                                              .on_tick = on_tick,
                                              .tick_ms = STORE_TICK_MS,
                                              .on_close = on_close,
                                              .on_committed = on_committed,
                                              .on_batch_done = on_batch_done};
    hl_store_t *s = hl_calloc(1, sizeof(*s));
    s->db_path = hl_strdup(db_path);
    s->blobs_dir = hl_strdup(blobs_dir);
    s->unlink_candidates = json_array();
    s->batch_starts = json_array();
    s->batch_cancels = json_array();
    s->batch_direct_runs = json_array();
    s->batch_decisions = json_array();
    atomic_init(&s->generation, 1);
    pthread_mutex_init(&s->search_hold.mutex, NULL);
    pthread_mutex_init(&s->lost.mutex, NULL);
    pthread_cond_init(&s->search_hold.cond, NULL);
    int ret = hl_db_actor_init(&s->writer, "store", db_path, &hooks, s);
    if (ret != 0) {
        hl_store_dispose(s);
        return ret;
    }
    *out = s;
    return 0;
}

void hl_store_observe(hl_store_t *s, hl_store_observer_fn fn, void *data)
{
    if (s->num_observers == HL_ARRAY_SIZE(s->observers))
        hl_fatal("too many store observers");
    s->observers[s->num_observers].fn = fn;
    s->observers[s->num_observers].data = data;
    ++s->num_observers;
}

int hl_store_start(hl_store_t *s)
{
    int ret;
    if ((ret = hl_actor_start(&s->writer.actor)) != 0)
        return ret;
    if ((ret = hl_db_readers_start(&s->readers, "store-reader", s->db_path, NUM_READERS, READ_MAX_MS, s)) != 0 ||
        (ret = hl_db_readers_start(&s->searches, "store-search", s->db_path, NUM_SEARCH_READERS, SEARCH_MAX_MS, s)) != 0) {
        hl_store_stop(s);
        return ret;
    }
    return 0;
}

void hl_store_stop(hl_store_t *s)
{
    /* readers first: a blob upload's first stage (on a reader) still posts its write to the writer */
    hl_db_readers_stop(s->searches);
    s->searches = NULL;
    hl_db_readers_stop(s->readers);
    s->readers = NULL;
    hl_actor_stop(&s->writer.actor);
}

void hl_store_dispose(hl_store_t *s)
{
    if (s == NULL)
        return;
    hl_db_actor_dispose(&s->writer);
    free(s->batch_events);
    json_decref(s->unlink_candidates);
    json_decref(s->batch_starts);
    json_decref(s->batch_cancels);
    json_decref(s->batch_decisions);
    json_decref(s->batch_direct_runs);
    pthread_mutex_destroy(&s->search_hold.mutex);
    pthread_cond_destroy(&s->search_hold.cond);
    /* lost writes still waiting when the daemon stops: gone with it (their runs are recovered at the next start) */
    if (s->lost.n > 0)
        hl_logf(HL_LOG_ERROR, "store: %zu writes of HermesLink's own never succeeded before the stop", s->lost.n);
    for (size_t i = 0; i < s->lost.n; ++i) {
        hl_json_job_t *job = &s->lost.v[i]->super;
        if (job->dispose != NULL)
            job->dispose(job);
        free(job);
    }
    free(s->lost.v);
    pthread_mutex_destroy(&s->lost.mutex);
    free(s->db_path);
    free(s->blobs_dir);
    free(s);
}

hl_actor_t *hl_store_actor(hl_store_t *s)
{
    return &s->writer.actor;
}
