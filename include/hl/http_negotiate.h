/*
 * Content negotiation helpers for static responses: If-None-Match against an entity tag, and whether a request's
 * Accept-Encoding admits gzip. Pure functions over header values (no h2o), unit-tested in tests/unit/test_negotiate.c.
 */
#ifndef HL_HTTP_NEGOTIATE_H
#define HL_HTTP_NEGOTIATE_H

#include <stdbool.h>
#include <stddef.h>

/* True when an If-None-Match value (h, hlen bytes: "*" or a comma-separated list of entity tags, weak or strong) names
 * etag (a quoted tag such as "\"abc\""), by the weak comparison RFC 9110 §13.1.2 asks for. */
bool hl_etag_matches(const char *h, size_t hlen, const char *etag);

/* True when an Accept-Encoding value (h, hlen bytes; NULL means no header) admits gzip: "gzip" or "x-gzip" listed with
 * a q-value above 0, or "*" with q above 0 when gzip itself is not listed. A missing header admits only identity. */
bool hl_accepts_gzip(const char *h, size_t hlen);

#endif
