/*
 * spec/API.md §7: conversation lists, search, create, delete, messages, send, title/model/profile, archive, ack, run cancel,
 * approvals and plans. Inputs are validated here (ids, bodies); the store actor does the rest.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "hl/app.h"
#include "hl/routes.h"
#include "hl/store.h"
#include "hl/token_table.h"

#define MAX_ATTACHMENTS 32
#define MAX_BULK_IDS 1000

/* parseInt semantics of the original: missing, unparsable or < 1 → 20; > 100 → 100 */
static json_int_t page_limit(hl_request_t *r)
{
    const char *s = hl_request_query(r, "limit", NULL);
    if (s == NULL)
        return 20;
    while (isspace((unsigned char)*s))
        ++s;
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || v < 1)
        return 20;
    return v > 100 ? 100 : v;
}

static const char *first_query(hl_request_t *r, const char *a, const char *b, const char *c)
{
    const char *v = hl_request_query(r, a, NULL);
    if (v == NULL && b != NULL)
        v = hl_request_query(r, b, NULL);
    if (v == NULL && c != NULL)
        v = hl_request_query(r, c, NULL);
    return v;
}

/* The first alias present as a string. */
static const char *body_str(hl_request_t *r, const char *a, const char *b, const char *c)
{
    const char *keys[] = {a, b, c};
    for (size_t i = 0; i < 3; ++i) {
        json_t *v = keys[i] != NULL ? json_object_get(r->body, keys[i]) : NULL;
        if (json_is_string(v))
            return json_string_value(v);
    }
    return NULL;
}

static const char *device_of(hl_request_t *r)
{
    return r->device != NULL ? r->device->id : NULL;
}

/* Defers to the store with `args` (stolen). */
static void call(hl_request_t *r, hl_store_op_t op, json_t *args)
{
    hl_pending_t *p = hl_request_defer(r, &hl_app.store.actor);
    if (p == NULL) {
        json_decref(args);
        return;
    }
    hl_store_call(p, op, args, device_of(r));
}

/* Validates :conversationId (400 invalid_conversation_id) and returns args {conversation_id}, or NULL after answering. */
static json_t *conv_args(hl_request_t *r)
{
    const char *id = hl_request_param(r, "conversationId");
    if (!hl_conversation_id_valid(id)) {
        hl_reply_error(r, 400, "invalid_conversation_id", "Conversation id is invalid");
        return NULL;
    }
    return json_pack("{s:s}", "conversation_id", id);
}

/* ---- lists ---- */

static void list(hl_request_t *r, const char *status, int search)
{
    json_t *args = json_pack("{s:s, s:I}", "status", status, "limit", page_limit(r));
    const char *cursor = search ? first_query(r, "cursor", "after", NULL) : first_query(r, "cursor", "after", "page_cursor");
    if (cursor != NULL)
        json_object_set_new(args, "cursor", json_string(cursor));
    if (search) {
        const char *q = first_query(r, "query", "q", "keyword");
        if (q != NULL && hl_utf8_length(q) > HL_SEARCH_MAX_CHARS) {
            /* a long query is one long FTS5 phrase whose cost grows with its length: refused before any SQL */
            json_decref(args);
            hl_reply_error(r, 400, "query_too_long", "The search query is longer than 256 characters");
            return;
        }
        if (q != NULL)
            json_object_set_new(args, "query", json_string(q));
    }
    call(r, search ? HL_STORE_SEARCH : HL_STORE_LIST, args);
}

static void get_list(hl_request_t *r)
{
    list(r, "active", 0);
}

static void get_search(hl_request_t *r)
{
    list(r, "active", 1);
}

static void get_archived(hl_request_t *r)
{
    list(r, "archived", 0);
}

static void get_archived_search(hl_request_t *r)
{
    list(r, "archived", 1);
}

/* ---- create and delete ---- */

static void post_create(hl_request_t *r)
{
    json_t *args = json_object();
    json_t *title = json_object_get(r->body, "title");
    if (json_is_string(title))
        json_object_set(args, "title", title);
    const char *profile = body_str(r, "profile", "profile_name", "profileName");
    if (profile != NULL)
        json_object_set_new(args, "profile", json_string(profile));
    call(r, HL_STORE_CREATE, args);
}

static void delete_bulk(hl_request_t *r)
{
    json_t *ids = json_object_get(r->body, "conversation_ids");
    if (!json_is_array(ids))
        ids = json_object_get(r->body, "conversationIds");
    int ok = json_is_array(ids) && json_array_size(ids) > 0 && json_array_size(ids) <= MAX_BULK_IDS;
    size_t i;
    json_t *id;
    json_array_foreach(ids, i, id) ok &= json_is_string(id);
    if (!ok) {
        hl_reply_error(r, 400, "conversation_ids_required", "conversation_ids must be a non-empty array of conversation ids");
        return;
    }
    call(r, HL_STORE_BULK_DELETE, json_pack("{s:O}", "conversation_ids", ids));
}

static void delete_one(hl_request_t *r)
{
    json_t *args = conv_args(r);
    if (args != NULL)
        call(r, HL_STORE_DELETE, args);
}

/* ---- messages ---- */

static void get_messages(hl_request_t *r)
{
    json_t *args = conv_args(r);
    if (args == NULL)
        return;
    json_object_set_new(args, "limit", json_integer(page_limit(r)));
    const char *before = first_query(r, "before_message_id", "before", NULL);
    if (before != NULL)
        json_object_set_new(args, "before", json_string(before));
    call(r, HL_STORE_MESSAGES, args);
}

/* attachments: [{"blob_id": …}] or blobs: ["blob_…"]; returns the id list or NULL after answering 400 attachment_invalid. */
static json_t *attachment_ids(hl_request_t *r)
{
    json_t *out = json_array(), *list = json_object_get(r->body, "attachments"), *item;
    int from_objects = json_is_array(list);
    if (!from_objects)
        list = json_object_get(r->body, "blobs");
    if (list == NULL || json_is_null(list))
        return out;
    size_t i;
    int ok = json_is_array(list) && json_array_size(list) <= MAX_ATTACHMENTS;
    json_array_foreach(list, i, item)
    {
        json_t *id = from_objects && json_is_object(item) ? json_object_get(item, "blob_id") : item;
        if (!json_is_string(id) || !hl_blob_id_valid(json_string_value(id))) {
            ok = 0;
            break;
        }
        json_array_append(out, id);
    }
    if (!ok) {
        json_decref(out);
        hl_reply_error(r, 400, "attachment_invalid", "attachments must be blobs uploaded to this conversation");
        return NULL;
    }
    return out;
}

static char *trimmed(const char *s)
{
    if (s == NULL)
        return NULL;
    while (isspace((unsigned char)*s))
        ++s;
    size_t len = strlen(s);
    while (len > 0 && isspace((unsigned char)s[len - 1]))
        --len;
    return hl_strndup(s, len);
}

static void post_message(hl_request_t *r)
{
    json_t *args = conv_args(r);
    if (args == NULL)
        return;
    json_t *attachments = attachment_ids(r);
    if (attachments == NULL) {
        json_decref(args);
        return;
    }
    char *content = trimmed(body_str(r, "content", "text", "input"));
    if ((content == NULL || content[0] == '\0') && json_array_size(attachments) == 0) {
        free(content);
        json_decref(args);
        json_decref(attachments);
        hl_reply_error(r, 400, "message_content_required", "content is required");
        return;
    }
    json_object_set_new(args, "content", json_string(content != NULL ? content : ""));
    free(content);
    json_object_set_new(args, "attachments", attachments);
    const char *client_id = body_str(r, "client_message_id", "clientMessageId", NULL);
    if (client_id != NULL)
        json_object_set_new(args, "client_message_id", json_string(client_id));
    const char *profile = body_str(r, "profile", "profile_name", "profileName");
    if (profile != NULL)
        json_object_set_new(args, "profile", json_string(profile));
    call(r, HL_STORE_SEND, args);
}

/* ---- updates ---- */

static void patch_title(hl_request_t *r)
{
    json_t *args = conv_args(r);
    if (args == NULL)
        return;
    const char *title = body_str(r, "title", "name", "display_name");
    if (title == NULL || title[0] == '\0') {
        json_decref(args);
        hl_reply_error(r, 400, "title_required", "title is required");
        return;
    }
    json_object_set_new(args, "title", json_string(title));
    call(r, HL_STORE_RENAME, args);
}

static void patch_model(hl_request_t *r)
{
    json_t *args = conv_args(r);
    if (args == NULL)
        return;
    const char *model = body_str(r, "model_id", "modelId", "model");
    if (model == NULL || model[0] == '\0') {
        json_decref(args);
        hl_reply_error(r, 400, "model_id_required", "model_id is required");
        return;
    }
    json_object_set_new(args, "model_id", json_string(model));
    call(r, HL_STORE_SET_MODEL, args);
}

static void patch_profile(hl_request_t *r)
{
    json_t *args = conv_args(r);
    if (args == NULL)
        return;
    const char *profile = body_str(r, "profile", "profile_name", "profileName");
    if (profile == NULL || profile[0] == '\0') {
        json_decref(args);
        hl_reply_error(r, 400, "profile_required", "profile is required");
        return;
    }
    json_object_set_new(args, "profile", json_string(profile));
    call(r, HL_STORE_SET_PROFILE, args);
}

static void post_archive(hl_request_t *r)
{
    json_t *args = conv_args(r);
    if (args != NULL)
        call(r, HL_STORE_ARCHIVE, args);
}

static void post_unarchive(hl_request_t *r)
{
    json_t *args = conv_args(r);
    if (args != NULL)
        call(r, HL_STORE_UNARCHIVE, args);
}

static void post_ack(hl_request_t *r)
{
    json_t *args = conv_args(r);
    if (args == NULL)
        return;
    /* apps written for the original send no body (it ignored it): no seq means "read up to the last event" */
    json_t *seq = json_object_get(r->body, "last_event_seq");
    if (seq == NULL || json_is_null(seq))
        seq = json_object_get(r->body, "lastEventSeq");
    if (seq != NULL && !json_is_null(seq)) {
        if (!json_is_integer(seq) || json_integer_value(seq) < 0) {
            json_decref(args);
            hl_reply_error(r, 400, "invalid_event_seq", "last_event_seq must be a non-negative integer");
            return;
        }
        json_object_set(args, "last_event_seq", seq);
    }
    call(r, HL_STORE_ACK, args);
}

static void post_cancel_run(hl_request_t *r)
{
    json_t *args = conv_args(r);
    if (args == NULL)
        return;
    json_object_set_new(args, "run_id", json_string(hl_request_param(r, "runId")));
    call(r, HL_STORE_CANCEL_RUN, args);
}

static void resolve_approval(hl_request_t *r, int approve)
{
    json_t *args = conv_args(r);
    if (args == NULL)
        return;
    const char *scope = approve ? body_str(r, "scope", NULL, NULL) : NULL;
    json_object_set_new(args, "approval_id", json_string(hl_request_param(r, "approvalId")));
    json_object_set_new(args, "decision", json_string(approve ? (scope != NULL && scope[0] != '\0' ? scope : "always") : "deny"));
    call(r, HL_STORE_RESOLVE_APPROVAL, args);
}

static void post_approve(hl_request_t *r)
{
    resolve_approval(r, 1);
}

static void post_deny(hl_request_t *r)
{
    resolve_approval(r, 0);
}

/* ---- plans ---- */

static void plan_create(hl_request_t *r, const char *kind)
{
    json_t *args = json_pack("{s:s}", "kind", kind);
    if (strcmp(kind, "archive") == 0) {
        json_t *ex = json_object_get(r->body, "exclude_conversation_ids");
        if (!json_is_array(ex))
            ex = json_object_get(r->body, "excludeConversationIds");
        if (json_is_array(ex))
            json_object_set(args, "exclude", ex);
    }
    call(r, HL_STORE_PLAN_CREATE, args);
}

static void plan_call(hl_request_t *r, const char *kind, hl_store_op_t op)
{
    call(r, op, json_pack("{s:s, s:s}", "kind", kind, "plan_id", hl_request_param(r, "planId")));
}

static void post_clear_plan(hl_request_t *r)
{
    plan_create(r, "clear");
}

static void get_clear_plan(hl_request_t *r)
{
    plan_call(r, "clear", HL_STORE_PLAN_GET);
}

static void post_clear_plan_execute(hl_request_t *r)
{
    plan_call(r, "clear", HL_STORE_PLAN_EXECUTE);
}

static void post_archive_plan(hl_request_t *r)
{
    plan_create(r, "archive");
}

static void get_archive_plan(hl_request_t *r)
{
    plan_call(r, "archive", HL_STORE_PLAN_GET);
}

static void post_archive_plan_execute(hl_request_t *r)
{
    plan_call(r, "archive", HL_STORE_PLAN_EXECUTE);
}

#define A HL_ROUTE_AUTH
#define J HL_ROUTE_JSON_BODY
#define NS HL_ROUTE_NO_STORE

static const hl_route_t ROUTES[] = {
    {HL_METHOD_GET, "/api/v1/conversations", get_list, A | NS, 0},
    {HL_METHOD_GET, "/api/v1/conversations/search", get_search, A | NS, 0},
    {HL_METHOD_GET, "/api/v1/conversations/archived", get_archived, A | NS, 0},
    {HL_METHOD_GET, "/api/v1/conversations/archived/search", get_archived_search, A | NS, 0},
    {HL_METHOD_POST, "/api/v1/conversations", post_create, A | J, 0},
    {HL_METHOD_DELETE, "/api/v1/conversations", delete_bulk, A | J, 0},
    {HL_METHOD_DELETE, "/api/v1/conversations/:conversationId", delete_one, A, 0},
    {HL_METHOD_GET, "/api/v1/conversations/:conversationId/messages", get_messages, A | NS, 0},
    {HL_METHOD_POST, "/api/v1/conversations/:conversationId/messages", post_message, A | J, 0},
    {HL_METHOD_PATCH, "/api/v1/conversations/:conversationId/title", patch_title, A | J, 0},
    {HL_METHOD_PATCH, "/api/v1/conversations/:conversationId/model", patch_model, A | J, 0},
    {HL_METHOD_PATCH, "/api/v1/conversations/:conversationId/profile", patch_profile, A | J, 0},
    {HL_METHOD_POST, "/api/v1/conversations/:conversationId/archive", post_archive, A, 0},
    {HL_METHOD_POST, "/api/v1/conversations/:conversationId/unarchive", post_unarchive, A, 0},
    {HL_METHOD_POST, "/api/v1/conversations/:conversationId/ack", post_ack, A | J, 0},
    {HL_METHOD_POST, "/api/v1/conversations/:conversationId/runs/:runId/cancel", post_cancel_run, A, 0},
    {HL_METHOD_POST, "/api/v1/conversations/:conversationId/approvals/:approvalId/approve", post_approve, A | J, 0},
    {HL_METHOD_POST, "/api/v1/conversations/:conversationId/approvals/:approvalId/deny", post_deny, A | J, 0},
    {HL_METHOD_POST, "/api/v1/conversations/clear-plans", post_clear_plan, A | J, 0},
    {HL_METHOD_GET, "/api/v1/conversations/clear-plans/:planId", get_clear_plan, A | NS, 0},
    {HL_METHOD_POST, "/api/v1/conversations/clear-plans/:planId/execute", post_clear_plan_execute, A, 0},
    {HL_METHOD_POST, "/api/v1/conversations/archive-plans", post_archive_plan, A | J, 0},
    {HL_METHOD_GET, "/api/v1/conversations/archive-plans/:planId", get_archive_plan, A | NS, 0},
    {HL_METHOD_POST, "/api/v1/conversations/archive-plans/:planId/execute", post_archive_plan_execute, A, 0},
};

void hl_routes_conversations(hl_router_t *router)
{
    hl_routes_add_all(router, ROUTES, HL_ARRAY_SIZE(ROUTES));
}
