/*
 * The Hermes files actor: the one thread that reads and writes HERMES_HOME, so that the blocking file work never happens
 * on a worker and writes never race (one writer). It keeps no copy of Hermes's files: each request reads them again (at
 * most 1 MiB each), so an edited `.env` is seen at once. Its own state: HermesLink's profile metadata (profiles.json),
 * the profile list it publishes to the workers (hermes_snapshot.c), kept true by inotify, and which warning was last
 * logged for each profile, so that a broken file is logged once, not on every run.
 */
#include "hl/hermes_files.h"

#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "hermes_actor.h"
#include "hl/hermes_read.h"
#include "hl/log.h"

/* the list is read again this often even without inotify events (a file system without them, a missed event) */
#define SNAPSHOT_TICK_MS 30000

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

static int on_start(hl_actor_t *actor)
{
    hl_hermes_t *h = actor->data;
    hermes_registry_open(&h->registry, h->link->home);
    h->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (h->inotify_fd < 0)
        hl_logf(HL_LOG_WARN, "hermes: inotify is unavailable; profiles made by Hermes are seen within %d s",
                SNAPSHOT_TICK_MS / 1000);
    hermes_watch_update(h);
    hermes_snapshot_refresh(h);
    return 0;
}

/* while a creation command runs, how often its exit and deadline are checked even without output */
#define CREATION_CHECK_MS 200

/* Waits for the mailbox, an inotify event or output of a creation command (both handled here), up to the tick. */
static void wait_events(hl_actor_t *actor, int mailbox_fd, int timeout_ms)
{
    hl_hermes_t *h = actor->data;
    struct pollfd fds[4] = {{.fd = mailbox_fd, .events = POLLIN}, {.fd = h->inotify_fd, .events = POLLIN}};
    int pipes[2], npipes = hermes_creation_fds(&h->creation, pipes);
    for (int i = 0; i < npipes; ++i)
        fds[2 + i] = (struct pollfd){.fd = pipes[i], .events = POLLIN};
    bool running = strcmp(h->creation.state, "running") == 0;
    if (running && (timeout_ms < 0 || timeout_ms > CREATION_CHECK_MS))
        timeout_ms = CREATION_CHECK_MS;
    if (h->registry.changed)
        hermes_snapshot_refresh(h);               /* a profile got its uid (or lost it): published for uid lookups */
    int retry_ms = hermes_memory_retry_parked(h); /* memory changes waiting for Hermes's lock */
    if (retry_ms >= 0 && (timeout_ms < 0 || timeout_ms > retry_ms))
        timeout_ms = retry_ms;
    /* a negative fd (no inotify) is skipped by poll */
    if (poll(fds, 2 + (nfds_t)npipes, timeout_ms) > 0 && (fds[1].revents & POLLIN))
        hermes_watch_handle(h);
    if (running && hermes_creation_poll(h, &h->creation))
        hermes_creation_publish(h);
}

static void on_tick(hl_actor_t *actor)
{
    hl_hermes_t *h = actor->data;
    hermes_watch_update(h);
    hermes_snapshot_refresh(h);
}

static void on_stop(hl_actor_t *actor)
{
    hl_hermes_t *h = actor->data;
    hermes_memory_drop_parked(h);
    if (h->inotify_fd >= 0)
        close(h->inotify_fd);
    h->inotify_fd = -1;
}

int hl_hermes_init(hl_hermes_t **out, const hl_link_t *link)
{
    static const hl_actor_callbacks_t cb = {
        .on_start = on_start, .on_batch = hl_actor_run_tasks, .on_tick = on_tick, .on_stop = on_stop, .wait = wait_events};
    hl_hermes_t *h = hl_calloc(1, sizeof(*h));
    h->link = link;
    h->logged_warnings = json_object();
    h->root = hl_hermes_profiles_root(link->hermes_home);
    h->inotify_fd = h->watch_root = h->watch_dir = -1;
    hermes_creation_init(&h->creation);
    int ret = hl_actor_init(&h->actor, "hermes", &cb, h);
    if (ret != 0) {
        json_decref(h->logged_warnings);
        hermes_creation_dispose(&h->creation);
        free(h->root);
        free(h);
        return ret;
    }
    h->actor.tick_ms = SNAPSHOT_TICK_MS;
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
    if (h->inotify_fd >= 0)
        close(h->inotify_fd);
    hermes_snapshot_clear(h);
    hermes_creation_dispose(&h->creation); /* a command still running is stopped */
    hermes_registry_dispose(&h->registry);
    json_decref(h->logged_warnings);
    free(h->root);
    free(h);
}
