/*
 * GET /api/docs (the interactive reference page), /api/docs/app.js, /api/docs/app.css and /api/docs/openapi.json. The
 * OpenAPI document is generated once, from the finished route table, when these routes register; the page's files are
 * embedded in the binary. Every answer forbids framing and inline code (CSP default-src 'self'): the page works offline.
 */
#include <stdlib.h>
#include <string.h>

#include "hl/api_docs.h"
#include "hl/http.h"
#include "hl/log.h"
#include "hl/routes.h"
#include "hl/version.h"
#include "docs_assets.h"

/* the document's compact JSON, built at registration (main thread) and only read by workers afterwards */
static char *openapi_text;
static size_t openapi_len;

#define DOCS_CSP                                                                                                                   \
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none';"          \
    " form-action 'none'; frame-ancestors 'none'"

static void add_headers(hl_request_t *r)
{
    h2o_req_t *req = r->req;
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("content-security-policy"), 0, NULL, H2O_STRLIT(DOCS_CSP));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-content-type-options"), 0, NULL, H2O_STRLIT("nosniff"));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-frame-options"), 0, NULL, H2O_STRLIT("DENY"));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("referrer-policy"), 0, NULL, H2O_STRLIT("no-referrer"));
}

static void get_page(hl_request_t *r)
{
    add_headers(r);
    hl_reply_bytes(r, 200, "text/html; charset=utf-8", (const char *)hl_docs_index_html, hl_docs_index_html_len);
}

static void get_js(hl_request_t *r)
{
    add_headers(r);
    hl_reply_bytes(r, 200, "text/javascript; charset=utf-8", (const char *)hl_docs_app_js, hl_docs_app_js_len);
}

static void get_css(hl_request_t *r)
{
    add_headers(r);
    hl_reply_bytes(r, 200, "text/css; charset=utf-8", (const char *)hl_docs_app_css, hl_docs_app_css_len);
}

static void get_openapi(hl_request_t *r)
{
    add_headers(r);
    hl_reply_bytes(r, 200, "application/json; charset=utf-8", openapi_text, openapi_len);
}

static const hl_route_t ROUTES[] = {
    {HL_METHOD_GET, "/api/docs", get_page, HL_ROUTE_NO_STORE, 0},
    {HL_METHOD_GET, "/api/docs/app.js", get_js, HL_ROUTE_NO_STORE, 0},
    {HL_METHOD_GET, "/api/docs/app.css", get_css, HL_ROUTE_NO_STORE, 0},
    {HL_METHOD_GET, "/api/docs/openapi.json", get_openapi, HL_ROUTE_NO_STORE, 0},
};

void hl_routes_docs(hl_router_t *router)
{
    hl_routes_add_all(router, ROUTES, HL_ARRAY_SIZE(ROUTES));
    const char *err = NULL;
    json_t *problems = NULL;
    json_t *doc = hl_api_docs_build(router, HL_VERSION, &problems, &err);
    if (doc == NULL)
        hl_fatal("API reference: %s", err); /* a malformed docs table is a programming error, as a bad route is */
    size_t i;
    json_t *p;
    json_array_foreach(problems, i, p)
    {
        /* served anyway (x-undocumented); the unit and integration tests fail on it */
        hl_log(HL_LOG_WARN, "api_docs_incomplete", json_pack("{s:O}", "problem", p));
    }
    json_decref(problems);
    free(openapi_text);
    openapi_text = json_dumps(doc, JSON_COMPACT);
    if (openapi_text == NULL)
        hl_fatal("API reference: cannot serialise the document");
    openapi_len = strlen(openapi_text);
    json_decref(doc);
}
