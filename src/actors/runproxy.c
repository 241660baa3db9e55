/*
 * The runproxy actor. It observes the store's commits (runs to start, runs to stop, approval decisions) and reports run
 * events back through the store's typed API. The upstream integration (Hermes's API server over a curl multi loop) is a
 * later change; until it lands, a run handed over here fails at once with hermes_api_server_unavailable, so that no run
 * stays running and the conversation's queue moves on.
 *
 * Test mode only (POST /__test/runproxy/hold, /__test/runproxy/release): while the hold is on, runs handed over stay
 * running (kept here) instead of failing, so that tests can observe and cancel a running run deterministically.
 */
#include "hl/runproxy.h"

#include <string.h>

#include "hl/log.h"

struct st_hl_runproxy_t {
    hl_actor_t actor;
    hl_store_t *store;
    /* the test hold; actor thread only */
    bool hold;
    json_t *held; /* [{run_id, …}, …] in hand-over order */
};

typedef struct st_run_task_t {
    hl_task_t super;
    hl_runproxy_t *rp;
    json_t *run; /* a start: {run_id, conversation_id, …}; a cancel: the run id */
} run_task_t;

typedef struct st_hold_task_t {
    hl_task_t super;
    hl_runproxy_t *rp;
    int hold; /* 1 on, 0 off (and release), -1 release only */
    hl_reply_to_t *to;
} hold_task_t;

static void fail_run(hl_runproxy_t *rp, json_t *run)
{
    hl_run_event_t ev = {.kind = HL_RUN_EVENT_FAILED,
                         .run_id = json_string_value(json_object_get(run, "run_id")),
                         .error_code = "hermes_api_server_unavailable",
                         .error_message = "Hermes API server is not reachable"};
    hl_store_run_event(rp->store, NULL, &ev);
}

static void run_start(hl_task_t *base)
{
    run_task_t *t = (run_task_t *)base;
    if (t->rp->hold)
        json_array_append(t->rp->held, t->run);
    else
        fail_run(t->rp, t->run);
    json_decref(t->run);
    free(t);
}

/* The store has already marked the run cancelled: a held run is just dropped (no upstream run exists yet to stop). */
static void run_cancel(hl_task_t *base)
{
    run_task_t *t = (run_task_t *)base;
    const char *run_id = json_string_value(t->run);
    for (size_t i = 0; i < json_array_size(t->rp->held); ++i) {
        if (strcmp(json_string_value(json_object_get(json_array_get(t->rp->held, i), "run_id")), run_id) == 0) {
            json_array_remove(t->rp->held, i);
            break;
        }
    }
    json_decref(t->run);
    free(t);
}

static void run_hold(hl_task_t *base)
{
    hold_task_t *t = (hold_task_t *)base;
    hl_runproxy_t *rp = t->rp;
    size_t released = 0;
    if (t->hold >= 0)
        rp->hold = t->hold;
    if (t->hold <= 0) {
        /* detached first: failing a run may start the next queued one, handed back here (and held again if on) */
        json_t *runs = rp->held;
        rp->held = json_array();
        size_t i;
        json_t *run;
        json_array_foreach(runs, i, run) fail_run(rp, run);
        released = json_array_size(runs);
        json_decref(runs);
    }
    hl_logf(HL_LOG_INFO, "runproxy: test hold %s, %zu held, %zu released", rp->hold ? "on" : "off", json_array_size(rp->held),
            released);
    hl_reply(t->to, hl_result_ok(HL_RESULT_OK, json_pack("{s:b, s:I, s:I}", "hold", rp->hold, "held",
                                                         (json_int_t)json_array_size(rp->held), "released", (json_int_t)released)));
    free(t);
}

static void free_task(hl_msg_t *msg)
{
    run_task_t *t = (run_task_t *)msg;
    json_decref(t->run);
    free(t);
}

static void post(hl_runproxy_t *rp, void (*run)(hl_task_t *), json_t *data)
{
    run_task_t *t = hl_malloc(sizeof(*t));
    hl_msg_init(&t->super.super, 1, free_task);
    t->super.run = run;
    t->rp = rp;
    t->run = data;
    hl_actor_post(&rp->actor, &t->super.super);
}

/* A store observer (on the store's thread): what a batch committed becomes tasks here, in commit order. */
static void on_commit(void *data, const hl_store_commit_t *c)
{
    hl_runproxy_t *rp = data;
    for (size_t i = 0; i < c->num_run_starts; ++i)
        post(rp, run_start, json_deep_copy(c->run_starts[i].request));
    for (size_t i = 0; i < c->num_run_cancels; ++i)
        post(rp, run_cancel, json_string(c->run_cancels[i]));
    /* approval decisions: nothing upstream to forward them to yet */
}

void hl_runproxy_test_hold(hl_runproxy_t *rp, int on, hl_reply_to_t *to)
{
    hold_task_t *t = hl_calloc(1, sizeof(*t));
    hl_msg_init(&t->super.super, 1, NULL);
    t->super.run = run_hold;
    t->rp = rp;
    t->hold = on;
    t->to = to;
    hl_actor_post(&rp->actor, &t->super.super);
}

int hl_runproxy_init(hl_runproxy_t **out, hl_store_t *store)
{
    static const hl_actor_callbacks_t cb = {.on_batch = hl_actor_run_tasks};
    hl_runproxy_t *rp = hl_calloc(1, sizeof(*rp));
    rp->store = store;
    rp->held = json_array();
    int ret = hl_actor_init(&rp->actor, "runproxy", &cb, rp);
    if (ret != 0) {
        json_decref(rp->held);
        free(rp);
        return ret;
    }
    hl_store_observe(store, on_commit, rp);
    *out = rp;
    return 0;
}

hl_actor_t *hl_runproxy_actor(hl_runproxy_t *rp)
{
    return &rp->actor;
}

/* Held runs stay running in the store; the next start-up marks them failed (link_restarted). */
void hl_runproxy_dispose(hl_runproxy_t *rp)
{
    if (rp == NULL)
        return;
    hl_actor_dispose(&rp->actor);
    json_decref(rp->held);
    free(rp);
}
