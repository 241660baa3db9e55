/*
 * The HTTP edge's configuration (issue 9): `lanPlainHttp: false` puts the plain port on 127.0.0.1 only (the TLS port keeps
 * the listen host) and pairing hands out only https URLs with the certificate fingerprint (without TLS: the loopback URL
 * only, and a warning at start); `plainHttp2: false` refuses cleartext HTTP/2 (prior knowledge and Upgrade: h2c) while
 * HTTP/1.1 and h2 over TLS (ALPN) go on; the defaults keep the wildcard bind, the http LAN URL and h2c. `hermeslink
 * start` and `status` find the loopback-only plain port (wildcard or explicit LAN listen host). Also the CLI keys of the
 * edge (`config set` / `config get`, bad values refused).
 *
 * Where the plain port is bound is read from /proc/net/tcp, and connections to a LAN address are tried. The tests that
 * bind the wildcard or a LAN address run in a network namespace of their own (hlt_private_network), whose only LAN
 * address is a stand-in on its loopback: nothing they start listens on the machine's interfaces.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "auth_util.h"
#include "harness_conv.h"
#include "hl/common.h"
#include "hl/control.h"

/* Starts a daemon in a fresh env whose config.json is `config` (NULL: none), listening on `listen` (NULL: 127.0.0.1). */
static void start_with(hlt_daemon_t *d, hlt_env_t *env, const char *config, int tls, const char *listen)
{
    hlt_env_init(env);
    if (config != NULL)
        hlt_env_write_config(env, config);
    hlt_daemon_opts_t o = {.env = env, .tls = tls, .listen = listen};
    hlt_daemon_start(d, &o);
}

static void stop(hlt_daemon_t *d, hlt_env_t *env)
{
    hlt_daemon_stop_clean(d);
    hlt_env_dispose(env);
}

/* ---- where a port listens ---- */

/*
 * The local addresses (as /proc/net/tcp{,6} print them, hex) of the sockets listening on `port`, space-separated, in
 * static storage; "" when none.
 */
static const char *listen_addrs(int port)
{
    static char out[1024];
    out[0] = '\0';
    static const char *const files[] = {"/proc/net/tcp", "/proc/net/tcp6"};
    for (size_t f = 0; f < HL_ARRAY_SIZE(files); ++f) {
        FILE *fp = fopen(files[f], "r");
        ck_assert_msg(fp != NULL, "cannot read %s: %s", files[f], strerror(errno));
        char line[512];
        while (fgets(line, sizeof(line), fp) != NULL) {
            char local[64], remote[64];
            unsigned state;
            if (sscanf(line, " %*d: %63s %63s %x", local, remote, &state) != 3 || state != 0x0A)
                continue;
            char *colon = strrchr(local, ':');
            if (colon == NULL || strtol(colon + 1, NULL, 16) != port)
                continue;
            *colon = '\0';
            size_t len = strlen(out);
            snprintf(out + len, sizeof(out) - len, "%s%s", len > 0 ? " " : "", local);
        }
        fclose(fp);
    }
    return out;
}

/* True when something listens on `port` and every such socket is bound to `want` (hex as in /proc/net/tcp). */
static bool bound_only(int port, const char *want)
{
    const char *addrs = listen_addrs(port);
    if (addrs[0] == '\0')
        return false;
    for (const char *p = addrs; *p != '\0';) {
        size_t len = strcspn(p, " ");
        if (len != strlen(want) || strncmp(p, want, len) != 0)
            return false;
        p += len + (p[len] == ' ');
    }
    return true;
}

static void assert_bound(int port, const char *want, const char *what)
{
    ck_assert_msg(bound_only(port, want), "%s: port %d is bound to '%s', expected only %s", what, port, listen_addrs(port), want);
}

#define BOUND_LOOPBACK "0100007F"
#define BOUND_ANY "00000000"

/* Connects to addr:port within 3 s: 0 on success, else the errno (ECONNREFUSED when nothing listens there). */
static int try_connect(struct in_addr addr, int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    ck_assert(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr = addr};
    int err = 0;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        err = errno;
        if (err == EINPROGRESS) {
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            if (poll(&p, 1, 3000) != 1) {
                err = ETIMEDOUT;
            } else {
                socklen_t len = sizeof(err);
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
            }
        }
    }
    close(fd);
    return err;
}

/* ---- pairing payloads ---- */

/* Every string in the JSON value (recursively) that looks like a URL starts with `scheme`; `what` names the value. */
static void assert_urls_scheme(json_t *v, const char *scheme, const char *what)
{
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (strstr(s, "://") != NULL)
            ck_assert_msg(strncmp(s, scheme, strlen(scheme)) == 0, "%s: %s is not a %s URL", what, s, scheme);
        return;
    }
    size_t i;
    const char *k;
    json_t *item;
    if (json_is_array(v))
        json_array_foreach(v, i, item) assert_urls_scheme(item, scheme, what);
    else if (json_is_object(v))
        json_object_foreach(v, k, item) assert_urls_scheme(item, scheme, what);
}

static int array_has(json_t *arr, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) if (json_is_string(v) && strcmp(json_string_value(v), s) == 0) return 1;
    return 0;
}

/* The fingerprint the daemon reports on its control socket (`hermeslink status` shows the same). */
static char *control_fingerprint(hlt_env_t *env)
{
    json_t *req = json_pack("{s:s}", "cmd", "status");
    json_t *r = hl_control_call(env->home, req, 5000);
    json_decref(req);
    ck_assert_msg(r != NULL && json_is_true(json_object_get(r, "ok")), "control status failed");
    char *fp = hl_strdup(hlt_str(r, "tls_fingerprint"));
    json_decref(r);
    return fp;
}

/* GET /api/v1/pairing/session for the pairing: its session, as a new reference. */
static json_t *session_of(const hlt_daemon_t *d, hlt_proto_t proto, const char *session_id)
{
    hlt_response_t res;
    hlt_api(d, proto, "GET", hltc_fmt("/api/v1/pairing/session?session_id=%s", session_id), NULL, NULL, &res);
    hlt_assert_ok(&res);
    json_t *s = json_incref(json_object_get(res.json, "session"));
    hlt_response_free(&res);
    return s;
}

#define LAN_HOST "192.168.1.10"

/* ---- lanPlainHttp ---- */

START_TEST(test_lan_plain_off)
{
    hlt_daemon_t d;
    hlt_env_t env;
    /* a wildcard listen host (in a network namespace of the test's own): only the TLS port may take it */
    struct in_addr lan = hlt_private_network();
    start_with(&d, &env, "{\"lanPlainHttp\": false, \"lanHost\": \"" LAN_HOST "\"}\n", 1, "0.0.0.0");
    assert_bound(d.port, BOUND_LOOPBACK, "plain port with lanPlainHttp false");
    assert_bound(d.tls_port, BOUND_ANY, "TLS port with lanPlainHttp false");
    hlt_response_t res;
    hlt_get(&d, HLT_H1, "/api/v1/bootstrap", &res); /* served on loopback */
    ck_assert_int_eq(res.status, 200);
    json_t *boot_urls = json_incref(json_object_get(res.json, "preferred_pairing_urls"));
    hlt_response_free(&res);
    ck_assert_msg(json_array_size(boot_urls) > 0, "bootstrap has no pairing URL");
    assert_urls_scheme(boot_urls, "https://", "bootstrap preferred_pairing_urls");
    json_decref(boot_urls);

    /* from the LAN address: the plain port refuses, the TLS port accepts */
    int e = try_connect(lan, d.port);
    ck_assert_msg(e == ECONNREFUSED, "plain port on %s:%d: expected a refused connection, got %s", HLT_PRIVATE_LAN_ADDR, d.port,
                  e == 0 ? "a connection" : strerror(e));
    e = try_connect(lan, d.tls_port);
    ck_assert_msg(e == 0, "TLS port on %s:%d: %s", HLT_PRIVATE_LAN_ADDR, d.tls_port, strerror(e));

    /* the payload: https URLs and the fingerprint, no http URL anywhere */
    char *fp = control_fingerprint(&env);
    ck_assert_msg(hlt_matches(fp, "^[0-9a-f]{64}$"), "fingerprint %s", fp);
    hlt_pairing_t p;
    hlt_pair(&env, &p);
    json_t *qr = json_object_get(p.json, "qr_payload");
    ck_assert_str_eq(hlt_str(qr, "tls_fingerprint"), fp);
    json_t *preferred = json_object_get(qr, "preferred_urls");
    const char *want = hltc_fmt("https://%s:%d", LAN_HOST, d.tls_port);
    ck_assert_msg(json_array_size(preferred) > 0 && strcmp(json_string_value(json_array_get(preferred, 0)), want) == 0,
                  "preferred_urls does not start with %s: %s", want, json_dumps(preferred, JSON_COMPACT));
    ck_assert(array_has(json_object_get(qr, "tls_urls"), want));
    assert_urls_scheme(p.json, "https://", "pair reply (control socket)");
    char *dump = json_dumps(p.json, JSON_COMPACT);
    ck_assert_msg(strstr(dump, "http://") == NULL, "an http URL in the pairing: %s", dump);
    free(dump);
    json_t *s = session_of(&d, HLT_H1, p.session_id);
    ck_assert_str_eq(hlt_str(s, "local_api_url"), want);
    assert_urls_scheme(s, "https://", "pairing session");
    json_decref(s);
    hlt_pairing_free(&p);

    /* `hermeslink pair`: JSON and text */
    hlt_pair_cli(&env, &p);
    assert_urls_scheme(p.json, "https://", "`hermeslink pair --json`");
    ck_assert_str_eq(hlt_str(json_object_get(p.json, "qr_payload"), "tls_fingerprint"), fp);
    hlt_pairing_free(&p);
    hlt_cli_result_t r;
    hlt_cli(&env, &r, "pair", NULL);
    ck_assert_msg(r.exit_code == 0, "`hermeslink pair`: exit %d, %s", r.exit_code, r.err);
    ck_assert_msg(strstr(r.out, "http://") == NULL, "`hermeslink pair` prints an http URL:\n%s", r.out);
    ck_assert_msg(strstr(r.out, hltc_fmt("POST %s/api/v1/pairing/claim", want)) != NULL, "`hermeslink pair`:\n%s", r.out);
    hlt_cli_free(&r);
    free(fp);
    stop(&d, &env);
}
END_TEST

START_TEST(test_lan_plain_default)
{
    hlt_daemon_t d;
    hlt_env_t env;
    struct in_addr lan = hlt_private_network();
    start_with(&d, &env, "{\"lanHost\": \"" LAN_HOST "\"}\n", 1, "0.0.0.0");
    assert_bound(d.port, BOUND_ANY, "plain port by default");
    assert_bound(d.tls_port, BOUND_ANY, "TLS port by default");
    ck_assert_int_eq(try_connect(lan, d.port), 0);
    char *fp = control_fingerprint(&env);
    hlt_pairing_t p;
    hlt_pair(&env, &p);
    json_t *qr = json_object_get(p.json, "qr_payload");
    const char *want = hltc_fmt("http://%s:%d", LAN_HOST, d.port);
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(qr, "preferred_urls"), 0)), want);
    ck_assert_str_eq(hlt_str(qr, "tls_fingerprint"), fp);
    ck_assert(array_has(json_object_get(qr, "tls_urls"), hltc_fmt("https://%s:%d", LAN_HOST, d.tls_port)));
    json_t *s = session_of(&d, HLT_H1, p.session_id);
    ck_assert_str_eq(hlt_str(s, "local_api_url"), want);
    json_decref(s);
    hlt_pairing_free(&p);
    free(fp);
    stop(&d, &env);
}
END_TEST

/* Without TLS and without LAN plain HTTP the service is loopback only: it says so, and pairing offers the loopback URL. */
START_TEST(test_lan_plain_off_no_tls)
{
    hlt_daemon_t d;
    hlt_env_t env;
    hlt_private_network(); /* the wildcard listen host */
    start_with(&d, &env, "{\"lanPlainHttp\": false, \"lanHost\": \"" LAN_HOST "\"}\n", 0, "0.0.0.0");
    assert_bound(d.port, BOUND_LOOPBACK, "plain port without TLS");
    hlt_pairing_t p;
    hlt_pair(&env, &p);
    json_t *qr = json_object_get(p.json, "qr_payload");
    json_t *preferred = json_object_get(qr, "preferred_urls");
    const char *loopback = hltc_fmt("http://127.0.0.1:%d", d.port);
    ck_assert_msg(json_array_size(preferred) == 1 && strcmp(json_string_value(json_array_get(preferred, 0)), loopback) == 0,
                  "preferred_urls %s, expected [%s]", json_dumps(preferred, JSON_COMPACT), loopback);
    ck_assert_msg(json_object_get(qr, "tls_fingerprint") == NULL && json_object_get(qr, "tls_urls") == NULL,
                  "TLS keys without TLS");
    hlt_pairing_free(&p);
    /* the warning (the logger thread writes it shortly after start) */
    char *log = hlt_env_path(&env, 1, "logs/link.log");
    int warned = 0;
    for (long deadline = hlt_now_ms() + 5000; !warned && hlt_now_ms() < deadline; hlt_sleep_ms(50)) {
        char *text = hlt_read_file(log, NULL);
        warned = text != NULL && strstr(text, "\"level\":\"warn\"") != NULL &&
                 strstr(text, "LAN devices cannot reach Hermes Link") != NULL;
        free(text);
    }
    ck_assert_msg(warned, "no start-up warning that LAN devices cannot reach the service in %s", log);
    free(log);
    stop(&d, &env);
}
END_TEST

/* An explicit loopback listen host is kept for the plain port (IPv6 too when the machine has ::1) */
START_TEST(test_lan_plain_off_loopback_listen)
{
    hlt_daemon_t d;
    hlt_env_t env;
    start_with(&d, &env, "{\"lanPlainHttp\": false}\n", 1, "127.0.0.1");
    assert_bound(d.port, BOUND_LOOPBACK, "plain port, --listen 127.0.0.1");
    assert_bound(d.tls_port, BOUND_LOOPBACK, "TLS port, --listen 127.0.0.1");
    hlt_response_t res;
    hlt_get(&d, HLT_H1, "/api/v1/system/status", &res);
    ck_assert_int_eq(res.status, 200);
    hlt_response_free(&res);
    stop(&d, &env);
}
END_TEST

/*
 * `hermeslink start` (detached) and `status` find the plain port on loopback while the listen host is the wildcard
 * (_i == 0) or an explicit non-loopback address of this machine (_i == 1), which keeps only the TLS port.
 */
/* The first failure of a test that must clean up before it asserts (a failed assertion ends the test process at once,
 * and a detached daemon would outlive it). */
static char failure[2048];

static bool expect(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static bool expect(bool ok, const char *fmt, ...)
{
    if (!ok && failure[0] == '\0') {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(failure, sizeof(failure), fmt, ap);
        va_end(ap);
    }
    return ok && failure[0] == '\0';
}

/* The pid in the home's pid file, or 0. */
static pid_t pid_of(hlt_env_t *env)
{
    char *path = hlt_env_path(env, 1, "hermeslink.pid"), *text = hlt_read_file(path, NULL);
    pid_t pid = text != NULL ? (pid_t)strtol(text, NULL, 10) : 0;
    free(text);
    free(path);
    return pid;
}

START_TEST(test_lan_plain_off_start_status)
{
    char host[INET_ADDRSTRLEN] = "0.0.0.0", tls_bound[16] = BOUND_ANY;
    struct in_addr lan = hlt_private_network();
    if (_i == 1) {
        snprintf(host, sizeof(host), "%s", HLT_PRIVATE_LAN_ADDR);
        snprintf(tls_bound, sizeof(tls_bound), "%08X", lan.s_addr); /* as /proc/net/tcp prints it */
    }
    failure[0] = '\0';
    ck_assert(prctl(PR_SET_CHILD_SUBREAPER, 1) == 0); /* the detached daemon comes back to this process */
    hlt_env_t env;
    hlt_env_init(&env);
    hlt_env_write_config(&env, "{\"lanPlainHttp\": false, \"lanHost\": \"" LAN_HOST "\"}\n");
    hlt_cli_result_t r;
    hlt_cli(&env, &r, "start", "--port", "auto", "--tls-port", "auto", "--listen", host, NULL);
    pid_t pid = pid_of(&env); /* also when start judged it unreachable: it is stopped below all the same */
    int port = 0, tls_port = 0;
    const char *tls_host = _i == 0 ? "127.0.0.1" : host;
    const char *local_prefix = "Local:     http://127.0.0.1:", *tls_prefix = hltc_fmt("TLS:       https://%s:", tls_host);
    const char *local = strstr(r.out, local_prefix), *tls = strstr(r.out, tls_prefix);
    if (expect(r.exit_code == 0, "`hermeslink start --listen %s`: exit %d\n%s%s", host, r.exit_code, r.out, r.err) &&
        expect(pid > 0 && local != NULL && tls != NULL, "`hermeslink start --listen %s`:\n%s", host, r.out)) {
        port = (int)strtol(local + strlen(local_prefix), NULL, 10);
        tls_port = (int)strtol(tls + strlen(tls_prefix), NULL, 10);
        expect(_i != 0 || strstr(r.out, hltc_fmt("LAN:       https://%s:%d\n", LAN_HOST, tls_port)) != NULL,
               "`hermeslink start` LAN URLs:\n%s", r.out);
        expect(strstr(r.out, "http://" LAN_HOST) == NULL && strstr(r.out, hltc_fmt("http://%s", host)) == NULL,
               "`hermeslink start` prints a LAN http URL:\n%s", r.out);
        expect(bound_only(port, BOUND_LOOPBACK), "plain port %d bound to '%s'", port, listen_addrs(port));
        expect(bound_only(tls_port, tls_bound), "TLS port %d bound to '%s', expected %s", tls_port, listen_addrs(tls_port),
               tls_bound);
    }
    hlt_cli_free(&r);
    if (failure[0] == '\0') {
        hlt_cli(&env, &r, "status", NULL);
        expect(r.exit_code == 0 && strstr(r.out, hltc_fmt("HTTP:      reachable on port %d\n", port)) != NULL,
               "`hermeslink status`: exit %d\n%s", r.exit_code, r.out);
        hlt_cli_free(&r);
    }
    if (pid > 0) {
        hlt_cli(&env, &r, "stop", NULL);
        expect(r.exit_code == 0, "`hermeslink stop`: exit %d\n%s", r.exit_code, r.err);
        hlt_cli_free(&r);
        int status = 0;
        if (!hlt_wait_exit(pid, &status, 5000)) {
            kill(pid, SIGKILL);
            hlt_wait_exit(pid, &status, 5000);
            expect(false, "the daemon still ran 5 s after `stop`");
        }
        expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the daemon ended with status 0x%x", status);
    }
    char *path = hlt_env_path(&env, 1, "logs/daemon.log");
    const char *report = hlt_sanitizer_report(path);
    free(path);
    expect(report == NULL, "%s", report);
    if (failure[0] != '\0')
        env.keep = 1;
    hlt_env_dispose(&env);
    ck_assert_msg(failure[0] == '\0', "%s", failure);
}
END_TEST

/* ---- plainHttp2 ---- */

/* Sends the HTTP/2 connection preface on a raw socket: 1 when the server answers with an HTTP/2 SETTINGS frame. */
static int speaks_h2_prior_knowledge(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_msg(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "connect: %s", strerror(errno));
    /* the preface, then an empty SETTINGS frame */
    static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";
    ck_assert(write(fd, preface, sizeof(preface) - 1) == (ssize_t)(sizeof(preface) - 1));
    unsigned char buf[64];
    size_t got = 0;
    long deadline = hlt_now_ms() + 5000;
    while (got < 9 && hlt_now_ms() < deadline) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 200) != 1)
            continue;
        ssize_t n = read(fd, buf + got, sizeof(buf) - got);
        if (n <= 0)
            break; /* closed: no HTTP/2 */
        got += (size_t)n;
    }
    close(fd);
    /* a frame header: 24-bit length, type 4 (SETTINGS), flags, stream 0 */
    return got >= 9 && buf[3] == 0x04 && buf[5] == 0 && buf[6] == 0 && buf[7] == 0 && buf[8] == 0;
}

START_TEST(test_plain_http2_off)
{
    hlt_daemon_t d;
    hlt_env_t env;
    start_with(&d, &env, "{\"plainHttp2\": false}\n", 1, NULL);
    hlt_request_t req = {.path = "/api/v1/system/status"};
    hlt_response_t res;

    /* prior knowledge: the request fails, or at least is not answered over HTTP/2 */
    hlt_request(&d, HLT_H2C, &req, &res);
    ck_assert_msg(res.rc != CURLE_OK || res.http_version != CURL_HTTP_VERSION_2_0,
                  "prior-knowledge h2c answered over HTTP/2 (status %ld)", res.status);
    hlt_response_free(&res);
    ck_assert_msg(!speaks_h2_prior_knowledge(d.port), "the plain port answers the HTTP/2 preface with SETTINGS");

    /* Upgrade: h2c is ignored: answered over HTTP/1.1 */
    hlt_request(&d, HLT_H2C_UPGRADE, &req, &res);
    ck_assert_msg(res.rc == CURLE_OK, "Upgrade: h2c request failed: %s", res.errbuf);
    ck_assert_int_eq(res.status, 200);
    ck_assert_int_eq(res.http_version, CURL_HTTP_VERSION_1_1);
    hlt_response_free(&res);

    /* HTTP/1.1 and h2 over TLS (ALPN) go on */
    hlt_fetch(&d, HLT_H1, &req, &res);
    ck_assert_int_eq(res.status, 200);
    hlt_response_free(&res);
    hlt_fetch(&d, HLT_H2_TLS, &req, &res); /* asserts CURL_HTTP_VERSION_2_0 */
    ck_assert_int_eq(res.status, 200);
    ck_assert_int_eq(res.http_version, CURL_HTTP_VERSION_2_0);
    hlt_response_free(&res);
    stop(&d, &env);
}
END_TEST

START_TEST(test_plain_http2_default)
{
    hlt_daemon_t d;
    hlt_env_t env;
    start_with(&d, &env, NULL, 1, NULL);
    hlt_request_t req = {.path = "/api/v1/system/status"};
    hlt_response_t res;
    for (int p = 0; p < HLT_NUM_PROTOS; ++p) {
        hlt_fetch(&d, (hlt_proto_t)p, &req, &res); /* asserts the HTTP version of each */
        ck_assert_int_eq(res.status, 200);
        hlt_response_free(&res);
    }
    ck_assert_msg(speaks_h2_prior_knowledge(d.port), "the plain port does not answer the HTTP/2 preface by default");
    stop(&d, &env);
}
END_TEST

/* ---- the CLI keys ---- */

static void config_set(hlt_env_t *env, const char *key, const char *value, int code, const char *out, const char *err)
{
    hlt_cli_result_t r;
    hlt_cli(env, &r, "config", "set", key, value, NULL);
    ck_assert_msg(r.exit_code == code, "config set %s %s: exit %d, expected %d (stderr %s)", key, value, r.exit_code, code, r.err);
    if (out != NULL)
        ck_assert_str_eq(r.out, out);
    if (err != NULL)
        ck_assert_msg(strstr(r.err, err) != NULL, "config set %s %s: stderr %s, expected %s", key, value, r.err, err);
    hlt_cli_free(&r);
}

static json_t *config_get(hlt_env_t *env)
{
    hlt_cli_result_t r;
    hlt_cli(env, &r, "config", "get", NULL);
    ck_assert_int_eq(r.exit_code, 0);
    json_t *j = json_loads(r.out, 0, NULL);
    ck_assert_msg(json_is_object(j), "config get: %s", r.out);
    hlt_cli_free(&r);
    return j;
}

static void assert_int_key(json_t *c, const char *key, json_int_t want)
{
    json_t *v = json_object_get(c, key);
    ck_assert_msg(json_is_integer(v) && json_integer_value(v) == want, "config get: %s is not %lld", key, (long long)want);
}

START_TEST(test_config_cli)
{
    hlt_env_t env;
    hlt_env_init(&env);
    json_t *c = config_get(&env);
    static const char *const edge[] = {"lanPlainHttp",        "plainHttp2",           "maxConnections", "maxConnectionsPerAddress",
                                       "maxStreamsPerDevice", "maxBodyMiBPerAddress", "trustedProxies"};
    for (size_t i = 0; i < HL_ARRAY_SIZE(edge); ++i)
        ck_assert_msg(json_object_get(c, edge[i]) == NULL, "a default config shows %s", edge[i]);
    json_decref(c);

    config_set(&env, "lan-plain-http", "false", 0, "LAN plain HTTP set to false\n", NULL);
    config_set(&env, "plain-http2", "false", 0, "Plain HTTP/2 set to false\n", NULL);
    config_set(&env, "max-connections", "100", 0, "Max connections set to 100\n", NULL);
    config_set(&env, "max-connections-per-address", "10", 0, "Max connections per address set to 10\n", NULL);
    config_set(&env, "max-streams-per-device", "4", 0, "Max streams per device set to 4\n", NULL);
    config_set(&env, "max-body-mib-per-address", "64", 0, "Max body MiB per address set to 64\n", NULL);
    config_set(&env, "trusted-proxies", "10.0.0.0/8,::1", 0, "Trusted proxies set to [\"10.0.0.0/8\",\"::1\"]\n", NULL);
    c = config_get(&env);
    ck_assert(json_is_false(json_object_get(c, "lanPlainHttp")));
    ck_assert(json_is_false(json_object_get(c, "plainHttp2")));
    assert_int_key(c, "maxConnections", 100);
    assert_int_key(c, "maxConnectionsPerAddress", 10);
    assert_int_key(c, "maxStreamsPerDevice", 4);
    assert_int_key(c, "maxBodyMiBPerAddress", 64);
    json_t *tp = json_object_get(c, "trustedProxies");
    ck_assert_msg(json_array_size(tp) == 2 && array_has(tp, "10.0.0.0/8") && array_has(tp, "::1"), "trustedProxies %s",
                  json_dumps(tp, JSON_COMPACT));
    json_decref(c);

    /* bad values: exit 1 with a message, nothing changed */
    config_set(&env, "lan-plain-http", "maybe", 1, "", "Invalid value (expected true or false)");
    config_set(&env, "plain-http2", "2", 1, "", "Invalid value (expected true or false)");
    config_set(&env, "max-connections", "0", 1, "", "Invalid Max connections");
    config_set(&env, "max-connections-per-address", "0", 1, "", "Invalid Max connections per address");
    config_set(&env, "trusted-proxies", "10.0.0.0/99", 1, "", "Invalid trusted proxies");
    config_set(&env, "trusted-proxies", "example.com", 1, "", "Invalid trusted proxies");
    c = config_get(&env);
    ck_assert(json_is_false(json_object_get(c, "lanPlainHttp")));
    assert_int_key(c, "maxConnections", 100);
    ck_assert_int_eq(json_array_size(json_object_get(c, "trustedProxies")), 2);
    json_decref(c);

    /* back on: the key stays in the file, and a daemon started from it serves (the file is what `run` reads) */
    config_set(&env, "lan-plain-http", "true", 0, "LAN plain HTTP set to true\n", NULL);
    config_set(&env, "trusted-proxies", "none", 0, "Trusted proxies set to (none)\n", NULL);
    c = config_get(&env);
    ck_assert(json_is_true(json_object_get(c, "lanPlainHttp")));
    ck_assert_int_eq(json_array_size(json_object_get(c, "trustedProxies")), 0);
    json_decref(c);
    hlt_env_dispose(&env);
}
END_TEST

/* A config set by the CLI is the one the daemon binds by */
START_TEST(test_config_cli_applies)
{
    hlt_env_t env;
    hlt_env_init(&env);
    config_set(&env, "lan-plain-http", "false", 0, NULL, NULL);
    config_set(&env, "plain-http2", "off", 0, "Plain HTTP/2 set to false\n", NULL);
    hlt_daemon_t d;
    hlt_daemon_opts_t o = {.env = &env, .tls = 0, .listen = "0.0.0.0"}; /* no TLS: nothing takes the wildcard */
    hlt_daemon_start(&d, &o);
    assert_bound(d.port, BOUND_LOOPBACK, "plain port after `config set lan-plain-http false`");
    ck_assert_msg(!speaks_h2_prior_knowledge(d.port), "h2c after `config set plain-http2 off`");
    hlt_daemon_stop_clean(&d);
    hlt_env_dispose(&env);
}
END_TEST

Suite *suite_edge_config(void)
{
    Suite *s = suite_create("edge_config");
    TCase *lan = tcase_create("lan_plain_http");
    tcase_set_timeout(lan, 120);
    tcase_add_test(lan, test_lan_plain_off);
    tcase_add_test(lan, test_lan_plain_default);
    tcase_add_test(lan, test_lan_plain_off_no_tls);
    tcase_add_test(lan, test_lan_plain_off_loopback_listen);
    tcase_add_loop_test(lan, test_lan_plain_off_start_status, 0, 2);
    suite_add_tcase(s, lan);
    TCase *h2 = tcase_create("plain_http2");
    tcase_set_timeout(h2, 120);
    tcase_add_test(h2, test_plain_http2_off);
    tcase_add_test(h2, test_plain_http2_default);
    suite_add_tcase(s, h2);
    TCase *cli = tcase_create("cli");
    tcase_set_timeout(cli, 180);
    tcase_add_test(cli, test_config_cli);
    tcase_add_test(cli, test_config_cli_applies);
    suite_add_tcase(s, cli);
    return s;
}
