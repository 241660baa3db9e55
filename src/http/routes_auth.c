/*
 * spec/API.md §3: /auth/me, /auth/device-session, /auth/refresh, /auth/logout.
 */
#include <stdio.h>
#include <string.h>

#include "hl/app.h"
#include "hl/auth.h"
#include "hl/pairing.h"
#include "hl/routes.h"
#include "hl/token_table.h"

static json_t *nullable(const char *s)
{
    return s != NULL ? json_string(s) : json_null();
}

static int link_paired(hl_request_t *r)
{
    if (hl_app.identity.link_id != NULL)
        return 1;
    hl_reply_error(r, 409, "link_not_paired", "Hermes Link is not paired");
    return 0;
}

/* The optional client headers of /auth/me and GET /devices (spec/API.md §1.7): app-instance binding and device model.
 * Returns the model the device has from now on. */
const char *hl_routes_note_client_headers(hl_request_t *r)
{
    const hl_auth_device_t *dev = r->device;
    size_t alen = 0, mlen = 0;
    const char *app = hl_request_header(r, "x-hermes-app-instance-id", &alen);
    const char *model = hl_request_header(r, "x-hermes-device-model", &mlen);
    char *app_id = app != NULL && !dev->app_instance_bound && hl_app_instance_valid(app, alen)
                       ? h2o_strdup(&r->req->pool, app, alen).base
                       : NULL;
    char *norm = NULL;
    if (model != NULL) {
        char *raw = h2o_strdup(&r->req->pool, model, mlen).base;
        norm = hl_normalize_descriptor(raw, HL_MODEL_MAX, false, NULL);
    }
    int model_changed = norm != NULL && (dev->model == NULL || strcmp(dev->model, norm) != 0);
    const char *effective = dev->model;
    if (model_changed)
        effective = h2o_strdup(&r->req->pool, norm, SIZE_MAX).base;
    if (app_id != NULL || model_changed)
        hl_auth_record_seen(dev->id, app_id, model_changed ? norm : NULL);
    free(norm);
    return effective;
}

static void get_me(hl_request_t *r)
{
    if (!link_paired(r))
        return;
    const char *model = hl_routes_note_client_headers(r);
    const hl_auth_device_t *d = r->device;
    if (model == d->model) {
        /* the common case, on every app start: the device object was serialised when its token was published */
        static const char head[] = "{\"ok\":true,\"auth\":{\"kind\":\"device\",\"account_id\":null},\"link\":{\"link_id\":\"";
        char *body = h2o_mem_alloc_pool(&r->req->pool, 256 + strlen(d->json));
        int n = snprintf(body, 256 + strlen(d->json), "%s%s\",\"display_name\":\"%s\"},\"device\":%s}", head,
                         hl_app.identity.link_id, HL_DISPLAY_NAME, d->json);
        hl_reply_bytes(r, 200, "application/json; charset=utf-8", body, (size_t)n);
        return;
    }
    json_t *device = json_pack("{s:s, s:s, s:s, s:s, s:o, s:s}", "id", d->id, "device_id", d->id, "label", d->label, "platform",
                               d->platform, "model", nullable(model), "scope", "admin");
    hl_reply_json(r, 200,
                  json_pack("{s:b, s:{s:s, s:n}, s:{s:s, s:s}, s:o}", "ok", 1, "auth", "kind", "device", "account_id", "link",
                            "link_id", hl_app.identity.link_id, "display_name", HL_DISPLAY_NAME, "device", device));
}

static void post_device_session(hl_request_t *r)
{
    if (!link_paired(r))
        return;
    hl_device_descriptor_t desc;
    hl_device_descriptor_from_json(&desc, r->body);
    free(desc.app_instance_id); /* this route never binds an app instance (spec/FLOWS.md §1.2) */
    desc.app_instance_id = NULL;
    hl_pending_t *p = hl_request_defer(r, &hl_app.pairing.actor);
    if (p == NULL) {
        hl_device_descriptor_dispose(&desc);
        return;
    }
    hl_pairing_enroll(p, r->bearer, r->bearer_len, &desc);
}

static char *refresh_token_of(json_t *body)
{
    json_t *v = json_object_get(body, "refresh_token");
    if (!json_is_string(v))
        v = json_object_get(body, "refreshToken");
    return json_is_string(v) && json_string_length(v) > 0 ? hl_strndup(json_string_value(v), json_string_length(v)) : NULL;
}

static void post_refresh(hl_request_t *r)
{
    char *token = refresh_token_of(r->body);
    if (token == NULL) {
        hl_reply_error(r, 400, "refresh_token_required", "refresh_token is required");
        return;
    }
    hl_device_descriptor_t desc;
    hl_device_descriptor_from_json(&desc, r->body);
    hl_pending_t *p = hl_request_defer(r, &hl_app.auth.actor);
    if (p == NULL) {
        free(token);
        hl_device_descriptor_dispose(&desc);
        return;
    }
    hl_auth_refresh(p, token, &desc);
}

static void post_logout(hl_request_t *r)
{
    char *token = refresh_token_of(r->body);
    hl_pending_t *p = hl_request_defer(r, &hl_app.auth.actor);
    if (p == NULL) {
        free(token);
        return;
    }
    hl_auth_logout(p, token);
}

static const hl_route_t ROUTES[] = {
    {HL_METHOD_GET, "/api/v1/auth/me", get_me, HL_ROUTE_AUTH, 0},
    {HL_METHOD_POST, "/api/v1/auth/device-session", post_device_session, HL_ROUTE_CONNECT_TOKEN | HL_ROUTE_JSON_BODY, 0},
    {HL_METHOD_POST, "/api/v1/auth/refresh", post_refresh, HL_ROUTE_JSON_BODY, 0},
    {HL_METHOD_POST, "/api/v1/auth/logout", post_logout, HL_ROUTE_JSON_BODY, 0},
};

void hl_routes_auth(hl_router_t *router)
{
    hl_routes_add_all(router, ROUTES, HL_ARRAY_SIZE(ROUTES));
}
