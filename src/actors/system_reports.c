/*
 * The system actor's reports (spec/API.md §5): the status summary and log tails. They read files (profile directories,
 * log files), which is why they run here and never on a worker.
 */
#include <ctype.h>
#include <dirent.h>
#include <string.h>
#include <sys/stat.h>

#include "hl/fsutil.h"
#include "hl/logread.h"
#include "system_internal.h"

typedef struct st_report_task_t {
    hl_task_t super;
    hl_system_t *sys;
    hl_reply_to_t *to;
    bool gateway; /* logs: the gateway's log instead of ours */
    char *source; /* logs: the source as asked (echoed) */
    size_t limit;
} report_task_t;

static int valid_profile_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64 || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return 0;
    for (; *s; ++s)
        if (!isalnum((unsigned char)*s) && *s != '.' && *s != '_' && *s != '-')
            return 0;
    return 1;
}

/* Named profiles under the Hermes root (spec/STORAGE.md §3.1); the implicit default profile is not counted. */
static int count_profiles(const hl_link_t *link)
{
    char *dir = hl_path_join(link->hermes_home, "profiles");
    DIR *d = opendir(dir);
    int n = 0;
    if (d != NULL) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (!valid_profile_name(e->d_name))
                continue;
            char *p = hl_path_join(dir, e->d_name);
            struct stat st;
            if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
                ++n;
            free(p);
        }
        closedir(d);
    }
    free(dir);
    return n;
}

static void run_status(hl_task_t *base)
{
    report_task_t *t = (report_task_t *)base;
    json_t *body =
        json_pack("{s:s, s:b, s:s?, s:i, s:{s:s, s:s, s:b}, s:{s:n, s:b}, s:{s:s, s:n}, s:{s:s, s:n}, s:{s:i, s:i, s:i}, "
                  "s:{s:i}}",
                  "version", HL_VERSION, "paired", t->sys->link->identity->link_id != NULL, "link_id",
                  t->sys->link->identity->link_id, "port", t->sys->link->port, "link", "state", "online", "version", HL_VERSION,
                  "update_available", 0, "hermes", "local_version", "update_available", 0, "gateway", "state", "unknown", "issue",
                  "api_server", "state", "unknown", "issue", "devices", "total", (json_int_t)atomic_load(&t->sys->counts->total),
                  "active", (json_int_t)atomic_load(&t->sys->counts->active), "revoked",
                  (json_int_t)atomic_load(&t->sys->counts->revoked), "profiles", "total", count_profiles(t->sys->link));
    if (json_object_get(body, "link_id") == NULL)
        json_object_set_new(body, "link_id", json_null());
    hl_reply(t->to, hl_result_ok(HL_RESULT_OK, body));
    free(t);
}

static void run_logs(hl_task_t *base)
{
    report_task_t *t = (report_task_t *)base;
    json_t *logs =
        t->gateway ? hl_logs_read_gateway(t->sys->link->hermes_home, t->limit) : hl_logs_read_link(t->sys->link->home, t->limit);
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
    t->gateway = source != NULL && strcmp(source, "gateway") == 0;
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
