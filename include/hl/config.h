/*
 * config.json: the original's keys (port, lanHost, language, logLevel) plus ours (tlsPort, workers, publicUrl,
 * hermesApiUrl, hermesApiKey, and the HTTP edge's lanPlainHttp, plainHttp2, trustedProxies and caps). Unknown keys are preserved on
 * write. Read by the main thread at start and by the CLI.
 */
#ifndef HL_CONFIG_H
#define HL_CONFIG_H

#include <jansson.h>

#include "hl/common.h"
#include "hl/netaddr.h"

#define HL_DEFAULT_PORT 18642
#define HL_DEFAULT_TLS_PORT 18643
#define HL_DEFAULT_MAX_CONNECTIONS 8192
#define HL_DEFAULT_MAX_CONNECTIONS_PER_ADDRESS 64
#define HL_DEFAULT_MAX_STREAMS_PER_DEVICE 32
#define HL_DEFAULT_MAX_BODY_MIB_PER_ADDRESS 160
#define HL_MAX_TRUSTED_PROXIES 32

typedef struct st_hl_config_t {
    int port;
    int tls_port; /* 0 disables TLS */
    int workers;  /* 0 = one per CPU */
    char *lan_host;
    char *language;
    char *log_level;
    char *public_url;
    char *hermes_api_url;
    char *hermes_api_key;
    char *update_url;        /* updateUrl: the release feed of HermesLink's self-update (NULL: none) */
    char *update_public_key; /* updatePublicKey: base64 ed25519 key that signs releases (NULL: the compiled-in key) */
    /* the HTTP edge (SECURITY.md explains each) */
    bool lan_plain_http;             /* lanPlainHttp: the plain port on every interface (else loopback only) */
    bool plain_http2;                /* plainHttp2: cleartext HTTP/2 (h2c) on the plain port */
    int max_connections;             /* maxConnections: open connections in total */
    int max_connections_per_address; /* maxConnectionsPerAddress: per client address (IPv6 /64), loopback exempt */
    int max_streams_per_device;      /* maxStreamsPerDevice: open event streams per device */
    int max_body_mib_per_address;    /* maxBodyMiBPerAddress: request bodies held for one client address */
    hl_cidr_t trusted_proxies[HL_MAX_TRUSTED_PROXIES]; /* trustedProxies: whose X-Forwarded-For names the client */
    size_t num_trusted_proxies;
    /** the file's whole object, unknown keys included (owned) */
    json_t *raw;
} hl_config_t;

/** Fills `cfg` with defaults (log level from HERMESLINK_LOG_LEVEL when valid, else "warn"). */
void hl_config_defaults(hl_config_t *cfg);

/**
 * Loads `<home>/config.json` over the defaults. A missing file is not an error. On a bad file returns -EINVAL and
 * writes a message naming the offending key into err (size errlen). 0 on success.
 */
int hl_config_load(hl_config_t *cfg, const char *home, char *err, size_t errlen) HL_WARN_UNUSED;

/**
 * Sets one key by its CLI name (port, lan-host, language, log-level, tls-port, workers, public-url, hermes-api-url,
 * lan-plain-http, plain-http2, max-connections, max-connections-per-address, max-streams-per-device,
 * max-body-mib-per-address, trusted-proxies, update-url, update-public-key).
 * On success returns 0 and a malloc'd confirmation line in *msg ("Port set to 8080"); on failure -EINVAL/-ENOENT and
 * a malloc'd error line in *msg ("Invalid port number", "Unknown config key: x"). Does not write the file.
 */
int hl_config_set(hl_config_t *cfg, const char *cli_key, const char *value, char **msg) HL_WARN_UNUSED;

/**
 * Serialises the config (2-space indent, trailing newline, unknown keys kept). With `redact_secrets` the Hermes API key
 * is shown as "[redacted]" (for `config get`). Caller frees.
 */
char *hl_config_dump(const hl_config_t *cfg, int redact_secrets);

/** Writes `<home>/config.json` atomically with mode 0600. 0 or -errno. */
int hl_config_save(const hl_config_t *cfg, const char *home) HL_WARN_UNUSED;

/** Frees what the config owns. */
void hl_config_dispose(hl_config_t *cfg);

/** True when `s` is a dotted IPv4 usable as a LAN host (last octet not 0 or 255). Brackets are not accepted here. */
int hl_config_valid_lan_host(const char *s);

/** True for log level names debug|info|warn|error. */
int hl_config_valid_log_level(const char *s);

/**
 * What is wrong with `url` as publicUrl (config_public_url.c): NULL when it is an http:// or https:// URL of a host (name,
 * IPv4 or bracketed IPv6) and an optional port, with no path but "/", no user, query or fragment; else a short reason
 * ("it has a query"), a static string. Any thread.
 */
const char *hl_config_public_url_problem(const char *url);

/** What `config set public-url` says about a refused value (the reason from hl_config_public_url_problem follows). */
#define HL_PUBLIC_URL_RULE                                                                                                         \
    "publicUrl must be an http:// or https:// URL without a path, user, query or fragment, e.g. https://link.example.com"

/**
 * True when `key` can be the Hermes API key (hermesApiKey): 1 to 4096 printable ASCII characters without spaces, since it
 * goes into an Authorization header.
 */
int hl_config_valid_api_key(const char *key);

/** Sets hermesApiKey to `key` (validated) or, with NULL, removes it. *msg (caller frees) never contains the key. */
int hl_config_set_api_key(hl_config_t *cfg, const char *key, char **msg) HL_WARN_UNUSED;

#endif
