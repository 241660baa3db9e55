/*
 * Request bodies on JSON routes (DESIGN.md §5, issue text): the per-route 1 MiB limit answered with our JSON 413 (CORS
 * included), malformed JSON as 400 invalid_json, an empty body as {}. Driven through the test-mode clock route.
 */
#include <string.h>

#include "harness.h"

#define MIB (1024 * 1024)

static const hlt_proto_t PROTOS[] = {HLT_H1, HLT_H2C};
#define NUM_PROTOS ((int)(sizeof(PROTOS) / sizeof(PROTOS[0])))

static hlt_daemon_t daemon_;

static void setup(void)
{
    hlt_daemon_start(&daemon_, NULL);
}

static void teardown(void)
{
    hlt_daemon_teardown_shared(&daemon_, "bodies daemon");
}

static void post(int i, const char *path, const char *body, size_t len, hlt_response_t *res)
{
    static const char *const headers[] = {"Content-Type: application/json", NULL};
    hlt_request_t req = {.method = "POST", .path = path, .headers = headers, .body = body, .body_len = len, .has_body = 1};
    hlt_fetch(&daemon_, PROTOS[i], &req, res);
}

/* A valid clock body padded with spaces to exactly len bytes. */
static char *padded_body(size_t len)
{
    static const char json[] = "{\"advance_ms\":0}";
    char *b = malloc(len + 1);
    ck_assert(b != NULL && len >= sizeof(json) - 1);
    memcpy(b, json, sizeof(json) - 1);
    memset(b + sizeof(json) - 1, ' ', len - (sizeof(json) - 1));
    b[len] = '\0';
    return b;
}

START_TEST(test_valid_body)
{
    hlt_response_t res;
    const char *body = "{\"advance_ms\":0}";
    post(_i, "/__test/clock", body, strlen(body), &res);
    ck_assert_msg(res.status == 200, "status %ld: %s", res.status, res.body);
    hlt_assert_json(&res);
    hlt_assert_cors(&res);
    ck_assert(json_is_true(json_object_get(res.json, "ok")));
    ck_assert(json_is_string(json_object_get(res.json, "now")));
    hlt_response_free(&res);
}
END_TEST

START_TEST(test_limit_boundary)
{
    /* exactly 1 MiB is allowed */
    char *b = padded_body(MIB);
    hlt_response_t res;
    post(_i, "/__test/clock", b, MIB, &res);
    ck_assert_msg(res.status == 200, "a body of exactly 1 MiB: status %ld: %.200s", res.status, res.body);
    hlt_response_free(&res);
    free(b);

    /* one byte more is not, whatever it holds */
    b = padded_body(MIB + 1);
    post(_i, "/__test/clock", b, MIB + 1, &res);
    hlt_assert_error(&daemon_, &res, 413, "payload_too_large");
    hlt_response_free(&res);
    memset(b, '{', MIB + 1); /* not JSON either: the size is checked first */
    post(_i, "/__test/clock", b, MIB + 1, &res);
    hlt_assert_error(&daemon_, &res, 413, "payload_too_large");
    hlt_response_free(&res);
    free(b);
}
END_TEST

START_TEST(test_large_body)
{
    size_t len = 5 * MIB;
    char *b = padded_body(len);
    hlt_response_t res;
    post(_i, "/__test/clock", b, len, &res);
    hlt_assert_error(&daemon_, &res, 413, "payload_too_large");
    hlt_response_free(&res);
    free(b);
    /* the connection-level state is fine afterwards */
    hlt_get(&daemon_, PROTOS[_i], "/api/v1/system/version", &res);
    ck_assert_int_eq(res.status, 200);
    hlt_response_free(&res);
}
END_TEST

START_TEST(test_malformed_json)
{
    static const struct {
        const char *body;
        size_t len;
    } cases[] = {{"{\"advance_ms\":", 14}, {"not json", 8},          {"{\"advance_ms\":1}}", 17}, {"{\"advance_ms\":\"\xff\"}", 19},
                 {"{\"a\":\"x\0y\"}", 11}, {"{'advance_ms':1}", 16}, {"\xef\xbb\xbf{}", 5}};
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); ++c) {
        hlt_response_t res;
        post(_i, "/__test/clock", cases[c].body, cases[c].len, &res);
        ck_assert_msg(res.status == 400, "case %zu: status %ld: %s", c, res.status, res.body);
        hlt_assert_error(&daemon_, &res, 400, "invalid_json");
        hlt_response_free(&res);
    }
}
END_TEST

START_TEST(test_empty_body_is_object)
{
    static const char *const bodies[] = {"", "   \r\n\t", NULL};
    for (size_t c = 0; bodies[c] != NULL; ++c) {
        hlt_response_t res;
        post(_i, "/__test/clock", bodies[c], strlen(bodies[c]), &res);
        hlt_assert_error(&daemon_, &res, 400, "invalid_advance"); /* the route ran with {} */
        hlt_response_free(&res);
    }
    /* no body at all */
    hlt_response_t res;
    hlt_request_t req = {.method = "POST", .path = "/__test/clock"};
    hlt_fetch(&daemon_, PROTOS[_i], &req, &res);
    hlt_assert_error(&daemon_, &res, 400, "invalid_advance");
    hlt_response_free(&res);
}
END_TEST

START_TEST(test_non_object_json)
{
    /* any JSON value parses; the route then finds no field */
    static const char *const bodies[] = {"[1,2]", "\"advance_ms\"", "42", "null", "{\"advance_ms\":\"5\"}", NULL};
    for (size_t c = 0; bodies[c] != NULL; ++c) {
        hlt_response_t res;
        post(_i, "/__test/clock", bodies[c], strlen(bodies[c]), &res);
        hlt_assert_error(&daemon_, &res, 400, "invalid_advance");
        hlt_response_free(&res);
    }
    hlt_response_t res;
    post(_i, "/__test/actor-limit", "{\"max\":0}", 9, &res);
    hlt_assert_error(&daemon_, &res, 400, "invalid_limit");
    hlt_response_free(&res);
}
END_TEST

/* HTTP/1.1 chunked bodies are measured the same way */
START_TEST(test_chunked_body)
{
    static const char *const chunked[] = {"Content-Type: application/json", "Transfer-Encoding: chunked", NULL};
    const char *small = "{\"advance_ms\":0}";
    hlt_request_t req = {.method = "POST", .path = "/__test/clock", .headers = chunked, .body = small, .body_len = strlen(small)};
    hlt_response_t res;
    hlt_fetch(&daemon_, HLT_H1, &req, &res);
    ck_assert_msg(res.status == 200, "chunked small body: %ld %s", res.status, res.body);
    hlt_response_free(&res);

    char *b = padded_body(MIB + 1);
    req.body = b;
    req.body_len = MIB + 1;
    hlt_fetch(&daemon_, HLT_H1, &req, &res);
    hlt_assert_error(&daemon_, &res, 413, "payload_too_large");
    hlt_response_free(&res);
    free(b);

    req.body = "{\"advance_ms\":";
    req.body_len = strlen(req.body);
    hlt_fetch(&daemon_, HLT_H1, &req, &res);
    hlt_assert_error(&daemon_, &res, 400, "invalid_json");
    hlt_response_free(&res);
}
END_TEST

Suite *suite_bodies(void)
{
    Suite *s = suite_create("bodies");
    TCase *tc = tcase_create("bodies");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_valid_body, 0, NUM_PROTOS);
    tcase_add_loop_test(tc, test_limit_boundary, 0, NUM_PROTOS);
    tcase_add_loop_test(tc, test_large_body, 0, NUM_PROTOS);
    tcase_add_loop_test(tc, test_malformed_json, 0, NUM_PROTOS);
    tcase_add_loop_test(tc, test_empty_body_is_object, 0, NUM_PROTOS);
    tcase_add_loop_test(tc, test_non_object_json, 0, NUM_PROTOS);
    tcase_add_test(tc, test_chunked_body);
    suite_add_tcase(s, tc);
    return s;
}
