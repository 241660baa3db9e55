/*
 * The profile-creation routes' work on the Hermes files actor: starting a creation (hermes_create.c), its status, and
 * the status stream's source and publisher (each change is handed to the observer the HTTP layer registered).
 */
#include <stdlib.h>
#include <string.h>

#include "hermes_actor.h"
#include "hl/hermes_manage.h"

/* The status as compact JSON text (malloc'd). */
static char *status_text(const hermes_creation_t *c)
{
    json_t *j = hermes_creation_json(c);
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return text;
}

void hermes_creation_publish(hl_hermes_t *h)
{
    ++h->creation.version;
    if (h->creation_observer == NULL)
        return;
    char *text = status_text(&h->creation);
    h->creation_observer(h->creation_observer_data, text, strlen(text), h->creation.version);
    free(text);
}

static hl_result_t *status_result(hl_hermes_t *h, hl_result_kind_t kind)
{
    return hl_result_ok(kind, hermes_creation_json(&h->creation));
}

static void run_create(hl_task_t *base)
{
    hermes_manage_task_t *t = (hermes_manage_task_t *)base;
    hl_result_t *res = hermes_creation_start(t->h, &t->h->creation, t->body);
    if (hl_result_is_ok(res))
        hermes_creation_publish(t->h); /* a new creation (running, or already ended without a command) */
    hermes_manage_finish(t, res);
}

static void run_status(hl_task_t *base)
{
    hermes_manage_task_t *t = (hermes_manage_task_t *)base;
    hermes_manage_finish(t, status_result(t->h, HL_RESULT_OK));
}

void hl_hermes_profile_create(hl_hermes_t *h, hl_reply_to_t *to, const json_t *body)
{
    hermes_manage_post(h, to, NULL, NULL, body, 0, run_create);
}

void hl_hermes_creation_status(hl_hermes_t *h, hl_reply_to_t *to)
{
    hermes_manage_post(h, to, NULL, NULL, NULL, 0, run_status);
}

void hl_hermes_observe_creation(hl_hermes_t *h, hl_hermes_creation_fn fn, void *data)
{
    h->creation_observer = fn;
    h->creation_observer_data = data;
}

typedef struct st_read_task_t {
    hl_task_t super;
    hl_hermes_t *h;
    int64_t after;
    hl_hermes_creation_fn fn;
    void *data;
} read_task_t;

static void run_read(hl_task_t *base)
{
    read_task_t *t = (read_task_t *)base;
    hermes_creation_t *c = &t->h->creation;
    /* versions start at 1: a stream without a cursor (after 0) opens with the current status, even the idle one */
    if (c->version > t->after) {
        char *text = status_text(c);
        t->fn(t->data, text, strlen(text), c->version);
        free(text);
    } else {
        t->fn(t->data, NULL, 0, c->version);
    }
    free(t);
}

static void free_read_task(hl_msg_t *msg)
{
    read_task_t *t = (read_task_t *)msg;
    t->fn(t->data, NULL, 0, -1); /* never run: the daemon is stopping */
    free(t);
}

void hl_hermes_read_creation(hl_hermes_t *h, int64_t after, hl_hermes_creation_fn fn, void *data)
{
    read_task_t *t = hl_calloc(1, sizeof(*t));
    hl_msg_init(&t->super.super, 1, free_read_task);
    t->super.run = run_read;
    t->h = h;
    t->after = after;
    t->fn = fn;
    t->data = data;
    hl_actor_post(&h->actor, &t->super.super);
}
