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
    char *error_code, *message; /* the resolution failed */
    void (*send)(struct st_direct_t *d);
} direct_t;

static void direct_free(void *arg)
{
    direct_t *d = arg;
    if (d->to != NULL)
        hl_reply(d->to, hl_result_error(HL_RESULT_UNAVAILABLE, "shutting_down", "HermesLink is stopping"));
    rp_target_dispose(&d->target);
    free(d->profile);
    free(d->error_code);
    free(d->message);
    free(d);
}

static void reply(direct_t *d, hl_result_t *res)
{
    hl_reply(d->to, res);
    d->to = NULL;
    direct_free(d);
}

/* The usual mapping of a failed upstream answer: unreachable → 503, otherwise 502 with the upstream's message. */
static hl_result_t *upstream_error(const up_answer_t *a)
{
    if (a->connect_failed || a->status == 0)
        return hl_result_error(HL_RESULT_UNAVAILABLE, "hermes_api_server_unavailable", "Hermes API Server is unavailable");
    char *m = rp_upstream_message(a);
    char *msg = hl_asprintf("Hermes API Server returned HTTP %ld: %s", a->status, m);
    hl_result_t *res = hl_result_error(HL_RESULT_UPSTREAM, "hermes_response_invalid", msg);
    free(msg);
    free(m);
    return res;
}

static void task_resolved(hl_runproxy_t *rp, void *arg)
{
    (void)rp;
    direct_t *d = arg;
    if (d->error_code != NULL) {
        hl_result_kind_t kind = strcmp(d->error_code, "profile_not_found") == 0 ? HL_RESULT_NOT_FOUND : HL_RESULT_INVALID;
        reply(d, hl_result_error(kind, d->error_code, d->message != NULL ? d->message : "Unknown profile"));
        return;
    }
    d->send(d);
}

static void on_resolved(void *data, const hl_upstream_t *up, const char *error_code, const char *message)
{
    direct_t *d = data;
    if (up != NULL)
        rp_target_copy(&d->target, up);
    d->error_code = hl_strdup(error_code);
    d->message = hl_strdup(message);
    rp_post(d->rp, task_resolved, d, direct_free);
}

static void start_direct(hl_runproxy_t *rp, hl_reply_to_t *to, const char *profile, void (*send)(direct_t *d))
{
    direct_t *d = hl_calloc(1, sizeof(*d));
    d->rp = rp;
    d->to = to;
    d->profile = hl_strdup(profile);
    d->send = send;
    hl_hermes_resolve_upstream(rp->hermes, profile, on_resolved, d);
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
        reply(d, upstream_error(a));
    }
}

static void send_models(direct_t *d)
{
    up_json(d->rp->up, &d->target, "GET", "/v1/models", NULL, NULL, on_models, d);
}

void hl_runproxy_models(hl_runproxy_t *rp, hl_reply_to_t *to, const char *profile)
{
    start_direct(rp, to, profile, send_models);
}
