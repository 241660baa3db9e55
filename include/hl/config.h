/*
 * config.json: the original's keys (port, lanHost, language, logLevel) plus ours (tlsPort, workers, publicUrl,
 * hermesApiUrl, hermesApiKey). Unknown keys are preserved on write. Read by the main thread at start and by the CLI.
 */
#ifndef HL_CONFIG_H
#define HL_CONFIG_H

#include <jansson.h>

#include "hl/common.h"

#define HL_DEFAULT_PORT 18642
#define HL_DEFAULT_TLS_PORT 18643

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
 * Sets one key by its CLI name (port, lan-host, language, log-level, tls-port, workers, public-url, hermes-api-url).
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

#endif
