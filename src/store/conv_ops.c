/*
 * Conversation operations (spec/API.md §7): list, search, create, delete, rename, model, profile, archive, ack, plans.
 */
#include <string.h>

#include "hl/tokens.h"
#include "hl/json_util.h"
#include "store_internal.h"

#define PLAN_TTL_MS (60LL * 60 * 1000)

/* ---- lists ---- */

/* Keyset pagination on (updated_at DESC, id DESC): a page starts after the cursor conversation (an unknown cursor starts at
 * the top, as in the original); limit + 1 rows tell has_more. `match` is NULL for a plain list or a LIKE pattern. */
static int list_page(store_job_t *job, hl_db_t *db, const char *status, const char *match, int fts_match)
{
    json_int_t limit = job->a.limit;
    const char *cursor = job->a.cursor;
    int64_t c_updated = INT64_MAX;
    const char *c_id = "\x7f";
    conv_row_t crow = {0};
    if (cursor != NULL && conv_load(db, cursor, &crow) == 0 && strcmp(crow.status, status) == 0) {
        c_updated = crow.updated_at;
        c_id = crow.id;
    }
    sqlite3_stmt *st;
    if (match == NULL) {
        st = hl_db_stmt(db, "SELECT id FROM conversations WHERE status = ?1 AND (updated_at < ?2 OR (updated_at = ?2 AND id < ?3)) "
                            "ORDER BY updated_at DESC, id DESC LIMIT ?4");
    } else if (fts_match) {
        st = hl_db_stmt(db,
                        "SELECT id FROM conversations c WHERE status = ?1 AND (updated_at < ?2 OR (updated_at = ?2 AND id < ?3)) "
                        "AND (c.rowid IN (SELECT rowid FROM title_index WHERE title_index MATCH ?5) OR c.id IN (SELECT "
                        "m.conversation_id FROM messages m WHERE m.rowid IN (SELECT rowid FROM message_index WHERE message_index "
                        "MATCH ?5))) ORDER BY updated_at DESC, id DESC LIMIT ?4");
        sqlite3_bind_text(st, 5, match, -1, SQLITE_STATIC);
    } else {
        st = hl_db_stmt(db,
                        "SELECT id FROM conversations c WHERE status = ?1 AND (updated_at < ?2 OR (updated_at = ?2 AND id < ?3)) "
                        "AND (c.rowid IN (SELECT rowid FROM title_index WHERE text LIKE ?5 ESCAPE '\\') OR c.id IN (SELECT "
                        "m.conversation_id FROM messages m WHERE m.rowid IN (SELECT rowid FROM message_index WHERE text LIKE ?5 "
                        "ESCAPE '\\'))) ORDER BY updated_at DESC, id DESC LIMIT ?4");
        sqlite3_bind_text(st, 5, match, -1, SQLITE_STATIC);
    }
    sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, c_updated);
    sqlite3_bind_text(st, 3, c_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 4, limit + 1);
    json_t *ids = json_array();
    int rc;
    while ((rc = hl_db_step(st)) == SQLITE_ROW)
        json_array_append_new(ids, json_string((const char *)sqlite3_column_text(st, 0)));
    sqlite3_reset(st);
    conv_row_dispose(&crow);
    if (rc != SQLITE_DONE) {
        json_decref(ids);
        return -1;
    }
    int has_more = json_array_size(ids) > (size_t)limit;
    json_t *items = json_array();
    for (size_t i = 0; i < json_array_size(ids) && i < (size_t)limit; ++i) {
        conv_row_t row;
        if (conv_load(db, json_string_value(json_array_get(ids, i)), &row) == 0) {
            json_array_append_new(items, conv_summary(db, &row, job->device_id));
            conv_row_dispose(&row);
        }
    }
    json_t *next = has_more ? json_object_get(json_array_get(items, json_array_size(items) - 1), "id") : NULL;
    json_t *page =
        json_pack("{s:I, s:b, s:O}", "limit", limit, "has_more", has_more, "next_cursor", next != NULL ? next : json_null());
    json_decref(ids);
    return hl_json_job_ok(&job->super, HL_RESULT_OK, json_pack("{s:o, s:o}", "conversations", items, "page", page));
}

/* Lists, or with a query searches titles and message text (the query is at most HL_SEARCH_MAX_CHARS characters: the
 * route refuses longer ones, and search readers interrupt a query that runs too long). */
int op_list(store_job_t *job, hl_db_t *db)
{
    const char *status = job->a.archived ? "archived" : "active";
    const char *query = job->a.query;
    if (query == NULL || query[0] == '\0')
        return list_page(job, db, status, NULL, 0);
    store_search_hold_wait(job->store);
    size_t len = strlen(query);
    char *pattern = hl_malloc(2 * len + 3), *p = pattern;
    int use_match = hl_utf8_length(query) >= 3;
    if (use_match) {
        /* an FTS5 phrase: the trigram tokenizer folds case (Unicode too) and a phrase of 3+ characters is a substring */
        *p++ = '"';
        for (const char *q = query; *q; ++q) {
            if (*q == '"')
                *p++ = '"';
            *p++ = *q;
        }
        *p++ = '"';
    } else {
        /* shorter than a trigram: LIKE '%query%' (ASCII case folding only), the query's own wildcards escaped */
        *p++ = '%';
        for (const char *q = query; *q; ++q) {
            if (*q == '%' || *q == '_' || *q == '\\')
                *p++ = '\\';
            *p++ = *q;
        }
        *p++ = '%';
    }
    *p = '\0';
    int r = list_page(job, db, status, pattern, use_match);
    free(pattern);
    return r;
}

/* ---- create ---- */

int store_index_title(hl_db_t *db, int64_t rowid, const char *title)
{
    sqlite3_stmt *st = hl_db_stmt(db, "DELETE FROM title_index WHERE rowid = ?1");
    sqlite3_bind_int64(st, 1, rowid);
    if (hl_db_exec(st) != 0)
        return -1;
    st = hl_db_stmt(db, "INSERT INTO title_index(rowid, text) VALUES (?1, ?2)");
    sqlite3_bind_int64(st, 1, rowid);
    sqlite3_bind_text(st, 2, title, -1, SQLITE_STATIC);
    return hl_db_exec(st);
}

int op_create(store_job_t *job, hl_db_t *db)
{
    const char *title = job->a.title;
    const char *profile = job->a.profile;
    char *id = store_new_id("conv_");
    sqlite3_stmt *st = hl_db_stmt(db, "INSERT INTO conversations(id, title, status, profile, created_at, updated_at) VALUES "
                                      "(?1, ?2, 'active', ?3, ?4, ?4)");
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, title != NULL ? title : CONV_DEFAULT_TITLE, -1, SQLITE_STATIC);
    if (profile != NULL)
        sqlite3_bind_text(st, 3, profile, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, job->now);
    conv_row_t row;
    int ret = -1;
    if (hl_db_exec(st) != 0 || conv_load(db, id, &row) != 0)
        goto Exit;
    if (store_index_title(db, row.rowid, row.title) == 0 &&
        store_event(job, db, id, "conversation.created", NULL, NULL,
                    json_pack("{s:o}", "conversation", conv_summary(db, &row, job->device_id))) > 0 &&
        conv_reload(db, &row) == 0)
        ret = hl_json_job_ok(&job->super, HL_RESULT_CREATED,
                             json_pack("{s:o}", "conversation", conv_summary(db, &row, job->device_id)));
    conv_row_dispose(&row);
Exit:
    free(id);
    return ret;
}

/* ---- delete ---- */

int op_delete(store_job_t *job, hl_db_t *db)
{
    conv_row_t row;
    if (conv_require(job, db, job->a.conversation_id, 0, &row) != 0)
        return -1;
    int ret = -1;
    if (conv_soft_delete(job, db, &row) == 0)
        ret = hl_json_job_ok(&job->super, HL_RESULT_OK,
                             json_pack("{s:s, s:b, s:o, s:b}", "conversation_id", row.id, "hermes_deleted", 0, "deleted_at",
                                       hl_json_iso(row.deleted_at), "blob_gc_completed", 1));
    conv_row_dispose(&row);
    return ret;
}

/* One id of a bulk delete or a clear plan: its result item, or NULL on a database error. */
static json_t *delete_one(store_job_t *job, hl_db_t *db, const char *id, int *failed)
{
    conv_row_t row;
    *failed = 1;
    if (!hl_conversation_id_valid(id))
        return json_pack("{s:s, s:s, s:{s:s, s:s}}", "conversation_id", id, "status", "failed", "error", "code",
                         "invalid_conversation_id", "message", "Conversation id is invalid");
    if (conv_load(db, id, &row) != 0 || strcmp(row.status, "deleted_soft") == 0) {
        conv_row_dispose(&row);
        return json_pack("{s:s, s:s, s:{s:s, s:s}}", "conversation_id", id, "status", "failed", "error", "code",
                         "conversation_not_found", "message", "Conversation not found");
    }
    json_t *item = NULL;
    if (conv_soft_delete(job, db, &row) == 0) {
        *failed = 0;
        item = json_pack("{s:s, s:b, s:o, s:s}", "conversation_id", row.id, "hermes_deleted", 0, "deleted_at",
                         hl_json_iso(row.deleted_at), "status", "deleted");
    }
    conv_row_dispose(&row);
    return item;
}

/* The conversations of a deleted Hermes profile go with it (soft-deleted, each announced): {"deleted_count":n}. */
int op_delete_profile(store_job_t *job, hl_db_t *db)
{
    sqlite3_stmt *st = hl_db_stmt(db, "SELECT id FROM conversations WHERE profile = ?1 AND status != 'deleted_soft'");
    sqlite3_bind_text(st, 1, job->a.profile, -1, SQLITE_STATIC);
    json_t *ids = json_array();
    int rc;
    while ((rc = hl_db_step(st)) == SQLITE_ROW)
        json_array_append_new(ids, json_string((const char *)sqlite3_column_text(st, 0)));
    sqlite3_reset(st);
    size_t i;
    json_t *id;
    json_array_foreach(ids, i, id)
    {
        conv_row_t row = {0};
        int ret = rc == SQLITE_DONE && conv_load(db, json_string_value(id), &row) == 0 ? conv_soft_delete(job, db, &row) : -1;
        conv_row_dispose(&row);
        if (ret != 0) {
            json_decref(ids);
            return -1;
        }
    }
    size_t n = json_array_size(ids);
    json_decref(ids);
    if (rc != SQLITE_DONE)
        return -1;
    return hl_json_job_ok(&job->super, HL_RESULT_OK, json_pack("{s:I}", "deleted_count", (json_int_t)n));
}

/* A renamed Hermes profile keeps its conversations: every row naming the old profile names the new one; the live ones
 * (not soft-deleted) are announced as conversation.updated, without moving their updated_at (nothing was said in them). */
int op_rename_profile(store_job_t *job, hl_db_t *db)
{
    sqlite3_stmt *st = hl_db_stmt(db, "SELECT id FROM conversations WHERE profile = ?1 AND status != 'deleted_soft'");
    sqlite3_bind_text(st, 1, job->a.profile, -1, SQLITE_STATIC);
    json_t *ids = json_array();
    int rc;
    while ((rc = hl_db_step(st)) == SQLITE_ROW)
        json_array_append_new(ids, json_string((const char *)sqlite3_column_text(st, 0)));
    sqlite3_reset(st);
    st = hl_db_stmt(db, "UPDATE conversations SET profile = ?2 WHERE profile = ?1");
    sqlite3_bind_text(st, 1, job->a.profile, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, job->a.new_profile, -1, SQLITE_STATIC);
    int ret = rc == SQLITE_DONE && hl_db_exec(st) == 0 ? 0 : -1;
    size_t i;
    json_t *id;
    json_array_foreach(ids, i, id)
    {
        if (ret != 0)
            break;
        conv_row_t row = {0};
        if (conv_load(db, json_string_value(id), &row) != 0)
            ret = -1;
        else {
            json_t *payload = json_pack("{s:o}", "conversation", conv_summary(db, &row, NULL));
            if (store_event(job, db, row.id, "conversation.updated", NULL, NULL, payload) < 0)
                ret = -1;
        }
        conv_row_dispose(&row);
    }
    json_decref(ids);
    if (ret != 0)
        return -1;
    json_t *answer = job->a.answer;
    job->a.answer = NULL;
    return hl_json_job_ok(&job->super, HL_RESULT_OK, answer != NULL ? answer : json_object());
}

/* One number from a statement of the profile statistics (?1 = the profile name, ?2 = 1 for the default profile, whose
 * conversations may also have no profile at all); -1 on a database error. */
static int64_t profile_count(hl_db_t *db, const char *sql, const char *profile, bool is_default)
{
    sqlite3_stmt *st = hl_db_stmt(db, sql);
    sqlite3_bind_text(st, 1, profile, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, is_default);
    int64_t n = hl_db_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_reset(st);
    return n;
}

#define OF_PROFILE "(c.profile = ?1 OR (?2 AND (c.profile IS NULL OR c.profile = '')))"

/* GET /api/v1/profiles/:name/statistics: the profile's conversations (total = active + archived, deleted on its own, as
 * /api/v1/statistics does: GAPS §B 25), the tokens, messages and runs of those not deleted, into job->a.answer's
 * "statistics" next to its models/skills counts. */
int op_profile_statistics(store_job_t *job, hl_db_t *db)
{
    const char *p = job->a.profile;
    bool def = strcmp(p, "default") == 0;
#define LIVE_OF_PROFILE "c.status != 'deleted_soft' AND " OF_PROFILE
    static const char *const STATUS_SQL[] = {
        "SELECT COUNT(*) FROM conversations c WHERE " LIVE_OF_PROFILE,
        "SELECT COUNT(*) FROM conversations c WHERE status = 'active' AND " OF_PROFILE,
        "SELECT COUNT(*) FROM conversations c WHERE status = 'archived' AND " OF_PROFILE,
        "SELECT COUNT(*) FROM conversations c WHERE status = 'deleted_soft' AND " OF_PROFILE,
        "SELECT COALESCE(SUM(input_tokens), 0) FROM conversations c WHERE " LIVE_OF_PROFILE,
        "SELECT COALESCE(SUM(output_tokens), 0) FROM conversations c WHERE " LIVE_OF_PROFILE,
        "SELECT COALESCE(SUM(total_tokens), 0) FROM conversations c WHERE " LIVE_OF_PROFILE,
        /* counted per conversation along the (conversation_id, …) indexes: no lookup per message or run */
        "SELECT COUNT(*) FROM messages WHERE conversation_id IN (SELECT c.id FROM conversations c WHERE " LIVE_OF_PROFILE ")",
        "SELECT COUNT(*) FROM runs WHERE conversation_id IN (SELECT c.id FROM conversations c WHERE " LIVE_OF_PROFILE ")",
    };
#undef LIVE_OF_PROFILE
    int64_t v[HL_ARRAY_SIZE(STATUS_SQL)];
    for (size_t i = 0; i < HL_ARRAY_SIZE(STATUS_SQL); ++i)
        if ((v[i] = profile_count(db, STATUS_SQL[i], p, def)) < 0)
            return -1;
    json_t *answer = job->a.answer;
    job->a.answer = NULL;
    json_t *caps = json_object_get(answer, "capabilities");
    json_int_t models = json_integer_value(json_object_get(caps, "modelCount"));
    json_int_t skills = json_integer_value(json_object_get(caps, "skillCount"));
    json_object_set_new(
        answer, "statistics",
        json_pack("{s:{s:I, s:I, s:I, s:I}, s:{s:I, s:I, s:I}, s:{s:I}, s:{s:I}, s:{s:I}, s:{s:I}, s:{s:i}, s:{s:i}}",
                  "conversations", "total", (json_int_t)v[0], "active", (json_int_t)v[1], "archived", (json_int_t)v[2], "deleted",
                  (json_int_t)v[3], "tokens", "input_tokens", (json_int_t)v[4], "output_tokens", (json_int_t)v[5], "total_tokens",
                  (json_int_t)v[6], "messages", "total", (json_int_t)v[7], "runs", "total", (json_int_t)v[8], "models", "total",
                  models, "skills", "total", skills, "tools", "total", 0, "profiles", "total",
                  caps != NULL && !json_is_null(caps)));
    return hl_json_job_ok(&job->super, HL_RESULT_OK, answer);
}

int op_bulk_delete(store_job_t *job, hl_db_t *db)
{
    json_t *items = json_array();
    size_t deleted = 0, failed = 0;
    for (size_t i = 0; i < job->a.num_ids; ++i) {
        int f;
        json_t *item = delete_one(job, db, job->a.ids[i], &f);
        if (item == NULL) {
            json_decref(items);
            return -1;
        }
        json_array_append_new(items, item);
        f ? ++failed : ++deleted;
    }
    json_t *body = json_pack("{s:I, s:I, s:o, s:b}", "deleted_count", (json_int_t)deleted, "failed_count", (json_int_t)failed,
                             "conversations", items, "blob_gc_completed", 1);
    if (failed == 0)
        return hl_json_job_ok(&job->super, HL_RESULT_OK, body);
    /* the deletions that worked are kept (exec returns 0): the conflict only says that some did not */
    hl_result_t *res =
        hl_result_error(HL_RESULT_CONFLICT, "conversation_bulk_delete_partial_failure", "Some conversations could not be deleted");
    res->body = body;
    hl_json_job_set(&job->super, res);
    return 0;
}

/* ---- updates ---- */

static int conversation_updated(store_job_t *job, hl_db_t *db, conv_row_t *row)
{
    if (conv_touch(db, row, job->now) != 0 || conv_reload(db, row) != 0)
        return -1;
    json_t *payload = json_pack("{s:o}", "conversation", conv_summary(db, row, job->device_id));
    if (store_event(job, db, row->id, "conversation.updated", NULL, NULL, payload) < 0)
        return -1;
    return conv_reload(db, row);
}

static int set_column(hl_db_t *db, const char *sql, const char *id, const char *value)
{
    sqlite3_stmt *st = hl_db_stmt(db, sql);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
    return hl_db_exec(st);
}

int op_rename(store_job_t *job, hl_db_t *db)
{
    conv_row_t row;
    if (conv_require(job, db, job->a.conversation_id, 1, &row) != 0)
        return -1;
    const char *title = job->a.title;
    int ret = -1;
    if (set_column(db, "UPDATE conversations SET title = ?2 WHERE id = ?1", row.id, title) == 0 &&
        store_index_title(db, row.rowid, title) == 0 && conversation_updated(job, db, &row) == 0)
        ret = hl_json_job_ok(&job->super, HL_RESULT_OK,
                             json_pack("{s:s, s:s, s:o, s:b, s:I}", "conversation_id", row.id, "title", row.title, "conversation",
                                       conv_summary(db, &row, job->device_id), "hermes_synced", 0, "last_event_seq",
                                       (json_int_t)row.last_event_seq));
    conv_row_dispose(&row);
    return ret;
}

int op_set_model(store_job_t *job, hl_db_t *db)
{
    conv_row_t row;
    if (conv_require(job, db, job->a.conversation_id, 1, &row) != 0)
        return -1;
    /* NULL or "" clears the override (SQL NULL, so runs fall back to the profile's model) */
    const char *model = job->a.model_id != NULL && job->a.model_id[0] != '\0' ? job->a.model_id : NULL;
    int ret = -1;
    /* the override is kept on the conversation and sent with its next runs (the original lost it) */
    if (set_column(db, "UPDATE conversations SET model_override = ?2 WHERE id = ?1", row.id, model) == 0 &&
        conversation_updated(job, db, &row) == 0)
        ret = hl_json_job_ok(&job->super, HL_RESULT_OK,
                             json_pack("{s:s, s:o, s:o, s:I}", "conversation_id", row.id, "model_override",
                                       model != NULL ? json_string(model) : json_null(), "runtime", conv_runtime(&row),
                                       "last_event_seq", (json_int_t)row.last_event_seq));
    conv_row_dispose(&row);
    return ret;
}

int op_set_profile(store_job_t *job, hl_db_t *db)
{
    conv_row_t row;
    if (conv_require(job, db, job->a.conversation_id, 1, &row) != 0)
        return -1;
    const char *profile = job->a.profile;
    int ret = -1;
    if (set_column(db, "UPDATE conversations SET profile = ?2 WHERE id = ?1", row.id, profile) == 0 &&
        conversation_updated(job, db, &row) == 0)
        ret = hl_json_job_ok(&job->super, HL_RESULT_OK,
                             json_pack("{s:s, s:{s:s, s:s, s:s, s:n}, s:o, s:o, s:I}", "conversation_id", row.id, "profile", "uid",
                                       "", "name", profile, "display_name", profile, "avatar_url", "runtime", conv_runtime(&row),
                                       "conversation", conv_summary(db, &row, job->device_id), "last_event_seq",
                                       (json_int_t)row.last_event_seq));
    conv_row_dispose(&row);
    return ret;
}

int op_archive(store_job_t *job, hl_db_t *db)
{
    conv_row_t row;
    if (conv_require(job, db, job->a.conversation_id, 1, &row) != 0)
        return -1;
    int ret = -1;
    if (conv_do_archive(job, db, &row) == 0)
        ret = hl_json_job_ok(&job->super, HL_RESULT_OK,
                             json_pack("{s:s, s:o}", "conversation_id", row.id, "archived_at", hl_json_iso(row.archived_at)));
    conv_row_dispose(&row);
    return ret;
}

int op_unarchive(store_job_t *job, hl_db_t *db)
{
    conv_row_t row;
    if (conv_require(job, db, job->a.conversation_id, 0, &row) != 0)
        return -1;
    int ret = -1;
    if (strcmp(row.status, "archived") != 0) {
        ret = hl_json_job_error(&job->super, HL_RESULT_INVALID, "conversation_not_archived", "Conversation is not archived");
        goto Exit;
    }
    sqlite3_stmt *st =
        hl_db_stmt(db, "UPDATE conversations SET status = 'active', archived_at = NULL, updated_at = ?2 WHERE id = ?1");
    sqlite3_bind_text(st, 1, row.id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, job->now);
    if (hl_db_exec(st) != 0 || conv_reload(db, &row) != 0)
        goto Exit;
    if (store_event(job, db, row.id, "conversation.unarchived", NULL, NULL,
                    json_pack("{s:o}", "conversation", conv_summary(db, &row, job->device_id))) < 0)
        goto Exit;
    ret = hl_json_job_ok(&job->super, HL_RESULT_OK,
                         json_pack("{s:s, s:o}", "conversation_id", row.id, "unarchived_at", hl_json_iso(job->now)));
Exit:
    conv_row_dispose(&row);
    return ret;
}

/* ---- read cursors ---- */

int op_ack(store_job_t *job, hl_db_t *db)
{
    conv_row_t row;
    if (conv_require(job, db, job->a.conversation_id, 0, &row) != 0)
        return -1;
    json_int_t seq = job->a.seq < 0 ? row.last_event_seq : job->a.seq;
    int ret = -1;
    if (seq < 0 || seq > row.last_event_seq) {
        ret = hl_json_job_error(&job->super, HL_RESULT_INVALID, "invalid_event_seq",
                                "last_event_seq must be an event of this conversation");
        goto Exit;
    }
    if (job->device_id != NULL) {
        /* a cursor never moves back: an older ack arriving late must not mark read messages unread again */
        sqlite3_stmt *st = hl_db_stmt(db, "INSERT INTO read_cursors(device_id, conversation_id, last_event_seq, updated_at) VALUES "
                                          "(?1, ?2, ?3, ?4) ON CONFLICT(device_id, conversation_id) DO UPDATE SET last_event_seq = "
                                          "max(last_event_seq, excluded.last_event_seq), updated_at = excluded.updated_at");
        sqlite3_bind_text(st, 1, job->device_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, row.id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, seq);
        sqlite3_bind_int64(st, 4, job->now);
        if (hl_db_exec(st) != 0)
            goto Exit;
    }
    json_t *summary = conv_summary(db, &row, job->device_id);
    ret = hl_json_job_ok(&job->super, HL_RESULT_OK,
                         json_pack("{s:s, s:I, s:O}", "conversation_id", row.id, "last_event_seq", seq, "unread_count",
                                   json_object_get(summary, "unread_count")));
    json_decref(summary);
Exit:
    conv_row_dispose(&row);
    return ret;
}

int op_stream_check(store_job_t *job, hl_db_t *db)
{
    conv_row_t row;
    if (conv_require(job, db, job->a.conversation_id, 0, &row) != 0)
        return -1;
    int ret = hl_json_job_ok(&job->super, HL_RESULT_OK, json_pack("{s:I}", "last_event_seq", (json_int_t)row.last_event_seq));
    conv_row_dispose(&row);
    return ret;
}

/* ---- clear and archive plans (persisted, one hour) ---- */

static int is_clear(const store_job_t *job)
{
    return job->a.plan_kind == HL_PLAN_CLEAR;
}

static int plan_not_found(store_job_t *job)
{
    return hl_json_job_error(&job->super, HL_RESULT_NOT_FOUND, "plan_not_found",
                             is_clear(job) ? "Clear plan was not found" : "Archive plan was not found");
}

static int save_plan(hl_db_t *db, const char *kind, json_t *plan, int64_t created, int64_t expires)
{
    char *text = json_dumps(plan, JSON_COMPACT | JSON_PRESERVE_ORDER);
    sqlite3_stmt *st = hl_db_stmt(db, "INSERT INTO plans(id, kind, json, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5) ON "
                                      "CONFLICT(id) DO UPDATE SET json = excluded.json");
    sqlite3_bind_text(st, 1, json_string_value(json_object_get(plan, "id")), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, text, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, created);
    sqlite3_bind_int64(st, 5, expires);
    int r = hl_db_exec(st);
    free(text);
    return r;
}

static json_t *load_plan(store_job_t *job, hl_db_t *db, int64_t *created, int64_t *expires)
{
    const char *id = job->a.plan_id;
    sqlite3_stmt *st =
        hl_db_stmt(db, "SELECT json, created_at, expires_at FROM plans WHERE id = ?1 AND kind = ?2 AND expires_at > ?3");
    sqlite3_bind_text(st, 1, id != NULL ? id : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, is_clear(job) ? "clear" : "archive", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, job->now);
    json_t *plan = NULL;
    if (hl_db_step(st) == SQLITE_ROW) {
        plan = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
        *created = sqlite3_column_int64(st, 1);
        *expires = sqlite3_column_int64(st, 2);
    }
    sqlite3_reset(st);
    return plan;
}

int op_plan_create(store_job_t *job, hl_db_t *db)
{
    int clear = is_clear(job);

    sqlite3_stmt *st = hl_db_stmt(db, "SELECT id FROM conversations WHERE status = 'active' ORDER BY updated_at DESC, id DESC");
    json_t *ids = json_array();
    while (hl_db_step(st) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(st, 0);
        int skip = 0;
        for (size_t i = 0; i < job->a.num_ids; ++i)
            skip |= strcmp(job->a.ids[i], id) == 0;
        if (!skip)
            json_array_append_new(ids, json_string(id));
    }
    sqlite3_reset(st);
    char *plan_id = store_new_id("plan_");
    json_t *plan = json_pack("{s:s, s:s}", "id", plan_id, "status", "prepared");
    if (clear)
        json_object_set_new(plan, "target_status", json_string("active"));
    json_object_set_new(plan, "created_at", hl_json_iso(job->now));
    json_object_set_new(plan, "updated_at", hl_json_iso(job->now));
    json_object_set_new(plan, "expires_at", hl_json_iso(job->now + PLAN_TTL_MS));
    json_object_set_new(plan, "total_count", json_integer((json_int_t)json_array_size(ids)));
    json_object_set_new(plan, clear ? "deleted_count" : "archived_count", json_integer(0));
    json_object_set_new(plan, "failed_count", json_integer(0));
    json_object_set_new(plan, "conversation_ids", ids);
    json_object_set_new(plan, "conversations", json_array());
    free(plan_id);
    if (save_plan(db, clear ? "clear" : "archive", plan, job->now, job->now + PLAN_TTL_MS) != 0) {
        json_decref(plan);
        return -1;
    }
    return hl_json_job_ok(&job->super, HL_RESULT_CREATED, json_pack("{s:o}", "plan", plan));
}

int op_plan_get(store_job_t *job, hl_db_t *db)
{
    int64_t created, expires;
    json_t *plan = load_plan(job, db, &created, &expires);
    if (plan == NULL)
        return plan_not_found(job);
    return hl_json_job_ok(&job->super, HL_RESULT_OK, json_pack("{s:o}", "plan", plan));
}

/* One id of an archive plan: its result item, or NULL on a database error. */
static json_t *archive_one(store_job_t *job, hl_db_t *db, const char *id, int *failed)
{
    conv_row_t row;
    *failed = 1;
    if (conv_load(db, id, &row) != 0 || strcmp(row.status, "active") != 0) {
        conv_row_dispose(&row);
        return json_pack("{s:s, s:s, s:{s:s, s:s}}", "conversation_id", id, "status", "failed", "error", "code",
                         "conversation_not_found", "message", "Conversation not found");
    }
    json_t *item = NULL;
    if (conv_do_archive(job, db, &row) == 0) {
        *failed = 0;
        item = json_pack("{s:s, s:o, s:s}", "conversation_id", row.id, "archived_at", hl_json_iso(row.archived_at), "status",
                         "archived");
    }
    conv_row_dispose(&row);
    return item;
}

int op_plan_execute(store_job_t *job, hl_db_t *db)
{
    int clear = is_clear(job);
    int64_t created, expires;
    json_t *plan = load_plan(job, db, &created, &expires);
    if (plan == NULL)
        return plan_not_found(job);
    json_t *items = json_array(), *id;
    size_t i, done = 0, failed = 0;
    json_array_foreach(json_object_get(plan, "conversation_ids"), i, id)
    {
        int f;
        json_t *item = clear ? delete_one(job, db, json_string_value(id), &f) : archive_one(job, db, json_string_value(id), &f);
        if (item == NULL) {
            json_decref(items);
            json_decref(plan);
            return -1;
        }
        json_array_append_new(items, item);
        f ? ++failed : ++done;
    }
    json_object_set_new(plan, "status", json_string("completed"));
    json_object_set_new(plan, "updated_at", hl_json_iso(job->now));
    json_object_set_new(plan, "completed_at", hl_json_iso(job->now));
    json_object_set_new(plan, clear ? "deleted_count" : "archived_count", json_integer((json_int_t)done));
    json_object_set_new(plan, "failed_count", json_integer((json_int_t)failed));
    json_object_set_new(plan, "conversations", items);
    if (save_plan(db, clear ? "clear" : "archive", plan, created, expires) != 0) {
        json_decref(plan);
        return -1;
    }
    return hl_json_job_ok(&job->super, HL_RESULT_OK, json_pack("{s:o}", "plan", plan));
}
