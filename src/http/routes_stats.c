/*
 * spec/API.md §8: the statistics routes, answered by the stats actor. The worker reads the query (the usage range is a
 * pure computation done here, on the UTC day of the request) and the profile count from the Hermes files actor's
 * published list (no hop). A `profile` or `model` longer than HL_STATS_MAX_FILTER bytes is 400 invalid_statistics_filter;
 * an empty one is no filter; `profile_uid` is accepted and ignored (conversations carry profile names, not uids).
 */
#include <stdio.h>
#include <string.h>

#include "hl/clock.h"
#include "hl/hermes_manage.h"
#include "hl/http.h"
#include "hl/routes.h"
#include "hl/stats.h"

static hl_stats_t *stats;
static hl_hermes_t *hermes;

/* The filter `name` (NULL when absent or empty); false (and answered 400) when it is too long. */
static bool filter(hl_request_t *r, const char *name, const char **out)
{
    size_t len = 0;
    const char *v = hl_request_query(r, name, &len);
    if (v != NULL && len > HL_STATS_MAX_FILTER) {
        char msg[96];
        snprintf(msg, sizeof(msg), "%s must be at most %d bytes", name, HL_STATS_MAX_FILTER);
        hl_reply_error(r, 400, "invalid_statistics_filter", msg);
        return false;
    }
    *out = v != NULL && len > 0 && strlen(v) == len ? v : NULL; /* an embedded NUL matches nothing anyway: no filter */
    return true;
}

static void get_statistics(hl_request_t *r)
{
    const char *profile;
    if (!filter(r, "profile", &profile))
        return;
    /* every Hermes profile ("default" included), or whether the one asked for exists */
    int profiles = profile == NULL                   ? hl_hermes_profile_count(hermes) + 1
                   : strcmp(profile, "default") == 0 ? 1
                                                     : hl_hermes_profile_listed(hermes, profile) == 1;
    hl_reply_to_t *to = hl_request_defer(r, hl_stats_actor(stats));
    if (to != NULL)
        hl_stats_summary(stats, to, profile, profiles);
}

static void get_usage(hl_request_t *r)
{
    hl_stats_usage_req_t req = {0};
    if (!filter(r, "model", &req.model) || !filter(r, "profile", &req.profile))
        return;
    int64_t now = hl_now_ms();
    int64_t today = now >= 0 ? now / 86400000 : -((-now + 86399999) / 86400000);
    hl_stats_range(hl_request_query(r, "days", NULL), hl_request_query(r, "from", NULL), hl_request_query(r, "to", NULL), today,
                   &req.range);
    hl_reply_to_t *to = hl_request_defer(r, hl_stats_actor(stats));
    if (to != NULL)
        hl_stats_usage(stats, to, &req);
}

static const hl_route_t ROUTES[] = {
    {HL_METHOD_GET, "/api/v1/statistics", get_statistics, HL_ROUTE_AUTH | HL_ROUTE_NO_STORE, 0},
    {HL_METHOD_GET, "/api/v1/statistics/usage", get_usage, HL_ROUTE_AUTH | HL_ROUTE_NO_STORE, 0},
};

void hl_routes_stats(hl_router_t *router, hl_stats_t *s, hl_hermes_t *h)
{
    stats = s;
    hermes = h;
    hl_routes_add_all(router, ROUTES, HL_ARRAY_SIZE(ROUTES));
}
