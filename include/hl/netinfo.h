/*
 * Where this machine can be reached (FLOWS.md §2.4, without any outbound lookup) and what kind of environment it runs
 * in. Blocking syscalls (getifaddrs, /proc reads): main thread, CLI or the system actor only.
 */
#ifndef HL_NETINFO_H
#define HL_NETINFO_H

#include <jansson.h>

#include "hl/config.h"

typedef struct st_hl_environment_t {
    const char *kind;    /* "native" | "wsl" | "container" */
    const char *warning; /* NULL for native */
} hl_environment_t;

/** Detects native / WSL / container. */
hl_environment_t hl_detect_environment(void);

/**
 * LAN IPv4 addresses: lan_host (when set) first, then (native only) up to 4 private addresses of physical-looking
 * interfaces, en / eth / wlan first. Returns a new JSON array of strings.
 */
json_t *hl_lan_ips(const char *lan_host, const hl_environment_t *env);

/**
 * URLs to reach the service: public_url first (when set), then <scheme>://<ip>:<port> for each LAN IP, then the
 * loopback URL. Returns a new JSON array.
 */
json_t *hl_service_urls(const char *scheme, const char *public_url, json_t *lan_ips, int port);

/**
 * The URLs handed out for pairing (preferred_urls). With cfg->lan_plain_http: hl_service_urls("http", public_url, lan_ips,
 * port), as the original. Without it the plain port is loopback only, so no http LAN URL: with TLS (tls_port >= 0)
 * public_url when it is https, then the https URLs of the TLS port; without TLS public_url and the http loopback URL.
 * Returns a new JSON array.
 */
json_t *hl_preferred_urls(const hl_config_t *cfg, json_t *lan_ips, int port, int tls_port);

#endif
