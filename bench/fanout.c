/*
 * bench/fanout: SSE fan-out benchmark client (issue 4).
 *
 * Opens C streams on GET /api/v1/conversations/events (HTTP/1.1: one connection per stream; h2c with prior knowledge:
 * M streams per connection), waits until every stream has received its opening `retry:` frame, lets them sit idle, then
 * triggers K events with real `PATCH /api/v1/conversations/<id>/title` requests on P keep-alive HTTP/1.1 connections
 * (as fast as possible, or paced at R events/s). Each title carries the event's index ("FANOUT:<index>:<nonce>"); the
 * client records the CLOCK_MONOTONIC time at which it wrote each PATCH and the time at which it read each delivered
 * frame, so every (stream, event) pair has a request→delivery latency measured in this one process.
 *
 * Checks: every stream gets every event exactly once; the `id:` values a stream sees are strictly increasing and
 * contiguous; every stream sees the events in the same order. Reads the daemon's VmRSS (/proc/<pid>/status) before the
 * streams open, once they are open and idle, and after the run; and the CPU time of the daemon, of this client and of
 * the rest of the machine during the event phase.
 *
 * Output: `key=value` lines on stdout (read by bench/fanout.sh), a readable summary on stderr. Exit status 0 when every
 * delivery arrived and every check passed, 1 otherwise, 2 on usage or set-up errors.
 *
 * Build: cc -O2 -std=c17 -D_GNU_SOURCE -o fanout bench/fanout.c   (no library beyond libc)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define BENCH_NAME "fanout"
#include "bench_util.h"

#define NOT_RECEIVED UINT32_MAX
#define READ_BUF (256 * 1024)

/* ---- options ---- */

static struct {
    const char *host;
    int port;
    const char *token;
    const char *conv;
    int streams;       /* C */
    int events;        /* K */
    bool h2;           /* h2c prior knowledge instead of HTTP/1.1 */
    int per_conn;      /* h2: streams per connection */
    double rate;       /* events/s; 0 = as fast as the PATCH connections allow */
    int patch_conns;   /* P */
    int daemon_pid;    /* for VmRSS and CPU; 0 = skip */
    int idle_ms;       /* how long the open streams sit idle before the idle RSS reading and the events */
    int open_parallel; /* connections being set up at once */
    int drain_ms;      /* how long to wait for missing deliveries after the last PATCH answered */
    const char *nonce;
    int h1_extra;       /* HTTP/1.1 streams opened next to the --streams ones (mixed runs: h2c and HTTP/1.1 at once) */
    int source_addrs;   /* bind the client sockets to 127.0.0.1 .. 127.0.0.N in turn (more ephemeral ports); 1 = no bind */
    int open_timeout_s; /* how long opening every stream may take */
} opt = {.host = "127.0.0.1",
         .streams = 1000,
         .events = 200,
         .per_conn = 100,
         .patch_conns = 4,
         .idle_ms = 1000,
         .open_parallel = 256,
         .drain_ms = 10000,
         .nonce = "x",
         .source_addrs = 1,
         .open_timeout_s = 60};

/* ---- results ---- */

static uint32_t *lat_us;    /* [stream * K + event]: request→delivery in µs, NOT_RECEIVED until it arrives */
static uint64_t *send_ns;   /* [event]: when its PATCH was written */
static uint64_t *answer_ns; /* [event]: when its PATCH response was complete */
static int32_t *order_ref;  /* [k]: the event index the first stream to get its k-th event got */
static uint64_t delivered, duplicates, gaps, reorders, order_mismatches, foreign_events, heartbeats, protocol_errors;
static uint64_t first_delivery_ns, last_delivery_ns;
static int64_t ref_first_id = -1;
static int streams_open, streams_failed;

/* ---- SSE consumer, one per stream ---- */

typedef struct {
    int index;
    int conn;    /* index of its connection in conns[] */
    bool opened; /* `retry:` seen */
    bool failed;
    int received;
    int64_t last_id;
    char *buf;
    size_t len, cap;
} sse_t;

static sse_t *streams;
static int num_streams_total;
static int h2_streams; /* streams[0 .. h2_streams-1] are on h2c connections, the rest on HTTP/1.1 */
static void stream_settled(sse_t *s);

static void stream_fail(sse_t *s, const char *why)
{
    if (s->failed)
        return;
    s->failed = true;
    ++streams_failed;
    if (!s->opened)
        stream_settled(s);
    if (streams_failed <= 5)
        fprintf(stderr, "fanout: stream %d failed: %s\n", s->index, why);
}

/* One complete SSE block (without the blank line). */
static void sse_event(sse_t *s, const char *p, size_t n, uint64_t now)
{
    if (n >= 6 && memcmp(p, "retry:", 6) == 0) {
        if (!s->opened && !s->failed) {
            s->opened = true;
            ++streams_open;
            stream_settled(s);
        }
        return;
    }
    if (n >= 1 && p[0] == ':') {
        ++heartbeats;
        return;
    }
    int64_t id = -1;
    if (n >= 4 && memcmp(p, "id: ", 4) == 0)
        id = strtoll(p + 4, NULL, 10);
    const char *m = memmem(p, n, "\"FANOUT:", 8);
    if (m == NULL || id < 0) {
        ++foreign_events;
        return;
    }
    long idx = strtol(m + 8, NULL, 10);
    if (idx < 0 || idx >= opt.events) {
        ++foreign_events;
        return;
    }
    uint32_t *slot = &lat_us[(size_t)s->index * (size_t)opt.events + (size_t)idx];
    if (*slot != NOT_RECEIVED) {
        ++duplicates;
        return;
    }
    uint64_t d = (now - send_ns[idx]) / 1000;
    *slot = d >= NOT_RECEIVED ? NOT_RECEIVED - 1 : (uint32_t)d;
    ++delivered;
    if (first_delivery_ns == 0)
        first_delivery_ns = now;
    last_delivery_ns = now;
    if (s->received == 0) {
        if (ref_first_id < 0)
            ref_first_id = id;
        else if (id != ref_first_id)
            ++order_mismatches;
    } else if (id <= s->last_id) {
        ++reorders;
    } else if (id != s->last_id + 1) {
        ++gaps;
    }
    s->last_id = id;
    int k = s->received++;
    if (order_ref[k] < 0)
        order_ref[k] = (int32_t)idx;
    else if (order_ref[k] != idx)
        ++order_mismatches;
}

/* Feeds body bytes of a stream; splits on blank lines. */
static void sse_feed(sse_t *s, const char *p, size_t n, uint64_t now)
{
    if (s->len == 0) {
        /* fast path: parse complete blocks in place, keep only the tail */
        for (;;) {
            const char *end = memmem(p, n, "\n\n", 2);
            if (end == NULL)
                break;
            sse_event(s, p, (size_t)(end - p), now);
            n -= (size_t)(end + 2 - p);
            p = end + 2;
        }
        if (n == 0)
            return;
    }
    if (s->len + n > s->cap) {
        s->cap = (s->len + n) * 2;
        s->buf = xrealloc(s->buf, s->cap);
    }
    size_t scan_from = s->len > 0 ? s->len - 1 : 0;
    memcpy(s->buf + s->len, p, n);
    s->len += n;
    size_t start = 0;
    for (;;) {
        char *end = memmem(s->buf + scan_from, s->len - scan_from, "\n\n", 2);
        if (end == NULL)
            break;
        sse_event(s, s->buf + start, (size_t)(end - (s->buf + start)), now);
        start = (size_t)(end + 2 - s->buf);
        scan_from = start;
    }
    if (start > 0) {
        memmove(s->buf, s->buf + start, s->len - start);
        s->len -= start;
    }
}

/* ---- connections ---- */

enum { K_H1_STREAM, K_H2_CONN, K_PATCH };
enum { S_CONNECTING, S_HEADERS, S_BODY, S_DEAD };
enum { CH_SIZE, CH_EXT, CH_DATA, CH_CRLF };

typedef struct conn {
    int kind;
    int fd;
    int state;
    int index;
    bool want_out;
    char *out;
    size_t out_len, out_cap;
    char *in; /* headers (HTTP/1.1) or partial frames (h2) */
    size_t in_len, in_cap;
    /* HTTP/1.1 stream */
    sse_t *stream;
    bool chunked;
    int ch_state;
    size_t ch_left;
    /* h2 */
    sse_t **h2_streams; /* by (stream id - 1) / 2 */
    int h2_count;
    uint64_t h2_conn_unacked;
    int unsettled; /* streams still waiting for their opening frame */
    /* PATCH */
    int patch_event; /* -1 when idle */
    size_t resp_body_left;
    bool resp_headers_done;
} conn_t;

static int epfd;
static char rbuf[READ_BUF];
static int num_conns_total, conns_started, conns_pending;
static conn_t *conns;
static conn_t *patches;
static char authority[64];

static void out_append(conn_t *c, const void *p, size_t n)
{
    if (c->out_len + n > c->out_cap) {
        c->out_cap = (c->out_len + n) * 2;
        c->out = xrealloc(c->out, c->out_cap);
    }
    memcpy(c->out + c->out_len, p, n);
    c->out_len += n;
}

static void in_append(conn_t *c, const void *p, size_t n)
{
    if (c->in_len + n > c->in_cap) {
        c->in_cap = (c->in_len + n) * 2;
        c->in = xrealloc(c->in, c->in_cap);
    }
    memcpy(c->in + c->in_len, p, n);
    c->in_len += n;
}

static void set_events(conn_t *c, bool want_out)
{
    if (c->want_out == want_out)
        return;
    c->want_out = want_out;
    struct epoll_event ev = {.events = EPOLLIN | (want_out ? EPOLLOUT : 0), .data.ptr = c};
    if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) != 0)
        die("epoll_ctl: %s", strerror(errno));
}

static void h1_dead(conn_t *c, const char *why);
static void h2_dead(conn_t *c, const char *why);

static void conn_flush(conn_t *c)
{
    while (c->out_len > 0) {
        ssize_t w = write(c->fd, c->out, c->out_len);
        if (w < 0) {
            if (errno == EAGAIN)
                break;
            if (errno == EINTR)
                continue;
            if (c->kind == K_PATCH)
                die("PATCH connection: write: %s", strerror(errno));
            if (c->kind == K_H1_STREAM)
                h1_dead(c, strerror(errno));
            else
                h2_dead(c, strerror(errno));
            return;
        }
        memmove(c->out, c->out + w, c->out_len - (size_t)w);
        c->out_len -= (size_t)w;
    }
    if (c->state != S_DEAD)
        set_events(c, c->out_len > 0 || c->state == S_CONNECTING);
}

static int open_socket(conn_t *c)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("socket: %s (raise the open-file limit?)", strerror(errno));
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (opt.source_addrs > 1) {
        /* each loopback source address has its own 28,000 ephemeral ports; the port is picked at connect() time */
        static unsigned next_src;
        struct sockaddr_in src = {.sin_family = AF_INET,
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK + (next_src++ % (unsigned)opt.source_addrs))};
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
        if (bind(fd, (struct sockaddr *)&src, sizeof(src)) != 0)
            die("bind to a loopback source address: %s", strerror(errno));
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)opt.port)};
    if (inet_pton(AF_INET, opt.host, &sa.sin_addr) != 1)
        die("bad host %s", opt.host);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 && errno != EINPROGRESS)
        die("connect: %s", strerror(errno));
    c->fd = fd;
    c->state = S_CONNECTING;
    c->want_out = true;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) != 0)
        die("epoll_ctl: %s", strerror(errno));
    return fd;
}

/* ---- HTTP/1.1 streams ---- */

static void h1_stream_start(conn_t *c)
{
    char req[1024];
    int n = snprintf(req, sizeof(req),
                     "GET /api/v1/conversations/events HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"
                     "Accept: text/event-stream\r\n\r\n",
                     authority, opt.token);
    out_append(c, req, (size_t)n);
}

static void h1_dead(conn_t *c, const char *why)
{
    if (c->state == S_DEAD)
        return;
    c->state = S_DEAD;
    if (c->stream != NULL)
        stream_fail(c->stream, why);
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
}

static void h1_body(conn_t *c, const char *p, size_t n, uint64_t now)
{
    if (!c->chunked) {
        sse_feed(c->stream, p, n, now);
        return;
    }
    while (n > 0) {
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
                    h1_dead(c, "the server ended the response");
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
                    h1_dead(c, "the server ended the response");
                    return;
                }
                c->ch_state = CH_DATA;
            }
            ++p;
            --n;
            break;
        case CH_DATA: {
            size_t take = n < c->ch_left ? n : c->ch_left;
            sse_feed(c->stream, p, take, now);
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

static void h1_input(conn_t *c, const char *p, size_t n, uint64_t now)
{
    if (c->state == S_HEADERS) {
        size_t old = c->in_len;
        in_append(c, p, n);
        char *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
        if (end == NULL) {
            if (c->in_len > 16384)
                h1_dead(c, "response headers too long");
            return;
        }
        size_t hlen = (size_t)(end + 4 - c->in);
        if (c->in_len < 12 || memcmp(c->in + 9, "200", 3) != 0) {
            char line[128];
            size_t l = strcspn(c->in, "\r\n");
            snprintf(line, sizeof(line), "status line: %.*s", (int)(l < 100 ? l : 100), c->in);
            h1_dead(c, line);
            return;
        }
        *end = '\0';
        c->chunked = strcasestr(c->in, "\r\ntransfer-encoding: chunked") != NULL;
        c->state = S_BODY;
        size_t body_off = hlen - old; /* where the body starts in p */
        free(c->in);
        c->in = NULL;
        c->in_len = c->in_cap = 0;
        if (body_off < n)
            h1_body(c, p + body_off, n - body_off, now);
        return;
    }
    h1_body(c, p, n, now);
}

/* ---- h2c streams (prior knowledge, a minimal client: no HPACK decoding is needed for SSE bodies) ---- */

#define H2_DATA 0x0
#define H2_HEADERS 0x1
#define H2_RST_STREAM 0x3
#define H2_SETTINGS 0x4
#define H2_PING 0x6
#define H2_GOAWAY 0x7
#define H2_WINDOW_UPDATE 0x8
#define H2_CONTINUATION 0x9
#define H2_WINDOW_MAX 0x7fffffffu

static void h2_frame_head(conn_t *c, uint32_t len, uint8_t type, uint8_t flags, uint32_t sid)
{
    uint8_t h[9] = {(uint8_t)(len >> 16), (uint8_t)(len >> 8),  (uint8_t)len,        type,        flags,
                    (uint8_t)(sid >> 24), (uint8_t)(sid >> 16), (uint8_t)(sid >> 8), (uint8_t)sid};
    out_append(c, h, 9);
}

static void h2_window_update(conn_t *c, uint32_t sid, uint32_t inc)
{
    h2_frame_head(c, 4, H2_WINDOW_UPDATE, 0, sid);
    uint8_t b[4] = {(uint8_t)(inc >> 24), (uint8_t)(inc >> 16), (uint8_t)(inc >> 8), (uint8_t)inc};
    out_append(c, b, 4);
}

/* HPACK integer with an n-bit prefix; `first` holds the pattern bits above the prefix. */
static size_t hpack_int(uint8_t *out, uint8_t first, int prefix_bits, size_t v)
{
    size_t max = (1u << prefix_bits) - 1, n = 0;
    if (v < max) {
        out[n++] = (uint8_t)(first | v);
        return n;
    }
    out[n++] = (uint8_t)(first | max);
    v -= max;
    while (v >= 128) {
        out[n++] = (uint8_t)(0x80 | (v & 0x7f));
        v >>= 7;
    }
    out[n++] = (uint8_t)v;
    return n;
}

/* Literal header field without indexing, name from the static table (RFC 7541 §6.2.2), no Huffman. */
static size_t hpack_literal(uint8_t *out, int name_index, const char *value)
{
    size_t n = hpack_int(out, 0x00, 4, (size_t)name_index);
    size_t vl = strlen(value);
    n += hpack_int(out + n, 0x00, 7, vl);
    memcpy(out + n, value, vl);
    return n + vl;
}

static void h2_start(conn_t *c)
{
    static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    out_append(c, preface, sizeof(preface) - 1);
    /* SETTINGS: ENABLE_PUSH = 0, INITIAL_WINDOW_SIZE = 2^31-1 */
    h2_frame_head(c, 12, H2_SETTINGS, 0, 0);
    uint8_t s[12] = {0, 2, 0, 0, 0, 0, 0, 4, 0x7f, 0xff, 0xff, 0xff};
    out_append(c, s, 12);
    h2_window_update(c, 0, H2_WINDOW_MAX - 65535);
    uint8_t block[1024];
    char bearer[512];
    snprintf(bearer, sizeof(bearer), "Bearer %s", opt.token);
    for (int i = 0; i < c->h2_count; ++i) {
        size_t n = 0;
        block[n++] = 0x82; /* :method GET */
        block[n++] = 0x86; /* :scheme http */
        n += hpack_literal(block + n, 4, "/api/v1/conversations/events");
        n += hpack_literal(block + n, 1, authority);
        n += hpack_literal(block + n, 23, bearer);              /* authorization */
        n += hpack_literal(block + n, 19, "text/event-stream"); /* accept */
        h2_frame_head(c, (uint32_t)n, H2_HEADERS, 0x4 /* END_HEADERS */ | 0x1 /* END_STREAM */, (uint32_t)(2 * i + 1));
        out_append(c, block, n);
    }
}

static void h2_dead(conn_t *c, const char *why)
{
    if (c->state == S_DEAD)
        return;
    c->state = S_DEAD;
    for (int i = 0; i < c->h2_count; ++i)
        stream_fail(c->h2_streams[i], why);
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
}

static sse_t *h2_stream_of(conn_t *c, uint32_t sid)
{
    if (sid == 0 || (sid & 1) == 0 || (sid - 1) / 2 >= (uint32_t)c->h2_count)
        return NULL;
    return c->h2_streams[(sid - 1) / 2];
}

static void h2_frame(conn_t *c, uint8_t type, uint8_t flags, uint32_t sid, const uint8_t *p, size_t len, uint64_t now)
{
    switch (type) {
    case H2_DATA: {
        sse_t *s = h2_stream_of(c, sid);
        size_t off = 0, pad = 0;
        if (flags & 0x8) { /* PADDED */
            pad = len > 0 ? p[0] : 0;
            off = 1;
        }
        if (s == NULL || off + pad > len) {
            ++protocol_errors;
            return;
        }
        sse_feed(s, (const char *)p + off, len - off - pad, now);
        if (flags & 0x1)
            stream_fail(s, "the server ended the stream");
        c->h2_conn_unacked += len;
        if (c->h2_conn_unacked > (1u << 24)) { /* the stream windows start at 2^31-1 and never run out in a run */
            h2_window_update(c, 0, (uint32_t)c->h2_conn_unacked);
            c->h2_conn_unacked = 0;
        }
        break;
    }
    case H2_HEADERS: {
        sse_t *s = h2_stream_of(c, sid);
        size_t off = 0;
        if (flags & 0x8)
            off += 1;
        if (flags & 0x20)
            off += 5;
        if (s == NULL || off >= len) {
            ++protocol_errors;
            return;
        }
        /* :status 200 is static-table entry 8; h2o sends it as the indexed field 0x88 */
        if (p[off] != 0x88) {
            char why[64];
            snprintf(why, sizeof(why), "response is not 200 (first header byte 0x%02x)", p[off]);
            stream_fail(s, why);
        }
        /* without END_HEADERS, CONTINUATION frames follow: more headers, ignored like these */
        if (flags & 0x1)
            stream_fail(s, "the server ended the stream");
        break;
    }
    case H2_RST_STREAM: {
        sse_t *s = h2_stream_of(c, sid);
        if (s != NULL)
            stream_fail(s, "RST_STREAM");
        break;
    }
    case H2_SETTINGS:
        if (!(flags & 0x1))
            h2_frame_head(c, 0, H2_SETTINGS, 0x1, 0);
        break;
    case H2_PING:
        if (!(flags & 0x1) && len == 8) {
            h2_frame_head(c, 8, H2_PING, 0x1, 0);
            out_append(c, p, 8);
        }
        break;
    case H2_GOAWAY:
        h2_dead(c, "GOAWAY");
        break;
    default:
        break;
    }
}

static void h2_input(conn_t *c, const char *p, size_t n, uint64_t now)
{
    const uint8_t *q;
    size_t left;
    if (c->in_len > 0) {
        in_append(c, p, n);
        q = (const uint8_t *)c->in;
        left = c->in_len;
    } else {
        q = (const uint8_t *)p;
        left = n;
    }
    while (left >= 9 && c->state != S_DEAD) {
        size_t len = ((size_t)q[0] << 16) | ((size_t)q[1] << 8) | q[2];
        if (left < 9 + len)
            break;
        uint32_t sid = (((uint32_t)q[5] << 24) | ((uint32_t)q[6] << 16) | ((uint32_t)q[7] << 8) | q[8]) & 0x7fffffffu;
        h2_frame(c, q[3], q[4], sid, q + 9, len, now);
        q += 9 + len;
        left -= 9 + len;
    }
    if (c->in_len > 0) {
        memmove(c->in, q, left);
        c->in_len = left;
    } else if (left > 0) {
        in_append(c, q, left);
    }
    if (c->out_len > 0)
        conn_flush(c);
}

/* ---- PATCH connections ---- */

static int next_event, events_answered, patch_errors, patch_reconnects;
static uint64_t events_start_ns;

static void patch_send(conn_t *c, int idx)
{
    char body[128], req[1024];
    int bl = snprintf(body, sizeof(body), "{\"title\":\"FANOUT:%d:%s\"}", idx, opt.nonce);
    int n = snprintf(req, sizeof(req),
                     "PATCH /api/v1/conversations/%s/title HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"
                     "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
                     opt.conv, authority, opt.token, bl, body);
    c->patch_event = idx;
    c->resp_headers_done = false;
    c->in_len = 0;
    send_ns[idx] = mono_ns();
    out_append(c, req, (size_t)n);
    conn_flush(c);
}

static void patch_input(conn_t *c, const char *p, size_t n, uint64_t now)
{
    in_append(c, p, n);
    for (;;) {
        if (c->patch_event < 0) {
            if (c->in_len > 0) {
                ++protocol_errors;
                c->in_len = 0;
            }
            return;
        }
        if (!c->resp_headers_done) {
            char *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
            if (end == NULL)
                return;
            size_t hlen = (size_t)(end + 4 - c->in);
            bool ok = c->in_len >= 12 && memcmp(c->in + 9, "200", 3) == 0;
            if (!ok) {
                ++patch_errors;
                if (patch_errors <= 3)
                    fprintf(stderr, "fanout: PATCH %d: %.*s\n", c->patch_event, (int)strcspn(c->in, "\r\n"), c->in);
            }
            char save = *end;
            *end = '\0';
            const char *cl = strcasestr(c->in, "\r\ncontent-length:");
            *end = save;
            if (cl == NULL)
                die("PATCH response without Content-Length");
            c->resp_body_left = strtoul(cl + 17, NULL, 10);
            memmove(c->in, c->in + hlen, c->in_len - hlen);
            c->in_len -= hlen;
            c->resp_headers_done = true;
        }
        if (c->in_len < c->resp_body_left)
            return;
        memmove(c->in, c->in + c->resp_body_left, c->in_len - c->resp_body_left);
        c->in_len -= c->resp_body_left;
        answer_ns[c->patch_event] = now;
        ++events_answered;
        c->patch_event = -1;
        c->resp_headers_done = false;
    }
}

/* ---- main loop ---- */

static void handle(conn_t *c, uint32_t evs, uint64_t now)
{
    if (c->state == S_DEAD)
        return;
    if (c->state == S_CONNECTING && (evs & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
        int err = 0;
        socklen_t el = sizeof(err);
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
        if (err != 0)
            die("connect to %s:%d failed: %s", opt.host, opt.port, strerror(err));
        c->state = c->kind == K_PATCH ? S_BODY : S_HEADERS;
    }
    if (evs & EPOLLOUT)
        conn_flush(c);
    if (evs & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        ssize_t r = read(c->fd, rbuf, sizeof(rbuf));
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
            const char *why = r == 0 ? "the server closed the connection" : strerror(errno);
            if (c->kind == K_H1_STREAM) {
                h1_dead(c, why);
            } else if (c->kind == K_H2_CONN) {
                h2_dead(c, why);
            } else if (c->patch_event < 0 && c->in_len == 0) {
                /* an idle keep-alive the server timed out: reconnect */
                epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
                close(c->fd);
                c->out_len = 0;
                ++patch_reconnects;
                open_socket(c);
            } else {
                die("PATCH connection: %s", why);
            }
            return;
        }
        if (r > 0) {
            if (c->kind == K_H1_STREAM)
                h1_input(c, rbuf, (size_t)r, now);
            else if (c->kind == K_H2_CONN)
                h2_input(c, rbuf, (size_t)r, now);
            else
                patch_input(c, rbuf, (size_t)r, now);
        }
    }
}

static void start_more_conns(void)
{
    while (conns_started < num_conns_total && conns_pending < opt.open_parallel) {
        conn_t *c = &conns[conns_started++];
        open_socket(c);
        if (c->kind == K_H1_STREAM)
            h1_stream_start(c);
        else
            h2_start(c);
        ++conns_pending;
    }
}

/* A connection stops counting as "being set up" once all its streams are open (or failed). */
static void stream_settled(sse_t *s)
{
    if (--conns[s->conn].unsettled == 0)
        --conns_pending;
}

static bool pumping;
static uint64_t interval, late_ns_max;

/* Sends the events that are due on idle PATCH connections; returns how long the loop may sleep (ms). */
static int pump(void)
{
    uint64_t now = mono_ns();
    int timeout = 100;
    while (next_event < opt.events) {
        uint64_t due = events_start_ns + interval * (uint64_t)next_event;
        if (due > now) {
            uint64_t wait_ms = (due - now + 999999) / 1000000;
            timeout = wait_ms < (uint64_t)timeout ? (int)wait_ms : timeout;
            break;
        }
        conn_t *free_conn = NULL;
        for (int i = 0; i < opt.patch_conns && free_conn == NULL; ++i)
            if (patches[i].patch_event < 0 && patches[i].state != S_CONNECTING)
                free_conn = &patches[i];
        if (free_conn == NULL)
            break;
        if (interval > 0 && now - due > late_ns_max)
            late_ns_max = now - due;
        patch_send(free_conn, next_event++);
        now = mono_ns();
    }
    return timeout;
}

static void loop_once(int timeout_ms)
{
    static struct epoll_event evs[4096];
    int n = epoll_wait(epfd, evs, 4096, timeout_ms);
    if (n < 0) {
        if (errno == EINTR)
            return;
        die("epoll_wait: %s", strerror(errno));
    }
    /* the PATCH connections first: they stand for other clients, whose requests should not wait behind this process
     * reading thousands of stream sockets */
    for (int i = 0; i < n; ++i)
        if (((conn_t *)evs[i].data.ptr)->kind == K_PATCH)
            handle(evs[i].data.ptr, evs[i].events, mono_ns());
    if (pumping)
        pump();
    for (int i = 0; i < n; ++i)
        if (((conn_t *)evs[i].data.ptr)->kind != K_PATCH)
            handle(evs[i].data.ptr, evs[i].events, mono_ns());
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static double pct(const uint32_t *sorted, size_t n, double p)
{
    if (n == 0)
        return 0;
    size_t i = (size_t)(p / 100.0 * (double)n);
    if (i >= n)
        i = n - 1;
    return sorted[i] / 1000.0;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: fanout --port N --token T --conv ID [--host 127.0.0.1] [--streams C] [--events K] [--h2 --per-conn M]\n"
            "              [--rate R] [--patch-conns P] [--daemon-pid PID] [--idle-ms MS] [--open-parallel N] [--drain-ms MS]\n"
            "              [--nonce S] [--h1-streams N] [--source-addrs N] [--open-timeout-s S]\n"
            "  --h1-streams N: N HTTP/1.1 streams next to the C streams of --h2 (a mixed run; totals cover both)\n");
    exit(2);
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"host", 1, 0, 'H'},
        {"port", 1, 0, 'p'},
        {"token", 1, 0, 't'},
        {"conv", 1, 0, 'c'},
        {"streams", 1, 0, 'C'},
        {"events", 1, 0, 'K'},
        {"h2", 0, 0, '2'},
        {"per-conn", 1, 0, 'M'},
        {"rate", 1, 0, 'r'},
        {"patch-conns", 1, 0, 'P'},
        {"daemon-pid", 1, 0, 'd'},
        {"idle-ms", 1, 0, 'i'},
        {"open-parallel", 1, 0, 'o'},
        {"drain-ms", 1, 0, 'D'},
        {"nonce", 1, 0, 'n'},
        {"h1-streams", 1, 0, 'X'},
        {"source-addrs", 1, 0, 'S'},
        {"open-timeout-s", 1, 0, 'T'},
        {0, 0, 0, 0},
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (ch) {
        case 'H':
            opt.host = optarg;
            break;
        case 'p':
            opt.port = atoi(optarg);
            break;
        case 't':
            opt.token = optarg;
            break;
        case 'c':
            opt.conv = optarg;
            break;
        case 'C':
            opt.streams = atoi(optarg);
            break;
        case 'K':
            opt.events = atoi(optarg);
            break;
        case '2':
            opt.h2 = true;
            break;
        case 'M':
            opt.per_conn = atoi(optarg);
            break;
        case 'r':
            opt.rate = atof(optarg);
            break;
        case 'P':
            opt.patch_conns = atoi(optarg);
            break;
        case 'd':
            opt.daemon_pid = atoi(optarg);
            break;
        case 'i':
            opt.idle_ms = atoi(optarg);
            break;
        case 'o':
            opt.open_parallel = atoi(optarg);
            break;
        case 'D':
            opt.drain_ms = atoi(optarg);
            break;
        case 'n':
            opt.nonce = optarg;
            break;
        case 'X':
            opt.h1_extra = atoi(optarg);
            break;
        case 'S':
            opt.source_addrs = atoi(optarg);
            break;
        case 'T':
            opt.open_timeout_s = atoi(optarg);
            break;
        default:
            usage();
        }
    }
    if (opt.port <= 0 || opt.token == NULL || opt.conv == NULL || opt.streams <= 0 || opt.events <= 0 || opt.patch_conns <= 0 ||
        opt.per_conn <= 0 || opt.open_parallel <= 0 || opt.h1_extra < 0 || opt.source_addrs < 1 || opt.source_addrs > 254 ||
        opt.open_timeout_s <= 0)
        usage();
    /* from here on opt.streams counts every stream: the first h2_streams on h2c connections, the rest on HTTP/1.1 */
    h2_streams = opt.h2 ? opt.streams : 0;
    opt.streams += opt.h1_extra;
    int h2_conns = (h2_streams + opt.per_conn - 1) / opt.per_conn;
    snprintf(authority, sizeof(authority), "%s:%d", opt.host, opt.port);
    signal(SIGPIPE, SIG_IGN);

    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
    int need = h2_conns + (opt.streams - h2_streams) + opt.patch_conns + 16;
    if ((rlim_t)need > rl.rlim_cur)
        die("need %d file descriptors, the limit is %llu", need, (unsigned long long)rl.rlim_cur);
    printf("client_nofile=%llu\n", (unsigned long long)rl.rlim_cur);

    epfd = epoll_create1(EPOLL_CLOEXEC);
    size_t pairs = (size_t)opt.streams * (size_t)opt.events;
    lat_us = malloc(pairs * sizeof(*lat_us));
    if (lat_us == NULL)
        die("out of memory");
    memset(lat_us, 0xff, pairs * sizeof(*lat_us));
    send_ns = xcalloc((size_t)opt.events, sizeof(*send_ns));
    answer_ns = xcalloc((size_t)opt.events, sizeof(*answer_ns));
    order_ref = xcalloc((size_t)opt.events + 1, sizeof(*order_ref));
    for (int i = 0; i <= opt.events; ++i)
        order_ref[i] = -1;
    num_streams_total = opt.streams;
    streams = xcalloc((size_t)opt.streams, sizeof(*streams));
    for (int i = 0; i < opt.streams; ++i)
        streams[i].index = i;

    /* the streams' connections: h2c ones first (M streams each), then one HTTP/1.1 connection per remaining stream */
    num_conns_total = h2_conns + (opt.streams - h2_streams);
    conns = xcalloc((size_t)num_conns_total, sizeof(*conns));
    for (int i = 0; i < h2_conns; ++i) {
        conn_t *c = &conns[i];
        c->kind = K_H2_CONN;
        c->index = i;
        int first = i * opt.per_conn;
        c->h2_count = h2_streams - first < opt.per_conn ? h2_streams - first : opt.per_conn;
        c->h2_streams = xcalloc((size_t)c->h2_count, sizeof(*c->h2_streams));
        for (int k = 0; k < c->h2_count; ++k) {
            c->h2_streams[k] = &streams[first + k];
            streams[first + k].conn = i;
        }
        c->unsettled = c->h2_count;
    }
    for (int i = h2_conns; i < num_conns_total; ++i) {
        int si = h2_streams + (i - h2_conns);
        conns[i].kind = K_H1_STREAM;
        conns[i].index = i;
        conns[i].stream = &streams[si];
        conns[i].unsettled = 1;
        streams[si].conn = i;
    }

    long rss_before = proc_status_kib(opt.daemon_pid, "VmRSS");
    printf("rss_before_kib=%ld\n", rss_before);

    /* open every stream; a bounded number of connections in set-up at a time */
    uint64_t t_open = mono_ns();
    uint64_t open_deadline = t_open + (uint64_t)opt.open_timeout_s * 1000000000u;
    while (streams_open + streams_failed < opt.streams) {
        start_more_conns();
        loop_once(100);
        if (mono_ns() > open_deadline)
            die("only %d of %d streams opened within %d s", streams_open, opt.streams, opt.open_timeout_s);
    }
    uint64_t t_opened = mono_ns();
    printf("streams=%d\nconnections=%d\nstreams_open=%d\nopen_failed=%d\nopen_s=%.3f\n", opt.streams, num_conns_total, streams_open,
           streams_failed, (t_opened - t_open) / 1e9);
    printf("h2_streams=%d\nh2_connections=%d\nh1_streams=%d\nsource_addrs=%d\n", h2_streams, h2_conns, opt.streams - h2_streams,
           opt.source_addrs);
    fprintf(stderr, "fanout: %d streams open (%d h2c on %d connections, %d HTTP/1.1) in %.3f s (%d failed)\n", streams_open,
            h2_streams, h2_conns, opt.streams - h2_streams, (t_opened - t_open) / 1e9, streams_failed);
    if (streams_failed > 0)
        die("%d streams failed to open", streams_failed);

    /* idle: let the streams sit (heartbeats may arrive), then read the idle RSS */
    uint64_t idle_start = mono_ns(), idle_end = idle_start + (uint64_t)opt.idle_ms * 1000000u;
    long long di0 = opt.daemon_pid > 0 ? proc_ticks(opt.daemon_pid) : -1;
    for (uint64_t t; (t = mono_ns()) < idle_end;)
        loop_once((int)((idle_end - t) / 1000000u) + 1);
    long long di1 = opt.daemon_pid > 0 ? proc_ticks(opt.daemon_pid) : -1;
    /* what holding the streams costs the daemon with no event: heartbeats, credential checks, timers */
    if (di0 >= 0 && di1 >= 0)
        printf("cpu_daemon_idle_s=%.2f\ncpu_daemon_idle_pct=%.1f\n", (double)(di1 - di0) / sysconf(_SC_CLK_TCK),
               100.0 * (double)(di1 - di0) / sysconf(_SC_CLK_TCK) / ((mono_ns() - idle_start) / 1e9));
    long rss_idle = proc_status_kib(opt.daemon_pid, "VmRSS");
    int still_open = 0;
    for (int i = 0; i < opt.streams; ++i)
        still_open += streams[i].opened && !streams[i].failed;
    printf("idle_s=%.3f\nheld_after_idle=%d\nheartbeats_idle=%" PRIu64 "\nrss_idle_kib=%ld\n", opt.idle_ms / 1000.0, still_open,
           heartbeats, rss_idle);
    if (rss_before > 0 && rss_idle > 0)
        printf("rss_per_stream_kib=%.2f\n", (double)(rss_idle - rss_before) / opt.streams);
    fprintf(stderr, "fanout: idle %.1f s: %d streams held, daemon RSS %ld → %ld KiB (%.2f KiB per stream)\n", opt.idle_ms / 1000.0,
            still_open, rss_before, rss_idle, rss_before > 0 ? (double)(rss_idle - rss_before) / opt.streams : 0.0);

    /* the PATCH connections, connected before the first event */
    patches = xcalloc((size_t)opt.patch_conns, sizeof(*patches));
    for (int i = 0; i < opt.patch_conns; ++i) {
        patches[i].kind = K_PATCH;
        patches[i].index = i;
        patches[i].patch_event = -1;
        open_socket(&patches[i]);
    }
    for (bool ready = false; !ready;) {
        loop_once(100);
        ready = true;
        for (int i = 0; i < opt.patch_conns; ++i)
            ready &= patches[i].state != S_CONNECTING;
    }

    /* events */
    long long d0 = opt.daemon_pid > 0 ? proc_ticks(opt.daemon_pid) : -1, m0 = machine_busy_ticks();
    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    events_start_ns = mono_ns();
    interval = opt.rate > 0 ? (uint64_t)(1e9 / opt.rate) : 0;
    uint64_t deadline = 0;
    uint64_t heartbeats_before_events = heartbeats;
    pumping = true;
    while (delivered < pairs || events_answered < opt.events) {
        int timeout = pump();
        if (events_answered == opt.events && deadline == 0)
            deadline = mono_ns() + (uint64_t)opt.drain_ms * 1000000u;
        if (deadline != 0 && mono_ns() > deadline)
            break;
        loop_once(timeout);
    }
    uint64_t t_end = mono_ns();
    getrusage(RUSAGE_SELF, &ru1);
    long long d1 = opt.daemon_pid > 0 ? proc_ticks(opt.daemon_pid) : -1, m1 = machine_busy_ticks();
    long tick = sysconf(_SC_CLK_TCK);
    double client_cpu = (ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec) + (ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
                        ((ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec) + (ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec)) / 1e6;
    double daemon_cpu = d0 >= 0 && d1 >= 0 ? (double)(d1 - d0) / tick : -1;
    double machine_cpu = m0 >= 0 && m1 >= 0 ? (double)(m1 - m0) / tick : -1;

    /* latencies over every (stream, event) pair that arrived */
    uint32_t *sorted = malloc((delivered ? delivered : 1) * sizeof(*sorted));
    if (sorted == NULL)
        die("out of memory");
    size_t ns = 0;
    double sum = 0;
    uint64_t missing = 0;
    for (size_t i = 0; i < pairs; ++i) {
        if (lat_us[i] == NOT_RECEIVED) {
            ++missing;
            continue;
        }
        sorted[ns++] = lat_us[i];
        sum += lat_us[i];
    }
    qsort(sorted, ns, sizeof(*sorted), cmp_u32);
    /* per event: how long until the last stream had it */
    uint32_t *complete = xcalloc((size_t)opt.events, sizeof(*complete));
    for (int e = 0; e < opt.events; ++e) {
        uint32_t worst = 0;
        for (int s = 0; s < opt.streams; ++s) {
            uint32_t v = lat_us[(size_t)s * (size_t)opt.events + (size_t)e];
            if (v != NOT_RECEIVED && v > worst)
                worst = v;
        }
        complete[e] = worst;
    }
    qsort(complete, (size_t)opt.events, sizeof(*complete), cmp_u32);
    /* PATCH round trips */
    uint32_t *rtt = xcalloc((size_t)opt.events, sizeof(*rtt));
    size_t nr = 0;
    for (int e = 0; e < opt.events; ++e)
        if (answer_ns[e] != 0)
            rtt[nr++] = (uint32_t)((answer_ns[e] - send_ns[e]) / 1000);
    qsort(rtt, nr, sizeof(*rtt), cmp_u32);

    uint64_t last_answer = 0;
    for (int e = 0; e < opt.events; ++e)
        if (answer_ns[e] > last_answer)
            last_answer = answer_ns[e];
    double span = last_delivery_ns > events_start_ns ? (last_delivery_ns - events_start_ns) / 1e9 : 0;
    double patch_span = last_answer > events_start_ns ? (last_answer - events_start_ns) / 1e9 : 0;
    long rss_after = proc_status_kib(opt.daemon_pid, "VmRSS");
    int alive = 0;
    for (int i = 0; i < opt.streams; ++i)
        alive += streams[i].opened && !streams[i].failed;

    printf("events=%d\nrate=%.1f\npatch_conns=%d\npatch_errors=%d\nevents_answered=%d\n", opt.events, opt.rate, opt.patch_conns,
           patch_errors, events_answered);
    printf("pace_late_max_ms=%.3f\npatch_reconnects=%d\n", late_ns_max / 1e6, patch_reconnects);
    printf("patch_span_s=%.4f\npatch_per_s=%.0f\n", patch_span, patch_span > 0 ? opt.events / patch_span : 0);
    printf("patch_rtt_p50_ms=%.3f\npatch_rtt_p99_ms=%.3f\npatch_rtt_max_ms=%.3f\n", pct(rtt, nr, 50), pct(rtt, nr, 99),
           nr ? rtt[nr - 1] / 1000.0 : 0);
    printf("expected=%zu\ndelivered=%" PRIu64 "\nmissing=%" PRIu64 "\nduplicates=%" PRIu64 "\nid_gaps=%" PRIu64
           "\nid_reorders=%" PRIu64 "\norder_mismatches=%" PRIu64 "\nforeign_events=%" PRIu64 "\nprotocol_errors=%" PRIu64
           "\nstreams_failed=%d\nstreams_alive_after=%d\n",
           pairs, delivered, missing, duplicates, gaps, reorders, order_mismatches, foreign_events, protocol_errors, streams_failed,
           alive);
    printf("heartbeats_during_events=%" PRIu64 "\n", heartbeats - heartbeats_before_events);
    printf("span_s=%.4f\ndeliveries_per_s=%.0f\n", span, span > 0 ? delivered / span : 0);
    printf("lat_mean_ms=%.3f\nlat_p50_ms=%.3f\nlat_p90_ms=%.3f\nlat_p99_ms=%.3f\nlat_p999_ms=%.3f\nlat_max_ms=%.3f\n",
           ns ? sum / ns / 1000.0 : 0, pct(sorted, ns, 50), pct(sorted, ns, 90), pct(sorted, ns, 99), pct(sorted, ns, 99.9),
           ns ? sorted[ns - 1] / 1000.0 : 0);
    printf("event_complete_p50_ms=%.3f\nevent_complete_max_ms=%.3f\n", pct(complete, (size_t)opt.events, 50),
           complete[opt.events - 1] / 1000.0);
    if (h2_streams > 0 && h2_streams < opt.streams) {
        /* a mixed run: the latencies of each protocol's streams on their own */
        static const char *const label[2] = {"h2", "h1"};
        uint32_t *part_sorted = xcalloc(ns, sizeof(*part_sorted));
        for (int part = 0; part < 2; ++part) {
            size_t lo = part == 0 ? 0 : (size_t)h2_streams * (size_t)opt.events;
            size_t hi = part == 0 ? (size_t)h2_streams * (size_t)opt.events : pairs, m = 0;
            for (size_t i = lo; i < hi; ++i)
                if (lat_us[i] != NOT_RECEIVED)
                    part_sorted[m++] = lat_us[i];
            qsort(part_sorted, m, sizeof(*part_sorted), cmp_u32);
            printf("%s_lat_p50_ms=%.3f\n%s_lat_p99_ms=%.3f\n%s_lat_max_ms=%.3f\n", label[part], pct(part_sorted, m, 50),
                   label[part], pct(part_sorted, m, 99), label[part], m ? part_sorted[m - 1] / 1000.0 : 0);
        }
        free(part_sorted);
    }
    printf("cpu_daemon_s=%.2f\ncpu_client_s=%.2f\ncpu_other_s=%.2f\nevents_wall_s=%.3f\n", daemon_cpu, client_cpu,
           machine_cpu >= 0 && daemon_cpu >= 0 ? machine_cpu - daemon_cpu - client_cpu : -1, (t_end - events_start_ns) / 1e9);
    printf("rss_after_kib=%ld\n", rss_after);

    fprintf(
        stderr,
        "fanout: %d events (%s) → %" PRIu64 "/%zu deliveries in %.3f s = %.0f/s; latency p50 %.2f ms, p99 %.2f ms, max %.2f ms; "
        "missing %" PRIu64 ", duplicates %" PRIu64 ", gaps %" PRIu64 ", reorders %" PRIu64 ", order mismatches %" PRIu64 "\n",
        opt.events, opt.rate > 0 ? "paced" : "burst", delivered, pairs, span, span > 0 ? delivered / span : 0, pct(sorted, ns, 50),
        pct(sorted, ns, 99), ns ? sorted[ns - 1] / 1000.0 : 0, missing, duplicates, gaps, reorders, order_mismatches);
    fflush(stdout);
    bool ok = missing == 0 && duplicates == 0 && gaps == 0 && reorders == 0 && order_mismatches == 0 && streams_failed == 0 &&
              patch_errors == 0 && protocol_errors == 0;
    return ok ? 0 : 1;
}
