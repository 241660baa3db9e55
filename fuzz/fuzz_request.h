/*
 * An in-process request for the fuzz targets: an hl_request_t over a zeroed h2o_req_t with its own memory pool, a raw
 * query string and request headers, enough for the request helpers (hl_request_query, hl_request_header,
 * hl_sse_request_cursor) without a server, a socket or a worker. Header-only: each target is one translation unit.
 */
#ifndef HL_FUZZ_REQUEST_H
#define HL_FUZZ_REQUEST_H

#include <string.h>

#include "hl/http.h"

typedef struct {
    h2o_req_t req;
    hl_request_t r;
} fuzz_request_t;

/** Prepares `f` with the raw query `query` (borrowed, `query_len` bytes, not decoded). Dispose with fuzz_request_dispose. */
static inline void fuzz_request_init(fuzz_request_t *f, const char *query, size_t query_len)
{
    memset(f, 0, sizeof(*f));
    h2o_mem_init_pool(&f->req.pool);
    f->r.req = &f->req;
    f->r.query = h2o_iovec_init(query, query_len);
}

/** Adds request header `name` (lowercase, NUL-terminated) with `len` bytes of `value` (copied into the pool). */
static inline void fuzz_request_header(fuzz_request_t *f, const char *name, const char *value, size_t len)
{
    h2o_iovec_t v = h2o_strdup(&f->req.pool, value, len);
    h2o_add_header_by_str(&f->req.pool, &f->req.headers, name, strlen(name), 1, NULL, v.base, v.len);
}

/** Frees the request's pool. */
static inline void fuzz_request_dispose(fuzz_request_t *f)
{
    h2o_mem_clear_pool(&f->req.pool);
}

#endif
