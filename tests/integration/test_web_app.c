/*
 * The web client's files (GET /app and /app/…) over HTTP/1.1, h2c and h2 over TLS: 200 with the right type, a strict
 * CSP without inline code, nosniff, Cache-Control and a strong ETag; 304 with the same ETag (and no body) on a matching
 * If-None-Match (no Content-Length), 200 on a stale one; gzip (its own ETag, Vary) only when Accept-Encoding admits it;
 * nothing loaded from another origin; the whole shell under 200 KB.
 */
#include <stdio.h>
#include <stdlib.h>
#include <dirent.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "hl/common.h"

#include "harness.h"

static hlt_daemon_t daemon_;

static void list_web_files(void);

static void setup(void)
{
    list_web_files();
    hlt_daemon_opts_t o = {.tls = 1};
    hlt_daemon_start(&daemon_, &o);
}

static void teardown(void)
{
    hlt_daemon_teardown_shared(&daemon_, "web_app daemon");
}

static const hlt_proto_t PROTOS[] = {HLT_H1, HLT_H2C, HLT_H2_TLS};

/* every file of the source tree's web/ (the built-in client), as the daemon serves it: /app for index.html, else
 * /app/<name>; read at setup, so a file added to web/ is checked without a change here */
#define MAX_FILES 64
static struct {
    char path[300];
    const char *type;
    int text; /* compressible: served gzip'd when asked */
} FILES[MAX_FILES];
static size_t NUM_FILES;

static const struct {
    const char *ext, *type;
    int text;
} TYPES[] = {
    {".html", "text/html; charset=utf-8", 1},
    {".css", "text/css; charset=utf-8", 1},
    {".js", "text/javascript; charset=utf-8", 1},
    {".webmanifest", "application/manifest+json", 1},
    {".png", "image/png", 0},
};

static void list_web_files(void)
{
    DIR *d = opendir(HL_SOURCE_DIR "/web");
    ck_assert_msg(d != NULL, "cannot open %s/web", HL_SOURCE_DIR);
    NUM_FILES = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        ck_assert_uint_lt(NUM_FILES, MAX_FILES);
        size_t n = strlen(e->d_name), t = 0;
        while (t < sizeof(TYPES) / sizeof(TYPES[0]) &&
               !(n > strlen(TYPES[t].ext) && strcmp(e->d_name + n - strlen(TYPES[t].ext), TYPES[t].ext) == 0))
            ++t;
        ck_assert_msg(t < sizeof(TYPES) / sizeof(TYPES[0]), "web/%s: a file of a type this test does not know", e->d_name);
        if (strcmp(e->d_name, "index.html") == 0)
            snprintf(FILES[NUM_FILES].path, sizeof(FILES[NUM_FILES].path), "/app");
        else
            snprintf(FILES[NUM_FILES].path, sizeof(FILES[NUM_FILES].path), "/app/%s", e->d_name);
        FILES[NUM_FILES].type = TYPES[t].type;
        FILES[NUM_FILES].text = TYPES[t].text;
        ++NUM_FILES;
    }
    closedir(d);
    ck_assert_uint_gt(NUM_FILES, 10);
}

START_TEST(files_served_with_csp_and_etag)
{
    hlt_proto_t proto = PROTOS[_i];
    size_t total = 0;
    for (size_t i = 0; i < NUM_FILES; ++i) {
        hlt_response_t res;
        hlt_get(&daemon_, proto, FILES[i].path, &res);
        ck_assert_msg(res.status == 200, "%s: %ld", FILES[i].path, res.status);
        ck_assert_int_eq(res.http_version, hlt_proto_version(proto));
        ck_assert_str_eq(hlt_header(&res, "content-type"), FILES[i].type);
        const char *csp = hlt_header(&res, "content-security-policy");
        ck_assert_msg(csp != NULL && strstr(csp, "default-src 'self'") != NULL && strstr(csp, "frame-ancestors 'none'") != NULL,
                      "%s: CSP %s", FILES[i].path, csp != NULL ? csp : "(none)");
        ck_assert_msg(strstr(csp, "unsafe-inline") == NULL && strstr(csp, "unsafe-eval") == NULL, "CSP allows inline code");
        ck_assert_str_eq(hlt_header(&res, "x-content-type-options"), "nosniff");
        ck_assert_str_eq(hlt_header(&res, "cache-control"), "no-cache");
        const char *etag = hlt_header(&res, "etag");
        ck_assert_msg(etag != NULL && strlen(etag) == 66 && etag[0] == '"' && etag[65] == '"', "%s: ETag %s", FILES[i].path,
                      etag != NULL ? etag : "(none)");
        ck_assert_uint_gt(res.body_len, 100);
        total += res.body_len;
        /* nothing that would load from another origin (markdown.js names http:// as text: links it makes live) */
        static const char *const LOADS[] = {"src=\"http", "src='http",  "href=\"http", "href='http",   "url(http",    "url(\"http",
                                            "url('http",  "from 'http", "from \"http", "import('http", "fetch('http", "//cdn"};
        for (size_t k = 0; FILES[i].text && k < sizeof(LOADS) / sizeof(LOADS[0]); ++k)
            ck_assert_msg(strstr(res.body, LOADS[k]) == NULL, "%s: loads from another origin: %.60s", FILES[i].path,
                          strstr(res.body, LOADS[k]));
        if (strcmp(FILES[i].path, "/app") == 0) {
            ck_assert_ptr_nonnull(strstr(res.body, "src=\"/app/app.js\""));
            ck_assert_ptr_nonnull(strstr(res.body, "href=\"/app/app.css\""));
            ck_assert_ptr_null(strstr(res.body, "<style"));
            ck_assert_ptr_null(strstr(res.body, "<script>"));
            ck_assert_ptr_null(strstr(res.body, " style="));
        }

        /* revalidation: the same tag (alone, weak or in a list) → 304 without a body; another tag → 200 */
        char tag[80], inm[200];
        snprintf(tag, sizeof(tag), "%s", etag);
        const char *variants[] = {"If-None-Match: %s", "If-None-Match: \"other\", W/%s", "If-None-Match: *"};
        for (size_t v = 0; v < 3; ++v) {
            snprintf(inm, sizeof(inm), variants[v], tag);
            const char *hdrs[] = {inm, NULL};
            hlt_request_t req = {.path = FILES[i].path, .headers = hdrs};
            hlt_response_t nm;
            hlt_request(&daemon_, proto, &req, &nm);
            ck_assert_msg(nm.status == 304, "%s with %s: %ld", FILES[i].path, inm, nm.status);
            ck_assert_uint_eq(nm.body_len, 0);
            ck_assert_str_eq(hlt_header(&nm, "etag"), tag);
            ck_assert_str_eq(hlt_header(&nm, "cache-control"), "no-cache");
            ck_assert_ptr_nonnull(hlt_header(&nm, "content-security-policy"));
            /* RFC 9110 §8.6: a 304's Content-Length would have to be the full entity's, so none at all */
            ck_assert_ptr_null(hlt_header(&nm, "content-length"));
            hlt_response_free(&nm);
        }
        const char *stale[] = {"If-None-Match: \"0000\"", NULL};
        hlt_request_t req = {.path = FILES[i].path, .headers = stale};
        hlt_response_t full;
        hlt_request(&daemon_, proto, &req, &full);
        ck_assert_int_eq(full.status, 200);
        ck_assert_uint_eq(full.body_len, res.body_len);
        hlt_response_free(&full);
        hlt_response_free(&res);
    }
    ck_assert_msg(total < 200 * 1024, "the shell is %zu bytes", total);
}
END_TEST

/* body inflated from gzip (RFC 1952) into out (cap bytes): its length, or -1 when it is not valid gzip */
static long gunzip(const char *body, size_t len, char *out, size_t cap)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    ck_assert_int_eq(inflateInit2(&z, 15 + 16), Z_OK);
    z.next_in = (Bytef *)body;
    z.avail_in = (uInt)len;
    z.next_out = (Bytef *)out;
    z.avail_out = (uInt)cap;
    int rc = inflate(&z, Z_FINISH);
    long n = rc == Z_STREAM_END ? (long)z.total_out : -1;
    inflateEnd(&z);
    return n;
}

START_TEST(gzip_when_accepted)
{
    hlt_proto_t proto = PROTOS[_i];
    for (size_t i = 0; i < NUM_FILES; ++i) {
        if (!FILES[i].text)
            continue; /* images: gzip would not make them smaller, they are always sent as they are */
        hlt_response_t plain;
        hlt_get(&daemon_, proto, FILES[i].path, &plain);
        ck_assert_int_eq(plain.status, 200);
        ck_assert_ptr_null(hlt_header(&plain, "content-encoding"));
        ck_assert_str_eq(hlt_header(&plain, "vary"), "accept-encoding");

        const char *accept[] = {"Accept-Encoding: br;q=1, gzip;q=0.5", NULL};
        hlt_request_t req = {.path = FILES[i].path, .headers = accept};
        hlt_response_t gz;
        hlt_request(&daemon_, proto, &req, &gz);
        ck_assert_int_eq(gz.status, 200);
        ck_assert_str_eq(hlt_header(&gz, "content-encoding"), "gzip");
        ck_assert_str_eq(hlt_header(&gz, "vary"), "accept-encoding");
        ck_assert_str_eq(hlt_header(&gz, "content-type"), FILES[i].type);
        ck_assert_uint_lt(gz.body_len, plain.body_len);
        char *out = malloc(plain.body_len + 16);
        ck_assert_int_eq(gunzip(gz.body, gz.body_len, out, plain.body_len + 16), (long)plain.body_len);
        ck_assert_int_eq(memcmp(out, plain.body, plain.body_len), 0);
        free(out);
        /* a strong tag names one representation: the gzip copy has its own, and revalidates against it */
        const char *gz_tag = hlt_header(&gz, "etag");
        ck_assert_str_ne(gz_tag, hlt_header(&plain, "etag"));
        char inm[120];
        snprintf(inm, sizeof(inm), "If-None-Match: %s", gz_tag);
        const char *both[] = {"Accept-Encoding: gzip", inm, NULL};
        hlt_request_t again = {.path = FILES[i].path, .headers = both};
        hlt_response_t nm;
        hlt_request(&daemon_, proto, &again, &nm);
        ck_assert_int_eq(nm.status, 304);
        hlt_response_free(&nm);
        const char *identity[] = {inm, NULL}; /* the gzip tag does not match the identity copy */
        hlt_request_t id = {.path = FILES[i].path, .headers = identity};
        hlt_request(&daemon_, proto, &id, &nm);
        ck_assert_int_eq(nm.status, 200);
        ck_assert_ptr_null(hlt_header(&nm, "content-encoding"));
        hlt_response_free(&nm);
        const char *refused[] = {"Accept-Encoding: gzip;q=0, identity", NULL};
        hlt_request_t no = {.path = FILES[i].path, .headers = refused};
        hlt_request(&daemon_, proto, &no, &nm);
        ck_assert_int_eq(nm.status, 200);
        ck_assert_ptr_null(hlt_header(&nm, "content-encoding"));
        ck_assert_uint_eq(nm.body_len, plain.body_len);
        hlt_response_free(&nm);
        hlt_response_free(&gz);
        hlt_response_free(&plain);
    }
}
END_TEST

/* the PWA: the service worker may control /app (outside its folder's scope) and pre-caches every file of the shell;
 * the manifest names the client's start URL and scope */
START_TEST(service_worker_and_manifest)
{
    hlt_response_t sw;
    hlt_get(&daemon_, PROTOS[_i], "/app/sw.js", &sw);
    ck_assert_int_eq(sw.status, 200);
    ck_assert_str_eq(hlt_header(&sw, "service-worker-allowed"), "/app");
    for (size_t i = 0; i < NUM_FILES; ++i) {
        const char *p = FILES[i].path;
        if (strcmp(p, "/app/sw.js") == 0 || !FILES[i].text)
            continue;
        char quoted[310];
        snprintf(quoted, sizeof(quoted), "'%s'", p);
        ck_assert_msg(strstr(sw.body, quoted) != NULL, "sw.js does not pre-cache %s", p);
    }
    hlt_response_free(&sw);
    hlt_response_t m;
    hlt_get(&daemon_, PROTOS[_i], "/app/manifest.webmanifest", &m);
    ck_assert_int_eq(m.status, 200);
    ck_assert_ptr_null(hlt_header(&m, "service-worker-allowed"));
    json_error_t jerr;
    json_t *j = json_loadb(m.body, m.body_len, 0, &jerr);
    ck_assert_msg(j != NULL, "manifest: %s", jerr.text);
    ck_assert_str_eq(json_string_value(json_object_get(j, "start_url")), "/app");
    ck_assert_str_eq(json_string_value(json_object_get(j, "scope")), "/app");
    ck_assert_uint_ge(json_array_size(json_object_get(j, "icons")), 2);
    json_decref(j);
    hlt_response_free(&m);
}
END_TEST

START_TEST(unknown_file_is_404)
{
    const char *paths[] = {"/app/nope.js", "/app/..", "/app/%2e%2e%2fhermeslink.pid", "/app/index.html.bak"};
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); ++i) {
        hlt_response_t res;
        hlt_get(&daemon_, PROTOS[_i], paths[i], &res);
        ck_assert_msg(res.status == 404, "%s: %ld", paths[i], res.status);
        hlt_response_free(&res);
    }
}
END_TEST

/* HERMESLINK_WEB_DIR=<folder>: the daemon serves that folder's files instead of the built-in ones (for work on the
 * client); dot files and sub-folders are not served */
START_TEST(web_dir_overrides_the_builtin_files)
{
    hlt_env_t env;
    hlt_env_init(&env);
    char *dir = hlt_env_path(&env, 0, "web-dev");
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    char *index = hl_asprintf("%s/index.html", dir), *js = hl_asprintf("%s/extra.js", dir), *dot = hl_asprintf("%s/.secret", dir),
         *sub = hl_asprintf("%s/sub", dir);
    hlt_write_file(index, "<!doctype html><title>dev copy</title>");
    hlt_write_file(js, "export const x = 1;\n");
    hlt_write_file(dot, "no");
    ck_assert_int_eq(mkdir(sub, 0700), 0);
    char *var = hl_asprintf("HERMESLINK_WEB_DIR=%s", dir);
    const char *extra[] = {var, NULL};
    hlt_daemon_t d;
    hlt_daemon_opts_t o = {.env = &env, .extra_env = extra};
    hlt_daemon_start(&d, &o);
    hlt_response_t res;
    hlt_get(&d, HLT_H1, "/app", &res);
    ck_assert_int_eq(res.status, 200);
    ck_assert_ptr_nonnull(strstr(res.body, "dev copy"));
    hlt_response_free(&res);
    hlt_get(&d, HLT_H2C, "/app/extra.js", &res);
    ck_assert_int_eq(res.status, 200);
    ck_assert_str_eq(hlt_header(&res, "content-type"), "text/javascript; charset=utf-8");
    ck_assert_str_eq(res.body, "export const x = 1;\n");
    hlt_response_free(&res);
    const char *absent[] = {"/app/app.js", "/app/.secret", "/app/sub"};
    for (size_t i = 0; i < 3; ++i) {
        hlt_get(&d, HLT_H1, absent[i], &res);
        ck_assert_msg(res.status == 404, "%s: %ld", absent[i], res.status);
        hlt_response_free(&res);
    }
    const char *err = hlt_daemon_stop(&d);
    ck_assert_msg(err == NULL, "%s", err);
    hlt_daemon_dispose(&d);
    free(var);
    free(index);
    free(js);
    free(dot);
    free(sub);
    free(dir);
    hlt_env_dispose(&env);
}
END_TEST

Suite *suite_web_app(void)
{
    Suite *s = suite_create("web_app");
    TCase *tc = tcase_create("web_app");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    int n = (int)(sizeof(PROTOS) / sizeof(PROTOS[0]));
    tcase_add_loop_test(tc, files_served_with_csp_and_etag, 0, n);
    tcase_add_loop_test(tc, gzip_when_accepted, 0, n);
    tcase_add_loop_test(tc, service_worker_and_manifest, 0, n);
    tcase_add_loop_test(tc, unknown_file_is_404, 0, n);
    suite_add_tcase(s, tc);
    TCase *dev = tcase_create("web_dir");
    tcase_set_timeout(dev, 60);
    tcase_add_test(dev, web_dir_overrides_the_builtin_files);
    suite_add_tcase(s, dev);
    return s;
}
