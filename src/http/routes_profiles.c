/*
 * spec/API.md §10: the Hermes profile routes — profiles, their memory, skills, permissions and tool configs — answered
 * by the Hermes files actor (hermes_manage*.c), except the list, which the workers serve from the list that actor
 * publishes (no hop). The list names `default` first (GAPS §B 26). Names are checked on the actor before any path is
 * built.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hl/hermes_manage.h"
#include "hl/http.h"
#include "hl/routes.h"
#include "hl/sse.h"

/* the Hermes files actor these routes call, given at registration */
static hl_hermes_t *hermes;

static void list_profiles(hl_request_t *r)
{
    size_t len = 0;
    char *body = hl_hermes_profiles_reply(hermes, &len);
    if (body == NULL) {
        hl_reply_error(r, 503, "server_busy", "The profile list is not ready yet; retry shortly");
        return;
    }
    hl_reply_bytes(r, 200, "application/json; charset=utf-8", body, len);
    free(body);
}

static void get_status(hl_request_t *r)
{
    hl_reply_to_t *to = hl_request_defer(r, hl_hermes_actor(hermes));
    if (to != NULL)
        hl_hermes_profile_status_get(hermes, to, hl_request_param(r, "name"));
}

static void patch_profile(hl_request_t *r)
{
    if (!json_is_object(r->body)) {
        hl_reply_error(r, 400, "invalid_profile_metadata", "The body must be a JSON object");
        return;
    }
    hl_reply_to_t *to = hl_request_defer(r, hl_hermes_actor(hermes));
    if (to != NULL)
        hl_hermes_profile_patch(hermes, to, hl_request_param(r, "name"), r->body);
}

/* A deleted profile answers 204 with no body (spec/API.md §10). */
static void deleted(hl_request_t *r, hl_result_t *result, void *data)
{
    (void)data;
    if (r == NULL)
        hl_result_free(result);
    else if (hl_result_is_ok(result)) {
        hl_result_free(result);
        hl_reply_empty(r, 204);
    } else
        hl_reply_result(r, result);
}

static void delete_profile(hl_request_t *r)
{
    hl_reply_to_t *to = hl_request_defer_then(r, hl_hermes_actor(hermes), deleted, NULL);
    if (to != NULL)
        hl_hermes_profile_delete(hermes, to, hl_request_param(r, "name"));
}

static void get_catalog(hl_request_t *r)
{
    hl_reply_to_t *to = hl_request_defer(r, hl_hermes_actor(hermes));
    if (to != NULL)
        hl_hermes_profiles_catalog(hermes, to);
}

static void get_statistics(hl_request_t *r)
{
    hl_reply_to_t *to = hl_request_defer(r, hl_hermes_actor(hermes));
    if (to != NULL)
        hl_hermes_profile_statistics(hermes, to, hl_request_param(r, "name"));
}

/* ---- creation ---- */

static void create_profile(hl_request_t *r)
{
    if (!json_is_object(r->body)) {
        hl_reply_error(r, 400, "invalid_profile_name", "The body must be a JSON object with the new profile's name");
        return;
    }
    hl_reply_to_t *to = hl_request_defer(r, hl_hermes_actor(hermes));
    if (to != NULL)
        hl_hermes_profile_create(hermes, to, r->body);
}

static void creation_status(hl_request_t *r)
{
    hl_reply_to_t *to = hl_request_defer(r, hl_hermes_actor(hermes));
    if (to != NULL)
        hl_hermes_creation_status(hermes, to);
}

static void creation_events(hl_request_t *r)
{
    hl_sse_open_job(r, "profile-creation", hl_sse_request_cursor(r));
}

/* ---- memory ---- */

static hl_reply_to_t *defer(hl_request_t *r)
{
    return hl_request_defer(r, hl_hermes_actor(hermes));
}

static void get_memory(hl_request_t *r)
{
    hl_reply_to_t *to = defer(r);
    if (to != NULL)
        hl_hermes_memory_get(hermes, to, hl_request_param(r, "name"));
}

static void add_memory(hl_request_t *r)
{
    hl_reply_to_t *to = defer(r);
    if (to != NULL)
        hl_hermes_memory_add(hermes, to, hl_request_param(r, "name"), r->body);
}

static void replace_memory(hl_request_t *r)
{
    hl_reply_to_t *to = defer(r);
    if (to != NULL)
        hl_hermes_memory_replace(hermes, to, hl_request_param(r, "name"), r->body);
}

static void remove_memory(hl_request_t *r)
{
    hl_reply_to_t *to = defer(r);
    if (to != NULL)
        hl_hermes_memory_remove(hermes, to, hl_request_param(r, "name"), r->body);
}

static void clear_memory(hl_request_t *r)
{
    hl_reply_to_t *to = defer(r);
    if (to != NULL)
        hl_hermes_memory_clear(hermes, to, hl_request_param(r, "name"), r->body);
}

static void memory_settings(hl_request_t *r)
{
    hl_reply_to_t *to = defer(r);
    if (to != NULL)
        hl_hermes_memory_settings(hermes, to, hl_request_param(r, "name"), r->body);
}

static void memory_provider(hl_request_t *r)
{
    hl_reply_to_t *to = defer(r);
    if (to != NULL)
        hl_hermes_memory_provider(hermes, to, hl_request_param(r, "name"), r->body);
}

static void memory_provider_settings(hl_request_t *r)
{
    hl_reply_to_t *to = defer(r);
    if (to != NULL)
        hl_hermes_memory_provider_settings(hermes, to, hl_request_param(r, "name"), hl_request_param(r, "provider"), r->body);
}

/* ---- skills ---- */

/* include_disabled / includeDisabled: "false" or "0" hides disabled skills; absent or anything else lists them. */
static bool include_disabled(hl_request_t *r)
{
    const char *v = hl_request_query(r, "include_disabled", NULL);
    if (v == NULL)
        v = hl_request_query(r, "includeDisabled", NULL);
    return v == NULL || !(strcasecmp(v, "false") == 0 || strcmp(v, "0") == 0);
}

static void list_skills(hl_request_t *r)
{
    bool all = include_disabled(r);
    hl_reply_to_t *to = defer(r);
    if (to != NULL)
        hl_hermes_skills_list(hermes, to, hl_request_param(r, "name"), all);
}

static void set_skill(hl_request_t *r)
{
    const char *skill = hl_request_param(r, "skillName");
    size_t n = strlen(skill);
    bool ok = n > 0 && n <= 256;
    for (size_t i = 0; ok && i < n; ++i)
        ok = (unsigned char)skill[i] >= 0x20 && skill[i] != 0x7f;
    if (!ok) {
        hl_reply_error(r, 400, "invalid_skill_name", "Skill name is invalid");
        return;
    }
    hl_reply_to_t *to = defer(r);
    if (to != NULL)
        hl_hermes_skill_set(hermes, to, hl_request_param(r, "name"), skill, r->body);
}

/* ---- permissions and tool configs ---- */

static void get_permissions(hl_request_t *r)
{
    hl_reply_to_t *to = defer(r);
    if (to != NULL)
        hl_hermes_permissions_get(hermes, to, hl_request_param(r, "name"));
}

static void patch_permissions(hl_request_t *r)
{
    hl_reply_to_t *to = defer(r);
    if (to != NULL)
        hl_hermes_permissions_patch(hermes, to, hl_request_param(r, "name"), r->body);
}

/* GET …/tool-configs/:toolKey answers the tool config object itself, without "ok" (spec/API.md §10); errors as usual. */
static void tool_config_got(hl_request_t *r, hl_result_t *result, void *data)
{
    (void)data;
    if (r == NULL)
        hl_result_free(result);
    else if (hl_result_is_ok(result) && result->body != NULL) {
        json_t *body = result->body;
        result->body = NULL;
        hl_result_free(result);
        hl_reply_json(r, 200, body);
    } else
        hl_reply_result(r, result);
}

static void get_tool_config(hl_request_t *r)
{
    hl_reply_to_t *to = hl_request_defer_then(r, hl_hermes_actor(hermes), tool_config_got, NULL);
    if (to != NULL)
        hl_hermes_tool_config_get(hermes, to, hl_request_param(r, "name"), hl_request_param(r, "toolKey"));
}

static void patch_tool_config(hl_request_t *r)
{
    hl_reply_to_t *to = defer(r);
    if (to != NULL)
        hl_hermes_tool_config_patch(hermes, to, hl_request_param(r, "name"), hl_request_param(r, "toolKey"), r->body);
}

static const hl_route_t ROUTES[] = {
    {HL_METHOD_GET, "/api/v1/profiles", list_profiles, HL_ROUTE_AUTH | HL_ROUTE_NO_STORE, 0},
    {HL_METHOD_POST, "/api/v1/profiles", create_profile, HL_ROUTE_AUTH | HL_ROUTE_JSON_BODY | HL_ROUTE_NO_STORE, 0},
    {HL_METHOD_GET, "/api/v1/profile-creation/status", creation_status, HL_ROUTE_AUTH | HL_ROUTE_NO_STORE, 0},
    {HL_METHOD_GET, "/api/v1/profile-creation/events", creation_events, HL_ROUTE_AUTH, 0},
    {HL_METHOD_GET, "/api/v1/profiles/:name/status", get_status, HL_ROUTE_AUTH | HL_ROUTE_NO_STORE, 0},
    {HL_METHOD_GET, "/api/v1/profiles/catalog", get_catalog, HL_ROUTE_AUTH | HL_ROUTE_NO_STORE, 0},
    {HL_METHOD_GET, "/api/v1/profiles/:name/statistics", get_statistics, HL_ROUTE_AUTH | HL_ROUTE_NO_STORE, 0},
    {HL_METHOD_PATCH, "/api/v1/profiles/:name", patch_profile, HL_ROUTE_AUTH | HL_ROUTE_JSON_BODY | HL_ROUTE_NO_STORE, 0},
    {HL_METHOD_DELETE, "/api/v1/profiles/:name", delete_profile, HL_ROUTE_AUTH | HL_ROUTE_NO_STORE, 0},
    {HL_METHOD_GET, "/api/v1/profiles/:name/memory", get_memory, HL_ROUTE_AUTH | HL_ROUTE_NO_STORE, 0},
    {HL_METHOD_DELETE, "/api/v1/profiles/:name/memory", clear_memory, HL_ROUTE_AUTH | HL_ROUTE_JSON_BODY | HL_ROUTE_NO_STORE, 0},
    {HL_METHOD_POST, "/api/v1/profiles/:name/memory/entries", add_memory, HL_ROUTE_AUTH | HL_ROUTE_JSON_BODY | HL_ROUTE_NO_STORE,
     0},
    {HL_METHOD_PATCH, "/api/v1/profiles/:name/memory/entries", replace_memory,
     HL_ROUTE_AUTH | HL_ROUTE_JSON_BODY | HL_ROUTE_NO_STORE, 0},
    {HL_METHOD_DELETE, "/api/v1/profiles/:name/memory/entries", remove_memory,
     HL_ROUTE_AUTH | HL_ROUTE_JSON_BODY | HL_ROUTE_NO_STORE, 0},
    {HL_METHOD_PATCH, "/api/v1/profiles/:name/memory/settings", memory_settings,
     HL_ROUTE_AUTH | HL_ROUTE_JSON_BODY | HL_ROUTE_NO_STORE, 0},
    {HL_METHOD_PATCH, "/api/v1/profiles/:name/memory/provider", memory_provider,
     HL_ROUTE_AUTH | HL_ROUTE_JSON_BODY | HL_ROUTE_NO_STORE, 0},
    {HL_METHOD_PATCH, "/api/v1/profiles/:name/memory/providers/:provider/settings", memory_provider_settings,
     HL_ROUTE_AUTH | HL_ROUTE_JSON_BODY | HL_ROUTE_NO_STORE, 0},
    {HL_METHOD_GET, "/api/v1/profiles/:name/skills", list_skills, HL_ROUTE_AUTH | HL_ROUTE_NO_STORE, 0},
    {HL_METHOD_PATCH, "/api/v1/profiles/:name/skills/:skillName", set_skill, HL_ROUTE_AUTH | HL_ROUTE_JSON_BODY | HL_ROUTE_NO_STORE,
     0},
    {HL_METHOD_GET, "/api/v1/profiles/:name/permissions", get_permissions, HL_ROUTE_AUTH | HL_ROUTE_NO_STORE, 0},
    {HL_METHOD_PATCH, "/api/v1/profiles/:name/permissions", patch_permissions,
     HL_ROUTE_AUTH | HL_ROUTE_JSON_BODY | HL_ROUTE_NO_STORE, 0},
    {HL_METHOD_GET, "/api/v1/profiles/:name/tool-configs/:toolKey", get_tool_config, HL_ROUTE_AUTH | HL_ROUTE_NO_STORE, 0},
    {HL_METHOD_PATCH, "/api/v1/profiles/:name/tool-configs/:toolKey", patch_tool_config,
     HL_ROUTE_AUTH | HL_ROUTE_JSON_BODY | HL_ROUTE_NO_STORE, 0},
};

void hl_routes_profiles(hl_router_t *router, hl_hermes_t *h)
{
    hermes = h;
    hl_routes_add_all(router, ROUTES, HL_ARRAY_SIZE(ROUTES));
}
