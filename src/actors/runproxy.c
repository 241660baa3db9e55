/*
 * The runproxy actor. The upstream integration (Hermes's API server over a curl multi loop) is a later change; until it
 * lands, a run handed over here fails at once with hermes_api_server_unavailable, so that no run stays running and the
 * conversation's queue moves on.
 */
#include "hl/runproxy.h"

#include "hl/app.h"
#include "hl/log.h"
#include "hl/store.h"

static hl_actor_t *self;

typedef struct st_run_task_t {
    hl_task_t super;
    json_t *run;
} run_task_t;

static void run_start(hl_task_t *base)
{
    run_task_t *t = (run_task_t *)base;
    const char *run_id = json_string_value(json_object_get(t->run, "run_id"));
    hl_store_call(NULL, HL_STORE_RUN_EVENT,
                  json_pack("{s:s, s:s, s:s, s:s}", "run_id", run_id, "type", "run.failed", "error_code",
                            "hermes_api_server_unavailable", "error_message", "Hermes API server is not reachable"),
                  NULL);
    json_decref(t->run);
    free(t);
}

static void free_task(hl_msg_t *msg)
{
    run_task_t *t = (run_task_t *)msg;
    json_decref(t->run);
    free(t);
}

static void post(void (*run)(hl_task_t *), json_t *data)
{
    run_task_t *t = hl_malloc(sizeof(*t));
    hl_msg_init(&t->super.super, 1, free_task);
    t->super.run = run;
    t->run = data;
    hl_actor_post(self, &t->super.super);
}

void hl_runproxy_start(json_t *run)
{
    post(run_start, run);
}

void hl_runproxy_cancel(const char *run_id)
{
    (void)run_id; /* no upstream run exists yet to cancel */
}

void hl_runproxy_approval(json_t *decision)
{
    json_decref(decision); /* nothing upstream to forward to yet */
}

int hl_runproxy_actor_init(hl_actor_t *actor)
{
    static const hl_actor_callbacks_t cb = {.on_batch = hl_actor_run_tasks};
    self = actor;
    return hl_actor_init(actor, "runproxy", &cb, NULL);
}
