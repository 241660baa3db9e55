/*
 * spec/API.md §6: device list, rename, revoke, hide from the app listing.
 */
#include <string.h>

#include "hl/auth.h"
#include "hl/http.h"
#include "hl/routes.h"
#include "hl/token_table.h"
#include "hl/tokens.h"

/* the auth actor these routes call, given at registration */
static hl_auth_t *auth;

static void get_devices(hl_request_t *r)
{
    const char *app_id, *model;
    /* posted before the list job to the same actor, so the list already shows the change */
    if (hl_routes_client_changes(r, &app_id, &model))
        hl_auth_record_seen(auth, r->device->id, app_id, model);
    hl_reply_to_t *p = hl_request_defer(r, hl_auth_actor(auth));
    if (p != NULL)
        hl_auth_list_devices(auth, p, r->device->id);
}

/* label|device_label: missing or "" → 400 device_label_required; blank after trim or over 128 chars → 400 invalid. */
static char *validated_label(hl_request_t *r)
{
    json_t *v = json_object_get(r->body, "label");
    if (!json_is_string(v))
        v = json_object_get(r->body, "device_label");
    if (!json_is_string(v) || json_string_length(v) == 0) {
        hl_reply_error(r, 400, "device_label_required", "label is required");
        return NULL;
    }
    char *label = hl_normalize_descriptor(json_string_value(v), HL_LABEL_MAX + 1, false, NULL);
    size_t chars = 0;
    for (const char *p = label; p != NULL && *p; ++p)
        chars += ((unsigned char)*p & 0xc0) != 0x80;
    if (label == NULL || chars > HL_LABEL_MAX) {
        free(label);
        hl_reply_error(r, 400, "device_label_invalid", "label must be 1 to 128 characters");
        return NULL;
    }
    return label;
}

static void patch_device(hl_request_t *r)
{
    char *label = validated_label(r);
    if (label == NULL)
        return;
    hl_reply_to_t *p = hl_request_defer(r, hl_auth_actor(auth));
    if (p != NULL)
        hl_auth_rename_device(auth, p, hl_request_param(r, "deviceId"), label, r->device->id);
    free(label);
}

static void delete_device(hl_request_t *r)
{
    hl_reply_to_t *p = hl_request_defer(r, hl_auth_actor(auth));
    if (p != NULL)
        hl_auth_revoke_device(auth, p, hl_request_param(r, "deviceId"), r->device->id);
}

static void delete_app_listing(hl_request_t *r)
{
    hl_reply_to_t *p = hl_request_defer(r, hl_auth_actor(auth));
    if (p != NULL)
        hl_auth_hide_device(auth, p, hl_request_param(r, "deviceId"), r->device->id);
}

static const hl_route_t ROUTES[] = {
    {HL_METHOD_GET, "/api/v1/devices", get_devices, HL_ROUTE_AUTH | HL_ROUTE_NO_STORE, 0},
    {HL_METHOD_PATCH, "/api/v1/devices/:deviceId", patch_device, HL_ROUTE_AUTH | HL_ROUTE_JSON_BODY, 0},
    {HL_METHOD_DELETE, "/api/v1/devices/:deviceId", delete_device, HL_ROUTE_AUTH, 0},
    {HL_METHOD_DELETE, "/api/v1/devices/:deviceId/app-listing", delete_app_listing, HL_ROUTE_AUTH, 0},
};

void hl_routes_devices(hl_router_t *router, hl_auth_t *auth_actor)
{
    auth = auth_actor;
    hl_routes_add_all(router, ROUTES, HL_ARRAY_SIZE(ROUTES));
}
