/*
 * spec/API.md §7: the two event streams (SSE) and the blob routes of a conversation.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "hl/http.h"
#include "hl/mime.h"
#include "hl/routes.h"
#include "hl/sse.h"
#include "hl/store.h"
#include "hl/token_table.h"

/* the store these routes call, given at registration */
static hl_store_t *store;
#define STORE store

/* ---- conversation stream: the conversation must exist before the stream starts ---- */

/* What the stream opens with once the conversation is known to exist (in the request's pool, which outlives the check;
 * when the client is gone first it is not read). */
typedef struct st_open_args_t {
    const char *conversation_id;
    int64_t after;
} open_args_t;

/* The store's answer to the existence check, on the worker: open the stream, or answer the error. */
static void checked(hl_request_t *r, hl_result_t *result, void *data)
{
    open_args_t *a = data;
    if (r != NULL && hl_result_is_ok(result)) {
        hl_sse_open(r, a->conversation_id, false, a->after);
        hl_result_free(result);
    } else if (r != NULL) {
        hl_reply_result(r, result);
    } else {
        hl_result_free(result);
    }
}

static void get_conversation_events(hl_request_t *r)
{
    const char *id = hl_request_param(r, "conversationId");
    if (!hl_conversation_id_valid(id)) {
        hl_reply_error(r, 400, "invalid_conversation_id", "Conversation id is invalid");
        return;
    }
    open_args_t *a = h2o_mem_alloc_pool(&r->req->pool, sizeof(*a));
    a->conversation_id = id; /* a decoded parameter: pool memory too */
    a->after = hl_sse_request_cursor(r);
    hl_reply_to_t *to = hl_request_defer_then(r, hl_store_actor(STORE), checked, a);
    if (to != NULL)
        hl_store_stream_check(STORE, to, id);
}

static void get_all_events(hl_request_t *r)
{
    const char *mode = hl_request_query(r, "mode", NULL);
    hl_sse_open(r, NULL, mode != NULL && strcmp(mode, "notifications") == 0, hl_sse_request_cursor(r));
}

/* ---- blobs ---- */

static int ids_valid(hl_request_t *r, const char **conv, const char **blob)
{
    *conv = hl_request_param(r, "conversationId");
    if (!hl_conversation_id_valid(*conv)) {
        hl_reply_error(r, 400, "invalid_conversation_id", "Conversation id is invalid");
        return 0;
    }
    if (blob != NULL) {
        *blob = hl_request_param(r, "blobId");
        if (!hl_blob_id_valid(*blob)) {
            hl_reply_error(r, 400, "invalid_blob_id", "Blob id is invalid");
            return 0;
        }
    }
    return 1;
}

/* filename="…" of Content-Disposition (quoted form only): basename, [A-Za-z0-9_.-] kept, others '_', at most 255. */
static char *upload_filename(hl_request_t *r)
{
    size_t len;
    const char *h = hl_request_header(r, "content-disposition", &len);
    if (h == NULL)
        return NULL;
    char *v = h2o_strdup(&r->req->pool, h, len).base;
    char *start = strstr(v, "filename=\"");
    if (start == NULL)
        return NULL;
    start += 10;
    char *end = strchr(start, '"');
    if (end == NULL)
        return NULL;
    *end = '\0';
    return hl_blob_filename(start);
}

/* The request's Content-Type when usable (printable, no CR/LF, not octet-stream), else a guess from the filename. */
static char *upload_mime(hl_request_t *r, const char *filename)
{
    size_t len;
    const char *h = hl_request_header(r, "content-type", &len);
    int usable = h != NULL && len > 0 && len <= 255 && !(len >= 24 && strncasecmp(h, "application/octet-stream", 24) == 0);
    for (size_t i = 0; usable && i < len; ++i)
        usable = (unsigned char)h[i] >= 0x20 && (unsigned char)h[i] < 0x7f;
    return usable ? hl_strndup(h, len) : hl_strdup(hl_mime_from_name(filename));
}

static void post_blob(hl_request_t *r)
{
    const char *conv;
    if (!ids_valid(r, &conv, NULL))
        return;
    h2o_iovec_t body = r->req->entity;
    if (body.base == NULL || body.len == 0) {
        hl_reply_error(r, 400, "blob_empty", "The blob is empty");
        return;
    }
    if (body.len > HL_BLOB_MAX_BYTES) {
        hl_reply_error(r, 413, "blob_too_large", "The blob is larger than 50 MiB");
        return;
    }
    if (!hl_store_upload_begin(STORE)) {
        hl_reply_error(r, 503, "server_busy", "Too many uploads in progress; retry shortly");
        return;
    }
    hl_reply_to_t *to = hl_request_defer(r, hl_store_actor(STORE));
    if (to == NULL) {
        hl_store_upload_abort(STORE);
        return;
    }
    /* the store actor writes the bytes; they leave the request pool, which a reset stream may free at any time */
    char *data = hl_malloc(body.len);
    memcpy(data, body.base, body.len);
    char *filename = upload_filename(r), *mime = upload_mime(r, filename);
    hl_store_put_blob(STORE, to, conv, data, body.len, mime, filename);
    free(filename);
    free(mime);
}

static void get_blob(hl_request_t *r)
{
    const char *conv, *blob;
    if (!ids_valid(r, &conv, &blob))
        return;
    hl_reply_to_t *to = hl_request_defer(r, hl_store_actor(STORE));
    if (to != NULL)
        hl_store_get_blob(STORE, to, conv, blob);
}

static void delete_blob(hl_request_t *r)
{
    const char *conv, *blob;
    if (!ids_valid(r, &conv, &blob))
        return;
    hl_reply_to_t *to = hl_request_defer(r, hl_store_actor(STORE));
    if (to != NULL)
        hl_store_delete_blob(STORE, to, conv, blob);
}

static const hl_route_t ROUTES[] = {
    {HL_METHOD_GET, "/api/v1/conversations/events", get_all_events, HL_ROUTE_AUTH, 0},
    {HL_METHOD_GET, "/api/v1/conversations/:conversationId/events", get_conversation_events, HL_ROUTE_AUTH, 0},
    {HL_METHOD_POST, "/api/v1/conversations/:conversationId/blobs", post_blob, HL_ROUTE_AUTH | HL_ROUTE_RAW_BODY,
     HL_H2O_BODY_LIMIT},
    {HL_METHOD_GET, "/api/v1/conversations/:conversationId/blobs/:blobId", get_blob, HL_ROUTE_AUTH, 0},
    {HL_METHOD_DELETE, "/api/v1/conversations/:conversationId/blobs/:blobId", delete_blob, HL_ROUTE_AUTH, 0},
};

void hl_routes_conv_streams(hl_router_t *router, hl_store_t *s)
{
    store = s;
    hl_routes_add_all(router, ROUTES, HL_ARRAY_SIZE(ROUTES));
}
