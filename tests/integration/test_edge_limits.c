/*
 * The HTTP edge's timeouts and caps (issue 9, findings 2 and 3): a slow upload completes over HTTP/1.1 and HTTP/2 while
 * slow headers and a stalled body are still cut; a closed HTTP/1.1 event stream frees its socket within seconds (not at
 * the next 15 s heartbeat); connections per client address and in total, and event streams per device, are capped
 * with a cheap refusal that says why. Loopback is exempt from the per-address cap in real use; these tests count it
 * through the test-mode hook HERMESLINK_TEST_LOOPBACK_COUNTS=1 and tell addresses apart with 127.0.0.x sources.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hl/common.h"

#include "fake_hermes.h"
#include "harness_conv.h"

/* A TCP connection to the daemon from a chosen loopback source address. */
static int connect_from(int port, const char *source)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert(fd >= 0);
    struct sockaddr_in src = {.sin_family = AF_INET};
    ck_assert(inet_pton(AF_INET, source, &src.sin_addr) == 1);
    ck_assert_msg(bind(fd, (struct sockaddr *)&src, sizeof(src)) == 0, "bind %s: %s", source, strerror(errno));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_msg(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "connect: %s", strerror(errno));
    return fd;
}

/* Waits until the peer closes the connection (EOF or reset); returns the ms waited, or -1 on timeout. Bytes the server
 * sent before closing are appended to *out when out is not NULL. */
static long wait_closed(int fd, long timeout_ms, char **out, size_t *out_len)
{
    long start = hlt_now_ms();
    for (;;) {
        long left = start + timeout_ms - hlt_now_ms();
        if (left <= 0)
            return -1;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, (int)(left < 100 ? left : 100)) <= 0)
            continue;
        char buf[4096];
        ssize_t r = read(fd, buf, sizeof(buf));
        if (r <= 0)
            return hlt_now_ms() - start;
        if (out != NULL) {
            *out = hl_realloc(*out, *out_len + (size_t)r + 1);
            memcpy(*out + *out_len, buf, (size_t)r);
            *out_len += (size_t)r;
            (*out)[*out_len] = '\0';
        }
    }
}

/* ---- timeouts ---- */

static char *pattern(size_t len)
{
    char *b = hl_malloc(len);
    for (size_t i = 0; i < len; ++i)
        b[i] = (char)('a' + i % 23);
    return b;
}

/* 2.5 MiB at 200 KB/s (about 13 s, past h2o's 10 s request timeout) over HTTP/1.1 and HTTP/2 at once. */
START_TEST(slow_upload_completes)
{
    hltc_ctx_t c;
    hltc_start(&c, 1, NULL);
    char *conv = hltc_create(&c.d, HLT_H1, c.dev.access, "slow uploads");
    enum { LEN = 2560 * 1024 };
    char *data = pattern(LEN);
    char path[300], auth[512];
    snprintf(path, sizeof(path), "/api/v1/conversations/%s/blobs", conv);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", c.dev.access);
    const char *hdrs[] = {auth, "Content-Type: application/octet-stream", "Content-Disposition: attachment; filename=\"slow.bin\"",
                          NULL};
    hlt_request_t req = {
        .method = "POST", .path = path, .headers = hdrs, .body = data, .body_len = LEN, .has_body = 1, .timeout_ms = 60000};
    CURLM *multi = hlt_multi_new();
    hlt_response_t res[2];
    const hlt_proto_t protos[2] = {HLT_H1, HLT_H2_TLS};
    for (int i = 0; i < 2; ++i) {
        CURL *e = hlt_easy_new(&c.d, protos[i], &req, &res[i]);
        curl_easy_setopt(e, CURLOPT_MAX_SEND_SPEED_LARGE, (curl_off_t)200 * 1000);
        curl_multi_add_handle(multi, e);
    }
    long start = hlt_now_ms();
    ck_assert_int_eq(hlt_multi_drive(multi, 60000), 0);
    long took = hlt_now_ms() - start;
    curl_multi_cleanup(multi);
    ck_assert_msg(took > 10500, "the uploads took %ld ms: not slower than h2o's request timeout, the test proves nothing", took);
    for (int i = 0; i < 2; ++i) {
        ck_assert_msg(res[i].rc == CURLE_OK && res[i].status == 201, "%s: slow upload: rc %d (%s) status %ld %.200s",
                      hlt_proto_name(protos[i]), (int)res[i].rc, res[i].errbuf, res[i].status, res[i].body ? res[i].body : "");
        ck_assert_int_eq(res[i].http_version, hlt_proto_version(protos[i]));
        hlt_response_free(&res[i]);
    }
    free(data);
    free(conv);
    hlt_device_free(&c.dev);
    hlt_daemon_stop_clean(&c.d);
}
END_TEST

/* Slow headers (a byte a second) and a body that stops arriving are both cut about 10 s after their last useful
 * progress, without an answer the client could mistake for success. */
START_TEST(slow_head_and_stalled_body_are_cut)
{
    hltc_ctx_t c;
    hltc_start(&c, 0, NULL);
    int head_fd = connect_from(c.d.port, "127.0.0.1");
    int body_fd = connect_from(c.d.port, "127.0.0.1");
    const char *head = "POST /api/v1/pairing/claim HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    ck_assert(write(head_fd, head, strlen(head)) == (ssize_t)strlen(head));
    char stalled[512];
    int n = snprintf(stalled, sizeof(stalled),
                     "POST /api/v1/conversations HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
                     "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{\"title\":\"",
                     c.dev.access);
    ck_assert(write(body_fd, stalled, (size_t)n) == n);
    long start = hlt_now_ms(), head_closed = -1, body_closed = -1;
    /* the slow head trickles a header byte per second: progress that must not extend its deadline */
    const char *trickle = "X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    for (size_t i = 0; hlt_now_ms() - start < 20000 && (head_closed < 0 || body_closed < 0); ++i) {
        if (head_closed < 0) {
            if (send(head_fd, trickle + (i % strlen(trickle)), 1, MSG_NOSIGNAL) != 1 || wait_closed(head_fd, 1, NULL, NULL) >= 0)
                head_closed = hlt_now_ms() - start;
        }
        if (body_closed < 0 && wait_closed(body_fd, 1, NULL, NULL) >= 0)
            body_closed = hlt_now_ms() - start;
        hlt_sleep_ms(1000);
    }
    ck_assert_msg(head_closed >= 0 && head_closed < 14000, "slow headers were not cut (%ld ms)", head_closed);
    ck_assert_msg(body_closed >= 0 && body_closed < 14000, "a stalled body was not cut (%ld ms)", body_closed);
    close(head_fd);
    close(body_fd);
    /* the daemon still answers */
    hlt_response_t res;
    hlt_get(&c.d, HLT_H1, "/api/v1/system/status", &res);
    ck_assert_int_eq(res.status, 200);
    hlt_response_free(&res);
    hlt_device_free(&c.dev);
    hlt_daemon_stop_clean(&c.d);
}
END_TEST

/* ---- sockets of closed streams ---- */

/* Sockets of the daemon's port in CLOSE-WAIT (the client closed, the server has not): /proc/net/tcp state 08. */
static int close_wait_count(int port)
{
    FILE *f = fopen("/proc/net/tcp", "r");
    ck_assert_ptr_nonnull(f);
    char line[512];
    int n = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        unsigned local_port, state;
        if (sscanf(line, " %*d: %*8X:%X %*8X:%*X %X", &local_port, &state) == 2 && (int)local_port == port && state == 0x08)
            ++n;
    }
    fclose(f);
    return n;
}

START_TEST(closed_h1_stream_frees_its_socket)
{
    hltc_ctx_t c;
    hltc_start(&c, 0, NULL);
    enum { STREAMS = 4 };
    int fds[STREAMS];
    for (int i = 0; i < STREAMS; ++i) {
        fds[i] = hltc_raw_stream_open(c.d.port, "/api/v1/conversations/events", c.dev.access, 1000);
        ck_assert_msg(fds[i] >= 0, "stream %d did not open", i);
    }
    for (int i = 0; i < STREAMS; ++i)
        close(fds[i]);
    /* the heartbeat is 15 s away: the sockets must be released well before it */
    long start = hlt_now_ms(), left = -1;
    do {
        hlt_sleep_ms(200);
        left = close_wait_count(c.d.port);
    } while (left > 0 && hlt_now_ms() - start < 5000);
    ck_assert_msg(left == 0, "%ld sockets still in CLOSE-WAIT 5 s after their clients closed", left);
    hlt_device_free(&c.dev);
    hlt_daemon_stop_clean(&c.d);
}
END_TEST

/* ---- caps ---- */

static void start_capped(hltc_ctx_t *c, hlt_env_t *env, const char *config)
{
    hlt_env_init(env);
    hlt_env_write_config(env, config);
    setenv("HERMESLINK_TEST_LOOPBACK_COUNTS", "1", 1);
    hltc_start(c, 0, env);
    unsetenv("HERMESLINK_TEST_LOOPBACK_COUNTS");
}

/* A connection past a cap is answered at once with the JSON error and closed. */
static void assert_refused(int fd, const char *status, const char *code)
{
    char *out = NULL;
    size_t len = 0;
    long waited = wait_closed(fd, 3000, &out, &len);
    ck_assert_msg(waited >= 0, "a connection past the cap was not closed");
    ck_assert_msg(out != NULL && strncmp(out, status, strlen(status)) == 0, "refusal: %s", out ? out : "(nothing)");
    ck_assert_msg(strstr(out, code) != NULL && strstr(out, "\"ok\":false") != NULL, "refusal body: %s", out);
    free(out);
    close(fd);
}

static int status_from(const hlt_daemon_t *d, const char *source)
{
    hlt_response_t res;
    hlt_request_t req = {.path = "/api/v1/system/status", .source_addr = source};
    hlt_request(d, HLT_H1, &req, &res);
    int status = (int)res.status;
    hlt_response_free(&res);
    return status;
}

START_TEST(connections_per_address_are_capped)
{
    hltc_ctx_t c;
    hlt_env_t env;
    start_capped(&c, &env, "{\"maxConnectionsPerAddress\": 3}\n");
    int held[3];
    for (int i = 0; i < 3; ++i)
        held[i] = connect_from(c.d.port, "127.0.0.2");
    hlt_sleep_ms(300); /* accepted by then */
    assert_refused(connect_from(c.d.port, "127.0.0.2"), "HTTP/1.1 429", "too_many_connections");
    /* another address is not affected */
    ck_assert_int_eq(status_from(&c.d, "127.0.0.3"), 200);
    /* a closed connection gives its place back */
    close(held[0]);
    long start = hlt_now_ms();
    int status;
    while ((status = status_from(&c.d, "127.0.0.2")) != 200 && hlt_now_ms() - start < 3000)
        hlt_sleep_ms(100);
    ck_assert_int_eq(status, 200);
    close(held[1]);
    close(held[2]);
    hlt_device_free(&c.dev);
    hlt_daemon_stop_clean(&c.d);
    hlt_env_dispose(&env);
}
END_TEST

START_TEST(connections_in_total_are_capped)
{
    hltc_ctx_t c;
    hlt_env_t env;
    start_capped(&c, &env, "{\"maxConnections\": 16, \"maxConnectionsPerAddress\": 4}\n");
    int held[16];
    char src[32];
    for (int i = 0; i < 16; ++i) {
        snprintf(src, sizeof(src), "127.0.1.%d", 1 + i / 4);
        held[i] = connect_from(c.d.port, src);
    }
    hlt_sleep_ms(300);
    assert_refused(connect_from(c.d.port, "127.0.2.1"), "HTTP/1.1 503", "server_busy");
    close(held[0]);
    long start = hlt_now_ms();
    int status;
    while ((status = status_from(&c.d, "127.0.2.1")) != 200 && hlt_now_ms() - start < 3000)
        hlt_sleep_ms(100);
    ck_assert_int_eq(status, 200);
    for (int i = 1; i < 16; ++i)
        close(held[i]);
    hlt_device_free(&c.dev);
    hlt_daemon_stop_clean(&c.d);
    hlt_env_dispose(&env);
}
END_TEST

/* An HTTP/1.1 body that takes its address past maxBodyMiBPerAddress ends its connection; a body within it does not, and
 * the bytes are given back. */
START_TEST(body_bytes_per_address_are_capped)
{
    hltc_ctx_t c;
    hlt_env_t env;
    start_capped(&c, &env, "{\"maxBodyMiBPerAddress\": 1}\n");
    char head[512];
    int n = snprintf(head, sizeof(head),
                     "POST /api/v1/conversations/x/blobs HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
                     "Content-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n",
                     c.dev.access, 4 << 20);
    enum { CHUNK = 256 * 1024 };
    char *chunk = pattern(CHUNK);
    /* within the cap: 768 KiB held, the connection stays */
    int small = connect_from(c.d.port, "127.0.0.5");
    ck_assert(write(small, head, (size_t)n) == n);
    for (int i = 0; i < 3; ++i)
        ck_assert(send(small, chunk, CHUNK, MSG_NOSIGNAL) == CHUNK);
    ck_assert_msg(wait_closed(small, 2500, NULL, NULL) < 0, "a body within the address's cap was cut");
    close(small);
    /* past it: 1.5 MiB held, the connection ends within a couple of seconds (and no answer pretends success) */
    int big = connect_from(c.d.port, "127.0.0.6");
    ck_assert(write(big, head, (size_t)n) == n);
    for (int i = 0; i < 6; ++i)
        send(big, chunk, CHUNK, MSG_NOSIGNAL);
    char *out = NULL;
    size_t len = 0;
    ck_assert_msg(wait_closed(big, 4000, &out, &len) >= 0, "a body past the address's cap was not cut");
    ck_assert_msg(out == NULL || strstr(out, " 201 ") == NULL, "the cut upload was answered: %s", out);
    free(out);
    close(big);
    /* the address may upload again once its bytes were given back */
    ck_assert_int_eq(status_from(&c.d, "127.0.0.6"), 200);
    free(chunk);
    hlt_device_free(&c.dev);
    hlt_daemon_stop_clean(&c.d);
    hlt_env_dispose(&env);
}
END_TEST

/* Runs h2_hold.py (python3-h2): one HTTP/2 connection from `source` holding `streams` bodies of `kib` KiB each open for
 * `hold_ms`, then ending them. Returns its JSON report. */
static json_t *h2_hold(const hlt_env_t *env, int port, const char *source, int streams, int kib, int hold_ms)
{
    char *script = hl_asprintf("%s/tests/integration/h2_hold.py", HL_SOURCE_DIR);
    char *out = hlt_env_path(env, 0, "h2_hold.out"), *err = hlt_env_path(env, 0, "h2_hold.err");
    char port_s[16], streams_s[16], kib_s[16], hold_s[16];
    snprintf(port_s, sizeof(port_s), "%d", port);
    snprintf(streams_s, sizeof(streams_s), "%d", streams);
    snprintf(kib_s, sizeof(kib_s), "%d", kib);
    snprintf(hold_s, sizeof(hold_s), "%d", hold_ms);
    char *argv[] = {"/usr/bin/python3", script, port_s, (char *)source, streams_s, kib_s, hold_s, NULL};
    int status = 0;
    pid_t pid = hlt_spawn(argv, out, err);
    ck_assert_msg(hlt_wait_exit(pid, &status, 90000), "h2_hold.py did not finish");
    char *errors = hlt_read_file(err, NULL);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "h2_hold.py failed (python3-h2 is installed by "
                  "scripts/deps.sh): %s",
                  errors ? errors : "");
    char *text = hlt_read_file(out, NULL);
    json_t *report = text ? json_loads(text, 0, NULL) : NULL;
    ck_assert_msg(report != NULL, "h2_hold.py printed: %s", text ? text : "(nothing)");
    free(text);
    free(errors);
    free(out);
    free(err);
    free(script);
    return report;
}

/* HTTP/2 bodies that h2o holds count against maxBodyMiBPerAddress as HTTP/1.1 bodies do: bodies within the cap held
 * open for seconds keep their connection and are answered once ended; bodies past it end the connection, and the
 * address gets its bytes back. */
START_TEST(h2_body_bytes_per_address_are_capped)
{
    hltc_ctx_t c;
    hlt_env_t env;
    start_capped(&c, &env, "{\"maxBodyMiBPerAddress\": 4}\n");
    /* within the cap: 3 × 1 MiB held for 1.5 s (six checks), then ended: three answers (no token: 401) */
    json_t *within = h2_hold(&env, c.d.port, "127.0.0.7", 3, 1024, 1500);
    ck_assert_msg(!json_is_true(json_object_get(within, "closed")), "bodies within the cap were cut: %s", json_dumps(within, 0));
    json_t *statuses = json_object_get(within, "statuses");
    ck_assert_int_eq(json_array_size(statuses), 3);
    for (size_t i = 0; i < 3; ++i)
        ck_assert_int_eq(json_integer_value(json_array_get(statuses, i)), 401);
    json_decref(within);
    /* past it: 6 × 1 MiB on one connection; it ends, and no stream is answered */
    json_t *past = h2_hold(&env, c.d.port, "127.0.0.8", 6, 1024, 3000);
    ck_assert_msg(json_is_true(json_object_get(past, "closed")), "bodies past the cap were kept: %s", json_dumps(past, 0));
    ck_assert_int_eq(json_array_size(json_object_get(past, "statuses")), 0);
    json_decref(past);
    /* the daemon answers, and the address got its bytes back: the same bodies within the cap pass again */
    ck_assert_int_eq(status_from(&c.d, "127.0.0.8"), 200);
    json_t *again = h2_hold(&env, c.d.port, "127.0.0.8", 3, 1024, 500);
    ck_assert_msg(!json_is_true(json_object_get(again, "closed")), "the address did not get its bytes back: %s",
                  json_dumps(again, 0));
    json_decref(again);
    hlt_device_free(&c.dev);
    hlt_daemon_stop_clean(&c.d);
    hlt_env_dispose(&env);
}
END_TEST

START_TEST(streams_per_device_are_capped)
{
    hltc_ctx_t c;
    hlt_env_t env;
    hlt_env_init(&env);
    hlt_env_write_config(&env, "{\"maxStreamsPerDevice\": 2}\n");
    hltc_start(&c, 0, &env);
    int fds[2];
    for (int i = 0; i < 2; ++i) {
        fds[i] = hltc_raw_stream_open(c.d.port, "/api/v1/conversations/events", c.dev.access, 1000);
        ck_assert_msg(fds[i] >= 0, "stream %d did not open", i);
    }
    /* the third is refused, over HTTP/1.1 and HTTP/2 alike */
    for (hlt_proto_t p = HLT_H1; p <= HLT_H2C; ++p) {
        hlt_response_t res;
        hlt_request_t req = {.path = "/api/v1/conversations/events",
                             .headers = (const char *[]){hltc_fmt("Authorization: Bearer %s", c.dev.access), NULL},
                             .timeout_ms = 3000};
        hlt_request(&c.d, p, &req, &res);
        hlt_assert_error(&c.d, &res, 429, "too_many_streams");
        hlt_response_free(&res);
    }
    /* a stream that closes gives its place back (its socket is noticed within about a second) */
    close(fds[0]);
    long start = hlt_now_ms();
    int reopened = -1;
    while (hlt_now_ms() - start < 5000 &&
           (reopened = hltc_raw_stream_open(c.d.port, "/api/v1/conversations/events", c.dev.access, 300)) < 0)
        hlt_sleep_ms(200);
    ck_assert_msg(reopened >= 0, "no stream could be opened after one of the two closed");
    close(reopened);
    close(fds[1]);
    hlt_device_free(&c.dev);
    hlt_daemon_stop_clean(&c.d);
    hlt_env_dispose(&env);
}
END_TEST

/* The cap counts every kind of event stream a device opens: the all-conversations stream, a conversation's and a direct
 * run's relay (issue 9); past it each kind is refused with 429 too_many_streams, and a run stream that closes gives its
 * place back. */
START_TEST(streams_of_every_kind_share_the_cap)
{
    hlt_env_t env;
    hlt_env_init(&env);
    hlt_fake_t fake;
    static const char *const ARGS[] = {"--key", "edge-key", NULL};
    hlt_fake_start(&fake, env.dir, ARGS);
    char *envfile = hl_asprintf("%s/.env", env.hermes_home);
    char *text = hl_asprintf("API_SERVER_HOST=127.0.0.1\nAPI_SERVER_PORT=%d\nAPI_SERVER_KEY=edge-key\n", fake.port);
    hlt_write_file(envfile, text);
    free(text);
    free(envfile);
    hlt_env_write_config(&env, "{\"maxStreamsPerDevice\": 3}\n");
    hltc_ctx_t c;
    hltc_start(&c, 0, &env);
    char *conv = hltc_create(&c.d, HLT_H1, c.dev.access, "capped");
    hlt_response_t res;
    hlt_api(&c.d, HLT_H1, "POST", "/api/v1/runs", c.dev.access, "{\"input\":\"[[fake:slow;first_delay_ms=60000]] stay\"}", &res);
    ck_assert_msg(res.status == 202, "POST /api/v1/runs: %ld %s", res.status, res.body);
    char *run = hl_strdup(hlt_str(res.json, "run_id"));
    hlt_response_free(&res);
    const char *paths[] = {"/api/v1/conversations/events", hl_asprintf("/api/v1/conversations/%s/events", conv),
                           hl_asprintf("/api/v1/runs/%s/events", run)};
    int fds[3];
    for (int i = 0; i < 3; ++i) {
        fds[i] = hltc_raw_stream_open(c.d.port, paths[i], c.dev.access, 3000);
        ck_assert_msg(fds[i] >= 0, "%s did not open", paths[i]);
    }
    /* a fourth stream of any kind is refused */
    for (int i = 0; i < 3; ++i) {
        hlt_request_t req = {.path = paths[i],
                             .headers = (const char *[]){hltc_fmt("Authorization: Bearer %s", c.dev.access), NULL},
                             .timeout_ms = 3000};
        hlt_request(&c.d, HLT_H1, &req, &res);
        ck_assert_msg(res.status == 429, "a fourth stream (%s): %ld %s", paths[i], res.status, res.body);
        hlt_assert_error(&c.d, &res, 429, "too_many_streams");
        hlt_response_free(&res);
    }
    /* the run's stream closes: its place goes to a conversation stream */
    close(fds[2]);
    long start = hlt_now_ms();
    int reopened = -1;
    while (hlt_now_ms() - start < 5000 && (reopened = hltc_raw_stream_open(c.d.port, paths[1], c.dev.access, 300)) < 0)
        hlt_sleep_ms(200);
    ck_assert_msg(reopened >= 0, "no stream could be opened after the run's stream closed");
    close(reopened);
    close(fds[0]);
    close(fds[1]);
    free((char *)paths[1]);
    free((char *)paths[2]);
    free(run);
    free(conv);
    hlt_device_free(&c.dev);
    hlt_daemon_stop_clean(&c.d);
    const char *err = hlt_fake_stop(&fake);
    ck_assert_msg(err == NULL, "fake: %s", err);
    hlt_env_dispose(&env);
}
END_TEST

Suite *suite_edge_limits(void)
{
    Suite *s = suite_create("edge_limits");
    TCase *tc = tcase_create("edge");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, slow_upload_completes);
    tcase_add_test(tc, slow_head_and_stalled_body_are_cut);
    tcase_add_test(tc, closed_h1_stream_frees_its_socket);
    tcase_add_test(tc, connections_per_address_are_capped);
    tcase_add_test(tc, connections_in_total_are_capped);
    tcase_add_test(tc, body_bytes_per_address_are_capped);
    tcase_add_test(tc, h2_body_bytes_per_address_are_capped);
    tcase_add_test(tc, streams_per_device_are_capped);
    tcase_add_test(tc, streams_of_every_kind_share_the_cap);
    suite_add_tcase(s, tc);
    return s;
}
