/*
 * Route registration: each src/http/routes_<area>.c adds its routes to the table. Main thread, before workers start.
 */
#ifndef HL_ROUTES_H
#define HL_ROUTES_H

#include "hl/auth.h"
#include "hl/db.h"
#include "hl/hermes_files.h"
#include "hl/pairing.h"
#include "hl/link.h"
#include "hl/router.h"
#include "hl/runproxy.h"
#include "hl/stats.h"
#include "hl/store.h"
#include "hl/system.h"
#include "hl/updater.h"

/** What the routes call: each route file receives only its part when it registers. */
typedef struct st_hl_routes_deps_t {
    const hl_link_t *link;
    hl_store_t *store;
    hl_auth_t *auth;
    hl_pairing_t *pairing;
    hl_system_t *system;
    hl_runproxy_t *runproxy;
    hl_hermes_t *hermes;
    hl_updater_t *updater;
    hl_stats_t *stats;
} hl_routes_deps_t;

/** Builds the daemon's whole route table (test hooks only in test mode). Aborts on a conflicting route. Main thread. */
hl_router_t *hl_routes_build(const hl_routes_deps_t *deps);

/** The routes served by the agent's API server through the run proxy: models and runs (spec/API.md §9, §12). */
void hl_routes_agent(hl_router_t *router, hl_runproxy_t *runproxy);

/** spec/API.md §11: the cron job routes, through the run proxy: /api/v1/cron-jobs, /api/v1/profiles/:name/cron-jobs*. */
void hl_routes_cron(hl_router_t *router, hl_runproxy_t *runproxy);

/** spec/API.md §10: the Hermes profile routes (list, status, metadata, rename, delete), on the Hermes files actor. */
void hl_routes_profiles(hl_router_t *router, hl_hermes_t *hermes);

/** spec/API.md §9: the model-config routes (/api/v1/model-configs*, /api/v1/profiles/:name/model-configs*), on the Hermes
 * files actor. */
void hl_routes_models(hl_router_t *router, hl_hermes_t *hermes);

/** spec/API.md §13, §14, §16: Hermes update, Link self-update, /api/v1/system/updates*, on the updater actor. */
void hl_routes_updates(hl_router_t *router, hl_updater_t *updater);

/** GET /api/v1/bootstrap, /api/v1/system/version, /api/v1/system/status. */
void hl_routes_system(hl_router_t *router);

/** spec/API.md §3: the /api/v1/auth routes. */
void hl_routes_auth(hl_router_t *router, hl_auth_t *auth, hl_pairing_t *pairing, const hl_link_t *link);

/** spec/API.md §6: /api/v1/devices*. */
void hl_routes_devices(hl_router_t *router, hl_auth_t *auth);

/** spec/API.md §4 and §2: the /api/v1/pairing routes and GET /pair. */
void hl_routes_pairing(hl_router_t *router, hl_pairing_t *pairing);

/** spec/API.md §5: GET /api/v1/status, GET /api/v1/logs; §16: GET /api/v1/system/logs, /api/v1/system/logs/gateway. */
void hl_routes_status(hl_router_t *router, hl_system_t *system, hl_hermes_t *hermes);

/** spec/API.md §16: POST /api/v1/system/autostart/enable and /disable, on the system actor. */
void hl_routes_autostart(hl_router_t *router, hl_system_t *system);

/** spec/API.md §17: POST /internal/deliver (loopback callers only, no bearer). */
void hl_routes_internal(hl_router_t *router, hl_store_t *store);

/** spec/API.md §7: conversation lists, CRUD, messages, runs, approvals, plans. */
void hl_routes_conversations(hl_router_t *router, hl_store_t *store);

/** spec/API.md §7: the conversation event streams and blobs. */
void hl_routes_conv_streams(hl_router_t *router, hl_store_t *store);

/** Test-only routes under /__test/ (HERMESLINK_TEST_MODE=1): actor round trips, held streams, clock shifts. */
void hl_routes_test(hl_router_t *router, hl_store_t *store, hl_runproxy_t *runproxy);

/** spec/API.md §8: GET /api/v1/statistics and /api/v1/statistics/usage, on the stats actor (`hermes` for the profile count). */
void hl_routes_stats(hl_router_t *router, hl_stats_t *stats, hl_hermes_t *hermes);

/** GET /app and its files under /app/ (the web client, web/): embedded, strong ETags, strict CSP. Main thread. */
void hl_routes_app(hl_router_t *router);

/**
 * GET /api/docs (reference page) and /api/docs/openapi.json: registers them, then generates the OpenAPI document from
 * every route registered so far (call it last). Aborts on a malformed docs table; logs routes without docs. Main thread.
 */
void hl_routes_docs(hl_router_t *router);

/** Makes `router` the table the dispatcher uses. */
void hl_dispatch_set_router(const hl_router_t *router);

/**
 * Makes the config's trustedProxies the proxies whose X-Forwarded-For hl_request_peer believes. Main thread, before the
 * server runs; `config` must outlive the server and stays unchanged.
 */
void hl_dispatch_set_trusted_proxies(const hl_config_t *config);

struct st_hl_request_t;
/**
 * The optional client headers of /auth/me and GET /devices (X-Hermes-App-Instance-Id, X-Hermes-Device-Model): 1 when they
 * change the authenticated device (*app_id / *model set, pool memory, NULL when unchanged), else 0. Worker thread.
 */
int hl_routes_client_changes(struct st_hl_request_t *r, const char **app_id, const char **model);

/** Adds routes, aborting on an invalid or duplicate one (a programming error). */
void hl_routes_add_all(hl_router_t *router, const hl_route_t *routes, size_t n);

#endif
