/*
 * What the running service knows about itself (core layer): its homes, configuration, identity, certificate, addresses.
 * The daemon fills one before any actor or worker starts and hands a const pointer to each part when it is initialised;
 * it is read-only afterwards, so any thread may read it without locks. It knows no actor.
 */
#ifndef HL_LINK_H
#define HL_LINK_H

#include <stdint.h>

#include "hl/config.h"
#include "hl/identity.h"
#include "hl/netinfo.h"
#include "hl/tls_cert.h"
#include "hl/version.h"

typedef struct st_hl_link_t {
    const char *home;        /* HERMESLINK_HOME, absolute */
    const char *hermes_home; /* HERMES_HOME, absolute */
    const char *db_path;     /* link.db */
    const hl_config_t *config;
    const hl_identity_t *identity;
    const hl_tls_cert_t *tls;
    const hl_environment_t *env;
    const char *listen_host; /* the TLS port's host (and the plain port's with lanPlainHttp) */
    const char *plain_host;  /* the plain port's host: listen_host, or loopback without lanPlainHttp */
    int port;                /* bound port */
    int tls_port;            /* bound TLS port, -1 without TLS */
    int test_mode;
    int64_t started_at_ms;
    /* the serve flags this process was started with, for `restart` to keep them: port -1 / tls_port -2 from config,
       0 auto (tls_port -1 off); listen NULL when neither --listen nor HERMESLINK_LISTEN_HOST named a host */
    struct {
        int port, tls_port;
        const char *listen;
    } start_flags;
} hl_link_t;

#endif
