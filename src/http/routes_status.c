/*
 * spec/API.md §5: GET /api/v1/status and GET /api/v1/logs. Both read files (profile directories, log files), so they run
 * on the system actor, never on a worker.
 */
#include <ctype.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hl/app.h"
#include "hl/fsutil.h"
#include "hl/http.h"
#include "hl/logread.h"
#include "hl/routes.h"

#define DEFAULT_LOG_LIMIT 50
#define UNPARSABLE_LOG_LIMIT 200
#define MAX_LOG_LIMIT 1000

typedef struct st_status_task_t {
    hl_task_t super;
    hl_pending_t *pending;
    char *source; /* logs only */
    long limit;
} status_task_t;

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
static int count_profiles(void)
{
    char *dir = hl_path_join(hl_app.hermes_home, "profiles");
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
    status_task_t *t = (status_task_t *)base;
    json_t *body = json_pack(
        "{s:b, s:s, s:b, s:s?, s:i, s:{s:s, s:s, s:b}, s:{s:n, s:b}, s:{s:s, s:n}, s:{s:s, s:n}, s:{s:i, s:i, s:i}, "
        "s:{s:i}}",
        "ok", 1, "version", HL_VERSION, "paired", hl_app.identity.link_id != NULL, "link_id", hl_app.identity.link_id, "port",
        hl_app.port, "link", "state", "online", "version", HL_VERSION, "update_available", 0, "hermes", "local_version",
        "update_available", 0, "gateway", "state", "unknown", "issue", "api_server", "state", "unknown", "issue", "devices",
        "total", (json_int_t)atomic_load(&hl_app.devices_total), "active", (json_int_t)atomic_load(&hl_app.devices_active),
        "revoked", (json_int_t)atomic_load(&hl_app.devices_revoked), "profiles", "total", count_profiles());
    if (json_object_get(body, "link_id") == NULL)
        json_object_set_new(body, "link_id", json_null());
    hl_pending_reply_json(t->pending, 200, body);
    free(t);
}

static void get_status(hl_request_t *r)
{
    hl_pending_t *p = hl_request_defer(r, &hl_app.system);
    if (p == NULL)
        return;
    status_task_t *t = hl_calloc(1, sizeof(*t));
    hl_msg_init(&t->super.super, 1, NULL);
    t->super.run = run_status;
    t->pending = p;
    hl_actor_post(&hl_app.system, &t->super.super);
}

static void run_logs(hl_task_t *base)
{
    status_task_t *t = (status_task_t *)base;
    int gateway = strcmp(t->source, "gateway") == 0;
    json_t *logs =
        gateway ? hl_logs_read_gateway(hl_app.hermes_home, (size_t)t->limit) : hl_logs_read_link(hl_app.home, (size_t)t->limit);
    hl_pending_reply_json(t->pending, 200, json_pack("{s:b, s:s, s:o}", "ok", 1, "source", t->source, "logs", logs));
    free(t->source);
    free(t);
}

/* parseInt semantics of the original: leading integer; absent → 50, unparsable → 200; then clamped to 1..1000 */
static long log_limit(const char *s)
{
    if (s == NULL)
        return DEFAULT_LOG_LIMIT;
    while (isspace((unsigned char)*s))
        ++s;
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s)
        return UNPARSABLE_LOG_LIMIT;
    return v < 1 ? 1 : v > MAX_LOG_LIMIT ? MAX_LOG_LIMIT : v;
}

static void get_logs(hl_request_t *r)
{
    const char *source = hl_request_query(r, "source", NULL);
    long limit = log_limit(hl_request_query(r, "limit", NULL));
    hl_pending_t *p = hl_request_defer(r, &hl_app.system);
    if (p == NULL)
        return;
    status_task_t *t = hl_calloc(1, sizeof(*t));
    hl_msg_init(&t->super.super, 1, NULL);
    t->super.run = run_logs;
    t->pending = p;
    t->source = hl_strdup(source != NULL ? source : "link");
    t->limit = limit;
    hl_actor_post(&hl_app.system, &t->super.super);
}

static const hl_route_t ROUTES[] = {
    {HL_METHOD_GET, "/api/v1/status", get_status, HL_ROUTE_AUTH | HL_ROUTE_NO_STORE, 0},
    {HL_METHOD_GET, "/api/v1/logs", get_logs, HL_ROUTE_AUTH | HL_ROUTE_NO_STORE, 0},
};

void hl_routes_status(hl_router_t *router)
{
    hl_routes_add_all(router, ROUTES, HL_ARRAY_SIZE(ROUTES));
}
