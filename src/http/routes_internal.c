/*
 * spec/API.md §17: POST /internal/deliver, how a Hermes on this machine hands files (a cron job's output) to the apps.
 * No bearer token: the caller must be on this machine. The TCP peer must be 127.0.0.1, ::1 or ::ffff:127.0.0.1, and a
 * request that names another client (X-Forwarded-For, Forwarded, X-Real-IP) is refused even from loopback: a reverse
 * proxy on this machine forwarding a remote client must not make it local. So is one a browser sends (Origin,
 * Sec-Fetch-Site: browsers add them to every POST): a web page the user visits, or one that rebinds its name to
 * 127.0.0.1, must not make HermesLink copy the user's files into a conversation. The directory checks and every file read
 * happen in the store (on a reader thread), never here.
 */
#include <string.h>

#include "hl/http.h"
#include "hl/netaddr.h"
#include "hl/routes.h"
#include "hl/store.h"

/* the store these routes call, given at registration */
static hl_store_t *store;

/* A path longer than this is not a staging directory a caller could mean (PATH_MAX). */
#define MAX_STAGING_DIR 4096

static bool exact_loopback(const uint8_t a[16])
{
    static const uint8_t v6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    static const uint8_t v4[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1};
    return memcmp(a, v6, 16) == 0 || memcmp(a, v4, 16) == 0;
}

/* True when the request comes from a program on this machine itself: a loopback TCP peer, and no header naming another
 * client or a browser. */
static bool local_caller(const hl_request_t *r)
{
    struct sockaddr_storage ss;
    uint8_t addr[16];
    if (r->req->conn->callbacks->get_peername(r->req->conn, (struct sockaddr *)&ss) <= 0 ||
        !hl_sockaddr_to_v6((const struct sockaddr *)&ss, addr) || !exact_loopback(addr))
        return false;
    static const char *const forwarding[] = {"x-forwarded-for", "forwarded", "x-real-ip", "origin", "sec-fetch-site"};
    for (size_t i = 0; i < HL_ARRAY_SIZE(forwarding); ++i)
        if (h2o_find_header_by_str(&r->req->headers, forwarding[i], strlen(forwarding[i]), -1) >= 0)
            return false;
    return true;
}

/* staging_dir | stagingDir: the first alias present as a non-empty string. */
static const char *staging_dir(const json_t *body, size_t *len)
{
    static const char *const aliases[] = {"staging_dir", "stagingDir"};
    for (size_t i = 0; i < HL_ARRAY_SIZE(aliases); ++i) {
        const json_t *v = json_object_get(body, aliases[i]);
        if (json_is_string(v) && json_string_length(v) > 0) {
            *len = json_string_length(v);
            return json_string_value(v);
        }
    }
    return NULL;
}

/* The body as JSON ({} when blank), parsed here rather than by the router so that a stranger learns only 403. NULL
 * after answering 400 invalid_json. */
static json_t *parse_body(hl_request_t *r)
{
    h2o_iovec_t e = r->req->entity;
    size_t i = 0;
    while (e.base != NULL && i < e.len && (e.base[i] == ' ' || e.base[i] == '\t' || e.base[i] == '\r' || e.base[i] == '\n'))
        ++i;
    if (e.base == NULL || i == e.len)
        return json_object();
    json_t *body = json_loadb(e.base, e.len, JSON_DECODE_ANY, NULL);
    if (body == NULL)
        hl_reply_error(r, 400, "invalid_json", "Request body is not valid JSON");
    return body;
}

static void post_deliver(hl_request_t *r)
{
    if (!local_caller(r)) {
        hl_reply_error(r, 403, "internal_route_forbidden", "This route only serves callers on this machine");
        return;
    }
    json_t *body = parse_body(r);
    if (body == NULL)
        return;
    size_t len = 0;
    const char *dir = staging_dir(body, &len);
    if (dir == NULL) {
        hl_reply_error(r, 400, "delivery_staging_required", "staging_dir is required");
        goto Exit;
    }
    if (dir[0] != '/' || strlen(dir) != len || len > MAX_STAGING_DIR) {
        hl_reply_error(r, 400, "delivery_staging_invalid", "staging_dir must be an absolute path");
        goto Exit;
    }
    /* a delivery holds one file's bytes at a time: it takes an upload's place */
    if (!hl_store_upload_begin(store)) {
        hl_reply_error(r, 503, "server_busy", "Too many uploads in progress; retry shortly");
        goto Exit;
    }
    hl_reply_to_t *to = hl_request_defer(r, hl_store_actor(store));
    if (to == NULL) {
        hl_store_upload_abort(store);
        goto Exit;
    }
    hl_store_deliver(store, to, dir);
Exit:
    json_decref(body);
}

static const hl_route_t ROUTES[] = {
    {HL_METHOD_POST, "/internal/deliver", post_deliver, HL_ROUTE_NO_STORE, 0},
};

void hl_routes_internal(hl_router_t *router, hl_store_t *s)
{
    store = s;
    hl_routes_add_all(router, ROUTES, HL_ARRAY_SIZE(ROUTES));
}
