/*
 * Private to src/http: what the server keeps per connection on top of h2o 2.2.5 (SECURITY.md, "Limits and caps").
 * - Caps at accept: connections in total, and per client address (an IPv4 address or an IPv6 /64; loopback and trusted
 *   proxies exempt). Past a cap a plain-HTTP client gets a one-line JSON answer (503 server_busy, 429
 *   too_many_connections) and the socket is closed before anything is read; a TLS client is closed.
 * - Timeouts that fit slow uplinks on HTTP/1.1: h2o's req_timeout (10 s) bounds the request head and idle keep-alives;
 *   while a request body keeps arriving, its deadline moves on (at most HL_HTTP1_BODY_CEILING_MS in all), so a 50 MiB
 *   upload at 200 KB/s completes, a body that stalls for 10 s ends, and slow headers still end at 10 s.
 * - Request bodies held per client address (maxBodyMiBPerAddress), checked four times a second: HTTP/1.1 bodies being
 *   read, and the bodies h2o holds for each HTTP/2 connection's streams (h2_bodies.c); the connection that takes its
 *   address past the cap is shut down.
 * - The socket under an HTTP/1.1 request, so that event streams notice a client that left (sse.c).
 * Worker thread, except hl_conn_guard_configure.
 */
#ifndef HL_HTTP_CONN_GUARD_H
#define HL_HTTP_CONN_GUARD_H

#include <stdbool.h>

#include "hl/netaddr.h"
#include "worker.h"

/* how long one HTTP/1.1 request may take in all while its body keeps arriving */
#define HL_HTTP1_BODY_CEILING_MS (15 * 60 * 1000)
/* how often the per-connection checks run */
#define HL_CONN_GUARD_TICK_MS 250

typedef struct st_hl_conn_limits_t {
    int max_connections;             /* in total, over every worker */
    int max_connections_per_address; /* per client address key */
    const hl_cidr_t *trusted_proxies;
    size_t num_trusted_proxies;
    uint64_t max_body_bytes_per_address; /* request bodies held per client address (HTTP/1.1 and HTTP/2); 0 = no cap */
    bool count_loopback;                 /* test mode only: loopback clients count like any other (tests tell 127.0.0.x apart) */
} hl_conn_limits_t;

/** Sets the caps (main thread, before any worker starts; the ranges must outlive the server). */
void hl_conn_guard_configure(const hl_conn_limits_t *limits);

/** Prepares the worker's connection table and starts its tick. */
void hl_conn_guard_worker_init(hl_worker_t *w);

/** Stops the tick and frees the table (connections still open are forgotten). */
void hl_conn_guard_worker_dispose(hl_worker_t *w);

/**
 * Called for each accepted socket before h2o sees it: counts it against the caps, or refuses it (answers when plain,
 * then closes it). True when admitted; the count is given back when the socket closes.
 */
bool hl_conn_guard_admit(hl_worker_t *w, h2o_socket_t *sock, bool tls);

/** The socket of an HTTP/1.x request served by this worker, or NULL (HTTP/2, or not a connection it admitted). */
h2o_socket_t *hl_conn_guard_h1_socket(hl_worker_t *w, h2o_req_t *req);

/**
 * True when an HTTP/1.x request with a body was framed ambiguously: Content-Length given twice with different values, or
 * both Content-Length and Transfer-Encoding (h2o 2.2.5 picks one silently; a front proxy that picks the other would see
 * a different request boundary: request smuggling). Reads the request head, still in the socket's buffer.
 */
bool hl_conn_guard_ambiguous_framing(hl_worker_t *w, h2o_req_t *req);

#endif
