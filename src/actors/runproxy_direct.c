/*
 * Routes that go straight to a profile's Hermes API server (spec/API.md §9, §11, §12): the request is resolved to the
 * profile's upstream on the Hermes files actor, sent from the run proxy's curl loop, and its answer mapped to a result.
 */
#include <string.h>

#include "hl/log.h"
#include "runproxy_internal.h"

/* A direct call: where to answer, what to do once the upstream is known, and what to do with its answer. */
typedef struct st_direct_t {
    hl_runproxy_t *rp;
    hl_reply_to_t *to;
    char *profile;
    up_target_t target;
    void (*send)(struct st_direct_t *d);
    void (*dispose)(struct st_direct_t *d); /* frees what a larger struct embedding this one owns */
} direct_t;

static void direct_free(void *arg)
{
    direct_t *d = arg;
    if (d->dispose != NULL)
        d->dispose(d);
    if (d->to != NULL)
        hl_reply(d->to, hl_result_error(HL_RESULT_UNAVAILABLE, "shutting_down", "HermesLink is stopping"));
    rp_target_dispose(&d->target);
    free(d->profile);
    free(d);
}

static void reply(direct_t *d, hl_result_t *res)
{
    hl_reply(d->to, res);
    d->to = NULL;
    direct_free(d);
}

static void on_resolved(hl_runproxy_t *rp, void *arg, rp_resolved_t *res)
{
    (void)rp;
    direct_t *d = arg;
    if (res->error_code != NULL) {
        bool missing = strcmp(res->error_code, "profile_not_found") == 0;
        reply(d, hl_result_error(missing ? HL_RESULT_NOT_FOUND : HL_RESULT_INVALID, res->error_code,
                                 res->message != NULL ? res->message : "Unknown profile"));
        return;
    }
    d->target = res->target;
    res->target = (up_target_t){0};
    d->send(d);
}

/* Starts a call prepared by the caller (d allocated zeroed, possibly inside a larger struct whose own fields `dispose`
 * frees). */
static void start_prepared(hl_runproxy_t *rp, direct_t *d, hl_reply_to_t *to, const char *profile, void (*send)(direct_t *d),
                           void (*dispose)(direct_t *d))
{
    d->rp = rp;
    d->to = to;
    d->profile = hl_strdup(profile);
    d->send = send;
    d->dispose = dispose;
    rp_resolve(rp, profile, on_resolved, d, direct_free);
}

/* Starts a call that needs no more than direct_t. */
static void start_direct(hl_runproxy_t *rp, hl_reply_to_t *to, const char *profile, void (*send)(direct_t *d))
{
    start_prepared(rp, hl_calloc(1, sizeof(direct_t)), to, profile, send, NULL);
}

/* ---- GET /api/v1/models ---- */

static void on_models(void *data, const up_answer_t *a)
{
    direct_t *d = data;
    if (a->status == 404) {
        static const char EMPTY[] = "{\"models\":[]}";
        reply(d, hl_result_bytes(hl_strdup(EMPTY), sizeof(EMPTY) - 1, "application/json; charset=utf-8"));
    } else if (a->status >= 200 && a->status < 300 && json_is_object(a->json)) {
        reply(d, hl_result_bytes(hl_strndup(a->body, a->body_len), a->body_len, "application/json; charset=utf-8"));
    } else if (a->status >= 200 && a->status < 300) {
        reply(d, hl_result_error(HL_RESULT_UPSTREAM, "hermes_response_invalid",
                                 "Hermes API Server returned a models list that is not a JSON object"));
    } else {
        reply(d, rp_upstream_error(a, "hermes_response_invalid"));
    }
}

static void send_models(direct_t *d)
{
    up_json(d->rp->up, &d->target, "GET", "/v1/models", NULL, on_models, d);
}

void hl_runproxy_models(hl_runproxy_t *rp, hl_reply_to_t *to, const char *profile)
{
    start_direct(rp, to, profile, send_models);
}

/* ---- POST /api/v1/runs ---- */

typedef struct st_create_t {
    direct_t super;
    json_t *body;
} create_t;

static void on_created(void *data, const up_answer_t *a)
{
    create_t *c = data;
    direct_t *d = &c->super;
    json_decref(c->body);
    c->body = NULL;
    const char *id;
    hl_result_t *err = rp_admission(a, &id);
    if (err != NULL) {
        reply(d, err);
        return;
    }
    /* relayed from the start: the proxy is the run's one upstream subscriber */
    relay_t *rl = rp_relay_get(d->rp, id);
    if (rl->call == NULL && !rl->ended && rl->next_seq == 1) {
        rl->target = d->target;
        d->target = (up_target_t){0};
        rl->profile = hl_strdup(d->profile);
        rl->record_usage = true;
        rp_relay_subscribe(d->rp, rl);
    }
    /* [no ok]: the original's body for this route is exactly {run_id, fallback} */
    json_t *body = json_pack("{s:s, s:b}", "run_id", id, "fallback", 0);
    char *text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(body);
    hl_result_t *res = hl_result_bytes(text, strlen(text), "application/json; charset=utf-8");
    res->kind = HL_RESULT_ACCEPTED;
    reply(d, res);
}

static void send_create(direct_t *d)
{
    create_t *c = (create_t *)d;
    json_t *body = c->body;
    c->body = NULL;
    up_json(d->rp->up, &d->target, "POST", "/v1/runs", body, on_created, d);
}

static void create_dispose(direct_t *d)
{
    json_decref(((create_t *)d)->body);
    ((create_t *)d)->body = NULL;
}

void hl_runproxy_create_run(hl_runproxy_t *rp, hl_reply_to_t *to, const hl_direct_run_req_t *req)
{
    create_t *c = hl_calloc(1, sizeof(*c));
    c->body = json_deep_copy(req->body);
    start_prepared(rp, &c->super, to, req->profile, send_create, create_dispose);
}

/* ---- GET /api/v1/runs/:id/events (opening) ---- */

typedef struct st_open_t {
    direct_t super;
    char *run_id;
} open_t;

static void send_open(direct_t *d)
{
    open_t *o = (open_t *)d;
    hl_runproxy_t *rp = d->rp;
    relay_t *rl = rp_relay_find(rp, o->run_id);
    if (rl != NULL) { /* relayed already (a run started here, or another subscriber's) */
        reply(d, hl_result_ok(HL_RESULT_OK, json_pack("{s:s}", "run_id", o->run_id)));
        return;
    }
    rl = rp_relay_get(rp, o->run_id);
    rl->target = d->target;
    d->target = (up_target_t){0};
    rl->profile = hl_strdup(d->profile);
    rl->opening = d->to;
    d->to = NULL;
    rp_relay_subscribe(rp, rl);
    direct_free(d);
}

static void open_dispose(direct_t *d)
{
    free(((open_t *)d)->run_id);
    ((open_t *)d)->run_id = NULL;
}

void hl_runproxy_open_run(hl_runproxy_t *rp, hl_reply_to_t *to, const char *run_id, const char *profile)
{
    open_t *o = hl_calloc(1, sizeof(*o));
    o->run_id = hl_strdup(run_id);
    start_prepared(rp, &o->super, to, profile, send_open, open_dispose);
}

/* ---- POST /api/v1/runs/:id/cancel ---- */

static void on_stopped(void *data, const up_answer_t *a)
{
    direct_t *d = data;
    if (a->status >= 200 && a->status < 300)
        reply(d, hl_result_ok(HL_RESULT_OK, json_object()));
    else if (a->status == 404)
        reply(d, hl_result_error(HL_RESULT_NOT_FOUND, "run_not_found", "Hermes has no running run with this id"));
    else if (a->status == 405 || a->status == 501) /* spec/API.md: this Hermes cannot stop runs */
        reply(d, rp_upstream_error(a, "hermes_cancel_unsupported"));
    else
        reply(d, rp_upstream_error(a, "hermes_cancel_failed"));
}

static void send_stop(direct_t *d)
{
    open_t *o = (open_t *)d;
    char *esc = up_escape(o->run_id);
    char *path = hl_asprintf("/v1/runs/%s/stop", esc);
    up_json(d->rp->up, &d->target, "POST", path, NULL, on_stopped, d);
    free(path);
    free(esc);
}

void hl_runproxy_stop_run(hl_runproxy_t *rp, hl_reply_to_t *to, const char *run_id, const char *profile)
{
    open_t *o = hl_calloc(1, sizeof(*o));
    o->run_id = hl_strdup(run_id);
    start_prepared(rp, &o->super, to, profile, send_stop, open_dispose);
}
