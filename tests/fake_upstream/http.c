/*
 * Connections: accept, a minimal HTTP/1.1 request parser (request line, headers, Content-Length bodies; chunked request
 * bodies are refused with 411), keep-alive and pipelining, answers with Content-Length, and chunked SSE answers written
 * whole, in 1-7 byte pieces (one write and one chunk each, a millisecond apart) or coalesced.
 * A closed connection is unlinked at once and freed at the end of the loop iteration, so callers never see it vanish.
 */
#include "fake.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int listen_fd = -1, ep_fd = -1;
static fk_conn_t *conns, *graveyard;
static size_t nconns;
static uint64_t next_serial;

void fk_http_init(int lfd, int epfd)
{
    listen_fd = lfd;
    ep_fd = epfd;
}

size_t fk_conns_count(void)
{
    return nconns;
}

const char *fk_reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 411:
        return "Length Required";
    case 413:
        return "Request Entity Too Large";
    case 422:
        return "Unprocessable Entity";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return "Unknown";
    }
}

static void req_clear(fk_req_t *r)
{
    free(r->head);
    free(r->path);
    free(r->query);
    free(r->body);
    memset(r, 0, sizeof(*r));
}

static void set_out_interest(fk_conn_t *c, int want)
{
    if (c->want_out == want || c->state == FK_C_CLOSED)
        return;
    c->want_out = want;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | (want ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(ep_fd, EPOLL_CTL_MOD, c->fd, &ev);
}

void fk_conn_close(fk_conn_t *c)
{
    if (c->state == FK_C_CLOSED)
        return;
    c->state = FK_C_CLOSED;
    epoll_ctl(ep_fd, EPOLL_CTL_DEL, c->fd, NULL);
    if (c->reset) { /* a zero linger turns the close into a TCP reset (RST), as a crashed peer's kernel may send */
        struct linger lg = {.l_onoff = 1, .l_linger = 0};
        setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    }
    close(c->fd);
    c->fd = -1;
    fk_timer_disarm(&c->timer);
    fk_timer_disarm(&c->sse_timer);
    fk_timer_disarm(&c->ka_timer);
    if (c->run != NULL) {
        fk_run_t *r = c->run;
        c->run = NULL;
        fk_run_detach(r, c);
    }
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    c->prev = NULL;
    c->next = graveyard;
    graveyard = c;
    --nconns;
}

void fk_conn_abort(fk_conn_t *c)
{
    fk_conn_close(c);
}

void fk_conns_reap(void)
{
    while (graveyard != NULL) {
        fk_conn_t *c = graveyard;
        graveyard = c->next;
        req_clear(&c->req);
        fk_buf_free(&c->in);
        fk_buf_free(&c->out);
        fk_buf_free(&c->sse_pending);
        free(c->scen_name);
        json_decref(c->scen_params);
        free(c);
    }
}

void fk_conns_close_all(void)
{
    while (conns != NULL)
        fk_conn_close(conns);
}

static void process_input(fk_conn_t *c);

static void resume_cb(fk_timer_t *t)
{
    process_input(FK_CONTAINER_OF(t, fk_conn_t, timer));
}

static void drain_timeout(fk_timer_t *t)
{
    fk_conn_close(FK_CONTAINER_OF(t, fk_conn_t, timer));
}

static int sse_finished(const fk_conn_t *c)
{
    return c->sse_tail; /* everything framed, the last chunk (or the drop) queued */
}

/* Writes what is queued; moves the connection on when its answer is out. */
static void conn_flush(fk_conn_t *c)
{
    while (c->out.len > 0 && c->state != FK_C_CLOSED) {
        ssize_t w = write(c->fd, c->out.p, c->out.len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                set_out_interest(c, 1);
                return;
            }
            fk_conn_close(c);
            return;
        }
        fk_buf_consume(&c->out, (size_t)w);
    }
    if (c->state == FK_C_CLOSED)
        return;
    set_out_interest(c, 0);
    if (c->state == FK_C_WRITE) {
        req_clear(&c->req);
        c->have_req = 0;
        if (c->close_after == 2) { /* answered before reading the body: drain it a while, then close */
            shutdown(c->fd, SHUT_WR);
            c->state = FK_C_DRAIN;
            fk_timer_arm(&c->timer, 2000, drain_timeout);
        } else if (c->close_after) {
            fk_conn_close(c);
        } else {
            c->state = FK_C_READ;
            if (c->in.len > 0)
                fk_timer_arm(&c->timer, 0, resume_cb);
        }
    } else if (c->state == FK_C_SSE && sse_finished(c)) {
        if (c->sse_end == 2 || c->close_after) {
            fk_conn_close(c); /* a drop, or the client asked to close */
            return;
        }
        /* the response is complete (last chunk written): the connection is kept alive, as aiohttp does */
        fk_timer_disarm(&c->sse_timer);
        fk_timer_disarm(&c->ka_timer);
        fk_buf_free(&c->sse_pending);
        c->sse_pending_events = c->sse_end = c->sse_tail = 0;
        req_clear(&c->req);
        c->have_req = 0;
        c->state = FK_C_READ;
        if (c->in.len > 0)
            fk_timer_arm(&c->timer, 0, resume_cb);
    }
}

/* ---- answers ---- */

static int wants_close(const fk_req_t *r)
{
    const char *conn = fk_req_header(r, "Connection");
    if (conn != NULL && strcasestr(conn, "close") != NULL)
        return 1;
    if (r->minor == 0 && (conn == NULL || strcasestr(conn, "keep-alive") == NULL))
        return 1;
    return 0;
}

static void put_head(fk_conn_t *c, int status, const char *extra)
{
    fk_buf_printf(&c->out, "HTTP/1.1 %d %s\r\n", status, fk_reason(status));
    fk_buf_str(&c->out, "Server: Python/3.11 aiohttp/3.9.5\r\n");
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    fk_buf_printf(&c->out, "Date: %s\r\n", date);
    fk_common_headers(&c->out, &c->req);
    if (extra != NULL)
        fk_buf_str(&c->out, extra);
}

void fk_respond(fk_conn_t *c, int status, const char *ctype, const char *body, size_t len, const char *extra)
{
    if (c->state == FK_C_CLOSED || c->state == FK_C_SSE)
        return;
    fk_timer_disarm(&c->timer);
    if (!c->close_after && (!c->have_req || wants_close(&c->req)))
        c->close_after = 1;
    put_head(c, status, extra);
    if (ctype != NULL)
        fk_buf_printf(&c->out, "Content-Type: %s\r\n", ctype);
    fk_buf_printf(&c->out, "Content-Length: %zu\r\n", len);
    if (c->close_after)
        fk_buf_str(&c->out, "Connection: close\r\n");
    fk_buf_str(&c->out, "\r\n");
    if (!c->head_only && len > 0)
        fk_buf_add(&c->out, body, len);
    c->state = FK_C_WRITE;
    conn_flush(c);
}

void fk_respond_raw(fk_conn_t *c, const char *bytes, size_t len)
{
    if (c->state == FK_C_CLOSED || c->state == FK_C_SSE)
        return;
    fk_timer_disarm(&c->timer);
    c->close_after = 1;
    fk_buf_add(&c->out, bytes, len);
    c->state = FK_C_WRITE;
    conn_flush(c);
}

void fk_respond_json(fk_conn_t *c, int status, json_t *j, const char *extra)
{
    if (j == NULL) { /* json_pack refused a value (not expected: strings are checked before) */
        fk_log("a JSON answer could not be built (status %d)", status);
        fk_respond_plain_status(c, 500, NULL);
        return;
    }
    char *s = fk_json_dump(j);
    json_decref(j);
    fk_respond(c, status, "application/json; charset=utf-8", s, strlen(s), extra);
    free(s);
}

void fk_respond_error(fk_conn_t *c, int status, const char *message, const char *code)
{
    char *safe = fk_strdup(message); /* messages may quote the request (an id, a scenario): keep them valid UTF-8 */
    for (size_t i = 0; !fk_utf8_valid(safe, strlen(safe)) && safe[i] != '\0'; ++i)
        if ((unsigned char)safe[i] >= 0x80)
            safe[i] = '?';
    json_t *e = json_pack("{s:s,s:s,s:n,s:o}", "message", safe, "type", status >= 500 ? "server_error" : "invalid_request_error",
                          "param", "code", code != NULL ? json_string(code) : json_null());
    free(safe);
    fk_respond_json(c, status, json_pack("{s:o}", "error", e), NULL);
}

void fk_respond_plain_status(fk_conn_t *c, int status, const char *extra)
{
    char body[96];
    int n = snprintf(body, sizeof(body), "%d: %s", status, fk_reason(status));
    fk_respond(c, status, "text/plain; charset=utf-8", body, (size_t)n, extra);
}

static void defer_fire(fk_timer_t *t)
{
    fk_conn_t *c = FK_CONTAINER_OF(t, fk_conn_t, timer);
    if (c->state == FK_C_WAIT && c->defer != NULL)
        c->defer(c);
}

void fk_defer(fk_conn_t *c, double ms, fk_defer_cb cb)
{
    c->defer = cb;
    fk_timer_arm(&c->timer, ms, defer_fire);
}

/* ---- event streams ---- */

static void put_chunk(fk_conn_t *c, const char *data, size_t len)
{
    if (len == 0)
        return;
    fk_buf_printf(&c->out, "%zx\r\n", len);
    fk_buf_add(&c->out, data, len);
    fk_buf_str(&c->out, "\r\n");
}

static void sse_finish_tail(fk_conn_t *c)
{
    if (c->sse_tail)
        return;
    if (c->sse_end == 1)
        fk_buf_str(&c->out, "0\r\n\r\n");
    c->sse_tail = 1;
    conn_flush(c);
}

static void bytes_tick(fk_timer_t *t)
{
    fk_conn_t *c = FK_CONTAINER_OF(t, fk_conn_t, sse_timer);
    if (c->sse_pending.len > 0) {
        size_t k = 1 + fk_rand() % 7;
        if (k > c->sse_pending.len)
            k = c->sse_pending.len;
        put_chunk(c, c->sse_pending.p, k);
        fk_buf_consume(&c->sse_pending, k);
        if (c->sse_pending.len > 0)
            fk_timer_arm(&c->sse_timer, 1, bytes_tick);
        conn_flush(c);
        if (c->state == FK_C_CLOSED)
            return;
    }
    if (c->sse_pending.len == 0 && c->sse_end != 0)
        sse_finish_tail(c);
}

static void coalesce_flush(fk_conn_t *c)
{
    fk_timer_disarm(&c->sse_timer);
    put_chunk(c, c->sse_pending.p, c->sse_pending.len);
    fk_buf_consume(&c->sse_pending, c->sse_pending.len);
    c->sse_pending_events = 0;
}

static void coalesce_tick(fk_timer_t *t)
{
    fk_conn_t *c = FK_CONTAINER_OF(t, fk_conn_t, sse_timer);
    coalesce_flush(c);
    if (c->sse_end != 0)
        sse_finish_tail(c);
    else
        conn_flush(c);
}

static void keepalive_tick(fk_timer_t *t)
{
    fk_conn_t *c = FK_CONTAINER_OF(t, fk_conn_t, ka_timer);
    double idle = fk_mono_ms() - c->last_send;
    if (idle + 0.5 < (double)fk_opt.keepalive_ms)
        fk_timer_arm(&c->ka_timer, (double)fk_opt.keepalive_ms - idle, keepalive_tick);
    else
        fk_sse_send(c, ": keepalive\n\n", 13);
}

void fk_sse_start(fk_conn_t *c, fk_chunking_t chunking, const char *extra)
{
    fk_timer_disarm(&c->timer);
    c->chunking = chunking;
    c->close_after = wants_close(&c->req);
    put_head(c, 200, extra);
    fk_buf_str(&c->out, "Content-Type: text/event-stream\r\nCache-Control: no-cache\r\nX-Accel-Buffering: no\r\n"
                        "Transfer-Encoding: chunked\r\n");
    fk_buf_str(&c->out, c->close_after ? "Connection: close\r\n\r\n" : "\r\n");
    c->state = FK_C_SSE;
    c->last_send = fk_mono_ms();
    fk_timer_arm(&c->ka_timer, (double)fk_opt.keepalive_ms, keepalive_tick);
    conn_flush(c);
}

void fk_sse_send(fk_conn_t *c, const char *data, size_t len)
{
    if (c->state != FK_C_SSE || c->sse_end != 0)
        return;
    if (c->out.len + c->sse_pending.len > (size_t)FK_SSE_BACKLOG_MAX) {
        fk_log("closing an event stream whose reader is %zu bytes behind", c->out.len + c->sse_pending.len);
        fk_conn_close(c);
        return;
    }
    c->last_send = fk_mono_ms();
    if (!c->ka_timer.armed)
        fk_timer_arm(&c->ka_timer, (double)fk_opt.keepalive_ms, keepalive_tick);
    switch (c->chunking) {
    case FK_WHOLE:
        put_chunk(c, data, len);
        conn_flush(c);
        break;
    case FK_BYTES:
        fk_buf_add(&c->sse_pending, data, len);
        if (!c->sse_timer.armed)
            fk_timer_arm(&c->sse_timer, 1, bytes_tick);
        break;
    case FK_COALESCE:
        fk_buf_add(&c->sse_pending, data, len);
        if (++c->sse_pending_events >= 3) {
            coalesce_flush(c);
            conn_flush(c);
        } else if (!c->sse_timer.armed) {
            fk_timer_arm(&c->sse_timer, 100, coalesce_tick);
        }
        break;
    }
}

void fk_sse_end(fk_conn_t *c, int how)
{
    if (c->state != FK_C_SSE || c->sse_end != 0)
        return;
    if (how == FK_END_CLOSED)
        fk_sse_send(c, ": stream closed\n\n", 17);
    c->sse_end = how == FK_END_DROP || how == FK_END_RESET ? 2 : 1;
    c->reset = how == FK_END_RESET;
    fk_timer_disarm(&c->ka_timer);
    if (c->chunking == FK_COALESCE)
        coalesce_flush(c);
    if (c->sse_pending.len == 0 && !c->sse_timer.armed)
        sse_finish_tail(c);
}

/* ---- requests ---- */

const char *fk_req_header(const fk_req_t *r, const char *name)
{
    for (size_t i = 0; i < r->nhdrs; ++i)
        if (strcasecmp(r->hdrs[i].name, name) == 0)
            return r->hdrs[i].value;
    return NULL;
}

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* %-decodes (and '+' as space when plus) into a new string; a decoded NUL stays encoded. */
static char *pct_decode(const char *s, size_t len, int plus)
{
    char *out = fk_malloc(len + 1);
    size_t o = 0;
    for (size_t i = 0; i < len; ++i) {
        if (s[i] == '%' && i + 2 < len) {
            int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
            if (hi >= 0 && lo >= 0 && (hi | lo) != 0) {
                out[o++] = (char)(hi * 16 + lo);
                i += 2;
                continue;
            }
        }
        out[o++] = plus && s[i] == '+' ? ' ' : s[i];
    }
    out[o] = '\0';
    return out;
}

const char *fk_req_query(const fk_req_t *r, const char *name)
{
    static char value[1024];
    size_t nl = strlen(name);
    const char *p = r->query;
    while (p != NULL && *p != '\0') {
        const char *amp = strchr(p, '&');
        size_t len = amp != NULL ? (size_t)(amp - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        size_t kl = eq != NULL ? (size_t)(eq - p) : len;
        if (kl == nl && memcmp(p, name, nl) == 0) {
            const char *v = eq != NULL ? eq + 1 : p + len;
            size_t vl = (size_t)(p + len - v);
            char *d = pct_decode(v, vl, 1);
            snprintf(value, sizeof(value), "%s", d);
            free(d);
            return value;
        }
        p = amp != NULL ? amp + 1 : NULL;
    }
    return NULL;
}

/* Early errors (before dispatch): the request head is known, its body is not read. */
static void early_error(fk_conn_t *c, int status, const char *message, const char *code)
{
    c->close_after = 2;
    c->state = FK_C_WAIT;
    if (code != NULL)
        fk_respond_error(c, status, message, code);
    else
        fk_respond_plain_status(c, status, NULL);
}

static char *find_head_end(char *p, size_t len, size_t *head_len)
{
    for (size_t i = 0; i + 1 < len; ++i) {
        if (p[i] == '\n' && p[i + 1] == '\n') {
            *head_len = i + 2;
            return p + i;
        }
        if (i + 3 < len && p[i] == '\r' && p[i + 1] == '\n' && p[i + 2] == '\r' && p[i + 3] == '\n') {
            *head_len = i + 4;
            return p + i;
        }
    }
    return NULL;
}

/* Parses the head in c->in (complete, head_len bytes) into c->req. Returns 0 or an HTTP status for a bad request. */
static int parse_head(fk_conn_t *c, size_t head_len)
{
    fk_req_t *r = &c->req;
    r->head = fk_strndup(c->in.p, head_len);
    char *save = NULL;
    char *line = strtok_r(r->head, "\n", &save);
    if (line == NULL)
        return 400;
    size_t ll = strlen(line);
    if (ll > 0 && line[ll - 1] == '\r')
        line[--ll] = '\0';
    char *sp1 = strchr(line, ' ');
    char *sp2 = sp1 != NULL ? strchr(sp1 + 1, ' ') : NULL;
    if (sp1 == NULL || sp2 == NULL || sp1 == line || sp2 == sp1 + 1)
        return 400;
    *sp1 = '\0';
    *sp2 = '\0';
    r->method = line;
    r->target = sp1 + 1;
    const char *ver = sp2 + 1;
    if (strcmp(ver, "HTTP/1.1") == 0)
        r->minor = 1;
    else if (strcmp(ver, "HTTP/1.0") == 0)
        r->minor = 0;
    else
        return 400;
    for (const char *m = r->method; *m; ++m)
        if (*m < 'A' || *m > 'Z')
            return 400;
    if (r->target[0] != '/')
        return 400;
    char *q = strchr(r->target, '?');
    size_t plen = q != NULL ? (size_t)(q - r->target) : strlen(r->target);
    r->path = pct_decode(r->target, plen, 0);
    r->query = fk_strdup(q != NULL ? q + 1 : "");
    while ((line = strtok_r(NULL, "\n", &save)) != NULL) {
        ll = strlen(line);
        if (ll > 0 && line[ll - 1] == '\r')
            line[--ll] = '\0';
        if (ll == 0)
            break;
        if (line[0] == ' ' || line[0] == '\t')
            return 400; /* obsolete line folding */
        char *colon = strchr(line, ':');
        if (colon == NULL || colon == line)
            return 400;
        if (r->nhdrs >= FK_MAX_HEADERS)
            return 431;
        *colon = '\0';
        for (char *n = line; *n; ++n)
            if (*n == ' ' || *n == '\t')
                return 400;
        char *v = colon + 1;
        while (*v == ' ' || *v == '\t')
            ++v;
        char *e = v + strlen(v);
        while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
            *--e = '\0';
        r->hdrs[r->nhdrs].name = line;
        r->hdrs[r->nhdrs].value = v;
        ++r->nhdrs;
    }
    return 0;
}

/* Parses and dispatches the complete requests in c->in, one at a time (the next once the answer is written). */
static void process_input(fk_conn_t *c)
{
    while (c->state == FK_C_READ) {
        /* leading empty lines are tolerated */
        size_t skip = 0;
        while (skip < c->in.len && (c->in.p[skip] == '\r' || c->in.p[skip] == '\n'))
            ++skip;
        if (skip > 0)
            fk_buf_consume(&c->in, skip);
        if (c->in.len == 0)
            return;
        size_t head_len = 0;
        if (find_head_end(c->in.p, c->in.len, &head_len) == NULL) {
            if (c->in.len > FK_MAX_HEAD)
                early_error(c, 431, NULL, NULL);
            return;
        }
        if (head_len > FK_MAX_HEAD) {
            early_error(c, 431, NULL, NULL);
            return;
        }
        req_clear(&c->req);
        c->have_req = 1;
        int bad = parse_head(c, head_len);
        if (bad != 0) {
            early_error(c, bad, NULL, NULL);
            return;
        }
        c->head_only = strcmp(c->req.method, "HEAD") == 0;
        const char *te = fk_req_header(&c->req, "Transfer-Encoding");
        if (te != NULL) {
            early_error(c, 411, NULL, NULL);
            return;
        }
        long clen = 0;
        const char *cl = fk_req_header(&c->req, "Content-Length");
        if (cl != NULL) {
            char *end;
            errno = 0;
            long long v = strtoll(cl, &end, 10);
            if (*cl < '0' || *cl > '9' || *end != '\0' || errno != 0 || v < 0) {
                early_error(c, 400, "Invalid Content-Length header.", "invalid_content_length");
                return;
            }
            if (v > FK_MAX_BODY) {
                early_error(c, 413, "Request body too large.", "body_too_large");
                return;
            }
            clen = (long)v;
        }
        if (c->in.len < head_len + (size_t)clen)
            return; /* the body is still coming; the head is parsed again then (cheap and simple) */
        if (cl != NULL) {
            c->req.body = fk_strndup(c->in.p + head_len, (size_t)clen);
            c->req.body_len = (size_t)clen;
        }
        fk_buf_consume(&c->in, head_len + (size_t)clen);
        c->state = FK_C_WAIT;
        fk_dispatch(c);
    }
}

static void conn_read(fk_conn_t *c)
{
    for (;;) {
        char tmp[65536];
        ssize_t n = read(c->fd, tmp, sizeof(tmp));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            fk_conn_close(c);
            return;
        }
        if (n == 0) {
            /* the peer is gone (or half-closed: nothing more will come, and nobody waits for what is queued here) */
            fk_conn_close(c);
            return;
        }
        if (c->state == FK_C_SSE || c->state == FK_C_DRAIN)
            continue; /* discarded */
        fk_buf_add(&c->in, tmp, (size_t)n);
        if (c->in.len > (size_t)FK_MAX_HEAD + (size_t)FK_MAX_BODY + 4096) {
            fk_conn_close(c); /* a client pipelining far ahead of the answers */
            return;
        }
    }
    if (c->state == FK_C_READ)
        process_input(c);
}

void fk_conn_event(fk_conn_t *c, uint32_t events)
{
    if (c->state == FK_C_CLOSED)
        return;
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        conn_read(c);
    if (c->state != FK_C_CLOSED && (events & EPOLLOUT))
        conn_flush(c);
}

void fk_http_accept(void)
{
    for (;;) {
        int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        if (nconns >= FK_MAX_CONNS) {
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        fk_conn_t *c = fk_calloc(1, sizeof(*c));
        c->fd = fd;
        c->serial = ++next_serial;
        c->state = FK_C_READ;
        struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
        if (epoll_ctl(ep_fd, EPOLL_CTL_ADD, fd, &ev) != 0) {
            close(fd);
            free(c);
            continue;
        }
        c->next = conns;
        if (conns != NULL)
            conns->prev = c;
        conns = c;
        ++nconns;
    }
}

void fk_sse_cut(fk_conn_t *c, const char *frame, size_t len, size_t keep, int clean)
{
    if (c->state != FK_C_SSE || c->sse_end != 0)
        return;
    /* what the chunking modes still hold goes first, whole */
    fk_timer_disarm(&c->sse_timer);
    put_chunk(c, c->sse_pending.p, c->sse_pending.len);
    fk_buf_consume(&c->sse_pending, c->sse_pending.len);
    c->sse_pending_events = 0;
    fk_timer_disarm(&c->ka_timer);
    if (keep > len)
        keep = len;
    if (clean) {
        put_chunk(c, frame, keep); /* a whole chunk, then the last chunk: only the event is cut */
        c->sse_end = 1;
    } else {
        fk_buf_printf(&c->out, "%zx\r\n", len); /* the chunk says the whole frame comes; the connection closes first */
        fk_buf_add(&c->out, frame, keep);
        c->sse_end = 2;
    }
    sse_finish_tail(c);
}
