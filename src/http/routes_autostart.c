/*
 * spec/API.md §16: POST /api/v1/system/autostart/enable and /disable. The system actor does the work (files, systemctl
 * with a time limit); the answer is the autostart state without "ok": {"supported","enabled","method","filePath"}, the
 * file shown relative to the home ("~/…"), never as an absolute path.
 */
#include "hl/http.h"
#include "hl/routes.h"
#include "hl/system.h"

/* the actor these routes call, given at registration */
static hl_system_t *sys;

static void autostart_got(hl_request_t *r, hl_result_t *result, void *data)
{
    (void)data;
    if (r == NULL) {
        hl_result_free(result);
        return;
    }
    if (!hl_result_is_ok(result) || result->body == NULL) {
        hl_reply_result(r, result);
        return;
    }
    json_t *body = json_incref(result->body);
    hl_result_free(result);
    hl_reply_json(r, 200, body);
}

static void post_autostart(hl_request_t *r, hl_system_autostart_t action)
{
    hl_reply_to_t *to = hl_request_defer_then(r, hl_system_actor(sys), autostart_got, NULL);
    if (to != NULL)
        hl_system_autostart(sys, to, action);
}

static void post_enable(hl_request_t *r)
{
    post_autostart(r, HL_SYSTEM_AUTOSTART_ENABLE);
}

static void post_disable(hl_request_t *r)
{
    post_autostart(r, HL_SYSTEM_AUTOSTART_DISABLE);
}

static const hl_route_t ROUTES[] = {
    {HL_METHOD_POST, "/api/v1/system/autostart/enable", post_enable, HL_ROUTE_AUTH | HL_ROUTE_NO_STORE, 0},
    {HL_METHOD_POST, "/api/v1/system/autostart/disable", post_disable, HL_ROUTE_AUTH | HL_ROUTE_NO_STORE, 0},
};

void hl_routes_autostart(hl_router_t *router, hl_system_t *system)
{
    sys = system;
    hl_routes_add_all(router, ROUTES, HL_ARRAY_SIZE(ROUTES));
}
