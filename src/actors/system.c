/*
 * The system actor: owns what is learnt from the machine (network addresses, environment) and publishes the rarely
 * changing response bodies built from it (bootstrap, system status) as an RCU snapshot for the workers.
 */
#include <string.h>

#include "hl/app.h"
#include "hl/capabilities.h"
#include "hl/clock.h"
#include "hl/log.h"
#include "hl/snapshot.h"
#include "hl/system.h"

/* how often addresses are re-read: a laptop that changes networks gets fresh pairing URLs within this delay */
#define REFRESH_MS 30000

typedef struct st_system_state_t {
    json_t *lan_ips;
} system_state_t;

static system_state_t state;

static char *dump(json_t *v, size_t *len)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(v);
    *len = strlen(s);
    return s;
}

static json_t *bootstrap_json(json_t *urls)
{
    json_t *routes = json_array();
    size_t i;
    json_t *url;
    json_array_foreach(urls, i, url) json_array_append_new(routes, json_pack("{s:O, s:s}", "url", url, "kind", "lan"));
    const char *link_id = hl_app.identity.link_id;
    return json_pack("{s:o, s:s, s:s, s:i, s:b, s:b, s:O, s:o, s:o}", "link_id", link_id ? json_string(link_id) : json_null(),
                     "display_name", link_id ? HL_DISPLAY_NAME : "Unpaired Hermes Link", "version", HL_VERSION, "api_version",
                     HL_API_VERSION, "paired", link_id != NULL, "pairing_supported", hl_capability_pairing(),
                     "preferred_pairing_urls", urls, "routes", routes, "capabilities", hl_capabilities_json());
}

static json_t *system_status_json(json_t *urls, json_t *lan_ips)
{
    char now[HL_ISO_TIME_LEN];
    hl_format_iso(hl_now_ms(), now);
    const char *link_id = hl_app.identity.link_id;
    return json_pack("{s:s, s:o, s:s, s:i, s:{s:b, s:b, s:s}, s:{s:s, s:o}, s:{s:s, s:O, s:O, s:[], s:[]}, s:n}", "version",
                     HL_VERSION, "linkId", link_id ? json_string(link_id) : json_null(), "installId", hl_app.identity.install_id,
                     "port", hl_app.port, "autostart", "supported", 0, "enabled", 0, "method", "unsupported", "environment", "kind",
                     hl_app.env.kind, "warning", hl_app.env.warning ? json_string(hl_app.env.warning) : json_null(),
                     "networkReport", "lastReportedAt", now, "preferredUrls", urls, "lanIps", lan_ips, "publicIpv4s", "publicIpv6s",
                     "updateAvailable");
}

static void publish(void)
{
    json_t *urls = hl_service_urls("http", hl_app.config.public_url, state.lan_ips, hl_app.port);
    hl_snapshot_t *snap = hl_calloc(1, sizeof(*snap));
    snap->bootstrap_json = dump(bootstrap_json(urls), &snap->bootstrap_len);
    snap->system_status_json = dump(system_status_json(urls, state.lan_ips), &snap->system_status_len);
    json_t *tls_urls = hl_app.tls_port >= 0 ? hl_service_urls("https", NULL, state.lan_ips, hl_app.tls_port) : json_array();
    size_t len;
    snap->urls_json =
        dump(json_pack("{s:O, s:O, s:o}", "preferred_urls", urls, "lan_ips", state.lan_ips, "tls_urls", tls_urls), &len);
    json_decref(urls);
    hl_snapshot_publish(snap);
}

static int on_start(hl_actor_t *actor)
{
    (void)actor;
    state.lan_ips = hl_lan_ips(hl_app.config.lan_host, &hl_app.env);
    publish();
    return 0;
}

static void on_tick(hl_actor_t *actor)
{
    (void)actor;
    json_t *ips = hl_lan_ips(hl_app.config.lan_host, &hl_app.env);
    if (json_equal(ips, state.lan_ips)) {
        json_decref(ips);
        return;
    }
    json_decref(state.lan_ips);
    state.lan_ips = ips;
    hl_log(HL_LOG_INFO, "network addresses changed", json_pack("{s:O}", "lan_ips", ips));
    publish();
}

static void on_stop(hl_actor_t *actor)
{
    (void)actor;
    json_decref(state.lan_ips);
    state.lan_ips = NULL;
}

int hl_system_actor_init(hl_actor_t *actor)
{
    static const hl_actor_callbacks_t cb = {
        .on_start = on_start, .on_batch = hl_actor_run_tasks, .on_tick = on_tick, .on_stop = on_stop};
    int ret = hl_actor_init(actor, "system", &cb, NULL);
    actor->tick_ms = REFRESH_MS;
    return ret;
}
