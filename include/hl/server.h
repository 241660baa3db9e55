/*
 * The HTTP server: N worker threads, each with its own h2o context and event loop, sharing the listening sockets.
 * HTTP/1.1 and (unless turned off) cleartext HTTP/2 (prior knowledge and Upgrade) on the main port; HTTPS with HTTP/2
 * (ALPN) on the TLS port. Main thread only.
 */
#ifndef HL_SERVER_H
#define HL_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "hl/common.h"
#include "hl/netaddr.h"
#include "hl/router.h"

typedef struct st_hl_server_t hl_server_t;

typedef struct st_hl_server_config_t {
    const char *listen_host; /* "0.0.0.0", "127.0.0.1", "::" … (the TLS port, and the plain port without plain_host) */
    const char *plain_host;  /* the plain port's host when it differs (lanPlainHttp false: "127.0.0.1"), NULL = listen_host */
    bool no_plain_http2;     /* true: no cleartext HTTP/2 (prior knowledge nor Upgrade: h2c) on the plain port; TLS keeps
                              * h2 by ALPN. Negative so that a zero-initialised config keeps h2c */
    int port;                /* 0 = pick a free port */
    int tls_port;            /* -1 = no TLS listener, 0 = pick a free port */
    int workers;             /* >= 1 */
    const char *tls_cert_path;
    const char *tls_key_path;
    int max_connections;              /* 0 = no cap */
    int max_connections_per_address;  /* 0 = no cap; loopback and trusted proxies are exempt */
    const hl_cidr_t *trusted_proxies; /* must outlive the server */
    size_t num_trusted_proxies;
    uint64_t max_body_bytes_per_address; /* HTTP/1.1 request bodies held per client address; 0 = no cap */
    bool count_loopback;                 /* test mode: loopback clients are not exempt from the per-address cap */
} hl_server_config_t;

/** Binds the listeners (no worker yet, so the ports are known before anything serves). 0, or -errno with a message in err. */
int hl_server_bind(hl_server_t **out, const hl_server_config_t *cfg, char *err, size_t errlen) HL_WARN_UNUSED;

/** Starts the worker threads on the bound listeners. 0 or -errno with a message in err. */
int hl_server_run(hl_server_t *server, char *err, size_t errlen) HL_WARN_UNUSED;

/** The port actually bound (useful when 0 was asked). */
int hl_server_port(const hl_server_t *server);

/** The TLS port actually bound, or -1 without TLS. */
int hl_server_tls_port(const hl_server_t *server);

/**
 * Graceful stop: every worker stops accepting, ends its long-lived streams, sends HTTP/2 GOAWAY, closes idle HTTP/1.1
 * keep-alives and finishes in-flight requests (whose actors are still running), then the threads are joined.
 */
void hl_server_shutdown(hl_server_t *server);

/** Frees the server after hl_server_shutdown. */
void hl_server_free(hl_server_t *server);

#endif
