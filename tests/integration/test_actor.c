/*
 * Worker → store actor → worker round trips (DESIGN.md §1) and the actor's in-flight bound (503 server_busy past it),
 * through the test-mode routes /__test/actor-echo and /__test/actor-limit.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define DEFAULT_MAX_INFLIGHT 4096

static const hlt_proto_t PROTOS[] = {HLT_H1, HLT_H2C};
#define NUM_PROTOS ((int)(sizeof(PROTOS) / sizeof(PROTOS[0])))

static hlt_daemon_t daemon_;

static void setup(void)
{
    hlt_daemon_start(&daemon_, NULL);
}

static void teardown(void)
{
    hlt_daemon_teardown_shared(&daemon_, "actor daemon");
}

static void assert_echo(const hlt_response_t *res, long delay)
{
    ck_assert_msg(res->status == 200, "echo: status %ld: %s", res->status, res->body);
    hlt_assert_json(res);
    hlt_assert_cors(res);
    ck_assert(json_is_true(json_object_get(res->json, "ok")));
    const char *created = json_string_value(json_object_get(res->json, "db_created_at"));
    ck_assert_msg(created != NULL && strlen(created) >= 20, "db_created_at: %s", res->body);
    ck_assert_int_eq(json_integer_value(json_object_get(res->json, "delay_ms")), delay);
}

START_TEST(test_echo)
{
    hlt_response_t res;
    hlt_get(&daemon_, PROTOS[_i], "/__test/actor-echo", &res);
    assert_echo(&res, 0);
    hlt_response_free(&res);
    hlt_get(&daemon_, PROTOS[_i], "/__test/actor-echo?delay_ms=30", &res);
    assert_echo(&res, 30);
    hlt_response_free(&res);

    static const char *const bad[] = {
        "/__test/actor-echo?delay_ms=5001", "/__test/actor-echo?delay_ms=-1",  "/__test/actor-echo?delay_ms=abc",
        "/__test/actor-echo?delay_ms=",     "/__test/actor-echo?delay_ms=1e3", NULL};
    for (size_t i = 0; bad[i] != NULL; ++i) {
        hlt_get(&daemon_, PROTOS[_i], bad[i], &res);
        hlt_assert_error(&daemon_, &res, 400, "invalid_delay");
        hlt_response_free(&res);
    }
}
END_TEST

/* Many round trips at once: over one multiplexed h2c connection, and over parallel HTTP/1.1 connections. */
START_TEST(test_echo_concurrent)
{
    enum { N = 40 };
    static const hlt_proto_t protos[] = {HLT_H1, HLT_H2C_UPGRADE};
    hlt_proto_t proto = protos[_i];
    CURLM *multi = hlt_multi_new();
    static hlt_response_t res[N];
    hlt_request_t req = {.path = "/__test/actor-echo?delay_ms=5", .timeout_ms = 20000};
    for (int i = 0; i < N; ++i) {
        CURL *c = hlt_easy_new(&daemon_, proto, &req, &res[i]);
        curl_easy_setopt(c, CURLOPT_PIPEWAIT, 1L);
        curl_multi_add_handle(multi, c);
    }
    ck_assert_int_eq(hlt_multi_drive(multi, 20000), 0);
    long connects = 0;
    for (int i = 0; i < N; ++i) {
        ck_assert_msg(res[i].rc == CURLE_OK, "request %d over %s: %s", i, hlt_proto_name(proto), curl_easy_strerror(res[i].rc));
        ck_assert_int_eq(res[i].http_version, hlt_proto_version(proto));
        assert_echo(&res[i], 5);
        connects += res[i].num_connects;
        hlt_response_free(&res[i]);
    }
    if (proto != HLT_H1)
        ck_assert_msg(connects == 1, "%ld connections for %d multiplexed requests", connects, N);
    curl_multi_cleanup(multi);
}
END_TEST

static void set_limit(long max)
{
    char body[64];
    snprintf(body, sizeof(body), "{\"max\":%ld}", max);
    hlt_request_t req = {.method = "POST", .path = "/__test/actor-limit", .body = body, .body_len = strlen(body)};
    hlt_response_t res;
    hlt_fetch(&daemon_, HLT_H1, &req, &res);
    ck_assert_msg(res.status == 200, "actor-limit %ld: %ld %s", max, res.status, res.body);
    ck_assert_int_eq(json_integer_value(json_object_get(res.json, "max")), max);
    hlt_response_free(&res);
}

typedef struct st_held_t {
    hlt_proto_t proto;
    hlt_response_t res;
} held_t;

static void *hold_request(void *arg)
{
    held_t *h = arg;
    hlt_request_t req = {.path = "/__test/actor-echo?hold=1", .timeout_ms = 40000};
    hlt_request(&daemon_, h->proto, &req, &h->res); /* no assertions off the test's thread */
    return NULL;
}

/* Turns the store's test hold on or off (POST /__test/search-hold, answered without the store actor): how many jobs
 * wait in it now. */
static json_int_t test_hold(int on)
{
    hlt_request_t req = {.method = "POST", .path = "/__test/search-hold", .body = on ? "{\"hold\":true}" : "{\"hold\":false}"};
    req.body_len = strlen(req.body);
    hlt_response_t res;
    hlt_fetch(&daemon_, HLT_H1, &req, &res);
    ck_assert_msg(res.status == 200, "search-hold: %ld %s", res.status, res.body);
    json_int_t waiting = json_integer_value(json_object_get(res.json, "waiting"));
    hlt_response_free(&res);
    return waiting;
}

START_TEST(test_inflight_bound)
{
    set_limit(1);
    /* the held round trip occupies the only slot until the test lets go: no race with the machine's load */
    test_hold(1);
    held_t held = {.proto = HLT_H1};
    pthread_t th;
    ck_assert(pthread_create(&th, NULL, hold_request, &held) == 0);
    long deadline = hlt_now_ms() + 20000;
    while (test_hold(1) == 0) {
        ck_assert_msg(hlt_now_ms() < deadline, "the held round trip never reached the store");
        hlt_sleep_ms(10);
    }

    hlt_response_t res;
    for (int p = 0; p < NUM_PROTOS; ++p) {
        hlt_get(&daemon_, PROTOS[p], "/__test/actor-echo?delay_ms=0", &res);
        hlt_assert_error(&daemon_, &res, 503, "server_busy");
        hlt_response_free(&res);
    }
    /* routes that need no actor are not held up by a busy one: answered while the store's writer is still held */
    hlt_request_t version = {.path = "/api/v1/system/version", .timeout_ms = 15000};
    hlt_request(&daemon_, HLT_H2C, &version, &res);
    ck_assert_msg(res.rc == CURLE_OK && res.status == 200, "system/version while the actor is busy: %s %ld",
                  curl_easy_strerror(res.rc), res.status);
    hlt_response_free(&res);
    ck_assert_int_eq(test_hold(1), 1); /* still held: the answers above came while the slot was taken */

    test_hold(0);
    pthread_join(th, NULL);
    ck_assert_msg(held.res.rc == CURLE_OK, "held request: %s", curl_easy_strerror(held.res.rc));
    assert_echo(&held.res, -1);
    hlt_response_free(&held.res);

    set_limit(DEFAULT_MAX_INFLIGHT);
    hlt_get(&daemon_, HLT_H1, "/__test/actor-echo", &res);
    assert_echo(&res, 0);
    hlt_response_free(&res);
}
END_TEST

Suite *suite_actor(void)
{
    Suite *s = suite_create("actor");
    TCase *tc = tcase_create("actor");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_echo, 0, NUM_PROTOS);
    tcase_add_loop_test(tc, test_echo_concurrent, 0, NUM_PROTOS);
    tcase_add_test(tc, test_inflight_bound); /* last: it changes the bound (and restores it) */
    suite_add_tcase(s, tc);
    return s;
}
