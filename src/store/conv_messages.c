/*
 * Messages, runs and approvals (spec/API.md §7, FLOWS.md §4): the message window, sending (with a queue per conversation
 * that is really drained), run events from the runproxy actor, cancel, approval decisions.
 */
#include <string.h>

#include "store_internal.h"
#include "hl/json_util.h"

#define TITLE_UTF16_UNITS 60

/* ---- JSON of rows ---- */

static json_t *attachments_json(hl_db_t *db, const char *message_id)
{
    sqlite3_stmt *st = hl_db_stmt(db, "SELECT b.id, b.filename, b.mime, b.size FROM message_attachments a JOIN blobs b ON b.id = "
                                      "a.blob_id WHERE a.message_id = ?1 ORDER BY a.position");
    sqlite3_bind_text(st, 1, message_id, -1, SQLITE_STATIC);
    json_t *out = json_array();
    while (hl_db_step(st) == SQLITE_ROW)
        json_array_append_new(out,
                              json_pack("{s:s, s:s, s:s, s:I}", "blob_id", (const char *)sqlite3_column_text(st, 0), "filename",
                                        (const char *)sqlite3_column_text(st, 1), "mime", (const char *)sqlite3_column_text(st, 2),
                                        "size", (json_int_t)sqlite3_column_int64(st, 3)));
    sqlite3_reset(st);
    return out;
}

#define MESSAGE_COLUMNS                                                                                                            \
    "id, conversation_id, role, status, run_id, client_message_id, profile, text, created_at, updated_at, agent_events, "          \
    "reasoning"
#define APPROVAL_COLUMNS "id, run_id, message_id, kind, command, description, choices, status, decision, created_at, resolved_at"

/* An approval row (APPROVAL_COLUMNS) as the API shows it. */
static json_t *approval_from_row(sqlite3_stmt *st)
{
    const char *choices_text = (const char *)sqlite3_column_text(st, 6);
    json_t *choices = choices_text != NULL ? json_loads(choices_text, 0, NULL) : NULL;
    if (!json_is_array(choices)) {
        json_decref(choices);
        choices = json_pack("[ssss]", "once", "session", "always", "deny"); /* the upstream's default choices */
    }
    json_t *a =
        json_pack("{s:s, s:s?, s:s?, s:s, s:s, s:s, s:o, s:s, s:o}", "id", (const char *)sqlite3_column_text(st, 0), "run_id",
                  (const char *)sqlite3_column_text(st, 1), "message_id", (const char *)sqlite3_column_text(st, 2), "kind",
                  (const char *)sqlite3_column_text(st, 3), "command", (const char *)sqlite3_column_text(st, 4), "description",
                  (const char *)sqlite3_column_text(st, 5), "choices", choices, "status", (const char *)sqlite3_column_text(st, 7),
                  "created_at", hl_json_iso(sqlite3_column_int64(st, 9)));
    if (sqlite3_column_type(st, 8) != SQLITE_NULL)
        json_object_set_new(a, "decision", json_string((const char *)sqlite3_column_text(st, 8)));
    if (sqlite3_column_type(st, 10) != SQLITE_NULL)
        json_object_set_new(a, "resolved_at", hl_json_iso(sqlite3_column_int64(st, 10)));
    return a;
}

static json_t *approvals_of_message(hl_db_t *db, const char *message_id)
{
    sqlite3_stmt *st = hl_db_stmt(db, "SELECT " APPROVAL_COLUMNS " FROM approvals WHERE message_id = ?1 ORDER BY created_at, id");
    sqlite3_bind_text(st, 1, message_id, -1, SQLITE_STATIC);
    json_t *out = json_array();
    while (hl_db_step(st) == SQLITE_ROW)
        json_array_append_new(out, approval_from_row(st));
    sqlite3_reset(st);
    return out;
}

static json_t *message_from_row(hl_db_t *db, sqlite3_stmt *st)
{
    const char *id = (const char *)sqlite3_column_text(st, 0), *role = (const char *)sqlite3_column_text(st, 2);
    json_t *m =
        json_pack("{s:s, s:i, s:s, s:s, s:s}", "id", id, "schema_version", 1, "conversation_id",
                  (const char *)sqlite3_column_text(st, 1), "role", role, "status", (const char *)sqlite3_column_text(st, 3));
    if (sqlite3_column_type(st, 4) != SQLITE_NULL)
        json_object_set_new(m, "run_id", json_string((const char *)sqlite3_column_text(st, 4)));
    if (sqlite3_column_type(st, 5) != SQLITE_NULL)
        json_object_set_new(m, "client_message_id", json_string((const char *)sqlite3_column_text(st, 5)));
    json_object_set_new(m, "created_at", hl_json_iso(sqlite3_column_int64(st, 8)));
    json_object_set_new(m, "updated_at", hl_json_iso(sqlite3_column_int64(st, 9)));
    if (strcmp(role, "assistant") == 0) {
        json_t *sender = json_pack("{s:s, s:s, s:s}", "id", "agent_default", "type", "agent", "display_name", "Hermes");
        if (sqlite3_column_type(st, 6) != SQLITE_NULL)
            json_object_set_new(sender, "profile", json_string((const char *)sqlite3_column_text(st, 6)));
        json_object_set_new(m, "sender", sender);
        /* what the agent did while answering: tool calls (and reasoning), and the decisions it asked for */
        json_error_t err;
        const char *events = (const char *)sqlite3_column_text(st, 10);
        json_t *ev = events != NULL ? json_loads(events, 0, &err) : NULL;
        json_object_set_new(m, "agent_events", json_is_array(ev) ? ev : json_array());
        if (!json_is_array(ev))
            json_decref(ev);
        if (sqlite3_column_type(st, 11) != SQLITE_NULL)
            json_object_set_new(m, "reasoning", json_string((const char *)sqlite3_column_text(st, 11)));
        json_object_set_new(m, "approvals", approvals_of_message(db, id));
    } else {
        json_object_set_new(m, "sender", json_pack("{s:s, s:s, s:s}", "id", "app_user", "type", "human", "display_name", "Me"));
    }
    json_object_set_new(m, "parts", json_pack("[{s:s, s:s}]", "type", "text", "text", (const char *)sqlite3_column_text(st, 7)));
    json_object_set_new(m, "attachments", attachments_json(db, id));
    return m;
}

json_t *store_message_json(hl_db_t *db, const char *id)
{
    /* a dedicated statement: callers may be iterating another one */
    sqlite3_stmt *st = hl_db_stmt(db, "SELECT " MESSAGE_COLUMNS " FROM messages WHERE id = ?1");
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    json_t *m = hl_db_step(st) == SQLITE_ROW ? message_from_row(db, st) : NULL;
    sqlite3_reset(st);
    return m;
}

typedef struct st_run_row_t {
    char *id, *conversation_id, *trigger_id, *assistant_id, *status, *profile, *model, *upstream_id, *error_code, *error_message,
        *session_id;
    int64_t input_tokens, output_tokens, total_tokens, started_at, completed_at;
    int has_usage;
} run_row_t;

static void run_row_dispose(run_row_t *r)
{
    free(r->id);
    free(r->conversation_id);
    free(r->trigger_id);
    free(r->assistant_id);
    free(r->status);
    free(r->profile);
    free(r->model);
    free(r->upstream_id);
    free(r->error_code);
    free(r->error_message);
    free(r->session_id);
    memset(r, 0, sizeof(*r));
}

static int run_load(hl_db_t *db, const char *id, run_row_t *r)
{
    memset(r, 0, sizeof(*r));
    sqlite3_stmt *st =
        hl_db_stmt(db, "SELECT id, conversation_id, trigger_message_id, assistant_message_id, status, profile, model, "
                       "upstream_run_id, error_code, error_message, input_tokens, output_tokens, total_tokens, "
                       "started_at, completed_at, hermes_session_id FROM runs WHERE id = ?1");
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int found = hl_db_step(st) == SQLITE_ROW;
    if (found) {
        r->id = hl_db_text(st, 0);
        r->conversation_id = hl_db_text(st, 1);
        r->trigger_id = hl_db_text(st, 2);
        r->assistant_id = hl_db_text(st, 3);
        r->status = hl_db_text(st, 4);
        r->profile = hl_db_text(st, 5);
        r->model = hl_db_text(st, 6);
        r->upstream_id = hl_db_text(st, 7);
        r->error_code = hl_db_text(st, 8);
        r->error_message = hl_db_text(st, 9);
        r->has_usage = sqlite3_column_type(st, 10) != SQLITE_NULL;
        r->input_tokens = sqlite3_column_int64(st, 10);
        r->output_tokens = sqlite3_column_int64(st, 11);
        r->total_tokens = sqlite3_column_int64(st, 12);
        r->started_at = sqlite3_column_int64(st, 13);
        r->completed_at = sqlite3_column_int64(st, 14);
        r->session_id = hl_db_text(st, 15);
    }
    sqlite3_reset(st);
    return found ? 0 : -1;
}

static json_t *run_json(const run_row_t *r)
{
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s?, s:s}", "id", r->id, "kind", "agent", "conversation_id",
                          r->conversation_id, "trigger_message_id", r->trigger_id, "assistant_message_id", r->assistant_id,
                          "hermes_session_id", r->session_id, "status", r->status);
    json_object_set_new(j, "started_at", hl_json_iso(r->started_at));
    if (r->completed_at != 0)
        json_object_set_new(j, "completed_at", hl_json_iso(r->completed_at));
    if (r->profile != NULL) {
        json_object_set_new(j, "profile_name_snapshot", json_string(r->profile));
        json_object_set_new(j, "profile", json_string(r->profile));
    }
    if (r->model != NULL)
        json_object_set_new(j, "model", json_string(r->model));
    if (r->has_usage)
        json_object_set_new(j, "usage",
                            json_pack("{s:I, s:I, s:I}", "input_tokens", (json_int_t)r->input_tokens, "output_tokens",
                                      (json_int_t)r->output_tokens, "total_tokens", (json_int_t)r->total_tokens));
    if (r->error_message != NULL)
        json_object_set_new(j, "error_message", json_string(r->error_message));
    return j;
}

/* A message event carrying the message as it is now. `text` asks for the compact stored form of streamed text
 * (message.updated per coalesced piece, message.completed: see store_event_text), which replay rebuilds up to the text's
 * current length. */
static int message_event_as(store_job_t *job, hl_db_t *db, const char *type, const char *message_id, const char *run_id, bool text)
{
    json_t *m = store_message_json(db, message_id);
    if (m == NULL)
        return -1;
    int64_t text_end = -1;
    if (text)
        text_end = (int64_t)json_string_length(json_object_get(json_array_get(json_object_get(m, "parts"), 0), "text"));
    /* the payload (and the message in it) is consumed by store_event: keep our own copy of the id */
    char *conv = hl_strdup(json_string_value(json_object_get(m, "conversation_id")));
    int64_t seq = store_event_text(job, db, conv, type, message_id, run_id, json_pack("{s:o}", "message", m), text_end);
    free(conv);
    return seq < 0 ? -1 : 0;
}

static int message_event(store_job_t *job, hl_db_t *db, const char *type, const char *message_id, const char *run_id)
{
    return message_event_as(job, db, type, message_id, run_id, false);
}

/* message.updated for a piece of streamed text, or message.completed, in the compact stored form. */
static int text_event(store_job_t *job, hl_db_t *db, const run_row_t *r, const char *type)
{
    return message_event_as(job, db, type, r->assistant_id, r->id, true);
}

static int run_event(store_job_t *job, hl_db_t *db, const char *type, const char *run_id, json_t *extra)
{
    run_row_t r;
    if (run_load(db, run_id, &r) != 0) {
        json_decref(extra);
        return -1;
    }
    json_t *payload = json_pack("{s:o}", "run", run_json(&r));
    if (extra != NULL)
        json_object_update_new(payload, extra);
    int64_t seq =
        store_event(job, db, r.conversation_id, type, strcmp(type, "run.started") == 0 ? r.assistant_id : NULL, r.id, payload);
    run_row_dispose(&r);
    return seq < 0 ? -1 : 0;
}

static int set_message_status(hl_db_t *db, const char *id, const char *status, int64_t now)
{
    sqlite3_stmt *st = hl_db_stmt(db, "UPDATE messages SET status = ?2, updated_at = ?3 WHERE id = ?1");
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, status, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now);
    return hl_db_exec(st);
}

/* ---- message window ---- */

int op_messages(store_job_t *job, hl_db_t *db)
{
    conv_row_t row;
    if (conv_require(job, db, job->a.conversation_id, 0, &row) != 0)
        return -1;
    json_int_t limit = job->a.limit;
    const char *before = job->a.before;
    int64_t before_rowid = INT64_MAX;
    int ret = -1;
    if (before != NULL) {
        sqlite3_stmt *st = hl_db_stmt(db, "SELECT rowid FROM messages WHERE id = ?1 AND conversation_id = ?2");
        sqlite3_bind_text(st, 1, before, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, row.id, -1, SQLITE_STATIC);
        int found = hl_db_step(st) == SQLITE_ROW;
        if (found)
            before_rowid = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
        if (!found) {
            ret = hl_json_job_error(&job->super, HL_RESULT_INVALID, "message_cursor_not_found",
                                    "before_message_id is not a message of this conversation");
            goto Exit;
        }
    }
    /* the newest `limit` messages before the cursor, then flipped to oldest first */
    sqlite3_stmt *st = hl_db_stmt(db, "SELECT " MESSAGE_COLUMNS " FROM messages WHERE conversation_id = ?1 AND rowid < ?2 ORDER BY "
                                      "rowid DESC LIMIT ?3");
    sqlite3_bind_text(st, 1, row.id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, before_rowid);
    sqlite3_bind_int64(st, 3, limit + 1);
    json_t *newest_first = json_array();
    while (hl_db_step(st) == SQLITE_ROW)
        json_array_append_new(newest_first, json_string((const char *)sqlite3_column_text(st, 0)));
    sqlite3_reset(st);
    int has_more_before = json_array_size(newest_first) > (size_t)limit;
    json_t *messages = json_array();
    size_t n = has_more_before ? (size_t)limit : json_array_size(newest_first);
    for (size_t i = n; i > 0; --i) {
        json_t *m = store_message_json(db, json_string_value(json_array_get(newest_first, i - 1)));
        if (m != NULL)
            json_array_append_new(messages, m);
    }
    json_decref(newest_first);
    size_t count = json_array_size(messages);
    json_t *oldest = count ? json_object_get(json_array_get(messages, 0), "id") : json_null();
    json_t *newest = count ? json_object_get(json_array_get(messages, count - 1), "id") : json_null();
    json_t *page = json_pack("{s:I, s:b, s:b, s:O, s:O}", "limit", limit, "has_more_before", has_more_before, "has_more_after",
                             before != NULL, "oldest_message_id", oldest, "newest_message_id", newest);
    ret = hl_json_job_ok(&job->super, HL_RESULT_OK,
                         json_pack("{s:s, s:o, s:I, s:o, s:o}", "conversation_id", row.id, "messages", messages, "last_event_seq",
                                   (json_int_t)row.last_event_seq, "runtime", conv_runtime(&row), "page", page));
Exit:
    conv_row_dispose(&row);
    return ret;
}

/* ---- runs ---- */

/* The history a new run carries: completed user/assistant messages before its trigger, in order. */
static json_t *history_for(hl_db_t *db, const char *conversation_id, const char *trigger_id)
{
    sqlite3_stmt *st =
        hl_db_stmt(db, "SELECT role, text FROM messages WHERE conversation_id = ?1 AND status = 'completed' AND rowid < "
                       "(SELECT rowid FROM messages WHERE id = ?2) AND role IN ('user', 'assistant') ORDER BY rowid");
    sqlite3_bind_text(st, 1, conversation_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, trigger_id, -1, SQLITE_STATIC);
    json_t *h = json_array();
    while (hl_db_step(st) == SQLITE_ROW) {
        const char *text = (const char *)sqlite3_column_text(st, 1);
        if (text[0] != '\0')
            json_array_append_new(h, json_pack("{s:s, s:s}", "role", (const char *)sqlite3_column_text(st, 0), "content", text));
    }
    sqlite3_reset(st);
    return h;
}

/* Queues the run for the runproxy actor (handed over after the commit). */
static void hand_over(store_job_t *job, hl_db_t *db, const run_row_t *r, const conv_row_t *conv)
{
    json_t *trigger = store_message_json(db, r->trigger_id);
    const char *input = json_string_value(json_object_get(json_array_get(json_object_get(trigger, "parts"), 0), "text"));
    json_t *desc =
        json_pack("{s:s, s:s, s:s, s:o}", "run_id", r->id, "conversation_id", r->conversation_id, "input",
                  input != NULL ? input : "", "conversation_history", history_for(db, r->conversation_id, r->trigger_id));
    /* the Hermes session the conversation continues (its id, until Hermes named another) */
    sqlite3_stmt *st = hl_db_stmt(db, "SELECT coalesce(hermes_session_id, id) FROM conversations WHERE id = ?1");
    sqlite3_bind_text(st, 1, r->conversation_id, -1, SQLITE_STATIC);
    if (hl_db_step(st) == SQLITE_ROW)
        json_object_set_new(desc, "session_id", json_string((const char *)sqlite3_column_text(st, 0)));
    sqlite3_reset(st);
    if (r->profile != NULL)
        json_object_set_new(desc, "profile", json_string(r->profile));
    if (r->model != NULL)
        json_object_set_new(desc, "model", json_string(r->model));
    if (conv != NULL && conv->model_override != NULL && r->model == NULL)
        json_object_set_new(desc, "model", json_string(conv->model_override));
    json_object_set(desc, "attachments", json_object_get(trigger, "attachments"));
    json_decref(trigger);
    if (job->start_runs == NULL)
        job->start_runs = json_array();
    json_array_append_new(job->start_runs, desc);
}

/* The decisions on the run's approvals that the upstream may not have received (answered to the app, then the process
 * died before Hermes took them): [{approval_id, decision}], oldest first. */
static json_t *undelivered_decisions(hl_db_t *db, const char *run_id)
{
    sqlite3_stmt *st = hl_db_stmt(db, "SELECT id, decision FROM approvals WHERE run_id = ?1 AND status IN ('approved', 'denied') "
                                      "AND delivered_at IS NULL AND decision IS NOT NULL ORDER BY resolved_at, rowid");
    sqlite3_bind_text(st, 1, run_id, -1, SQLITE_STATIC);
    json_t *out = json_array();
    while (hl_db_step(st) == SQLITE_ROW)
        json_array_append_new(out, json_pack("{s:s, s:s}", "approval_id", (const char *)sqlite3_column_text(st, 0), "decision",
                                             (const char *)sqlite3_column_text(st, 1)));
    sqlite3_reset(st);
    return out;
}

int runs_reconcile(store_job_t *job, hl_db_t *db, const char *run_id)
{
    run_row_t r;
    if (run_load(db, run_id, &r) != 0)
        return -1;
    conv_row_t conv;
    int ret = -1;
    if (r.upstream_id != NULL && conv_load(db, r.conversation_id, &conv) == 0) {
        hand_over(job, db, &r, &conv);
        conv_row_dispose(&conv);
        json_t *desc = json_array_get(job->start_runs, json_array_size(job->start_runs) - 1);
        json_object_set_new(desc, "reconcile", json_true());
        json_object_set_new(desc, "upstream_run_id", json_string(r.upstream_id));
        json_object_set_new(desc, "decisions", undelivered_decisions(db, r.id));
        ret = 0;
    }
    run_row_dispose(&r);
    return ret;
}

int runs_start_next(store_job_t *job, hl_db_t *db, const char *conversation_id)
{
    sqlite3_stmt *st =
        hl_db_stmt(db, "SELECT (SELECT count(*) FROM runs WHERE conversation_id = ?1 AND status = 'running'), "
                       "(SELECT id FROM runs WHERE conversation_id = ?1 AND status = 'queued' ORDER BY rowid LIMIT 1)");
    sqlite3_bind_text(st, 1, conversation_id, -1, SQLITE_STATIC);
    char *next = NULL;
    int running = 0;
    if (hl_db_step(st) == SQLITE_ROW) {
        running = sqlite3_column_int(st, 0);
        next = hl_db_text(st, 1);
    }
    sqlite3_reset(st);
    if (running > 0 || next == NULL) {
        free(next);
        return 0;
    }
    int ret = -1;
    run_row_t r;
    if (run_load(db, next, &r) != 0)
        goto Exit;
    st = hl_db_stmt(db, "UPDATE runs SET status = 'running', started_at = ?2 WHERE id = ?1");
    sqlite3_bind_text(st, 1, r.id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, job->now);
    if (hl_db_exec(st) != 0 || set_message_status(db, r.trigger_id, "completed", job->now) != 0 ||
        set_message_status(db, r.assistant_id, "streaming", job->now) != 0)
        goto Exit;
    free(r.status);
    r.status = hl_strdup("running");
    r.started_at = job->now;
    conv_row_t conv;
    if (conv_load(db, conversation_id, &conv) != 0)
        goto Exit;
    hand_over(job, db, &r, &conv);
    conv_row_dispose(&conv);
    if (message_event(job, db, "message.updated", r.trigger_id, NULL) != 0 ||
        message_event(job, db, "message.updated", r.assistant_id, r.id) != 0 || run_event(job, db, "run.started", r.id, NULL) != 0)
        goto Exit;
    ret = 0;
Exit:
    run_row_dispose(&r);
    free(next);
    return ret;
}

/* ---- send ---- */

/* The first `units` UTF-16 code units of s (a code point above U+FFFF counts two), never splitting a character. */
static char *cut_utf16(const char *s, size_t units)
{
    size_t i = 0, used = 0, len = strlen(s);
    while (i < len) {
        unsigned char c = (unsigned char)s[i];
        size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : 4;
        size_t u = n == 4 ? 2 : 1;
        if (used + u > units || i + n > len)
            break;
        used += u;
        i += n;
    }
    return hl_strndup(s, i);
}

static int insert_message(hl_db_t *db, const char *id, const char *conv, const char *role, const char *status, const char *run_id,
                          const char *client_id, const char *profile, const char *text, int64_t now, int64_t *rowid)
{
    sqlite3_stmt *st = hl_db_stmt(db, "INSERT INTO messages(id, conversation_id, role, status, run_id, client_message_id, profile, "
                                      "text, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)");
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, conv, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, role, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, status, -1, SQLITE_STATIC);
    if (run_id != NULL)
        sqlite3_bind_text(st, 5, run_id, -1, SQLITE_STATIC);
    if (client_id != NULL)
        sqlite3_bind_text(st, 6, client_id, -1, SQLITE_STATIC);
    if (profile != NULL)
        sqlite3_bind_text(st, 7, profile, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, text, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 9, now);
    if (hl_db_exec(st) != 0)
        return -1;
    *rowid = sqlite3_last_insert_rowid(hl_db_conn(db));
    if (text[0] == '\0')
        return 0;
    st = hl_db_stmt(db, "INSERT INTO message_index(rowid, text) VALUES (?1, ?2)");
    sqlite3_bind_int64(st, 1, *rowid);
    sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
    return hl_db_exec(st);
}

/* Every attachment must be a blob of this conversation. */
static int attach(store_job_t *job, hl_db_t *db, const char *conv_id, const char *message_id)
{
    for (size_t i = 0; i < job->a.num_ids; ++i) {
        const char *blob_id = job->a.ids[i];
        sqlite3_stmt *st = hl_db_stmt(db, "SELECT 1 FROM blob_links WHERE blob_id = ?1 AND conversation_id = ?2");
        sqlite3_bind_text(st, 1, blob_id != NULL ? blob_id : "", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, conv_id, -1, SQLITE_STATIC);
        int ok = hl_db_step(st) == SQLITE_ROW;
        sqlite3_reset(st);
        if (!ok)
            return hl_json_job_error(&job->super, HL_RESULT_INVALID, "attachment_invalid",
                                     "Every attachment must be a blob uploaded to this conversation");
        st = hl_db_stmt(db, "INSERT INTO message_attachments(message_id, position, blob_id) VALUES (?1, ?2, ?3)");
        sqlite3_bind_text(st, 1, message_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)i);
        sqlite3_bind_text(st, 3, blob_id, -1, SQLITE_STATIC);
        if (hl_db_exec(st) != 0)
            return -1;
    }
    return 0;
}

int op_send(store_job_t *job, hl_db_t *db)
{
    conv_row_t conv;
    if (conv_require(job, db, job->a.conversation_id, 0, &conv) != 0)
        return -1;
    const char *content = job->a.content;
    const char *profile = job->a.profile; /* else the conversation's, taken once the row is final (below) */
    char *user_id = store_new_id("msg_"), *assistant_id = store_new_id("msg_"), *run_id = store_new_id("run_"), *title = NULL;
    int ret = -1;
    int64_t rowid;

    sqlite3_stmt *st = hl_db_stmt(db, "SELECT count(*) FROM runs WHERE conversation_id = ?1 AND status IN ('queued', 'running')");
    sqlite3_bind_text(st, 1, conv.id, -1, SQLITE_STATIC);
    int busy = hl_db_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) > 0;
    sqlite3_reset(st);

    if (strcmp(conv.status, "archived") == 0) {
        /* sending to an archived conversation brings it back, as in the original, and says so to other devices */
        st = hl_db_stmt(db, "UPDATE conversations SET status = 'active', archived_at = NULL WHERE id = ?1");
        sqlite3_bind_text(st, 1, conv.id, -1, SQLITE_STATIC);
        if (hl_db_exec(st) != 0 || conv_reload(db, &conv) != 0 ||
            store_event(job, db, conv.id, "conversation.unarchived", NULL, NULL,
                        json_pack("{s:o}", "conversation", conv_summary(db, &conv, job->device_id))) < 0)
            goto Exit;
    }
    /* after the reload above, which frees and reads the row again: taken before it, the profile was freed memory (an
     * archived conversation sent to without a profile; fuzz_routes) */
    if (profile == NULL)
        profile = conv.profile;
    if (insert_message(db, user_id, conv.id, "user", busy ? "queued" : "completed", NULL, job->a.client_message_id, NULL,
                       content != NULL ? content : "", job->now, &rowid) != 0 ||
        attach(job, db, conv.id, user_id) != 0 ||
        insert_message(db, assistant_id, conv.id, "assistant", busy ? "queued" : "streaming", run_id, NULL, profile, "", job->now,
                       &rowid) != 0)
        goto Exit;
    st = hl_db_stmt(db, "INSERT INTO runs(id, conversation_id, trigger_message_id, assistant_message_id, status, profile, model, "
                        "started_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
    sqlite3_bind_text(st, 1, run_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, conv.id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, user_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, assistant_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, busy ? "queued" : "running", -1, SQLITE_STATIC);
    if (profile != NULL)
        sqlite3_bind_text(st, 6, profile, -1, SQLITE_STATIC);
    if (conv.model_override != NULL)
        sqlite3_bind_text(st, 7, conv.model_override, -1, SQLITE_STATIC);
    if (!busy)
        sqlite3_bind_int64(st, 8, job->now);
    sqlite3_bind_int64(st, 9, job->now);
    if (hl_db_exec(st) != 0)
        goto Exit;
    if (strcmp(conv.title, CONV_DEFAULT_TITLE) == 0 && content != NULL && content[0] != '\0') {
        title = cut_utf16(content, TITLE_UTF16_UNITS);
        st = hl_db_stmt(db, "UPDATE conversations SET title = ?2 WHERE id = ?1");
        sqlite3_bind_text(st, 1, conv.id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, title, -1, SQLITE_STATIC);
        if (hl_db_exec(st) != 0)
            goto Exit;
        st = hl_db_stmt(db, "INSERT OR REPLACE INTO title_index(rowid, text) VALUES (?1, ?2)");
        sqlite3_bind_int64(st, 1, conv.rowid);
        sqlite3_bind_text(st, 2, title, -1, SQLITE_STATIC);
        if (hl_db_exec(st) != 0)
            goto Exit;
    }
    if (conv_touch(db, &conv, job->now) != 0 || message_event(job, db, "message.created", user_id, NULL) != 0 ||
        message_event(job, db, "message.created", assistant_id, run_id) != 0 ||
        run_event(job, db, "run.started", run_id, NULL) != 0)
        goto Exit;
    if (!busy) {
        run_row_t r;
        if (run_load(db, run_id, &r) != 0 || conv_reload(db, &conv) != 0) {
            run_row_dispose(&r);
            goto Exit;
        }
        hand_over(job, db, &r, &conv);
        run_row_dispose(&r);
    }
    if (conv_reload(db, &conv) != 0)
        goto Exit;
    ret = hl_json_job_ok(&job->super, HL_RESULT_ACCEPTED,
                         json_pack("{s:s, s:{s:s, s:s}, s:{s:s, s:s}, s:{s:s, s:s}, s:I, s:o}", "conversation_id", conv.id,
                                   "user_message", "id", user_id, "status", busy ? "queued" : "completed", "assistant_message",
                                   "id", assistant_id, "status", busy ? "queued" : "streaming", "run", "id", run_id, "status",
                                   busy ? "queued" : "running", "last_event_seq", (json_int_t)conv.last_event_seq, "conversation",
                                   conv_summary(db, &conv, job->device_id)));
Exit:
    conv_row_dispose(&conv);
    free(user_id);
    free(assistant_id);
    free(run_id);
    free(title);
    return ret;
}

int store_insert_message(hl_db_t *db, const char *id, const char *conv, const char *role, const char *status, const char *text,
                         int64_t now)
{
    int64_t rowid;
    return insert_message(db, id, conv, role, status, NULL, NULL, NULL, text, now, &rowid);
}

int store_message_event(store_job_t *job, hl_db_t *db, const char *type, const char *message_id)
{
    return message_event(job, db, type, message_id, NULL);
}

/* ---- run events from the runproxy actor ---- */

static int finish_run(store_job_t *job, hl_db_t *db, run_row_t *r, const char *status, const char *error_code,
                      const char *error_message)
{
    sqlite3_stmt *st =
        hl_db_stmt(db, "UPDATE runs SET status = ?2, completed_at = ?3, error_code = ?4, error_message = ?5 WHERE id = ?1");
    sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, status, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, job->now);
    if (error_code != NULL)
        sqlite3_bind_text(st, 4, error_code, -1, SQLITE_STATIC);
    if (error_message != NULL)
        sqlite3_bind_text(st, 5, error_message, -1, SQLITE_STATIC);
    if (hl_db_exec(st) != 0)
        return -1;
    /* a user message still queued behind this run was never sent: it failed (or was cancelled) with it */
    const char *msg_status = strcmp(status, "completed") == 0   ? "completed"
                             : strcmp(status, "cancelled") == 0 ? "cancelled"
                                                                : "failed";
    if (set_message_status(db, r->assistant_id, msg_status, job->now) != 0)
        return -1;
    /* a decision nobody gave before the run ended can no longer be given */
    st = hl_db_stmt(db, "UPDATE approvals SET status = 'expired', resolved_at = ?2 WHERE run_id = ?1 AND status = 'pending'");
    sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, job->now);
    if (hl_db_exec(st) != 0)
        return -1;
    st = hl_db_stmt(db, "UPDATE messages SET status = ?3, updated_at = ?2 WHERE id = ?1 AND status = 'queued'");
    sqlite3_bind_text(st, 1, r->trigger_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, job->now);
    sqlite3_bind_text(st, 3, msg_status, -1, SQLITE_STATIC);
    return hl_db_exec(st);
}

static int add_usage(hl_db_t *db, const run_row_t *r, json_t *usage)
{
    json_int_t in = json_integer_value(json_object_get(usage, "input_tokens"));
    json_int_t out = json_integer_value(json_object_get(usage, "output_tokens"));
    json_t *t = json_object_get(usage, "total_tokens");
    json_int_t total = json_is_integer(t) ? json_integer_value(t) : in + out;
    sqlite3_stmt *st = hl_db_stmt(db, "UPDATE runs SET input_tokens = ?2, output_tokens = ?3, total_tokens = ?4 WHERE id = ?1");
    sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, in);
    sqlite3_bind_int64(st, 3, out);
    sqlite3_bind_int64(st, 4, total);
    return hl_db_exec(st);
}

/* Conversation totals are the sums over its runs' usage. */
static int refresh_stats(hl_db_t *db, const char *conversation_id, int64_t now)
{
    sqlite3_stmt *st =
        hl_db_stmt(db, "UPDATE conversations SET input_tokens = (SELECT coalesce(sum(input_tokens), 0) FROM runs WHERE "
                       "conversation_id = ?1), output_tokens = (SELECT coalesce(sum(output_tokens), 0) FROM runs WHERE "
                       "conversation_id = ?1), total_tokens = (SELECT coalesce(sum(total_tokens), 0) FROM runs WHERE "
                       "conversation_id = ?1), stats_updated_at = ?2, updated_at = ?2 WHERE id = ?1");
    sqlite3_bind_text(st, 1, conversation_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now);
    return hl_db_exec(st);
}

/* Ends a run as `status` (completed, failed or cancelled): its row, messages and approvals (finish_run), the
 * conversation's token totals, then the message's event (message.completed with its text, message.failed, or
 * message.updated) and run.<status> (with the error when failed). */
static int end_run(store_job_t *job, hl_db_t *db, run_row_t *r, const char *status, const char *error_code,
                   const char *error_message)
{
    if (finish_run(job, db, r, status, error_code, error_message) != 0 || refresh_stats(db, r->conversation_id, job->now) != 0)
        return -1;
    bool failed = strcmp(status, "failed") == 0;
    int ret = strcmp(status, "completed") == 0 ? text_event(job, db, r, "message.completed")
              : failed                         ? message_event(job, db, "message.failed", r->assistant_id, r->id)
                                               : message_event(job, db, "message.updated", r->assistant_id, r->id);
    if (ret != 0)
        return -1;
    char type[32];
    snprintf(type, sizeof(type), "run.%s", status);
    json_t *extra = failed ? json_pack("{s:{s:s, s:s}}", "error", "code", error_code != NULL ? error_code : "hermes_run_failed",
                                       "message", error_message)
                           : NULL;
    return run_event(job, db, type, r->id, extra);
}

/* Appends one entry to the assistant message's agent_events. */
static int add_agent_event(store_job_t *job, hl_db_t *db, const char *message_id, json_t *entry)
{
    char *text = json_dumps(entry, JSON_COMPACT);
    json_decref(entry);
    sqlite3_stmt *st = hl_db_stmt(db, "UPDATE messages SET agent_events = json_insert(coalesce(agent_events, '[]'), '$[#]', "
                                      "json(?2)), updated_at = ?3 WHERE id = ?1");
    sqlite3_bind_text(st, 1, message_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, text, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 3, job->now);
    free(text);
    return hl_db_exec(st);
}

/* tool.started / tool.completed: an event with the tool's facts, also kept on the assistant message. */
static int tool_event(store_job_t *job, hl_db_t *db, const run_row_t *r)
{
    store_args_t *a = &job->a;
    bool started = a->event_kind == HL_RUN_EVENT_TOOL_STARTED;
    const char *type = started ? "tool.started" : "tool.completed";
    json_t *payload = started ? json_pack("{s:s, s:s, s:s}", "run_id", r->id, "tool", a->tool != NULL ? a->tool : "", "preview",
                                          a->preview != NULL ? a->preview : "")
                              : json_pack("{s:s, s:s, s:f, s:b}", "run_id", r->id, "tool", a->tool != NULL ? a->tool : "",
                                          "duration", a->duration, "error", a->tool_error);
    json_t *entry = json_deep_copy(payload);
    json_object_del(entry, "run_id");
    json_object_set_new(entry, "type", json_string(type));
    json_object_set_new(entry, "at", hl_json_iso(job->now));
    if (add_agent_event(job, db, r->assistant_id, entry) != 0) {
        json_decref(payload);
        return -1;
    }
    return store_event(job, db, r->conversation_id, type, r->assistant_id, r->id, payload) < 0 ? -1 : 0;
}

/* approval.requested: a pending approval row, shown on the assistant message and in the event. */
static int approval_requested(store_job_t *job, hl_db_t *db, const run_row_t *r)
{
    store_args_t *a = &job->a;
    char *id = store_new_id("appr_");
    char *choices = a->approval_choices != NULL ? json_dumps(a->approval_choices, JSON_COMPACT) : NULL;
    sqlite3_stmt *st = hl_db_stmt(db, "INSERT INTO approvals(id, conversation_id, run_id, message_id, status, kind, command, "
                                      "description, choices, upstream_id, created_at) VALUES (?1, ?2, ?3, ?4, 'pending', ?5, ?6, "
                                      "?7, ?8, ?9, ?10) RETURNING " APPROVAL_COLUMNS);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, r->conversation_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, r->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, r->assistant_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, a->approval_kind != NULL ? a->approval_kind : "terminal_command", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, a->approval_command != NULL ? a->approval_command : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, a->approval_description != NULL ? a->approval_description : "", -1, SQLITE_STATIC);
    if (choices != NULL)
        sqlite3_bind_text(st, 8, choices, -1, SQLITE_STATIC);
    if (r->upstream_id != NULL)
        sqlite3_bind_text(st, 9, r->upstream_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 10, job->now);
    json_t *approval = hl_db_step(st) == SQLITE_ROW ? approval_from_row(st) : NULL;
    sqlite3_reset(st);
    free(choices);
    free(id);
    if (approval == NULL)
        return -1;
    return store_event(job, db, r->conversation_id, "approval.requested", r->assistant_id, r->id,
                       json_pack("{s:o}", "approval", approval)) < 0
               ? -1
               : 0;
}

static int set_upstream(store_job_t *job, hl_db_t *db, const run_row_t *r)
{
    sqlite3_stmt *st = hl_db_stmt(db, "UPDATE runs SET upstream_run_id = ?2, hermes_session_id = ?3 WHERE id = ?1");
    sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, job->a.upstream_run_id, -1, SQLITE_STATIC);
    if (job->a.session_id != NULL)
        sqlite3_bind_text(st, 3, job->a.session_id, -1, SQLITE_STATIC);
    if (hl_db_exec(st) != 0)
        return -1;
    if (job->a.session_id == NULL)
        return 0;
    st = hl_db_stmt(db, "UPDATE conversations SET hermes_session_id = ?2 WHERE id = ?1");
    sqlite3_bind_text(st, 1, r->conversation_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, job->a.session_id, -1, SQLITE_STATIC);
    return hl_db_exec(st);
}

int op_run_event(store_job_t *job, hl_db_t *db)
{
    const char *run_id = job->a.run_id;
    run_row_t r;
    if (run_id == NULL || run_load(db, run_id, &r) != 0)
        return hl_json_job_error(&job->super, HL_RESULT_NOT_FOUND, "run_not_found", "Run not found");
    int ret = -1, ended = 0;
    int live = strcmp(r.status, "running") == 0 || strcmp(r.status, "queued") == 0;
    if (!live) {
        ret = hl_json_job_ok(&job->super, HL_RESULT_OK, json_pack("{s:b}", "ignored", 1)); /* late events of a finished run */
        goto Exit;
    }
    switch (job->a.event_kind) {
    case HL_RUN_EVENT_UPSTREAM:
        ret = set_upstream(job, db, &r);
        break;
    case HL_RUN_EVENT_TOOL_STARTED:
    case HL_RUN_EVENT_TOOL_COMPLETED:
        ret = tool_event(job, db, &r);
        break;
    case HL_RUN_EVENT_REASONING: {
        const char *text = job->a.text != NULL ? job->a.text : "";
        if (text[0] == '\0') {
            ret = 0;
            break;
        }
        /* the upstream sends the turn's answer as "reasoning" when the model gave none: then the event is kept as a
         * reference to the end of the answer (rebuilt on replay), not as a second copy of it */
        sqlite3_stmt *st = hl_db_stmt(db, "SELECT substr(text, -length(?2)) = ?2, length(CAST(text AS BLOB)) FROM messages WHERE "
                                          "id = ?1");
        sqlite3_bind_text(st, 1, r.assistant_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
        int same = 0;
        int64_t end = 0;
        if (hl_db_step(st) == SQLITE_ROW) {
            same = sqlite3_column_int(st, 0) != 0;
            end = sqlite3_column_int64(st, 1);
        }
        sqlite3_reset(st);
        json_t *payload = json_pack("{s:s, s:s}", "run_id", r.id, "text", text);
        if (same) {
            ret = store_event_text(job, db, r.conversation_id, "reasoning.available", r.assistant_id, r.id, payload, end) >= 0 ? 0
                                                                                                                               : -1;
            break;
        }
        st = hl_db_stmt(db, "UPDATE messages SET reasoning = ?2, updated_at = ?3 WHERE id = ?1");
        sqlite3_bind_text(st, 1, r.assistant_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, job->now);
        if (hl_db_exec(st) != 0) {
            json_decref(payload);
            break;
        }
        ret = store_event(job, db, r.conversation_id, "reasoning.available", r.assistant_id, r.id, payload) >= 0 ? 0 : -1;
        break;
    }
    case HL_RUN_EVENT_APPROVAL:
        ret = approval_requested(job, db, &r);
        break;
    case HL_RUN_EVENT_DECIDED: {
        sqlite3_stmt *st =
            hl_db_stmt(db, "UPDATE approvals SET delivered_at = ?3 WHERE id = ?1 AND run_id = ?2 AND delivered_at IS "
                           "NULL AND status IN ('approved', 'denied')");
        sqlite3_bind_text(st, 1, job->a.approval_id != NULL ? job->a.approval_id : "", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, r.id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, job->now);
        ret = hl_db_exec(st);
        break;
    }
    case HL_RUN_EVENT_CANCELLED:
        ended = 1;
        ret = end_run(job, db, &r, "cancelled", NULL, NULL);
        break;
    case HL_RUN_EVENT_DELTA: {
        sqlite3_stmt *st = hl_db_stmt(db, "UPDATE messages SET text = text || ?2, updated_at = ?3 WHERE id = ?1");
        sqlite3_bind_text(st, 1, r.assistant_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, job->a.delta != NULL ? job->a.delta : "", -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, job->now);
        ret = hl_db_exec(st) == 0 ? text_event(job, db, &r, "message.updated") : -1;
        break;
    }
    case HL_RUN_EVENT_COMPLETED: {
        json_t *usage = job->a.usage;
        ended = 1;
        if (job->a.text != NULL && job->a.text[0] != '\0') {
            /* no delta came (or the upstream only reported its output at the end): the output is the answer */
            /* replaces the text received when it is a prefix of the output (nothing, or part of it before a restart) */
            sqlite3_stmt *st = hl_db_stmt(db, "UPDATE messages SET text = ?2 WHERE id = ?1 AND substr(?2, 1, length(text)) = text");
            sqlite3_bind_text(st, 1, r.assistant_id, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 2, job->a.text, -1, SQLITE_STATIC);
            if (hl_db_exec(st) != 0)
                goto Exit;
        }
        ret =
            (json_is_object(usage) && add_usage(db, &r, usage) != 0) || end_run(job, db, &r, "completed", NULL, NULL) != 0 ? -1 : 0;
        /* the finished reply goes into the search index, once (a run completes once: events of an ended run are ignored
         * above); the index reads its text from messages, so an entry is never replaced */
        if (ret == 0) {
            sqlite3_stmt *st = hl_db_stmt(
                db, "INSERT INTO message_index(rowid, text) SELECT rowid, text FROM messages WHERE id = ?1 AND text != ''");
            sqlite3_bind_text(st, 1, r.assistant_id, -1, SQLITE_STATIC);
            ret = hl_db_exec(st);
        }
        break;
    }
    case HL_RUN_EVENT_FAILED: {
        const char *code = job->a.error_code, *message = job->a.error_message;
        if (message == NULL)
            message = "Hermes run failed";
        ended = 1;
        ret = end_run(job, db, &r, "failed", code, message);
        break;
    }
    default:
        ret = hl_json_job_error(&job->super, HL_RESULT_INVALID, "run_event_invalid", "Unknown run event");
        goto Exit;
    }
    if (ret == 0 && ended)
        ret = runs_start_next(job, db, r.conversation_id);
    if (ret == 0)
        ret = hl_json_job_ok(&job->super, HL_RESULT_OK, json_object());
Exit:
    run_row_dispose(&r);
    return ret;
}

/* ---- direct runs (POST /api/v1/runs): their end and usage ---- */

int op_direct_run(store_job_t *job, hl_db_t *db)
{
    store_args_t *a = &job->a;
    json_t *u = a->usage;
    sqlite3_stmt *st = hl_db_stmt(db, "INSERT OR REPLACE INTO direct_runs(upstream_run_id, profile, status, input_tokens, "
                                      "output_tokens, total_tokens, completed_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
    sqlite3_bind_text(st, 1, a->upstream_run_id, -1, SQLITE_STATIC);
    if (a->profile != NULL)
        sqlite3_bind_text(st, 2, a->profile, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, a->text != NULL ? a->text : "completed", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, json_integer_value(json_object_get(u, "input_tokens")));
    sqlite3_bind_int64(st, 5, json_integer_value(json_object_get(u, "output_tokens")));
    sqlite3_bind_int64(st, 6, json_integer_value(json_object_get(u, "total_tokens")));
    sqlite3_bind_int64(st, 7, job->now);
    if (hl_db_exec(st) != 0)
        return -1;
    if (job->direct_runs == NULL)
        job->direct_runs = json_array();
    json_array_append_new(job->direct_runs, json_string(a->upstream_run_id));
    return hl_json_job_ok(&job->super, HL_RESULT_OK, json_object());
}

/* ---- cancel ---- */

int op_cancel_run(store_job_t *job, hl_db_t *db)
{
    conv_row_t conv;
    if (conv_require(job, db, job->a.conversation_id, 1, &conv) != 0)
        return -1;
    run_row_t r;
    int ret = -1;
    const char *run_id = job->a.run_id;
    if (run_id == NULL || run_load(db, run_id, &r) != 0 || strcmp(r.conversation_id, conv.id) != 0) {
        if (run_id != NULL)
            run_row_dispose(&r);
        ret = hl_json_job_error(&job->super, HL_RESULT_NOT_FOUND, "run_not_found", "Run not found");
        goto Exit;
    }
    if (strcmp(r.status, "running") == 0 || strcmp(r.status, "queued") == 0) {
        int was_running = strcmp(r.status, "running") == 0;
        if (end_run(job, db, &r, "cancelled", NULL, NULL) != 0 || runs_start_next(job, db, conv.id) != 0)
            goto Done;
        if (was_running) {
            if (job->cancel_runs == NULL)
                job->cancel_runs = json_array();
            json_array_append_new(job->cancel_runs, json_string(r.id));
        }
        free(r.status);
        r.status = hl_strdup("cancelled");
    }
    if (conv_reload(db, &conv) == 0)
        ret = hl_json_job_ok(&job->super, HL_RESULT_OK,
                             json_pack("{s:s, s:{s:s, s:s}, s:I}", "conversation_id", conv.id, "run", "id", r.id, "status",
                                       r.status, "last_event_seq", (json_int_t)conv.last_event_seq));
Done:
    run_row_dispose(&r);
Exit:
    conv_row_dispose(&conv);
    return ret;
}

int runs_stop_all(store_job_t *job, hl_db_t *db, const char *conversation_id)
{
    sqlite3_stmt *st =
        hl_db_stmt(db, "SELECT id FROM runs WHERE conversation_id = ?1 AND status IN ('queued', 'running') ORDER BY rowid");
    sqlite3_bind_text(st, 1, conversation_id, -1, SQLITE_STATIC);
    json_t *ids = json_array();
    while (hl_db_step(st) == SQLITE_ROW)
        json_array_append_new(ids, json_string((const char *)sqlite3_column_text(st, 0)));
    sqlite3_reset(st);
    int ret = 0;
    for (size_t i = 0; ret == 0 && i < json_array_size(ids); ++i) {
        run_row_t r;
        if (run_load(db, json_string_value(json_array_get(ids, i)), &r) != 0) {
            ret = -1;
            break;
        }
        int was_running = strcmp(r.status, "running") == 0;
        if (end_run(job, db, &r, "cancelled", NULL, NULL) != 0) {
            ret = -1;
        } else if (was_running) {
            if (job->cancel_runs == NULL)
                job->cancel_runs = json_array();
            json_array_append_new(job->cancel_runs, json_string(r.id));
        }
        run_row_dispose(&r);
    }
    json_decref(ids);
    return ret;
}

/* ---- approvals ---- */

int op_resolve_approval(store_job_t *job, hl_db_t *db)
{
    conv_row_t conv;
    if (conv_require(job, db, job->a.conversation_id, 0, &conv) != 0)
        return -1;
    const char *approval_id = job->a.approval_id != NULL ? job->a.approval_id : "";
    const char *decision = !job->a.approve ? "deny" : job->a.scope != NULL && job->a.scope[0] != '\0' ? job->a.scope : "once";
    int ret = -1;
    json_t *approval = NULL;
    /* an approval's scope is once, session or always ("deny" is the deny route's decision, not a scope) */
    if (job->a.approve && strcmp(decision, "once") != 0 && strcmp(decision, "session") != 0 && strcmp(decision, "always") != 0) {
        ret = hl_json_job_error(&job->super, HL_RESULT_INVALID, "invalid_approval_scope", "scope must be once, session or always");
        goto Exit;
    }
    sqlite3_stmt *st = hl_db_stmt(db, "SELECT " APPROVAL_COLUMNS " FROM approvals WHERE id = ?1 AND conversation_id = ?2");
    sqlite3_bind_text(st, 1, approval_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, conv.id, -1, SQLITE_STATIC);
    if (hl_db_step(st) == SQLITE_ROW)
        approval = approval_from_row(st);
    sqlite3_reset(st);
    if (approval == NULL) {
        ret = hl_json_job_error(&job->super, HL_RESULT_NOT_FOUND, "approval_not_found",
                                "No approval with this id in this conversation");
        goto Exit;
    }
    if (strcmp(json_string_value(json_object_get(approval, "status")), "pending") != 0) {
        ret = hl_json_job_error(&job->super, HL_RESULT_CONFLICT, "approval_not_pending", "This approval is no longer pending");
        goto Exit;
    }
    st = hl_db_stmt(db,
                    "UPDATE approvals SET status = ?2, decision = ?3, resolved_at = ?4 WHERE id = ?1 RETURNING " APPROVAL_COLUMNS);
    sqlite3_bind_text(st, 1, approval_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, strcmp(decision, "deny") == 0 ? "denied" : "approved", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, decision, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, job->now);
    json_decref(approval);
    approval = hl_db_step(st) == SQLITE_ROW ? approval_from_row(st) : NULL;
    sqlite3_reset(st);
    if (approval == NULL)
        goto Exit;
    json_object_set_new(approval, "resume_available", json_false());
    const char *run_id = json_string_value(json_object_get(approval, "run_id"));
    const char *message_id = json_string_value(json_object_get(approval, "message_id"));
    if (store_event(job, db, conv.id, "approval.resolved", message_id, run_id, json_pack("{s:O}", "approval", approval)) < 0 ||
        conv_reload(db, &conv) != 0)
        goto Exit;
    /* forwarded to the upstream run after the commit */
    if (job->approval_decisions == NULL)
        job->approval_decisions = json_array();
    json_array_append_new(job->approval_decisions,
                          json_pack("{s:s?, s:s, s:s}", "run_id", run_id, "approval_id", approval_id, "decision", decision));
    ret = hl_json_job_ok(&job->super, HL_RESULT_OK,
                         json_pack("{s:s, s:s, s:O, s:b, s:b, s:b, s:I}", "conversation_id", conv.id, "message_id",
                                   message_id != NULL ? message_id : "", "approval", approval, "command_allowlist_updated", 0,
                                   "requires_gateway_reload", 0, "resume_available", 0, "last_event_seq",
                                   (json_int_t)conv.last_event_seq));
Exit:
    json_decref(approval);
    conv_row_dispose(&conv);
    return ret;
}
