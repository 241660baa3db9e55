/*
 * Import of the Node version's conversations, blobs and usage facts (hl/store_import.h): store jobs on the writer, so
 * the global event ids stay the writer's to hand out and the statistics see the commit like any other. Imported rows keep
 * their ids; a conversation, blob or fact already present is skipped, which makes a second import add nothing.
 */
#include <errno.h>
#include <string.h>

#include "hl/ids.h"
#include "hl/store_import.h"
#include "store_internal.h"

static int exists(hl_db_t *db, const char *sql, const char *id)
{
    sqlite3_stmt *st = hl_db_stmt(db, sql);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int found = hl_db_step(st) == SQLITE_ROW;
    sqlite3_reset(st);
    return found;
}

static int insert_conversation(hl_db_t *db, json_t *c)
{
    sqlite3_stmt *st =
        hl_db_stmt(db, "INSERT INTO conversations(id, title, status, profile, hermes_session_id, last_event_seq, input_tokens, "
                       "output_tokens, total_tokens, stats_updated_at, model, provider, context_window, created_at, updated_at, "
                       "archived_at, deleted_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, "
                       "CASE WHEN ?3 = 'archived' THEN ?15 END, ?16)");
    hl_db_bind_json_text(st, 1, c, "id");
    hl_db_bind_json_text(st, 2, c, "title");
    hl_db_bind_json_text(st, 3, c, "status");
    hl_db_bind_json_text(st, 4, c, "profile");
    hl_db_bind_json_text(st, 5, c, "hermes_session_id");
    hl_db_bind_json_int(st, 6, c, "last_event_seq");
    hl_db_bind_json_int(st, 7, c, "input_tokens");
    hl_db_bind_json_int(st, 8, c, "output_tokens");
    hl_db_bind_json_int(st, 9, c, "total_tokens");
    hl_db_bind_json_int(st, 10, c, "stats_updated_at");
    hl_db_bind_json_text(st, 11, c, "model");
    hl_db_bind_json_text(st, 12, c, "provider");
    hl_db_bind_json_int(st, 13, c, "context_window");
    hl_db_bind_json_int(st, 14, c, "created_at");
    hl_db_bind_json_int(st, 15, c, "updated_at");
    hl_db_bind_json_int(st, 16, c, "deleted_at");
    return hl_db_exec(st);
}

static int insert_message(hl_db_t *db, const char *conv_id, json_t *m)
{
    sqlite3_stmt *st = hl_db_stmt(db, "INSERT INTO messages(id, conversation_id, role, status, run_id, client_message_id, "
                                      "profile, text, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) "
                                      "RETURNING rowid");
    hl_db_bind_json_text(st, 1, m, "id");
    sqlite3_bind_text(st, 2, conv_id, -1, SQLITE_STATIC);
    hl_db_bind_json_text(st, 3, m, "role");
    hl_db_bind_json_text(st, 4, m, "status");
    hl_db_bind_json_text(st, 5, m, "run_id");
    hl_db_bind_json_text(st, 6, m, "client_message_id");
    hl_db_bind_json_text(st, 7, m, "profile");
    hl_db_bind_json_text(st, 8, m, "text");
    hl_db_bind_json_int(st, 9, m, "created_at");
    hl_db_bind_json_int(st, 10, m, "updated_at");
    int64_t rowid = -1;
    if (hl_db_step(st) == SQLITE_ROW)
        rowid = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (rowid < 0)
        return -1;
    /* searchable like a message sent here (the index reads its text from the row) */
    if (json_string_length(json_object_get(m, "text")) > 0) {
        st = hl_db_stmt(db, "INSERT INTO message_index(rowid, text) VALUES (?1, ?2)");
        sqlite3_bind_int64(st, 1, rowid);
        hl_db_bind_json_text(st, 2, m, "text");
        if (hl_db_exec(st) != 0)
            return -1;
    }
    size_t i;
    json_t *b;
    json_array_foreach(json_object_get(m, "attachments"), i, b)
    {
        st = hl_db_stmt(db, "INSERT OR IGNORE INTO message_attachments(message_id, position, blob_id) VALUES (?1, ?2, ?3)");
        hl_db_bind_json_text(st, 1, m, "id");
        sqlite3_bind_int64(st, 2, (sqlite3_int64)i);
        sqlite3_bind_text(st, 3, json_string_value(b), -1, SQLITE_STATIC);
        if (hl_db_exec(st) != 0)
            return -1;
    }
    return 0;
}

static int insert_run(hl_db_t *db, const char *conv_id, json_t *r)
{
    sqlite3_stmt *st = hl_db_stmt(db, "INSERT INTO runs(id, conversation_id, trigger_message_id, assistant_message_id, status, "
                                      "profile, model, input_tokens, output_tokens, total_tokens, error_message, started_at, "
                                      "completed_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, "
                                      "?13, ?14)");
    hl_db_bind_json_text(st, 1, r, "id");
    sqlite3_bind_text(st, 2, conv_id, -1, SQLITE_STATIC);
    hl_db_bind_json_text(st, 3, r, "trigger_message_id");
    hl_db_bind_json_text(st, 4, r, "assistant_message_id");
    hl_db_bind_json_text(st, 5, r, "status");
    hl_db_bind_json_text(st, 6, r, "profile");
    hl_db_bind_json_text(st, 7, r, "model");
    hl_db_bind_json_int(st, 8, r, "input_tokens");
    hl_db_bind_json_int(st, 9, r, "output_tokens");
    hl_db_bind_json_int(st, 10, r, "total_tokens");
    hl_db_bind_json_text(st, 11, r, "error_message");
    hl_db_bind_json_int(st, 12, r, "started_at");
    hl_db_bind_json_int(st, 13, r, "completed_at");
    hl_db_bind_json_int(st, 14, r, "created_at");
    return hl_db_exec(st);
}

/* the event as the Node version stored it, plus the global id this store gives every event */
static int insert_event(store_job_t *job, hl_db_t *db, const char *conv_id, json_t *e)
{
    int64_t event_id = job->store->next_event_id;
    json_t *ev = json_deep_copy(json_object_get(e, "event"));
    json_object_set_new(ev, "event_id", json_integer(event_id));
    char *text = json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(ev);
    if (text == NULL)
        hl_fatal("json_dumps failed");
    const char *type = json_string_value(json_object_get(e, "type"));
    sqlite3_stmt *st = hl_db_stmt(db, "INSERT INTO events(id, conversation_id, seq, type, notify, json, created_at) VALUES (?1, "
                                      "?2, ?3, ?4, ?5, ?6, ?7)");
    sqlite3_bind_int64(st, 1, event_id);
    sqlite3_bind_text(st, 2, conv_id, -1, SQLITE_STATIC);
    hl_db_bind_json_int(st, 3, e, "seq");
    sqlite3_bind_text(st, 4, type, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 5, store_type_notifies(type));
    sqlite3_bind_text(st, 6, text, -1, SQLITE_STATIC);
    hl_db_bind_json_int(st, 7, e, "created_at");
    int rc = hl_db_exec(st);
    free(text);
    if (rc == 0)
        job->store->next_event_id++;
    return rc;
}

static int op_import_conversation(store_job_t *job, hl_db_t *db)
{
    json_t *in = job->a.answer, *c = json_object_get(in, "conversation");
    const char *id = json_string_value(json_object_get(c, "id"));
    if (exists(db, "SELECT 1 FROM conversations WHERE id = ?1", id))
        return hl_json_job_ok(&job->super, HL_RESULT_OK,
                              json_pack("{s:b, s:i, s:i, s:i}", "imported", 0, "messages", 0, "runs", 0, "events", 0));
    int64_t first_event_id = job->store->next_event_id;
    if (insert_conversation(db, c) != 0)
        goto Error;
    conv_row_t row;
    if (conv_load(db, id, &row) != 0)
        goto Error;
    /* a deleted conversation is out of search, as one deleted here */
    int rc = strcmp(row.status, "deleted_soft") != 0 ? store_index_title(db, row.rowid, row.title) : 0;
    conv_row_dispose(&row);
    if (rc != 0)
        goto Error;
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(in, "messages"), i, x) if (insert_message(db, id, x) != 0) goto Error;
    json_array_foreach(json_object_get(in, "runs"), i, x) if (insert_run(db, id, x) != 0) goto Error;
    json_array_foreach(json_object_get(in, "events"), i, x) if (insert_event(job, db, id, x) != 0) goto Error;
    return hl_json_job_ok(&job->super, HL_RESULT_OK,
                          json_pack("{s:b, s:I, s:I, s:I}", "imported", 1, "messages",
                                    (json_int_t)json_array_size(json_object_get(in, "messages")), "runs",
                                    (json_int_t)json_array_size(json_object_get(in, "runs")), "events",
                                    (json_int_t)json_array_size(json_object_get(in, "events"))));
Error:
    /* the savepoint goes; so must the ids handed out in it */
    job->store->next_event_id = first_event_id;
    return hl_json_job_error(&job->super, HL_RESULT_INTERNAL, "internal_error", "The conversation could not be stored");
}

void hl_store_import_conversation(hl_store_t *s, hl_reply_to_t *to, json_t *conv)
{
    store_job_t *job = store_job_new(s, to, op_import_conversation, NULL);
    job->a.answer = json_deep_copy(conv);
    store_post_write(job);
}

int hl_store_import_blob_file(hl_store_t *s, const void *data, size_t len, char sha[65])
{
    hl_sha256_hex(data, len, sha);
    char *path = blob_path(s, sha);
    int ret = blob_write_file(s, path, data, len);
    free(path);
    return ret;
}

static int op_import_blob(store_job_t *job, hl_db_t *db)
{
    json_t *b = job->a.answer;
    const char *id = json_string_value(json_object_get(b, "id"));
    if (exists(db, "SELECT 1 FROM blobs WHERE id = ?1", id))
        return hl_json_job_ok(&job->super, HL_RESULT_OK, json_pack("{s:b}", "imported", 0));
    sqlite3_stmt *st =
        hl_db_stmt(db, "INSERT INTO blobs(id, sha256, size, mime, filename, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, job->a.blob_id, -1, SQLITE_STATIC);
    hl_db_bind_json_int(st, 3, b, "size");
    hl_db_bind_json_text(st, 4, b, "mime");
    hl_db_bind_json_text(st, 5, b, "filename");
    hl_db_bind_json_int(st, 6, b, "created_at");
    if (hl_db_exec(st) != 0)
        return -1;
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(b, "conversation_ids"), i, c)
    {
        st = hl_db_stmt(db, "INSERT OR IGNORE INTO blob_links(blob_id, conversation_id) VALUES (?1, ?2)");
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, json_string_value(c), -1, SQLITE_STATIC);
        if (hl_db_exec(st) != 0)
            return -1;
    }
    return hl_json_job_ok(&job->super, HL_RESULT_OK, json_pack("{s:b}", "imported", 1));
}

void hl_store_import_blob(hl_store_t *s, hl_reply_to_t *to, json_t *blob, const char *sha)
{
    store_job_t *job = store_job_new(s, to, op_import_blob, NULL);
    job->a.answer = json_deep_copy(blob);
    job->a.blob_id = hl_strdup(sha); /* the content hash the file is stored under */
    store_post_write(job);
}

/* A Node fact becomes a conversation run's fact: its profile as the stats actor names it (none = default), its status
 * that of the imported run (completed when unknown), deleted when its conversation is. */
static int op_import_usage(store_job_t *job, hl_db_t *db)
{
    json_int_t added = 0, skipped = 0;
    size_t i;
    json_t *f;
    json_array_foreach(job->a.answer, i, f)
    {
        sqlite3_stmt *st = hl_db_stmt(
            db, "INSERT OR IGNORE INTO run_usage_facts(completed_at, direct, run_id, conversation_id, profile, model, provider, "
                "status, input_tokens, output_tokens, total_tokens, message_count, started_at, updated_at, deleted) VALUES "
                "(?1, 0, ?2, ?3, coalesce(nullif(?4, ''), 'default'), ?5, ?6, coalesce((SELECT status FROM runs WHERE id = ?2), "
                "'completed'), ?7, ?8, ?9, ?10, ?11, ?12, coalesce((SELECT status = 'deleted_soft' FROM conversations WHERE id = "
                "?3), 0))");
        hl_db_bind_json_int(st, 1, f, "completed_at");
        hl_db_bind_json_text(st, 2, f, "run_id");
        hl_db_bind_json_text(st, 3, f, "conversation_id");
        hl_db_bind_json_text(st, 4, f, "profile");
        hl_db_bind_json_text(st, 5, f, "model");
        hl_db_bind_json_text(st, 6, f, "provider");
        hl_db_bind_json_int(st, 7, f, "input_tokens");
        hl_db_bind_json_int(st, 8, f, "output_tokens");
        hl_db_bind_json_int(st, 9, f, "total_tokens");
        hl_db_bind_json_int(st, 10, f, "message_count");
        hl_db_bind_json_int(st, 11, f, "started_at");
        hl_db_bind_json_int(st, 12, f, "updated_at");
        if (hl_db_exec(st) != 0)
            return -1;
        if (sqlite3_changes(sqlite3_db_handle(st)) > 0)
            ++added;
        else
            ++skipped;
    }
    return hl_json_job_ok(&job->super, HL_RESULT_OK, json_pack("{s:I, s:I}", "imported", added, "skipped", skipped));
}

void hl_store_import_usage(hl_store_t *s, hl_reply_to_t *to, json_t *facts)
{
    store_job_t *job = store_job_new(s, to, op_import_usage, NULL);
    job->a.answer = json_deep_copy(facts);
    store_post_write(job);
}
