/*
 * Ambiguous HTTP/1.1 framing (issue 9, finding 4): h2o 2.2.5 accepts a request with two different Content-Lengths (it
 * takes the first) or with both Content-Length and Transfer-Encoding (it takes the chunked body) without telling the
 * handler. A front proxy that chose the other reading would see another request boundary (request smuggling). Such a
 * request is answered 400 invalid_request_framing and its connection closed, so the bytes h2o did not count as its body
 * are never read as a next request; repeated identical Content-Lengths stay accepted (RFC 9112 §6.3).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hl/common.h"

#include "harness_conv.h"

static hltc_ctx_t ctx;
#define D (&ctx.d)

static void setup(void)
{
    hltc_start(&ctx, 0, NULL);
}

static void teardown(void)
{
    hltc_teardown_shared(&ctx, "framing daemon");
}

static int connect_daemon(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)D->port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_msg(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "connect: %s", strerror(errno));
    return fd;
}

/* Sends raw bytes on a fresh connection and reads until the server closes it (or 5 s): what came back. */
static char *exchange(const char *raw, long *closed_after_ms)
{
    int fd = connect_daemon();
    ck_assert(write(fd, raw, strlen(raw)) == (ssize_t)strlen(raw));
    char *out = hl_strdup("");
    size_t len = 0;
    long start = hlt_now_ms();
    *closed_after_ms = -1;
    while (hlt_now_ms() - start < 5000) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0)
            continue;
        char buf[4096];
        ssize_t r = read(fd, buf, sizeof(buf));
        if (r <= 0) {
            *closed_after_ms = hlt_now_ms() - start;
            break;
        }
        out = hl_realloc(out, len + (size_t)r + 1);
        memcpy(out + len, buf, (size_t)r);
        len += (size_t)r;
        out[len] = '\0';
    }
    close(fd);
    return out;
}

static void assert_refused(const char *what, const char *raw)
{
    long closed;
    char *out = exchange(raw, &closed);
    ck_assert_msg(strncmp(out, "HTTP/1.1 400 ", 13) == 0, "%s: %s", what, out);
    ck_assert_msg(strstr(out, "\"invalid_request_framing\"") != NULL, "%s: %s", what, out);
    ck_assert_msg(hlt_count(out, "HTTP/1.1 ") == 1, "%s: a smuggled request was answered too: %s", what, out);
    ck_assert_msg(closed >= 0, "%s: the connection stayed open", what);
    free(out);
}

START_TEST(two_content_lengths)
{
    /* h2o takes 5 ("hello"); a proxy taking 75 would also forward the GET after it as part of this body */
    assert_refused("two Content-Lengths", "POST /api/v1/pairing/claim HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                                          "application/json\r\nContent-Length: 5\r\nContent-Length: 75\r\n\r\nhello"
                                          "GET /api/v1/system/status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
}
END_TEST

START_TEST(content_length_and_chunked)
{
    assert_refused("Content-Length with Transfer-Encoding",
                   "POST /api/v1/pairing/claim HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                   "Content-Length: 60\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"
                   "GET /api/v1/system/status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
}
END_TEST

START_TEST(identical_content_lengths_accepted)
{
    /* the same value twice is one length: the request is handled (its route's own answer), the connection kept */
    long closed;
    char *out = exchange("POST /api/v1/pairing/claim HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                         "Content-Length: 2\r\ncontent-length:  2\r\n\r\n{}"
                         "GET /api/v1/system/status HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
                         &closed);
    ck_assert_msg(strstr(out, "invalid_request_framing") == NULL, "%s", out);
    ck_assert_msg(hlt_count(out, "HTTP/1.1 ") == 2, "both pipelined requests answered: %s", out);
    ck_assert_msg(strstr(out, "HTTP/1.1 200 ") != NULL, "%s", out);
    free(out);
}
END_TEST

Suite *suite_http_framing(void)
{
    Suite *s = suite_create("http_framing");
    TCase *tc = tcase_create("framing");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, two_content_lengths);
    tcase_add_test(tc, content_length_and_chunked);
    tcase_add_test(tc, identical_content_lengths_accepted);
    suite_add_tcase(s, tc);
    return s;
}
