/*
 * The API reference (GET /api/docs/openapi.json and /api/docs) over HTTP/1.1, h2c and h2 over TLS: the document is OpenAPI
 * 3.0 at the daemon's version, its operations are exactly the routes the daemon's router holds (listed by the test-mode
 * hook /__test/routes), each documented with a 2xx and error codes, its security follows the route's auth (checked by
 * calling bearer routes without a token), and the page loads nothing from outside its own origin under a strict CSP.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static hlt_daemon_t daemon_;

static void setup(void)
{
    hlt_daemon_opts_t o = {.tls = 1};
    hlt_daemon_start(&daemon_, &o);
}

static void teardown(void)
{
    hlt_daemon_teardown_shared(&daemon_, "api_docs daemon");
}

static const hlt_proto_t PROTOS[] = {HLT_H1, HLT_H2C, HLT_H2_TLS};

/* "/a/:id/b" → "/a/{id}/b" */
static void openapi_path(const char *pattern, char *out, size_t cap)
{
    size_t o = 0;
    for (const char *p = pattern; *p != '\0' && o + 2 < cap;) {
        if (*p == ':') {
            out[o++] = '{';
            for (++p; *p != '\0' && *p != '/' && o + 2 < cap;)
                out[o++] = *p++;
            out[o++] = '}';
        } else {
            out[o++] = *p++;
        }
    }
    out[o] = '\0';
}

static int excluded(const char *pattern)
{
    return strcmp(pattern, "/pair") == 0 || strcmp(pattern, "/app") == 0 || strncmp(pattern, "/app/", 5) == 0 ||
           strncmp(pattern, "/__test/", 8) == 0;
}

static json_t *fetch_json(hlt_proto_t proto, const char *path, hlt_response_t *res)
{
    hlt_get(&daemon_, proto, path, res);
    ck_assert_msg(res->status == 200, "%s: %ld", path, res->status);
    ck_assert_msg(res->json != NULL, "%s: not JSON", path);
    return res->json;
}

START_TEST(openapi_matches_router)
{
    hlt_proto_t proto = PROTOS[_i];
    hlt_response_t doc_res, ver_res, routes_res;
    json_t *doc = fetch_json(proto, "/api/docs/openapi.json", &doc_res);
    hlt_assert_json(&doc_res);
    hlt_assert_cors(&doc_res);
    ck_assert_ptr_nonnull(hlt_header(&doc_res, "cache-control"));
    ck_assert_str_eq(hlt_header(&doc_res, "x-content-type-options"), "nosniff");

    const char *openapi = json_string_value(json_object_get(doc, "openapi"));
    ck_assert_msg(openapi != NULL && strncmp(openapi, "3.0.", 4) == 0, "openapi %s", openapi != NULL ? openapi : "(none)");
    json_t *version = fetch_json(proto, "/api/v1/system/version", &ver_res);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(doc, "info"), "version")),
                     json_string_value(json_object_get(version, "version")));
    json_t *schemes = json_object_get(json_object_get(doc, "components"), "securitySchemes");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(schemes, "bearerAuth"), "scheme")), "bearer");

    /* router → document: every registered route (but pages and test hooks) is there, documented, with its auth */
    json_t *routes = json_object_get(fetch_json(proto, "/__test/routes", &routes_res), "routes");
    ck_assert_uint_gt(json_array_size(routes), 100);
    json_t *paths = json_object_get(doc, "paths");
    size_t expected = 0, i;
    json_t *route;
    json_array_foreach(routes, i, route)
    {
        const char *pattern = json_string_value(json_object_get(route, "pattern"));
        const char *method = json_string_value(json_object_get(route, "method"));
        const char *auth = json_string_value(json_object_get(route, "auth"));
        if (excluded(pattern)) {
            ck_assert_msg(json_object_get(paths, pattern) == NULL, "%s is a page or test hook, not API", pattern);
            continue;
        }
        ++expected;
        char path[256];
        openapi_path(pattern, path, sizeof(path));
        json_t *op = json_object_get(json_object_get(paths, path), method);
        ck_assert_msg(op != NULL, "%s %s is registered but not in openapi.json", method, pattern);
        ck_assert_msg(json_object_get(op, "x-undocumented") == NULL, "%s %s has no documentation", method, pattern);
        json_t *security = json_object_get(op, "security");
        ck_assert_msg(json_is_array(security), "%s %s: no security", method, pattern);
        if (strcmp(auth, "none") == 0)
            ck_assert_msg(json_array_size(security) == 0, "%s %s is public but documented with a bearer", method, pattern);
        else
            ck_assert_msg(json_object_get(json_array_get(security, 0), "bearerAuth") != NULL, "%s %s: bearer not documented",
                          method, pattern);
        json_t *responses = json_object_get(op, "responses");
        int ok = 0, errors = 0;
        const char *status;
        json_t *r;
        json_object_foreach(responses, status, r)
        {
            if (status[0] == '2')
                ++ok;
            else if (json_array_size(json_object_get(r, "x-error-codes")) > 0)
                ++errors;
        }
        ck_assert_msg(ok >= 1 && errors >= 1, "%s %s: %d 2xx, %d error statuses with codes", method, pattern, ok, errors);
        if (strcmp(auth, "device") == 0)
            ck_assert_ptr_nonnull(json_object_get(responses, "401"));
    }
    /* document → router: nothing documented that the router does not serve */
    size_t ops = 0;
    const char *p;
    json_t *item;
    json_object_foreach(paths, p, item)
    {
        ops += json_object_size(item);
    }
    ck_assert_uint_eq(ops, expected);

    hlt_response_free(&doc_res);
    hlt_response_free(&ver_res);
    hlt_response_free(&routes_res);
}
END_TEST

/* What the document says about auth holds: bearer routes refuse a request without a token, public ones answer it. */
START_TEST(security_matches_behaviour)
{
    hlt_proto_t proto = PROTOS[_i];
    hlt_response_t doc_res;
    json_t *paths = json_object_get(fetch_json(proto, "/api/docs/openapi.json", &doc_res), "paths");
    static const char *const bearer[] = {"/api/v1/auth/me", "/api/v1/devices", "/api/v1/status", "/api/v1/conversations"};
    for (size_t i = 0; i < sizeof(bearer) / sizeof(bearer[0]); ++i) {
        json_t *security = json_object_get(json_object_get(json_object_get(paths, bearer[i]), "get"), "security");
        ck_assert_msg(json_array_size(security) == 1, "%s: documented without a bearer", bearer[i]);
        hlt_response_t res;
        hlt_get(&daemon_, proto, bearer[i], &res);
        hlt_assert_error(&daemon_, &res, 401, "auth_required");
        hlt_response_free(&res);
    }
    static const char *const open[] = {"/api/v1/system/version", "/api/v1/bootstrap"};
    for (size_t i = 0; i < sizeof(open) / sizeof(open[0]); ++i) {
        json_t *security = json_object_get(json_object_get(json_object_get(paths, open[i]), "get"), "security");
        ck_assert_msg(json_is_array(security) && json_array_size(security) == 0, "%s: documented with a bearer", open[i]);
        hlt_response_t res;
        hlt_get(&daemon_, proto, open[i], &res);
        ck_assert_int_eq(res.status, 200);
        hlt_response_free(&res);
    }
    hlt_response_free(&doc_res);
}
END_TEST

/* every http:// or https:// in body must be one of the `allowed` prefixes (none for the page's own files) */
static void assert_no_external_url(const char *what, const char *body)
{
    for (const char *p = body; (p = strstr(p, "http")) != NULL; ++p) {
        if (strncmp(p, "http://", 7) == 0 || strncmp(p, "https://", 8) == 0)
            ck_abort_msg("%s loads or links an external URL: %.60s", what, p);
    }
}

START_TEST(page_is_self_contained)
{
    hlt_proto_t proto = PROTOS[_i];
    static const struct {
        const char *path, *type;
    } files[] = {{"/api/docs", "text/html; charset=utf-8"},
                 {"/api/docs/app.js", "text/javascript; charset=utf-8"},
                 {"/api/docs/app.css", "text/css; charset=utf-8"}};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); ++i) {
        hlt_response_t res;
        hlt_get(&daemon_, proto, files[i].path, &res);
        ck_assert_int_eq(res.status, 200);
        ck_assert_str_eq(hlt_header(&res, "content-type"), files[i].type);
        const char *csp = hlt_header(&res, "content-security-policy");
        ck_assert_msg(csp != NULL && strstr(csp, "default-src 'self'") != NULL && strstr(csp, "frame-ancestors 'none'") != NULL,
                      "%s: CSP %s", files[i].path, csp != NULL ? csp : "(none)");
        ck_assert_msg(strstr(csp, "unsafe-inline") == NULL && strstr(csp, "unsafe-eval") == NULL, "CSP allows inline code");
        ck_assert_str_eq(hlt_header(&res, "x-content-type-options"), "nosniff");
        ck_assert_ptr_nonnull(hlt_header(&res, "cache-control"));
        hlt_assert_cors(&res);
        ck_assert_uint_gt(res.body_len, 100);
        assert_no_external_url(files[i].path, res.body);
        if (i == 0) {
            /* no inline script or style for the CSP to block: code comes from the page's own routes */
            ck_assert_ptr_nonnull(strstr(res.body, "src=\"/api/docs/app.js\""));
            ck_assert_ptr_nonnull(strstr(res.body, "href=\"/api/docs/app.css\""));
            ck_assert_ptr_null(strstr(res.body, "<style"));
            ck_assert_ptr_null(strstr(res.body, "<script>"));
        }
        hlt_response_free(&res);
    }
}
END_TEST

Suite *suite_api_docs(void)
{
    Suite *s = suite_create("api_docs");
    TCase *tc = tcase_create("api_docs");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    int n = (int)(sizeof(PROTOS) / sizeof(PROTOS[0]));
    tcase_add_loop_test(tc, openapi_matches_router, 0, n);
    tcase_add_loop_test(tc, security_matches_behaviour, 0, n);
    tcase_add_loop_test(tc, page_is_self_contained, 0, n);
    suite_add_tcase(s, tc);
    return s;
}
