/*
 * Graceful shutdown (DESIGN.md §2 "FINAL on every stream at shutdown", TECH-NOTES "Shutdown"): at SIGTERM every held-open
 * stream gets `event: shutdown` and ends cleanly, over HTTP/1.1, over one h2c connection (by Upgrade with libcurl, with
 * prior knowledge with nghttp) and over h2 with TLS; an idle
 * HTTP/1.1 keep-alive connection is closed by the server; the daemon exits 0 within 5 s with a clean sanitizer report.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define N_H1 5
#define N_H2C 5
#define N_TLS 3
#define N_STREAMS (N_H1 + N_H2C + N_TLS)
#define N_NGHTTP 5
#define FINAL_EVENT "event: shutdown\ndata: {}\n\n"

/* An HTTP/1.1 connection that made one request and then sits idle in keep-alive. */
static int open_idle_keepalive(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_msg(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "connect: %s", strerror(errno));
    static const char req[] = "GET /api/v1/system/version HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    ck_assert(write(fd, req, sizeof(req) - 1) == (ssize_t)(sizeof(req) - 1));
    /* read the whole response: headers, then the content-length bytes */
    char buf[4096];
    size_t got = 0;
    long deadline = hlt_now_ms() + 5000;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        ck_assert_msg(poll(&p, 1, 200) >= 0 && hlt_now_ms() < deadline, "no response on the keep-alive connection");
        if (!(p.revents & POLLIN))
            continue;
        ssize_t n = read(fd, buf + got, sizeof(buf) - 1 - got);
        ck_assert_msg(n > 0, "keep-alive connection closed before the response was read");
        got += (size_t)n;
        buf[got] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        const char *cl = strcasestr(buf, "content-length:");
        if (end != NULL && cl != NULL && got >= (size_t)(end + 4 - buf) + strtoul(cl + 15, NULL, 10))
            break;
    }
    ck_assert_msg(strncmp(buf, "HTTP/1.1 200", 12) == 0, "keep-alive request: %s", buf);
    ck_assert_msg(strcasestr(buf, "connection: close") == NULL, "the server did not keep the connection alive");
    return fd;
}

/* 1 if the server closed the connection (EOF or reset), 0 if it is still open. */
static int peer_closed(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 0) <= 0)
        return 0;
    char c;
    ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

START_TEST(test_streams_end_at_sigterm)
{
    hlt_daemon_opts_t o = {.tls = 1};
    hlt_daemon_t d;
    hlt_daemon_start(&d, &o);

    CURLM *multi = hlt_multi_new();
    static hlt_response_t res[N_STREAMS];
    static hlt_proto_t proto[N_STREAMS];
    CURL *easy[N_STREAMS];
    /* one short request per HTTP/2 flavour first: libcurl then knows the connection multiplexes, and the streams below
     * share it (while a first, never-ending response is still upgrading, curl would open a connection per stream) */
    long connects[HLT_NUM_PROTOS] = {0};
    static const hlt_proto_t warm[] = {HLT_H2C_UPGRADE, HLT_H2_TLS};
    for (size_t w = 0; w < 2; ++w) {
        hlt_response_t wr;
        hlt_request_t wreq = {.path = "/api/v1/system/version"};
        curl_multi_add_handle(multi, hlt_easy_new(&d, warm[w], &wreq, &wr));
        ck_assert_int_eq(hlt_multi_drive(multi, 10000), 0);
        ck_assert_msg(wr.rc == CURLE_OK && wr.status == 200 && wr.http_version == CURL_HTTP_VERSION_2_0, "warm-up over %s",
                      hlt_proto_name(warm[w]));
        connects[warm[w]] += wr.num_connects;
        hlt_response_free(&wr);
    }
    hlt_request_t req = {.path = "/__test/stream", .timeout_ms = 30000};
    for (int i = 0; i < N_STREAMS; ++i) {
        proto[i] = i < N_H1 ? HLT_H1 : i < N_H1 + N_H2C ? HLT_H2C_UPGRADE : HLT_H2_TLS;
        easy[i] = hlt_easy_new(&d, proto[i], &req, &res[i]);
        if (proto[i] != HLT_H1)
            curl_easy_setopt(easy[i], CURLOPT_PIPEWAIT, 1L); /* share one connection per protocol */
        curl_multi_add_handle(multi, easy[i]);
    }
    int idle = open_idle_keepalive(d.port);

    /* prior-knowledge h2c streams on one connection: nghttp (libcurl 7.88.1 cannot multiplex prior-knowledge h2c) */
    char *nghttp = hlt_which("nghttp");
    ck_assert_msg(nghttp != NULL, "nghttp not found on PATH (Debian package nghttp2-client)");
    char urls[N_NGHTTP][96];
    char *ng_argv[N_NGHTTP + 3];
    ng_argv[0] = nghttp;
    ng_argv[1] = "-v"; /* frames are printed as they come, bodies inline */
    for (int i = 0; i < N_NGHTTP; ++i) {
        snprintf(urls[i], sizeof(urls[i]), "http://127.0.0.1:%d/__test/stream?n=%d", d.port, i);
        ng_argv[i + 2] = urls[i];
    }
    ng_argv[N_NGHTTP + 2] = NULL;
    char *ng_out = hlt_env_path(d.env, 0, "nghttp.out"), *ng_err = hlt_env_path(d.env, 0, "nghttp.err");
    pid_t ng = hlt_spawn(ng_argv, ng_out, ng_err);

    /* wait until every stream is open and ticking */
    long deadline = hlt_now_ms() + 10000;
    for (;;) {
        hlt_multi_drive(multi, 50);
        int ticking = 0;
        for (int i = 0; i < N_STREAMS; ++i)
            ticking += res[i].body != NULL && strstr(res[i].body, ": tick") != NULL;
        char *text = hlt_read_file(ng_out, NULL);
        size_t ng_ticking = hlt_count(text, ": tick 1\n");
        free(text);
        if (ticking == N_STREAMS && ng_ticking == N_NGHTTP)
            break;
        ck_assert_msg(hlt_now_ms() < deadline, "only %d of %d curl streams and %zu of %d nghttp streams are ticking", ticking,
                      N_STREAMS, ng_ticking, N_NGHTTP);
    }
    ck_assert_msg(!peer_closed(idle), "the idle keep-alive connection was closed before shutdown");

    long t0 = hlt_now_ms(), idle_closed_at = -1;
    int idle_closed_while_alive = 0;
    ck_assert(kill(d.pid, SIGTERM) == 0);
    int running = N_STREAMS;
    while ((running > 0 || idle_closed_at < 0) && hlt_now_ms() - t0 < 10000) {
        running = hlt_multi_drive(multi, 20);
        if (idle_closed_at < 0 && peer_closed(idle)) {
            idle_closed_at = hlt_now_ms() - t0;
            idle_closed_while_alive = hlt_daemon_alive(&d);
        }
    }
    int status = 0;
    int exited = d.pid == 0 || hlt_wait_exit(d.pid, &status, 10000);
    long exit_ms = hlt_now_ms() - t0;
    if (d.pid != 0 && exited) {
        d.status = status;
        d.pid = 0;
    }
    ck_assert_msg(running == 0, "%d streams still open 10 s after SIGTERM", running);
    int ng_status;
    ck_assert_msg(hlt_wait_exit(ng, &ng_status, 5000), "nghttp still waits for its streams after the daemon exited");
    char *ng_text = hlt_read_file(ng_out, NULL);
    ck_assert_msg(WIFEXITED(ng_status) && WEXITSTATUS(ng_status) == 0, "nghttp ended with status 0x%x", ng_status);
    ck_assert_msg(hlt_count(ng_text, FINAL_EVENT) == N_NGHTTP, "%zu of %d prior-knowledge h2c streams got the shutdown event",
                  hlt_count(ng_text, FINAL_EVENT), N_NGHTTP);
    ck_assert_msg(hlt_count(ng_text, "recv RST_STREAM") == 0, "a prior-knowledge h2c stream was reset instead of ended");
    ck_assert_msg(hlt_count(ng_text, "recv GOAWAY") == 1, "no GOAWAY on the prior-knowledge h2c connection");
    free(ng_text);
    free(ng_out);
    free(ng_err);
    free(nghttp);

    for (int i = 0; i < N_STREAMS; ++i) {
        hlt_response_t *r = &res[i];
        ck_assert_msg(r->rc == CURLE_OK, "stream %d (%s) did not end cleanly: %s (%s)", i, hlt_proto_name(proto[i]),
                      curl_easy_strerror(r->rc), r->errbuf);
        ck_assert_int_eq(r->status, 200);
        ck_assert_msg(r->http_version == hlt_proto_version(proto[i]), "stream %d: HTTP version %ld", i, r->http_version);
        ck_assert_str_eq(hlt_header(r, "content-type"), "text/event-stream");
        ck_assert_msg(hlt_header(r, "access-control-allow-origin") != NULL, "stream %d without CORS", i);
        ck_assert_msg(strncmp(r->body, "retry: 1000\n\n", 13) == 0, "stream %d starts with %.40s", i, r->body);
        size_t fl = strlen(FINAL_EVENT);
        ck_assert_msg(r->body_len >= fl && strcmp(r->body + r->body_len - fl, FINAL_EVENT) == 0,
                      "stream %d (%s) does not end with the shutdown event: ...%s", i, hlt_proto_name(proto[i]),
                      r->body_len > 80 ? r->body + r->body_len - 80 : r->body);
        ck_assert_int_eq(hlt_count(r->body, "event: shutdown"), 1);
        connects[proto[i]] += r->num_connects;
        hlt_response_free(r);
    }
    curl_multi_cleanup(multi);
    ck_assert_msg(connects[HLT_H1] == N_H1, "%ld HTTP/1.1 connections", connects[HLT_H1]);
    ck_assert_msg(connects[HLT_H2C_UPGRADE] == 1, "h2c streams used %ld connections", connects[HLT_H2C_UPGRADE]);
    ck_assert_msg(connects[HLT_H2_TLS] == 1, "TLS streams used %ld connections", connects[HLT_H2_TLS]);

    ck_assert_msg(idle_closed_at >= 0, "the idle keep-alive connection was never closed");
    ck_assert_msg(idle_closed_while_alive, "the idle keep-alive connection only closed when the process exited (%ld ms)",
                  idle_closed_at);
    close(idle);

    ck_assert_msg(exited, "the daemon did not exit within 10 s of SIGTERM");
    ck_assert_msg(exit_ms < 5000, "the daemon took %ld ms to exit after SIGTERM", exit_ms);
    const char *msg = hlt_daemon_stop(&d); /* already reaped: checks the exit code and stderr */
    ck_assert_msg(msg == NULL, "%s", msg);
    hlt_daemon_dispose(&d);
}
END_TEST

/*
 * Requests in flight at SIGTERM still get their answers; a client that connects once shutdown has begun is refused at once
 * (or served), never left hanging on a socket nobody reads until the process exits.
 */
START_TEST(test_inflight_requests_finish)
{
    hlt_daemon_t d;
    hlt_daemon_start(&d, NULL);
    CURLM *multi = hlt_multi_new();
    static const hlt_proto_t protos[] = {HLT_H1, HLT_H2C_UPGRADE};
    hlt_response_t res[2];
    CURL *easy[2];
    hlt_request_t req = {.path = "/__test/actor-echo?delay_ms=1000", .timeout_ms = 15000};
    for (int i = 0; i < 2; ++i) {
        easy[i] = hlt_easy_new(&d, protos[i], &req, &res[i]);
        curl_multi_add_handle(multi, easy[i]);
    }
    long deadline = hlt_now_ms() + 5000;
    for (;;) {
        int running = hlt_multi_drive(multi, 20);
        ck_assert_int_eq(running, 2);
        curl_off_t pre[2] = {0, 0};
        curl_easy_getinfo(easy[0], CURLINFO_PRETRANSFER_TIME_T, &pre[0]);
        curl_easy_getinfo(easy[1], CURLINFO_PRETRANSFER_TIME_T, &pre[1]);
        if (pre[0] > 0 && pre[1] > 0)
            break;
        ck_assert_msg(hlt_now_ms() < deadline, "the requests were not sent");
    }
    hlt_multi_drive(multi, 200); /* they reach the actor */
    ck_assert(kill(d.pid, SIGTERM) == 0);
    hlt_multi_drive(multi, 200);

    /* the daemon is still finishing the two requests (about 2 s of actor work): a newcomer now */
    ck_assert(hlt_daemon_alive(&d));
    hlt_response_t late;
    hlt_request_t late_req = {.path = "/api/v1/system/version", .timeout_ms = 3000};
    long t0 = hlt_now_ms();
    hlt_request(&d, HLT_H1, &late_req, &late);
    long late_ms = hlt_now_ms() - t0;
    int alive_after = hlt_daemon_alive(&d);

    ck_assert_int_eq(hlt_multi_drive(multi, 10000), 0);
    for (int i = 0; i < 2; ++i) {
        ck_assert_msg(res[i].rc == CURLE_OK && res[i].status == 200, "in-flight request over %s at SIGTERM: %s, status %ld",
                      hlt_proto_name(protos[i]), curl_easy_strerror(res[i].rc), res[i].status);
        ck_assert_int_eq(json_integer_value(json_object_get(res[i].json, "delay_ms")), 1000);
        hlt_response_free(&res[i]);
    }
    curl_multi_cleanup(multi);
    ck_assert_msg(late.rc == CURLE_COULDNT_CONNECT || (late.rc == CURLE_OK && late.status > 0),
                  "a connection made during shutdown was neither refused nor served: %s (%s) after %ld ms%s",
                  curl_easy_strerror(late.rc), late.errbuf, late_ms, alive_after ? "" : ", when the process exited");
    hlt_response_free(&late);
    hlt_daemon_stop_clean(&d);
}
END_TEST

START_TEST(test_sigint_is_graceful)
{
    hlt_daemon_t d;
    hlt_daemon_start(&d, NULL);
    hlt_response_t res;
    hlt_get(&d, HLT_H1, "/api/v1/system/version", &res);
    ck_assert_int_eq(res.status, 200);
    hlt_response_free(&res);
    ck_assert(kill(d.pid, SIGINT) == 0);
    int status;
    ck_assert_msg(hlt_wait_exit(d.pid, &status, 10000), "no exit within 10 s of SIGINT");
    d.pid = 0;
    d.status = status;
    const char *msg = hlt_daemon_stop(&d);
    ck_assert_msg(msg == NULL, "%s", msg);
    /* the pid file is gone with the daemon */
    char *pidfile = hlt_env_path(d.env, 1, "hermeslink.pid");
    ck_assert_msg(access(pidfile, F_OK) != 0, "hermeslink.pid left behind after a graceful exit");
    free(pidfile);
    hlt_daemon_dispose(&d);
}
END_TEST

Suite *suite_shutdown(void)
{
    Suite *s = suite_create("shutdown");
    TCase *tc = tcase_create("shutdown");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_streams_end_at_sigterm);
    tcase_add_test(tc, test_inflight_requests_finish);
    tcase_add_test(tc, test_sigint_is_graceful);
    suite_add_tcase(s, tc);
    return s;
}
