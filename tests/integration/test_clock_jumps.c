/*
 * The wall clock jumping back and forward (issue 14: NTP corrections, a laptop's clock fixed by hand, a VM restored):
 * token expiry and plan expiry follow the clock without breaking. Back: nothing expires, nothing is revoked, a refresh
 * works and its new expiries count from the (earlier) now. Forward past the access token's 2 h: it is refused, its event
 * stream ends with the credentials comment, a refresh gives a working pair; past the refresh token's 90 days: refused.
 * A clear plan outlives a jump back and is gone (plan_not_found) after a jump past its hour. On the daemon's test clock
 * (POST /__test/clock), which every expiry reads.
 */
#include <string.h>

#include "auth_util.h"
#include "harness_conv.h"
#include "hl/common.h"

#define HOUR_MS (3600LL * 1000)
#define DAY_MS (24 * HOUR_MS)

static void assert_me(const hlt_daemon_t *d, const char *access, long status)
{
    hlt_response_t res;
    hlt_api(d, HLT_H1, "GET", "/api/v1/auth/me", access, NULL, &res);
    ck_assert_msg(res.status == status, "auth/me: %ld (expected %ld) %s", res.status, status, res.body);
    hlt_response_free(&res);
}

START_TEST(tokens_across_jumps)
{
    hltc_ctx_t c;
    hltc_start(&c, 0, NULL);
    hlt_device_t *dev = &c.dev;
    /* back a day: the pair keeps working (an expiry "far" in the future is still a valid one) */
    hlt_clock_advance(&c.d, -DAY_MS);
    assert_me(&c.d, dev->access, 200);
    hlt_response_t res;
    hlt_refresh(&c.d, HLT_H1, dev->refresh, &res);
    ck_assert_msg(res.status == 200, "refresh after a jump back: %ld %s", res.status, res.body);
    hlt_device_t r1;
    int64_t now = hlt_daemon_now(&c.d);
    hlt_assert_session(&res, 0, NULL, now, &r1); /* expiries 2 h / 90 d after the earlier now */
    hlt_response_free(&res);
    assert_me(&c.d, r1.access, 200);
    assert_me(&c.d, dev->access, 401); /* rotated away, as without a jump */

    /* a stream of the new pair lives through the jump forward until its access token expires, then ends */
    hltc_sse_t s;
    hltc_sse_open(&s, &c.d, HLT_H1, r1.access, "/api/v1/conversations/events", NULL, NULL);
    hltc_sse_pump(&s, 300);
    ck_assert(!s.done);
    hlt_clock_advance(&c.d, HOUR_MS); /* forward, still inside the 2 h */
    hltc_sse_pump(&s, 1500);
    ck_assert_msg(!s.done, "the stream ended before its token expired");
    assert_me(&c.d, r1.access, 200);
    hlt_clock_advance(&c.d, HOUR_MS + 60 * 1000); /* past the access token's 2 h */
    assert_me(&c.d, r1.access, 401);
    long deadline = hlt_now_ms() + 20000;
    while (!s.done && hlt_now_ms() < deadline)
        hltc_sse_pump(&s, 50);
    hltc_sse_update(&s);
    ck_assert_msg(s.done && s.ev.last_comment != NULL && strstr(s.ev.last_comment, "credentials ended") != NULL,
                  "the stream of an expired token: done %d, last comment %s", s.done, s.ev.last_comment);
    hltc_sse_close(&s);

    /* the refresh token (90 days) still works after the access token expired; then a jump past it */
    hlt_refresh(&c.d, HLT_H1, r1.refresh, &res);
    ck_assert_msg(res.status == 200, "refresh after the access token expired: %ld %s", res.status, res.body);
    hlt_device_t r2;
    hlt_assert_session(&res, 0, NULL, hlt_daemon_now(&c.d), &r2);
    hlt_response_free(&res);
    assert_me(&c.d, r2.access, 200);
    hlt_clock_advance(&c.d, 91 * DAY_MS);
    assert_me(&c.d, r2.access, 401);
    hlt_refresh(&c.d, HLT_H1, r2.refresh, &res);
    hlt_assert_error(&c.d, &res, 401, "refresh_token_invalid");
    hlt_response_free(&res);
    /* and back again: what expired while the clock was ahead is valid again by its stored expiry — the daemon keeps no
     * memory of having seen a later time, so it answers as the clock now says */
    hlt_clock_advance(&c.d, -91 * DAY_MS);
    hlt_refresh(&c.d, HLT_H1, r2.refresh, &res);
    ck_assert_msg(res.status == 200, "refresh once the clock is back: %ld %s", res.status, res.body);
    hlt_response_free(&res);
    hlt_device_free(&r1);
    hlt_device_free(&r2);
    hlt_device_free(&c.dev);
    hlt_daemon_stop_clean(&c.d);
}
END_TEST

START_TEST(plans_across_jumps)
{
    hltc_ctx_t c;
    hltc_start(&c, 0, NULL);
    const char *tok = c.dev.access;
    char *conv = hltc_create(&c.d, HLT_H1, tok, "to clear");
    json_t *j = hltc_call(&c.d, HLT_H1, tok, "POST", "/api/v1/conversations/clear-plans", NULL, 201);
    char *plan = hl_strdup(hlt_str(json_object_get(j, "plan"), "id"));
    json_decref(j);
    /* back two hours: the plan (made "later") is still there */
    hlt_clock_advance(&c.d, -2 * HOUR_MS);
    json_decref(hltc_call(&c.d, HLT_H1, tok, "GET", hltc_fmt("/api/v1/conversations/clear-plans/%s", plan), NULL, 200));
    /* forward to 50 minutes after it was made: still there; to 61: gone, and it can no longer run */
    hlt_clock_advance(&c.d, 2 * HOUR_MS + 50 * 60 * 1000);
    json_decref(hltc_call(&c.d, HLT_H1, tok, "GET", hltc_fmt("/api/v1/conversations/clear-plans/%s", plan), NULL, 200));
    hlt_clock_advance(&c.d, 11 * 60 * 1000);
    hltc_call_error(&c.d, HLT_H1, tok, "GET", hltc_fmt("/api/v1/conversations/clear-plans/%s", plan), NULL, 404, "plan_not_found");
    /* (the access token expires at 2 h: a fresh pair for the rest) */
    hlt_device_t fresh;
    hlt_enroll(&c.d, HLT_H1, NULL, &fresh);
    hltc_call_error(&c.d, HLT_H1, fresh.access, "POST", hltc_fmt("/api/v1/conversations/clear-plans/%s/execute", plan), NULL, 404,
                    "plan_not_found");
    /* the conversation the expired plan named is untouched */
    json_decref(hltc_call(&c.d, HLT_H1, fresh.access, "GET", hltc_fmt("/api/v1/conversations/%s/messages", conv), NULL, 200));
    free(plan);
    free(conv);
    hlt_device_free(&fresh);
    hlt_device_free(&c.dev);
    hlt_daemon_stop_clean(&c.d);
}
END_TEST

Suite *suite_clock_jumps(void)
{
    Suite *s = suite_create("clock_jumps");
    TCase *tc = tcase_create("clock_jumps");
    tcase_set_timeout(tc, 90);
    tcase_add_test(tc, tokens_across_jumps);
    tcase_add_test(tc, plans_across_jumps);
    suite_add_tcase(s, tc);
    return s;
}
