/*
 * spec/API.md §7: conversation lists, search, create, delete, messages, send, title/model/profile, archive, ack, run cancel,
 * approvals and plans. Inputs are validated here (ids, bodies); the store actor does the rest.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hl/http.h"
#include "hl/routes.h"
#include "hl/store.h"
#include "hl/token_table.h"

/* the store these routes call, given at registration */
static hl_store_t *store;
#define STORE store

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

/* The reply address for a store request (NULL after answering 503 server_busy). */
static hl_reply_to_t *defer(hl_request_t *r)
{
    return hl_request_defer(r, hl_store_actor(STORE));
}

/* The cache key of a read: what it is, for which device, with which parameters (pool memory). Parameters are
 * length-prefixed so that no choice of values can make two different reads share a key. */
static const char *cache_key(hl_request_t *r, const char *what, const char *a, const char *b, const char *c, int limit)
{
    const char *parts[] = {what, device_of(r), a, b, c};
    size_t cap = 32;
    for (size_t i = 0; i < HL_ARRAY_SIZE(parts); ++i)
        cap += (parts[i] != NULL ? strlen(parts[i]) : 0) + 24;
    char *key = h2o_mem_alloc_pool(&r->req->pool, cap);
    size_t n = (size_t)snprintf(key, cap, "%d", limit);
    for (size_t i = 0; i < HL_ARRAY_SIZE(parts); ++i)
        n += (size_t)(parts[i] != NULL ? snprintf(key + n, cap - n, "|%zu:%s", strlen(parts[i]), parts[i])
                                       : snprintf(key + n, cap - n, "|-"));
    return key;
}

/* Validates :conversationId (400 invalid_conversation_id): the id, or NULL after answering. */
static const char *conv_id(hl_request_t *r)
{
    const char *id = hl_request_param(r, "conversationId");
    if (!hl_conversation_id_valid(id)) {
        hl_reply_error(r, 400, "invalid_conversation_id", "Conversation id is invalid");
        return NULL;
    }
    return id;
}

/* ---- lists ---- */

static void list(hl_request_t *r, bool archived, bool search)
{
    hl_conv_list_req_t req = {.archived = archived, .limit = (int)page_limit(r)};
    req.cursor = search ? first_query(r, "cursor", "after", NULL) : first_query(r, "cursor", "after", "page_cursor");
    if (search) {
        req.query = first_query(r, "query", "q", "keyword");
        if (req.query != NULL && hl_utf8_length(req.query) > HL_SEARCH_MAX_CHARS) {
            /* a long query is one long FTS5 phrase whose cost grows with its length: refused before any SQL */
            hl_reply_error(r, 400, "query_too_long", "The search query is longer than 256 characters");
            return;
        }
    }
    /* a device asking again for the same page while nothing changed gets the answer it got last time */
    const char *key = cache_key(r, "list", req.archived ? "archived" : "active", req.cursor, req.query, req.limit);
    if (hl_reply_cache_serve(r, key, hl_store_generation(STORE)))
        return;
    hl_reply_to_t *to = hl_request_defer_cached(r, hl_store_actor(STORE), key);
    if (to != NULL)
        hl_store_list(STORE, to, device_of(r), &req);
}

static void get_list(hl_request_t *r)
{
    list(r, false, false);
}

static void get_search(hl_request_t *r)
{
    list(r, false, true);
}

static void get_archived(hl_request_t *r)
{
    list(r, true, false);
}

static void get_archived_search(hl_request_t *r)
{
    list(r, true, true);
}

/* ---- create and delete ---- */

static void post_create(hl_request_t *r)
{
    const char *title = json_string_value(json_object_get(r->body, "title"));
    const char *profile = body_str(r, "profile", "profile_name", "profileName");
    hl_reply_to_t *to = defer(r);
    if (to != NULL)
        hl_store_create(STORE, to, device_of(r), title, profile);
}

static void delete_bulk(hl_request_t *r)
{
    json_t *ids = json_object_get(r->body, "conversation_ids");
    if (!json_is_array(ids))
        ids = json_object_get(r->body, "conversationIds");
    size_t n = json_array_size(ids);
    int ok = json_is_array(ids) && n > 0 && n <= HL_STORE_MAX_BULK_IDS;
    const char **list = h2o_mem_alloc_pool(&r->req->pool, sizeof(*list) * (n ? n : 1));
    for (size_t i = 0; ok && i < n; ++i)
        ok &= (list[i] = json_string_value(json_array_get(ids, i))) != NULL;
    if (!ok) {
        hl_reply_error(r, 400, "conversation_ids_required", "conversation_ids must be a non-empty array of conversation ids");
        return;
    }
    hl_reply_to_t *to = defer(r);
    if (to != NULL)
        hl_store_bulk_delete(STORE, to, device_of(r), list, n);
}

static void delete_one(hl_request_t *r)
{
    const char *id = conv_id(r);
    hl_reply_to_t *to = id != NULL ? defer(r) : NULL;
    if (to != NULL)
        hl_store_delete(STORE, to, device_of(r), id);
}

/* ---- messages ---- */

static void get_messages(hl_request_t *r)
{
    const char *id = conv_id(r);
    if (id == NULL)
        return;
    int limit = (int)page_limit(r);
    const char *before = first_query(r, "before_message_id", "before", NULL);
    const char *key = cache_key(r, "messages", id, before, NULL, limit);
    if (hl_reply_cache_serve(r, key, hl_store_generation(STORE)))
        return;
    hl_reply_to_t *to = hl_request_defer_cached(r, hl_store_actor(STORE), key);
    if (to != NULL)
        hl_store_messages(STORE, to, device_of(r), id, limit, before);
}

/* attachments: [{"blob_id": …}] or blobs: ["blob_…"]; the ids (pool memory, *n of them), or NULL after answering 400
 * attachment_invalid. */
static const char **attachment_ids(hl_request_t *r, size_t *n)
{
    json_t *list = json_object_get(r->body, "attachments"), *item;
    int from_objects = json_is_array(list);
    if (!from_objects)
        list = json_object_get(r->body, "blobs");
    *n = 0;
    const char **out = h2o_mem_alloc_pool(&r->req->pool, sizeof(*out) * (json_array_size(list) + 1));
    if (list == NULL || json_is_null(list))
        return out;
    size_t i;
    int ok = json_is_array(list) && json_array_size(list) <= HL_STORE_MAX_ATTACHMENTS;
    json_array_foreach(list, i, item)
    {
        json_t *id = from_objects && json_is_object(item) ? json_object_get(item, "blob_id") : item;
        if (!json_is_string(id) || !hl_blob_id_valid(json_string_value(id))) {
            ok = 0;
            break;
        }
        out[(*n)++] = json_string_value(id);
    }
    if (!ok) {
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
    hl_send_req_t req = {.conversation_id = conv_id(r)};
    if (req.conversation_id == NULL || (req.blob_ids = attachment_ids(r, &req.num_blob_ids)) == NULL)
        return;
    char *content = trimmed(body_str(r, "content", "text", "input"));
    if ((content == NULL || content[0] == '\0') && req.num_blob_ids == 0) {
        free(content);
        hl_reply_error(r, 400, "message_content_required", "content is required");
        return;
    }
    req.content = content != NULL ? content : "";
    req.client_message_id = body_str(r, "client_message_id", "clientMessageId", NULL);
    req.profile = body_str(r, "profile", "profile_name", "profileName");
    hl_reply_to_t *to = defer(r);
    if (to != NULL)
        hl_store_send(STORE, to, device_of(r), &req);
    free(content);
}

/* ---- updates ---- */

static void patch_title(hl_request_t *r)
{
    const char *id = conv_id(r);
    if (id == NULL)
        return;
    const char *title = body_str(r, "title", "name", "display_name");
    if (title == NULL || title[0] == '\0') {
        hl_reply_error(r, 400, "title_required", "title is required");
        return;
    }
    hl_reply_to_t *to = defer(r);
    if (to != NULL)
        hl_store_rename(STORE, to, device_of(r), id, title);
}

static void patch_model(hl_request_t *r)
{
    const char *id = conv_id(r);
    if (id == NULL)
        return;
    const char *model = body_str(r, "model_id", "modelId", "model");
    if (model == NULL || model[0] == '\0') {
        hl_reply_error(r, 400, "model_id_required", "model_id is required");
        return;
    }
    hl_reply_to_t *to = defer(r);
    if (to != NULL)
        hl_store_set_model(STORE, to, device_of(r), id, model);
}

static void patch_profile(hl_request_t *r)
{
    const char *id = conv_id(r);
    if (id == NULL)
        return;
    const char *profile = body_str(r, "profile", "profile_name", "profileName");
    if (profile == NULL || profile[0] == '\0') {
        hl_reply_error(r, 400, "profile_required", "profile is required");
        return;
    }
    hl_reply_to_t *to = defer(r);
    if (to != NULL)
        hl_store_set_profile(STORE, to, device_of(r), id, profile);
}

static void archive(hl_request_t *r, bool on)
{
    const char *id = conv_id(r);
    hl_reply_to_t *to = id != NULL ? defer(r) : NULL;
    if (to != NULL)
        hl_store_archive(STORE, to, device_of(r), id, on);
}

static void post_archive(hl_request_t *r)
{
    archive(r, true);
}

static void post_unarchive(hl_request_t *r)
{
    archive(r, false);
}

static void post_ack(hl_request_t *r)
{
    const char *id = conv_id(r);
    if (id == NULL)
        return;
    /* apps written for the original send no body (it ignored it): no seq means "read up to the last event" */
    json_t *seq = json_object_get(r->body, "last_event_seq");
    if (seq == NULL || json_is_null(seq))
        seq = json_object_get(r->body, "lastEventSeq");
    int64_t last = -1;
    if (seq != NULL && !json_is_null(seq)) {
        if (!json_is_integer(seq) || json_integer_value(seq) < 0) {
            hl_reply_error(r, 400, "invalid_event_seq", "last_event_seq must be a non-negative integer");
            return;
        }
        last = json_integer_value(seq);
    }
    hl_reply_to_t *to = defer(r);
    if (to != NULL)
        hl_store_ack(STORE, to, device_of(r), id, last);
}

static void post_cancel_run(hl_request_t *r)
{
    const char *id = conv_id(r);
    hl_reply_to_t *to = id != NULL ? defer(r) : NULL;
    if (to != NULL)
        hl_store_cancel_run(STORE, to, device_of(r), id, hl_request_param(r, "runId"));
}

static void resolve_approval(hl_request_t *r, bool approve)
{
    const char *id = conv_id(r);
    hl_reply_to_t *to = id != NULL ? defer(r) : NULL;
    if (to != NULL)
        hl_store_resolve_approval(STORE, to, device_of(r), id, hl_request_param(r, "approvalId"), approve,
                                  approve ? body_str(r, "scope", NULL, NULL) : NULL);
}

static void post_approve(hl_request_t *r)
{
    resolve_approval(r, true);
}

static void post_deny(hl_request_t *r)
{
    resolve_approval(r, false);
}

/* ---- plans ---- */

static void plan_create(hl_request_t *r, hl_plan_kind_t kind)
{
    json_t *ex = NULL;
    if (kind == HL_PLAN_ARCHIVE) {
        ex = json_object_get(r->body, "exclude_conversation_ids");
        if (!json_is_array(ex))
            ex = json_object_get(r->body, "excludeConversationIds");
    }
    size_t n = 0;
    const char **ids = h2o_mem_alloc_pool(&r->req->pool, sizeof(*ids) * (json_array_size(ex) + 1));
    for (size_t i = 0; i < json_array_size(ex); ++i)
        if (json_is_string(json_array_get(ex, i)))
            ids[n++] = json_string_value(json_array_get(ex, i));
    hl_reply_to_t *to = defer(r);
    if (to != NULL)
        hl_store_plan_create(STORE, to, device_of(r), kind, ids, n);
}

static void plan_call(hl_request_t *r, hl_plan_kind_t kind, bool execute)
{
    hl_reply_to_t *to = defer(r);
    if (to == NULL)
        return;
    if (execute)
        hl_store_plan_execute(STORE, to, device_of(r), kind, hl_request_param(r, "planId"));
    else
        hl_store_plan_get(STORE, to, device_of(r), kind, hl_request_param(r, "planId"));
}

static void post_clear_plan(hl_request_t *r)
{
    plan_create(r, HL_PLAN_CLEAR);
}

static void get_clear_plan(hl_request_t *r)
{
    plan_call(r, HL_PLAN_CLEAR, false);
}

static void post_clear_plan_execute(hl_request_t *r)
{
    plan_call(r, HL_PLAN_CLEAR, true);
}

static void post_archive_plan(hl_request_t *r)
{
    plan_create(r, HL_PLAN_ARCHIVE);
}

static void get_archive_plan(hl_request_t *r)
{
    plan_call(r, HL_PLAN_ARCHIVE, false);
}

static void post_archive_plan_execute(hl_request_t *r)
{
    plan_call(r, HL_PLAN_ARCHIVE, true);
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

void hl_routes_conversations(hl_router_t *router, hl_store_t *s)
{
    store = s;
    hl_routes_add_all(router, ROUTES, HL_ARRAY_SIZE(ROUTES));
}
