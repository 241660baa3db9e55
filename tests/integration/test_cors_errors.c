/*
 * Cross-cutting behaviour (spec/API.md §1.2, §1.4, §1.5 as the issue adapts them): CORS on every response, preflights on
 * any path, OPTIONS with Allow, and JSON envelopes for 404, 405 and 501, over HTTP/1.1 and h2c.
 */
#include <string.h>

#include "harness.h"

#define PREFLIGHT_METHODS "GET,HEAD,PUT,POST,DELETE,PATCH"

static const hlt_proto_t PROTOS[] = {HLT_H1, HLT_H2C};
#define NUM_PROTOS ((int)(sizeof(PROTOS) / sizeof(PROTOS[0])))

static hlt_daemon_t daemon_;

static void setup(void)
{
    hlt_daemon_start(&daemon_, NULL);
}

static void teardown(void)
{
    hlt_daemon_teardown_shared(&daemon_, "cors/errors daemon");
}

static void fetch(int i, const char *method, const char *path, const char *const *headers, hlt_response_t *res)
{
    hlt_request_t req = {.method = method, .path = path, .headers = headers};
    hlt_fetch(&daemon_, PROTOS[i], &req, res);
}

START_TEST(test_cors_on_success)
{
    static const char *const with_origin[] = {"Origin: https://app.example", NULL};
    const char *const *variants[] = {NULL, with_origin};
    for (size_t v = 0; v < 2; ++v) {
        hlt_response_t res;
        fetch(_i, "GET", "/api/v1/system/version?x=1", variants[v], &res);
        ck_assert_int_eq(res.status, 200);
        hlt_assert_cors(&res);
        hlt_assert_json(&res);
        ck_assert_int_eq(hlt_header_count(&res, "access-control-allow-origin"), 1);
        ck_assert_msg(hlt_header(&res, "access-control-allow-credentials") == NULL, "no credentials header");
        ck_assert_msg(hlt_header(&res, "access-control-allow-methods") == NULL, "allow-methods only on preflights");
        hlt_response_free(&res);
    }
}
END_TEST

START_TEST(test_preflight_any_path)
{
    static const char *const paths[] = {
        "/api/v1/bootstrap", "/api/v1/nope/deeper", "/__test/clock", "/", "/api/v1/devices/x", NULL};
    static const char *const with_headers[] = {"Origin: https://app.example", "Access-Control-Request-Method: POST",
                                               "Access-Control-Request-Headers: authorization, content-type, x-custom", NULL};
    static const char *const without_headers[] = {"Access-Control-Request-Method: DELETE", NULL};
    for (size_t p = 0; paths[p] != NULL; ++p) {
        hlt_response_t res;
        fetch(_i, "OPTIONS", paths[p], with_headers, &res);
        ck_assert_msg(res.status == 204, "preflight %s: status %ld", paths[p], res.status);
        ck_assert_msg(res.body_len == 0, "preflight %s has a body", paths[p]);
        hlt_assert_cors(&res);
        const char *m = hlt_header(&res, "access-control-allow-methods");
        ck_assert_msg(m != NULL && strcmp(m, PREFLIGHT_METHODS) == 0, "preflight %s allow-methods %s", paths[p], m ? m : "-");
        const char *h = hlt_header(&res, "access-control-allow-headers");
        ck_assert_msg(h != NULL && strcmp(h, "authorization, content-type, x-custom") == 0, "preflight %s allow-headers %s",
                      paths[p], h ? h : "-");
        ck_assert_msg(hlt_header(&res, "access-control-allow-credentials") == NULL, "no credentials header");
        ck_assert_msg(hlt_header(&res, "access-control-max-age") == NULL, "no max-age");
        /* RFC 9110 §8.6: a server MUST NOT send Content-Length in a 204 response */
        ck_assert_msg(hlt_header(&res, "content-length") == NULL, "204 preflight for %s over %s carries Content-Length: %s",
                      paths[p], hlt_proto_name(PROTOS[_i]), hlt_header(&res, "content-length"));
        hlt_response_free(&res);

        fetch(_i, "OPTIONS", paths[p], without_headers, &res);
        ck_assert_int_eq(res.status, 204);
        hlt_assert_cors(&res);
        ck_assert_msg(hlt_header(&res, "access-control-allow-headers") == NULL,
                      "allow-headers only echoes Access-Control-Request-Headers");
        ck_assert_str_eq(hlt_header(&res, "access-control-allow-methods"), PREFLIGHT_METHODS);
        hlt_response_free(&res);
    }
}
END_TEST

START_TEST(test_options_allow)
{
    static const struct {
        const char *path, *allow;
    } cases[] = {{"/api/v1/system/version", "HEAD, GET"},
                 {"/api/v1/bootstrap", "HEAD, GET"},
                 {"/api/v1/system/status", "HEAD, GET"},
                 {"/__test/clock", "POST"}};
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); ++c) {
        hlt_response_t res;
        fetch(_i, "OPTIONS", cases[c].path, NULL, &res);
        ck_assert_msg(res.status == 200, "OPTIONS %s: %ld", cases[c].path, res.status);
        ck_assert_msg(res.body_len == 0, "OPTIONS %s has a body: %s", cases[c].path, res.body);
        const char *allow = hlt_header(&res, "allow");
        ck_assert_msg(allow != NULL && strcmp(allow, cases[c].allow) == 0, "OPTIONS %s Allow: %s, expected %s", cases[c].path,
                      allow != NULL ? allow : "(absent)", cases[c].allow);
        hlt_assert_cors(&res);
        ck_assert_msg(hlt_header(&res, "access-control-allow-methods") == NULL, "not a preflight");
        hlt_response_free(&res);
    }
    hlt_response_t res;
    fetch(_i, "OPTIONS", "/api/v1/nope", NULL, &res);
    hlt_assert_error(&daemon_, &res, 404, "not_found");
    hlt_response_free(&res);
}
END_TEST

START_TEST(test_not_found)
{
    static const struct {
        const char *method, *path;
    } cases[] = {{"GET", "/api/v1/nope"},
                 {"GET", "/"},
                 {"GET", "/api"},
                 {"GET", "/api/v1/system/version/extra"},
                 {"GET", "/API/V1/BOOTSTRAP"},
                 {"POST", "/api/v1/nope"},
                 {"DELETE", "/api/v2/bootstrap"},
                 {"GET", "/api/v1/%00"},
                 {"GET", "/__test/nope"}};
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); ++c) {
        hlt_response_t res;
        fetch(_i, cases[c].method, cases[c].path, NULL, &res);
        ck_assert_msg(res.status == 404, "%s %s: status %ld", cases[c].method, cases[c].path, res.status);
        hlt_assert_error(&daemon_, &res, 404, "not_found");
        hlt_response_free(&res);
    }
}
END_TEST

START_TEST(test_method_not_allowed)
{
    static const struct {
        const char *method, *path, *allow;
    } cases[] = {{"POST", "/api/v1/system/version", "HEAD, GET"},
                 {"PUT", "/api/v1/bootstrap", "HEAD, GET"},
                 {"DELETE", "/api/v1/system/status", "HEAD, GET"},
                 {"PATCH", "/api/v1/system/version", "HEAD, GET"},
                 {"GET", "/__test/clock", "POST"},
                 {"DELETE", "/__test/actor-limit", "POST"}};
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); ++c) {
        hlt_response_t res;
        fetch(_i, cases[c].method, cases[c].path, NULL, &res);
        ck_assert_msg(res.status == 405, "%s %s: status %ld", cases[c].method, cases[c].path, res.status);
        hlt_assert_error(&daemon_, &res, 405, "method_not_allowed");
        const char *allow = hlt_header(&res, "allow");
        ck_assert_msg(allow != NULL && strcmp(allow, cases[c].allow) == 0, "%s %s Allow: %s, expected %s", cases[c].method,
                      cases[c].path, allow != NULL ? allow : "(absent)", cases[c].allow);
        hlt_response_free(&res);
    }
}
END_TEST

START_TEST(test_not_implemented)
{
    static const char *const methods[] = {"FOO", "PROPFIND", "BREW", NULL};
    for (size_t m = 0; methods[m] != NULL; ++m) {
        hlt_response_t res;
        fetch(_i, methods[m], "/api/v1/system/version", NULL, &res);
        ck_assert_msg(res.status == 501, "%s on a known path: status %ld", methods[m], res.status);
        hlt_assert_error(&daemon_, &res, 501, "not_implemented");
        hlt_response_free(&res);
    }
}
END_TEST

/* HEAD on an error answers like GET would: same status and length, no body */
START_TEST(test_head_errors)
{
    static const struct {
        const char *path;
        long status;
    } cases[] = {{"/api/v1/nope", 404}, {"/__test/clock", 405}};
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); ++c) {
        hlt_response_t get, head;
        fetch(_i, "GET", cases[c].path, NULL, &get);
        fetch(_i, "HEAD", cases[c].path, NULL, &head);
        ck_assert_int_eq(get.status, cases[c].status);
        ck_assert_int_eq(head.status, cases[c].status);
        ck_assert_int_eq(head.body_len, 0);
        const char *cl = hlt_header(&head, "content-length");
        ck_assert_msg(cl != NULL && strtoul(cl, NULL, 10) == get.body_len, "HEAD %s content-length %s vs %zu", cases[c].path,
                      cl != NULL ? cl : "(absent)", get.body_len);
        hlt_assert_cors(&head);
        hlt_response_free(&get);
        hlt_response_free(&head);
    }
}
END_TEST

Suite *suite_cors_errors(void)
{
    Suite *s = suite_create("cors_errors");
    TCase *tc = tcase_create("cors_errors");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_loop_test(tc, test_cors_on_success, 0, NUM_PROTOS);
    tcase_add_loop_test(tc, test_preflight_any_path, 0, NUM_PROTOS);
    tcase_add_loop_test(tc, test_options_allow, 0, NUM_PROTOS);
    tcase_add_loop_test(tc, test_not_found, 0, NUM_PROTOS);
    tcase_add_loop_test(tc, test_method_not_allowed, 0, NUM_PROTOS);
    tcase_add_loop_test(tc, test_not_implemented, 0, NUM_PROTOS);
    tcase_add_loop_test(tc, test_head_errors, 0, NUM_PROTOS);
    suite_add_tcase(s, tc);
    return s;
}
