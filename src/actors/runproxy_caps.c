/*
 * Upstream capabilities (spec/UPSTREAM-HERMES.md §1: GET /v1/capabilities): read once per upstream, the first time a run
 * goes there, and again after the upstream was unreachable. The run proxy adapts to what it says: approval answers are
 * forwarded only to upstreams that take them (POST /v1/runs/{id}/approval came with v0.15).
 */
#include <string.h>

#include "hl/log.h"
#include "runproxy_internal.h"

static caps_t *find(hl_runproxy_t *rp, const char *base_url)
{
    for (caps_t *c = rp->caps; c != NULL; c = c->next)
        if (strcmp(c->base_url, base_url) == 0)
            return c;
    return NULL;
}

typedef struct st_caps_call_t {
    hl_runproxy_t *rp;
    char *base_url;
} caps_call_t;

static void on_caps(void *data, const up_answer_t *a)
{
    caps_call_t *cc = data;
    caps_t *c = find(cc->rp, cc->base_url);
    if (c != NULL) {
        if (a->status >= 200 && a->status < 300 && json_is_object(a->json)) {
            json_t *f = json_object_get(json_object_get(a->json, "features"), "run_approval_response");
            c->known = true;
            c->approvals = !json_is_false(f);
        } else if (a->status == 404) {
            c->known = true; /* an upstream older than /v1/capabilities: older than the approval route too */
            c->approvals = false;
        } else {
            rp_caps_forget(cc->rp, cc->base_url); /* unreachable or broken: asked again next time */
            c = NULL;
        }
        if (c != NULL && !c->approvals)
            hl_logf(HL_LOG_INFO, "runproxy: the Hermes API server takes no approval answers (before v0.15)");
    }
    free(cc->base_url);
    free(cc);
}

void rp_caps_note(hl_runproxy_t *rp, const up_target_t *target)
{
    if (target->base_url == NULL || find(rp, target->base_url) != NULL)
        return;
    caps_t *c = hl_calloc(1, sizeof(*c));
    c->base_url = hl_strdup(target->base_url);
    c->next = rp->caps;
    rp->caps = c;
    caps_call_t *cc = hl_malloc(sizeof(*cc));
    cc->rp = rp;
    cc->base_url = hl_strdup(target->base_url);
    up_json(rp->up, target, "GET", "/v1/capabilities", NULL, on_caps, cc);
}

void rp_caps_forget(hl_runproxy_t *rp, const char *base_url)
{
    for (caps_t **p = &rp->caps; *p != NULL; p = &(*p)->next) {
        if (strcmp((*p)->base_url, base_url) == 0) {
            caps_t *c = *p;
            *p = c->next;
            free(c->base_url);
            free(c);
            return;
        }
    }
}

bool rp_caps_approvals(hl_runproxy_t *rp, const char *base_url)
{
    caps_t *c = base_url != NULL ? find(rp, base_url) : NULL;
    return c == NULL || !c->known || c->approvals;
}

void rp_caps_drop_all(hl_runproxy_t *rp)
{
    while (rp->caps != NULL) {
        caps_t *c = rp->caps;
        rp->caps = c->next;
        free(c->base_url);
        free(c);
    }
}
