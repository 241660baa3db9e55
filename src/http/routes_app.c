/*
 * GET /app (the web client's shell, web/index.html) and its modules under /app/. The files are embedded in the binary;
 * each carries a strong ETag (the SHA-256 of its bytes, computed once at registration), Cache-Control: no-cache (so a
 * browser revalidates and gets 304 on If-None-Match) and a strict CSP (default-src 'self', no inline code, no framing).
 * The client uses only the public API, from the same origin.
 */
#include <string.h>

#include "hl/http.h"
#include "hl/ids.h"
#include "hl/routes.h"
#include "web_assets.h"

#define APP_CSP                                                                                                                    \
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; base-uri 'none';"    \
    " form-action 'none'; frame-ancestors 'none'"

typedef struct {
    const char *pattern;
    const char *type;
    const unsigned char *data;
    const size_t *len;
    char etag[67]; /* "<64 hex>" with the quotes; written once at registration, read by workers afterwards */
} app_asset_t;

static app_asset_t ASSETS[] = {
    {"/app", "text/html; charset=utf-8", hl_web_index_html, &hl_web_index_html_len, ""},
    {"/app/app.css", "text/css; charset=utf-8", hl_web_app_css, &hl_web_app_css_len, ""},
    {"/app/app.js", "text/javascript; charset=utf-8", hl_web_app_js, &hl_web_app_js_len, ""},
    {"/app/api.js", "text/javascript; charset=utf-8", hl_web_api_js, &hl_web_api_js_len, ""},
    {"/app/sse.js", "text/javascript; charset=utf-8", hl_web_sse_js, &hl_web_sse_js_len, ""},
};

/* True when an If-None-Match value ("*" or a comma-separated list of entity tags, weak or strong) names etag. */
static int etag_matches(const char *h, size_t hlen, const char *etag)
{
    size_t elen = strlen(etag);
    size_t i = 0;
    while (i < hlen) {
        while (i < hlen && (h[i] == ' ' || h[i] == '\t' || h[i] == ','))
            ++i;
        size_t start = i;
        while (i < hlen && h[i] != ',')
            ++i;
        size_t end = i;
        while (end > start && (h[end - 1] == ' ' || h[end - 1] == '\t'))
            --end;
        const char *tag = h + start;
        size_t tlen = end - start;
        if (tlen == 1 && tag[0] == '*')
            return 1;
        if (tlen > 2 && tag[0] == 'W' && tag[1] == '/') { /* weak comparison, as RFC 9110 §13.1.2 asks */
            tag += 2;
            tlen -= 2;
        }
        if (tlen == elen && memcmp(tag, etag, elen) == 0)
            return 1;
    }
    return 0;
}

static void serve(hl_request_t *r, const app_asset_t *a)
{
    h2o_req_t *req = r->req;
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("content-security-policy"), 0, NULL, H2O_STRLIT(APP_CSP));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-content-type-options"), 0, NULL, H2O_STRLIT("nosniff"));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-frame-options"), 0, NULL, H2O_STRLIT("DENY"));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("referrer-policy"), 0, NULL, H2O_STRLIT("no-referrer"));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-cache"));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ETAG, NULL, a->etag, strlen(a->etag));
    size_t inm_len;
    const char *inm = hl_request_header(r, "if-none-match", &inm_len);
    if (inm != NULL && etag_matches(inm, inm_len, a->etag)) {
        hl_reply_empty(r, 304);
        return;
    }
    hl_reply_bytes(r, 200, a->type, (const char *)a->data, *a->len);
}

static void get_index(hl_request_t *r)
{
    serve(r, &ASSETS[0]);
}
static void get_css(hl_request_t *r)
{
    serve(r, &ASSETS[1]);
}
static void get_app_js(hl_request_t *r)
{
    serve(r, &ASSETS[2]);
}
static void get_api_js(hl_request_t *r)
{
    serve(r, &ASSETS[3]);
}
static void get_sse_js(hl_request_t *r)
{
    serve(r, &ASSETS[4]);
}

static const hl_route_t ROUTES[] = {
    {HL_METHOD_GET, "/app", get_index, 0, 0},         {HL_METHOD_GET, "/app/app.css", get_css, 0, 0},
    {HL_METHOD_GET, "/app/app.js", get_app_js, 0, 0}, {HL_METHOD_GET, "/app/api.js", get_api_js, 0, 0},
    {HL_METHOD_GET, "/app/sse.js", get_sse_js, 0, 0},
};

void hl_routes_app(hl_router_t *router)
{
    for (size_t i = 0; i < HL_ARRAY_SIZE(ASSETS); ++i) {
        char hex[65];
        hl_sha256_hex(ASSETS[i].data, *ASSETS[i].len, hex);
        ASSETS[i].etag[0] = '"';
        memcpy(ASSETS[i].etag + 1, hex, 64);
        ASSETS[i].etag[65] = '"';
        ASSETS[i].etag[66] = '\0';
    }
    hl_routes_add_all(router, ROUTES, HL_ARRAY_SIZE(ROUTES));
}
