/*
 * The Hermes files actor: the one thread that reads HERMES_HOME, so that the blocking file reads never happen on a
 * worker and a later change can add writes (atomic, one writer) here without races. It keeps no copy of what it reads:
 * each request reads the files again (at most two files of 1 MiB), so an edited `.env` is seen at once; the only
 * state is which warning was last logged for each profile, so that a broken file is logged once, not on every run.
 */
#include "hl/hermes_files.h"

#include <string.h>

#include "hl/hermes_read.h"
#include "hl/log.h"

struct st_hl_hermes_t {
    hl_actor_t actor;
    const hl_link_t *link;
    json_t *logged_warnings; /* profile → the warning last logged for it; actor thread only */
};

typedef struct st_hermes_task_t {
    hl_task_t super;
    hl_hermes_t *h;
    char *profile;
    hl_hermes_upstream_fn resolved;
    void (*listed)(void *data, json_t *names);
    void *data;
} hermes_task_t;

/* Logs a profile's warning when it differs from the one last logged for it (and forgets it once the files are fine). */
static void log_warning(hl_hermes_t *h, const hl_upstream_t *up)
{
    json_t *last = json_object_get(h->logged_warnings, up->profile);
    if (up->warning == NULL) {
        if (last != NULL)
            json_object_del(h->logged_warnings, up->profile);
        return;
    }
    if (last != NULL && strcmp(json_string_value(last), up->warning) == 0)
        return;
    hl_log(HL_LOG_WARN, "Hermes profile settings partly unreadable",
           json_pack("{s:s, s:s}", "profile", up->profile, "problem", up->warning));
    json_object_set_new(h->logged_warnings, up->profile, json_string(up->warning));
}

static void run_resolve(hl_task_t *base)
{
    hermes_task_t *t = (hermes_task_t *)base;
    hl_hermes_t *h = t->h;
    hl_upstream_t up;
    const char *code = NULL;
    char *message = NULL;
    if (hl_hermes_resolve(&up, h->link->hermes_home, h->link->config, t->profile, &code, &message) == 0) {
        log_warning(h, &up);
        t->resolved(t->data, &up, NULL, NULL);
        hl_upstream_dispose(&up);
    } else {
        t->resolved(t->data, NULL, code, message);
        free(message);
    }
    free(t->profile);
    free(t);
}

static void run_list(hl_task_t *base)
{
    hermes_task_t *t = (hermes_task_t *)base;
    t->listed(t->data, hl_hermes_profile_names(t->h->link->hermes_home));
    free(t);
}

/* A task the actor never ran (left in the mailbox at dispose). */
static void free_task(hl_msg_t *msg)
{
    hermes_task_t *t = (hermes_task_t *)msg;
    free(t->profile);
    free(t);
}

static hermes_task_t *new_task(hl_hermes_t *h, void (*run)(hl_task_t *), void *data)
{
    hermes_task_t *t = hl_calloc(1, sizeof(*t));
    hl_msg_init(&t->super.super, 1, free_task);
    t->super.run = run;
    t->h = h;
    t->data = data;
    return t;
}

void hl_hermes_resolve_upstream(hl_hermes_t *h, const char *profile, hl_hermes_upstream_fn done, void *data)
{
    hermes_task_t *t = new_task(h, run_resolve, data);
    t->profile = hl_strdup(profile);
    t->resolved = done;
    hl_actor_post(&h->actor, &t->super.super);
}

void hl_hermes_list_profiles(hl_hermes_t *h, void (*done)(void *data, json_t *names), void *data)
{
    hermes_task_t *t = new_task(h, run_list, data);
    t->listed = done;
    hl_actor_post(&h->actor, &t->super.super);
}

int hl_hermes_init(hl_hermes_t **out, const hl_link_t *link)
{
    static const hl_actor_callbacks_t cb = {.on_batch = hl_actor_run_tasks};
    hl_hermes_t *h = hl_calloc(1, sizeof(*h));
    h->link = link;
    h->logged_warnings = json_object();
    int ret = hl_actor_init(&h->actor, "hermes", &cb, h);
    if (ret != 0) {
        json_decref(h->logged_warnings);
        free(h);
        return ret;
    }
    *out = h;
    return 0;
}

hl_actor_t *hl_hermes_actor(hl_hermes_t *h)
{
    return &h->actor;
}

void hl_hermes_dispose(hl_hermes_t *h)
{
    if (h == NULL)
        return;
    hl_actor_dispose(&h->actor);
    json_decref(h->logged_warnings);
    free(h);
}
