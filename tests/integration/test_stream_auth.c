/*
 * Event streams bound to their device's credentials (issue 9, finding 1): an open stream ends within a few seconds when
 * the access token it was opened with stops being valid — the device revoked (DELETE /api/v1/devices/:id, or for the
 * reuse of a refresh token after its grace), logged out, or the token expired — with a comment telling the client to reconnect with
 * a valid token and Last-Event-ID; another device's stream goes on. Over HTTP/1.1 and HTTP/2 (TLS).
 */
#include <string.h>

#include "hl/common.h"

#include "harness_conv.h"

#define ENDED_COMMENT "credentials ended, reconnect with a valid token and Last-Event-ID"
/* The daemon checks its streams' tokens every second; the bound leaves room for a loaded machine (no timing is
 * asserted: a stream that is never ended fails, one ended late does not) */
#define ENDED_WITHIN_MS 20000

/* Pumps the streams until every one in `ending` is done (or timeout); asserts they ended with the comment, in time. */
static void expect_ended(hltc_sse_t **ending, size_t n, long timeout_ms)
{
    long deadline = hlt_now_ms() + timeout_ms;
    for (;;) {
        size_t done = 0;
        for (size_t i = 0; i < n; ++i) {
            if (!ending[i]->done)
                hltc_sse_pump(ending[i], 20);
            done += ending[i]->done != 0;
        }
        if (done == n)
            break;
        ck_assert_msg(hlt_now_ms() < deadline, "%zu of %zu streams still open after %ld ms", n - done, n, timeout_ms);
    }
    for (size_t i = 0; i < n; ++i) {
        hltc_sse_update(ending[i]);
        size_t len = ending[i]->res.body_len;
        ck_assert_msg(ending[i]->ev.last_comment != NULL && strstr(ending[i]->ev.last_comment, ENDED_COMMENT) != NULL,
                      "stream %zu ended with comment %s (curl: %s, status %ld, %zu bytes, ending %.300s)", i,
                      ending[i]->ev.last_comment, curl_easy_strerror(ending[i]->res.rc), ending[i]->res.status, len,
                      len > 300 ? ending[i]->res.body + len - 300 : ending[i]->res.body);
    }
}

START_TEST(revoked_device_loses_its_streams)
{
    hltc_ctx_t c;
    hltc_start(&c, 1, NULL);
    hlt_device_t other;
    hlt_enroll(&c.d, HLT_H1, NULL, &other);
    char *conv = hltc_create(&c.d, HLT_H1, c.dev.access, "bound");
    char *path = hl_asprintf("/api/v1/conversations/%s/events", conv);
    hltc_sse_t a1, a2, b;
    hltc_sse_open(&a1, &c.d, HLT_H1, c.dev.access, "/api/v1/conversations/events", NULL, NULL);
    hltc_sse_open(&a2, &c.d, HLT_H2_TLS, c.dev.access, path, NULL, NULL);
    hltc_sse_open(&b, &c.d, HLT_H1, other.access, "/api/v1/conversations/events", NULL, NULL);
    hltc_sse_pump(&a1, 200);
    hltc_sse_pump(&a2, 200);
    hltc_sse_pump(&b, 200);
    ck_assert(!a1.done && !a2.done && !b.done);
    /* the other device revokes the first one */
    json_t *r = hltc_call(&c.d, HLT_H1, other.access, "DELETE", hltc_fmt("/api/v1/devices/%s", c.dev.id), NULL, 200);
    json_decref(r);
    hltc_sse_t *ending[] = {&a1, &a2};
    expect_ended(ending, 2, ENDED_WITHIN_MS);
    /* the other device's stream goes on: it still gets new events */
    json_decref(hltc_call(&c.d, HLT_H1, other.access, "PATCH", hltc_fmt("/api/v1/conversations/%s/title", conv),
                          "{\"title\":\"still here\"}", 200));
    long deadline = hlt_now_ms() + 5000;
    while (hltc_find(&b.ev, "conversation.updated", NULL, NULL) < 0 && hlt_now_ms() < deadline)
        hltc_sse_pump(&b, 50);
    ck_assert_msg(!b.done && hltc_find(&b.ev, "conversation.updated", NULL, NULL) >= 0, "the other device's stream stopped");
    hltc_sse_close(&a1);
    hltc_sse_close(&a2);
    hltc_sse_close(&b);
    free(path);
    free(conv);
    hlt_device_free(&other);
    hlt_device_free(&c.dev);
    hlt_daemon_stop_clean(&c.d);
}
END_TEST

START_TEST(logout_and_expiry_end_streams)
{
    hltc_ctx_t c;
    hltc_start(&c, 0, NULL);
    hlt_device_t second;
    hlt_enroll(&c.d, HLT_H1, NULL, &second);
    /* logout of the first device */
    hltc_sse_t a;
    hltc_sse_open(&a, &c.d, HLT_H1, c.dev.access, "/api/v1/conversations/events", NULL, NULL);
    hltc_sse_pump(&a, 200);
    ck_assert(!a.done);
    char *body = hl_asprintf("{\"refresh_token\":\"%s\"}", c.dev.refresh);
    hlt_response_t res;
    hlt_api(&c.d, HLT_H1, "POST", "/api/v1/auth/logout", NULL, body, &res);
    ck_assert_int_eq(res.status, 200);
    hlt_response_free(&res);
    hltc_sse_t *ending[] = {&a};
    expect_ended(ending, 1, ENDED_WITHIN_MS);
    hltc_sse_close(&a);
    free(body);
    /* the second device's access token expires (2 h on the daemon's test clock): its stream ends too */
    hltc_sse_t b;
    hltc_sse_open(&b, &c.d, HLT_H1, second.access, "/api/v1/conversations/events", NULL, NULL);
    hltc_sse_pump(&b, 200);
    ck_assert(!b.done);
    hlt_clock_advance(&c.d, 2 * 3600 * 1000 + 60 * 1000);
    hltc_sse_t *ending2[] = {&b};
    expect_ended(ending2, 1, ENDED_WITHIN_MS);
    hltc_sse_close(&b);
    hlt_device_free(&second);
    hlt_device_free(&c.dev);
    hlt_daemon_stop_clean(&c.d);
}
END_TEST

/* A refresh token used again after its 30 s grace (on the daemon's test clock) is a stolen copy: the device is revoked
 * (auth.c, revoke_for_reuse) and the streams opened with its current access token end within about two seconds. */
START_TEST(refresh_reuse_ends_streams)
{
    hltc_ctx_t c;
    hltc_start(&c, 1, NULL);
    hlt_response_t res;
    hlt_refresh(&c.d, HLT_H1, c.dev.refresh, &res);
    ck_assert_msg(res.status == 200, "refresh: %ld %s", res.status, res.body);
    hlt_device_t rotated;
    hlt_assert_session(&res, 0, NULL, -1, &rotated);
    hlt_response_free(&res);
    char *conv = hltc_create(&c.d, HLT_H1, rotated.access, "reuse");
    hltc_sse_t a, b;
    hltc_sse_open(&a, &c.d, HLT_H1, rotated.access, "/api/v1/conversations/events", NULL, NULL);
    hltc_sse_open(&b, &c.d, HLT_H2_TLS, rotated.access, hltc_fmt("/api/v1/conversations/%s/events", conv), NULL, NULL);
    hltc_sse_pump(&a, 200);
    hltc_sse_pump(&b, 200);
    ck_assert(!a.done && !b.done);
    /* past the grace, the old refresh token comes back */
    hlt_clock_advance(&c.d, 31 * 1000);
    hlt_refresh(&c.d, HLT_H1, c.dev.refresh, &res);
    hlt_assert_error(&c.d, &res, 401, "refresh_token_invalid");
    hlt_response_free(&res);
    hltc_sse_t *ending[] = {&a, &b};
    expect_ended(ending, 2, ENDED_WITHIN_MS);
    /* the device is revoked: its current refresh token is refused too */
    hlt_refresh(&c.d, HLT_H1, rotated.refresh, &res);
    hlt_assert_error(&c.d, &res, 401, "refresh_token_invalid");
    hlt_response_free(&res);
    hltc_sse_close(&a);
    hltc_sse_close(&b);
    free(conv);
    hlt_device_free(&rotated);
    hlt_device_free(&c.dev);
    hlt_daemon_stop_clean(&c.d);
}
END_TEST

Suite *suite_stream_auth(void)
{
    Suite *s = suite_create("stream_auth");
    TCase *tc = tcase_create("bound");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, revoked_device_loses_its_streams);
    tcase_add_test(tc, logout_and_expiry_end_streams);
    tcase_add_test(tc, refresh_reuse_ends_streams);
    suite_add_tcase(s, tc);
    return s;
}
