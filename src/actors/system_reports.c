/*
 * The system actor's reports (spec/API.md §5): the status summary and HermesLink's own log tail, which reads files and so
 * runs here, never on a worker. What lies in HERMES_HOME (the profiles, the gateway's log) is the Hermes files actor's:
 * the profile count comes from the list it publishes, the gateway's log is read there.
 */
#include <string.h>

#include "hl/hermes_manage.h"
#include "hl/logread.h"
#include "system_internal.h"

typedef struct st_report_task_t {
    hl_task_t super;
    hl_system_t *sys;
    hl_reply_to_t *to;
    char *source; /* logs: the source as asked (echoed) */
    size_t limit;
} report_task_t;

static void run_status(hl_task_t *base)
{
    report_task_t *t = (report_task_t *)base;
    json_t *body = json_pack(
        "{s:s, s:b, s:s?, s:i, s:{s:s, s:s, s:b}, s:{s:n, s:b}, s:{s:s, s:n}, s:{s:s, s:n}, s:{s:i, s:i, s:i}, "
        "s:{s:i}}",
        "version", HL_VERSION, "paired", t->sys->link->identity->link_id != NULL, "link_id", t->sys->link->identity->link_id,
        "port", t->sys->link->port, "link", "state", "online", "version", HL_VERSION, "update_available", 0, "hermes",
        "local_version", "update_available", 0, "gateway", "state", "unknown", "issue", "api_server", "state", "unknown", "issue",
        "devices", "total", (json_int_t)atomic_load(&t->sys->counts->total), "active",
        (json_int_t)atomic_load(&t->sys->counts->active), "revoked", (json_int_t)atomic_load(&t->sys->counts->revoked), "profiles",
        "total", t->sys->hermes != NULL ? hl_hermes_profile_count(t->sys->hermes) : 0);
    if (json_object_get(body, "link_id") == NULL)
        json_object_set_new(body, "link_id", json_null());
    hl_reply(t->to, hl_result_ok(HL_RESULT_OK, body));
    free(t);
}

static void run_logs(hl_task_t *base)
{
    report_task_t *t = (report_task_t *)base;
    json_t *logs = hl_logs_read_link(t->sys->link->home, t->limit);
    hl_reply(t->to, hl_result_ok(HL_RESULT_OK, json_pack("{s:s, s:o}", "source", t->source, "logs", logs)));
    free(t->source);
    free(t);
}

static void post(hl_system_t *sys, hl_reply_to_t *to, void (*run)(hl_task_t *), const char *source, size_t limit)
{
    report_task_t *t = hl_calloc(1, sizeof(*t));
    hl_msg_init(&t->super.super, 1, NULL);
    t->super.run = run;
    t->sys = sys;
    t->to = to;
    t->source = hl_strdup(source);
    t->limit = limit;
    hl_actor_post(&sys->actor, &t->super.super);
}

void hl_system_status(hl_system_t *sys, hl_reply_to_t *to)
{
    post(sys, to, run_status, NULL, 0);
}

void hl_system_logs(hl_system_t *sys, hl_reply_to_t *to, const char *source, size_t limit)
{
    post(sys, to, run_logs, source, limit);
}
