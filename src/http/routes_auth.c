/*
 * spec/API.md §3: /auth/me, /auth/device-session, /auth/refresh, /auth/logout.
 */
#include <stdio.h>
#include <string.h>

#include "hl/auth.h"
#include "hl/pairing.h"
#include "hl/http.h"
#include "hl/routes.h"
#include "hl/token_table.h"

/* what these routes use, given at registration */
static hl_auth_t *auth;
static hl_pairing_t *pairing;
static const hl_link_t *svc;

static int link_paired(hl_request_t *r)
{
    if (svc->identity->link_id != NULL)
        return 1;
    hl_reply_error(r, 409, "link_not_paired", "Hermes Link is not paired");
    return 0;
}

/* The optional client headers of /auth/me and GET /devices (spec/API.md §1.7): an app-instance binding for a device that
 * has none, and a device model. Returns 1 when they change the device (*app_id / *model set, pool memory), else 0. */
int hl_routes_client_changes(hl_request_t *r, const char **app_id, const char **model)
{
    const hl_auth_device_t *dev = r->device;
    size_t alen = 0, mlen = 0;
    const char *app = hl_request_header(r, "x-hermes-app-instance-id", &alen);
    const char *m = hl_request_header(r, "x-hermes-device-model", &mlen);
    *app_id = app != NULL && !dev->app_instance_bound && hl_app_instance_valid(app, alen)
                  ? h2o_strdup(&r->req->pool, app, alen).base
                  : NULL;
    *model = NULL;
    if (m != NULL) {
        char *norm = hl_normalize_descriptor(h2o_strdup(&r->req->pool, m, mlen).base, HL_MODEL_MAX, false, NULL);
        if (norm != NULL && (dev->model == NULL || strcmp(dev->model, norm) != 0))
            *model = h2o_strdup(&r->req->pool, norm, SIZE_MAX).base;
        free(norm);
    }
    return *app_id != NULL || *model != NULL;
}

static void get_me(hl_request_t *r)
{
    if (!link_paired(r))
        return;
    const hl_auth_device_t *d = r->device;
    const char *app_id, *model;
    if (hl_routes_client_changes(r, &app_id, &model)) {
        /* rare: the device changes, so the auth actor answers once the change is visible to every later request */
        hl_reply_to_t *p = hl_request_defer(r, hl_auth_actor(auth));
        if (p != NULL)
            hl_auth_me_update(auth, p, d->id, app_id, model);
        return;
    }
    /* the common case, on every app start: the device object was serialised when its token was published */
    {
        static const char head[] = "{\"ok\":true,\"auth\":{\"kind\":\"device\",\"account_id\":null},\"link\":{\"link_id\":\"";
        static const char mid[] = "\",\"display_name\":\"" HL_DISPLAY_NAME "\"},\"device\":";
        size_t lid = strlen(svc->identity->link_id), dj = strlen(d->json);
        size_t len = sizeof(head) - 1 + lid + sizeof(mid) - 1 + dj + 1;
        char *body = h2o_mem_alloc_pool(&r->req->pool, len), *p = body;
        memcpy(p, head, sizeof(head) - 1);
        p += sizeof(head) - 1;
        memcpy(p, svc->identity->link_id, lid);
        p += lid;
        memcpy(p, mid, sizeof(mid) - 1);
        p += sizeof(mid) - 1;
        memcpy(p, d->json, dj);
        p += dj;
        *p = '}';
        hl_reply_pool_bytes(r, 200, "application/json; charset=utf-8", body, len);
    }
}

static void post_device_session(hl_request_t *r)
{
    if (!link_paired(r))
        return;
    hl_device_descriptor_t desc;
    hl_device_descriptor_from_json(&desc, r->body);
    free(desc.app_instance_id); /* this route never binds an app instance (spec/FLOWS.md §1.2) */
    desc.app_instance_id = NULL;
    hl_reply_to_t *p = hl_request_defer(r, hl_pairing_actor(pairing));
    if (p == NULL) {
        hl_device_descriptor_dispose(&desc);
        return;
    }
    hl_pairing_enroll(pairing, p, r->bearer, r->bearer_len, &desc);
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
    hl_reply_to_t *p = hl_request_defer(r, hl_auth_actor(auth));
    if (p == NULL) {
        free(token);
        hl_device_descriptor_dispose(&desc);
        return;
    }
    hl_auth_refresh(auth, p, token, &desc);
}

static void post_logout(hl_request_t *r)
{
    char *token = refresh_token_of(r->body);
    hl_reply_to_t *p = hl_request_defer(r, hl_auth_actor(auth));
    if (p == NULL) {
        free(token);
        return;
    }
    hl_auth_logout(auth, p, token);
}

static const hl_route_t ROUTES[] = {
    {HL_METHOD_GET, "/api/v1/auth/me", get_me, HL_ROUTE_AUTH, 0},
    {HL_METHOD_POST, "/api/v1/auth/device-session", post_device_session, HL_ROUTE_CONNECT_TOKEN | HL_ROUTE_JSON_BODY, 0},
    {HL_METHOD_POST, "/api/v1/auth/refresh", post_refresh, HL_ROUTE_JSON_BODY, 0},
    {HL_METHOD_POST, "/api/v1/auth/logout", post_logout, HL_ROUTE_JSON_BODY, 0},
};

void hl_routes_auth(hl_router_t *router, hl_auth_t *auth_actor, hl_pairing_t *pairing_actor, const hl_link_t *l)
{
    auth = auth_actor;
    pairing = pairing_actor;
    svc = l;
    hl_routes_add_all(router, ROUTES, HL_ARRAY_SIZE(ROUTES));
}
