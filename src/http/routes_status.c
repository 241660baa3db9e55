/*
 * spec/API.md §5: GET /api/v1/status and GET /api/v1/logs; §16: GET /api/v1/system/logs and /system/logs/gateway. All read
 * files, so actors answer them, never a worker: the
 * system actor (the status, HermesLink's log) and the Hermes files actor (the gateway's log, in HERMES_HOME).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "hl/hermes_manage.h"
#include "hl/http.h"
#include "hl/logread.h"
#include "hl/routes.h"
#include "hl/system.h"

#define DEFAULT_LOG_LIMIT 50
#define UNPARSABLE_LOG_LIMIT 200
#define MAX_LOG_LIMIT HL_LOGREAD_MAX_LIMIT

/* the actors these routes call, given at registration */
static hl_system_t *sys;
static hl_hermes_t *hermes;

static void get_status(hl_request_t *r)
{
    hl_reply_to_t *to = hl_request_defer(r, hl_system_actor(sys));
    if (to != NULL)
        hl_system_status(sys, to);
}

/* parseInt semantics of the original: leading integer; absent → 50, unparsable → 200; then clamped to 1..1000 */
static long log_limit(const char *s)
{
    if (s == NULL)
        return DEFAULT_LOG_LIMIT;
    while (isspace((unsigned char)*s))
        ++s;
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s)
        return UNPARSABLE_LOG_LIMIT;
    return v < 1 ? 1 : v > MAX_LOG_LIMIT ? MAX_LOG_LIMIT : v;
}

static void get_logs(hl_request_t *r)
{
    const char *source = hl_request_query(r, "source", NULL);
    long limit = log_limit(hl_request_query(r, "limit", NULL));
    if (source != NULL && strcmp(source, "gateway") == 0) {
        /* Hermes's own log lies in HERMES_HOME: the Hermes files actor reads it */
        hl_reply_to_t *to = hl_request_defer(r, hl_hermes_actor(hermes));
        if (to != NULL)
            hl_hermes_gateway_logs(hermes, to, source, (size_t)limit);
        return;
    }
    hl_reply_to_t *to = hl_request_defer(r, hl_system_actor(sys));
    if (to != NULL)
        hl_system_logs(sys, to, source != NULL ? source : "link", (size_t)limit);
}

/* The system routes answer {"entries":[…]} without "ok" (spec/API.md §16); errors keep the usual envelope. */
static void system_logs_got(hl_request_t *r, hl_result_t *result, void *data)
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
    json_t *entries = json_incref(json_object_get(result->body, "logs"));
    hl_result_free(result);
    hl_reply_json(r, 200, json_pack("{s:o}", "entries", entries != NULL ? entries : json_array()));
}

static void get_system_logs(hl_request_t *r)
{
    size_t limit = hl_logs_limit_number(hl_request_query(r, "limit", NULL));
    hl_reply_to_t *to = hl_request_defer_then(r, hl_system_actor(sys), system_logs_got, NULL);
    if (to != NULL)
        hl_system_logs(sys, to, "link", limit);
}

static void get_system_gateway_logs(hl_request_t *r)
{
    size_t limit = hl_logs_limit_number(hl_request_query(r, "limit", NULL));
    hl_reply_to_t *to = hl_request_defer_then(r, hl_hermes_actor(hermes), system_logs_got, NULL);
    if (to != NULL)
        hl_hermes_gateway_logs(hermes, to, "gateway", limit);
}

static const hl_route_t ROUTES[] = {
    {HL_METHOD_GET, "/api/v1/status", get_status, HL_ROUTE_AUTH | HL_ROUTE_NO_STORE, 0},
    {HL_METHOD_GET, "/api/v1/logs", get_logs, HL_ROUTE_AUTH | HL_ROUTE_NO_STORE, 0},
    {HL_METHOD_GET, "/api/v1/system/logs", get_system_logs, HL_ROUTE_AUTH | HL_ROUTE_NO_STORE, 0},
    {HL_METHOD_GET, "/api/v1/system/logs/gateway", get_system_gateway_logs, HL_ROUTE_AUTH | HL_ROUTE_NO_STORE, 0},
};

void hl_routes_status(hl_router_t *router, hl_system_t *system, hl_hermes_t *h)
{
    sys = system;
    hermes = h;
    hl_routes_add_all(router, ROUTES, HL_ARRAY_SIZE(ROUTES));
}
