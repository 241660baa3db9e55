/*
 * Reset safety (DESIGN.md §1 "replies to a request that has gone away"): clients that vanish or reset their streams
 * while the store actor still works on their requests. h2load is SIGKILLed in the middle of a run, and a libcurl client
 * resets 50 multiplexed streams whose replies are still pending. Afterwards the daemon must still answer, and exit 0
 * under ASan/LSan at SIGTERM without a report.
 */
#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include "harness.h"

static void assert_answers(hlt_daemon_t *d, long echo_timeout_ms)
{
    hlt_response_t res;
    long t0 = hlt_now_ms();
    hlt_get(d, HLT_H1, "/api/v1/system/version", &res);
    ck_assert_int_eq(res.status, 200);
    /* answered, not stuck behind the reset streams' work (a generous bound: no speed check) */
    ck_assert_msg(hlt_now_ms() - t0 < 15000, "system/version took %ld ms after the resets", hlt_now_ms() - t0);
    hlt_response_free(&res);
    hlt_get(d, HLT_H2C, "/api/v1/bootstrap", &res);
    ck_assert_int_eq(res.status, 200);
    hlt_response_free(&res);
    /* the actor still answers once it has worked through the requests of the clients that left */
    hlt_request_t req = {.path = "/__test/actor-echo?delay_ms=0", .timeout_ms = echo_timeout_ms};
    hlt_fetch(d, HLT_H1, &req, &res);
    ck_assert_msg(res.status == 200, "actor echo after the resets: %ld %s", res.status, res.body);
    hlt_response_free(&res);
}

START_TEST(test_h2load_killed)
{
    char *h2load = hlt_which("h2load");
    ck_assert_msg(h2load != NULL, "h2load not found on PATH (Debian package nghttp2-client)");
    hlt_daemon_t d;
    hlt_daemon_start(&d, NULL);
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/__test/actor-echo?delay_ms=0", d.port);
    int killed = 0;
    for (int round = 0; round < 3; ++round) {
        char *out = hlt_env_path(d.env, 0, "h2load.out"), *err = hlt_env_path(d.env, 0, "h2load.err");
        char *argv[] = {h2load, "-n", "20000", "-c", "4", "-m", "50", url, NULL};
        pid_t pid = hlt_spawn(argv, out, err);
        hlt_sleep_ms(500);
        kill(pid, SIGKILL);
        int status;
        ck_assert(hlt_wait_exit(pid, &status, 5000));
        killed += WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
        free(out);
        free(err);
        ck_assert_msg(hlt_daemon_alive(&d), "the daemon died during round %d", round);
    }
    free(h2load);
    /* under ASan a run takes seconds; a much faster build could finish before the kill, which would test nothing */
    ck_assert_msg(killed > 0, "h2load finished every run before it was killed: raise -n");
    assert_answers(&d, 30000);
    hlt_daemon_stop_clean(&d);
}
END_TEST

static void fetch_on(CURLM *multi, hlt_daemon_t *d, hlt_proto_t proto, const char *path, hlt_response_t *res)
{
    hlt_request_t req = {.path = path};
    CURL *c = hlt_easy_new(d, proto, &req, res);
    curl_easy_setopt(c, CURLOPT_PIPEWAIT, 1L);
    curl_multi_add_handle(multi, c);
    ck_assert_int_eq(hlt_multi_drive(multi, 10000), 0);
    ck_assert_msg(res->rc == CURLE_OK && res->status == 200, "%s over %s: %s %ld", path, hlt_proto_name(proto),
                  curl_easy_strerror(res->rc), res->status);
}

/*
 * Opens n streams of /__test/actor-echo?delay_ms=delay on one multiplexed connection, waits until every request has been
 * sent, lets reset_after_ms pass and removes the easy handles: libcurl resets the streams still open (RST_STREAM) and
 * keeps the connection. Replies for the reset streams then reach the worker while that connection still serves other
 * requests. Returns how many streams had completed before the reset.
 */
static int reset_streams(hlt_daemon_t *d, hlt_proto_t proto, int n, long delay, long reset_after_ms)
{
    CURLM *multi = hlt_multi_new();
    hlt_response_t *res = calloc((size_t)n, sizeof(*res)), probe;
    CURL **easy = calloc((size_t)n, sizeof(*easy));
    int *done = calloc((size_t)n, sizeof(*done));
    char path[64];
    snprintf(path, sizeof(path), "/__test/actor-echo?delay_ms=%ld", delay);

    /* a first request settles the connection as HTTP/2, so that the n streams share it */
    fetch_on(multi, d, proto, "/api/v1/system/version", &probe);
    ck_assert_int_eq(probe.num_connects, 1);
    hlt_response_free(&probe);

    hlt_request_t req = {.path = path, .timeout_ms = 30000};
    for (int i = 0; i < n; ++i) {
        easy[i] = hlt_easy_new(d, proto, &req, &res[i]);
        curl_easy_setopt(easy[i], CURLOPT_PIPEWAIT, 1L);
        curl_multi_add_handle(multi, easy[i]);
    }
    long deadline = hlt_now_ms() + 5000, reset_at = 0;
    int completed = 0;
    for (;;) {
        int running;
        curl_multi_perform(multi, &running);
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(multi, &left)) != NULL)
            for (int i = 0; i < n; ++i)
                if (m->msg == CURLMSG_DONE && m->easy_handle == easy[i] && !done[i]) {
                    done[i] = 1;
                    ++completed;
                }
        long now = hlt_now_ms();
        if (reset_at == 0) {
            int sent = 0;
            for (int i = 0; i < n; ++i) {
                curl_off_t pre = 0;
                curl_easy_getinfo(easy[i], CURLINFO_PRETRANSFER_TIME_T, &pre);
                sent += pre > 0 || done[i];
            }
            if (sent == n)
                reset_at = now + reset_after_ms;
            ck_assert_msg(now < deadline, "only %d of %d requests were sent within 5 s", sent, n);
        } else if (now >= reset_at) {
            break;
        }
        if (running == 0)
            break;
        curl_multi_poll(multi, NULL, 0, 5, NULL);
    }
    long connects = 0;
    for (int i = 0; i < n; ++i) {
        curl_multi_remove_handle(multi, easy[i]); /* RST_STREAM if the stream is still open */
        hlt_easy_finish(easy[i], CURLE_OK, &res[i]);
        connects += res[i].num_connects;
        hlt_response_free(&res[i]);
    }
    ck_assert_msg(connects == 0, "the %d streams over %s opened %ld connections of their own", n, hlt_proto_name(proto), connects);

    /* the connection outlives the resets: now, and after the worker got replies for some of the reset streams */
    fetch_on(multi, d, proto, "/api/v1/system/version", &probe);
    ck_assert_msg(probe.num_connects == 0, "the connection did not survive the stream resets");
    hlt_response_free(&probe);
    hlt_sleep_ms(delay * 2 + 100);
    fetch_on(multi, d, proto, "/api/v1/system/status", &probe);
    ck_assert_msg(probe.num_connects == 0, "the connection was closed once replies for reset streams came back");
    hlt_response_free(&probe);

    curl_multi_cleanup(multi);
    free(res);
    free(easy);
    free(done);
    return completed;
}

START_TEST(test_curl_resets)
{
    hlt_daemon_opts_t o = {.tls = 1};
    hlt_daemon_t d;
    hlt_daemon_start(&d, &o);
    /* the store actor answers one echo at a time, so with these delays (almost) every reset hits a pending reply */
    int completed = reset_streams(&d, HLT_H2C_UPGRADE, 50, 300, 50);
    ck_assert_msg(completed < 5, "%d h2c streams completed before the reset", completed);
    ck_assert(hlt_daemon_alive(&d));
    completed = reset_streams(&d, HLT_H2_TLS, 50, 100, 50);
    ck_assert_msg(completed < 5, "%d TLS streams completed before the reset", completed);
    ck_assert(hlt_daemon_alive(&d));
    assert_answers(&d, 60000);
    hlt_daemon_stop_clean(&d);
}
END_TEST

/*
 * SIGTERM while the actor still owes replies to streams that were reset: the worker waits for them and the daemon exits
 * clean. The backlog (20 x 300 ms) stays under the worker's 10 s shutdown deadline.
 */
START_TEST(test_sigterm_with_pending_resets)
{
    hlt_daemon_t d;
    hlt_daemon_start(&d, NULL);
    int completed = reset_streams(&d, HLT_H2C_UPGRADE, 20, 300, 50);
    ck_assert_msg(completed < 2, "%d streams completed before the reset", completed);
    const char *msg = hlt_daemon_stop(&d);
    ck_assert_msg(msg == NULL, "%s", msg);
    char *log = hlt_env_path(d.env, 1, "logs/link.log");
    char *text = hlt_read_file(log, NULL);
    ck_assert_msg(text == NULL || strstr(text, "shutdown deadline") == NULL, "a worker hit its shutdown deadline:\n%s", text);
    free(text);
    free(log);
    hlt_daemon_dispose(&d);
}
END_TEST

Suite *suite_reset(void)
{
    Suite *s = suite_create("reset");
    TCase *tc = tcase_create("reset");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_h2load_killed);
    tcase_add_test(tc, test_curl_resets);
    tcase_add_test(tc, test_sigterm_with_pending_resets);
    suite_add_tcase(s, tc);
    return s;
}
