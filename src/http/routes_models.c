/*
 * spec/API.md §9: the model-config routes — /api/v1/model-configs for the default profile (the Hermes home itself) and
 * /api/v1/profiles/:name/model-configs for any profile — answered by the Hermes files actor (hermes_manage_models.c),
 * which checks the name before any path is built. GET /api/v1/models, the agent's own list, is routes_agent.c's.
 */
#include "hl/hermes_manage.h"
#include "hl/http.h"
#include "hl/routes.h"

/* the Hermes files actor these routes call, given at registration */
static hl_hermes_t *hermes;

/* The profile of the request: :name, or default on the global routes. */
static const char *profile_of(hl_request_t *r)
{
    const char *name = hl_request_param(r, "name");
    return name != NULL ? name : "default";
}

static void list_configs(hl_request_t *r)
{
    hl_reply_to_t *to = hl_request_defer(r, hl_hermes_actor(hermes));
    if (to != NULL)
        hl_hermes_model_configs_get(hermes, to, profile_of(r));
}

static void save_config(hl_request_t *r)
{
    hl_reply_to_t *to = hl_request_defer(r, hl_hermes_actor(hermes));
    if (to != NULL)
        hl_hermes_model_config_save(hermes, to, profile_of(r), r->body);
}

static void set_defaults(hl_request_t *r)
{
    hl_reply_to_t *to = hl_request_defer(r, hl_hermes_actor(hermes));
    if (to != NULL)
        hl_hermes_model_defaults(hermes, to, profile_of(r), r->body);
}

static void delete_config(hl_request_t *r)
{
    hl_reply_to_t *to = hl_request_defer(r, hl_hermes_actor(hermes));
    if (to != NULL)
        hl_hermes_model_config_delete(hermes, to, profile_of(r), r->body);
}

#define READ (HL_ROUTE_AUTH | HL_ROUTE_NO_STORE)
#define WRITE (HL_ROUTE_AUTH | HL_ROUTE_JSON_BODY | HL_ROUTE_NO_STORE)

static const hl_route_t ROUTES[] = {
    {HL_METHOD_GET, "/api/v1/model-configs", list_configs, READ, 0},
    {HL_METHOD_POST, "/api/v1/model-configs", save_config, WRITE, 0},
    {HL_METHOD_PATCH, "/api/v1/model-configs/defaults", set_defaults, WRITE, 0},
    {HL_METHOD_DELETE, "/api/v1/model-configs", delete_config, WRITE, 0},
    {HL_METHOD_GET, "/api/v1/profiles/:name/model-configs", list_configs, READ, 0},
    {HL_METHOD_POST, "/api/v1/profiles/:name/model-configs", save_config, WRITE, 0},
    {HL_METHOD_PATCH, "/api/v1/profiles/:name/model-configs/defaults", set_defaults, WRITE, 0},
    {HL_METHOD_DELETE, "/api/v1/profiles/:name/model-configs", delete_config, WRITE, 0},
};

void hl_routes_models(hl_router_t *router, hl_hermes_t *h)
{
    hermes = h;
    hl_routes_add_all(router, ROUTES, HL_ARRAY_SIZE(ROUTES));
}
