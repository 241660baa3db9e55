/*
 * spec/API.md §9 (GET /api/v1/models): answered by the profile's Hermes API server through the run proxy actor.
 */
#include "hl/http.h"
#include "hl/routes.h"
#include "hl/runproxy.h"

/* the run proxy these routes call, given at registration */
static hl_runproxy_t *runproxy;

static void get_models(hl_request_t *r)
{
    const char *profile = hl_request_query(r, "profile", NULL);
    hl_reply_to_t *p = hl_request_defer(r, hl_runproxy_actor(runproxy));
    if (p != NULL)
        hl_runproxy_models(runproxy, p, profile != NULL && profile[0] != '\0' ? profile : NULL);
}

static const hl_route_t ROUTES[] = {
    {HL_METHOD_GET, "/api/v1/models", get_models, HL_ROUTE_AUTH | HL_ROUTE_NO_STORE, 0},
};

void hl_routes_agent(hl_router_t *router, hl_runproxy_t *rp)
{
    runproxy = rp;
    hl_routes_add_all(router, ROUTES, HL_ARRAY_SIZE(ROUTES));
}
