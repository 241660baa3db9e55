#include <string.h>

#include "hl/http.h"
#include "hl/routes.h"

void hl_routes_add_all(hl_router_t *router, const hl_route_t *routes, size_t n)
{
    for (size_t i = 0; i < n; ++i)
        if (hl_router_add(router, &routes[i]) != 0)
            hl_fatal("cannot register route %s", routes[i].pattern);
}

hl_router_t *hl_routes_build(const hl_routes_deps_t *d)
{
    hl_router_t *router = hl_router_new();
    hl_auth_check_init(d->auth);
    hl_routes_system(router);
    hl_routes_auth(router, d->auth, d->pairing, d->link);
    hl_routes_pairing(router, d->pairing);
    hl_routes_devices(router, d->auth);
    hl_routes_status(router, d->system, d->hermes);
    hl_routes_autostart(router, d->system);
    hl_routes_conv_streams(router, d->store);
    hl_routes_conversations(router, d->store);
    hl_routes_agent(router, d->runproxy);
    hl_routes_cron(router, d->runproxy);
    hl_routes_profiles(router, d->hermes);
    hl_routes_models(router, d->hermes);
    hl_routes_internal(router, d->store);
    if (d->updater != NULL)
        hl_routes_updates(router, d->updater);
    hl_routes_stats(router, d->stats, d->hermes);
    if (d->link->test_mode)
        hl_routes_test(router, d->store, d->runproxy);
    hl_routes_app(router);
    hl_routes_docs(router); /* last: documents every route registered above */
    return router;
}
