/*
 * The web client's files (GET /app and /app/…) over HTTP/1.1, h2c and h2 over TLS: 200 with the right type, a strict
 * CSP without inline code, nosniff, Cache-Control and a strong ETag; 304 with the same ETag (and no body) on a matching
 * If-None-Match (no Content-Length), 200 on a stale one; nothing loaded from another origin; the whole shell under 200 KB.
 */
#include <stdio.h>
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
    hlt_daemon_teardown_shared(&daemon_, "web_app daemon");
}

static const hlt_proto_t PROTOS[] = {HLT_H1, HLT_H2C, HLT_H2_TLS};

static const struct {
    const char *path, *type;
} FILES[] = {
    {"/app", "text/html; charset=utf-8"},
    {"/app/app.css", "text/css; charset=utf-8"},
    {"/app/app.js", "text/javascript; charset=utf-8"},
    {"/app/api.js", "text/javascript; charset=utf-8"},
    {"/app/sse.js", "text/javascript; charset=utf-8"},
};

START_TEST(files_served_with_csp_and_etag)
{
    hlt_proto_t proto = PROTOS[_i];
    size_t total = 0;
    for (size_t i = 0; i < sizeof(FILES) / sizeof(FILES[0]); ++i) {
        hlt_response_t res;
        hlt_get(&daemon_, proto, FILES[i].path, &res);
        ck_assert_msg(res.status == 200, "%s: %ld", FILES[i].path, res.status);
        ck_assert_int_eq(res.http_version, hlt_proto_version(proto));
        ck_assert_str_eq(hlt_header(&res, "content-type"), FILES[i].type);
        const char *csp = hlt_header(&res, "content-security-policy");
        ck_assert_msg(csp != NULL && strstr(csp, "default-src 'self'") != NULL && strstr(csp, "frame-ancestors 'none'") != NULL,
                      "%s: CSP %s", FILES[i].path, csp != NULL ? csp : "(none)");
        ck_assert_msg(strstr(csp, "unsafe-inline") == NULL && strstr(csp, "unsafe-eval") == NULL, "CSP allows inline code");
        ck_assert_str_eq(hlt_header(&res, "x-content-type-options"), "nosniff");
        ck_assert_str_eq(hlt_header(&res, "cache-control"), "no-cache");
        const char *etag = hlt_header(&res, "etag");
        ck_assert_msg(etag != NULL && strlen(etag) == 66 && etag[0] == '"' && etag[65] == '"', "%s: ETag %s", FILES[i].path,
                      etag != NULL ? etag : "(none)");
        ck_assert_uint_gt(res.body_len, 100);
        total += res.body_len;
        for (const char *p = res.body; (p = strstr(p, "http")) != NULL; ++p)
            ck_assert_msg(strncmp(p, "http://", 7) != 0 && strncmp(p, "https://", 8) != 0, "%s: external URL %.60s", FILES[i].path,
                          p);
        if (i == 0) {
            ck_assert_ptr_nonnull(strstr(res.body, "src=\"/app/app.js\""));
            ck_assert_ptr_nonnull(strstr(res.body, "href=\"/app/app.css\""));
            ck_assert_ptr_null(strstr(res.body, "<style"));
            ck_assert_ptr_null(strstr(res.body, "<script>"));
            ck_assert_ptr_null(strstr(res.body, " style="));
        }

        /* revalidation: the same tag (alone, weak or in a list) → 304 without a body; another tag → 200 */
        char tag[80], inm[200];
        snprintf(tag, sizeof(tag), "%s", etag);
        const char *variants[] = {"If-None-Match: %s", "If-None-Match: \"other\", W/%s", "If-None-Match: *"};
        for (size_t v = 0; v < 3; ++v) {
            snprintf(inm, sizeof(inm), variants[v], tag);
            const char *hdrs[] = {inm, NULL};
            hlt_request_t req = {.path = FILES[i].path, .headers = hdrs};
            hlt_response_t nm;
            hlt_request(&daemon_, proto, &req, &nm);
            ck_assert_msg(nm.status == 304, "%s with %s: %ld", FILES[i].path, inm, nm.status);
            ck_assert_uint_eq(nm.body_len, 0);
            ck_assert_str_eq(hlt_header(&nm, "etag"), tag);
            ck_assert_str_eq(hlt_header(&nm, "cache-control"), "no-cache");
            ck_assert_ptr_nonnull(hlt_header(&nm, "content-security-policy"));
            /* RFC 9110 §8.6: a 304's Content-Length would have to be the full entity's, so none at all */
            ck_assert_ptr_null(hlt_header(&nm, "content-length"));
            hlt_response_free(&nm);
        }
        const char *stale[] = {"If-None-Match: \"0000\"", NULL};
        hlt_request_t req = {.path = FILES[i].path, .headers = stale};
        hlt_response_t full;
        hlt_request(&daemon_, proto, &req, &full);
        ck_assert_int_eq(full.status, 200);
        ck_assert_uint_eq(full.body_len, res.body_len);
        hlt_response_free(&full);
        hlt_response_free(&res);
    }
    ck_assert_msg(total < 200 * 1024, "the shell is %zu bytes", total);
}
END_TEST

START_TEST(unknown_file_is_404)
{
    hlt_response_t res;
    hlt_get(&daemon_, PROTOS[_i], "/app/nope.js", &res);
    ck_assert_int_eq(res.status, 404);
    hlt_response_free(&res);
}
END_TEST

Suite *suite_web_app(void)
{
    Suite *s = suite_create("web_app");
    TCase *tc = tcase_create("web_app");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    int n = (int)(sizeof(PROTOS) / sizeof(PROTOS[0]));
    tcase_add_loop_test(tc, files_served_with_csp_and_etag, 0, n);
    tcase_add_loop_test(tc, unknown_file_is_404, 0, n);
    suite_add_tcase(s, tc);
    return s;
}
