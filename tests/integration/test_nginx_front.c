/*
 * HermesLink behind nginx, configured by the file the repository ships (docs/nginx-hermeslink.conf): the test replaces
 * only its listen port, certificate paths (a self-signed certificate made here) and upstream port, wraps it in an
 * nginx.conf of its own (pid, logs, temp paths under the test's directory, one foreground process) and talks to nginx
 * over TLS with HTTP/2 only. Through it: a pairing claim, an authenticated call, an event stream that receives events
 * live (nginx does not hold them back) and resumes with Last-Event-ID without a gap or a duplicate, a blob of a few MB up
 * and down, and the pairing rate limit counting the address X-Forwarded-For names when the daemon trusts the proxy
 * (trustedProxies ["127.0.0.1"]; also several X-Forwarded-For headers sent straight to the daemon, read as one list) and
 * the proxy's own address when it does not (trustedProxies []).
 *
 * nginx is found on PATH or in /usr/sbin (HL_NGINX overrides); without it the tests print "SKIPPED: …", or fail when
 * CI=true.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness_conv.h"
#include "hl/common.h"
#include "hl/pairing.h"
#include "hl/tls_cert.h"

/* the lines of the shipped file that the test replaces (each must occur exactly once) */
#define SHIPPED_LISTEN "listen 443 ssl http2;"
#define SHIPPED_CERT "/etc/letsencrypt/live/link.example.com/fullchain.pem"
#define SHIPPED_KEY "/etc/letsencrypt/live/link.example.com/privkey.pem"
#define SHIPPED_UPSTREAM "server 127.0.0.1:18642;"

#define CLIENT_A "198.51.100.7"
#define CLIENT_B "198.51.100.8"

/* A daemon with nginx in front; `via` addresses nginx the way the harness addresses a daemon's TLS port. */
typedef struct st_front_t {
    hlt_env_t env;
    hlt_daemon_t d;
    char *dir; /* nginx's prefix: its configs, certificate, logs and temp files */
    pid_t nginx;
    hlt_daemon_t via;
} front_t;

/* A tool the test needs is missing: a visible skip, or a failure under CI. Returns 1 (the caller returns). */
static int skip(const char *why)
{
    const char *ci = getenv("CI");
    if (ci != NULL && strcmp(ci, "true") == 0)
        ck_abort_msg("%s (CI=true: a missing tool is a failure)", why);
    printf("SKIPPED: %s\n", why);
    fflush(stdout);
    return 1;
}

/* The nginx binary: $HL_NGINX, else on PATH, else /usr/sbin/nginx (Debian's, outside a normal user's PATH). NULL if none. */
static char *find_nginx(void)
{
    const char *env = getenv("HL_NGINX");
    if (env != NULL && *env != '\0')
        return access(env, X_OK) == 0 ? hl_strdup(env) : NULL;
    char *p = hlt_which("nginx");
    if (p == NULL && access("/usr/sbin/nginx", X_OK) == 0)
        p = hl_strdup("/usr/sbin/nginx");
    return p;
}

/* Replaces the one occurrence of `from` in *text with `to` (asserts there is exactly one). */
static void replace_once(char **text, const char *from, const char *to)
{
    ck_assert_msg(hlt_count(*text, from) == 1, "docs/nginx-hermeslink.conf must contain \"%s\" exactly once", from);
    char *at = strstr(*text, from);
    char *out = hl_asprintf("%.*s%s%s", (int)(at - *text), *text, to, at + strlen(from));
    free(*text);
    *text = out;
}

/* Waits until something accepts on 127.0.0.1:port, or nginx exits, or timeout_ms pass. */
static int wait_listening(pid_t pid, int port, long timeout_ms)
{
    long deadline = hlt_now_ms() + timeout_ms;
    while (hlt_now_ms() < deadline) {
        int status;
        if (hlt_wait_exit(pid, &status, 0))
            return 0;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ck_assert(fd >= 0);
        struct sockaddr_in a = {
            .sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        int ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
        close(fd);
        if (ok)
            return 1;
        hlt_sleep_ms(50);
    }
    return 0;
}

/* Starts nginx with the shipped server block in front of the daemon's plain port. */
static void nginx_start(front_t *f, const char *nginx_bin)
{
    f->dir = hlt_env_path(&f->env, 0, "nginx");
    ck_assert_msg(mkdir(f->dir, 0700) == 0, "mkdir %s: %s", f->dir, strerror(errno));
    hl_tls_cert_t cert;
    char err[256];
    ck_assert_msg(hl_tls_cert_ensure(f->dir, &cert, err, sizeof(err)) == 0, "test certificate: %s", err);

    char *shipped_path = hl_asprintf("%s/docs/nginx-hermeslink.conf", HL_SOURCE_DIR);
    char *conf = hlt_read_file(shipped_path, NULL);
    ck_assert_msg(conf != NULL, "cannot read %s", shipped_path);
    int port = hlt_free_port();
    char *listen = hl_asprintf("listen 127.0.0.1:%d ssl http2;", port);
    char *upstream = hl_asprintf("server 127.0.0.1:%d;", f->d.port);
    replace_once(&conf, SHIPPED_LISTEN, listen);
    replace_once(&conf, SHIPPED_CERT, cert.cert_path);
    replace_once(&conf, SHIPPED_KEY, cert.key_path);
    replace_once(&conf, SHIPPED_UPSTREAM, upstream);
    char *server_conf = hl_asprintf("%s/hermeslink.conf", f->dir);
    hlt_write_file(server_conf, conf);

    /* the parts of a whole nginx.conf that belong to the machine, not to HermesLink: here all under f->dir */
    const char *d = f->dir;
    char *main_conf = hl_asprintf("%s/nginx.conf", d);
    char *wrapper = hl_asprintf("# written by tests/integration/test_nginx_front.c around docs/nginx-hermeslink.conf\n"
                                "daemon off;\nmaster_process off;\nworker_processes 1;\npid %s/nginx.pid;\n"
                                "error_log %s/error.log notice;\nevents { worker_connections 256; }\n"
                                "http {\n    access_log %s/access.log;\n    client_body_temp_path %s/client_body;\n"
                                "    proxy_temp_path %s/proxy;\n    fastcgi_temp_path %s/fastcgi;\n    uwsgi_temp_path %s/uwsgi;\n"
                                "    scgi_temp_path %s/scgi;\n    include %s;\n}\n",
                                d, d, d, d, d, d, d, d, server_conf);
    hlt_write_file(main_conf, wrapper);

    char *prefix = hl_asprintf("%s/", d), *error_log = hl_asprintf("%s/error.log", d);
    char *out = hl_asprintf("%s/nginx.out", d), *errf = hl_asprintf("%s/nginx.err", d);
    char *argv[] = {(char *)nginx_bin, "-p", prefix, "-c", main_conf, "-e", error_log, NULL};
    f->nginx = hlt_spawn(argv, out, errf);
    if (!wait_listening(f->nginx, port, 10000)) {
        char *e1 = hlt_read_file(errf, NULL), *e2 = hlt_read_file(error_log, NULL);
        f->env.keep = 1;
        ck_abort_msg("nginx did not listen on %d: %.400s %.600s", port, e1 != NULL ? e1 : "", e2 != NULL ? e2 : "");
    }
    f->via.env = &f->env;
    f->via.port = -1;
    f->via.tls_port = port;

    free(errf);
    free(out);
    free(error_log);
    free(prefix);
    free(wrapper);
    free(main_conf);
    free(server_conf);
    free(upstream);
    free(listen);
    free(conf);
    free(shipped_path);
    hl_tls_cert_dispose(&cert);
}

/* Starts the daemon (plain port only) with `config_json` as its config.json, then nginx in front of it. 0 when skipped. */
static int front_start(front_t *f, const char *config_json)
{
    memset(f, 0, sizeof(*f));
    char *nginx_bin = find_nginx();
    if (nginx_bin == NULL)
        return !skip("nginx is not installed (./scripts/deps.sh installs it)");
    hlt_env_init(&f->env);
    hlt_env_write_config(&f->env, config_json);
    hlt_daemon_opts_t o = {.env = &f->env};
    hlt_daemon_start(&f->d, &o);
    nginx_start(f, nginx_bin);
    free(nginx_bin);
    return 1;
}

/* Stops nginx (SIGTERM, by pid), asserts that its error log holds nothing worse than a warning, stops the daemon clean. */
static void front_stop(front_t *f)
{
    if (f->nginx > 0) {
        kill(f->nginx, SIGTERM);
        int status;
        if (!hlt_wait_exit(f->nginx, &status, 10000)) {
            kill(f->nginx, SIGKILL);
            hlt_wait_exit(f->nginx, &status, 10000);
            ck_abort_msg("nginx did not exit within 10 s of SIGTERM");
        }
        f->nginx = 0;
        char *log_path = hl_asprintf("%s/error.log", f->dir);
        char *log = hlt_read_file(log_path, NULL);
        ck_assert_msg(log != NULL, "no nginx error log");
        static const char *const bad[] = {"[error]", "[crit]", "[alert]", "[emerg]"};
        for (size_t i = 0; i < HL_ARRAY_SIZE(bad); ++i)
            ck_assert_msg(strstr(log, bad[i]) == NULL, "nginx logged %s: %.800s", bad[i], strstr(log, bad[i]));
        free(log);
        free(log_path);
    }
    hlt_assert_stop_clean(&f->d);
    hlt_env_dispose(&f->env);
    free(f->dir);
}

/* Asserts that a response came through nginx (its Server header replaces the daemon's) over HTTP/2. */
static void assert_via_nginx(const hlt_response_t *res)
{
    const char *server = hlt_header(res, "server");
    ck_assert_msg(server != NULL && strncmp(server, "nginx", 5) == 0, "not answered by nginx: server %s", server ? server : "-");
    ck_assert_int_eq(res->http_version, CURL_HTTP_VERSION_2_0);
}

/* POST /api/v1/pairing/claim through nginx, with X-Forwarded-For from the client when xff is not NULL. */
static void claim(front_t *f, const hlt_pairing_t *p, const char *xff, hlt_response_t *res)
{
    char *body = hl_asprintf("{\"session_id\":\"%s\",\"claim_token\":\"%s\"}", p->session_id, p->connect_token);
    char *hdr = xff != NULL ? hl_asprintf("X-Forwarded-For: %s", xff) : NULL;
    hlt_api_ex(&f->via, HLT_H2_TLS, "POST", "/api/v1/pairing/claim", (const char *[]){hdr, NULL}, NULL, body, res);
    assert_via_nginx(res);
    free(hdr);
    free(body);
}

/* A claim of an already claimed session: 409 (counted as a failure of the address), or 429 once the address is limited. */
static void expect_claim(front_t *f, const hlt_pairing_t *p, const char *xff, long status, const char *code)
{
    hlt_response_t res;
    claim(f, p, xff, &res);
    ck_assert_msg(res.status == status, "claim as %s: expected %ld %s, got %ld %s", xff ? xff : "(no header)", status, code,
                  res.status, res.body);
    hlt_assert_error(&f->via, &res, status, code);
    hlt_response_free(&res);
}

/* A claim of the claimed session straight to the daemon's plain port over HTTP/1.1 with the given headers. */
static void expect_direct_claim(front_t *f, const hlt_pairing_t *p, const char *const *headers, long status, const char *code)
{
    char *body = hl_asprintf("{\"session_id\":\"%s\",\"claim_token\":\"%s\"}", p->session_id, p->connect_token);
    hlt_response_t res;
    hlt_api_ex(&f->d, HLT_H1, "POST", "/api/v1/pairing/claim", headers, NULL, body, &res);
    ck_assert_msg(res.status == status, "direct claim as %s, %s: expected %ld %s, got %ld %s", headers[0], headers[1], status, code,
                  res.status, res.body);
    hlt_assert_error(&f->d, &res, status, code);
    hlt_response_free(&res);
    free(body);
}

/* Claims p through nginx (as xff) and returns the device. */
static void pair_device(front_t *f, hlt_pairing_t *p, const char *xff, hlt_device_t *dev)
{
    hlt_pair(&f->env, p);
    hlt_response_t res;
    claim(f, p, xff, &res);
    hlt_assert_session(&res, 1, p->link_id, -1, dev);
    hlt_response_free(&res);
}

static void rename_conv(front_t *f, const char *bearer, const char *conv, int i)
{
    json_decref(hltc_call(&f->via, HLT_H2_TLS, bearer, "PATCH", hltc_fmt("/api/v1/conversations/%s/title", conv),
                          hltc_fmt("{\"title\":\"front %d\"}", i), 200));
}

/* Asserts that the stream's events from index `from` on carry the ids first, first+1, … (no gap, no duplicate). */
static void assert_ids(const hltc_sse_t *s, size_t from, int64_t first, size_t n, const char *conv)
{
    ck_assert_msg(s->ev.n == from + n, "the stream holds %zu events, expected %zu", s->ev.n, from + n);
    for (size_t i = 0; i < n; ++i) {
        const hltc_event_t *ev = &s->ev.v[from + i];
        ck_assert_msg(ev->id == first + (int64_t)i, "event %zu: id %lld, expected %lld", from + i, (long long)ev->id,
                      (long long)(first + (int64_t)i));
        ck_assert_str_eq(ev->type, "conversation.updated");
        ck_assert_str_eq(hlt_str(ev->json, "conversation_id"), conv);
    }
}

static void open_stream(front_t *f, hltc_sse_t *s, const char *bearer, const char *const *headers)
{
    hltc_sse_open(s, &f->via, HLT_H2_TLS, bearer, "/api/v1/conversations/events", headers, NULL);
    hltc_sse_pump(s, 300);
    long status = 0, version = 0;
    curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(s->easy, CURLINFO_HTTP_VERSION, &version);
    ck_assert_msg(status == 200, "event stream through nginx: %ld %.300s", status, s->res.body);
    ck_assert_int_eq(version, CURL_HTTP_VERSION_2_0);
    hlt_assert_header(&s->res, "content-type", "text/event-stream");
    const char *server = hlt_header(&s->res, "server");
    ck_assert_msg(server != NULL && strncmp(server, "nginx", 5) == 0, "event stream not answered by nginx");
}

/* The event of a change arrives while the stream stays open, soon after the change was answered. */
static void expect_live(front_t *f, hltc_sse_t *s, const char *bearer, const char *conv, int i)
{
    size_t before = s->ev.n;
    long t0 = hlt_now_ms();
    rename_conv(f, bearer, conv, i);
    ck_assert_msg(hltc_sse_wait(s, before + 1, 0, 20000), "event %d did not arrive through nginx within 20 s", i);
    long waited = hlt_now_ms() - t0;
    ck_assert_msg(!s->done, "the stream ended: %s", curl_easy_strerror(s->res.rc));
    ck_assert_msg(waited < 3000, "event %d took %ld ms through nginx: buffered?", i, waited);
}

START_TEST(test_front)
{
    front_t f;
    if (!front_start(&f, "{\"trustedProxies\": [\"127.0.0.1\"]}\n"))
        return;

    /* pairing: a session made on the control socket, claimed through nginx */
    hlt_pairing_t p;
    hlt_device_t dev;
    pair_device(&f, &p, NULL, &dev);

    /* an authenticated call */
    json_t *list = hlt_list_devices(&f.via, HLT_H2_TLS, dev.access);
    ck_assert_msg(hlt_find_device(list, dev.id) != NULL, "the paired device is not listed");
    json_decref(list);

    /* events arrive live through nginx, one at a time while the stream stays open */
    char *conv = hltc_create(&f.via, HLT_H2_TLS, dev.access, "front");
    hltc_sse_t s;
    open_stream(&f, &s, dev.access, NULL);
    ck_assert_msg(s.ev.n == 0, "events without a cursor: %zu", s.ev.n);
    for (int i = 0; i < 3; ++i)
        expect_live(&f, &s, dev.access, conv, i);
    hltc_sse_pump(&s, 200);
    int64_t first = s.ev.v[0].id;
    assert_ids(&s, 0, first, 3, conv);
    hltc_sse_close(&s);

    /* two changes while no stream is open, then a resume with Last-Event-ID: exactly those two, then live again */
    rename_conv(&f, dev.access, conv, 3);
    rename_conv(&f, dev.access, conv, 4);
    open_stream(&f, &s, dev.access, (const char *[]){hltc_fmt("Last-Event-ID: %lld", (long long)(first + 2)), NULL});
    ck_assert_msg(hltc_sse_wait(&s, 2, 0, 20000), "the resumed stream did not replay 2 events");
    expect_live(&f, &s, dev.access, conv, 5);
    hltc_sse_pump(&s, 300);
    assert_ids(&s, 0, first + 3, 3, conv);
    hltc_sse_close(&s);

    /* a blob of a few MB up and down through nginx */
    size_t len = (size_t)3 * 1024 * 1024 + 12345;
    char *data = hl_malloc(len);
    uint32_t x = 0x9e3779b9u;
    for (size_t i = 0; i < len; ++i) {
        x = x * 1103515245u + 12345u;
        data[i] = (char)(x >> 16);
    }
    char *blob = hltc_upload_ok(&f.via, HLT_H2_TLS, dev.access, conv, data, len, "application/octet-stream", "front.bin");
    hlt_request_t req = {.path = hltc_fmt("/api/v1/conversations/%s/blobs/%s", conv, blob),
                         .headers = (const char *[]){hltc_fmt("Authorization: Bearer %s", dev.access), NULL},
                         .timeout_ms = 60000};
    hlt_response_t res;
    hlt_fetch(&f.via, HLT_H2_TLS, &req, &res);
    assert_via_nginx(&res);
    ck_assert_msg(res.status == 200, "GET blob: %ld %.300s", res.status, res.body);
    ck_assert_msg(res.body_len == len && memcmp(res.body, data, len) == 0, "the blob came back as %zu different bytes",
                  res.body_len);
    hlt_response_free(&res);

    /* the pairing rate limit counts the address X-Forwarded-For names: client A's failures (claims of the claimed
     * session, each counted) lock out A only; B and nginx's own address still get answered */
    for (int k = 0; k < HL_PAIRING_RATE_LIMIT; ++k)
        expect_claim(&f, &p, CLIENT_A, 409, "pairing_session_already_claimed");
    expect_claim(&f, &p, CLIENT_A, 429, "rate_limited");
    expect_claim(&f, &p, "203.0.113.1, " CLIENT_A, 429, "rate_limited"); /* what lies left of A is not looked at */
    expect_claim(&f, &p, CLIENT_B, 409, "pairing_session_already_claimed");
    expect_claim(&f, &p, NULL, 409, "pairing_session_already_claimed");
    /* garbage that A puts right of its address ends the walk at nginx's entry: counted for 127.0.0.1, not for A */
    expect_claim(&f, &p, CLIENT_A ", not-an-address", 409, "pairing_session_already_claimed");

    /* several X-Forwarded-For headers are one list in order (nginx sends one; a direct client of the daemon from the
     * trusted 127.0.0.1 can send several) */
    expect_direct_claim(&f, &p, (const char *[]){"X-Forwarded-For: " CLIENT_A, "X-Forwarded-For: 127.0.0.1", NULL}, 429,
                        "rate_limited");
    expect_direct_claim(&f, &p, (const char *[]){"X-Forwarded-For: " CLIENT_A, "X-Forwarded-For: " CLIENT_B, NULL}, 409,
                        "pairing_session_already_claimed");

    free(blob);
    free(data);
    free(conv);
    hlt_device_free(&dev);
    hlt_pairing_free(&p);
    front_stop(&f);
}
END_TEST

/* Without trustedProxies the daemon ignores X-Forwarded-For: every client of nginx is nginx's 127.0.0.1, and client A's
 * failures lock out client B too. */
START_TEST(test_untrusted_front)
{
    front_t f;
    if (!front_start(&f, "{\"trustedProxies\": []}\n"))
        return;
    hlt_pairing_t p;
    hlt_device_t dev;
    pair_device(&f, &p, CLIENT_A, &dev);
    for (int k = 0; k < HL_PAIRING_RATE_LIMIT; ++k)
        expect_claim(&f, &p, CLIENT_A, 409, "pairing_session_already_claimed");
    expect_claim(&f, &p, CLIENT_A, 429, "rate_limited");
    expect_claim(&f, &p, CLIENT_B, 429, "rate_limited");
    expect_claim(&f, &p, NULL, 429, "rate_limited");
    hlt_device_free(&dev);
    hlt_pairing_free(&p);
    front_stop(&f);
}
END_TEST

Suite *suite_nginx_front(void)
{
    Suite *s = suite_create("nginx_front");
    TCase *tc = tcase_create("nginx_front");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_front);
    tcase_add_test(tc, test_untrusted_front);
    suite_add_tcase(s, tc);
    return s;
}
