/*
 * spec/API.md §11: cron jobs, proxied to each profile's Hermes API server through the run proxy actor (runproxy_cron.c,
 * where the status codes are). POST/PATCH bodies must be JSON objects: invalid JSON → 400 invalid_json, another JSON
 * value → 400 invalid_cron_job, before anything is forwarded.
 */
#include <string.h>
#include <strings.h>

#include "hl/http.h"
#include "hl/routes.h"
#include "hl/runproxy.h"

/* the run proxy these routes call, given at registration */
static hl_runproxy_t *runproxy;

/* include_disabled|includeDisabled (the first present wins): "true" in any case, or "1". */
static bool include_disabled(hl_request_t *r)
{
    const char *v = hl_request_query(r, "include_disabled", NULL);
    if (v == NULL)
        v = hl_request_query(r, "includeDisabled", NULL);
    return v != NULL && (strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0);
}

static bool object_body(hl_request_t *r)
{
    if (json_is_object(r->body))
        return true;
    hl_reply_error(r, 400, "invalid_cron_job", "The body must be a JSON object");
    return false;
}

static hl_reply_to_t *defer(hl_request_t *r)
{
    return hl_request_defer(r, hl_runproxy_actor(runproxy));
}

static void list_all(hl_request_t *r)
{
    bool all = include_disabled(r);
    hl_reply_to_t *p = defer(r);
    if (p != NULL)
        hl_runproxy_cron_list_all(runproxy, p, all);
}

static void list_jobs(hl_request_t *r)
{
    bool all = include_disabled(r);
    hl_reply_to_t *p = defer(r);
    if (p != NULL)
        hl_runproxy_cron_list(runproxy, p, hl_request_param(r, "name"), all);
}

static void create_job(hl_request_t *r)
{
    if (!object_body(r))
        return;
    hl_reply_to_t *p = defer(r);
    if (p != NULL)
        hl_runproxy_cron_create(runproxy, p, hl_request_param(r, "name"), r->body);
}

static void get_job(hl_request_t *r)
{
    hl_reply_to_t *p = defer(r);
    if (p != NULL)
        hl_runproxy_cron_get(runproxy, p, hl_request_param(r, "name"), hl_request_param(r, "jobId"));
}

static void update_job(hl_request_t *r)
{
    if (!object_body(r))
        return;
    hl_reply_to_t *p = defer(r);
    if (p != NULL)
        hl_runproxy_cron_update(runproxy, p, hl_request_param(r, "name"), hl_request_param(r, "jobId"), r->body);
}

static void delete_job(hl_request_t *r)
{
    hl_reply_to_t *p = defer(r);
    if (p != NULL)
        hl_runproxy_cron_delete(runproxy, p, hl_request_param(r, "name"), hl_request_param(r, "jobId"));
}

static void action(hl_request_t *r, hl_cron_action_t a)
{
    hl_reply_to_t *p = defer(r);
    if (p != NULL)
        hl_runproxy_cron_action(runproxy, p, hl_request_param(r, "name"), hl_request_param(r, "jobId"), a);
}

static void pause_job(hl_request_t *r)
{
    action(r, HL_CRON_PAUSE);
}

static void resume_job(hl_request_t *r)
{
    action(r, HL_CRON_RESUME);
}

static void run_job(hl_request_t *r)
{
    action(r, HL_CRON_RUN);
}

#define JOB "/api/v1/profiles/:name/cron-jobs/:jobId"

static const hl_route_t ROUTES[] = {
    {HL_METHOD_GET, "/api/v1/cron-jobs", list_all, HL_ROUTE_AUTH | HL_ROUTE_NO_STORE, 0},
    {HL_METHOD_GET, "/api/v1/profiles/:name/cron-jobs", list_jobs, HL_ROUTE_AUTH | HL_ROUTE_NO_STORE, 0},
    {HL_METHOD_POST, "/api/v1/profiles/:name/cron-jobs", create_job, HL_ROUTE_AUTH | HL_ROUTE_JSON_BODY, 0},
    {HL_METHOD_GET, JOB, get_job, HL_ROUTE_AUTH | HL_ROUTE_NO_STORE, 0},
    {HL_METHOD_PATCH, JOB, update_job, HL_ROUTE_AUTH | HL_ROUTE_JSON_BODY, 0},
    {HL_METHOD_DELETE, JOB, delete_job, HL_ROUTE_AUTH, 0},
    {HL_METHOD_POST, JOB "/pause", pause_job, HL_ROUTE_AUTH, 0},
    {HL_METHOD_POST, JOB "/resume", resume_job, HL_ROUTE_AUTH, 0},
    {HL_METHOD_POST, JOB "/run", run_job, HL_ROUTE_AUTH, 0},
};

void hl_routes_cron(hl_router_t *router, hl_runproxy_t *rp)
{
    runproxy = rp;
    hl_routes_add_all(router, ROUTES, HL_ARRAY_SIZE(ROUTES));
}
