/*
 * A hardened edge (issue 9, findings 8 and 9): blobs are served with nosniff and a sandboxing CSP, active types (HTML, SVG,
 * XML, JavaScript) only as attachments; GET /pair cannot be framed, runs only its own inline script and style (by hash)
 * and sends no Referer; every file `hermeslink run` creates is private whatever the caller's umask; TLS 1.2 offers AEAD
 * suites only; the binaries carry the hardening flags; control.sock refuses a peer of another uid.
 *
 * Tests that need a capability the machine lacks (root for another uid, readelf, the release build) print "SKIPPED: …"
 * and pass, except under CI=true where a missing capability is a failure.
 */
#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "harness_conv.h"
#include "hl/common.h"
#include "hl/ids.h"

static hltc_ctx_t ctx;
#define D (&ctx.d)
#define TOK (ctx.dev.access)

static void setup(void)
{
    hltc_start(&ctx, 1, NULL);
}

static void teardown(void)
{
    hltc_teardown_shared(&ctx, "hardening daemon");
}

/* A capability the test needs is missing: a visible skip, or a failure under CI. Returns 1 (the caller returns). */
static int skip(const char *why)
{
    const char *ci = getenv("CI");
    if (ci != NULL && strcmp(ci, "true") == 0)
        ck_abort_msg("%s (CI=true: a missing capability is a failure)", why);
    printf("SKIPPED: %s\n", why);
    fflush(stdout);
    return 1;
}

/* ---- blobs ---- */

static void get_blob(hlt_proto_t p, const char *conv, const char *id, hlt_response_t *res)
{
    hlt_request_t req = {.path = hltc_fmt("/api/v1/conversations/%s/blobs/%s", conv, id),
                         .headers = (const char *[]){hltc_fmt("Authorization: Bearer %s", TOK), NULL}};
    hlt_fetch(D, p, &req, res);
    ck_assert_msg(res->status == 200, "GET blob: %ld %.300s", res->status, res->body);
}

static void check_blob(hlt_proto_t p, const char *conv, const char *type, const char *name, int attachment)
{
    static const char data[] = "<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(document.domain)</script></svg>";
    char *id = hltc_upload_ok(D, p, TOK, conv, data, sizeof(data) - 1, type, name);
    hlt_response_t res;
    get_blob(p, conv, id, &res);
    const char *what = hltc_fmt("%s (%s) over %s", type, name, hlt_proto_name(p));
    const char *nosniff = hlt_header(&res, "x-content-type-options");
    ck_assert_msg(nosniff != NULL && strcasecmp(nosniff, "nosniff") == 0, "%s: X-Content-Type-Options %s", what,
                  nosniff != NULL ? nosniff : "(absent)");
    const char *csp = hlt_header(&res, "content-security-policy");
    ck_assert_msg(csp != NULL && strcmp(csp, "sandbox") == 0, "%s: Content-Security-Policy %s", what,
                  csp != NULL ? csp : "(absent)");
    const char *cd = hlt_header(&res, "content-disposition");
    const char *want = hltc_fmt("%s; filename=\"%s\"", attachment ? "attachment" : "inline", name);
    ck_assert_msg(cd != NULL && strcmp(cd, want) == 0, "%s: Content-Disposition %s, expected %s", what,
                  cd != NULL ? cd : "(absent)", want);
    ck_assert_msg(res.body_len == sizeof(data) - 1 && memcmp(res.body, data, res.body_len) == 0, "%s: the bytes differ", what);
    hlt_response_free(&res);
    free(id);
}

START_TEST(test_blob_active_types_are_attachments)
{
    static const struct {
        const char *type, *name;
    } ACTIVE[] = {
        {"text/html", "page.html"},
        {"image/svg+xml", "logo.svg"},
        {"application/xml", "data.xml"},
        {"text/xml", "feed.xml"},
        {"application/xhtml+xml", "page.xhtml"},
        {"application/javascript", "app.js"},
        {"text/javascript", "app.mjs"},
        {"Text/HTML; charset=utf-8", "upper.html"},
        {"application/rss+xml", "feed.rss"},
    };
    char *conv = hltc_create(D, HLT_H1, TOK, "active");
    for (size_t i = 0; i < HL_ARRAY_SIZE(ACTIVE); ++i)
        check_blob(HLT_H1, conv, ACTIVE[i].type, ACTIVE[i].name, 1);
    /* the same over HTTP/2 with TLS */
    check_blob(HLT_H2_TLS, conv, "text/html", "tls.html", 1);
    check_blob(HLT_H2_TLS, conv, "image/svg+xml", "tls.svg", 1);
    free(conv);
}
END_TEST

START_TEST(test_blob_passive_types_stay_inline)
{
    char *conv = hltc_create(D, HLT_H1, TOK, "passive");
    check_blob(HLT_H1, conv, "image/png", "photo.png", 0);
    check_blob(HLT_H1, conv, "text/plain", "notes.txt", 0);
    check_blob(HLT_H1, conv, "application/json", "data.json", 0);
    check_blob(HLT_H2_TLS, conv, "image/jpeg", "pic.jpg", 0);
    free(conv);
}
END_TEST

/* ---- the pairing page ---- */

/* 'sha256-<base64>' of text, the way a CSP names an inline element. */
static char *csp_hash(const char *text, size_t len)
{
    unsigned char digest[32], b64[48];
    hl_sha256(text, len, digest);
    EVP_EncodeBlock(b64, digest, sizeof(digest));
    return hl_asprintf("'sha256-%s'", (const char *)b64);
}

/* Every <tag>…</tag> of the page is allowed by the CSP's directive by its hash; returns how many there are. */
static int assert_inline_allowed(const char *page, const char *csp, const char *tag, const char *directive)
{
    const char *dir = strstr(csp, directive);
    ck_assert_msg(dir != NULL, "CSP has no %s: %s", directive, csp);
    size_t dir_len = strcspn(dir, ";");
    char *open = hl_asprintf("<%s", tag), *close = hl_asprintf("</%s>", tag);
    int n = 0;
    for (const char *p = strstr(page, open); p != NULL; p = strstr(p, open)) {
        const char *gt = strchr(p, '>');
        ck_assert_msg(gt != NULL, "unterminated <%s", tag);
        ck_assert_msg(gt - p == (long)strlen(open), "<%s> with attributes (src?): %.80s", tag, p);
        const char *end = strstr(gt + 1, close);
        ck_assert_msg(end != NULL, "unterminated <%s>", tag);
        char *h = csp_hash(gt + 1, (size_t)(end - gt - 1));
        char *in = strstr(dir, h);
        ck_assert_msg(in != NULL && in < dir + dir_len, "inline <%s> #%d (hash %s) is not allowed by: %.*s", tag, n + 1, h,
                      (int)dir_len, dir);
        free(h);
        ++n;
        p = end;
    }
    free(open);
    free(close);
    return n;
}

static void assert_page_headers(const hlt_response_t *res, const char *what)
{
    hlt_assert_header(res, "x-frame-options", "DENY");
    hlt_assert_header(res, "referrer-policy", "no-referrer");
    const char *csp = hlt_header(res, "content-security-policy");
    ck_assert_msg(csp != NULL, "%s: no Content-Security-Policy", what);
    ck_assert_msg(hlt_header_count(res, "content-security-policy") == 1, "%s: more than one CSP", what);
    ck_assert_msg(strstr(csp, "default-src 'none'") != NULL, "%s: CSP without default-src 'none': %s", what, csp);
    ck_assert_msg(strstr(csp, "frame-ancestors 'none'") != NULL, "%s: CSP without frame-ancestors 'none': %s", what, csp);
    ck_assert_msg(strstr(csp, "unsafe-inline") == NULL && strstr(csp, "unsafe-eval") == NULL && strchr(csp, '*') == NULL,
                  "%s: CSP not strict: %s", what, csp);
}

START_TEST(test_pair_page_headers)
{
    hlt_pairing_t p;
    hlt_pair(D->env, &p);
    hlt_response_t res;
    hlt_get(D, HLT_H1, hltc_fmt("/pair?session_id=%s", p.session_id), &res);
    ck_assert_int_eq(res.status, 200);
    assert_page_headers(&res, "GET /pair");
    const char *csp = hlt_header(&res, "content-security-policy");
    ck_assert_msg(strstr(csp, "connect-src 'self'") != NULL, "the page polls its own origin: %s", csp);
    /* the page still works under it: each of its inline scripts and styles is allowed, none loads anything */
    ck_assert_int_eq(assert_inline_allowed(res.body, csp, "script", "script-src "), 1);
    ck_assert_int_eq(assert_inline_allowed(res.body, csp, "style", "style-src "), 1);
    ck_assert_msg(!hlt_matches(res.body, "<[^>]+ (style|on[a-z]+)="), "inline event handlers or style attributes would be blocked");
    ck_assert_msg(strstr(res.body, p.connect_token) != NULL, "the page shows the code");
    hlt_response_free(&res);
    /* the same page over HTTP/2 with TLS, and the answers without a page */
    hlt_get(D, HLT_H2_TLS, hltc_fmt("/pair?session_id=%s", p.session_id), &res);
    ck_assert_int_eq(res.status, 200);
    assert_page_headers(&res, "GET /pair over h2");
    hlt_response_free(&res);
    hlt_get(D, HLT_H1, "/pair", &res);
    ck_assert_int_eq(res.status, 400);
    assert_page_headers(&res, "GET /pair without a session");
    hlt_response_free(&res);
    hlt_pairing_free(&p);
}
END_TEST

/* ---- TLS ---- */

/* GET /api/v1/system/version over TLS 1.2 only, offering only `ciphers`; returns the curl code (status in *status). */
static CURLcode tls12_get(const char *ciphers, long *status)
{
    hlt_request_t req = {.path = "/api/v1/system/version"};
    hlt_response_t res;
    CURL *c = hlt_easy_new(D, HLT_H2_TLS, &req, &res);
    curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)(CURL_SSLVERSION_TLSv1_2 | CURL_SSLVERSION_MAX_TLSv1_2));
    curl_easy_setopt(c, CURLOPT_SSL_CIPHER_LIST, ciphers);
    CURLcode rc = curl_easy_perform(c);
    hlt_easy_finish(c, rc, &res);
    *status = res.status;
    hlt_response_free(&res);
    return rc;
}

START_TEST(test_tls12_aead_only)
{
    static const char *const CBC[] = {
        "ECDHE-ECDSA-AES128-SHA",
        "ECDHE-ECDSA-AES256-SHA:ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES256-SHA384:ECDHE-RSA-AES128-SHA:AES128-SHA:AES256-SHA256",
    };
    static const char *const AEAD[] = {"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
                                       "ECDHE-ECDSA-CHACHA20-POLY1305"};
    long status;
    for (size_t i = 0; i < HL_ARRAY_SIZE(CBC); ++i) {
        CURLcode rc = tls12_get(CBC[i], &status);
        ck_assert_msg(rc != CURLE_OK, "a TLS 1.2 handshake offering only CBC suites (%s) succeeded (status %ld)", CBC[i], status);
    }
    for (size_t i = 0; i < HL_ARRAY_SIZE(AEAD); ++i) {
        CURLcode rc = tls12_get(AEAD[i], &status);
        ck_assert_msg(rc == CURLE_OK && status == 200, "TLS 1.2 with %s: %s, status %ld", AEAD[i], curl_easy_strerror(rc), status);
    }
    /* TLS 1.3 (the default) still works */
    hlt_response_t res;
    hlt_get(D, HLT_H2_TLS, "/api/v1/system/version", &res);
    ck_assert_int_eq(res.status, 200);
    hlt_response_free(&res);
}
END_TEST

/* ---- files ---- */

/* Asserts that nothing under dir is group or other accessible (sockets included). Returns the entries seen. */
static int assert_private_tree(const char *dir, char *bad, size_t bad_len)
{
    int n = 0;
    DIR *d = opendir(dir);
    ck_assert_msg(d != NULL, "opendir %s: %s", dir, strerror(errno));
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char *path = hl_asprintf("%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(path, &st) == 0) {
            ++n;
            if (!S_ISLNK(st.st_mode) && (st.st_mode & 077) != 0) {
                size_t used = strlen(bad);
                snprintf(bad + used, bad_len - used, " %s (%04o)", path, (unsigned)(st.st_mode & 07777));
            }
            if (S_ISDIR(st.st_mode))
                n += assert_private_tree(path, bad, bad_len);
        }
        free(path);
    }
    closedir(d);
    return n;
}

START_TEST(test_files_private_whatever_the_umask)
{
    /* a login shell's usual umask: the daemon and the CLI must not rely on the caller's */
    mode_t old = umask(022);
    hlt_env_t env;
    hlt_env_init(&env);
    hltc_ctx_t c;
    hltc_start(&c, 1, &env);
    char *conv = hltc_create(&c.d, HLT_H1, c.dev.access, "files");
    static const char data[] = "a private attachment";
    char *id = hltc_upload_ok(&c.d, HLT_H1, c.dev.access, conv, data, sizeof(data) - 1, "text/plain", "private.txt");
    hlt_cli_result_t r;
    hlt_cli(&env, &r, "config", "set", "language", "en", NULL);
    ck_assert_msg(r.exit_code == 0, "config set: %s", r.err);
    hlt_cli_free(&r);
    umask(old);

    char bad[4096] = "";
    int n = assert_private_tree(env.home, bad, sizeof(bad));
    ck_assert_msg(n >= 6, "only %d entries in the home", n);
    char *db = hlt_env_path(&env, 1, "link.db"), *cfg = hlt_env_path(&env, 1, "config.json");
    struct stat st;
    ck_assert_msg(stat(db, &st) == 0 && stat(cfg, &st) == 0, "link.db or config.json missing");
    ck_assert_msg(bad[0] == '\0', "group/other accessible:%s", bad);
    free(db);
    free(cfg);
    free(id);
    free(conv);
    hlt_device_free(&c.dev);
    hlt_daemon_stop_clean(&c.d);
    hlt_env_dispose(&env);
}
END_TEST

/* ---- binaries ---- */

static int run_check(const char *binary, int fortify, char **out)
{
    hlt_env_t env;
    hlt_env_init(&env);
    char *script = hl_asprintf("%s/tests/integration/check_hardening.sh", HL_SOURCE_DIR);
    char *out_path = hlt_env_path(&env, 0, "check.out"), *err_path = hlt_env_path(&env, 0, "check.err");
    char *argv[] = {"/bin/bash", script, (char *)binary, fortify ? "--fortify" : NULL, NULL};
    pid_t pid = hlt_spawn(argv, out_path, err_path);
    int status = 0;
    ck_assert_msg(hlt_wait_exit(pid, &status, 30000), "check_hardening.sh did not finish");
    *out = hlt_read_file(out_path, NULL);
    char *err = hlt_read_file(err_path, NULL);
    if (err != NULL && *err != '\0')
        fprintf(stderr, "check_hardening.sh: %s", err);
    free(err);
    free(out_path);
    free(err_path);
    free(script);
    hlt_env_dispose(&env);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

START_TEST(test_binaries_hardened)
{
    /* the binary under test (a sanitizer Debug build: no _FORTIFY_SOURCE, which needs optimisation) */
    char *out = NULL;
    int rc = run_check(hlt_binary(), 0, &out);
    if (rc == 77) {
        skip(out != NULL ? out : "check_hardening.sh skipped");
        free(out);
        return;
    }
    ck_assert_msg(rc == 0, "%s is not hardened:\n%s", hlt_binary(), out != NULL ? out : "");
    free(out);
    /* the release binary (make build) with everything, _FORTIFY_SOURCE included */
    char *release = hl_asprintf("%s/build/hermeslink", HL_SOURCE_DIR);
    if (access(release, X_OK) != 0) {
        skip(hltc_fmt("no release binary at %s (make build)", release));
        free(release);
        return;
    }
    rc = run_check(release, 1, &out);
    ck_assert_msg(rc == 0, "%s (release) is not hardened (rebuild with make build?):\n%s", release, out != NULL ? out : "");
    free(out);
    free(release);
}
END_TEST

/* ---- control.sock ---- */

#define NOBODY 65534

/* Sends a status request on a new connection to the socket; returns the bytes answered (-errno if it cannot connect). */
static long control_ask(const char *sock, char *buf, size_t cap)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        long err = -errno;
        close(fd);
        return err;
    }
    struct timeval tv = {.tv_sec = 10};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    static const char req[] = "{\"cmd\":\"status\"}\n";
    if (write(fd, req, sizeof(req) - 1) < 0) {
        /* a refusal may close the connection before the request is written: nothing was answered */
    }
    size_t got = 0;
    for (;;) {
        ssize_t n = read(fd, buf + got, cap - 1 - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    buf[got] = '\0';
    close(fd);
    return (long)got;
}

START_TEST(test_control_refuses_other_uid)
{
    if (geteuid() != 0) {
        skip("needs root to connect to control.sock from another uid");
        return;
    }
    hlt_daemon_t d;
    hlt_daemon_opts_t o = {.log_level = "info"};
    hlt_daemon_start(&d, &o);
    char *sock = hlt_env_path(d.env, 1, "control.sock");
    char buf[4096];
    long n = control_ask(sock, buf, sizeof(buf));
    ck_assert_msg(n > 0 && strstr(buf, "\"ok\":true") != NULL, "the daemon's own user gets no answer: %ld %s", n, buf);

    /* a home or socket whose modes were loosened: the modes no longer keep the other user out, the uid check must */
    ck_assert(chmod(d.env->dir, 0711) == 0 && chmod(d.env->home, 0711) == 0 && chmod(sock, 0666) == 0);
    pid_t pid = fork();
    ck_assert(pid >= 0);
    if (pid == 0) {
        if (setgroups(0, NULL) != 0 || setresgid(NOBODY, NOBODY, NOBODY) != 0 || setresuid(NOBODY, NOBODY, NOBODY) != 0)
            _exit(10);
        char cbuf[4096];
        long cn = control_ask(sock, cbuf, sizeof(cbuf));
        if (cn < 0) {
            fprintf(stderr, "connect as uid %d: %s\n", NOBODY, strerror((int)-cn));
            _exit(11);
        }
        if (cn > 0) {
            fprintf(stderr, "answered uid %d: %s\n", NOBODY, cbuf);
            _exit(12);
        }
        _exit(0);
    }
    int status = 0;
    ck_assert_msg(hlt_wait_exit(pid, &status, 20000), "the other-uid client did not finish");
    ck_assert_msg(WIFEXITED(status), "the other-uid client died");
    if (WEXITSTATUS(status) == 10) {
        skip("cannot switch to uid 65534 here");
    } else {
        ck_assert_msg(WEXITSTATUS(status) != 11, "uid %d could not connect (a parent directory of %s not searchable?)", NOBODY,
                      sock);
        ck_assert_msg(WEXITSTATUS(status) != 12, "control.sock answered a peer of another uid");
        ck_assert_int_eq(WEXITSTATUS(status), 0);
        /* the refusal is logged, once */
        char *err = NULL;
        for (long deadline = hlt_now_ms() + 5000; hlt_now_ms() < deadline; hlt_sleep_ms(50)) {
            free(err);
            err = hlt_read_file(d.err_path, NULL);
            if (err != NULL && strstr(err, "control: refused") != NULL)
                break;
        }
        ck_assert_msg(err != NULL && hlt_count(err, "control: refused") == 1, "the refusal is not logged once:\n%s", err);
        ck_assert_msg(strstr(err, "uid 65534") != NULL, "the log does not name the uid:\n%s", err);
        free(err);
    }
    /* the daemon's own user is still served */
    n = control_ask(sock, buf, sizeof(buf));
    ck_assert_msg(n > 0 && strstr(buf, "\"ok\":true") != NULL, "no answer after the refusal: %ld %s", n, buf);
    free(sock);
    hlt_daemon_stop_clean(&d);
}
END_TEST

Suite *suite_hardening(void)
{
    Suite *s = suite_create("hardening");
    TCase *tc = tcase_create("edge");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_blob_active_types_are_attachments);
    tcase_add_test(tc, test_blob_passive_types_stay_inline);
    tcase_add_test(tc, test_pair_page_headers);
    tcase_add_test(tc, test_tls12_aead_only);
    suite_add_tcase(s, tc);
    tc = tcase_create("process");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_files_private_whatever_the_umask);
    tcase_add_test(tc, test_binaries_hardened);
    tcase_add_test(tc, test_control_refuses_other_uid);
    suite_add_tcase(s, tc);
    return s;
}
