/*
 * Replies: CORS and cache headers on every response, compact JSON, the error envelope, and the deferred-reply path
 * (pending handle + request-pool dispose hook, DESIGN §1).
 */
#include <string.h>
#include <strings.h>

#include "hl/http.h"
#include "worker.h"

#define JSON_CONTENT_TYPE "application/json; charset=utf-8"

/* A deferred request (DESIGN §1): the reply address an actor answers, and the request it belongs to. */
typedef struct st_pending_t {
    hl_reply_to_t super;
    h2o_req_t *req; /* NULL once the request's pool is gone (client reset or disconnect) */
    hl_worker_t *worker;
    hl_actor_t *actor;
    const hl_route_t *route; /* for its flags (no-store); the route table outlives every request */
    /* who asked (pool memory, read only while req is alive): a continuation sees the same request */
    const struct st_hl_auth_device_t *device;
    const hl_token_hash_t *token_hash;
    int refs; /* the pool hook and the reply; both run on the worker thread */
    /* with hl_request_defer_then: the route's continuation on the worker */
    void (*then)(hl_request_t *r, hl_result_t *result, void *data);
    void *then_data;
    /* with hl_request_defer_cached: where a versioned answer is kept */
    char *cache_key;
} pending_t;

/* An answer on its way to the worker: serialised on the replying thread, sent without a copy. */
typedef struct st_reply_msg_t {
    hl_worker_msg_t super;
    pending_t *pending;
    hl_result_t *result; /* with `then`: handed to the route as is */
    int status;
    char *content_type;
    char *body; /* malloc'd; owned by the request's pool once sent */
    size_t len;
    char *filename;
    int retry_after_s;
    bool no_store;
    uint64_t version;
} reply_msg_t;

const char *hl_http_reason_phrase(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 413:
        return "Payload Too Large";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 507:
        return "Insufficient Storage";
    default:
        return NULL;
    }
}

static const char *reason_phrase(int status)
{
    const char *r = hl_http_reason_phrase(status);
    return r != NULL ? r : "OK";
}

/* CORS (API.md §1.2) on every non-preflight response, plus no-store where the route asks for it */
static void add_common_headers(h2o_req_t *req, unsigned route_flags)
{
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ACCESS_CONTROL_ALLOW_ORIGIN, NULL, H2O_STRLIT("*"));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_VARY, NULL, H2O_STRLIT("Origin"));
    if (route_flags & HL_ROUTE_NO_STORE)
        h2o_set_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, H2O_STRLIT("no-store"), 1);
}

static void send_final(h2o_req_t *req, int status, const char *content_type, const char *data, size_t len, unsigned route_flags,
                       int copy)
{
    static h2o_generator_t generator = {NULL, NULL};
    req->res.status = status;
    req->res.reason = reason_phrase(status);
    /* a 204 or 304 carries no Content-Length (RFC 9110 §8.6: a 304's would have to be the full entity's length);
     * SIZE_MAX makes h2o omit it without chunking */
    req->res.content_length = status == 204 || status == 304 ? SIZE_MAX : len;
    add_common_headers(req, route_flags);
    if (content_type != NULL)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, content_type, strlen(content_type));
    h2o_start_response(req, &generator);
    if (len == 0 || h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"))) {
        h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
        return;
    }
    h2o_iovec_t buf = h2o_iovec_init(data, len);
    if (copy) {
        buf.base = h2o_mem_alloc_pool(&req->pool, len);
        memcpy(buf.base, data, len);
    }
    h2o_send(req, &buf, 1, H2O_SEND_STATE_FINAL);
}

static void send_owned(h2o_req_t *req, int status, const char *content_type, char *body, size_t len, unsigned route_flags);
static void send_stream(hl_request_t *r, hl_result_t *result);

static unsigned flags_of(const hl_request_t *r)
{
    return r->route != NULL ? r->route->flags : 0;
}

void hl_reply_bytes(hl_request_t *r, int status, const char *content_type, const char *data, size_t len)
{
    send_final(r->req, status, content_type, data, len, flags_of(r), 1);
}

void hl_reply_pool_bytes(hl_request_t *r, int status, const char *content_type, const char *data, size_t len)
{
    send_final(r->req, status, content_type, data, len, flags_of(r), 0);
}

void hl_reply_empty(hl_request_t *r, int status)
{
    send_final(r->req, status, NULL, NULL, 0, flags_of(r), 0);
}

static char *dump_json(json_t *body, size_t *len)
{
    char *text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (text == NULL)
        hl_fatal("json_dumps failed");
    *len = strlen(text);
    return text;
}

void hl_reply_json(hl_request_t *r, int status, json_t *body)
{
    size_t len;
    char *text = dump_json(body, &len);
    json_decref(body);
    send_owned(r->req, status, JSON_CONTENT_TYPE, text, len, flags_of(r));
}

static json_t *error_body(const char *code, const char *message)
{
    return json_pack("{s:b, s:{s:s, s:s}}", "ok", 0, "error", "code", code, "message", message);
}

void hl_reply_error(hl_request_t *r, int status, const char *code, const char *message)
{
    hl_reply_json(r, status, error_body(code, message));
}

static void pending_release(pending_t *p)
{
    if (--p->refs == 0) {
        free(p->cache_key);
        free(p);
    }
}

static void on_request_disposed(void *hook)
{
    pending_t *p = *(pending_t **)hook;
    p->req = NULL;
    pending_release(p);
}

int hl_result_status(hl_result_kind_t kind)
{
    static const int status[] = {[HL_RESULT_OK] = 200,          [HL_RESULT_CREATED] = 201,         [HL_RESULT_ACCEPTED] = 202,
                                 [HL_RESULT_INVALID] = 400,     [HL_RESULT_UNAUTHENTICATED] = 401, [HL_RESULT_NOT_FOUND] = 404,
                                 [HL_RESULT_CONFLICT] = 409,    [HL_RESULT_TOO_LARGE] = 413,       [HL_RESULT_RATE_LIMITED] = 429,
                                 [HL_RESULT_INTERNAL] = 500,    [HL_RESULT_UPSTREAM] = 502,        [HL_RESULT_UNAVAILABLE] = 503,
                                 [HL_RESULT_UNSUPPORTED] = 501, [HL_RESULT_STORAGE_FULL] = 507};
    return (unsigned)kind < HL_ARRAY_SIZE(status) && status[kind] != 0 ? status[kind] : 500;
}

/* The JSON envelope of a result (spec/API.md §1.3): {"ok":…, <body fields>, "error":{code,message}}. */
static json_t *result_envelope(const hl_result_t *res)
{
    json_t *out = json_object();
    json_object_set_new(out, "ok", json_boolean(hl_result_is_ok(res)));
    if (res->body != NULL)
        json_object_update(out, res->body);
    if (!hl_result_is_ok(res))
        json_object_set_new(out, "error",
                            json_pack("{s:s, s:s}", "code", res->code != NULL ? res->code : "internal_error", "message",
                                      res->message != NULL ? res->message : "Internal error"));
    return out;
}

/* Types a browser would run in our origin if it rendered them (script, markup that can carry script): such uploads are
 * only ever downloaded. Compared on the media type alone, case-insensitively. */
static bool active_type(const char *content_type)
{
    static const char *const ACTIVE[] = {"text/html",
                                         "application/xhtml+xml",
                                         "image/svg+xml",
                                         "text/xml",
                                         "application/xml",
                                         "text/xsl",
                                         "application/javascript",
                                         "text/javascript",
                                         "text/ecmascript",
                                         "application/ecmascript",
                                         "application/x-javascript"};
    if (content_type == NULL)
        return false;
    const char *p = content_type;
    while (*p == ' ' || *p == '\t')
        ++p;
    size_t len = strcspn(p, ";");
    while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
        --len;
    if (len >= 4 && strncasecmp(p + len - 4, "+xml", 4) == 0)
        return true;
    for (size_t i = 0; i < HL_ARRAY_SIZE(ACTIVE); ++i)
        if (strlen(ACTIVE[i]) == len && strncasecmp(p, ACTIVE[i], len) == 0)
            return true;
    return false;
}

/* Raw content with a download name is someone's upload (a blob): the browser must neither sniff it into another type nor
 * run it in our origin (CSP sandbox: a unique origin, no script), and active types are not shown inline at all. */
static void add_result_headers(h2o_req_t *req, const char *filename, const char *content_type, int retry_after_s, bool no_store)
{
    if (retry_after_s > 0) {
        char *v = h2o_mem_alloc_pool(&req->pool, 16);
        int n = snprintf(v, 16, "%d", retry_after_s);
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, v, (size_t)n);
    }
    if (no_store)
        h2o_set_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, H2O_STRLIT("no-store"), 1);
    if (filename != NULL) {
        size_t cap = strlen(filename) + 32;
        char *v = h2o_mem_alloc_pool(&req->pool, cap);
        int n = snprintf(v, cap, "%s; filename=\"%s\"", active_type(content_type) ? "attachment" : "inline", filename);
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_DISPOSITION, NULL, v, (size_t)n);
        h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-content-type-options"), 0, NULL, H2O_STRLIT("nosniff"));
        h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("content-security-policy"), 0, NULL, H2O_STRLIT("sandbox"));
    }
}

static void free_on_dispose(void *p)
{
    free(*(char **)p);
}

/* Sends a malloc'd body without copying it: the request's pool frees it once the response is done. */
static void send_owned(h2o_req_t *req, int status, const char *content_type, char *body, size_t len, unsigned route_flags)
{
    char **owner = h2o_mem_alloc_shared(&req->pool, sizeof(*owner), free_on_dispose);
    *owner = body;
    send_final(req, status, content_type, body, len, route_flags, 0);
}

/* Serialises a result into the message (on the replying thread, so workers only write). */
static void fill_reply(reply_msg_t *m, hl_result_t *res)
{
    m->status = hl_result_status(res->kind);
    m->version = res->version;
    m->retry_after_s = res->retry_after_s;
    m->no_store = res->no_store;
    m->filename = res->filename;
    res->filename = NULL;
    if (res->bytes != NULL || res->content_type != NULL) {
        m->body = res->bytes;
        m->len = res->len;
        m->content_type = res->content_type;
        res->bytes = NULL;
        res->content_type = NULL;
    } else {
        json_t *env = result_envelope(res);
        m->body = dump_json(env, &m->len);
        json_decref(env);
        m->content_type = hl_strdup(JSON_CONTENT_TYPE);
    }
    hl_result_free(res);
}

/* Sends a serialised answer on r; the body passes to the request's pool. */
static void send_filled(hl_request_t *r, reply_msg_t *m)
{
    add_result_headers(r->req, m->filename, m->content_type, m->retry_after_s, m->no_store);
    send_owned(r->req, m->status, h2o_strdup(&r->req->pool, m->content_type, SIZE_MAX).base, m->body, m->len, flags_of(r));
    m->body = NULL;
}

static void reply_msg_free(reply_msg_t *m)
{
    free(m->content_type);
    free(m->body);
    free(m->filename);
    hl_result_free(m->result);
    free(m);
}

static void on_reply(hl_worker_t *w, hl_worker_msg_t *msg)
{
    reply_msg_t *m = (reply_msg_t *)msg;
    pending_t *p = m->pending;
    hl_actor_release_slot(p->actor);
    --w->num_pending;
    hl_request_t r = {.req = p->req, .worker = w, .route = p->route, .device = p->device, .token_hash = p->token_hash};
    if (p->then != NULL) {
        p->then(p->req != NULL ? &r : NULL, m->result, p->then_data);
        m->result = NULL;
    } else if (p->req != NULL && m->result != NULL) {
        send_stream(&r, m->result);
        m->result = NULL;
    } else if (p->req != NULL) {
        if (p->cache_key != NULL && m->status == 200 && m->version != 0)
            hl_reply_cache_put(w, p->cache_key, m->version, m->body, m->len);
        send_filled(&r, m);
    }
    /* else: the client reset the stream or went away while the actor worked; the reply (or stream) is dropped */
    pending_release(p);
    reply_msg_free(m);
}

static void free_reply_msg(hl_msg_t *msg)
{
    /* only reached if a worker mailbox is disposed with replies still queued (forced shutdown) */
    reply_msg_free((reply_msg_t *)msg);
}

/* ---- streamed bodies: a byte source read in chunks off the worker, one chunk in flight, sent as it arrives ---- */

#define STREAM_CHUNK (256 * 1024)

typedef struct st_stream_reply_t {
    h2o_generator_t super;
    h2o_req_t *req; /* NULL once the client has gone (stop) */
    hl_worker_t *worker;
    hl_byte_source_t *source;
    uint64_t left;
    bool done; /* FINAL sent, or the client gone: close the source once no read is outstanding */
    int refs;  /* the request pool, and an outstanding read */
} stream_reply_t;

typedef struct st_chunk_msg_t {
    hl_worker_msg_t super;
    stream_reply_t *st;
    const char *data;
    size_t len;
    int err;
} chunk_msg_t;

static void stream_release(stream_reply_t *st)
{
    if (--st->refs == 0) {
        if (st->source != NULL)
            st->source->close(st->source);
        free(st);
    }
}

static void request_chunk(stream_reply_t *st);

static void on_chunk(hl_worker_t *w, hl_worker_msg_t *msg)
{
    chunk_msg_t *m = (chunk_msg_t *)msg;
    stream_reply_t *st = m->st;
    --w->num_pending;
    if (st->req != NULL && !st->done) {
        if (m->err != 0 || (m->len == 0 && st->left > 0)) {
            /* the file went away or shrank under us: the length promised cannot be kept, so the response is cut */
            st->done = true;
            h2o_send(st->req, NULL, 0, H2O_SEND_STATE_ERROR);
        } else {
            size_t n = m->len > st->left ? (size_t)st->left : m->len;
            st->left -= n;
            h2o_iovec_t buf = h2o_iovec_init(m->data, n);
            st->done = st->left == 0;
            h2o_send(st->req, &buf, 1, st->done ? H2O_SEND_STATE_FINAL : H2O_SEND_STATE_IN_PROGRESS);
        }
    }
    free(m);
    stream_release(st); /* the read's reference */
}

/* on a reader thread: the chunk goes to the stream's worker (the data stays valid until the next read or close) */
static void chunk_read(void *ctx, const char *data, size_t len, int err)
{
    stream_reply_t *st = ctx;
    chunk_msg_t *m = hl_malloc(sizeof(*m));
    hl_msg_init(&m->super.super, 1, NULL);
    m->super.run = on_chunk;
    m->st = st;
    m->data = data;
    m->len = len;
    m->err = err;
    hl_worker_post(st->worker, &m->super);
}

static void request_chunk(stream_reply_t *st)
{
    ++st->refs;
    ++st->worker->num_pending; /* shutdown waits for the read to come back */
    st->source->read(st->source, STREAM_CHUNK, chunk_read, st);
}

static void on_stream_proceed(h2o_generator_t *gen, h2o_req_t *req)
{
    stream_reply_t *st = (stream_reply_t *)gen;
    if (!st->done && st->left > 0)
        request_chunk(st);
}

static void on_stream_stop(h2o_generator_t *gen, h2o_req_t *req)
{
    stream_reply_t *st = (stream_reply_t *)gen;
    st->done = true; /* the client left; the pool's dispose hook drops the request's reference */
}

static void on_stream_disposed(void *hook)
{
    stream_reply_t *st = *(stream_reply_t **)hook;
    st->req = NULL;
    st->done = true;
    stream_release(st);
}

/* Starts a response whose body comes from result->source (the result is consumed), on the worker. */
static void send_stream(hl_request_t *r, hl_result_t *result)
{
    h2o_req_t *req = r->req;
    stream_reply_t *st = hl_calloc(1, sizeof(*st));
    st->super.proceed = on_stream_proceed;
    st->super.stop = on_stream_stop;
    st->req = req;
    st->worker = r->worker;
    st->source = result->source;
    result->source = NULL;
    st->left = result->source_len;
    st->refs = 1;
    stream_reply_t **hook = h2o_mem_alloc_shared(&req->pool, sizeof(*hook), on_stream_disposed);
    *hook = st;
    req->res.status = hl_result_status(result->kind);
    req->res.reason = reason_phrase(req->res.status);
    req->res.content_length = (size_t)result->source_len;
    add_common_headers(req, flags_of(r));
    add_result_headers(req, result->filename, result->content_type, result->retry_after_s, result->no_store);
    if (result->content_type != NULL) {
        h2o_iovec_t type = h2o_strdup(&req->pool, result->content_type, SIZE_MAX);
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, type.base, type.len);
    }
    hl_result_free(result);
    h2o_start_response(req, &st->super);
    if (st->left == 0 || h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"))) {
        st->done = true;
        h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
        return;
    }
    request_chunk(st);
}

static void deliver(hl_reply_to_t *to, hl_result_t *result)
{
    pending_t *p = (pending_t *)to;
    reply_msg_t *m = hl_calloc(1, sizeof(*m));
    hl_msg_init(&m->super.super, 1, free_reply_msg);
    m->super.run = on_reply;
    m->pending = p;
    if (p->then != NULL || result->source != NULL)
        m->result = result; /* the route's continuation, or a stream the worker drives, gets the result itself */
    else
        fill_reply(m, result);
    hl_worker_post(p->worker, &m->super);
}

static hl_reply_to_t *defer(hl_request_t *r, hl_actor_t *actor, void (*then)(hl_request_t *, hl_result_t *, void *), void *data)
{
    if (!hl_actor_acquire_slot(actor)) {
        hl_reply_error(r, 503, "server_busy", "The server is busy; retry shortly");
        return NULL;
    }
    pending_t *p = hl_malloc(sizeof(*p));
    p->super.deliver = deliver;
    p->req = r->req;
    p->worker = r->worker;
    p->actor = actor;
    p->route = r->route;
    p->device = r->device;
    p->token_hash = r->token_hash;
    p->refs = 2;
    p->then = then;
    p->then_data = data;
    p->cache_key = NULL;
    pending_t **hook = h2o_mem_alloc_shared(&r->req->pool, sizeof(*hook), on_request_disposed);
    *hook = p;
    ++r->worker->num_pending;
    return &p->super;
}

hl_reply_to_t *hl_request_defer(hl_request_t *r, hl_actor_t *actor)
{
    return defer(r, actor, NULL, NULL);
}

hl_reply_to_t *hl_request_defer_cached(hl_request_t *r, hl_actor_t *actor, const char *key)
{
    hl_reply_to_t *to = defer(r, actor, NULL, NULL);
    if (to != NULL)
        ((pending_t *)to)->cache_key = hl_strdup(key);
    return to;
}

hl_reply_to_t *hl_request_defer_then(hl_request_t *r, hl_actor_t *actor,
                                     void (*then)(hl_request_t *r, hl_result_t *result, void *data), void *data)
{
    return defer(r, actor, then, data);
}

void hl_reply_result(hl_request_t *r, hl_result_t *result)
{
    if (result->source != NULL) {
        send_stream(r, result);
        return;
    }
    reply_msg_t m = {.status = 0};
    fill_reply(&m, result);
    send_filled(r, &m);
    free(m.content_type);
    free(m.filename);
}
