/*
 * Private to src/http: how many bytes of request bodies h2o 2.2.5 holds for each HTTP/2 connection. h2o buffers every
 * HTTP/2 body whole (in memory, above 32 MiB in an unlinked temp file) before a handler sees the request and keeps it
 * until the stream ends, and offers no hook while it arrives; this reads its connection and stream structs, declared by
 * <h2o/http2_internal.h> (installed with libh2o-evloop-dev), and checks each stream it reads against its connection.
 * Worker thread (the context's loop), between events.
 */
#ifndef HL_HTTP_H2_BODIES_H
#define HL_HTTP_H2_BODIES_H

#include <stdbool.h>
#include <stdint.h>

#include <h2o.h>

/** Called per HTTP/2 connection with its socket and the request body bytes held by its streams. It must not close the
 * connection (shutting its socket down is fine: h2o notices on its next read). */
typedef void (*hl_h2_bodies_fn)(void *data, h2o_socket_t *sock, uint64_t held);

/** Called per HTTP/2 connection before its streams are read: false skips the connection (its bodies are not counted). */
typedef bool (*hl_h2_bodies_want_fn)(void *data, h2o_socket_t *sock);

/**
 * Calls `each` for every HTTP/2 connection of `ctx` that has a socket and that `want` (when not NULL) accepts, with the
 * sum of the request bodies its streams hold (received so far, or whole and not yet released). Only the accepted
 * connections' streams are read, so a caller that counts few connections costs little next to many others (100,000
 * event streams on loopback). False when a stream entry did not name its own connection (an h2o whose layout differs
 * from the header built against): that connection is skipped, and the caller should stop relying on the counts.
 */
bool hl_h2_bodies_each(h2o_context_t *ctx, hl_h2_bodies_want_fn want, hl_h2_bodies_fn each, void *data);

#endif
