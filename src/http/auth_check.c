/*
 * Bearer checks on the worker (spec/API.md §1.7): one SHA-256 and one RCU hash-table lookup, no actor round trip.
 */
#include <string.h>

#include "hl/auth.h"
#include "hl/http.h"
#include "hl/clock.h"
#include "hl/token_table.h"

/* the auth actor that records when a device was last seen, given when the routes are built */
static hl_auth_t *auth;

void hl_auth_check_init(hl_auth_t *a)
{
    auth = a;
}

static const char *pool_strdup(h2o_mem_pool_t *pool, const char *s)
{
    return s != NULL ? h2o_strdup(pool, s, SIZE_MAX).base : NULL;
}

static void copy_device(const hl_auth_device_t *dev, void *data)
{
    hl_request_t *r = data;
    hl_auth_device_t *d = h2o_mem_alloc_pool(&r->req->pool, sizeof(*d));
    d->id = pool_strdup(&r->req->pool, dev->id);
    d->label = pool_strdup(&r->req->pool, dev->label);
    d->platform = pool_strdup(&r->req->pool, dev->platform);
    d->model = pool_strdup(&r->req->pool, dev->model);
    d->json = pool_strdup(&r->req->pool, dev->json);
    d->app_instance_bound = dev->app_instance_bound;
    d->access_expires_at = dev->access_expires_at;
    r->device = d;
}

/* 0 with the token, or -1 after answering 401 auth_required. */
static int bearer(hl_request_t *r, const char **token, size_t *len)
{
    size_t hlen;
    const char *h = hl_request_header(r, "authorization", &hlen);
    if (h == NULL || !hl_bearer_from_header(h, hlen, token, len)) {
        hl_reply_error(r, 401, "auth_required", "Authorization bearer token is required");
        return -1;
    }
    return 0;
}

static bool lookup(hl_request_t *r, const char *token, size_t len)
{
    hl_token_hash_t h;
    hl_token_hash(token, len, &h);
    bool post_seen = false;
    if (!hl_token_table_lookup(&h, hl_now_ms(), HL_LAST_SEEN_INTERVAL_MS, &post_seen, copy_device, r))
        return false;
    hl_token_hash_t *kept = h2o_mem_alloc_pool(&r->req->pool, sizeof(*kept));
    *kept = h;
    r->token_hash = kept;
    if (post_seen)
        hl_auth_record_seen(auth, r->device->id, NULL, NULL);
    return true;
}

static int is_access_token(const char *token, size_t len)
{
    return len >= 5 && memcmp(token, HL_ACCESS_PREFIX, 5) == 0;
}

int hl_auth_check(hl_request_t *r)
{
    const char *token;
    size_t len;
    if (bearer(r, &token, &len) != 0)
        return -1;
    if (lookup(r, token, len))
        return 0;
    if (is_access_token(token, len))
        hl_reply_error(r, 401, "device_access_token_invalid", "Device access token is invalid or expired");
    else
        hl_reply_error(r, 401, "auth_invalid", "Token is invalid or expired");
    return -1;
}

int hl_auth_check_connect(hl_request_t *r)
{
    const char *token;
    size_t len;
    if (bearer(r, &token, &len) != 0)
        return -1;
    if (lookup(r, token, len)) {
        hl_reply_error(r, 403, "app_connect_required", "A connect token is required to enrol a device");
        return -1;
    }
    if (is_access_token(token, len)) {
        hl_reply_error(r, 401, "device_access_token_invalid", "Device access token is invalid or expired");
        return -1;
    }
    r->bearer = token;
    r->bearer_len = len;
    return 0;
}
