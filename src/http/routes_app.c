/*
 * GET /app (the web client's shell, web/index.html) and every other file of web/ at /app/<name>. The files are embedded
 * in the binary (generated/web_files.c); at registration each gets its content type, a strong ETag (the SHA-256 of its
 * bytes) and, when that is smaller, a gzip copy with an ETag of its own (a strong tag names one representation). Served
 * with Cache-Control: no-cache (the browser revalidates and gets 304 on If-None-Match), Vary: Accept-Encoding and a
 * strict CSP (default-src 'self', no inline code, no framing). The client uses only the public API, from the same origin.
 * For work on the client, HERMESLINK_WEB_DIR=<folder> makes the daemon read the files from that folder at start instead
 * (regular files directly in it, up to 64 of at most 1 MiB each): edit, restart, reload, no rebuild.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "hl/fsutil.h"

#include "hl/http.h"
#include "hl/http_negotiate.h"
#include "hl/ids.h"
#include "hl/routes.h"
#include "web_assets.h"

#define APP_CSP                                                                                                                    \
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self';"                     \
    " worker-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

typedef struct {
    const hl_web_file_t *file;
    const char *type;
    char etag[67];     /* "<64 hex>" with the quotes */
    unsigned char *gz; /* NULL when gzip would not be smaller */
    size_t gz_len;
    char gz_etag[70]; /* "<64 hex>-gz" */
} app_asset_t;

/* written once by hl_routes_app before the workers start, read-only afterwards (the embedded files live forever, so
 * the gzip copies do too) */
static app_asset_t *assets;
static size_t num_assets;

static const struct {
    const char *ext;
    const char *type;
} TYPES[] = {
    {".html", "text/html; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".json", "application/json"},
    {".webmanifest", "application/manifest+json"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
    {".txt", "text/plain; charset=utf-8"},
};

static const char *type_of(const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < HL_ARRAY_SIZE(TYPES); ++i) {
        size_t e = strlen(TYPES[i].ext);
        if (n > e && strcmp(name + n - e, TYPES[i].ext) == 0)
            return TYPES[i].type;
    }
    return "application/octet-stream";
}

/* A gzip copy of data (RFC 1952, best compression), or NULL when it would not be smaller or zlib fails. */
static unsigned char *gzip_copy(const unsigned char *data, size_t len, size_t *out_len)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK)
        return NULL;
    uLong cap = deflateBound(&z, (uLong)len);
    unsigned char *out = hl_malloc(cap);
    z.next_in = (Bytef *)data;
    z.avail_in = (uInt)len;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    int rc = deflate(&z, Z_FINISH);
    size_t n = z.total_out;
    deflateEnd(&z);
    if (rc != Z_STREAM_END || n >= len) {
        free(out);
        return NULL;
    }
    *out_len = n;
    return out;
}

static void serve(hl_request_t *r, const app_asset_t *a)
{
    h2o_req_t *req = r->req;
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("content-security-policy"), 0, NULL, H2O_STRLIT(APP_CSP));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-content-type-options"), 0, NULL, H2O_STRLIT("nosniff"));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-frame-options"), 0, NULL, H2O_STRLIT("DENY"));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("referrer-policy"), 0, NULL, H2O_STRLIT("no-referrer"));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-cache"));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_VARY, NULL, H2O_STRLIT("accept-encoding"));
    /* the service worker (web/sw.js, at /app/sw.js) may control the page at /app, outside its own folder's scope */
    if (strcmp(a->file->name, "sw.js") == 0)
        h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("service-worker-allowed"), 0, NULL, H2O_STRLIT("/app"));
    size_t ae_len;
    const char *ae = hl_request_header(r, "accept-encoding", &ae_len);
    bool gz = a->gz != NULL && hl_accepts_gzip(ae, ae_len);
    const char *etag = gz ? a->gz_etag : a->etag;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ETAG, NULL, etag, strlen(etag));
    size_t inm_len;
    const char *inm = hl_request_header(r, "if-none-match", &inm_len);
    if (inm != NULL && hl_etag_matches(inm, inm_len, etag)) {
        hl_reply_empty(r, 304);
        return;
    }
    if (gz) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_ENCODING, NULL, H2O_STRLIT("gzip"));
        hl_reply_bytes(r, 200, a->type, (const char *)a->gz, a->gz_len);
    } else {
        hl_reply_bytes(r, 200, a->type, (const char *)a->file->data, *a->file->len);
    }
}

#define WEB_DIR_MAX_FILES 64
#define WEB_DIR_MAX_BYTES (1u << 20)

/* The regular files directly in dir (names without a leading dot), read whole: a table that lives for the process, its
 * count in *count; NULL (and a message on stderr) when the folder cannot be read. */
static hl_web_file_t *read_web_dir(const char *dir, size_t *count)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        fprintf(stderr, "HERMESLINK_WEB_DIR: cannot open %s: %m; serving the built-in web client\n", dir);
        return NULL;
    }
    hl_web_file_t *files = hl_calloc(WEB_DIR_MAX_FILES, sizeof(*files));
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < WEB_DIR_MAX_FILES) {
        if (e->d_name[0] == '.')
            continue;
        char *path = hl_asprintf("%s/%s", dir, e->d_name);
        struct stat st;
        char *data = NULL;
        size_t len = 0;
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && hl_read_file(path, WEB_DIR_MAX_BYTES, &data, &len) == 0) {
            size_t *lenp = hl_malloc(sizeof(*lenp));
            *lenp = len;
            files[n++] = (hl_web_file_t){.name = hl_strdup(e->d_name), .data = (const unsigned char *)data, .len = lenp};
        }
        free(path);
    }
    closedir(d);
    *count = n;
    return files;
}

static const app_asset_t *find(const char *name)
{
    for (size_t i = 0; i < num_assets; ++i)
        if (strcmp(assets[i].file->name, name) == 0)
            return &assets[i];
    return NULL;
}

static void get_index(hl_request_t *r)
{
    const app_asset_t *a = find("index.html");
    if (a == NULL) {
        hl_reply_error(r, 404, "not_found", "the web client is not built into this binary");
        return;
    }
    serve(r, a);
}

static void get_file(hl_request_t *r)
{
    const app_asset_t *a = find(hl_request_param(r, "file"));
    if (a == NULL) {
        hl_reply_error(r, 404, "not_found", "no such file in the web client");
        return;
    }
    serve(r, a);
}

static const hl_route_t ROUTES[] = {
    {HL_METHOD_GET, "/app", get_index, 0, 0},
    {HL_METHOD_GET, "/app/:file", get_file, 0, 0},
};

void hl_routes_app(hl_router_t *router)
{
    if (assets == NULL) {
        const hl_web_file_t *files = hl_web_files;
        size_t count = hl_web_files_count;
        const char *dir = getenv("HERMESLINK_WEB_DIR");
        hl_web_file_t *from_dir = dir != NULL && dir[0] != '\0' ? read_web_dir(dir, &count) : NULL;
        if (from_dir != NULL)
            files = from_dir;
        else
            count = hl_web_files_count;
        assets = hl_calloc(count, sizeof(*assets));
        for (size_t i = 0; i < count; ++i) {
            app_asset_t *a = &assets[i];
            a->file = &files[i];
            a->type = type_of(a->file->name);
            char hex[65];
            hl_sha256_hex(a->file->data, *a->file->len, hex);
            snprintf(a->etag, sizeof(a->etag), "\"%s\"", hex);
            a->gz = gzip_copy(a->file->data, *a->file->len, &a->gz_len);
            snprintf(a->gz_etag, sizeof(a->gz_etag), "\"%s-gz\"", hex);
        }
        num_assets = count;
    }
    hl_routes_add_all(router, ROUTES, HL_ARRAY_SIZE(ROUTES));
}
