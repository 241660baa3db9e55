/*
 * Route table: method + path pattern with ":param" segments. Literal segments win over parameters at the same
 * position, with backtracking (so "DELETE /conversations/search" still reaches "DELETE /conversations/:id" when the
 * literal "search" route has no DELETE). Parameters are percent-decoded. Built once by the main thread, then read
 * concurrently by every worker without locks.
 */
#ifndef HL_ROUTER_H
#define HL_ROUTER_H

#include <stddef.h>

#include "hl/common.h"

#define HL_ROUTE_MAX_PARAMS 8

typedef enum {
    HL_METHOD_GET = 1 << 0,
    HL_METHOD_HEAD = 1 << 1,
    HL_METHOD_POST = 1 << 2,
    HL_METHOD_PUT = 1 << 3,
    HL_METHOD_PATCH = 1 << 4,
    HL_METHOD_DELETE = 1 << 5,
    HL_METHOD_OPTIONS = 1 << 6,
} hl_method_t;

struct st_hl_request_t;
typedef void (*hl_route_handler_t)(struct st_hl_request_t *req);

/* route flags */
#define HL_ROUTE_NO_STORE 0x1       /* Cache-Control: no-store on the reply */
#define HL_ROUTE_JSON_BODY 0x2      /* the handler reads a JSON body: parsed before the call, 400 invalid_json if bad */
#define HL_ROUTE_AUTH 0x4           /* bearer token required */
#define HL_ROUTE_RAW_BODY 0x8       /* the handler reads a raw body (uploads) */
#define HL_ROUTE_CONNECT_TOKEN 0x10 /* bearer must be a connect token (device-session): checked before the body */

typedef struct st_hl_route_t {
    hl_method_t method; /* one method; GET routes also answer HEAD */
    const char *pattern;
    hl_route_handler_t handler;
    unsigned flags;
    size_t body_limit; /* 0 = HL_DEFAULT_BODY_LIMIT for routes that read a body */
} hl_route_t;

typedef enum { HL_MATCH_FOUND, HL_MATCH_METHOD_NOT_ALLOWED, HL_MATCH_NOT_FOUND, HL_MATCH_BAD_PATH } hl_match_status_t;

typedef struct st_hl_route_match_t {
    const hl_route_t *route;
    size_t num_params;
    struct {
        const char *name;
        const char *value; /* decoded, NUL-terminated, inside the caller's buffer */
        size_t len;
    } params[HL_ROUTE_MAX_PARAMS];
    /** methods registered for this path (HEAD included with GET); set for every status but NOT_FOUND */
    unsigned allowed;
} hl_route_match_t;

typedef struct st_hl_router_t hl_router_t;

/** Creates an empty router. */
hl_router_t *hl_router_new(void);

/** Adds a route (the struct is referenced, not copied). -EEXIST for a duplicate method+pattern, -EINVAL for a bad one. */
int hl_router_add(hl_router_t *router, const hl_route_t *route) HL_WARN_UNUSED;

/** Frees the router (not the routes). */
void hl_router_free(hl_router_t *router);

/** Parses a method token; 0 when unknown. */
hl_method_t hl_method_from_string(const char *s, size_t len);

/**
 * Matches `method` and `path` (no query string). `buf` must hold path_len + 1 bytes; decoded parameters are stored in it.
 * HEAD matches GET routes; OPTIONS reports the path's allowed methods as METHOD_NOT_ALLOWED unless an OPTIONS route
 * exists. BAD_PATH: malformed percent-encoding or a decoded NUL. Thread-safe for concurrent readers.
 */
hl_match_status_t hl_router_match(const hl_router_t *router, hl_method_t method, const char *path, size_t path_len, char *buf,
                                  hl_route_match_t *match);

/**
 * Calls cb once for every registered route, depth first (literal segments before parameters, each node's routes in
 * registration order). The router must not change during the walk. Any thread, with the router read-only.
 */
void hl_router_foreach(const hl_router_t *router, void (*cb)(const hl_route_t *route, void *data), void *data);

/** Writes the Allow header value for a method mask ("HEAD, GET, POST") into buf. Returns buf. */
char *hl_router_allow_header(unsigned allowed, char *buf, size_t len);

/** Percent-decodes len bytes of s into out (at least len + 1 bytes), NUL-terminated. -EINVAL on bad escapes or NUL. */
int hl_percent_decode(const char *s, size_t len, char *out, size_t *out_len) HL_WARN_UNUSED;

#endif
