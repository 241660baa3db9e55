/*
 * Where this machine can be reached (FLOWS.md §2.4, without any outbound lookup) and what kind of environment it runs
 * in. Blocking syscalls (getifaddrs, /proc reads): main thread, CLI or the system actor only.
 */
#ifndef HL_NETINFO_H
#define HL_NETINFO_H

#include <jansson.h>

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

#endif
