/*
 * The single h2o handler: CORS preflight, routing (404/405/501 as JSON envelopes), per-route body limits and JSON
 * parsing, then the route's handler.
 */
#include <string.h>

#include <sys/socket.h>

#include "hl/auth.h"
#include "hl/config.h"
#include "hl/forwarded.h"
#include "hl/http.h"
#include "hl/routes.h"
#include "conn_guard.h"
#include "worker.h"

#define PREFLIGHT_METHODS "GET,HEAD,PUT,POST,DELETE,PATCH"

static const hl_router_t *router;
/* trustedProxies: set once before the workers start, read-only afterwards */
static const hl_cidr_t *trusted_proxies;
static size_t num_trusted_proxies;

void hl_dispatch_set_router(const hl_router_t *r)
{
    router = r;
}

void hl_dispatch_set_trusted_proxies(const hl_config_t *config)
{
    trusted_proxies = config->trusted_proxies;
    num_trusted_proxies = config->num_trusted_proxies;
}

const char *hl_request_param(const hl_request_t *r, const char *name)
{
    for (size_t i = 0; i < r->match.num_params; ++i)
        if (strcmp(r->match.params[i].name, name) == 0)
            return r->match.params[i].value;
    return NULL;
}

/* Decodes a query component ('+' is a space; a malformed escape is kept literally, like URLSearchParams). */
static size_t decode_component(const char *s, size_t len, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < len; ++i) {
        if (s[i] == '+') {
            out[o++] = ' ';
        } else if (s[i] == '%' && i + 2 < len && hl_hexval(s[i + 1]) >= 0 && hl_hexval(s[i + 2]) >= 0) {
            out[o++] = (char)(hl_hexval(s[i + 1]) << 4 | hl_hexval(s[i + 2]));
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return o;
}

const char *hl_request_query(const hl_request_t *r, const char *name, size_t *len)
{
    if (r->query.base == NULL)
        return NULL; /* no query string (no '?'): nothing to offset from (UBSan: zero offset to a null pointer) */
    const char *p = r->query.base, *end = p + r->query.len;
    size_t name_len = strlen(name);
    char keybuf[128];
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *pair_end = amp != NULL ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(pair_end - p));
        const char *key_end = eq != NULL ? eq : pair_end;
        size_t klen = (size_t)(key_end - p);
        if (klen < sizeof(keybuf)) {
            size_t dk = decode_component(p, klen, keybuf);
            if (dk == name_len && memcmp(keybuf, name, name_len) == 0) {
                const char *v = eq != NULL ? eq + 1 : pair_end;
                size_t vlen = (size_t)(pair_end - v);
                char *out = h2o_mem_alloc_pool(&r->req->pool, vlen + 1);
                size_t n = decode_component(v, vlen, out);
                if (strlen(out) != n)
                    return NULL; /* an encoded NUL: treat as absent rather than truncate silently */
                if (len != NULL)
                    *len = n;
                return out;
            }
        }
        p = pair_end + 1;
    }
    return NULL;
}

const char *hl_request_header(const hl_request_t *r, const char *name, size_t *len)
{
    ssize_t i = h2o_find_header_by_str(&r->req->headers, name, strlen(name), -1);
    if (i < 0)
        return NULL;
    h2o_header_t *h = r->req->headers.entries + i;
    if (len != NULL)
        *len = h->value.len;
    return h->value.base;
}

/* The client named by X-Forwarded-For when the peer is a trusted proxy (see hl_xff_client), in pool memory; else NULL. */
static const char *forwarded_client(const hl_request_t *r, const uint8_t addr[16])
{
    if (num_trusted_proxies == 0)
        return NULL;
    const h2o_headers_t *headers = &r->req->headers;
    size_t num_values = 0;
    for (ssize_t i = -1; (i = h2o_find_header_by_str(headers, H2O_STRLIT("x-forwarded-for"), i)) >= 0;)
        ++num_values;
    if (num_values == 0)
        return NULL;
    hl_xff_value_t *values = h2o_mem_alloc_pool(&r->req->pool, sizeof(*values) * num_values);
    size_t n = 0;
    for (ssize_t i = -1; (i = h2o_find_header_by_str(headers, H2O_STRLIT("x-forwarded-for"), i)) >= 0;)
        values[n++] = (hl_xff_value_t){headers->entries[i].value.base, headers->entries[i].value.len};
    char buf[HL_ADDR_TEXT_MAX];
    if (!hl_xff_client(addr, values, n, trusted_proxies, num_trusted_proxies, buf))
        return NULL;
    return h2o_strdup(&r->req->pool, buf, SIZE_MAX).base;
}

const char *hl_request_peer(const hl_request_t *r)
{
    struct sockaddr_storage ss;
    uint8_t addr[16];
    if (r->req->conn->callbacks->get_peername(r->req->conn, (struct sockaddr *)&ss) <= 0 ||
        !hl_sockaddr_to_v6((const struct sockaddr *)&ss, addr))
        return "unknown";
    const char *client = forwarded_client(r, addr);
    if (client != NULL)
        return client;
    char buf[HL_ADDR_TEXT_MAX];
    hl_addr_text(addr, buf);
    return h2o_strdup(&r->req->pool, buf, SIZE_MAX).base;
}

static void send_preflight(h2o_req_t *req)
{
    static h2o_generator_t generator = {NULL, NULL};
    req->res.status = 204;
    req->res.reason = "No Content";
    req->res.content_length = SIZE_MAX; /* no Content-Length on a 204 (RFC 9110 §8.6) */
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ACCESS_CONTROL_ALLOW_ORIGIN, NULL, H2O_STRLIT("*"));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("access-control-allow-methods"), 0, NULL,
                          H2O_STRLIT(PREFLIGHT_METHODS));
    ssize_t i = h2o_find_header_by_str(&req->headers, H2O_STRLIT("access-control-request-headers"), -1);
    if (i >= 0) {
        h2o_iovec_t v = req->headers.entries[i].value;
        h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("access-control-allow-headers"), 0, NULL, v.base, v.len);
    }
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_VARY, NULL, H2O_STRLIT("Origin"));
    h2o_start_response(req, &generator);
    h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
}

static void add_allow(hl_request_t *r, unsigned allowed)
{
    char allow[96];
    hl_router_allow_header(allowed, allow, sizeof(allow));
    size_t len = strlen(allow);
    char *v = h2o_mem_alloc_pool(&r->req->pool, len);
    memcpy(v, allow, len);
    h2o_add_header(&r->req->pool, &r->req->res.headers, H2O_TOKEN_ALLOW, NULL, v, len);
}

static int is_blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; ++i)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
            return 0;
    return 1;
}

/* Parses the body of a JSON route: empty → {}, malformed → 400 invalid_json. Returns 0 when the handler may run. */
static int parse_json_body(hl_request_t *r)
{
    h2o_iovec_t e = r->req->entity;
    if (e.base == NULL || is_blank(e.base, e.len)) {
        r->body = json_object();
        return 0;
    }
    json_error_t err;
    r->body = json_loadb(e.base, e.len, JSON_DECODE_ANY, &err);
    if (r->body == NULL) {
        hl_reply_error(r, 400, "invalid_json", "Request body is not valid JSON");
        return -1;
    }
    return 0;
}

int hl_dispatch(h2o_handler_t *self, h2o_req_t *req)
{
    (void)self;
    hl_request_t r = {.req = req, .worker = (hl_worker_t *)req->conn->ctx};
    hl_method_t method = hl_method_from_string(req->method.base, req->method.len);

    if (req->version < 0x200 && hl_conn_guard_ambiguous_framing(r.worker, req)) {
        /* the connection ends with the answer: what follows the body h2o saw is not read as another request */
        req->http1_is_persistent = 0;
        hl_reply_error(&r, 400, "invalid_request_framing",
                       "The request gives Content-Length twice with different values, or both Content-Length and "
                       "Transfer-Encoding");
        return 0;
    }
    if (method == HL_METHOD_OPTIONS &&
        h2o_find_header_by_str(&req->headers, H2O_STRLIT("access-control-request-method"), -1) >= 0) {
        send_preflight(req);
        return 0;
    }

    size_t path_len = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
    if (req->query_at != SIZE_MAX)
        r.query = h2o_iovec_init(req->path.base + req->query_at + 1, req->path.len - req->query_at - 1);
    char *buf = h2o_mem_alloc_pool(&req->pool, path_len + 1);
    hl_match_status_t st = hl_router_match(router, method != 0 ? method : HL_METHOD_GET, req->path.base, path_len, buf, &r.match);

    switch (st) {
    case HL_MATCH_NOT_FOUND:
        hl_reply_error(&r, 404, "not_found", "Not Found");
        return 0;
    case HL_MATCH_BAD_PATH:
        hl_reply_error(&r, 400, "invalid_path", "The request path is malformed");
        return 0;
    case HL_MATCH_METHOD_NOT_ALLOWED:
        add_allow(&r, r.match.allowed);
        if (method == HL_METHOD_OPTIONS)
            hl_reply_empty(&r, 200);
        else if (method == 0)
            hl_reply_error(&r, 501, "not_implemented", "Not Implemented");
        else
            hl_reply_error(&r, 405, "method_not_allowed", "Method Not Allowed");
        return 0;
    case HL_MATCH_FOUND:
        if (method == 0) {
            /* the method is unknown but the path exists: the route matched as GET only for lookup */
            add_allow(&r, r.match.allowed);
            hl_reply_error(&r, 501, "not_implemented", "Not Implemented");
            return 0;
        }
        break;
    }
    r.route = r.match.route;

    size_t limit = r.route->body_limit != 0 ? r.route->body_limit : HL_DEFAULT_BODY_LIMIT;
    if (req->entity.base != NULL && req->entity.len > limit) {
        hl_reply_error(&r, 413, "payload_too_large", "Request body is too large");
        return 0;
    }
    /* authentication runs before the body is looked at (spec/API.md §1.7) */
    if ((r.route->flags & HL_ROUTE_AUTH) != 0 && hl_auth_check(&r) != 0)
        return 0;
    if ((r.route->flags & HL_ROUTE_CONNECT_TOKEN) != 0 && hl_auth_check_connect(&r) != 0)
        return 0;
    if ((r.route->flags & HL_ROUTE_JSON_BODY) != 0 && parse_json_body(&r) != 0)
        return 0;
    r.route->handler(&r);
    json_decref(r.body);
    return 0;
}
