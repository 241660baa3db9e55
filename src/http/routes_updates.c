/*
 * spec/API.md §13, §14 and §16: the Hermes update and Link self-update routes, and GET/POST /api/v1/system/updates*,
 * all answered by the updater actor (the status streams by the SSE hub's job topics). All need a device token.
 */
#include <string.h>

#include "hl/http.h"
#include "hl/routes.h"
#include "hl/sse.h"
#include "hl/updater.h"

/* the updater actor these routes call, given at registration */
static hl_updater_t *updater;

static hl_reply_to_t *defer(hl_request_t *r)
{
    return hl_request_defer(r, hl_updater_actor(updater));
}

static void hermes_check(hl_request_t *r)
{
    hl_reply_to_t *to = defer(r);
    if (to != NULL)
        hl_updater_hermes_check(updater, to);
}

static void hermes_status(hl_request_t *r)
{
    hl_reply_to_t *to = defer(r);
    if (to != NULL)
        hl_updater_hermes_status(updater, to);
}

static void hermes_start(hl_request_t *r)
{
    hl_reply_to_t *to = defer(r);
    if (to != NULL)
        hl_updater_hermes_start(updater, to);
}

static void hermes_events(hl_request_t *r)
{
    hl_sse_open_job(r, HL_UPDATER_HERMES_TOPIC, hl_sse_request_cursor(r));
}

static void link_check(hl_request_t *r)
{
    hl_reply_to_t *to = defer(r);
    if (to != NULL)
        hl_updater_link_check(updater, to);
}

static void link_status(hl_request_t *r)
{
    hl_reply_to_t *to = defer(r);
    if (to != NULL)
        hl_updater_link_status(updater, to);
}

static void link_start(hl_request_t *r)
{
    if (r->body != NULL && !json_is_object(r->body)) {
        hl_reply_error(r, 400, "invalid_target_version", "The body must be a JSON object ({\"target_version\":\"x.y.z\"})");
        return;
    }
    json_t *target = r->body != NULL ? json_object_get(r->body, "target_version") : NULL;
    if (target == NULL && r->body != NULL)
        target = json_object_get(r->body, "targetVersion");
    if (target != NULL && !json_is_null(target) &&
        (!json_is_string(target) || json_string_length(target) == 0 || json_string_length(target) > 64)) {
        hl_reply_error(r, 400, "invalid_target_version", "target_version must be a version string");
        return;
    }
    hl_reply_to_t *to = defer(r);
    if (to != NULL)
        hl_updater_link_start(updater, to, r->body);
}

static void link_events(hl_request_t *r)
{
    hl_sse_open_job(r, HL_UPDATER_LINK_TOPIC, hl_sse_request_cursor(r));
}

static void system_updates(hl_request_t *r)
{
    hl_reply_to_t *to = defer(r);
    if (to != NULL)
        hl_updater_summary(updater, to);
}

static void system_dismiss(hl_request_t *r)
{
    hl_reply_to_t *to = defer(r);
    if (to != NULL)
        hl_updater_dismiss(updater, to);
}

static const hl_route_t ROUTES[] = {
    {HL_METHOD_GET, "/api/v1/hermes/update-check", hermes_check, HL_ROUTE_AUTH | HL_ROUTE_NO_STORE, 0},
    {HL_METHOD_GET, "/api/v1/hermes/update/status", hermes_status, HL_ROUTE_AUTH | HL_ROUTE_NO_STORE, 0},
    {HL_METHOD_POST, "/api/v1/hermes/update", hermes_start, HL_ROUTE_AUTH, 0},
    {HL_METHOD_GET, "/api/v1/hermes/update/events", hermes_events, HL_ROUTE_AUTH, 0},
    {HL_METHOD_GET, "/api/v1/link/update-check", link_check, HL_ROUTE_AUTH | HL_ROUTE_NO_STORE, 0},
    {HL_METHOD_GET, "/api/v1/link/update/status", link_status, HL_ROUTE_AUTH | HL_ROUTE_NO_STORE, 0},
    {HL_METHOD_POST, "/api/v1/link/update", link_start, HL_ROUTE_AUTH | HL_ROUTE_JSON_BODY, 0},
    {HL_METHOD_GET, "/api/v1/link/update/events", link_events, HL_ROUTE_AUTH, 0},
    {HL_METHOD_GET, "/api/v1/system/updates", system_updates, HL_ROUTE_AUTH, 0},
    {HL_METHOD_POST, "/api/v1/system/updates/dismiss", system_dismiss, HL_ROUTE_AUTH, 0},
};

void hl_routes_updates(hl_router_t *router, hl_updater_t *u)
{
    updater = u;
    hl_routes_add_all(router, ROUTES, HL_ARRAY_SIZE(ROUTES));
}
