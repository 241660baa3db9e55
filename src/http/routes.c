#include <string.h>

#include "hl/routes.h"

void hl_routes_add_all(hl_router_t *router, const hl_route_t *routes, size_t n)
{
    for (size_t i = 0; i < n; ++i)
        if (hl_router_add(router, &routes[i]) != 0)
            hl_fatal("cannot register route %s", routes[i].pattern);
}

hl_router_t *hl_routes_build(int test_mode)
{
    hl_router_t *router = hl_router_new();
    hl_routes_system(router);
    hl_routes_auth(router);
    hl_routes_pairing(router);
    hl_routes_devices(router);
    hl_routes_status(router);
    hl_routes_conv_streams(router);
    hl_routes_conversations(router);
    if (test_mode)
        hl_routes_test(router);
    return router;
}
