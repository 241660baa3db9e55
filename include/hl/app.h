/*
 * The daemon's process-wide state. Filled by the main thread before any worker or actor starts and read-only afterwards
 * (except where a field says otherwise), so every thread may read it without locks.
 */
#ifndef HL_APP_H
#define HL_APP_H

#include <stdatomic.h>
#include <stdint.h>

#include "hl/actor.h"
#include "hl/config.h"
#include "hl/db.h"
#include "hl/identity.h"
#include "hl/netinfo.h"
#include "hl/tls_cert.h"

#ifndef HL_VERSION
#define HL_VERSION "0.0.0"
#endif
#define HL_API_VERSION 1
#define HL_DISPLAY_NAME "Hermes Link"

typedef struct st_hl_app_t {
    char *home;        /* HERMESLINK_HOME, absolute */
    char *hermes_home; /* HERMES_HOME, absolute */
    char *db_path;
    hl_config_t config;
    hl_identity_t identity;
    hl_tls_cert_t tls;
    hl_environment_t env;
    const char *listen_host;
    int port;     /* bound port */
    int tls_port; /* bound TLS port, -1 without TLS */
    int test_mode;
    int64_t started_at_ms;
    struct st_hl_store_t *store;
    hl_db_actor_t auth;
    hl_db_actor_t pairing;
    struct st_hl_runproxy_t *runproxy;
    hl_actor_t system;
    /** device counts (not hidden), published by the auth actor for /api/v1/status */
    atomic_uint devices_total, devices_active, devices_revoked;
} hl_app_t;

extern hl_app_t hl_app;

#endif
