/*
 * The stats actor: usage facts of finished runs (spec STORAGE.md run_usage_facts, FLOWS.md §7), written on its own
 * link.db connection. The store tells it, after each COMMIT, which runs ended; the fact is then built in SQL from the
 * committed row (runs or direct_runs), so the observer on the store's thread only copies run ids. INSERT OR IGNORE on
 * (direct, run_id) makes a second sighting (reconciliation after a restart, a replayed end) a no-op. Facts never written
 * because the daemon stopped between the store's commit and ours are caught up when the actor starts.
 */
#include <string.h>

#include "hl/common.h"
#include "hl/log.h"
#include "stats_internal.h"

#define FACT_COLUMNS                                                                                                               \
    "INSERT OR IGNORE INTO run_usage_facts(completed_at, direct, run_id, conversation_id, profile, model, provider, status, "      \
    "input_tokens, output_tokens, total_tokens, message_count, started_at, updated_at) "

/* a conversation run: its profile snapshot (none = the default profile), the model it was sent with, its usage (the total
 * defaults to input + output), and how many of its two messages exist */
#define CONV_FACT                                                                                                                  \
    FACT_COLUMNS "SELECT r.completed_at, 0, r.id, r.conversation_id, coalesce(nullif(r.profile, ''), 'default'), "                 \
                 "nullif(r.model, ''), NULL, r.status, coalesce(r.input_tokens, 0), coalesce(r.output_tokens, 0), "                \
                 "coalesce(r.total_tokens, coalesce(r.input_tokens, 0) + coalesce(r.output_tokens, 0)), "                          \
                 "(SELECT count(*) FROM messages m WHERE m.id IN (r.trigger_message_id, r.assistant_message_id)), "                \
                 "r.started_at, r.completed_at FROM runs r WHERE r.status IN ('completed', 'failed', 'cancelled') AND "            \
                 "r.completed_at IS NOT NULL"

#define DIRECT_FACT                                                                                                                \
    FACT_COLUMNS "SELECT d.completed_at, 1, d.upstream_run_id, NULL, coalesce(nullif(d.profile, ''), 'default'), NULL, NULL, "     \
                 "d.status, d.input_tokens, d.output_tokens, CASE WHEN d.total_tokens > 0 THEN d.total_tokens ELSE "               \
                 "d.input_tokens + d.output_tokens END, 0, NULL, d.completed_at FROM direct_runs d"

/* Most run ids one job carries (a larger commit is split over several jobs). */
#define MAX_IDS_PER_JOB 256

typedef struct st_record_job_t {
    hl_json_job_t super;
    size_t num_runs, num_direct;
    char *ids[MAX_IDS_PER_JOB]; /* runs first, then direct runs */
} record_job_t;

void stats_post(hl_stats_t *st, hl_json_job_t *job)
{
    hl_db_actor_post(&st->actor, &job->super);
}

static int exec_record(hl_json_job_t *base, hl_db_t *db)
{
    record_job_t *job = (record_job_t *)base;
    for (size_t i = 0; i < job->num_runs + job->num_direct; ++i) {
        bool direct = i >= job->num_runs;
        sqlite3_stmt *s = hl_db_stmt(db, direct ? DIRECT_FACT " WHERE d.upstream_run_id = ?1" : CONV_FACT " AND r.id = ?1");
        sqlite3_bind_text(s, 1, job->ids[i], -1, SQLITE_STATIC);
        if (hl_db_exec(s) != 0)
            return -1;
    }
    return hl_json_job_ok(base, HL_RESULT_OK, NULL);
}

static void dispose_record(hl_json_job_t *base)
{
    record_job_t *job = (record_job_t *)base;
    for (size_t i = 0; i < job->num_runs + job->num_direct; ++i)
        free(job->ids[i]);
}

static record_job_t *record_job_new(void)
{
    record_job_t *job = hl_json_job_new(sizeof(*job), NULL, exec_record);
    job->super.dispose = dispose_record;
    return job;
}

/* The run id of a run.completed / run.failed / run.cancelled event, or NULL for any other event. Caller frees. */
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

/* A store observer (on the store's thread, after its COMMIT): the ids of the runs that ended become jobs here. */
static void on_commit(void *data, const hl_store_commit_t *c)
{
    hl_stats_t *st = data;
    record_job_t *job = NULL;
    for (size_t i = 0; i < c->num_events + c->num_direct_runs; ++i) {
        bool direct = i >= c->num_events;
        char *id = direct ? hl_strdup(c->direct_runs[i - c->num_events]) : ended_run_id(&c->events[i]);
        if (id == NULL)
            continue;
        if (job != NULL && (job->num_runs + job->num_direct == MAX_IDS_PER_JOB || (!direct && job->num_direct > 0))) {
            stats_post(st, &job->super);
            job = NULL;
        }
        if (job == NULL)
            job = record_job_new();
        job->ids[job->num_runs + job->num_direct] = id;
        if (direct)
            ++job->num_direct;
        else
            ++job->num_runs;
    }
    if (job != NULL)
        stats_post(st, &job->super);
}

/* Facts of runs that ended while this actor was not there to hear of it (a stop between the store's commit and ours). */
static int on_open(hl_db_t *db)
{
    static const char *const CATCH_UP[] = {
        CONV_FACT " AND NOT EXISTS (SELECT 1 FROM run_usage_facts f WHERE f.direct = 0 AND f.run_id = r.id)",
        DIRECT_FACT " WHERE NOT EXISTS (SELECT 1 FROM run_usage_facts f WHERE f.direct = 1 AND f.run_id = d.upstream_run_id)",
    };
    sqlite3 *conn = hl_db_conn(db);
    if (sqlite3_exec(conn, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        goto Error;
    for (size_t i = 0; i < HL_ARRAY_SIZE(CATCH_UP); ++i)
        if (hl_db_exec(hl_db_stmt(db, CATCH_UP[i])) != 0)
            goto Error;
    int added = sqlite3_total_changes(conn);
    if (sqlite3_exec(conn, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        goto Error;
    if (added > 0)
        hl_log(HL_LOG_INFO, "usage facts caught up", json_pack("{s:i}", "runs", added));
    return 0;
Error:
    hl_log(HL_LOG_ERROR, "cannot catch up usage facts", json_pack("{s:s}", "error", sqlite3_errmsg(conn)));
    sqlite3_exec(conn, "ROLLBACK", NULL, NULL, NULL);
    return 0; /* statistics miss those runs until the next start; the service itself is fine */
}

int hl_stats_init(hl_stats_t **out, const char *db_path, hl_store_t *store)
{
    static const hl_db_actor_hooks_t hooks = {.on_open = on_open};
    hl_stats_t *st = hl_calloc(1, sizeof(*st));
    int ret = hl_db_actor_init(&st->actor, "stats", db_path, &hooks, st);
    if (ret != 0) {
        free(st);
        return ret;
    }
    hl_store_observe(store, on_commit, st);
    *out = st;
    return 0;
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
