/*
 * Query parameters of a request (hl_request_query, src/http/dispatch.c) on an in-process request: regressions found by
 * fuzz/fuzz_routes (inputs kept in fuzz/corpus/routes/).
 */
#include <check.h>
#include <string.h>

#include "hl/http.h"

/* A request without a query string ('?' absent: the dispatcher leaves the query NULL, length 0) has no parameter; UBSan
 * reported the offset computed from the null pointer (fuzz_routes, regress-get-without-query). */
START_TEST(no_query_string)
{
    h2o_req_t req;
    memset(&req, 0, sizeof(req));
    h2o_mem_init_pool(&req.pool);
    hl_request_t r;
    memset(&r, 0, sizeof(r));
    r.req = &req;
    size_t len = 7;
    ck_assert_ptr_null(hl_request_query(&r, "after", &len));
    ck_assert_uint_eq(len, 7);
    r.query = h2o_iovec_init("a=1&after=%41+b", 15);
    ck_assert_str_eq(hl_request_query(&r, "after", &len), "A b");
    ck_assert_uint_eq(len, 3);
    r.query = h2o_iovec_init("", 0);
    ck_assert_ptr_null(hl_request_query(&r, "after", NULL));
    h2o_mem_clear_pool(&req.pool);
}
END_TEST

/** The suite. */
Suite *suite_request_query(void)
{
    Suite *s = suite_create("request_query");
    TCase *tc = tcase_create("query");
    tcase_add_test(tc, no_query_string);
    suite_add_tcase(s, tc);
    return s;
}
