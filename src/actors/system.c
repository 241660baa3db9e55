/*
 * The system actor: owns what is learnt from the machine (network addresses, environment) and publishes the rarely
 * changing response bodies built from it (bootstrap, system status) as an RCU snapshot for the workers.
 */
#include <string.h>

#include "hl/capabilities.h"
#include "hl/clock.h"
#include "hl/log.h"
#include "hl/snapshot.h"
#include "system_internal.h"

/* how often addresses are re-read: a laptop that changes networks gets fresh pairing URLs within this delay */
#define REFRESH_MS 30000

static char *dump(json_t *v, size_t *len)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(v);
    *len = strlen(s);
    return s;
}

static json_t *bootstrap_json(hl_system_t *sys, json_t *urls)
{
    json_t *routes = json_array();
    size_t i;
    json_t *url;
    json_array_foreach(urls, i, url) json_array_append_new(routes, json_pack("{s:O, s:s}", "url", url, "kind", "lan"));
    const char *link_id = sys->link->identity->link_id;
    return json_pack("{s:o, s:s, s:s, s:i, s:b, s:b, s:O, s:o, s:o}", "link_id", link_id ? json_string(link_id) : json_null(),
                     "display_name", link_id ? HL_DISPLAY_NAME : "Unpaired Hermes Link", "version", HL_VERSION, "api_version",
                     HL_API_VERSION, "paired", link_id != NULL, "pairing_supported", hl_capability_pairing(),
                     "preferred_pairing_urls", urls, "routes", routes, "capabilities", hl_capabilities_json());
}

static json_t *system_status_json(hl_system_t *sys, json_t *urls, json_t *lan_ips)
{
    char now[HL_ISO_TIME_LEN];
    hl_format_iso(hl_now_ms(), now);
    const char *link_id = sys->link->identity->link_id;
    return json_pack("{s:s, s:o, s:s, s:i, s:{s:b, s:b, s:s}, s:{s:s, s:o}, s:{s:s, s:O, s:O, s:[], s:[]}, s:o}", "version",
                     HL_VERSION, "linkId", link_id ? json_string(link_id) : json_null(), "installId",
                     sys->link->identity->install_id, "port", sys->link->port, "autostart", "supported", sys->autostart.supported,
                     "enabled", sys->autostart.enabled, "method", hl_autostart_method_name(sys->autostart.method), "environment",
                     "kind", sys->link->env->kind, "warning",
                     sys->link->env->warning ? json_string(sys->link->env->warning) : json_null(), "networkReport",
                     "lastReportedAt", now, "preferredUrls", urls, "lanIps", lan_ips, "publicIpv4s", "publicIpv6s",
                     "updateAvailable", sys->update_available ? json_string(sys->update_available) : json_null());
}

void hl_system_publish(hl_system_t *sys)
{
    /* without lanPlainHttp the plain port is loopback only: only https URLs (or, without TLS, loopback) go out */
    const hl_link_t *l = sys->link;
    json_t *urls = hl_preferred_urls(l->config, sys->lan_ips, l->plain_host, l->port, l->listen_host, l->tls_port);
    hl_snapshot_t *snap = hl_calloc(1, sizeof(*snap));
    snap->bootstrap_json = dump(bootstrap_json(sys, urls), &snap->bootstrap_len);
    snap->system_status_json = dump(system_status_json(sys, urls, sys->lan_ips), &snap->system_status_len);
    json_t *tls_urls = l->tls_port >= 0 ? hl_service_urls("https", NULL, sys->lan_ips, l->listen_host, l->tls_port) : json_array();
    /* the QR code's lan_ips: only when the service listens on them */
    json_t *reachable = hl_host_is_wildcard(l->listen_host) ? json_incref(sys->lan_ips) : json_array();
    size_t len;
    snap->urls_json = dump(json_pack("{s:O, s:o, s:o}", "preferred_urls", urls, "lan_ips", reachable, "tls_urls", tls_urls), &len);
    json_decref(urls);
    hl_snapshot_publish(snap);
}

static int on_start(hl_actor_t *actor)
{
    hl_system_t *sys = actor->data;
    sys->lan_ips = hl_lan_ips(sys->link->config->lan_host, sys->link->env);
    /* may ask systemctl (bounded): once here, again only when autostart is changed through us */
    sys->autostart_method = hl_autostart_detect();
    hl_autostart_status(sys->autostart_method, &sys->autostart);
    hl_system_publish(sys);
    return 0;
}

static void on_tick(hl_actor_t *actor)
{
    hl_system_t *sys = actor->data;
    /* files changed behind our back (the CLI without a daemon, a user's rm) show within a tick */
    hl_autostart_status_t as;
    hl_autostart_status(sys->autostart_method, &as);
    int as_changed = memcmp(&as, &sys->autostart, sizeof(as)) != 0;
    sys->autostart = as;
    json_t *ips = hl_lan_ips(sys->link->config->lan_host, sys->link->env);
    if (json_equal(ips, sys->lan_ips)) {
        json_decref(ips);
        if (as_changed)
            hl_system_publish(sys);
        return;
    }
    json_decref(sys->lan_ips);
    sys->lan_ips = ips;
    hl_log(HL_LOG_INFO, "network addresses changed", json_pack("{s:O}", "lan_ips", ips));
    hl_system_publish(sys);
}

static void on_stop(hl_actor_t *actor)
{
    hl_system_t *sys = actor->data;
    json_decref(sys->lan_ips);
    sys->lan_ips = NULL;
}

int hl_system_init(hl_system_t **out, const hl_link_t *link, const hl_device_counts_t *counts)
{
    static const hl_actor_callbacks_t cb = {
        .on_start = on_start, .on_batch = hl_actor_run_tasks, .on_tick = on_tick, .on_stop = on_stop};
    hl_system_t *sys = hl_calloc(1, sizeof(*sys));
    sys->link = link;
    sys->counts = counts;
    int ret = hl_actor_init(&sys->actor, "system", &cb, sys);
    if (ret != 0) {
        free(sys);
        return ret;
    }
    sys->actor.tick_ms = REFRESH_MS;
    *out = sys;
    return 0;
}

typedef struct st_available_task_t {
    hl_task_t super;
    hl_system_t *sys;
    char *version;
} available_task_t;

static void free_available_task(hl_msg_t *msg)
{
    available_task_t *t = (available_task_t *)msg;
    free(t->version);
    free(t);
}

static void run_available(hl_task_t *base)
{
    available_task_t *t = (available_task_t *)base;
    hl_system_t *sys = t->sys;
    free(sys->update_available);
    sys->update_available = t->version;
    t->version = NULL;
    hl_system_publish(sys);
    free_available_task(&t->super.super);
}

void hl_system_set_update_available(hl_system_t *sys, const char *version)
{
    available_task_t *t = hl_calloc(1, sizeof(*t));
    hl_msg_init(&t->super.super, 1, free_available_task);
    t->super.run = run_available;
    t->sys = sys;
    t->version = version != NULL ? hl_strdup(version) : NULL;
    hl_actor_post(&sys->actor, &t->super.super);
}

hl_actor_t *hl_system_actor(hl_system_t *sys)
{
    return &sys->actor;
}

void hl_system_set_hermes(hl_system_t *sys, hl_hermes_t *hermes)
{
    sys->hermes = hermes;
}

void hl_system_dispose(hl_system_t *sys)
{
    if (sys == NULL)
        return;
    hl_actor_dispose(&sys->actor);
    json_decref(sys->lan_ips);
    free(sys->update_available);
    free(sys);
}
