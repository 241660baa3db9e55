/*
 * The stats actor: usage facts of finished runs (spec STORAGE.md run_usage_facts, FLOWS.md §7), written on its own
 * link.db connection. The store tells it, after each COMMIT, which runs ended; the fact is then built in SQL from the
 * committed row (runs or direct_runs), so the observer on the store's thread only copies ids. INSERT OR IGNORE on
 * (direct, run_id) makes a second sighting (reconciliation after a restart, a replayed end) a no-op. A deleted
 * conversation marks its facts deleted; triggers (migration 6) keep the sums the statistics read. What the daemon
 * stopped before telling us is caught up when the actor starts.
 */
#include <string.h>

#include "hl/common.h"
#include "hl/log.h"
#include "stats_internal.h"

#define FACT_COLUMNS                                                                                                               \
    "INSERT OR IGNORE INTO run_usage_facts(completed_at, direct, run_id, conversation_id, profile, model, provider, status, "      \
    "input_tokens, output_tokens, total_tokens, message_count, started_at, updated_at, deleted) "

/* a conversation run: its profile snapshot (none = the default profile), the model it was sent with, its usage (the total
 * defaults to input + output), how many of its two messages exist, and whether its conversation is deleted already (a
 * deletion cancels the conversation's runs in the same commit) */
#define CONV_FACT                                                                                                                  \
    FACT_COLUMNS "SELECT r.completed_at, 0, r.id, r.conversation_id, coalesce(nullif(r.profile, ''), 'default'), "                 \
                 "nullif(r.model, ''), NULL, r.status, coalesce(r.input_tokens, 0), coalesce(r.output_tokens, 0), "                \
                 "coalesce(r.total_tokens, coalesce(r.input_tokens, 0) + coalesce(r.output_tokens, 0)), "                          \
                 "(SELECT count(*) FROM messages m WHERE m.id IN (r.trigger_message_id, r.assistant_message_id)), "                \
                 "r.started_at, r.completed_at, coalesce((SELECT c.status = 'deleted_soft' FROM conversations c WHERE c.id = "     \
                 "r.conversation_id), 0) FROM runs r WHERE r.status IN ('completed', 'failed', 'cancelled') AND "                  \
                 "r.completed_at IS NOT NULL"

#define DIRECT_FACT                                                                                                                \
    FACT_COLUMNS "SELECT d.completed_at, 1, d.upstream_run_id, NULL, coalesce(nullif(d.profile, ''), 'default'), NULL, NULL, "     \
                 "d.status, d.input_tokens, d.output_tokens, CASE WHEN d.total_tokens > 0 THEN d.total_tokens ELSE "               \
                 "d.input_tokens + d.output_tokens END, 0, NULL, d.completed_at, 0 FROM direct_runs d"

/* the facts of a deleted conversation leave the statistics (the triggers take them out of usage_daily and
 * usage_conversations) */
#define DELETED_FACTS                                                                                                              \
    "UPDATE run_usage_facts SET deleted = 1 WHERE deleted = 0 AND conversation_id IN (SELECT id FROM conversations WHERE "         \
    "status = 'deleted_soft'"

/* What a committed batch tells this actor. */
typedef enum en_item_kind_t { ITEM_RUN, ITEM_DIRECT_RUN, ITEM_DELETED_CONVERSATION } item_kind_t;

/* Most items one job carries (a larger commit is split over several jobs). */
#define MAX_ITEMS_PER_JOB 256

typedef struct st_record_job_t {
    hl_json_job_t super;
    size_t num_items;
    struct {
        item_kind_t kind;
        char *id; /* run id, upstream run id, conversation id */
    } items[MAX_ITEMS_PER_JOB];
} record_job_t;

void stats_post(hl_stats_t *st, hl_json_job_t *job)
{
    hl_db_actor_post(&st->actor, &job->super);
}

static int exec_record(hl_json_job_t *base, hl_db_t *db)
{
    static const char *const SQL[] = {
        [ITEM_RUN] = CONV_FACT " AND r.id = ?1",
        [ITEM_DIRECT_RUN] = DIRECT_FACT " WHERE d.upstream_run_id = ?1",
        [ITEM_DELETED_CONVERSATION] = DELETED_FACTS " AND id = ?1)",
    };
    record_job_t *job = (record_job_t *)base;
    for (size_t i = 0; i < job->num_items; ++i) {
        sqlite3_stmt *s = hl_db_stmt(db, SQL[job->items[i].kind]);
        sqlite3_bind_text(s, 1, job->items[i].id, -1, SQLITE_STATIC);
        if (hl_db_exec(s) != 0)
            return -1;
    }
    return hl_json_job_ok(base, HL_RESULT_OK, NULL);
}

static void dispose_record(hl_json_job_t *base)
{
    record_job_t *job = (record_job_t *)base;
    for (size_t i = 0; i < job->num_items; ++i)
        free(job->items[i].id);
}

/* Adds an item (id copied) to *job, posting a full job first; starts a job when there is none. */
static void add_item(hl_stats_t *st, record_job_t **job, item_kind_t kind, const char *id)
{
    if (*job != NULL && (*job)->num_items == MAX_ITEMS_PER_JOB) {
        stats_post(st, &(*job)->super);
        *job = NULL;
    }
    if (*job == NULL) {
        *job = hl_json_job_new(sizeof(**job), NULL, exec_record);
        (*job)->super.dispose = dispose_record;
    }
    (*job)->items[(*job)->num_items].kind = kind;
    (*job)->items[(*job)->num_items++].id = hl_strdup(id);
}

/* The run id of a run.completed / run.failed / run.cancelled event (parsed from its JSON), else NULL. Caller frees. */
static char *ended_run_id(const hl_event_record_t *ev)
{
    if (strcmp(ev->type, "run.completed") != 0 && strcmp(ev->type, "run.failed") != 0 && strcmp(ev->type, "run.cancelled") != 0)
        return NULL;
    json_t *j = json_loadb(ev->json, ev->json_len, 0, NULL);
    const char *id = json_string_value(json_object_get(j, "run_id"));
    char *copy = id != NULL ? hl_strdup(id) : NULL;
    json_decref(j);
    return copy;
}

/* A store observer (on the store's thread, after its COMMIT): the runs that ended and the conversations deleted become
 * jobs here, in commit order. */
static void on_commit(void *data, const hl_store_commit_t *c)
{
    hl_stats_t *st = data;
    record_job_t *job = NULL;
    for (size_t i = 0; i < c->num_events; ++i) {
        const hl_event_record_t *ev = &c->events[i];
        char *run_id = ended_run_id(ev);
        if (run_id != NULL) {
            add_item(st, &job, ITEM_RUN, run_id);
            free(run_id);
        } else if (strcmp(ev->type, "conversation.deleted") == 0) {
            add_item(st, &job, ITEM_DELETED_CONVERSATION, ev->conversation_id);
        }
    }
    for (size_t i = 0; i < c->num_direct_runs; ++i)
        add_item(st, &job, ITEM_DIRECT_RUN, c->direct_runs[i]);
    if (job != NULL)
        stats_post(st, &job->super);
}

/* What this actor did not hear of while it was not running (a stop between the store's commit and ours): the facts of runs
 * that ended, and conversations deleted since. */
static int on_open(hl_db_t *db)
{
    static const char *const CATCH_UP[] = {
        CONV_FACT " AND NOT EXISTS (SELECT 1 FROM run_usage_facts f WHERE f.direct = 0 AND f.run_id = r.id)",
        DIRECT_FACT " WHERE NOT EXISTS (SELECT 1 FROM run_usage_facts f WHERE f.direct = 1 AND f.run_id = d.upstream_run_id)",
        DELETED_FACTS ")",
    };
    sqlite3 *conn = hl_db_conn(db);
    if (sqlite3_exec(conn, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        goto Error;
    int changes = 0;
    for (size_t i = 0; i < HL_ARRAY_SIZE(CATCH_UP); ++i) {
        if (hl_db_exec(hl_db_stmt(db, CATCH_UP[i])) != 0)
            goto Error;
        changes += sqlite3_changes(conn);
    }
    if (sqlite3_exec(conn, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        goto Error;
    if (changes > 0)
        hl_log(HL_LOG_INFO, "usage facts caught up", json_pack("{s:i}", "changes", changes));
    return 0;
Error:
    hl_log(HL_LOG_ERROR, "cannot catch up usage facts", json_pack("{s:s}", "error", sqlite3_errmsg(conn)));
    sqlite3_exec(conn, "ROLLBACK", NULL, NULL, NULL);
    return 0; /* statistics miss those runs until the next start; the service itself is fine */
}

int hl_stats_init(hl_stats_t **out, const char *db_path)
{
    static const hl_db_actor_hooks_t hooks = {.on_open = on_open};
    hl_stats_t *st = hl_calloc(1, sizeof(*st));
    int ret = hl_db_actor_init(&st->actor, "stats", db_path, &hooks, st);
    if (ret != 0) {
        free(st);
        return ret;
    }
    *out = st;
    return 0;
}

void hl_stats_observe(hl_stats_t *st, hl_store_t *store)
{
    hl_store_observe(store, on_commit, st);
}

hl_actor_t *hl_stats_actor(hl_stats_t *st)
{
    return &st->actor.actor;
}

void hl_stats_dispose(hl_stats_t *st)
{
    if (st == NULL)
        return;
    hl_db_actor_dispose(&st->actor);
    free(st);
}
