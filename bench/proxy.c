/*
 * bench/proxy: benchmark client of bench/proxy.sh (issue 8): the run proxy's relay of upstream run events.
 *
 *   proxy throughput --port P --token T --fake-port F --key K [--subs N] [--deltas D] [--rounds R]
 *   proxy latency    --port P --token T --fake-port F --key K [--deltas D] [--gap-ms G] [--first-delay-ms F]
 *   proxy conv       --port P --token T [--convs C] [--deltas D] [--gap-ms G] [--boot-interval-ms I] [--baseline-ms B]
 *   common: [--daemon-pid PID] [--fake-pid PID] [--deadline-s S]; throughput also [--honour-retry]
 *
 * throughput: R rounds of (a) a run `[[fake:stream;deltas=D;gap_ms=0]]` POSTed to the fake (POST /v1/runs) and read
 *   directly from the fake by one subscriber (GET /v1/runs/<id>/events: the reference; the fake allows one subscriber
 *   per run), then (b) the same run shape POSTed to HermesLink (POST /api/v1/runs) and read by N subscribers of
 *   GET /api/v1/runs/<id>/events (HTTP/1.1, one connection each), opened as soon as the 202 is in. Rate = frames / (last
 *   frame − first frame) per subscriber; aggregate = all frames / (last frame of any − first frame of any). A relay
 *   subscriber whose response ends before the run's terminal frame (HermesLink ends a stream that falls behind its ring
 *   with ": behind, reconnect with Last-Event-ID") reconnects with Last-Event-ID: at once, or with --honour-retry after
 *   the stream's `retry:` delay, as a browser EventSource does. Also reported: frames / (last frame − opening the
 *   stream), which counts a wait before the first frame too.
 * latency: one run `[[fake:slow;first_delay_ms=F;deltas=D;gap_ms=G]]` on the fake read directly and an identical one
 *   through HermesLink, concurrently (the delay lets both subscribers attach before the first event); per event
 *   latency = CLOCK_REALTIME at receipt − the event's `timestamp` (the fake's wall clock, same machine).
 * conv: C conversations (POST /api/v1/conversations), one SSE stream each on GET /api/v1/conversations/<id>/events; a
 *   thread sends GET /api/v1/bootstrap on one keep-alive connection every I ms (sequential: the next waits for the
 *   answer) for B ms ("before"), then one message per conversation `[[fake:stream;deltas=D;gap_ms=G]]` is sent
 *   (POST …/messages) and the probe goes on until every run's terminal event arrived on its stream ("during").
 *
 * Checks: every relay subscriber gets frame ids 1..E exactly once and in order (E = D + 2: the deltas,
 * reasoning.available, run.completed), the terminal frame last; the direct subscriber gets E frames; every conversation
 * run completes. CPU seconds of the daemon, the fake and this client over each measured phase come from /proc.
 * Output: key=value lines on stdout, a readable summary on stderr; exit 0 when every check passed, 1 when one failed
 * (missing, duplicate, out of order, a failed stream or run, the deadline), 2 on usage or set-up errors.
 *
 * Build: cc -O2 -std=c17 -D_GNU_SOURCE -pthread -o proxy bench/proxy.c   (libc only)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BENCH_NAME "proxy"
#include "bench_util.h"

#define READ_BUF (256 * 1024)
#define MAX_RECONNECTS 10000

static struct {
    const char *mode;
    int port, fake_port;
    const char *token, *key;
    int subs, deltas, rounds, gap_ms, first_delay_ms;
    int convs, boot_interval_ms, baseline_ms;
    int daemon_pid, fake_pid;
    double deadline_s;
    bool honour_retry; /* a relay subscriber cut early waits the stream's retry: before reconnecting (as EventSource) */
} opt = {.subs = 1,
         .deltas = 99998,
         .rounds = 1,
         .gap_ms = -1,
         .first_delay_ms = 1000,
         .convs = 100,
         .boot_interval_ms = 5,
         .baseline_ms = 3000,
         .deadline_s = 60};

static int failures;

static void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (++failures <= 20) {
        fprintf(stderr, "proxy: FAILED: ");
        vfprintf(stderr, fmt, ap);
        fprintf(stderr, "\n");
    }
    va_end(ap);
}

static uint64_t deadline_ns;

static bool past_deadline(void)
{
    return mono_ns() > deadline_ns;
}

/* ---- /proc and rusage ---- */

static double self_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           (double)ru.ru_stime.tv_usec / 1e6;
}

typedef struct {
    long long daemon, fake, machine;
    double client;
    uint64_t t;
} cpu_mark_t;

static cpu_mark_t cpu_mark(void)
{
    return (cpu_mark_t){proc_ticks(opt.daemon_pid), proc_ticks(opt.fake_pid), machine_busy_ticks(), self_cpu_s(), mono_ns()};
}

/* prints <prefix>_cpu_daemon_s, _cpu_fake_s, _cpu_client_s, _cpu_other_s and _wall_s for the span a..b */
static void cpu_print(const char *prefix, cpu_mark_t a, cpu_mark_t b)
{
    double hz = (double)sysconf(_SC_CLK_TCK);
    double d = a.daemon >= 0 && b.daemon >= 0 ? (double)(b.daemon - a.daemon) / hz : 0;
    double f = a.fake >= 0 && b.fake >= 0 ? (double)(b.fake - a.fake) / hz : 0;
    double c = b.client - a.client;
    double m = a.machine >= 0 && b.machine >= 0 ? (double)(b.machine - a.machine) / hz : 0;
    double o = m - d - f - c;
    printf("%s_wall_s=%.3f\n%s_cpu_daemon_s=%.2f\n%s_cpu_fake_s=%.2f\n%s_cpu_client_s=%.2f\n%s_cpu_other_s=%.2f\n", prefix,
           (double)(b.t - a.t) / 1e9, prefix, d, prefix, f, prefix, c, prefix, o > 0 ? o : 0);
}

/* ---- statistics ---- */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* p-th percentile (nearest rank) of a sorted array */
static int64_t pct(const int64_t *v, size_t n, double p)
{
    if (n == 0)
        return 0;
    size_t i = (size_t)(p / 100.0 * (double)n);
    if (i >= n)
        i = n - 1;
    return v[i];
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* prints <prefix>_n, _p50_ms, _p90_ms, _p99_ms, _p999_ms, _max_ms, _mean_ms of values in µs (sorts them) */
static void dist_print(const char *prefix, int64_t *us, size_t n)
{
    qsort(us, n, sizeof(*us), cmp_i64);
    double sum = 0;
    for (size_t i = 0; i < n; ++i)
        sum += (double)us[i];
    printf("%s_n=%zu\n%s_p50_ms=%.3f\n%s_p90_ms=%.3f\n%s_p99_ms=%.3f\n%s_p999_ms=%.3f\n%s_max_ms=%.3f\n%s_mean_ms=%.3f\n", prefix,
           n, prefix, (double)pct(us, n, 50) / 1000, prefix, (double)pct(us, n, 90) / 1000, prefix, (double)pct(us, n, 99) / 1000,
           prefix, (double)pct(us, n, 99.9) / 1000, prefix, n ? (double)us[n - 1] / 1000 : 0, prefix,
           n ? sum / (double)n / 1000 : 0);
}

/* ---- blocking HTTP/1.1 keep-alive requests (set-up, POSTs, the bootstrap probe) ---- */

typedef struct {
    int fd;
    int port;
    buf_t in;
} bconn_t;

static int connect_to(int port, bool nonblock)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
    if (fd < 0)
        die("socket: %s", strerror(errno));
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 && errno != EINPROGRESS)
        die("connect to 127.0.0.1:%d: %s", port, strerror(errno));
    return fd;
}

/* A complete chunked body at p[0..n)? Decodes it into out and sets *used; 1 when complete, 0 when more is needed. */
static int chunked_complete(const char *p, size_t n, buf_t *out, size_t *used)
{
    size_t i = 0;
    out->len = 0;
    for (;;) {
        const char *eol = memmem(p + i, n - i, "\r\n", 2);
        if (eol == NULL)
            return 0;
        size_t size = strtoul(p + i, NULL, 16);
        i = (size_t)(eol - p) + 2;
        if (size == 0) {
            const char *end = memmem(p + i - 2, n - (i - 2), "\r\n\r\n", 4); /* no trailers expected */
            if (end == NULL)
                return 0;
            *used = (size_t)(end - p) + 4;
            return 1;
        }
        if (n - i < size + 2)
            return 0;
        buf_add(out, p + i, size);
        i += size + 2;
    }
}

/* Sends one request and reads its answer; returns the status (body in *body, NUL-terminated, caller frees) or -1. */
static int bc_request(bconn_t *c, const char *method, const char *path, const char *bearer, const char *body, char **resp,
                      double timeout_s)
{
    char head[2048];
    size_t bl = body != NULL ? strlen(body) : 0;
    int hl = snprintf(head, sizeof(head), "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%s%s%s%s", method, path, c->port,
                      bearer != NULL ? "Authorization: Bearer " : "", bearer != NULL ? bearer : "", bearer != NULL ? "\r\n" : "",
                      body != NULL ? "Content-Type: application/json\r\n" : "");
    if (body != NULL || strcmp(method, "POST") == 0)
        hl += snprintf(head + hl, sizeof(head) - (size_t)hl, "Content-Length: %zu\r\n", bl);
    hl += snprintf(head + hl, sizeof(head) - (size_t)hl, "\r\n");
    if (resp != NULL)
        *resp = NULL;
    for (int attempt = 0; attempt < 2; ++attempt) {
        bool reused = c->fd >= 0;
        if (c->fd < 0) {
            c->fd = connect_to(c->port, false);
            c->in.len = 0;
        }
        buf_t req = {0};
        buf_add(&req, head, (size_t)hl);
        if (bl > 0)
            buf_add(&req, body, bl);
        size_t off = 0;
        bool ok = true;
        while (off < req.len) {
            ssize_t w = write(c->fd, req.p + off, req.len - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                ok = false;
                break;
            }
            off += (size_t)w;
        }
        buf_free(&req);
        uint64_t limit = mono_ns() + (uint64_t)(timeout_s * 1e9);
        int status = -1;
        size_t hlen = 0, clen = 0;
        bool chunked = false, close_after = false;
        buf_t decoded = {0};
        while (ok) {
            /* a complete answer in c->in? */
            if (hlen == 0) {
                char *end = c->in.p != NULL ? memmem(c->in.p, c->in.len, "\r\n\r\n", 4) : NULL;
                if (end != NULL) {
                    hlen = (size_t)(end - c->in.p) + 4;
                    status = c->in.len >= 12 ? atoi(c->in.p + 9) : -1;
                    char save = *end;
                    *end = '\0';
                    const char *cl = strcasestr(c->in.p, "\r\ncontent-length:");
                    chunked = strcasestr(c->in.p, "\r\ntransfer-encoding: chunked") != NULL;
                    close_after = strcasestr(c->in.p, "\r\nconnection: close") != NULL;
                    *end = save;
                    clen = cl != NULL ? strtoul(cl + 17, NULL, 10) : 0;
                }
            }
            if (hlen > 0) {
                size_t used = 0;
                if (chunked && chunked_complete(c->in.p + hlen, c->in.len - hlen, &decoded, &used)) {
                    if (resp != NULL) {
                        *resp = decoded.p != NULL ? decoded.p : strdup("");
                        decoded.p = NULL;
                    }
                    buf_free(&decoded);
                    buf_consume(&c->in, hlen + used);
                    if (close_after) {
                        close(c->fd);
                        c->fd = -1;
                    }
                    return status;
                }
                if (!chunked && c->in.len - hlen >= clen) {
                    if (resp != NULL) {
                        *resp = xmalloc(clen + 1);
                        memcpy(*resp, c->in.p + hlen, clen);
                        (*resp)[clen] = '\0';
                    }
                    buf_consume(&c->in, hlen + clen);
                    buf_free(&decoded);
                    if (close_after) {
                        close(c->fd);
                        c->fd = -1;
                    }
                    return status;
                }
            }
            uint64_t now = mono_ns();
            if (now >= limit) {
                ok = false;
                break;
            }
            struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
            int pr = poll(&pfd, 1, (int)((limit - now) / 1000000 + 1));
            if (pr < 0 && errno == EINTR)
                continue;
            if (pr <= 0) {
                ok = false;
                break;
            }
            char tmp[65536];
            ssize_t r = read(c->fd, tmp, sizeof(tmp));
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0) {
                ok = false;
                break;
            }
            buf_add(&c->in, tmp, (size_t)r);
        }
        buf_free(&decoded);
        close(c->fd);
        c->fd = -1;
        c->in.len = 0;
        /* a kept-alive connection the server had closed: once more on a new one */
        if (!(reused && hlen == 0 && attempt == 0 && mono_ns() < limit))
            break;
    }
    return -1;
}

/* The string value of "key":"…" in a JSON text (first occurrence, no escapes expected); caller frees. */
static char *json_str(const char *json, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof(pat), "\"%s\":", key);
    const char *p = json != NULL ? strstr(json, pat) : NULL;
    if (p == NULL)
        return NULL;
    p += strlen(pat);
    while (*p == ' ')
        ++p;
    if (*p != '"')
        return NULL;
    const char *e = strchr(p + 1, '"');
    if (e == NULL)
        return NULL;
    return strndup(p + 1, (size_t)(e - p - 1));
}

/* ---- SSE streams over non-blocking HTTP/1.1 connections (epoll) ---- */

enum { S_CONNECTING, S_HEADERS, S_BODY, S_DONE };
enum { CH_SIZE, CH_EXT, CH_DATA, CH_CRLF };

typedef struct sconn sconn_t;
typedef void (*block_fn)(sconn_t *c, const char *p, size_t n);
typedef void (*end_fn)(sconn_t *c, const char *why);

struct sconn {
    sconn_t *next_all;
    int fd, state;
    bool want_out;
    buf_t out, head, sse;
    bool chunked;
    int ch_state;
    size_t ch_left;
    void *owner;
    block_fn on_block;
    end_fn on_end;
};

static int epfd = -1;
static sconn_t *all_conns;
static char rbuf[READ_BUF];
static uint64_t cur_mono; /* when the data being parsed was read */
static int64_t cur_real_us;

static void set_out(sconn_t *c, bool want)
{
    if (c->want_out == want)
        return;
    c->want_out = want;
    struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Ends a connection (once): why = NULL for a normal close by us. Calls on_end. The struct stays (freed at exit). */
static void sconn_finish(sconn_t *c, const char *why)
{
    if (c->state == S_DONE)
        return;
    c->state = S_DONE;
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    buf_free(&c->out);
    buf_free(&c->head);
    buf_free(&c->sse);
    if (c->on_end != NULL)
        c->on_end(c, why);
}

static sconn_t *sconn_open(int port, const char *path, const char *bearer, const char *extra_header, void *owner, block_fn on_block,
                           end_fn on_end)
{
    sconn_t *c = xcalloc(1, sizeof(*c));
    c->next_all = all_conns;
    all_conns = c;
    c->owner = owner;
    c->on_block = on_block;
    c->on_end = on_end;
    c->fd = connect_to(port, true);
    c->state = S_CONNECTING;
    c->want_out = true;
    char req[2048];
    int n = snprintf(req, sizeof(req),
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAuthorization: Bearer %s\r\nAccept: text/event-stream\r\n%s%s\r\n",
                     path, port, bearer, extra_header != NULL ? extra_header : "", extra_header != NULL ? "\r\n" : "");
    buf_add(&c->out, req, (size_t)n);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) != 0)
        die("epoll_ctl: %s", strerror(errno));
    return c;
}

/* Feeds SSE bytes; calls on_block for each block (the text before a blank line). */
static void sse_feed(sconn_t *c, const char *p, size_t n)
{
    if (c->sse.len == 0) {
        for (;;) { /* in place while there is no partial block */
            const char *end = memmem(p, n, "\n\n", 2);
            if (end == NULL)
                break;
            c->on_block(c, p, (size_t)(end - p));
            if (c->state == S_DONE)
                return;
            n -= (size_t)(end + 2 - p);
            p = end + 2;
        }
        if (n > 0)
            buf_add(&c->sse, p, n);
        return;
    }
    size_t scan = c->sse.len > 0 ? c->sse.len - 1 : 0;
    buf_add(&c->sse, p, n);
    size_t start = 0;
    for (;;) {
        char *end = memmem(c->sse.p + scan, c->sse.len - scan, "\n\n", 2);
        if (end == NULL)
            break;
        c->on_block(c, c->sse.p + start, (size_t)(end - (c->sse.p + start)));
        if (c->state == S_DONE)
            return;
        start = (size_t)(end + 2 - c->sse.p);
        scan = start;
    }
    buf_consume(&c->sse, start);
}

static void body_feed(sconn_t *c, const char *p, size_t n)
{
    if (!c->chunked) {
        sse_feed(c, p, n);
        return;
    }
    while (n > 0 && c->state == S_BODY) {
        switch (c->ch_state) {
        case CH_SIZE: {
            char ch = *p++;
            --n;
            int v = ch >= '0' && ch <= '9'   ? ch - '0'
                    : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                    : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                             : -1;
            if (v >= 0) {
                c->ch_left = c->ch_left * 16 + (size_t)v;
            } else if (ch == '\n') {
                if (c->ch_left == 0) {
                    sconn_finish(c, "the response ended");
                    return;
                }
                c->ch_state = CH_DATA;
            } else {
                c->ch_state = CH_EXT;
            }
            break;
        }
        case CH_EXT:
            if (*p == '\n') {
                if (c->ch_left == 0) {
                    sconn_finish(c, "the response ended");
                    return;
                }
                c->ch_state = CH_DATA;
            }
            ++p;
            --n;
            break;
        case CH_DATA: {
            size_t take = n < c->ch_left ? n : c->ch_left;
            sse_feed(c, p, take);
            p += take;
            n -= take;
            c->ch_left -= take;
            if (c->ch_left == 0)
                c->ch_state = CH_CRLF;
            break;
        }
        case CH_CRLF:
            if (*p == '\n') {
                c->ch_state = CH_SIZE;
                c->ch_left = 0;
            }
            ++p;
            --n;
            break;
        }
    }
}

static void sconn_input(sconn_t *c, const char *p, size_t n)
{
    if (c->state == S_HEADERS) {
        size_t old = c->head.len;
        buf_add(&c->head, p, n);
        char *end = memmem(c->head.p, c->head.len, "\r\n\r\n", 4);
        if (end == NULL) {
            if (c->head.len > 65536)
                sconn_finish(c, "response headers too long");
            return;
        }
        size_t hlen = (size_t)(end + 4 - c->head.p);
        if (c->head.len < 12 || memcmp(c->head.p + 9, "200", 3) != 0) {
            char why[200];
            size_t l = strcspn(c->head.p, "\r\n");
            const char *b = end + 4;
            snprintf(why, sizeof(why), "answered %.*s: %.80s", (int)(l < 60 ? l : 60), c->head.p, b);
            sconn_finish(c, why);
            return;
        }
        *end = '\0';
        c->chunked = strcasestr(c->head.p, "\r\ntransfer-encoding: chunked") != NULL;
        c->state = S_BODY;
        size_t body_off = hlen - old;
        if (body_off < n)
            body_feed(c, p + body_off, n - body_off);
        buf_free(&c->head);
        return;
    }
    body_feed(c, p, n);
}

static void sconn_event(sconn_t *c, uint32_t evs)
{
    if (c->state == S_DONE)
        return;
    if (c->state == S_CONNECTING && (evs & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
        int err = 0;
        socklen_t el = sizeof(err);
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
        if (err != 0) {
            sconn_finish(c, strerror(err));
            return;
        }
        c->state = S_HEADERS;
    }
    if ((evs & EPOLLOUT) && c->out.len > 0) {
        ssize_t w = write(c->fd, c->out.p, c->out.len);
        if (w < 0 && errno != EAGAIN && errno != EINTR) {
            sconn_finish(c, strerror(errno));
            return;
        }
        if (w > 0)
            buf_consume(&c->out, (size_t)w);
    }
    if (c->state != S_CONNECTING)
        set_out(c, c->out.len > 0);
    if (evs & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        ssize_t r = read(c->fd, rbuf, sizeof(rbuf));
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
            sconn_finish(c, r == 0 ? "the server closed the connection" : strerror(errno));
            return;
        }
        if (r > 0) {
            cur_mono = mono_ns();
            cur_real_us = real_us();
            sconn_input(c, rbuf, (size_t)r);
        }
    }
}

/* Runs the loop until done() or the deadline; returns false on the deadline. */
/* Called once per loop turn when set: does what is due, returns the ms until it next has something to do (-1: nothing). */
static int (*loop_hook)(void);

static bool run_loop(bool (*done)(void))
{
    static struct epoll_event evs[512];
    while (!done()) {
        int hook_ms = loop_hook != NULL ? loop_hook() : -1;
        uint64_t now = mono_ns();
        if (now > deadline_ns)
            return false;
        uint64_t left_ms = (deadline_ns - now) / 1000000 + 1;
        int timeout = left_ms < 100 ? (int)left_ms : 100;
        if (hook_ms >= 0 && hook_ms < timeout)
            timeout = hook_ms;
        int n = epoll_wait(epfd, evs, 512, timeout);
        if (n < 0 && errno != EINTR)
            die("epoll_wait: %s", strerror(errno));
        for (int i = 0; i < n; ++i)
            sconn_event(evs[i].data.ptr, evs[i].events);
    }
    return true;
}

static void close_all_conns(void)
{
    for (sconn_t *c = all_conns; c != NULL; c = c->next_all) {
        c->on_end = NULL;
        sconn_finish(c, NULL);
    }
}

static void free_all_conns(void)
{
    close_all_conns();
    while (all_conns != NULL) {
        sconn_t *c = all_conns;
        all_conns = c->next_all;
        free(c);
    }
}

/* One SSE block: its id (-1 when none), event name, first data line, or a comment / retry. */
typedef struct {
    int64_t id;
    const char *event, *data;
    size_t event_len, data_len;
    bool comment, retry;
    long retry_ms;
} block_t;

static void parse_block(const char *p, size_t n, block_t *b)
{
    memset(b, 0, sizeof(*b));
    b->id = -1;
    const char *end = p + n;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl != NULL ? nl : end;
        size_t len = (size_t)(le - p);
        if (len > 0 && p[0] == ':') {
            b->comment = true;
        } else if (len >= 3 && memcmp(p, "id:", 3) == 0) {
            b->id = strtoll(p + 3, NULL, 10);
        } else if (len >= 6 && memcmp(p, "event:", 6) == 0) {
            b->event = p + 6 + (len > 6 && p[6] == ' ');
            b->event_len = (size_t)(le - b->event);
        } else if (len >= 5 && memcmp(p, "data:", 5) == 0 && b->data == NULL) {
            b->data = p + 5 + (len > 5 && p[5] == ' ');
            b->data_len = (size_t)(le - b->data);
        } else if (len >= 6 && memcmp(p, "retry:", 6) == 0) {
            b->retry = true;
            b->retry_ms = strtol(p + 6, NULL, 10);
        }
        p = le + 1;
    }
}

static bool prefix(const char *p, size_t n, const char *s)
{
    size_t l = strlen(s);
    return n >= l && memcmp(p, s, l) == 0;
}

/* µs since the epoch of "timestamp":<seconds>.<micro> in an event's JSON; -1 when absent */
static int64_t event_ts_us(const char *data, size_t n)
{
    const char *t = memmem(data, n, "\"timestamp\":", 12);
    if (t == NULL)
        return -1;
    t += 12;
    char *e;
    long long secs = strtoll(t, &e, 10);
    int64_t us = (int64_t)secs * 1000000;
    if (*e == '.') {
        int64_t frac = 0;
        int digits = 0;
        for (++e; *e >= '0' && *e <= '9'; ++e)
            if (digits < 6) {
                frac = frac * 10 + (*e - '0');
                ++digits;
            }
        while (digits++ < 6)
            frac *= 10;
        us += frac;
    }
    return us;
}

/* ---- run subscribers (throughput, latency) ---- */

enum { DIRECT, RELAY };

typedef struct {
    int index, kind;
    char *run_id;
    sconn_t *c;
    int64_t last_id, final_id;
    uint64_t received, dups, missing, comments, behind, no_id;
    uint64_t t_open, t_first, t_last; /* first connection opened, first and last frame received */
    int64_t ts_first_us, ts_last_us;  /* the fake's timestamps of the first and last frame */
    bool done, failed, completed;
    int reconnects;
    int64_t first_cut_at;       /* frames received when the stream was first ended early (-1: never) */
    long retry_ms;              /* the stream's retry: */
    uint64_t reconnect_at;      /* honour_retry: when to reconnect (0: not waiting) */
    uint64_t t_cut, cut_gap_ns; /* when it last ended early; the time from such ends to the next frame, summed */
    int64_t *lat;               /* latency mode: µs per frame */
    size_t nlat;
} sub_t;

static sub_t *subs;
static int nsubs;
static int expected_frames;
static bool want_latency;

static void sub_block(sconn_t *c, const char *p, size_t n);
static void sub_end(sconn_t *c, const char *why);

static void sub_open(sub_t *s, int64_t after)
{
    char path[300], extra[64];
    if (s->t_open == 0)
        s->t_open = mono_ns();
    if (s->kind == DIRECT) {
        snprintf(path, sizeof(path), "/v1/runs/%s/events", s->run_id);
        s->c = sconn_open(opt.fake_port, path, opt.key, NULL, s, sub_block, sub_end);
    } else {
        snprintf(path, sizeof(path), "/api/v1/runs/%s/events", s->run_id);
        snprintf(extra, sizeof(extra), "Last-Event-ID: %" PRId64, after);
        s->c = sconn_open(opt.port, path, opt.token, after > 0 ? extra : NULL, s, sub_block, sub_end);
    }
}

static void sub_block(sconn_t *c, const char *p, size_t n)
{
    sub_t *s = c->owner;
    block_t b;
    parse_block(p, n, &b);
    if (b.comment && b.data == NULL) {
        ++s->comments;
        if (memmem(p, n, "behind", 6) != NULL)
            ++s->behind;
        return;
    }
    if (b.retry)
        s->retry_ms = b.retry_ms;
    if (b.data == NULL)
        return; /* retry: */
    if (s->done) {
        ++s->dups; /* anything after the terminal frame */
        return;
    }
    int64_t id = b.id;
    if (s->kind == DIRECT) {
        id = s->last_id + 1; /* the upstream's frames carry no id */
    } else if (id < 0) {
        ++s->no_id;
        return;
    }
    if (id <= s->last_id) {
        ++s->dups;
        return;
    }
    if (id > s->last_id + 1)
        s->missing += (uint64_t)(id - s->last_id - 1);
    s->last_id = id;
    ++s->received;
    if (s->t_cut != 0) {
        s->cut_gap_ns += cur_mono - s->t_cut;
        s->t_cut = 0;
    }
    if (s->t_first == 0)
        s->t_first = cur_mono;
    s->t_last = cur_mono;
    int64_t ts = event_ts_us(b.data, b.data_len);
    if (ts > 0) {
        if (s->ts_first_us == 0)
            s->ts_first_us = ts;
        s->ts_last_us = ts;
        if (want_latency && s->nlat < (size_t)expected_frames + 16)
            s->lat[s->nlat++] = cur_real_us - ts;
    }
    if (prefix(b.data, b.data_len, "{\"event\":\"run.completed\"") || prefix(b.data, b.data_len, "{\"event\":\"run.failed\"") ||
        prefix(b.data, b.data_len, "{\"event\":\"run.cancelled\"")) {
        s->done = true;
        s->completed = prefix(b.data, b.data_len, "{\"event\":\"run.completed\"");
        s->final_id = id;
    }
}

static void sub_end(sconn_t *c, const char *why)
{
    sub_t *s = c->owner;
    if (s->c == c)
        s->c = NULL;
    if (s->done || why == NULL)
        return;
    if (s->kind == RELAY && s->reconnects < MAX_RECONNECTS &&
        (strcmp(why, "the response ended") == 0 || strcmp(why, "the server closed the connection") == 0)) {
        ++s->reconnects; /* as a phone does: resume after the last id seen (at once: an EventSource would wait retry:) */
        if (s->first_cut_at < 0)
            s->first_cut_at = (int64_t)s->received;
        s->t_cut = mono_ns();
        if (opt.honour_retry && s->retry_ms > 0)
            s->reconnect_at = s->t_cut + (uint64_t)s->retry_ms * 1000000u; /* sub_reconnect_due opens it */
        else
            sub_open(s, s->last_id);
        return;
    }
    s->failed = true;
    fail("subscriber %d (%s, run %s): %s after %" PRIu64 " frames", s->index, s->kind == DIRECT ? "direct" : "relay", s->run_id,
         why, s->received);
}

/* loop_hook: reconnects the subscribers whose retry: delay is over */
static int sub_reconnect_due(void)
{
    uint64_t now = mono_ns(), next = 0;
    for (int i = 0; i < nsubs; ++i) {
        sub_t *s = &subs[i];
        if (s->reconnect_at == 0)
            continue;
        if (s->reconnect_at <= now) {
            s->reconnect_at = 0;
            sub_open(s, s->last_id);
        } else if (next == 0 || s->reconnect_at < next) {
            next = s->reconnect_at;
        }
    }
    return next == 0 ? -1 : (int)((next - now) / 1000000 + 1);
}

static bool subs_done(void)
{
    for (int i = 0; i < nsubs; ++i)
        if (!subs[i].done && !subs[i].failed)
            return false;
    return true;
}

static void subs_free(void)
{
    for (int i = 0; i < nsubs; ++i) {
        free(subs[i].run_id);
        free(subs[i].lat);
    }
    free(subs);
    subs = NULL;
    nsubs = 0;
}

static bconn_t daemon_bc = {.fd = -1}, fake_bc = {.fd = -1};

static char *input_text(const char *scenario)
{
    char *s = NULL;
    if (asprintf(&s, "{\"input\":\"[[fake:%s]] bench/proxy\",\"conversation_history\":[]}", scenario) < 0)
        die("out of memory");
    return s;
}

/* POSTs a run (to HermesLink or to the fake); returns its id; sets *t_answer. */
static char *post_run(int kind, const char *scenario, uint64_t *t_answer)
{
    char *body = input_text(scenario), *resp = NULL;
    int st = kind == RELAY ? bc_request(&daemon_bc, "POST", "/api/v1/runs", opt.token, body, &resp, 10)
                           : bc_request(&fake_bc, "POST", "/v1/runs", opt.key, body, &resp, 10);
    *t_answer = mono_ns();
    free(body);
    char *id = json_str(resp, "run_id");
    if (st != 202 || id == NULL)
        die("POST %s answered %d: %.300s", kind == RELAY ? "/api/v1/runs" : "/v1/runs (fake)", st, resp != NULL ? resp : "");
    free(resp);
    return id;
}

static void subs_new(int n)
{
    subs = xcalloc((size_t)n, sizeof(*subs));
    nsubs = n;
    for (int i = 0; i < n; ++i) {
        subs[i].index = i;
        subs[i].first_cut_at = -1;
        if (want_latency)
            subs[i].lat = xmalloc(sizeof(int64_t) * ((size_t)expected_frames + 16));
    }
}

/* Checks each subscriber's frames; returns the number of bad ones. */
static int subs_check(const char *label)
{
    int bad = 0;
    for (int i = 0; i < nsubs; ++i) {
        sub_t *s = &subs[i];
        if (s->failed) {
            ++bad;
            continue;
        }
        if (!s->done) {
            fail("%s: subscriber %d did not finish (%" PRIu64 " frames, last id %" PRId64 ")", label, i, s->received, s->last_id);
            ++bad;
        } else if (s->missing > 0 || s->dups > 0 || s->no_id > 0 || s->final_id != expected_frames ||
                   s->received != (uint64_t)expected_frames || !s->completed) {
            fail("%s: subscriber %d: %" PRIu64 " frames, final id %" PRId64 " (expected %d), missing %" PRIu64
                 ", duplicates %" PRIu64 ", without id %" PRIu64 ", terminal %s",
                 label, i, s->received, s->final_id, expected_frames, s->missing, s->dups, s->no_id,
                 s->completed ? "run.completed" : "not run.completed");
            ++bad;
        }
    }
    return bad;
}

/* ---- throughput ---- */

static void throughput(void)
{
    loop_hook = sub_reconnect_due;
    expected_frames = opt.deltas + 2;
    char scenario[128];
    snprintf(scenario, sizeof(scenario), "stream;deltas=%d;gap_ms=0", opt.deltas);
    printf("scenario=%s\nsubs=%d\nrounds=%d\nexpected_frames=%d\nhonour_retry=%d\n", scenario, opt.subs, opt.rounds,
           expected_frames, opt.honour_retry);
    double *direct_eps = xcalloc((size_t)opt.rounds, sizeof(double)), *relay_eps = xcalloc((size_t)opt.rounds, sizeof(double));
    double *relay_agg = xcalloc((size_t)opt.rounds, sizeof(double)), *ratios = xcalloc((size_t)opt.rounds, sizeof(double));
    double *direct_open_eps = xcalloc((size_t)opt.rounds, sizeof(double)),
           *relay_open_eps = xcalloc((size_t)opt.rounds, sizeof(double));
    for (int r = 1; r <= opt.rounds; ++r) {
        char px[64];
        /* (a) the reference: one subscriber straight at the fake */
        uint64_t t_post = mono_ns(), t_202;
        subs_new(1);
        subs[0].kind = DIRECT;
        subs[0].run_id = post_run(DIRECT, scenario, &t_202);
        sub_open(&subs[0], 0);
        cpu_mark_t a = cpu_mark();
        if (!run_loop(subs_done))
            fail("round %d direct: the deadline passed", r);
        cpu_mark_t b = cpu_mark();
        int bad = subs_check("direct");
        sub_t *s = &subs[0];
        double span = (double)(s->t_last - s->t_first) / 1e9;
        direct_eps[r - 1] = span > 0 ? (double)s->received / span : 0;
        snprintf(px, sizeof(px), "direct_r%d", r);
        printf("%s_frames=%" PRIu64 "\n%s_bad=%d\n%s_first_to_last_s=%.3f\n%s_events_per_s=%.0f\n%s_post_to_last_s=%.3f\n"
               "%s_post_to_202_ms=%.2f\n",
               px, s->received, px, bad, px, span, px, direct_eps[r - 1], px, (double)(s->t_last - t_post) / 1e9, px,
               (double)(t_202 - t_post) / 1e6);
        double prod = (double)(s->ts_last_us - s->ts_first_us) / 1e6;
        printf("%s_fake_production_s=%.3f\n%s_fake_production_events_per_s=%.0f\n", px, prod, px,
               prod > 0 ? (double)s->received / prod : 0);
        double from_open = (double)(s->t_last - s->t_open) / 1e9;
        direct_open_eps[r - 1] = from_open > 0 ? (double)s->received / from_open : 0;
        printf("%s_open_to_last_events_per_s=%.0f\n", px, direct_open_eps[r - 1]);
        cpu_print(px, a, b);
        fprintf(stderr, "proxy: round %d direct: %" PRIu64 " frames in %.3f s = %.0f events/s (the fake produced them in %.3f s)\n",
                r, s->received, span, direct_eps[r - 1], prod);
        close_all_conns();
        subs_free();

        /* (b) the relay: N subscribers of HermesLink's /api/v1/runs/<id>/events */
        t_post = mono_ns();
        subs_new(opt.subs);
        char *run_id = post_run(RELAY, scenario, &t_202);
        for (int i = 0; i < nsubs; ++i) {
            subs[i].kind = RELAY;
            subs[i].run_id = strdup(run_id);
            sub_open(&subs[i], 0);
        }
        a = cpu_mark();
        if (!run_loop(subs_done))
            fail("round %d relay: the deadline passed", r);
        b = cpu_mark();
        bad = subs_check("relay");
        uint64_t first = UINT64_MAX, last = 0, total = 0, behind = 0, gap_ns = 0;
        int reconnects = 0, reconnects_max = 0;
        int64_t first_cut_min = -1;
        double *rates = xcalloc((size_t)nsubs, sizeof(double)), *open_rates = xcalloc((size_t)nsubs, sizeof(double));
        int64_t *done_us = xcalloc((size_t)nsubs, sizeof(int64_t));
        for (int i = 0; i < nsubs; ++i) {
            s = &subs[i];
            if (s->t_first != 0 && s->t_first < first)
                first = s->t_first;
            if (s->t_last > last)
                last = s->t_last;
            total += s->received;
            reconnects += s->reconnects;
            reconnects_max = s->reconnects > reconnects_max ? s->reconnects : reconnects_max;
            if (s->first_cut_at >= 0 && (first_cut_min < 0 || s->first_cut_at < first_cut_min))
                first_cut_min = s->first_cut_at;
            gap_ns += s->cut_gap_ns;
            behind += s->behind;
            double sp = (double)(s->t_last - s->t_first) / 1e9, so = (double)(s->t_last - s->t_open) / 1e9;
            rates[i] = sp > 0 ? (double)s->received / sp : 0;
            open_rates[i] = so > 0 ? (double)s->received / so : 0;
            done_us[i] = s->done ? (int64_t)(s->t_last - t_202) / 1000 : 0;
        }
        span = last > first ? (double)(last - first) / 1e9 : 0;
        relay_agg[r - 1] = span > 0 ? (double)total / span : 0;
        snprintf(px, sizeof(px), "relay_r%d", r);
        double rate_min = rates[0];
        for (int i = 1; i < nsubs; ++i)
            rate_min = rates[i] < rate_min ? rates[i] : rate_min;
        double rate_med = median(rates, (size_t)nsubs), open_min = open_rates[0];
        for (int i = 1; i < nsubs; ++i)
            open_min = open_rates[i] < open_min ? open_rates[i] : open_min;
        relay_open_eps[r - 1] = median(open_rates, (size_t)nsubs);
        printf("relay_r%d_sub_open_to_last_events_per_s_median=%.0f\nrelay_r%d_sub_open_to_last_events_per_s_min=%.0f\n", r,
               relay_open_eps[r - 1], r, open_min);
        relay_eps[r - 1] = rate_med;
        ratios[r - 1] = direct_eps[r - 1] > 0 ? rate_med / direct_eps[r - 1] : 0;
        printf("%s_run=%s\n%s_deliveries=%" PRIu64 "\n%s_bad_subs=%d\n%s_first_to_last_s=%.3f\n%s_deliveries_per_s=%.0f\n"
               "%s_sub_events_per_s_median=%.0f\n%s_sub_events_per_s_min=%.0f\n%s_reconnects=%d\n%s_reconnects_max=%d\n"
               "%s_behind_comments=%" PRIu64 "\n%s_first_cut_after_frames=%" PRId64 "\n%s_reconnect_gap_ms_total=%.1f\n"
               "%s_post_to_202_ms=%.2f\n",
               px, run_id, px, total, px, bad, px, span, px, relay_agg[r - 1], px, rate_med, px, rate_min, px, reconnects, px,
               reconnects_max, px, behind, px, first_cut_min, px, (double)gap_ns / 1e6, px, (double)(t_202 - t_post) / 1e6);
        char dx[128];
        snprintf(dx, sizeof(dx), "%s_sub_done_after_202", px);
        dist_print(dx, done_us, (size_t)nsubs);
        cpu_print(px, a, b);
        fprintf(stderr,
                "proxy: round %d relay: %d subscriber(s), %" PRIu64
                " deliveries in %.3f s = %.0f/s (per subscriber median %.0f, min %.0f "
                "events/s), %d reconnects, %d bad\n",
                r, nsubs, total, span, relay_agg[r - 1], rate_med, rate_min, reconnects, bad);
        free(rates);
        free(open_rates);
        free(done_us);
        free(run_id);
        close_all_conns();
        subs_free();
    }
    printf("direct_events_per_s=%.0f\nrelay_sub_events_per_s=%.0f\nrelay_deliveries_per_s=%.0f\nrelay_over_direct=%.3f\n",
           median(direct_eps, (size_t)opt.rounds), median(relay_eps, (size_t)opt.rounds), median(relay_agg, (size_t)opt.rounds),
           median(ratios, (size_t)opt.rounds));
    printf("direct_open_to_last_events_per_s=%.0f\nrelay_sub_open_to_last_events_per_s=%.0f\n",
           median(direct_open_eps, (size_t)opt.rounds), median(relay_open_eps, (size_t)opt.rounds));
    free(direct_open_eps);
    free(relay_open_eps);

    free(direct_eps);
    free(relay_eps);
    free(relay_agg);
    free(ratios);
}

/* ---- latency ---- */

static void latency(void)
{
    want_latency = true;
    expected_frames = opt.deltas + 2;
    int gap = opt.gap_ms >= 0 ? opt.gap_ms : 1;
    char scenario[160];
    snprintf(scenario, sizeof(scenario), "slow;first_delay_ms=%d;deltas=%d;gap_ms=%d", opt.first_delay_ms, opt.deltas, gap);
    printf("scenario=%s\nexpected_frames=%d\n", scenario, expected_frames);
    subs_new(2);
    uint64_t t0;
    subs[0].kind = DIRECT;
    subs[0].run_id = post_run(DIRECT, scenario, &t0);
    sub_open(&subs[0], 0);
    subs[1].kind = RELAY;
    subs[1].run_id = post_run(RELAY, scenario, &t0);
    sub_open(&subs[1], 0);
    cpu_mark_t a = cpu_mark();
    if (!run_loop(subs_done))
        fail("latency: the deadline passed");
    cpu_mark_t b = cpu_mark();
    int bad = subs_check("latency");
    printf("bad_subs=%d\n", bad);
    /* the fake's real pacing, from its own timestamps (the deltas only: the first frame comes after the delay) */
    sub_t *d = &subs[0];
    double prod = (double)(d->ts_last_us - d->ts_first_us) / 1e6;
    printf("fake_pacing_events_per_s=%.0f\nfake_stream_s=%.3f\n", prod > 0 ? (double)(d->received - 1) / prod : 0, prod);
    int64_t p99[2], p50[2];
    for (int k = 0; k < 2; ++k) {
        sub_t *s = &subs[k];
        const char *px = k == 0 ? "direct_lat" : "relay_lat";
        int64_t *v = xmalloc(sizeof(int64_t) * (s->nlat ? s->nlat : 1));
        memcpy(v, s->lat, sizeof(int64_t) * s->nlat);
        qsort(v, s->nlat, sizeof(*v), cmp_i64);
        p99[k] = pct(v, s->nlat, 99);
        p50[k] = pct(v, s->nlat, 50);
        dist_print(px, v, s->nlat);
        free(v);
        printf("%s_reconnects=%d\n%s_missing=%" PRIu64 "\n", k == 0 ? "direct" : "relay", s->reconnects,
               k == 0 ? "direct" : "relay", s->missing);
    }
    printf("added_p50_ms=%.3f\nadded_p99_ms=%.3f\n", (double)(p50[1] - p50[0]) / 1000, (double)(p99[1] - p99[0]) / 1000);
    cpu_print("latency", a, b);
    fprintf(
        stderr,
        "proxy: latency: pacing %.0f events/s; p50 direct %.3f relay %.3f ms; p99 direct %.3f relay %.3f ms; added p99 %.3f ms\n",
        prod > 0 ? (double)(d->received - 1) / prod : 0, (double)p50[0] / 1000, (double)p50[1] / 1000, (double)p99[0] / 1000,
        (double)p99[1] / 1000, (double)(p99[1] - p99[0]) / 1000);
    close_all_conns();
    subs_free();
}

/* ---- conversations with a bootstrap probe ---- */

typedef struct {
    int index;
    char *id;
    sconn_t *c;
    bool opened, done, completed;
    uint64_t t_sent, t_end, updates, events;
    int64_t post_us;
} conv_t;

static conv_t *convs;

static void conv_block(sconn_t *c, const char *p, size_t n)
{
    conv_t *v = c->owner;
    block_t b;
    parse_block(p, n, &b);
    if (b.retry) {
        v->opened = true;
        return;
    }
    if (b.event == NULL)
        return;
    ++v->events;
    if (prefix(b.event, b.event_len, "message.updated") && b.event_len == 15)
        ++v->updates;
    bool completed = b.event_len == 13 && prefix(b.event, b.event_len, "run.completed");
    if (completed || (b.event_len == 10 && prefix(b.event, b.event_len, "run.failed")) ||
        (b.event_len == 13 && prefix(b.event, b.event_len, "run.cancelled"))) {
        if (!v->done && v->t_sent != 0) {
            v->done = true;
            v->completed = completed;
            v->t_end = cur_mono;
            if (!completed)
                fail("conversation %s: the run ended with %.*s: %.300s", v->id, (int)b.event_len, b.event,
                     b.data != NULL ? b.data : "");
        }
    }
}

static void conv_end(sconn_t *c, const char *why)
{
    conv_t *v = c->owner;
    if (v->c == c)
        v->c = NULL;
    if (why != NULL && !v->done) {
        fail("conversation %s: its event stream ended: %s", v->id, why);
        v->done = true;
    }
}

static bool convs_opened(void)
{
    for (int i = 0; i < opt.convs; ++i)
        if (!convs[i].opened && convs[i].c != NULL)
            return false;
    return true;
}

static bool convs_done(void)
{
    for (int i = 0; i < opt.convs; ++i)
        if (!convs[i].done)
            return false;
    return true;
}

static atomic_int probe_phase; /* 0 before, 1 during, 2 stop */
static int64_t *probe_us[2];
static size_t probe_n[2], probe_cap = 400000;
static int probe_errors;

static void *probe_main(void *arg)
{
    (void)arg;
    bconn_t bc = {.fd = -1, .port = opt.port};
    uint64_t interval = (uint64_t)opt.boot_interval_ms * 1000000u, next = mono_ns();
    for (;;) {
        int ph = atomic_load(&probe_phase);
        if (ph >= 2)
            break;
        uint64_t now = mono_ns();
        if (now < next) {
            struct timespec ts = {.tv_sec = (time_t)((next - now) / 1000000000u), .tv_nsec = (long)((next - now) % 1000000000u)};
            nanosleep(&ts, NULL);
            continue;
        }
        ph = atomic_load(&probe_phase);
        uint64_t t0 = mono_ns();
        char *body = NULL;
        int st = bc_request(&bc, "GET", "/api/v1/bootstrap", NULL, NULL, &body, 10);
        uint64_t t1 = mono_ns();
        free(body);
        if (st != 200) {
            ++probe_errors;
            if (probe_errors <= 3)
                fprintf(stderr, "proxy: GET /api/v1/bootstrap answered %d\n", st);
        } else if (ph < 2 && probe_n[ph] < probe_cap) {
            probe_us[ph][probe_n[ph]++] = (int64_t)(t1 - t0) / 1000;
        }
        next += interval;
        if (next < t1)
            next = t1; /* late: the next one at once, no catch-up burst */
    }
    if (bc.fd >= 0)
        close(bc.fd);
    buf_free(&bc.in);
    return NULL;
}

static bool never(void)
{
    return false;
}

static void conv_mode(void)
{
    int gap = opt.gap_ms >= 0 ? opt.gap_ms : 20;
    char scenario[128];
    snprintf(scenario, sizeof(scenario), "stream;deltas=%d;gap_ms=%d", opt.deltas, gap);
    printf("scenario=%s\nconvs=%d\nboot_interval_ms=%d\n", scenario, opt.convs, opt.boot_interval_ms);
    convs = xcalloc((size_t)opt.convs, sizeof(*convs));
    for (int i = 0; i < opt.convs; ++i) {
        char body[128], *resp = NULL;
        snprintf(body, sizeof(body), "{\"title\":\"bench/proxy %d\"}", i);
        int st = bc_request(&daemon_bc, "POST", "/api/v1/conversations", opt.token, body, &resp, 10);
        convs[i].index = i;
        convs[i].id = json_str(resp, "id");
        if (st != 201 || convs[i].id == NULL || strncmp(convs[i].id, "conv_", 5) != 0)
            die("POST /api/v1/conversations answered %d: %.300s", st, resp != NULL ? resp : "");
        free(resp);
    }
    for (int i = 0; i < opt.convs; ++i) {
        char path[200];
        snprintf(path, sizeof(path), "/api/v1/conversations/%s/events", convs[i].id);
        convs[i].c = sconn_open(opt.port, path, opt.token, NULL, &convs[i], conv_block, conv_end);
    }
    if (!run_loop(convs_opened))
        die("the conversation event streams did not open in time");

    for (int k = 0; k < 2; ++k)
        probe_us[k] = xmalloc(sizeof(int64_t) * probe_cap);
    pthread_t th;
    atomic_store(&probe_phase, 0);
    cpu_mark_t a = cpu_mark();
    if (pthread_create(&th, NULL, probe_main, NULL) != 0)
        die("pthread_create failed");
    /* before: the streams are open and idle */
    uint64_t saved = deadline_ns;
    deadline_ns = mono_ns() + (uint64_t)opt.baseline_ms * 1000000u;
    run_loop(never);
    deadline_ns = saved;
    cpu_mark_t b = cpu_mark();
    atomic_store(&probe_phase, 1);

    /* during: one message per conversation, then until every run has ended */
    uint64_t t_first_send = mono_ns();
    int64_t *post_us = xcalloc((size_t)opt.convs, sizeof(int64_t));
    int posted = 0;
    for (int i = 0; i < opt.convs && !past_deadline(); ++i) {
        char path[200], body[256], *resp = NULL;
        snprintf(path, sizeof(path), "/api/v1/conversations/%s/messages", convs[i].id);
        snprintf(body, sizeof(body), "{\"content\":\"[[fake:%s]] bench/proxy message %d\"}", scenario, i);
        uint64_t t0 = mono_ns();
        convs[i].t_sent = t0;
        int st = bc_request(&daemon_bc, "POST", path, opt.token, body, &resp, 10);
        post_us[posted++] = (int64_t)(mono_ns() - t0) / 1000;
        if (st != 202) {
            fail("POST %s answered %d: %.300s", path, st, resp != NULL ? resp : "");
            convs[i].done = true;
        }
        free(resp);
    }
    uint64_t t_last_send = mono_ns();
    if (!run_loop(convs_done))
        fail("conv: the deadline passed with runs still streaming");
    uint64_t t_end = mono_ns();
    atomic_store(&probe_phase, 2);
    cpu_mark_t c = cpu_mark();
    pthread_join(th, NULL);

    int completed = 0, ended = 0;
    uint64_t updates = 0;
    int64_t *run_us = xcalloc((size_t)opt.convs, sizeof(int64_t));
    size_t nrun = 0;
    for (int i = 0; i < opt.convs; ++i) {
        completed += convs[i].completed;
        ended += convs[i].done;
        updates += convs[i].updates;
        if (convs[i].completed)
            run_us[nrun++] = (int64_t)(convs[i].t_end - convs[i].t_sent) / 1000;
    }
    if (completed != opt.convs)
        fail("conv: %d of %d runs completed", completed, opt.convs);
    printf("runs_completed=%d\nruns_ended=%d\nmessage_updated_events=%" PRIu64 "\nprobe_errors=%d\n", completed, ended, updates,
           probe_errors);
    printf("posts_span_ms=%.1f\nduring_s=%.3f\n", (double)(t_last_send - t_first_send) / 1e6, (double)(t_end - t_first_send) / 1e9);
    dist_print("message_post", post_us, (size_t)posted);
    dist_print("run_duration", run_us, nrun);
    int64_t before_p99 = 0, during_p99 = 0;
    for (int k = 0; k < 2; ++k) {
        qsort(probe_us[k], probe_n[k], sizeof(int64_t), cmp_i64);
        *(k == 0 ? &before_p99 : &during_p99) = pct(probe_us[k], probe_n[k], 99);
        dist_print(k == 0 ? "boot_before" : "boot_during", probe_us[k], probe_n[k]);
    }
    cpu_print("before", a, b);
    cpu_print("during", b, c);
    fprintf(stderr,
            "proxy: conv: %d/%d runs completed, %" PRIu64
            " message.updated; bootstrap p99 before %.3f ms (%zu), during %.3f ms (%zu)\n",
            completed, opt.convs, updates, (double)before_p99 / 1000, probe_n[0], (double)during_p99 / 1000, probe_n[1]);
    free(post_us);
    free(run_us);
    for (int k = 0; k < 2; ++k)
        free(probe_us[k]);
    close_all_conns();
    for (int i = 0; i < opt.convs; ++i)
        free(convs[i].id);
    free(convs);
}

/* ---- main ---- */

static void usage(void)
{
    fprintf(stderr, "usage: proxy throughput|latency|conv --port P --token T [--fake-port F --key K] [--subs N] [--deltas D]\n"
                    "             [--rounds R] [--gap-ms G] [--first-delay-ms F] [--convs C] [--boot-interval-ms I]\n"
                    "             [--baseline-ms B] [--honour-retry] [--daemon-pid PID] [--fake-pid PID]\n"
                    "             [--deadline-s S]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        usage();
    opt.mode = argv[1];
    static const struct option longs[] = {{"port", 1, 0, 'p'},
                                          {"token", 1, 0, 't'},
                                          {"fake-port", 1, 0, 'f'},
                                          {"key", 1, 0, 'k'},
                                          {"subs", 1, 0, 's'},
                                          {"deltas", 1, 0, 'd'},
                                          {"rounds", 1, 0, 'r'},
                                          {"gap-ms", 1, 0, 'g'},
                                          {"first-delay-ms", 1, 0, 'F'},
                                          {"convs", 1, 0, 'c'},
                                          {"boot-interval-ms", 1, 0, 'i'},
                                          {"baseline-ms", 1, 0, 'b'},
                                          {"honour-retry", 0, 0, 'R'},
                                          {"daemon-pid", 1, 0, 'D'},
                                          {"fake-pid", 1, 0, 'P'},
                                          {"deadline-s", 1, 0, 'T'},
                                          {0, 0, 0, 0}};
    int ch;
    optind = 2;
    while ((ch = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (ch) {
        case 'p':
            opt.port = atoi(optarg);
            break;
        case 't':
            opt.token = optarg;
            break;
        case 'f':
            opt.fake_port = atoi(optarg);
            break;
        case 'k':
            opt.key = optarg;
            break;
        case 's':
            opt.subs = atoi(optarg);
            break;
        case 'd':
            opt.deltas = atoi(optarg);
            break;
        case 'r':
            opt.rounds = atoi(optarg);
            break;
        case 'g':
            opt.gap_ms = atoi(optarg);
            break;
        case 'F':
            opt.first_delay_ms = atoi(optarg);
            break;
        case 'c':
            opt.convs = atoi(optarg);
            break;
        case 'i':
            opt.boot_interval_ms = atoi(optarg);
            break;
        case 'b':
            opt.baseline_ms = atoi(optarg);
            break;
        case 'D':
            opt.daemon_pid = atoi(optarg);
            break;
        case 'P':
            opt.fake_pid = atoi(optarg);
            break;
        case 'T':
            opt.deadline_s = atof(optarg);
            break;
        case 'R':
            opt.honour_retry = true;
            break;
        default:
            usage();
        }
    }
    bool needs_fake = strcmp(opt.mode, "conv") != 0;
    if (opt.port <= 0 || opt.token == NULL || (needs_fake && (opt.fake_port <= 0 || opt.key == NULL)) || opt.subs < 1 ||
        opt.deltas < 1 || opt.rounds < 1 || opt.convs < 1 || opt.boot_interval_ms < 0)
        usage();
    signal(SIGPIPE, SIG_IGN);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0)
        die("epoll_create1: %s", strerror(errno));
    daemon_bc.port = opt.port;
    fake_bc.port = opt.fake_port;
    deadline_ns = mono_ns() + (uint64_t)(opt.deadline_s * 1e9);
    printf("mode=%s\n", opt.mode);
    if (strcmp(opt.mode, "throughput") == 0)
        throughput();
    else if (strcmp(opt.mode, "latency") == 0)
        latency();
    else if (strcmp(opt.mode, "conv") == 0)
        conv_mode();
    else
        usage();
    printf("failures=%d\n", failures);
    free_all_conns();
    if (daemon_bc.fd >= 0)
        close(daemon_bc.fd);
    if (fake_bc.fd >= 0)
        close(fake_bc.fd);
    buf_free(&daemon_bc.in);
    buf_free(&fake_bc.in);
    close(epfd);
    return failures > 0 ? 1 : 0;
}
