#include <errno.h>
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "hl/router.h"

static void h_a(struct st_hl_request_t *r)
{
    (void)r;
}
static void h_b(struct st_hl_request_t *r)
{
    (void)r;
}

static const hl_route_t R_LIST = {HL_METHOD_GET, "/api/v1/conversations", h_a, 0, 0};
static const hl_route_t R_SEARCH = {HL_METHOD_GET, "/api/v1/conversations/search", h_a, 0, 0};
static const hl_route_t R_GET_ID = {HL_METHOD_GET, "/api/v1/conversations/:id/messages", h_b, 0, 0};
static const hl_route_t R_DEL_ID = {HL_METHOD_DELETE, "/api/v1/conversations/:id", h_b, 0, 0};

static hl_router_t *make(void)
{
    hl_router_t *r = hl_router_new();
    ck_assert_int_eq(hl_router_add(r, &R_LIST), 0);
    ck_assert_int_eq(hl_router_add(r, &R_SEARCH), 0);
    ck_assert_int_eq(hl_router_add(r, &R_GET_ID), 0);
    ck_assert_int_eq(hl_router_add(r, &R_DEL_ID), 0);
    return r;
}

static hl_match_status_t match(hl_router_t *r, hl_method_t m, const char *path, hl_route_match_t *out, char *buf)
{
    return hl_router_match(r, m, path, strlen(path), buf, out);
}

START_TEST(literal_before_param)
{
    hl_router_t *r = make();
    hl_route_match_t m;
    char buf[256];
    ck_assert_int_eq(match(r, HL_METHOD_GET, "/api/v1/conversations/search", &m, buf), HL_MATCH_FOUND);
    ck_assert_ptr_eq(m.route, &R_SEARCH);
    /* no literal DELETE: backtracks to the :id route */
    ck_assert_int_eq(match(r, HL_METHOD_DELETE, "/api/v1/conversations/search", &m, buf), HL_MATCH_FOUND);
    ck_assert_ptr_eq(m.route, &R_DEL_ID);
    ck_assert_str_eq(m.params[0].value, "search");
    hl_router_free(r);
}
END_TEST

START_TEST(params_are_decoded)
{
    hl_router_t *r = make();
    hl_route_match_t m;
    char buf[256];
    ck_assert_int_eq(match(r, HL_METHOD_GET, "/api/v1/conversations/%2E%2E%2Fetc/messages", &m, buf), HL_MATCH_FOUND);
    ck_assert_str_eq(m.params[0].name, "id");
    ck_assert_str_eq(m.params[0].value, "../etc");
    ck_assert_int_eq(match(r, HL_METHOD_GET, "/api/v1/conversations/%zz/messages", &m, buf), HL_MATCH_BAD_PATH);
    ck_assert_int_eq(match(r, HL_METHOD_GET, "/api/v1/conversations/a%00b/messages", &m, buf), HL_MATCH_BAD_PATH);
    hl_router_free(r);
}
END_TEST

START_TEST(method_not_allowed_lists_methods)
{
    hl_router_t *r = make();
    hl_route_match_t m;
    char buf[256], allow[64];
    ck_assert_int_eq(match(r, HL_METHOD_POST, "/api/v1/conversations", &m, buf), HL_MATCH_METHOD_NOT_ALLOWED);
    ck_assert_str_eq(hl_router_allow_header(m.allowed, allow, sizeof(allow)), "HEAD, GET");
    ck_assert_int_eq(match(r, HL_METHOD_HEAD, "/api/v1/conversations", &m, buf), HL_MATCH_FOUND);
    ck_assert_int_eq(match(r, HL_METHOD_GET, "/api/v1/nothing", &m, buf), HL_MATCH_NOT_FOUND);
    ck_assert_int_eq(match(r, HL_METHOD_GET, "/api/v1/conversations/", &m, buf), HL_MATCH_NOT_FOUND);
    hl_router_free(r);
}
END_TEST

START_TEST(duplicates_and_bad_patterns_rejected)
{
    hl_router_t *r = make();
    ck_assert_int_eq(hl_router_add(r, &R_LIST), -EEXIST);
    hl_route_t bad = {HL_METHOD_GET, "no-slash", h_a, 0, 0};
    ck_assert_int_eq(hl_router_add(r, &bad), -EINVAL);
    hl_route_t renamed = {HL_METHOD_POST, "/api/v1/conversations/:other", h_a, 0, 0};
    ck_assert_int_eq(hl_router_add(r, &renamed), -EINVAL);
    hl_router_free(r);
}
END_TEST

START_TEST(root_path)
{
    static const hl_route_t root = {HL_METHOD_GET, "/", h_a, 0, 0};
    static const hl_route_t under = {HL_METHOD_GET, "/x", h_b, 0, 0};
    hl_router_t *r = hl_router_new();
    ck_assert_int_eq(hl_router_add(r, &root), 0);
    ck_assert_int_eq(hl_router_add(r, &under), 0);
    ck_assert_int_eq(hl_router_add(r, &root), -EEXIST);
    hl_route_match_t m;
    char buf[64];
    ck_assert_int_eq(match(r, HL_METHOD_GET, "/", &m, buf), HL_MATCH_FOUND);
    ck_assert_ptr_eq(m.route, &root);
    ck_assert_int_eq(m.num_params, 0);
    ck_assert_int_eq(match(r, HL_METHOD_HEAD, "/", &m, buf), HL_MATCH_FOUND);
    ck_assert_ptr_eq(m.route, &root);
    ck_assert_int_eq(match(r, HL_METHOD_GET, "/x", &m, buf), HL_MATCH_FOUND);
    ck_assert_ptr_eq(m.route, &under);
    ck_assert_int_eq(match(r, HL_METHOD_GET, "//", &m, buf), HL_MATCH_NOT_FOUND);
    ck_assert_int_eq(match(r, HL_METHOD_GET, "/x/", &m, buf), HL_MATCH_NOT_FOUND);
    ck_assert_int_eq(match(r, HL_METHOD_GET, "x", &m, buf), HL_MATCH_NOT_FOUND);
    ck_assert_int_eq(hl_router_match(r, HL_METHOD_GET, "/", 0, buf, &m), HL_MATCH_NOT_FOUND);
    ck_assert_int_eq(match(r, HL_METHOD_POST, "/", &m, buf), HL_MATCH_METHOD_NOT_ALLOWED);
    ck_assert_uint_eq(m.allowed, HL_METHOD_GET | HL_METHOD_HEAD);
    hl_router_free(r);

    /* without a root route, "/" is not found */
    r = make();
    ck_assert_int_eq(match(r, HL_METHOD_GET, "/", &m, buf), HL_MATCH_NOT_FOUND);
    hl_router_free(r);
}
END_TEST

START_TEST(max_params)
{
    static const hl_route_t eight = {HL_METHOD_GET, "/p/:a/:b/:c/:d/:e/:f/:g/:h", h_a, 0, 0};
    static const hl_route_t nine = {HL_METHOD_POST, "/q/:a/:b/:c/:d/:e/:f/:g/:h/:i", h_a, 0, 0};
    hl_router_t *r = hl_router_new();
    ck_assert_int_eq(hl_router_add(r, &eight), 0);
    ck_assert_int_eq(hl_router_add(r, &nine), -EINVAL);
    /* decoded values packed into a buffer of exactly path_len + 1 bytes (ASan checks the bound) */
    const char *path = "/p/1/%32/three/4%2F4/5/6/seven%20/8";
    size_t len = strlen(path);
    char *buf = malloc(len + 1);
    hl_route_match_t m;
    ck_assert_int_eq(hl_router_match(r, HL_METHOD_GET, path, len, buf, &m), HL_MATCH_FOUND);
    ck_assert_int_eq(m.num_params, HL_ROUTE_MAX_PARAMS);
    static const char *const names[] = {"a", "b", "c", "d", "e", "f", "g", "h"};
    static const char *const values[] = {"1", "2", "three", "4/4", "5", "6", "seven ", "8"};
    for (size_t i = 0; i < 8; ++i) {
        ck_assert_str_eq(m.params[i].name, names[i]);
        ck_assert_str_eq(m.params[i].value, values[i]);
        ck_assert_int_eq(m.params[i].len, strlen(values[i]));
    }
    /* one segment short or long: no match */
    ck_assert_int_eq(hl_router_match(r, HL_METHOD_GET, "/p/1/2/3/4/5/6/7", 16, buf, &m), HL_MATCH_NOT_FOUND);
    free(buf);
    char big[256];
    ck_assert_int_eq(match(r, HL_METHOD_GET, "/p/1/2/3/4/5/6/7/8/9", &m, big), HL_MATCH_NOT_FOUND);
    /* very deep paths are refused without trouble */
    char deep[200] = "";
    for (int i = 0; i < 40; ++i)
        strcat(deep, "/a");
    ck_assert_int_eq(match(r, HL_METHOD_GET, deep, &m, big), HL_MATCH_NOT_FOUND);
    hl_router_free(r);
}
END_TEST

START_TEST(bad_patterns)
{
    hl_router_t *r = hl_router_new();
    static const char *const bad[] = {"", "x", "/a/", "/a//b", "/:", "/a/:", "//"};
    for (size_t i = 0; i < HL_ARRAY_SIZE(bad); ++i) {
        hl_route_t route = {HL_METHOD_GET, bad[i], h_a, 0, 0};
        ck_assert_msg(hl_router_add(r, &route) == -EINVAL, "pattern '%s' accepted", bad[i]);
    }
    hl_route_t head = {HL_METHOD_HEAD, "/h", h_a, 0, 0};
    ck_assert_int_eq(hl_router_add(r, &head), -EINVAL); /* HEAD comes with GET */
    hl_route_t nomethod = {0, "/h", h_a, 0, 0};
    ck_assert_int_eq(hl_router_add(r, &nomethod), -EINVAL);
    hl_route_t nohandler = {HL_METHOD_GET, "/h", NULL, 0, 0};
    ck_assert_int_eq(hl_router_add(r, &nohandler), -EINVAL);
    hl_route_t nopattern = {HL_METHOD_GET, NULL, h_a, 0, 0};
    ck_assert_int_eq(hl_router_add(r, &nopattern), -EINVAL);
    hl_router_free(r);
}
END_TEST

static void expect_decode(const char *in, int ret, const char *want)
{
    char out[64];
    size_t len = 99;
    int r = hl_percent_decode(in, strlen(in), out, &len);
    ck_assert_msg(r == ret, "decoding '%s' returned %d, expected %d", in, r, ret);
    if (ret == 0) {
        ck_assert_str_eq(out, want);
        ck_assert_int_eq(len, strlen(want));
    }
}

START_TEST(percent_decoding_edges)
{
    expect_decode("", 0, "");
    expect_decode("plain", 0, "plain");
    expect_decode("%41%62", 0, "Ab");
    expect_decode("%2f%2F", 0, "//"); /* lower and upper hex */
    expect_decode("%aB%Cd", 0, "\xab\xcd");
    expect_decode("%C3%A9t%C3%A9", 0, "\xc3\xa9t\xc3\xa9");
    expect_decode("a+b", 0, "a+b"); /* not form encoding */
    expect_decode("100%25", 0, "100%");
    expect_decode("%", -EINVAL, NULL);
    expect_decode("abc%", -EINVAL, NULL);
    expect_decode("%2", -EINVAL, NULL);
    expect_decode("abc%4", -EINVAL, NULL);
    expect_decode("%%41", -EINVAL, NULL);
    expect_decode("%G1", -EINVAL, NULL);
    expect_decode("%1g", -EINVAL, NULL);
    expect_decode("% 1", -EINVAL, NULL);
    expect_decode("%00", -EINVAL, NULL);
    expect_decode("a%00b", -EINVAL, NULL);
    /* the length bounds the input: a '%' escape cut by it is incomplete */
    char out[8];
    size_t len;
    ck_assert_int_eq(hl_percent_decode("ab%41", 4, out, &len), -EINVAL);
    ck_assert_int_eq(hl_percent_decode("ab%41", 2, out, &len), 0);
    ck_assert_str_eq(out, "ab");
    ck_assert_int_eq(hl_percent_decode("%41", 3, out, NULL), 0);
    ck_assert_str_eq(out, "A");

    /* the same rules for route parameters */
    hl_router_t *r = make();
    hl_route_match_t m;
    char buf[256];
    ck_assert_int_eq(match(r, HL_METHOD_DELETE, "/api/v1/conversations/abc%", &m, buf), HL_MATCH_BAD_PATH);
    ck_assert_int_eq(match(r, HL_METHOD_DELETE, "/api/v1/conversations/%2", &m, buf), HL_MATCH_BAD_PATH);
    ck_assert_int_eq(match(r, HL_METHOD_DELETE, "/api/v1/conversations/%2x", &m, buf), HL_MATCH_BAD_PATH);
    ck_assert_int_eq(match(r, HL_METHOD_DELETE, "/api/v1/conversations/c%6fnv%5F1", &m, buf), HL_MATCH_FOUND);
    ck_assert_str_eq(m.params[0].value, "conv_1");
    /* an encoded slash stays inside its segment */
    ck_assert_int_eq(match(r, HL_METHOD_DELETE, "/api/v1/conversations/a%2Fb", &m, buf), HL_MATCH_FOUND);
    ck_assert_str_eq(m.params[0].value, "a/b");
    /* literal segments are compared undecoded: an encoded "search" is an id */
    ck_assert_int_eq(match(r, HL_METHOD_GET, "/api/v1/conversations/%73earch/messages", &m, buf), HL_MATCH_FOUND);
    ck_assert_ptr_eq(m.route, &R_GET_ID);
    ck_assert_str_eq(m.params[0].value, "search");
    hl_router_free(r);
}
END_TEST

START_TEST(options_and_head)
{
    static const hl_route_t opt = {HL_METHOD_OPTIONS, "/api/v1/conversations/search", h_b, 0, 0};
    static const hl_route_t post = {HL_METHOD_POST, "/api/v1/runs", h_a, 0, 0};
    hl_router_t *r = make();
    hl_route_match_t m;
    char buf[256], allow[128];
    /* no OPTIONS route: 405 with the allowed methods (the Allow header of the OPTIONS answer) */
    ck_assert_int_eq(match(r, HL_METHOD_OPTIONS, "/api/v1/conversations/abc", &m, buf), HL_MATCH_METHOD_NOT_ALLOWED);
    ck_assert_uint_eq(m.allowed, HL_METHOD_DELETE);
    ck_assert_str_eq(hl_router_allow_header(m.allowed, allow, sizeof(allow)), "DELETE");
    ck_assert_ptr_null(m.route);
    /* the literal and the parameter route both end here: methods of both are listed */
    ck_assert_int_eq(match(r, HL_METHOD_OPTIONS, "/api/v1/conversations/search", &m, buf), HL_MATCH_METHOD_NOT_ALLOWED);
    ck_assert_str_eq(hl_router_allow_header(m.allowed, allow, sizeof(allow)), "HEAD, GET, DELETE");
    ck_assert_int_eq(match(r, HL_METHOD_PUT, "/api/v1/conversations/search", &m, buf), HL_MATCH_METHOD_NOT_ALLOWED);
    ck_assert_str_eq(hl_router_allow_header(m.allowed, allow, sizeof(allow)), "HEAD, GET, DELETE");
    /* with an OPTIONS route, it is found */
    ck_assert_int_eq(hl_router_add(r, &opt), 0);
    ck_assert_int_eq(match(r, HL_METHOD_OPTIONS, "/api/v1/conversations/search", &m, buf), HL_MATCH_FOUND);
    ck_assert_ptr_eq(m.route, &opt);
    ck_assert_int_eq(match(r, HL_METHOD_OPTIONS, "/api/v1/nothing", &m, buf), HL_MATCH_NOT_FOUND);
    ck_assert_uint_eq(m.allowed, 0);

    /* HEAD answers GET routes, with their parameters */
    ck_assert_int_eq(match(r, HL_METHOD_HEAD, "/api/v1/conversations/c1/messages", &m, buf), HL_MATCH_FOUND);
    ck_assert_ptr_eq(m.route, &R_GET_ID);
    ck_assert_str_eq(m.params[0].value, "c1");
    /* but not POST-only ones */
    ck_assert_int_eq(hl_router_add(r, &post), 0);
    ck_assert_int_eq(match(r, HL_METHOD_HEAD, "/api/v1/runs", &m, buf), HL_MATCH_METHOD_NOT_ALLOWED);
    ck_assert_str_eq(hl_router_allow_header(m.allowed, allow, sizeof(allow)), "POST");
    ck_assert_int_eq(match(r, HL_METHOD_GET, "/api/v1/runs", &m, buf), HL_MATCH_METHOD_NOT_ALLOWED);
    hl_router_free(r);
}
END_TEST

START_TEST(backtracking_deeper)
{
    static const hl_route_t lit = {HL_METHOD_GET, "/a/b/d", h_a, 0, 0};
    static const hl_route_t par = {HL_METHOD_GET, "/a/:x/c", h_b, 0, 0};
    static const hl_route_t two = {HL_METHOD_PATCH, "/a/:x/:y", h_b, 0, 0};
    hl_router_t *r = hl_router_new();
    ck_assert_int_eq(hl_router_add(r, &lit), 0);
    ck_assert_int_eq(hl_router_add(r, &par), 0);
    ck_assert_int_eq(hl_router_add(r, &two), 0);
    hl_route_match_t m;
    char buf[64];
    /* the literal "b" leads nowhere for "c": back to :x */
    ck_assert_int_eq(match(r, HL_METHOD_GET, "/a/b/c", &m, buf), HL_MATCH_FOUND);
    ck_assert_ptr_eq(m.route, &par);
    ck_assert_int_eq(m.num_params, 1);
    ck_assert_str_eq(m.params[0].value, "b");
    ck_assert_int_eq(match(r, HL_METHOD_GET, "/a/b/d", &m, buf), HL_MATCH_FOUND);
    ck_assert_ptr_eq(m.route, &lit);
    ck_assert_int_eq(m.num_params, 0);
    ck_assert_int_eq(match(r, HL_METHOD_PATCH, "/a/b/d", &m, buf), HL_MATCH_FOUND);
    ck_assert_ptr_eq(m.route, &two);
    ck_assert_int_eq(m.num_params, 2);
    ck_assert_str_eq(m.params[0].name, "x");
    ck_assert_str_eq(m.params[0].value, "b");
    ck_assert_str_eq(m.params[1].name, "y");
    ck_assert_str_eq(m.params[1].value, "d");
    /* 405 lists every route the path reaches */
    ck_assert_int_eq(match(r, HL_METHOD_DELETE, "/a/b/c", &m, buf), HL_MATCH_METHOD_NOT_ALLOWED);
    ck_assert_uint_eq(m.allowed, HL_METHOD_GET | HL_METHOD_HEAD | HL_METHOD_PATCH);
    /* an empty segment never matches a parameter */
    ck_assert_int_eq(match(r, HL_METHOD_GET, "/a//c", &m, buf), HL_MATCH_NOT_FOUND);
    hl_router_free(r);
}
END_TEST

START_TEST(methods_and_allow_header)
{
    ck_assert_int_eq(hl_method_from_string("GET", 3), HL_METHOD_GET);
    ck_assert_int_eq(hl_method_from_string("HEAD", 4), HL_METHOD_HEAD);
    ck_assert_int_eq(hl_method_from_string("POST", 4), HL_METHOD_POST);
    ck_assert_int_eq(hl_method_from_string("PUT", 3), HL_METHOD_PUT);
    ck_assert_int_eq(hl_method_from_string("PATCH", 5), HL_METHOD_PATCH);
    ck_assert_int_eq(hl_method_from_string("DELETE", 6), HL_METHOD_DELETE);
    ck_assert_int_eq(hl_method_from_string("OPTIONS", 7), HL_METHOD_OPTIONS);
    ck_assert_int_eq(hl_method_from_string("get", 3), 0); /* methods are case-sensitive */
    ck_assert_int_eq(hl_method_from_string("GETX", 4), 0);
    ck_assert_int_eq(hl_method_from_string("GETX", 3), HL_METHOD_GET);
    ck_assert_int_eq(hl_method_from_string("TRACE", 5), 0);
    ck_assert_int_eq(hl_method_from_string("", 0), 0);

    char buf[128];
    unsigned all =
        HL_METHOD_GET | HL_METHOD_HEAD | HL_METHOD_POST | HL_METHOD_PUT | HL_METHOD_PATCH | HL_METHOD_DELETE | HL_METHOD_OPTIONS;
    ck_assert_str_eq(hl_router_allow_header(all, buf, sizeof(buf)), "HEAD, GET, POST, PUT, PATCH, DELETE, OPTIONS");
    ck_assert_str_eq(hl_router_allow_header(0, buf, sizeof(buf)), "");
    ck_assert_str_eq(hl_router_allow_header(HL_METHOD_PUT | HL_METHOD_POST, buf, sizeof(buf)), "POST, PUT");
}
END_TEST

/* regression (latent: dispatch.c uses a 96-byte buffer): hl_router_allow_header (src/http/router.c) leaves the partial
 * text of the name that did not fit in a short buffer, e.g. "HEAD, GET, " with 12 bytes and "HEAD, GET, PO" with 14,
 * which is not a valid Allow value; it should stop after the last whole name. */
START_TEST(allow_header_short_buffer)
{
    unsigned all =
        HL_METHOD_GET | HL_METHOD_HEAD | HL_METHOD_POST | HL_METHOD_PUT | HL_METHOD_PATCH | HL_METHOD_DELETE | HL_METHOD_OPTIONS;
    char small[14];
    ck_assert_str_eq(hl_router_allow_header(all, small, 12), "HEAD, GET");
    ck_assert_str_eq(hl_router_allow_header(all, small, 14), "HEAD, GET");
    ck_assert_str_eq(hl_router_allow_header(all, small, 3), "");
}
END_TEST

static void collect(const hl_route_t *route, void *data)
{
    const hl_route_t **seen = data;
    for (size_t i = 0; i < 8; ++i) {
        if (seen[i] == NULL) {
            seen[i] = route;
            return;
        }
    }
    ck_abort_msg("more routes than registered");
}

/* the API reference walks the table: every registered route exactly once, literal segments before parameters */
START_TEST(foreach_visits_every_route)
{
    hl_router_t *r = make();
    const hl_route_t *seen[8] = {NULL};
    hl_router_foreach(r, collect, seen);
    ck_assert_ptr_eq(seen[0], &R_LIST);
    ck_assert_ptr_eq(seen[1], &R_SEARCH);
    ck_assert_ptr_eq(seen[2], &R_DEL_ID);
    ck_assert_ptr_eq(seen[3], &R_GET_ID);
    ck_assert_ptr_null(seen[4]);
    hl_router_free(r);
    r = hl_router_new();
    const hl_route_t *none[8] = {NULL};
    hl_router_foreach(r, collect, none);
    ck_assert_ptr_null(none[0]);
    hl_router_free(r);
}
END_TEST

Suite *suite_router(void)
{
    Suite *s = suite_create("router");
    TCase *tc = tcase_create("match");
    tcase_add_test(tc, literal_before_param);
    tcase_add_test(tc, params_are_decoded);
    tcase_add_test(tc, method_not_allowed_lists_methods);
    tcase_add_test(tc, duplicates_and_bad_patterns_rejected);
    tcase_add_test(tc, root_path);
    tcase_add_test(tc, max_params);
    tcase_add_test(tc, bad_patterns);
    tcase_add_test(tc, percent_decoding_edges);
    tcase_add_test(tc, options_and_head);
    tcase_add_test(tc, backtracking_deeper);
    tcase_add_test(tc, methods_and_allow_header);
    tcase_add_test(tc, allow_header_short_buffer);
    tcase_add_test(tc, foreach_visits_every_route);
    suite_add_tcase(s, tc);
    return s;
}
