#include <errno.h>
#include <check.h>
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

Suite *suite_router(void)
{
    Suite *s = suite_create("router");
    TCase *tc = tcase_create("match");
    tcase_add_test(tc, literal_before_param);
    tcase_add_test(tc, params_are_decoded);
    tcase_add_test(tc, method_not_allowed_lists_methods);
    tcase_add_test(tc, duplicates_and_bad_patterns_rejected);
    suite_add_tcase(s, tc);
    return s;
}
