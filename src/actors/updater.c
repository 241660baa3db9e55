/*
 * The updater actor: one thread that owns both update jobs, their child processes and the release feed's transfers.
 * Its wait hook is curl_multi_poll over the feed's sockets plus the mailbox and the children's pipes, so one loop
 * serves requests, output lines and downloads; a running job's new lines are published at most every UPD_PUBLISH_MS.
 */
#include <stdlib.h>
#include <string.h>

#include "hl/clock.h"
#include "hl/common.h"
#include "hl/log.h"
#include "hl/version.h"
#include "updater_internal.h"

/* how often the release feed is read again in the background (when updateUrl is set) */
#define FEED_REFRESH_MS (6u * 60 * 60 * 1000)

enum {
    OP_HERMES_CHECK = 1,
    OP_HERMES_STATUS,
    OP_HERMES_START,
    OP_LINK_CHECK,
    OP_LINK_STATUS,
    OP_LINK_START,
    OP_SUMMARY,
    OP_DISMISS,
    OP_READ
};

typedef struct st_task_t {
    hl_task_t super;
    hl_updater_t *u;
    int op;
    hl_reply_to_t *to;
    json_t *body;
    /* OP_READ */
    char *topic;
    int64_t after;
    hl_updater_status_fn fn;
    void *data;
} task_t;

static void free_task(hl_msg_t *msg)
{
    task_t *t = (task_t *)msg;
    if (t->to != NULL) /* never run: the daemon is stopping */
        hl_reply(t->to, hl_result_error(HL_RESULT_UNAVAILABLE, "server_busy", "The service is stopping"));
    if (t->fn != NULL)
        t->fn(t->data, t->topic, NULL, 0, -1);
    json_decref(t->body);
    free(t->topic);
    free(t);
}

static void done(task_t *t, hl_result_t *res)
{
    hl_reply(t->to, res);
    t->to = NULL;
}

/* ---- publishing ---- */

static upd_job_t *job_of(hl_updater_t *u, const char *topic)
{
    if (topic != NULL && strcmp(topic, HL_UPDATER_HERMES_TOPIC) == 0)
        return &u->hermes;
    if (topic != NULL && strcmp(topic, HL_UPDATER_LINK_TOPIC) == 0)
        return &u->link_job;
    return NULL;
}

static const char *topic_of(const hl_updater_t *u, const upd_job_t *j)
{
    return j == &u->hermes ? HL_UPDATER_HERMES_TOPIC : HL_UPDATER_LINK_TOPIC;
}

static char *status_text(const upd_job_t *j)
{
    json_t *o = upd_job_json(j);
    char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return text;
}

void upd_publish(hl_updater_t *u, upd_job_t *j)
{
    ++j->version;
    j->dirty = false;
    j->published_at = hl_monotonic_ms();
    if (u->status_fn == NULL)
        return;
    char *text = status_text(j);
    u->status_fn(u->status_data, topic_of(u, j), text, strlen(text), j->version);
    free(text);
}

/* ---- the summary (system/updates) ---- */

/* What is available now, as the dismissal remembers it: "link:<v>;hermes:<v>" (empty parts when none). */
static char *available_key(hl_updater_t *u, const char *link_available, const char *hermes_available)
{
    (void)u;
    return hl_asprintf("link:%s;hermes:%s", link_available ? link_available : "", hermes_available ? hermes_available : "");
}

static const char *hermes_available(const hl_updater_t *u)
{
    if (u->hermes_check == NULL || !json_is_true(json_object_get(u->hermes_check, "update_available")))
        return NULL;
    return json_string_value(json_object_get(json_object_get(u->hermes_check, "remote"), "version"));
}

static const char *link_available(const hl_updater_t *u, json_t *state)
{
    if (u->available != NULL)
        return u->available;
    const char *v = json_string_value(json_object_get(state, "updateAvailable"));
    return v != NULL && upd_version_cmp(v, HL_VERSION) > 0 ? v : NULL;
}

static hl_result_t *summary(hl_updater_t *u)
{
    json_t *state = upd_link_state_read(u->link->home);
    const char *link_v = link_available(u, state), *hermes_v = hermes_available(u);
    char *key = available_key(u, link_v, hermes_v);
    const char *dismissed_for = json_string_value(json_object_get(state, "updateDismissedFor"));
    bool dismissed = json_is_string(json_object_get(state, "updateDismissedAt")) &&
                     (dismissed_for == NULL ? link_v == NULL && hermes_v == NULL : strcmp(dismissed_for, key) == 0);
    json_t *local = u->hermes_check != NULL ? json_object_get(u->hermes_check, "local") : NULL;
    const char *hermes_current = json_string_value(json_object_get(local, "version"));
    json_t *body = json_pack("{s:s, s:o, s:b, s:{s:o, s:o}}", "currentVersion", HL_VERSION, "availableVersion",
                             link_v ? json_string(link_v) : json_null(), "dismissed", dismissed, "hermes", "currentVersion",
                             hermes_current ? json_string(hermes_current) : json_null(), "availableVersion",
                             hermes_v ? json_string(hermes_v) : json_null());
    free(key);
    json_decref(state);
    return hl_result_ok(HL_RESULT_OK, body);
}

static hl_result_t *dismiss(hl_updater_t *u)
{
    json_t *state = upd_link_state_read(u->link->home);
    char *key = available_key(u, link_available(u, state), hermes_available(u));
    char iso[HL_ISO_TIME_LEN];
    json_object_set_new(state, "updateDismissedAt", json_string(hl_format_iso(hl_now_ms(), iso)));
    json_object_set_new(state, "updateDismissedFor", json_string(key));
    free(key);
    int ret = upd_link_state_write(u->link->home, state);
    json_decref(state);
    if (ret != 0)
        return hl_result_error(HL_RESULT_INTERNAL, "internal_error", "The dismissal could not be saved");
    return hl_result_ok(HL_RESULT_OK, json_object());
}

/* ---- tasks ---- */

static void run_task(hl_task_t *base)
{
    task_t *t = (task_t *)base;
    hl_updater_t *u = t->u;
    switch (t->op) {
    case OP_HERMES_CHECK:
        upd_hermes_check(u, t->to);
        t->to = NULL;
        break;
    case OP_HERMES_STATUS:
        done(t, hl_result_ok(HL_RESULT_OK, upd_job_json(&u->hermes)));
        break;
    case OP_HERMES_START:
        done(t, upd_hermes_start(u));
        break;
    case OP_LINK_CHECK:
        upd_link_check(u, t->to, false);
        t->to = NULL;
        break;
    case OP_LINK_STATUS:
        done(t, hl_result_ok(HL_RESULT_OK, upd_job_json(&u->link_job)));
        break;
    case OP_LINK_START:
        done(t, upd_link_start(u, t->body));
        break;
    case OP_SUMMARY:
        done(t, summary(u));
        break;
    case OP_DISMISS:
        done(t, dismiss(u));
        break;
    case OP_READ: {
        upd_job_t *j = job_of(u, t->topic);
        /* versions start at 1: a stream without a cursor (after 0 or -1) opens with the current status */
        if (j != NULL && j->version > t->after) {
            char *text = status_text(j);
            t->fn(t->data, t->topic, text, strlen(text), j->version);
            free(text);
        } else {
            t->fn(t->data, t->topic, NULL, 0, j != NULL ? j->version : -1);
        }
        t->fn = NULL;
        break;
    }
    }
    free_task(&t->super.super);
}

static task_t *post(hl_updater_t *u, int op, hl_reply_to_t *to, const json_t *body)
{
    task_t *t = hl_calloc(1, sizeof(*t));
    hl_msg_init(&t->super.super, 1, free_task);
    t->super.run = run_task;
    t->u = u;
    t->op = op;
    t->to = to;
    t->body = body != NULL ? json_deep_copy(body) : NULL;
    return t;
}

static void send_task(hl_updater_t *u, task_t *t)
{
    hl_actor_post(&u->actor, &t->super.super);
}

void hl_updater_hermes_check(hl_updater_t *u, hl_reply_to_t *to)
{
    send_task(u, post(u, OP_HERMES_CHECK, to, NULL));
}
void hl_updater_hermes_status(hl_updater_t *u, hl_reply_to_t *to)
{
    send_task(u, post(u, OP_HERMES_STATUS, to, NULL));
}
void hl_updater_hermes_start(hl_updater_t *u, hl_reply_to_t *to)
{
    send_task(u, post(u, OP_HERMES_START, to, NULL));
}
void hl_updater_link_check(hl_updater_t *u, hl_reply_to_t *to)
{
    send_task(u, post(u, OP_LINK_CHECK, to, NULL));
}
void hl_updater_link_status(hl_updater_t *u, hl_reply_to_t *to)
{
    send_task(u, post(u, OP_LINK_STATUS, to, NULL));
}
void hl_updater_link_start(hl_updater_t *u, hl_reply_to_t *to, const json_t *body)
{
    send_task(u, post(u, OP_LINK_START, to, body));
}
void hl_updater_summary(hl_updater_t *u, hl_reply_to_t *to)
{
    send_task(u, post(u, OP_SUMMARY, to, NULL));
}
void hl_updater_dismiss(hl_updater_t *u, hl_reply_to_t *to)
{
    send_task(u, post(u, OP_DISMISS, to, NULL));
}

void hl_updater_read(hl_updater_t *u, const char *topic, int64_t after, hl_updater_status_fn fn, void *data)
{
    task_t *t = post(u, OP_READ, NULL, NULL);
    t->topic = hl_strdup(topic != NULL ? topic : "");
    t->after = after;
    t->fn = fn;
    t->data = data;
    send_task(u, t);
}

void hl_updater_observe(hl_updater_t *u, hl_updater_status_fn fn, void *data)
{
    u->status_fn = fn;
    u->status_data = data;
}

void hl_updater_on_restart(hl_updater_t *u, hl_updater_restart_fn fn, void *data)
{
    u->restart_fn = fn;
    u->restart_data = data;
}

void hl_updater_observe_available(hl_updater_t *u, hl_updater_available_fn fn, void *data)
{
    u->available_fn = fn;
    u->available_data = data;
}

/* ---- the loop ---- */

static void flush_dirty(hl_updater_t *u, upd_job_t *j)
{
    if (j->dirty && hl_monotonic_ms() - j->published_at >= UPD_PUBLISH_MS)
        upd_publish(u, j);
}

static void wait_events(hl_actor_t *actor, int mailbox_fd, int timeout_ms)
{
    hl_updater_t *u = actor->data;
    struct curl_waitfd fds[3];
    unsigned n = 0;
    fds[n++] = (struct curl_waitfd){.fd = mailbox_fd, .events = CURL_WAIT_POLLIN};
    if (u->check_proc.pid > 0 && u->check_proc.out.fd >= 0)
        fds[n++] = (struct curl_waitfd){.fd = u->check_proc.out.fd, .events = CURL_WAIT_POLLIN};
    if (u->hermes_proc.pid > 0 && u->hermes_proc.out.fd >= 0)
        fds[n++] = (struct curl_waitfd){.fd = u->hermes_proc.out.fd, .events = CURL_WAIT_POLLIN};
    /* children are reaped and their deadlines kept by polling; dirty lines go out within UPD_PUBLISH_MS */
    bool busy = u->check_step != 0 || u->hermes_proc.pid > 0 || u->hermes.dirty || u->link_job.dirty;
    if (busy && (timeout_ms < 0 || timeout_ms > UPD_PUBLISH_MS))
        timeout_ms = UPD_PUBLISH_MS;
    if (timeout_ms < 0)
        timeout_ms = 60000;
    curl_multi_poll(u->multi, fds, n, timeout_ms, NULL);
    int running = 0;
    curl_multi_perform(u->multi, &running);
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(u->multi, &left)) != NULL)
        if (m->msg == CURLMSG_DONE)
            upd_link_transfer_done(u, m->easy_handle, m->data.result);
    upd_hermes_poll(u);
    flush_dirty(u, &u->hermes);
    flush_dirty(u, &u->link_job);
}

static int on_start(hl_actor_t *actor)
{
    hl_updater_t *u = actor->data;
    u->multi = curl_multi_init();
    if (u->multi == NULL)
        return -1;
    upd_job_load(&u->hermes, u->link->home);
    upd_job_load(&u->link_job, u->link->home);
    upd_link_resume(u);
    if (u->link->config->update_url != NULL)
        upd_link_check(u, NULL, true); /* learn early whether an update is available (system status) */
    return 0;
}

static void on_tick(hl_actor_t *actor)
{
    hl_updater_t *u = actor->data;
    if (u->link->config->update_url != NULL)
        upd_link_check(u, NULL, true);
}

static void on_stop(hl_actor_t *actor)
{
    hl_updater_t *u = actor->data;
    upd_hermes_stop(u);
    upd_link_stop(u);
    if (u->multi != NULL)
        curl_multi_cleanup(u->multi);
    u->multi = NULL;
}

static void free_parts(hl_updater_t *u);

int hl_updater_init(hl_updater_t **out, const hl_link_t *link)
{
    static const hl_actor_callbacks_t cb = {
        .on_start = on_start, .on_batch = hl_actor_run_tasks, .on_tick = on_tick, .on_stop = on_stop, .wait = wait_events};
    hl_updater_t *u = hl_calloc(1, sizeof(*u));
    u->link = link;
    upd_job_init(&u->hermes, "hermes");
    upd_job_init(&u->link_job, "link");
    u->hermes_proc.out.fd = u->check_proc.out.fd = -1;
    u->check_out = json_array();
    int ret = hl_actor_init(&u->actor, "updater", &cb, u);
    if (ret != 0) {
        free_parts(u);
        return ret;
    }
    u->actor.tick_ms = FEED_REFRESH_MS;
    *out = u;
    return 0;
}

hl_actor_t *hl_updater_actor(hl_updater_t *u)
{
    return &u->actor;
}

void hl_updater_dispose(hl_updater_t *u)
{
    if (u == NULL)
        return;
    hl_actor_dispose(&u->actor);
    free_parts(u);
}

static void free_parts(hl_updater_t *u)
{
    upd_job_dispose(&u->hermes);
    upd_job_dispose(&u->link_job);
    upd_proc_dispose(&u->hermes_proc);
    upd_proc_dispose(&u->check_proc);
    json_decref(u->check_out);
    json_decref(u->check_local);
    json_decref(u->hermes_check);
    json_decref(u->link_check);
    free(u->check_bin);
    free(u->hermes_waiters);
    free(u->link_waiters);
    free(u->available);
    free(u->exe_path);
    upd_release_dispose(&u->release);
    free(u);
}
