#include "auth_util.h"

#include <netinet/in.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "hl/common.h"
#include "hl/control.h"

static char source_addr[64];

void hlt_api_set_source(const char *fmt, ...)
{
    if (fmt == NULL) {
        source_addr[0] = '\0';
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(source_addr, sizeof(source_addr), fmt, ap);
    va_end(ap);
}

const char *hlt_api_source(void)
{
    return source_addr[0] != '\0' ? source_addr : NULL;
}

void hlt_api_ex(const hlt_daemon_t *d, hlt_proto_t proto, const char *method, const char *path, const char *const *headers,
                const char *bearer, const char *body, hlt_response_t *res)
{
    const char *hdrs[16];
    size_t n = 0;
    char auth[1024];
    if (bearer != NULL) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", bearer);
        hdrs[n++] = auth;
    }
    if (body != NULL)
        hdrs[n++] = "Content-Type: application/json";
    for (size_t i = 0; headers != NULL && headers[i] != NULL && n + 1 < HL_ARRAY_SIZE(hdrs); ++i)
        hdrs[n++] = headers[i];
    hdrs[n] = NULL;
    hlt_request_t req = {.method = method,
                         .path = path,
                         .headers = hdrs,
                         .body = body,
                         .body_len = body != NULL ? strlen(body) : 0,
                         .source_addr = hlt_api_source()};
    hlt_fetch(d, proto, &req, res);
}

void hlt_assert_ok(const hlt_response_t *res)
{
    ck_assert_msg(res->status == 200, "expected 200, got %ld: %.400s", res->status, res->body);
    hlt_assert_json(res);
    hlt_assert_cors(res);
    ck_assert_msg(json_is_true(json_object_get(res->json, "ok")), "no \"ok\": true in %.400s", res->body);
}

void hlt_assert_header(const hlt_response_t *res, const char *name, const char *want)
{
    const char *v = hlt_header(res, name);
    if (want == NULL) {
        ck_assert_msg(v == NULL, "status %ld: unexpected header %s: %s", res->status, name, v);
        return;
    }
    ck_assert_msg(v != NULL && strcmp(v, want) == 0, "status %ld: header %s is %s, expected %s", res->status, name,
                  v != NULL ? v : "(absent)", want);
    ck_assert_msg(hlt_header_count(res, name) == 1, "status %ld: header %s sent %zu times", res->status, name,
                  hlt_header_count(res, name));
}

void hlt_assert_keys(json_t *obj, const char *what, ...)
{
    ck_assert_msg(json_is_object(obj), "%s is not an object", what);
    va_list ap;
    va_start(ap, what);
    size_t n = 0;
    const char *k;
    while ((k = va_arg(ap, const char *)) != NULL) {
        ck_assert_msg(json_object_get(obj, k) != NULL, "%s has no key %s: %s", what, k, json_dumps(obj, JSON_COMPACT));
        ++n;
    }
    va_end(ap);
    if (json_object_size(obj) != n) {
        char *text = json_dumps(obj, JSON_COMPACT);
        ck_abort_msg("%s has %zu keys, expected exactly %zu: %s", what, json_object_size(obj), n, text);
    }
}

const char *hlt_str(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    ck_assert_msg(json_is_string(v), "%s is not a string in %s", key, json_dumps(obj, JSON_COMPACT));
    return json_string_value(v);
}

int hlt_matches(const char *s, const char *pattern)
{
    regex_t re;
    ck_assert(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) == 0);
    int r = s != NULL && regexec(&re, s, 0, NULL, 0) == 0;
    regfree(&re);
    return r;
}

int64_t hlt_parse_iso(const char *s)
{
    if (s == NULL || !hlt_matches(s, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$"))
        return -1;
    struct tm tm = {0};
    int ms;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) !=
        7)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t)timegm(&tm) * 1000 + ms;
}

int64_t hlt_iso(json_t *obj, const char *key)
{
    const char *s = hlt_str(obj, key);
    int64_t ms = hlt_parse_iso(s);
    ck_assert_msg(ms > 0, "%s = %s is not an ISO-8601 UTC time with milliseconds", key, s);
    return ms;
}

const char *hlt_format_iso(int64_t ms, char *buf)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char tmp[80];
    snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, (int)(ms % 1000));
    memcpy(buf, tmp, 24);
    buf[24] = '\0';
    return buf;
}

int64_t hlt_clock_advance(const hlt_daemon_t *d, int64_t ms)
{
    char body[64];
    snprintf(body, sizeof(body), "{\"advance_ms\":%lld}", (long long)ms);
    hlt_request_t req = {.method = "POST", .path = "/__test/clock", .body = body, .body_len = strlen(body)};
    hlt_response_t res;
    hlt_fetch(d, HLT_H1, &req, &res);
    ck_assert_msg(res.status == 200, "/__test/clock: %ld %s", res.status, res.body);
    int64_t now = hlt_iso(res.json, "now");
    hlt_response_free(&res);
    return now;
}

int64_t hlt_daemon_now(const hlt_daemon_t *d)
{
    return hlt_clock_advance(d, 0);
}

/* ---- pairing ---- */

static void pairing_from(hlt_pairing_t *p, json_t *j, const char *what)
{
    p->json = j;
    ck_assert_msg(json_is_object(j), "%s gave no JSON object", what);
    p->session_id = hlt_str(p->json, "session_id");
    p->connect_token = hlt_str(p->json, "connect_token");
    p->expires_at = hlt_str(p->json, "expires_at");
    p->link_id = hlt_str(json_object_get(p->json, "qr_payload"), "link_id");
    ck_assert_msg(hlt_matches(p->session_id, "^ps_[A-Za-z0-9_-]+$"), "session_id %s", p->session_id);
    ck_assert_msg(hlt_matches(p->connect_token, "^[A-Za-z0-9_-]{43}$"), "connect token %s", p->connect_token);
    ck_assert_msg(hlt_parse_iso(p->expires_at) > 0, "expires_at %s", p->expires_at);
}

void hlt_pair_cli(hlt_env_t *env, hlt_pairing_t *p)
{
    hlt_cli_result_t r;
    hlt_cli(env, &r, "pair", "--json", NULL);
    ck_assert_msg(r.exit_code == 0, "`hermeslink pair --json` exited %d\nstdout: %s\nstderr: %s", r.exit_code, r.out, r.err);
    json_error_t err;
    json_t *j = json_loads(r.out, 0, &err);
    ck_assert_msg(json_is_object(j), "`pair --json` printed no JSON object (%s): %s", err.text, r.out);
    hlt_cli_free(&r);
    pairing_from(p, j, "`hermeslink pair --json`");
}

void hlt_pair(hlt_env_t *env, hlt_pairing_t *p)
{
    json_t *req = json_pack("{s:s}", "cmd", "pair");
    json_t *reply = hl_control_call(env->home, req, 15000);
    json_decref(req);
    ck_assert_msg(reply != NULL && json_is_true(json_object_get(reply, "ok")), "the pair command on control.sock failed");
    json_object_del(reply, "ok");
    pairing_from(p, reply, "the pair command on control.sock");
}

void hlt_pairing_free(hlt_pairing_t *p)
{
    json_decref(p->json);
    memset(p, 0, sizeof(*p));
}

/* ---- device sessions ---- */

static void assert_token(json_t *tok, const char *what, const char *pattern, int64_t daemon_now, int64_t ttl)
{
    hlt_assert_keys(tok, what, "token", "expires_at", NULL);
    const char *t = hlt_str(tok, "token");
    ck_assert_msg(hlt_matches(t, pattern), "%s.token %s does not match %s", what, t, pattern);
    int64_t exp = hlt_iso(tok, "expires_at");
    if (daemon_now >= 0)
        ck_assert_msg(exp >= daemon_now + ttl - 10000 && exp <= daemon_now + ttl + 10000,
                      "%s.expires_at %s is not %lld ms after the daemon's now", what, hlt_str(tok, "expires_at"), (long long)ttl);
}

void hlt_assert_session(const hlt_response_t *res, int with_link, const char *link_id, int64_t daemon_now, hlt_device_t *out)
{
    hlt_assert_ok(res);
    json_t *j = res->json;
    if (with_link) {
        hlt_assert_keys(j, "session response", "ok", "link", "device", "access_token", "refresh_token", NULL);
        json_t *link = json_object_get(j, "link");
        hlt_assert_keys(link, "link", "link_id", "display_name", NULL);
        ck_assert_str_eq(hlt_str(link, "display_name"), "Hermes Link");
        ck_assert_msg(hlt_matches(hlt_str(link, "link_id"), "^link_[0-9a-f]{32}$"), "link_id %s", hlt_str(link, "link_id"));
        if (link_id != NULL)
            ck_assert_str_eq(hlt_str(link, "link_id"), link_id);
    } else {
        hlt_assert_keys(j, "refresh response", "ok", "device", "access_token", "refresh_token", NULL);
    }
    json_t *dev = json_object_get(j, "device");
    hlt_assert_keys(dev, "device", "id", "device_id", "label", "platform", "model", "scope", NULL);
    const char *id = hlt_str(dev, "id");
    ck_assert_msg(hlt_matches(id, "^dev_[0-9a-f]{32}$"), "device id %s", id);
    ck_assert_str_eq(hlt_str(dev, "device_id"), id);
    ck_assert_str_eq(hlt_str(dev, "scope"), "admin");
    hlt_str(dev, "label");
    hlt_str(dev, "platform");
    json_t *model = json_object_get(dev, "model");
    ck_assert_msg(json_is_null(model) || json_is_string(model), "device.model must be a string or null");
    assert_token(json_object_get(j, "access_token"), "access_token", "^hlat_[A-Za-z0-9_-]{32}$", daemon_now, HLT_ACCESS_TTL_MS);
    assert_token(json_object_get(j, "refresh_token"), "refresh_token", "^hlrt_[A-Za-z0-9_-]{32}$", daemon_now, HLT_REFRESH_TTL_MS);
    if (out != NULL) {
        out->id = hl_strdup(id);
        out->access = hl_strdup(hlt_str(json_object_get(j, "access_token"), "token"));
        out->refresh = hl_strdup(hlt_str(json_object_get(j, "refresh_token"), "token"));
        out->json = json_incref(j);
    }
}

void hlt_device_free(hlt_device_t *dev)
{
    free(dev->id);
    free(dev->access);
    free(dev->refresh);
    json_decref(dev->json);
    memset(dev, 0, sizeof(*dev));
}

void hlt_device_session(const hlt_daemon_t *d, hlt_proto_t proto, const char *connect_token, const char *body, hlt_device_t *dev)
{
    hlt_response_t res;
    hlt_api(d, proto, "POST", "/api/v1/auth/device-session", connect_token, body, &res);
    hlt_assert_session(&res, 1, NULL, -1, dev);
    hlt_response_free(&res);
}

void hlt_enroll(const hlt_daemon_t *d, hlt_proto_t proto, const char *body, hlt_device_t *dev)
{
    hlt_pairing_t p;
    hlt_pair(d->env, &p);
    hlt_device_session(d, proto, p.connect_token, body, dev);
    ck_assert_str_eq(hlt_str(json_object_get(dev->json, "link"), "link_id"), p.link_id);
    hlt_pairing_free(&p);
}

void hlt_refresh(const hlt_daemon_t *d, hlt_proto_t proto, const char *token, hlt_response_t *res)
{
    json_t *b = json_pack("{s:s}", "refresh_token", token);
    char *body = json_dumps(b, JSON_COMPACT);
    hlt_api(d, proto, "POST", "/api/v1/auth/refresh", NULL, body, res);
    free(body);
    json_decref(b);
}

json_t *hlt_list_devices(const hlt_daemon_t *d, hlt_proto_t proto, const char *bearer)
{
    hlt_response_t res;
    hlt_api(d, proto, "GET", "/api/v1/devices", bearer, NULL, &res);
    hlt_assert_ok(&res);
    hlt_assert_header(&res, "cache-control", "no-store");
    json_t *j = json_incref(res.json);
    hlt_response_free(&res);
    return j;
}

json_t *hlt_find_device(json_t *list, const char *id)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(list, "devices"), i, v)
    {
        const char *vid = json_string_value(json_object_get(v, "id"));
        if (vid != NULL && strcmp(vid, id) == 0)
            return v;
    }
    return NULL;
}

void hlt_assert_refused(const hlt_daemon_t *d, hlt_proto_t proto, const char *bearer, const char *code)
{
    hlt_response_t res;
    hlt_api(d, proto, "GET", "/api/v1/auth/me", bearer, NULL, &res);
    hlt_assert_error(d, &res, 401, code);
    hlt_response_free(&res);
}

void hlt_assert_accepted(const hlt_daemon_t *d, hlt_proto_t proto, const char *bearer, const char *id)
{
    hlt_response_t res;
    hlt_api(d, proto, "GET", "/api/v1/auth/me", bearer, NULL, &res);
    hlt_assert_ok(&res);
    const char *got = json_string_value(json_object_get(json_object_get(res.json, "device"), "id"));
    ck_assert_msg(got != NULL && strcmp(got, id) == 0, "/auth/me answered as device %s, expected %s", got, id);
    hlt_response_free(&res);
}

void hlt_parallel(const hlt_daemon_t *d, hlt_proto_t proto, size_t n, const char *method, const char *const *paths,
                  const char *const *bearers, const char *const *bodies, hlt_response_t *res)
{
    CURLM *multi = hlt_multi_new();
    char(*auth)[512] = hl_calloc(n, sizeof(*auth));
    const char *(*hdrs)[3] = hl_calloc(n, sizeof(*hdrs));
    for (size_t i = 0; i < n; ++i) {
        size_t h = 0;
        if (bearers != NULL && bearers[i] != NULL) {
            snprintf(auth[i], sizeof(auth[i]), "Authorization: Bearer %s", bearers[i]);
            hdrs[i][h++] = auth[i];
        }
        const char *body = bodies != NULL ? bodies[i] : NULL;
        if (body != NULL)
            hdrs[i][h++] = "Content-Type: application/json";
        hdrs[i][h] = NULL;
        hlt_request_t req = {.method = method,
                             .path = paths[i],
                             .headers = hdrs[i],
                             .body = body,
                             .body_len = body != NULL ? strlen(body) : 0,
                             .timeout_ms = 20000,
                             .source_addr = hlt_api_source()};
        CURL *c = hlt_easy_new(d, proto, &req, &res[i]);
        curl_easy_setopt(c, CURLOPT_PIPEWAIT, 1L);
        curl_multi_add_handle(multi, c);
    }
    int left = hlt_multi_drive(multi, 20000);
    curl_multi_cleanup(multi);
    free(auth);
    free(hdrs);
    ck_assert_msg(left == 0, "%d of %zu parallel requests did not finish", left, n);
    for (size_t i = 0; i < n; ++i) {
        ck_assert_msg(res[i].rc == CURLE_OK, "parallel request %zu over %s: %s (%s)", i, hlt_proto_name(proto),
                      curl_easy_strerror(res[i].rc), res[i].errbuf);
        ck_assert_msg(res[i].http_version == hlt_proto_version(proto), "parallel request %zu: HTTP version %ld", i,
                      res[i].http_version);
    }
}

void hlt_assert_stop_clean(hlt_daemon_t *d)
{
    const char *msg = hlt_daemon_stop(d);
    char excerpt[2048];
    snprintf(excerpt, sizeof(excerpt), "%s", msg != NULL ? msg : "");
    hlt_daemon_dispose(d);
    ck_assert_msg(msg == NULL, "%s", excerpt);
}

int hlt_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
    socklen_t len = sizeof(a);
    ck_assert(getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    close(fd);
    return ntohs(a.sin_port);
}
