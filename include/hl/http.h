/*
 * The request-handling contract shared by every route file: the request wrapper a handler receives, the JSON and
 * error replies (spec/API.md §1.2–1.4: CORS on everything, compact JSON, the error envelope), and deferral of a
 * request to an actor whose reply comes back to the same worker.
 *
 * Everything here runs on a worker thread unless stated otherwise.
 */
#ifndef HL_HTTP_H
#define HL_HTTP_H

#define H2O_USE_LIBUV 0
#include <h2o.h>
#include <jansson.h>
#include <stdbool.h>

#include "hl/actor.h"
#include "hl/reply.h"
#include "hl/router.h"
#include "hl/tokens.h"

/** Largest JSON body any JSON route accepts. */
#define HL_DEFAULT_BODY_LIMIT (1024 * 1024)
/** Largest body any route accepts (blob uploads). */
#define HL_MAX_BODY_LIMIT (50 * 1024 * 1024)
/**
 * h2o's one server-wide limit: above it h2o answers its own plain-text 413 (HTTP/1.1) or resets the stream (HTTP/2)
 * before any route runs. It sits 1 MiB above the largest route limit: a blob a little over 50 MiB still gets the route's
 * JSON 413 blob_too_large, and what h2o holds for one HTTP/2 stream stays close to what a real upload needs.
 */
#define HL_H2O_BODY_LIMIT (HL_MAX_BODY_LIMIT + 1024 * 1024)

typedef struct st_hl_worker_t hl_worker_t;

/** What a route handler receives. Valid until the handler returns (deferred work uses hl_request_defer). */
typedef struct st_hl_request_t {
    h2o_req_t *req;
    hl_worker_t *worker;
    const hl_route_t *route;
    hl_route_match_t match;
    /** raw query string without '?', not decoded (may be empty) */
    h2o_iovec_t query;
    /** parsed JSON body for HL_ROUTE_JSON_BODY routes ({} for an empty body); borrowed, freed after the handler */
    json_t *body;
    /** the authenticated device of HL_ROUTE_AUTH routes (pool memory), else NULL */
    const struct st_hl_auth_device_t *device;
    /** the hash of the access token that authenticated it (pool memory), else NULL: an event stream stays bound to it */
    const hl_token_hash_t *token_hash;
    /** the bearer token of HL_ROUTE_CONNECT_TOKEN routes (not NUL-terminated), else NULL */
    const char *bearer;
    size_t bearer_len;
} hl_request_t;

/** A message for a worker: `run` executes on that worker's thread and owns the message. */
typedef struct st_hl_worker_msg_t hl_worker_msg_t;
struct st_hl_worker_msg_t {
    hl_msg_t super;
    void (*run)(hl_worker_t *worker, hl_worker_msg_t *msg);
};

/**
 * Worker-side bearer check for protected routes: on success sets r->device and returns 0; otherwise answers 401
 * (auth_required, device_access_token_invalid or auth_invalid, spec/API.md §1.7) and returns -1. No actor round trip.
 */
int hl_auth_check(hl_request_t *r);

/** Body bytes the workers' reply caches hold now (at most 256 × 64 KiB per worker). Any thread; the memory report. */
size_t hl_reply_cache_bytes(void);

struct st_hl_auth_t;
/** Gives the bearer checks the auth actor to record last-seen times with. Main thread, before the server runs. */
void hl_auth_check_init(struct st_hl_auth_t *auth);

/**
 * Worker-side check of routes that take a connect token as bearer (device-session): answers 401 auth_required without a
 * bearer, 403 app_connect_required for a valid device access token, 401 device_access_token_invalid for another hlat_
 * token; otherwise sets r->bearer for the handler (which asks the pairing actor) and returns 0.
 */
int hl_auth_check_connect(hl_request_t *r);

/** Value of path parameter `name` (decoded, NUL-terminated) or NULL. */
const char *hl_request_param(const hl_request_t *r, const char *name);

/**
 * First value of query parameter `name`, percent-decoded ('+' as space) into pool memory, or NULL when absent.
 * *len receives the decoded length when non-NULL.
 */
const char *hl_request_query(const hl_request_t *r, const char *name, size_t *len);

/** Value of request header `name` (lowercase) or NULL; *len receives its length. */
const char *hl_request_header(const hl_request_t *r, const char *name, size_t *len);

/** Sends `body` (stolen) as compact JSON with `status`. */
void hl_reply_json(hl_request_t *r, int status, json_t *body);

/** Sends the error envelope {"ok":false,"error":{"code","message"}}. `message` must not contain paths or errno text. */
void hl_reply_error(hl_request_t *r, int status, const char *code, const char *message);

/** The reason phrase of an HTTP status HermesLink answers with ("Not Found"), NULL for another status. Pure. */
const char *hl_http_reason_phrase(int status);

/** Sends `len` bytes with a content type; the bytes are copied. */
void hl_reply_bytes(hl_request_t *r, int status, const char *content_type, const char *data, size_t len);

/** Sends `len` bytes that already live in the request's pool (no copy). */
void hl_reply_pool_bytes(hl_request_t *r, int status, const char *content_type, const char *data, size_t len);

/** Sends an empty body with `status` (204, or 200 for OPTIONS). */
void hl_reply_empty(hl_request_t *r, int status);

/**
 * Defers the request to `actor`: takes an in-flight slot (past the actor's bound it answers 503 server_busy and returns
 * NULL) and returns the reply address to hand to the actor, which answers it exactly once (hl_reply). The result becomes the
 * response: its kind the status (hl_result_status), its body the JSON envelope {"ok":…} or its raw bytes.
 */
hl_reply_to_t *hl_request_defer(hl_request_t *r, hl_actor_t *actor);

/**
 * Like hl_request_defer, but the result comes back to `then` on the worker's thread (with r NULL when the client has gone),
 * which owns the result and answers r itself.
 */
hl_reply_to_t *hl_request_defer_then(hl_request_t *r, hl_actor_t *actor,
                                     void (*then)(hl_request_t *r, hl_result_t *result, void *data), void *data);

/**
 * Like hl_request_defer, and a successful answer whose result carries a version (result->version) is kept under `key`
 * (copied) on this worker, to be served by hl_reply_cache_serve while the data stays at that version.
 */
hl_reply_to_t *hl_request_defer_cached(hl_request_t *r, hl_actor_t *actor, const char *key);

/** Answers r from the worker's cache when `key` was kept at `version`: true when answered. */
bool hl_reply_cache_serve(hl_request_t *r, const char *key, uint64_t version);

/** Answers r with a result (consumed), as a deferred request would be. */
void hl_reply_result(hl_request_t *r, hl_result_t *result);

/** The HTTP status of a result kind. */
int hl_result_status(hl_result_kind_t kind);

/**
 * The client's address as text ("127.0.0.1", "::1"), in pool memory; "unknown" when it cannot be read. When the TCP peer
 * is a trusted proxy (hl_dispatch_set_trusted_proxies), the client that X-Forwarded-For names (hl_xff_client).
 */
const char *hl_request_peer(const hl_request_t *r);

/** Posts a message to a worker. Any thread; ownership passes. */
void hl_worker_post(hl_worker_t *worker, hl_worker_msg_t *msg);

/** True once the worker has started shutting down (its thread only). */
bool hl_worker_shutting_down(const hl_worker_t *worker);

/**
 * A long-lived response (SSE) registers here so that shutdown can end it: `on_shutdown` runs once on the worker's thread
 * when the server stops and must finish the response (send FINAL). Unregister when the response ends first.
 */
typedef struct st_hl_stream_link_t {
    h2o_linklist_t _link;
    void (*on_shutdown)(struct st_hl_stream_link_t *link);
} hl_stream_link_t;

void hl_worker_add_stream(hl_worker_t *worker, hl_stream_link_t *link);
void hl_worker_remove_stream(hl_stream_link_t *link);

#endif
