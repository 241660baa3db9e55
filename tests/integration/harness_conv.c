#include "harness_conv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hl/common.h"

/* ---- a daemon with a device ---- */

void hltc_start(hltc_ctx_t *c, int tls, hlt_env_t *env)
{
    memset(c, 0, sizeof(*c));
    hlt_daemon_opts_t o = {.tls = tls, .env = env};
    hlt_daemon_start(&c->d, &o);
    c->started = 1;
    hlt_enroll(&c->d, HLT_H1, NULL, &c->dev);
}

void hltc_teardown_shared(hltc_ctx_t *c, const char *what)
{
    if (!c->started)
        return;
    hlt_device_free(&c->dev);
    hlt_daemon_teardown_shared(&c->d, what);
    c->started = 0;
}

/* ---- calls ---- */

json_t *hltc_call(const hlt_daemon_t *d, hlt_proto_t proto, const char *bearer, const char *method, const char *path,
                  const char *body, long want_status)
{
    hlt_response_t res;
    hlt_api(d, proto, method, path, bearer, body, &res);
    ck_assert_msg(res.status == want_status, "%s %s over %s: expected %ld, got %ld: %.500s", method, path, hlt_proto_name(proto),
                  want_status, res.status, res.body);
    if (want_status >= 200 && want_status < 300) {
        hlt_assert_json(&res);
        hlt_assert_cors(&res);
        ck_assert_msg(json_is_true(json_object_get(res.json, "ok")), "%s %s: no \"ok\": true in %.400s", method, path, res.body);
    }
    json_t *j = json_incref(res.json);
    hlt_response_free(&res);
    return j;
}

void hltc_call_error(const hlt_daemon_t *d, hlt_proto_t proto, const char *bearer, const char *method, const char *path,
                     const char *body, long want_status, const char *code)
{
    hlt_response_t res;
    hlt_api(d, proto, method, path, bearer, body, &res);
    if (res.status != want_status)
        ck_abort_msg("%s %s over %s: expected %ld %s, got %ld: %.500s", method, path, hlt_proto_name(proto), want_status, code,
                     res.status, res.body);
    hlt_assert_error(d, &res, want_status, code);
    hlt_response_free(&res);
}

void hltc_assert_id(const char *id, const char *prefix)
{
    char pattern[64];
    snprintf(pattern, sizeof(pattern), "^%s[0-9a-f]{32}$", prefix);
    ck_assert_msg(id != NULL && hlt_matches(id, pattern), "id %s is not %s<32 hex>", id != NULL ? id : "(null)", prefix);
}

void hltc_assert_summary(json_t *s, const char *what)
{
    ck_assert_msg(json_is_object(s), "%s is not an object", what);
    static const char *const keys[] = {"id",    "title",   "created_at",   "updated_at",  "last_event_seq",
                                       "usage", "profile", "last_message", "unread_count"};
    for (size_t i = 0; i < HL_ARRAY_SIZE(keys); ++i)
        ck_assert_msg(json_object_get(s, keys[i]) != NULL, "%s has no %s: %s", what, keys[i], json_dumps(s, JSON_COMPACT));
    hltc_assert_id(hlt_str(s, "id"), "conv_");
    hlt_str(s, "title");
    int64_t created = hlt_iso(s, "created_at"), updated = hlt_iso(s, "updated_at");
    ck_assert_msg(updated >= created, "%s: updated_at before created_at", what);
    ck_assert_msg(json_is_integer(json_object_get(s, "last_event_seq")) &&
                      json_integer_value(json_object_get(s, "last_event_seq")) >= 0,
                  "%s: last_event_seq", what);
    json_t *u = json_object_get(s, "usage");
    ck_assert_msg(json_is_integer(json_object_get(u, "input_tokens")) && json_is_integer(json_object_get(u, "output_tokens")) &&
                      json_is_integer(json_object_get(u, "total_tokens")),
                  "%s: usage %s", what, json_dumps(u, JSON_COMPACT));
    json_t *p = json_object_get(s, "profile");
    ck_assert_msg(json_is_string(json_object_get(p, "name")) && json_is_string(json_object_get(p, "display_name")) &&
                      json_is_null(json_object_get(p, "avatar_url")),
                  "%s: profile %s", what, json_dumps(p, JSON_COMPACT));
    json_t *lm = json_object_get(s, "last_message");
    ck_assert_msg(json_is_null(lm) ||
                      (json_is_object(lm) && json_is_string(json_object_get(lm, "id")) &&
                       json_is_string(json_object_get(lm, "role")) && json_is_string(json_object_get(lm, "content_preview"))),
                  "%s: last_message %s", what, json_dumps(lm, JSON_COMPACT));
    json_t *unread = json_object_get(s, "unread_count");
    ck_assert_msg(json_is_integer(unread) && json_integer_value(unread) >= 0, "%s: unread_count", what);
}

void hltc_assert_message(json_t *m, const char *what)
{
    ck_assert_msg(json_is_object(m), "%s is not an object", what);
    hltc_assert_id(hlt_str(m, "id"), "msg_");
    ck_assert_msg(json_integer_value(json_object_get(m, "schema_version")) == 1, "%s: schema_version", what);
    hltc_assert_id(hlt_str(m, "conversation_id"), "conv_");
    const char *role = hlt_str(m, "role");
    ck_assert_msg(strcmp(role, "user") == 0 || strcmp(role, "assistant") == 0, "%s: role %s", what, role);
    const char *status = hlt_str(m, "status");
    ck_assert_msg(hlt_matches(status, "^(completed|streaming|failed|queued|cancelled)$"), "%s: status %s", what, status);
    hlt_iso(m, "created_at");
    hlt_iso(m, "updated_at");
    json_t *sender = json_object_get(m, "sender");
    if (strcmp(role, "user") == 0) {
        ck_assert_str_eq(hlt_str(sender, "id"), "app_user");
        ck_assert_str_eq(hlt_str(sender, "type"), "human");
        ck_assert_str_eq(hlt_str(sender, "display_name"), "Me");
        ck_assert_msg(json_object_get(m, "run_id") == NULL, "%s: a user message has a run_id", what);
    } else {
        ck_assert_str_eq(hlt_str(sender, "id"), "agent_default");
        ck_assert_str_eq(hlt_str(sender, "type"), "agent");
        ck_assert_str_eq(hlt_str(sender, "display_name"), "Hermes");
        hltc_assert_id(hlt_str(m, "run_id"), "run_");
    }
    json_t *parts = json_object_get(m, "parts");
    ck_assert_msg(json_is_array(parts) && json_array_size(parts) >= 1, "%s: parts", what);
    ck_assert_str_eq(hlt_str(json_array_get(parts, 0), "type"), "text");
    hlt_str(json_array_get(parts, 0), "text");
    ck_assert_msg(json_is_array(json_object_get(m, "attachments")), "%s: attachments", what);
}

char *hltc_create(const hlt_daemon_t *d, hlt_proto_t proto, const char *bearer, const char *title)
{
    char *body = NULL;
    if (title != NULL) {
        json_t *b = json_pack("{s:s}", "title", title);
        body = json_dumps(b, JSON_COMPACT);
        json_decref(b);
    }
    json_t *j = hltc_call(d, proto, bearer, "POST", "/api/v1/conversations", body, 201);
    free(body);
    json_t *s = json_object_get(j, "conversation");
    hltc_assert_summary(s, "created conversation");
    char *id = hl_strdup(hlt_str(s, "id"));
    json_decref(j);
    return id;
}

json_t *hltc_send(const hlt_daemon_t *d, hlt_proto_t proto, const char *bearer, const char *conv, const char *text)
{
    json_t *b = json_pack("{s:s}", "content", text);
    char *body = json_dumps(b, JSON_COMPACT), path[200];
    json_decref(b);
    snprintf(path, sizeof(path), "/api/v1/conversations/%s/messages", conv);
    json_t *j = hltc_call(d, proto, bearer, "POST", path, body, 202);
    free(body);
    ck_assert_str_eq(hlt_str(j, "conversation_id"), conv);
    hltc_assert_id(hlt_str(json_object_get(j, "user_message"), "id"), "msg_");
    hltc_assert_id(hlt_str(json_object_get(j, "assistant_message"), "id"), "msg_");
    hltc_assert_id(hlt_str(json_object_get(j, "run"), "id"), "run_");
    hltc_assert_summary(json_object_get(j, "conversation"), "send response conversation");
    return j;
}

json_t *hltc_messages(const hlt_daemon_t *d, hlt_proto_t proto, const char *bearer, const char *conv)
{
    char path[200];
    snprintf(path, sizeof(path), "/api/v1/conversations/%s/messages?limit=100", conv);
    return hltc_call(d, proto, bearer, "GET", path, NULL, 200);
}

int64_t hltc_last_seq(const hlt_daemon_t *d, const char *bearer, const char *conv)
{
    char path[200];
    snprintf(path, sizeof(path), "/api/v1/conversations/%s/messages?limit=1", conv);
    json_t *j = hltc_call(d, HLT_H1, bearer, "GET", path, NULL, 200);
    int64_t seq = json_integer_value(json_object_get(j, "last_event_seq"));
    json_decref(j);
    return seq;
}

static int run_ended(const char *type)
{
    return type != NULL &&
           (strcmp(type, "run.completed") == 0 || strcmp(type, "run.failed") == 0 || strcmp(type, "run.cancelled") == 0);
}

hltc_events_t *hltc_wait_runs_done(const hlt_daemon_t *d, const char *bearer, const char *conv, long timeout_ms)
{
    long deadline = hlt_now_ms() + timeout_ms;
    for (;;) {
        int64_t last = hltc_last_seq(d, bearer, conv);
        hltc_events_t *e = hltc_replay(d, bearer, conv, 0, last);
        /* distinct runs started vs runs ended */
        json_t *started = json_object(), *ended = json_object();
        for (size_t i = 0; i < e->n; ++i) {
            const char *run = json_string_value(json_object_get(e->v[i].json, "run_id"));
            if (run == NULL)
                continue;
            if (e->v[i].type != NULL && strcmp(e->v[i].type, "run.started") == 0)
                json_object_set_new(started, run, json_true());
            if (run_ended(e->v[i].type))
                json_object_set_new(ended, run, json_true());
        }
        int done = json_object_size(started) == json_object_size(ended);
        json_decref(started);
        json_decref(ended);
        if (done)
            return e;
        ck_assert_msg(hlt_now_ms() < deadline, "runs of %s did not end within %ld ms", conv, timeout_ms);
        hltc_events_free(e);
        free(e);
        hlt_sleep_ms(20);
    }
}

/* ---- SSE ---- */

void hltc_events_free(hltc_events_t *e)
{
    for (size_t i = 0; i < e->n; ++i) {
        free(e->v[i].type);
        free(e->v[i].data);
        json_decref(e->v[i].json);
    }
    free(e->v);
    free(e->last_comment);
    memset(e, 0, sizeof(*e));
    e->retry = -1;
}

static void parse_block(hltc_events_t *e, const char *b, size_t len)
{
    hltc_event_t ev = {.id = -1};
    int has_field = 0, comment = 0;
    const char *p = b, *end = b + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl != NULL ? nl : end;
        size_t ll = (size_t)(le - p);
        if (ll > 0 && p[0] == ':') {
            comment = 1;
            free(e->last_comment);
            e->last_comment = hl_strndup(p, ll);
        } else if (ll >= 4 && memcmp(p, "id: ", 4) == 0) {
            ev.id = strtoll(p + 4, NULL, 10);
            has_field = 1;
        } else if (ll >= 7 && memcmp(p, "event: ", 7) == 0) {
            free(ev.type);
            ev.type = hl_strndup(p + 7, ll - 7);
            has_field = 1;
        } else if (ll >= 6 && memcmp(p, "data: ", 6) == 0) {
            ev.data = hl_strndup(p + 6, ll - 6);
            has_field = 1;
        } else if (ll >= 7 && memcmp(p, "retry: ", 7) == 0) {
            e->retry = strtoll(p + 7, NULL, 10);
        } else if (ll > 0) {
            ck_abort_msg("unexpected SSE line: %.*s", (int)ll, p);
        }
        p = le + 1;
    }
    if (comment && !has_field)
        ++e->comments;
    if (!has_field)
        return;
    ck_assert_msg(ev.data != NULL, "SSE event without data (id %lld)", (long long)ev.id);
    ev.json = json_loads(ev.data, 0, NULL);
    ck_assert_msg(json_is_object(ev.json), "SSE data is not a JSON object: %.300s", ev.data);
    if (e->n == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 64;
        e->v = hl_realloc(e->v, sizeof(*e->v) * e->cap);
    }
    e->v[e->n++] = ev;
}

size_t hltc_sse_parse(hltc_events_t *e, const char *text, size_t len, size_t *offset)
{
    size_t added = 0;
    for (;;) {
        if (*offset >= len)
            break;
        const char *start = text + *offset;
        const char *sep = NULL;
        for (const char *p = start; p + 1 < text + len; ++p)
            if (p[0] == '\n' && p[1] == '\n') {
                sep = p;
                break;
            }
        if (sep == NULL)
            break;
        size_t before = e->n;
        parse_block(e, start, (size_t)(sep - start));
        added += e->n - before;
        *offset = (size_t)(sep + 2 - text);
    }
    return added;
}

long hltc_find(const hltc_events_t *e, const char *type, const char *key, const char *value)
{
    for (size_t i = 0; i < e->n; ++i) {
        if (e->v[i].type == NULL || strcmp(e->v[i].type, type) != 0)
            continue;
        if (key != NULL) {
            const char *v = json_string_value(json_object_get(e->v[i].json, key));
            if (v == NULL || strcmp(v, value) != 0)
                continue;
        }
        return (long)i;
    }
    return -1;
}

size_t hltc_count_type(const hltc_events_t *e, const char *type)
{
    size_t n = 0;
    for (size_t i = 0; i < e->n; ++i)
        n += e->v[i].type != NULL && strcmp(e->v[i].type, type) == 0;
    return n;
}

void hltc_sse_open(hltc_sse_t *s, const hlt_daemon_t *d, hlt_proto_t proto, const char *bearer, const char *path,
                   const char *const *headers, CURLM *multi)
{
    memset(s, 0, sizeof(*s));
    s->ev.retry = -1;
    const char *hdrs[12];
    size_t n = 0;
    char auth[512];
    if (bearer != NULL) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", bearer);
        hdrs[n++] = auth;
    }
    for (size_t i = 0; headers != NULL && headers[i] != NULL && n + 1 < HL_ARRAY_SIZE(hdrs); ++i)
        hdrs[n++] = headers[i];
    hdrs[n] = NULL;
    hlt_request_t req = {.path = path, .headers = hdrs, .timeout_ms = 170000};
    s->easy = hlt_easy_new(d, proto, &req, &s->res); /* CURLOPT_PRIVATE = &s->res = s */
    if (proto != HLT_H1)
        curl_easy_setopt(s->easy, CURLOPT_PIPEWAIT, 1L);
    s->own_multi = multi == NULL;
    s->multi = multi != NULL ? multi : hlt_multi_new();
    curl_multi_add_handle(s->multi, s->easy);
}

static void parse_all(hltc_sse_t *s)
{
    hltc_sse_parse(&s->ev, s->res.body, s->res.body_len, &s->parsed);
}

void hltc_sse_update(hltc_sse_t *s)
{
    parse_all(s);
}

void hltc_sse_drive(CURLM *multi, long ms)
{
    long deadline = hlt_now_ms() + ms;
    for (;;) {
        int running;
        curl_multi_perform(multi, &running);
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(multi, &left)) != NULL) {
            if (m->msg != CURLMSG_DONE)
                continue;
            CURL *c = m->easy_handle;
            CURLcode rc = m->data.result;
            hltc_sse_t *s = NULL;
            curl_easy_getinfo(c, CURLINFO_PRIVATE, (char **)&s);
            curl_multi_remove_handle(multi, c);
            hlt_easy_finish(c, rc, &s->res);
            s->easy = NULL;
            s->done = 1;
            parse_all(s);
        }
        long now = hlt_now_ms();
        if (now >= deadline)
            break;
        long wait = deadline - now;
        curl_multi_poll(multi, NULL, 0, (int)(wait < 20 ? wait : 20), NULL);
    }
}

int hltc_sse_wait(hltc_sse_t *s, size_t n, int64_t min_id, long timeout_ms)
{
    long deadline = hlt_now_ms() + timeout_ms;
    for (;;) {
        parse_all(s);
        if (n > 0 && s->ev.n >= n)
            return 1;
        if (n == 0)
            for (size_t i = 0; i < s->ev.n; ++i)
                if (s->ev.v[i].id >= min_id)
                    return 1;
        if (s->done || hlt_now_ms() >= deadline)
            return 0;
        hltc_sse_drive(s->multi, 20);
    }
}

void hltc_sse_compact(hltc_sse_t *s)
{
    parse_all(s);
    if (s->parsed == 0)
        return;
    memmove(s->res.body, s->res.body + s->parsed, s->res.body_len - s->parsed + 1);
    s->res.body_len -= s->parsed;
    s->parsed = 0;
}

void hltc_sse_pump(hltc_sse_t *s, long ms)
{
    if (!s->done)
        hltc_sse_drive(s->multi, ms);
    parse_all(s);
}

void hltc_sse_close(hltc_sse_t *s)
{
    if (s->easy != NULL) {
        parse_all(s);
        curl_multi_remove_handle(s->multi, s->easy);
        curl_easy_cleanup(s->easy);
        s->easy = NULL;
    }
    if (s->own_multi && s->multi != NULL)
        curl_multi_cleanup(s->multi);
    s->multi = NULL;
    hlt_response_free(&s->res);
    hltc_events_free(&s->ev);
}

void hltc_sse_assert_head(hltc_sse_t *s)
{
    parse_all(s);
    long status = 0;
    if (s->easy != NULL)
        curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
    else
        status = s->res.status;
    ck_assert_msg(status == 200, "event stream answered %ld: %.300s", status, s->res.body);
    hlt_assert_header(&s->res, "content-type", "text/event-stream");
    hlt_assert_header(&s->res, "cache-control", "no-cache");
    hlt_assert_header(&s->res, "x-accel-buffering", "no");
    hlt_assert_cors(&s->res);
    ck_assert_msg(strncmp(s->res.body, "retry: ", 7) == 0, "the stream does not open with retry: %.100s", s->res.body);
    ck_assert_msg(s->ev.retry > 0, "no retry: value parsed");
}

hltc_events_t *hltc_replay(const hlt_daemon_t *d, const char *bearer, const char *conv, int64_t after, int64_t until)
{
    char path[200];
    snprintf(path, sizeof(path), "/api/v1/conversations/%s/events?after=%lld", conv, (long long)after);
    hltc_sse_t s;
    hltc_sse_open(&s, d, HLT_H1, bearer, path, NULL, NULL);
    int ok = until <= after || hltc_sse_wait(&s, 0, until, 30000);
    if (!ok) {
        char msg[600];
        snprintf(msg, sizeof(msg), "replay of %s after %lld: no event %lld within 30 s (%zu events, status %ld, body %.300s)", conv,
                 (long long)after, (long long)until, s.ev.n, s.res.status, s.res.body);
        hltc_sse_close(&s);
        ck_abort_msg("%s", msg);
    }
    hltc_events_t *e = hl_malloc(sizeof(*e));
    *e = s.ev;
    memset(&s.ev, 0, sizeof(s.ev));
    hltc_sse_close(&s);
    return e;
}

int hltc_raw_get(int port, const char *path, const char *bearer, int rcvbuf)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert(fd >= 0);
    if (rcvbuf > 0)
        ck_assert(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)) == 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_msg(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "connect: %s", strerror(errno));
    char req[1024];
    int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n\r\n", path, bearer);
    ck_assert(write(fd, req, (size_t)n) == n);
    return fd;
}

long hltc_raw_read(int fd, char **buf, size_t *len, long ms)
{
    long deadline = hlt_now_ms() + ms, got = 0;
    for (;;) {
        long left = deadline - hlt_now_ms();
        if (left <= 0)
            return got;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, (int)(left < 50 ? left : 50)) <= 0)
            continue;
        char tmp[65536];
        ssize_t r = read(fd, tmp, sizeof(tmp));
        if (r <= 0)
            return got > 0 ? got : -1;
        *buf = hl_realloc(*buf, *len + (size_t)r + 1);
        memcpy(*buf + *len, tmp, (size_t)r);
        *len += (size_t)r;
        (*buf)[*len] = '\0';
        got += r;
    }
}

int hltc_raw_stream_open(int port, const char *path, const char *bearer, long ms)
{
    int fd = hltc_raw_get(port, path, bearer, 0);
    char *buf = NULL;
    size_t len = 0;
    long deadline = hlt_now_ms() + ms;
    while ((buf == NULL || strstr(buf, "\r\n\r\n") == NULL) && hlt_now_ms() < deadline)
        if (hltc_raw_read(fd, &buf, &len, deadline - hlt_now_ms() < 50 ? deadline - hlt_now_ms() : 50) < 0)
            break;
    int ok = buf != NULL && strncmp(buf, "HTTP/1.1 200 ", 13) == 0 && strstr(buf, "\r\n\r\n") != NULL;
    free(buf);
    if (!ok) {
        close(fd);
        return -1;
    }
    return fd;
}

char *hltc_dechunk(const char *raw, size_t len, size_t *out_len, int *complete)
{
    *complete = 0;
    char *out = hl_malloc(len + 1);
    size_t o = 0;
    const char *p = raw, *end = raw + len;
    while (p < end) {
        const char *crlf = NULL;
        for (const char *q = p; q + 1 < end; ++q)
            if (q[0] == '\r' && q[1] == '\n') {
                crlf = q;
                break;
            }
        if (crlf == NULL)
            break;
        size_t size = strtoul(p, NULL, 16);
        if (size == 0) {
            *complete = 1;
            break;
        }
        if ((size_t)(end - (crlf + 2)) < size + 2)
            break; /* a chunk not fully received yet */
        memcpy(out + o, crlf + 2, size);
        o += size;
        p = crlf + 2 + size + 2;
    }
    out[o] = '\0';
    *out_len = o;
    return out;
}

/* ---- blobs ---- */

void hltc_upload(const hlt_daemon_t *d, hlt_proto_t proto, const char *bearer, const char *conv, const char *data, size_t len,
                 const char *content_type, const char *filename, hlt_response_t *res)
{
    char path[300], auth[512], ct[300], cd[600];
    snprintf(path, sizeof(path), "/api/v1/conversations/%s/blobs", conv);
    const char *hdrs[5];
    size_t n = 0;
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", bearer);
    hdrs[n++] = auth;
    if (content_type != NULL)
        snprintf(ct, sizeof(ct), "Content-Type: %s", content_type);
    else
        snprintf(ct, sizeof(ct), "Content-Type:"); /* libcurl would send application/x-www-form-urlencoded */
    hdrs[n++] = ct;
    if (filename != NULL) {
        snprintf(cd, sizeof(cd), "Content-Disposition: attachment; filename=\"%s\"", filename);
        hdrs[n++] = cd;
    }
    hdrs[n] = NULL;
    hlt_request_t req = {
        .method = "POST", .path = path, .headers = hdrs, .body = data, .body_len = len, .has_body = 1, .timeout_ms = 60000};
    hlt_fetch(d, proto, &req, res);
}

char *hltc_upload_ok(const hlt_daemon_t *d, hlt_proto_t proto, const char *bearer, const char *conv, const char *data, size_t len,
                     const char *content_type, const char *filename)
{
    hlt_response_t res;
    hltc_upload(d, proto, bearer, conv, data, len, content_type, filename, &res);
    ck_assert_msg(res.status == 201, "blob upload of %zu bytes over %s: %ld %.300s", len, hlt_proto_name(proto), res.status,
                  res.body);
    hlt_assert_json(&res);
    hlt_assert_cors(&res);
    ck_assert(json_is_true(json_object_get(res.json, "ok")));
    json_t *b = json_object_get(res.json, "blob");
    hlt_assert_keys(b, "blob", "id", "size", "mime", "filename", "created_at", "conversation_ids", NULL);
    hltc_assert_id(hlt_str(b, "id"), "blob_");
    ck_assert_int_eq(json_integer_value(json_object_get(b, "size")), (json_int_t)len);
    hlt_iso(b, "created_at");
    json_t *convs = json_object_get(b, "conversation_ids");
    ck_assert_msg(json_array_size(convs) == 1 && strcmp(json_string_value(json_array_get(convs, 0)), conv) == 0,
                  "blob conversation_ids %s", json_dumps(convs, JSON_COMPACT));
    char *id = hl_strdup(hlt_str(b, "id"));
    hlt_response_free(&res);
    return id;
}

/* ---- the process and its database ---- */

long hltc_rss_kib(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    char *text = hlt_read_file(path, NULL);
    if (text == NULL)
        return -1;
    const char *p = strstr(text, "VmRSS:");
    long kib = p != NULL ? strtol(p + 6, NULL, 10) : -1;
    free(text);
    return kib;
}

void hltc_kill9(hlt_daemon_t *d)
{
    if (d->pid <= 0)
        return;
    ck_assert(kill(d->pid, SIGKILL) == 0);
    int status;
    ck_assert(hlt_wait_exit(d->pid, &status, 10000));
    d->pid = 0;
    d->status = status;
}

void *hltc_db_open(const hlt_env_t *env, int rw)
{
    char *path = hlt_env_path(env, 1, "link.db");
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, rw ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY, NULL);
    ck_assert_msg(rc == SQLITE_OK, "cannot open %s: %s", path, db != NULL ? sqlite3_errmsg(db) : "?");
    free(path);
    sqlite3_busy_timeout(db, 5000);
    return db;
}

int64_t hltc_db_int(void *db, const char *sql, const char *arg)
{
    sqlite3_stmt *st;
    ck_assert_msg(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK, "%s: %s", sql, sqlite3_errmsg(db));
    if (arg != NULL)
        sqlite3_bind_text(st, 1, arg, -1, SQLITE_TRANSIENT);
    int64_t v = -1;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    else
        ck_assert_msg(rc == SQLITE_DONE, "%s: %s", sql, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return v;
}

char *hltc_db_str(void *db, const char *sql, const char *arg)
{
    sqlite3_stmt *st;
    ck_assert_msg(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK, "%s: %s", sql, sqlite3_errmsg(db));
    if (arg != NULL)
        sqlite3_bind_text(st, 1, arg, -1, SQLITE_TRANSIENT);
    char *v = NULL;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) != NULL)
        v = hl_strdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return v;
}

void hltc_db_exec(void *db, const char *sql)
{
    char *err = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
    ck_assert_msg(rc == SQLITE_OK, "%s: %s", sql, err != NULL ? err : "?");
}

char *hltc_db_integrity(void *db)
{
    sqlite3_stmt *st;
    ck_assert(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL) == SQLITE_OK);
    char *out = NULL;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *line = (const char *)sqlite3_column_text(st, 0);
        char *next = out == NULL ? hl_strdup(line) : hl_asprintf("%s\n%s", out, line);
        free(out);
        out = next;
    }
    sqlite3_finalize(st);
    return out != NULL ? out : hl_strdup("(no result)");
}

void hltc_db_close(void *db)
{
    sqlite3_close(db);
}

void hltc_tag(char *buf, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    static unsigned long long state;
    if (state == 0)
        state = ((unsigned long long)getpid() << 32) ^ (unsigned long long)hlt_now_ms() ^ 0x9e3779b97f4a7c15ULL;
    for (size_t i = 0; i < n; ++i) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        buf[i] = hex[state & 15];
    }
    buf[n] = '\0';
}

json_t *hltc_all_messages(const hlt_daemon_t *d, const char *bearer, const char *conv)
{
    json_t *ids = json_object();
    char path[200], before[64] = "";
    snprintf(path, sizeof(path), "/api/v1/conversations/%s/messages?limit=100", conv);
    for (;;) {
        json_t *j = hltc_call(d, HLT_H1, bearer, "GET", before[0] ? hltc_fmt("%s&before=%s", path, before) : path, NULL, 200);
        size_t i;
        json_t *m;
        json_array_foreach(json_object_get(j, "messages"), i, m)
        {
            json_object_set_new(ids, hlt_str(m, "id"), json_string(hlt_str(m, "status")));
        }
        json_t *page = json_object_get(j, "page");
        int more = json_is_true(json_object_get(page, "has_more_before"));
        if (more)
            snprintf(before, sizeof(before), "%s", hlt_str(page, "oldest_message_id"));
        json_decref(j);
        if (!more)
            return ids;
    }
}

void hltc_assert_integrity(const hlt_env_t *env, const char *when)
{
    void *db = hltc_db_open(env, 1);
    char *r = hltc_db_integrity(db);
    hltc_db_close(db);
    char msg[512];
    snprintf(msg, sizeof(msg), "%s", r);
    free(r);
    ck_assert_msg(strcmp(msg, "ok") == 0, "PRAGMA integrity_check %s: %s", when, msg);
}

const char *hltc_fmt(const char *fmt, ...)
{
    static char bufs[16][4096];
    static unsigned next;
    char *b = bufs[next++ % 16];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b, sizeof(bufs[0]), fmt, ap);
    va_end(ap);
    return b;
}

/* ---- an event generator on a thread ---- */

typedef struct st_gen_req_t {
    char *body;
    long status;
} gen_req_t;

static size_t gen_discard(char *data, size_t size, size_t nmemb, void *user)
{
    (void)data;
    (void)user;
    return size * nmemb;
}

static CURL *gen_easy(hltc_gen_t *g, int tls, struct curl_slist *hdrs, int i, char **body)
{
    CURL *c = curl_easy_init();
    if (c == NULL)
        return NULL;
    char url[512];
    if (tls) {
        snprintf(url, sizeof(url), "https://127.0.0.1:%d/api/v1/conversations/%s/%s", g->d->tls_port, g->conv, g->what);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
        curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
        curl_easy_setopt(c, CURLOPT_PIPEWAIT, 1L);
    } else {
        snprintf(url, sizeof(url), "http://127.0.0.1:%d/api/v1/conversations/%s/%s", g->d->port, g->conv, g->what);
        curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 30000L);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "PATCH");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, gen_discard);
    size_t tl = (size_t)(g->title_len > 16 ? g->title_len : 16);
    char *b = hl_malloc(tl + 32);
    int n = snprintf(b, tl + 32, "{\"%s\":\"g%d ", g->what, i);
    while ((size_t)n < tl + 12)
        b[n++] = 'x';
    memcpy(b + n, "\"}", 3);
    *body = b;
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, b);
    return c;
}

static void gen_result(hltc_gen_t *g, CURLcode rc, CURL *c)
{
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (rc == CURLE_OK && status == 200) {
        ++g->ok;
    } else {
        ++g->failed;
        snprintf(g->last_error, sizeof(g->last_error), "rename answered %ld (%s)", status, curl_easy_strerror(rc));
    }
}

static void *gen_main(void *arg)
{
    hltc_gen_t *g = arg;
    char auth[600];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", g->bearer);
    struct curl_slist *hdrs = curl_slist_append(NULL, auth);
    hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
    hdrs = curl_slist_append(hdrs, "Expect:");
    if (g->in_flight <= 1) {
        for (int i = 0; i < g->n; ++i) {
            char *body;
            CURL *c = gen_easy(g, 0, hdrs, i, &body);
            ++g->sent;
            gen_result(g, curl_easy_perform(c), c);
            curl_easy_cleanup(c);
            free(body);
            if (g->pause_us > 0)
                usleep((useconds_t)g->pause_us);
        }
    } else {
        CURLM *m = curl_multi_init();
        curl_multi_setopt(m, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
        int running = 0, next = 0;
        char **bodies = hl_calloc((size_t)g->n, sizeof(*bodies));
        while (next < g->n || running > 0) {
            while (next < g->n && running < g->in_flight) {
                CURL *c = gen_easy(g, 1, hdrs, next, &bodies[next]);
                curl_easy_setopt(c, CURLOPT_PRIVATE, (char *)(intptr_t)next);
                curl_multi_add_handle(m, c);
                ++next;
                ++running;
                ++g->sent;
            }
            int still;
            curl_multi_perform(m, &still);
            CURLMsg *msg;
            int left;
            while ((msg = curl_multi_info_read(m, &left)) != NULL) {
                if (msg->msg != CURLMSG_DONE)
                    continue;
                CURL *c = msg->easy_handle;
                CURLcode rc = msg->data.result;
                gen_result(g, rc, c);
                curl_multi_remove_handle(m, c);
                curl_easy_cleanup(c);
                --running;
            }
            curl_multi_poll(m, NULL, 0, 20, NULL);
        }
        for (int i = 0; i < g->n; ++i)
            free(bodies[i]);
        free(bodies);
        curl_multi_cleanup(m);
    }
    curl_slist_free_all(hdrs);
    __atomic_store_n(&g->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

void hltc_gen_start(hltc_gen_t *g, const hlt_daemon_t *d, const char *bearer, const char *conv, const char *what, int n,
                    int title_len, int in_flight, long pause_us)
{
    memset(g, 0, sizeof(*g));
    g->d = d;
    g->bearer = hl_strdup(bearer);
    g->conv = hl_strdup(conv);
    g->what = hl_strdup(what);
    g->n = n;
    g->title_len = title_len;
    g->in_flight = in_flight;
    g->pause_us = pause_us;
    ck_assert_msg(in_flight <= 1 || d->tls_port > 0, "a multiplexed generator needs the daemon's TLS port");
    pthread_t t;
    ck_assert(pthread_create(&t, NULL, gen_main, g) == 0);
    g->thread = (unsigned long)t;
}

void hltc_gen_join(hltc_gen_t *g)
{
    pthread_join((pthread_t)g->thread, NULL);
    char err[256];
    snprintf(err, sizeof(err), "%s", g->last_error);
    int ok = g->ok, failed = g->failed, n = g->n;
    free(g->bearer);
    free(g->conv);
    free(g->what);
    g->bearer = g->conv = g->what = NULL;
    ck_assert_msg(failed == 0 && ok == n, "generator: %d of %d updates failed, last: %s", failed, n, err);
}
