/*
 * Route matching and path decoding (src/http/router.c) over the daemon's real route table (hl_routes_build, test routes
 * included), built once per process with no actors behind it: matching never calls a handler. Input: byte 0 picks the
 * method, the rest is the request path (no query string). Checks what the router promises: a found route answers the
 * method (GET for HEAD), its parameters are NUL-terminated inside the caller's buffer with their stated length, and
 * percent-decoding never grows the text nor lets a NUL through.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hl/router.h"
#include "hl/routes.h"

static const hl_router_t *table(void)
{
    static hl_router_t *router;
    if (router == NULL) {
        static hl_link_t link = {.home = "/nonexistent", .hermes_home = "/nonexistent", .test_mode = 1};
        hl_routes_deps_t deps = {.link = &link};
        router = hl_routes_build(&deps);
    }
    return router;
}

static const char *const METHODS[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "BREW"};

static void check_match(const char *path, size_t len, hl_method_t method)
{
    char *buf = malloc(len + 1);
    if (buf == NULL)
        return;
    hl_route_match_t m;
    memset(&m, 0, sizeof(m));
    hl_match_status_t st = hl_router_match(table(), method, path, len, buf, &m);
    if (st == HL_MATCH_FOUND) {
        if (m.route == NULL || m.num_params > HL_ROUTE_MAX_PARAMS)
            abort();
        hl_method_t want = method == HL_METHOD_HEAD ? HL_METHOD_GET : method;
        if (m.route->method != want && m.route->method != method)
            abort();
        for (size_t i = 0; i < m.num_params; ++i) {
            const char *v = m.params[i].value;
            if (v < buf || v + m.params[i].len > buf + len || v[m.params[i].len] != '\0' || strlen(v) != m.params[i].len)
                abort();
            if (m.params[i].name == NULL)
                abort();
        }
    }
    if (st != HL_MATCH_NOT_FOUND) {
        char allow[128];
        hl_router_allow_header(m.allowed, allow, sizeof(allow));
        if (memchr(allow, '\0', sizeof(allow)) == NULL)
            abort();
    }
    free(buf);
}

static void check_decode(const char *s, size_t len)
{
    char *out = malloc(len + 1);
    if (out == NULL)
        return;
    size_t out_len = 0;
    if (hl_percent_decode(s, len, out, &out_len) == 0) {
        if (out_len > len || out[out_len] != '\0' || strlen(out) != out_len)
            abort();
    }
    free(out);
}

/** libFuzzer's entry: byte 0 the method, the rest the path. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const char *m = METHODS[data[0] % (sizeof(METHODS) / sizeof(METHODS[0]))];
    hl_method_t method = hl_method_from_string(m, strlen(m));
    const char *path = (const char *)data + 1;
    size_t len = size - 1;
    if (method != 0)
        check_match(path, len, method);
    check_decode(path, len);
    /* the method parser on the raw bytes too */
    (void)hl_method_from_string(path, len < 16 ? len : 16);
    return 0;
}
