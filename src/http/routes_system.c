/*
 * Public system routes (spec/API.md §2, §16): bootstrap, version and status, served from the published snapshot so a
 * request costs no actor round trip and no syscall beyond the reply.
 */
#include "hl/version.h"
#include "hl/http.h"
#include "hl/routes.h"
#include "hl/snapshot.h"

#define JSON_TYPE "application/json; charset=utf-8"

typedef enum { BODY_BOOTSTRAP, BODY_SYSTEM_STATUS } body_kind_t;

static void reply_snapshot(hl_request_t *r, body_kind_t kind)
{
    rcu_read_lock();
    hl_snapshot_t *snap = hl_snapshot_current();
    if (snap == NULL) {
        rcu_read_unlock();
        hl_reply_error(r, 503, "server_starting", "The server is starting; retry shortly");
        return;
    }
    if (kind == BODY_BOOTSTRAP)
        hl_reply_bytes(r, 200, JSON_TYPE, snap->bootstrap_json, snap->bootstrap_len);
    else
        hl_reply_bytes(r, 200, JSON_TYPE, snap->system_status_json, snap->system_status_len);
    hl_snapshot_done(snap);
    rcu_read_unlock();
}

static void get_bootstrap(hl_request_t *r)
{
    reply_snapshot(r, BODY_BOOTSTRAP);
}

static void get_system_status(hl_request_t *r)
{
    reply_snapshot(r, BODY_SYSTEM_STATUS);
}

static void get_system_version(hl_request_t *r)
{
    static const char body[] = "{\"version\":\"" HL_VERSION "\"}";
    hl_reply_bytes(r, 200, JSON_TYPE, body, sizeof(body) - 1);
}

static const hl_route_t ROUTES[] = {
    {HL_METHOD_GET, "/api/v1/bootstrap", get_bootstrap, HL_ROUTE_NO_STORE, 0},
    {HL_METHOD_GET, "/api/v1/system/version", get_system_version, 0, 0},
    {HL_METHOD_GET, "/api/v1/system/status", get_system_status, 0, 0},
};

void hl_routes_system(hl_router_t *router)
{
    hl_routes_add_all(router, ROUTES, HL_ARRAY_SIZE(ROUTES));
}
