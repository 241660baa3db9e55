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

/** Whether `host` is a wildcard bind address (0.0.0.0 or ::): the service listens on every address of the machine. */
int hl_host_is_wildcard(const char *host);

/**
 * The host part of a URL for a service bound to `host`: "127.0.0.1" for a wildcard, an IPv6 address in brackets ("[::1]"),
 * else `host` itself. Caller frees.
 */
char *hl_url_host(const char *host);

/**
 * URLs at which the service bound to `host` answers: public_url first (when set); for a wildcard host
 * <scheme>://<ip>:<port> for each LAN IP, then the loopback URL; for any other host only <scheme>://<host>:<port> (IPv6 in
 * brackets): an address nothing listens on (a LAN address or lanHost while bound to loopback) is never offered. Returns
 * a new JSON array.
 */
json_t *hl_service_urls(const char *scheme, const char *public_url, json_t *lan_ips, const char *host, int port);

/**
 * The URLs handed out for pairing (preferred_urls), for the plain port bound to plain_host and the TLS port (tls_port < 0:
 * none) bound to tls_host. With cfg->lan_plain_http: hl_service_urls("http", public_url, lan_ips, plain_host, port), as the
 * original. Without it the plain port is loopback only, so no http LAN URL: with TLS public_url when it is https, then
 * the https URLs of the TLS port; without TLS public_url and the http URL of the plain port. Returns a new JSON array.
 */
json_t *hl_preferred_urls(const hl_config_t *cfg, json_t *lan_ips, const char *plain_host, int port, const char *tls_host,
                          int tls_port);

#endif
