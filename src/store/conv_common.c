/*
 * Conversation rows and the JSON shapes built from them (spec/API.md §1.10): summary, runtime.
 */
#include <errno.h>
#include <string.h>

#include "store_internal.h"
#include "hl/json_util.h"

#define CONV_COLUMNS                                                                                                               \
    "rowid, id, title, status, profile, model_override, model, provider, last_event_seq, input_tokens, output_tokens, "            \
    "total_tokens, context_window, stats_updated_at, created_at, updated_at, archived_at, deleted_at"

static void read_conv(sqlite3_stmt *st, conv_row_t *row)
{
    memset(row, 0, sizeof(*row));
    row->rowid = sqlite3_column_int64(st, 0);
    row->id = hl_db_text(st, 1);
    row->title = hl_db_text(st, 2);
    row->status = hl_db_text(st, 3);
    row->profile = hl_db_text(st, 4);
    row->model_override = hl_db_text(st, 5);
    row->model = hl_db_text(st, 6);
    row->provider = hl_db_text(st, 7);
    row->last_event_seq = sqlite3_column_int64(st, 8);
    row->input_tokens = sqlite3_column_int64(st, 9);
    row->output_tokens = sqlite3_column_int64(st, 10);
    row->total_tokens = sqlite3_column_int64(st, 11);
    row->context_window = sqlite3_column_int64(st, 12);
    row->stats_updated_at = sqlite3_column_int64(st, 13);
    row->created_at = sqlite3_column_int64(st, 14);
    row->updated_at = sqlite3_column_int64(st, 15);
    row->archived_at = sqlite3_column_int64(st, 16);
    row->deleted_at = sqlite3_column_int64(st, 17);
}

int conv_load(hl_db_t *db, const char *id, conv_row_t *row)
{
    memset(row, 0, sizeof(*row));
    if (!hl_conversation_id_valid(id))
        return -ENOENT;
    sqlite3_stmt *st = hl_db_stmt(db, "SELECT " CONV_COLUMNS " FROM conversations WHERE id = ?1");
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int found = hl_db_step(st) == SQLITE_ROW;
    if (found)
        read_conv(st, row);
    sqlite3_reset(st);
    return found ? 0 : -ENOENT;
}

int conv_reload(hl_db_t *db, conv_row_t *row)
{
    char *id = hl_strdup(row->id);
    conv_row_dispose(row);
    int r = conv_load(db, id, row);
    free(id);
    return r;
}

void conv_row_dispose(conv_row_t *row)
{
    free(row->id);
    free(row->title);
    free(row->status);
    free(row->profile);
    free(row->model_override);
    free(row->model);
    free(row->provider);
    memset(row, 0, sizeof(*row));
}

int conv_require(store_job_t *job, hl_db_t *db, const char *id, int active_only, conv_row_t *row)
{
    if (!hl_conversation_id_valid(id))
        return hl_json_job_error(&job->super, HL_RESULT_INVALID, "invalid_conversation_id", "Conversation id is invalid");
    if (conv_load(db, id, row) != 0)
        return hl_json_job_error(&job->super, HL_RESULT_NOT_FOUND, "conversation_not_found", "Conversation not found");
    if (strcmp(row->status, "deleted_soft") == 0 || (active_only && strcmp(row->status, "active") != 0)) {
        conv_row_dispose(row);
        return hl_json_job_error(&job->super, HL_RESULT_NOT_FOUND, "conversation_not_found", "Conversation not found");
    }
    return 0;
}

int conv_touch(hl_db_t *db, conv_row_t *row, int64_t now)
{
    sqlite3_stmt *st = hl_db_stmt(db, "UPDATE conversations SET updated_at = ?2 WHERE id = ?1");
    sqlite3_bind_text(st, 1, row->id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now);
    row->updated_at = now;
    return hl_db_exec(st);
}

static const char *profile_name(const conv_row_t *row)
{
    return row->profile != NULL && row->profile[0] != '\0' ? row->profile : "default";
}

static json_t *profile_json(const conv_row_t *row)
{
    return json_pack("{s:s, s:s, s:n}", "name", profile_name(row), "display_name", profile_name(row), "avatar_url");
}

/* The first text of the latest message, cut to 200 characters (code points). */
static json_t *last_message(hl_db_t *db, const conv_row_t *row)
{
    sqlite3_stmt *st = hl_db_stmt(db, "SELECT id, role, text FROM messages WHERE conversation_id = ?1 ORDER BY rowid DESC LIMIT 1");
    sqlite3_bind_text(st, 1, row->id, -1, SQLITE_STATIC);
    json_t *out = json_null();
    if (hl_db_step(st) == SQLITE_ROW) {
        const char *text = (const char *)sqlite3_column_text(st, 2);
        size_t bytes = 0, chars = 0, len = strlen(text);
        while (bytes < len && chars < 200) {
            unsigned char c = (unsigned char)text[bytes];
            bytes += c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : 4;
            ++chars;
        }
        if (bytes > len)
            bytes = len;
        out = json_pack("{s:s, s:s, s:s%}", "id", (const char *)sqlite3_column_text(st, 0), "role",
                        (const char *)sqlite3_column_text(st, 1), "content_preview", text, bytes);
        if (out == NULL)
            out = json_null();
    }
    sqlite3_reset(st);
    return out;
}

/* Messages created after the device's read cursor. */
static json_int_t unread_count(hl_db_t *db, const conv_row_t *row, const char *device_id)
{
    int64_t cursor = 0;
    if (device_id != NULL) {
        sqlite3_stmt *st = hl_db_stmt(db, "SELECT last_event_seq FROM read_cursors WHERE device_id = ?1 AND conversation_id = ?2");
        sqlite3_bind_text(st, 1, device_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, row->id, -1, SQLITE_STATIC);
        if (hl_db_step(st) == SQLITE_ROW)
            cursor = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
    }
    sqlite3_stmt *st =
        hl_db_stmt(db, "SELECT count(*) FROM events WHERE conversation_id = ?1 AND seq > ?2 AND type = 'message.created'");
    sqlite3_bind_text(st, 1, row->id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, cursor);
    json_int_t n = hl_db_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return n;
}

json_t *conv_summary(hl_db_t *db, const conv_row_t *row, const char *device_id)
{
    json_t *usage = json_pack("{s:I, s:I, s:I}", "input_tokens", (json_int_t)row->input_tokens, "output_tokens",
                              (json_int_t)row->output_tokens, "total_tokens", (json_int_t)row->total_tokens);
    if (row->stats_updated_at != 0)
        json_object_set_new(usage, "updated_at", hl_json_iso(row->stats_updated_at));
    return json_pack("{s:s, s:s, s:o, s:o, s:I, s:o, s:o, s:o, s:s, s:I}", "id", row->id, "title", row->title, "created_at",
                     hl_json_iso(row->created_at), "updated_at", hl_json_iso(row->updated_at), "last_event_seq",
                     (json_int_t)row->last_event_seq, "usage", usage, "profile", profile_json(row), "last_message",
                     last_message(db, row), "status", row->status, "unread_count", unread_count(db, row, device_id));
}

json_t *conv_runtime(const conv_row_t *row)
{
    const char *model = row->model_override != NULL ? row->model_override : row->model;
    json_t *m = json_pack("{s:s}", "id", model != NULL ? model : "unknown");
    if (row->provider != NULL)
        json_object_set_new(m, "provider", json_string(row->provider));
    if (row->context_window > 0)
        json_object_set_new(m, "context_window", json_integer(row->context_window));
    json_t *ctx = json_pack("{s:I, s:I, s:I}", "input_tokens", (json_int_t)row->input_tokens, "output_tokens",
                            (json_int_t)row->output_tokens, "total_tokens", (json_int_t)row->total_tokens);
    if (row->context_window > 0) {
        json_object_set_new(ctx, "context_window", json_integer(row->context_window));
        if (row->total_tokens > 0) {
            int64_t pct = (row->total_tokens * 100 + row->context_window / 2) / row->context_window;
            json_object_set_new(ctx, "usage_percent", json_integer(pct > 100 ? 100 : pct));
        }
    }
    json_object_set_new(ctx, "source", json_string(model != NULL ? "estimated" : "unknown"));
    if (row->stats_updated_at != 0)
        json_object_set_new(ctx, "updated_at", hl_json_iso(row->stats_updated_at));
    return json_pack("{s:o, s:o, s:o}", "profile", profile_json(row), "model", m, "context", ctx);
}

int conv_soft_delete(store_job_t *job, hl_db_t *db, conv_row_t *row)
{
    /* its runs end with it: none is left running upstream, and none queued starts later */
    if (runs_stop_all(job, db, row->id) != 0 || conv_reload(db, row) != 0)
        return -1;
    sqlite3_stmt *st =
        hl_db_stmt(db, "UPDATE conversations SET status = 'deleted_soft', deleted_at = ?2, updated_at = ?2 WHERE id = ?1");
    sqlite3_bind_text(st, 1, row->id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, job->now);
    if (hl_db_exec(st) != 0)
        return -1;
    free(row->status);
    row->status = hl_strdup("deleted_soft");
    row->deleted_at = row->updated_at = job->now;
    /* a deleted conversation leaves the search index; its rows stay */
    st = hl_db_stmt(db, "DELETE FROM title_index WHERE rowid = ?1");
    sqlite3_bind_int64(st, 1, row->rowid);
    if (hl_db_exec(st) != 0)
        return -1;
    json_t *payload = json_pack("{s:o}", "conversation", conv_summary(db, row, job->device_id));
    return store_event(job, db, row->id, "conversation.deleted", NULL, NULL, payload) < 0 ? -1 : 0;
}

int conv_do_archive(store_job_t *job, hl_db_t *db, conv_row_t *row)
{
    sqlite3_stmt *st =
        hl_db_stmt(db, "UPDATE conversations SET status = 'archived', archived_at = ?2, updated_at = ?2 WHERE id = ?1");
    sqlite3_bind_text(st, 1, row->id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, job->now);
    if (hl_db_exec(st) != 0)
        return -1;
    free(row->status);
    row->status = hl_strdup("archived");
    row->archived_at = row->updated_at = job->now;
    json_t *payload = json_pack("{s:o}", "conversation", conv_summary(db, row, job->device_id));
    return store_event(job, db, row->id, "conversation.archived", NULL, NULL, payload) < 0 ? -1 : 0;
}
