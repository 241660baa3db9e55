/*
 * Replies: CORS and cache headers on every response, compact JSON, the error envelope, and the deferred-reply path
 * (pending handle + request-pool dispose hook, DESIGN §1).
 */
#include <string.h>

#include "hl/http.h"
#include "worker.h"

#define JSON_CONTENT_TYPE "application/json; charset=utf-8"

struct st_hl_pending_t {
    h2o_req_t *req; /* NULL once the request's pool is gone (client reset or disconnect) */
    hl_worker_t *worker;
    hl_actor_t *actor;
    unsigned route_flags;
    int refs; /* the pool hook and the reply; both run on the worker thread */
    /* extra response headers, set by the replying thread before the reply is posted */
    struct {
        const char *name;
        char *value;
    } headers[4];
    size_t num_headers;
};

typedef struct st_reply_msg_t {
    hl_worker_msg_t super;
    hl_pending_t *pending;
    int status;
    char *content_type;
    char *body;
    size_t len;
} reply_msg_t;

static const char *reason_phrase(int status)
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
    default:
        return "OK";
    }
}

/* CORS (API.md §1.2) on every non-preflight response, plus no-store where the route asks for it */
static void add_common_headers(h2o_req_t *req, unsigned route_flags)
{
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ACCESS_CONTROL_ALLOW_ORIGIN, NULL, H2O_STRLIT("*"));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_VARY, NULL, H2O_STRLIT("Origin"));
    if (route_flags & HL_ROUTE_NO_STORE)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-store"));
}

static void send_final(h2o_req_t *req, int status, const char *content_type, const char *data, size_t len, unsigned route_flags,
                       int copy)
{
    static h2o_generator_t generator = {NULL, NULL};
    req->res.status = status;
    req->res.reason = reason_phrase(status);
    /* a 204 carries no Content-Length at all (RFC 9110 §8.6); SIZE_MAX makes h2o omit it without chunking */
    req->res.content_length = status == 204 ? SIZE_MAX : len;
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
    send_final(r->req, status, JSON_CONTENT_TYPE, text, len, flags_of(r), 1);
    free(text);
}

static json_t *error_body(const char *code, const char *message)
{
    return json_pack("{s:b, s:{s:s, s:s}}", "ok", 0, "error", "code", code, "message", message);
}

void hl_reply_error(hl_request_t *r, int status, const char *code, const char *message)
{
    hl_reply_json(r, status, error_body(code, message));
}

static void pending_release(hl_pending_t *p)
{
    if (--p->refs == 0) {
        for (size_t i = 0; i < p->num_headers; ++i)
            free(p->headers[i].value);
        free(p);
    }
}

static void on_request_disposed(void *hook)
{
    hl_pending_t *p = *(hl_pending_t **)hook;
    p->req = NULL;
    pending_release(p);
}

hl_pending_t *hl_request_defer(hl_request_t *r, hl_actor_t *actor)
{
    if (!hl_actor_acquire_slot(actor)) {
        hl_reply_error(r, 503, "server_busy", "The server is busy; retry shortly");
        return NULL;
    }
    hl_pending_t *p = hl_malloc(sizeof(*p));
    p->req = r->req;
    p->worker = r->worker;
    p->actor = actor;
    p->route_flags = flags_of(r);
    p->refs = 2;
    p->num_headers = 0;
    hl_pending_t **hook = h2o_mem_alloc_shared(&r->req->pool, sizeof(*hook), on_request_disposed);
    *hook = p;
    ++r->worker->num_pending;
    return p;
}

static void on_reply(hl_worker_t *w, hl_worker_msg_t *msg)
{
    reply_msg_t *m = (reply_msg_t *)msg;
    hl_pending_t *p = m->pending;
    if (p->req != NULL) {
        for (size_t i = 0; i < p->num_headers; ++i)
            h2o_add_header_by_str(&p->req->pool, &p->req->res.headers, p->headers[i].name, strlen(p->headers[i].name), 1, NULL,
                                  h2o_strdup(&p->req->pool, p->headers[i].value, SIZE_MAX).base, strlen(p->headers[i].value));
        send_final(p->req, m->status, h2o_strdup(&p->req->pool, m->content_type, SIZE_MAX).base, m->body, m->len, p->route_flags,
                   1);
    }
    /* else: the client reset the stream or went away while the actor worked; drop the reply */
    hl_actor_release_slot(p->actor);
    --w->num_pending;
    pending_release(p);
    free(m->content_type);
    free(m->body);
    free(m);
}

static void free_reply_msg(hl_msg_t *msg)
{
    /* only reached if a worker mailbox is disposed with replies still queued (forced shutdown) */
    reply_msg_t *m = (reply_msg_t *)msg;
    free(m->content_type);
    free(m->body);
    free(m);
}

static void post_reply(hl_pending_t *pending, int status, const char *content_type, char *body, size_t len)
{
    reply_msg_t *m = hl_malloc(sizeof(*m));
    hl_msg_init(&m->super.super, 1, free_reply_msg);
    m->super.run = on_reply;
    m->pending = pending;
    m->status = status;
    m->content_type = hl_strdup(content_type);
    m->body = body;
    m->len = len;
    hl_worker_post(pending->worker, &m->super);
}

void hl_pending_reply_json(hl_pending_t *pending, int status, json_t *body)
{
    size_t len;
    char *text = dump_json(body, &len);
    json_decref(body);
    post_reply(pending, status, JSON_CONTENT_TYPE, text, len);
}

void hl_pending_reply_bytes(hl_pending_t *pending, int status, const char *content_type, const char *data, size_t len)
{
    char *copy = hl_malloc(len + 1);
    memcpy(copy, data, len);
    post_reply(pending, status, content_type, copy, len);
}

void hl_pending_set_header(hl_pending_t *pending, const char *name, const char *value)
{
    for (size_t i = 0; i < pending->num_headers; ++i) {
        if (strcmp(pending->headers[i].name, name) == 0) {
            free(pending->headers[i].value);
            pending->headers[i].value = hl_strdup(value);
            return;
        }
    }
    if (pending->num_headers == HL_ARRAY_SIZE(pending->headers))
        hl_fatal("too many response headers");
    pending->headers[pending->num_headers].name = name;
    pending->headers[pending->num_headers].value = hl_strdup(value);
    ++pending->num_headers;
}

void hl_pending_reply_error(hl_pending_t *pending, int status, const char *code, const char *message)
{
    hl_pending_reply_json(pending, status, error_body(code, message));
}

typedef struct st_resume_msg_t {
    hl_worker_msg_t super;
    hl_pending_t *pending;
    void (*fn)(hl_request_t *r, void *data);
    void *data;
} resume_msg_t;

static void on_resume(hl_worker_t *w, hl_worker_msg_t *msg)
{
    resume_msg_t *m = (resume_msg_t *)msg;
    hl_pending_t *p = m->pending;
    hl_actor_release_slot(p->actor);
    --w->num_pending;
    if (p->req != NULL) {
        hl_request_t r = {.req = p->req, .worker = w};
        m->fn(&r, m->data);
    } else {
        m->fn(NULL, m->data);
    }
    pending_release(p);
    free(m);
}

void hl_pending_resume(hl_pending_t *pending, void (*fn)(hl_request_t *r, void *data), void *data)
{
    resume_msg_t *m = hl_malloc(sizeof(*m));
    hl_msg_init(&m->super.super, 1, NULL);
    m->super.run = on_resume;
    m->pending = pending;
    m->fn = fn;
    m->data = data;
    hl_worker_post(pending->worker, &m->super);
}
