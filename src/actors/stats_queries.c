/*
 * The statistics answers (spec/API.md §8; GAPS §B 25), SQL aggregates on the stats actor's connection. Usage reads the
 * sums the triggers of migration 6 keep from the facts of conversations not deleted: usage_daily (per day, model,
 * provider and profile) and usage_conversations (which conversations had runs per day, model and profile), so a range
 * reads one row per group, never one per run.
 */
#include <string.h>

#include "hl/common.h"
#include "hl/json_util.h"
#include "stats_internal.h"

/* ?1 ?2: the first and last day; ?3: model or NULL; ?4: profile or NULL ('' is none in these tables) */
#define RANGE_FILTER " WHERE day >= ?1 AND day <= ?2 AND (?3 IS NULL OR model = ?3) AND (?4 IS NULL OR profile = ?4)"
#define USAGE_WHERE " FROM usage_daily" RANGE_FILTER

#define SUMS                                                                                                                       \
    "coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0), coalesce(sum(total_tokens), 0), "                            \
    "coalesce(sum(message_count), 0), coalesce(sum(run_count), 0)"

typedef struct st_usage_job_t {
    hl_json_job_t super;
    hl_stats_range_t range;
    char *model, *profile;
} usage_job_t;

static sqlite3_stmt *usage_stmt(hl_db_t *db, const char *sql, const usage_job_t *job)
{
    sqlite3_stmt *s = hl_db_stmt(db, sql);
    sqlite3_bind_int64(s, 1, job->range.from_day);
    sqlite3_bind_int64(s, 2, job->range.to_day);
    if (job->model != NULL)
        sqlite3_bind_text(s, 3, job->model, -1, SQLITE_STATIC);
    if (job->profile != NULL)
        sqlite3_bind_text(s, 4, job->profile, -1, SQLITE_STATIC);
    return s;
}

/* {input_tokens, output_tokens, total_tokens, message_count, run_count} from SUMS at column `col`, into `o`. */
static json_t *add_sums(json_t *o, sqlite3_stmt *s, int col)
{
    static const char *const NAMES[] = {"input_tokens", "output_tokens", "total_tokens", "message_count", "run_count"};
    for (int i = 0; i < 5; ++i)
        json_object_set_new(o, NAMES[i], json_integer(sqlite3_column_int64(s, col + i)));
    return o;
}

static json_t *zero_day(int64_t day)
{
    char date[11];
    hl_stats_format_date(day, date);
    json_t *o = json_pack("{s:s}", "date", date);
    static const char *const NAMES[] = {"input_tokens", "output_tokens", "total_tokens", "message_count", "run_count"};
    for (int i = 0; i < 5; ++i)
        json_object_set_new(o, NAMES[i], json_integer(0));
    return o;
}

/* The top groups of `sql` (a key column — or two: model and provider — then SUMS), at most HL_STATS_TOP. */
static json_t *top_groups(hl_db_t *db, const char *sql, const usage_job_t *job, const char *key, bool with_provider)
{
    json_t *out = json_array();
    sqlite3_stmt *s = usage_stmt(db, sql, job);
    int rc, first = with_provider ? 2 : 1;
    while ((rc = hl_db_step(s)) == SQLITE_ROW) {
        json_t *o = json_object();
        /* names came in as JSON strings (valid UTF-8); a row that is not is shown under a placeholder, never dropped */
        json_t *name = json_string((const char *)sqlite3_column_text(s, 0));
        json_object_set_new(o, key, name != NULL ? name : json_string("unknown"));
        if (with_provider && sqlite3_column_type(s, 1) != SQLITE_NULL)
            json_object_set_new(o, "provider", json_string((const char *)sqlite3_column_text(s, 1)));
        json_array_append_new(out, add_sums(o, s, first));
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) {
        json_decref(out);
        return NULL;
    }
    return out;
}

static int exec_usage(hl_json_job_t *base, hl_db_t *db)
{
    usage_job_t *job = (usage_job_t *)base;
    const hl_stats_range_t *r = &job->range;
    char from[11], to[11];
    hl_stats_format_date(r->from_day, from);
    hl_stats_format_date(r->to_day, to);
    json_t *usage = json_pack("{s:{s:s, s:s, s:i}}", "range", "from", from, "to", to, "days", r->days);

    sqlite3_stmt *s =
        usage_stmt(db,
                   "SELECT " SUMS ", (SELECT count(DISTINCT conversation_id) FROM usage_conversations" RANGE_FILTER "), "
                   "count(DISTINCT nullif(model, '')), max(updated_at)" USAGE_WHERE,
                   job);
    if (hl_db_step(s) != SQLITE_ROW)
        goto Error;
    json_t *totals = add_sums(json_object(), s, 0);
    json_object_set_new(totals, "conversation_count", json_integer(sqlite3_column_int64(s, 5)));
    json_object_set_new(totals, "model_count", json_integer(sqlite3_column_int64(s, 6)));
    json_object_set_new(usage, "totals", totals);
    json_t *updated_at = sqlite3_column_type(s, 7) != SQLITE_NULL ? hl_json_iso(sqlite3_column_int64(s, 7)) : NULL;
    sqlite3_reset(s);

    /* every day of the range, zero-filled, then the days that have facts */
    json_t *daily = json_array();
    json_object_set_new(usage, "daily", daily);
    for (int i = 0; i < r->days; ++i)
        json_array_append_new(daily, zero_day(r->from_day + i));
    s = usage_stmt(db, "SELECT day, " SUMS USAGE_WHERE " GROUP BY day", job);
    int rc;
    while ((rc = hl_db_step(s)) == SQLITE_ROW) {
        int64_t i = sqlite3_column_int64(s, 0) - r->from_day;
        if (i >= 0 && i < r->days)
            add_sums(json_array_get(daily, (size_t)i), s, 1);
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) {
        json_decref(updated_at);
        goto Error;
    }

    json_t *models = top_groups(db,
                                "SELECT coalesce(nullif(model, ''), 'unknown') AS m, nullif(provider, '') AS pr, " SUMS USAGE_WHERE
                                " GROUP BY m, pr HAVING sum(total_tokens) > 0 ORDER BY sum(total_tokens) DESC, "
                                "sum(run_count) DESC, m ASC LIMIT 12",
                                job, "model", true);
    json_t *profiles = models == NULL ? NULL
                                      : top_groups(db,
                                                   "SELECT profile AS p, " SUMS USAGE_WHERE
                                                   " GROUP BY p HAVING sum(total_tokens) > 0 ORDER BY sum(total_tokens) DESC, "
                                                   "sum(run_count) DESC, p ASC LIMIT 12",
                                                   job, "profile", false);
    if (profiles == NULL) {
        json_decref(models);
        json_decref(updated_at);
        goto Error;
    }
    json_object_set_new(usage, "models", models);
    json_object_set_new(usage, "profiles", profiles);
    if (updated_at != NULL)
        json_object_set_new(usage, "updated_at", updated_at);
    return hl_json_job_ok(base, HL_RESULT_OK, json_pack("{s:o}", "usage", usage));
Error:
    json_decref(usage);
    return -1;
}

static void dispose_usage(hl_json_job_t *base)
{
    usage_job_t *job = (usage_job_t *)base;
    free(job->model);
    free(job->profile);
}

void hl_stats_usage(hl_stats_t *st, hl_reply_to_t *to, const hl_stats_usage_req_t *req)
{
    usage_job_t *job = hl_json_job_new(sizeof(*job), to, exec_usage);
    job->super.dispose = dispose_usage;
    job->range = req->range;
    job->model = req->model != NULL ? hl_strdup(req->model) : NULL;
    job->profile = req->profile != NULL ? hl_strdup(req->profile) : NULL;
    job->super.super.readonly = true;
    stats_post(st, &job->super);
}

/* ---- GET /api/v1/statistics ---- */

typedef struct st_summary_job_t {
    hl_json_job_t super;
    char *profile;
    int profiles_total;
} summary_job_t;

/* ?1: profile or NULL for all; ?2: 1 when it is "default", whose conversations may have no profile at all */
#define OF_PROFILE "(?1 IS NULL OR c.profile = ?1 OR (?2 AND (c.profile IS NULL OR c.profile = '')))"
#define LIVE "c.status != 'deleted_soft'"

static int64_t summary_number(hl_db_t *db, const char *sql, const summary_job_t *job, int col, sqlite3_stmt **keep)
{
    sqlite3_stmt *s = *keep;
    if (s == NULL) {
        s = hl_db_stmt(db, sql);
        if (job->profile != NULL)
            sqlite3_bind_text(s, 1, job->profile, -1, SQLITE_STATIC);
        sqlite3_bind_int(s, 2, job->profile != NULL && strcmp(job->profile, "default") == 0);
        if (hl_db_step(s) != SQLITE_ROW) {
            sqlite3_reset(s);
            return -1;
        }
        *keep = s;
    }
    return sqlite3_column_int64(s, col);
}

static int exec_summary(hl_json_job_t *base, hl_db_t *db)
{
    summary_job_t *job = (summary_job_t *)base;
    static const char *const SQL[] = {
        "SELECT coalesce(sum(status = 'active'), 0), coalesce(sum(status = 'archived'), 0), coalesce(sum(status = "
        "'deleted_soft'), 0), coalesce(sum(CASE WHEN " LIVE " THEN input_tokens END), 0), coalesce(sum(CASE WHEN " LIVE
        " THEN output_tokens END), 0), coalesce(sum(CASE WHEN " LIVE
        " THEN total_tokens END), 0) FROM conversations c WHERE " OF_PROFILE,
        /* counted per conversation along the (conversation_id, …) indexes: no lookup per message or run */
        "SELECT count(*) FROM messages WHERE conversation_id IN (SELECT c.id FROM conversations c WHERE " LIVE " AND " OF_PROFILE
        ")",
        "SELECT count(*) FROM runs WHERE conversation_id IN (SELECT c.id FROM conversations c WHERE " LIVE " AND " OF_PROFILE ")",
        /* the models the usage facts name (direct runs included), for the profile's facts when filtered */
        "SELECT count(DISTINCT model) FROM usage_daily WHERE model != '' AND (?1 IS NULL OR profile = ?1)",
    };
    int64_t v[9];
    sqlite3_stmt *keep[HL_ARRAY_SIZE(SQL)] = {NULL};
    static const int WHICH[9][2] = {{0, 0}, {0, 1}, {0, 2}, {0, 3}, {0, 4}, {0, 5}, {1, 0}, {2, 0}, {3, 0}};
    int ret = 0;
    for (size_t i = 0; i < 9 && ret == 0; ++i)
        if ((v[i] = summary_number(db, SQL[WHICH[i][0]], job, WHICH[i][1], &keep[WHICH[i][0]])) < 0)
            ret = -1;
    for (size_t i = 0; i < HL_ARRAY_SIZE(keep); ++i)
        if (keep[i] != NULL)
            sqlite3_reset(keep[i]);
    if (ret != 0)
        return -1;
    json_t *stats = json_pack("{s:{s:I, s:I, s:I, s:I}, s:{s:I, s:I, s:I}, s:{s:I}, s:{s:I}, s:{s:I}, s:{s:i}, s:{s:i}, s:{s:i}}",
                              "conversations", "total", (json_int_t)(v[0] + v[1]), "active", (json_int_t)v[0], "archived",
                              (json_int_t)v[1], "deleted", (json_int_t)v[2], "tokens", "input_tokens", (json_int_t)v[3],
                              "output_tokens", (json_int_t)v[4], "total_tokens", (json_int_t)v[5], "messages", "total",
                              (json_int_t)v[6], "runs", "total", (json_int_t)v[7], "models", "total", (json_int_t)v[8], "skills",
                              "total", 0, "tools", "total", 0, "profiles", "total", job->profiles_total);
    return hl_json_job_ok(base, HL_RESULT_OK, json_pack("{s:o}", "statistics", stats));
}

static void dispose_summary(hl_json_job_t *base)
{
    free(((summary_job_t *)base)->profile);
}

void hl_stats_summary(hl_stats_t *st, hl_reply_to_t *to, const char *profile, int profiles_total)
{
    summary_job_t *job = hl_json_job_new(sizeof(*job), to, exec_summary);
    job->super.dispose = dispose_summary;
    job->profile = profile != NULL ? hl_strdup(profile) : NULL;
    job->profiles_total = profiles_total;
    job->super.super.readonly = true;
    stats_post(st, &job->super);
}
