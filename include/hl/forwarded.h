/*
 * X-Forwarded-For (core layer): which address a request came from when it passed through trusted reverse proxies
 * (config `trustedProxies`). A pure function, so that the walk is tested on its own; the http layer feeds it the TCP
 * peer and the request's header values.
 */
#ifndef HL_FORWARDED_H
#define HL_FORWARDED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hl/netaddr.h"

/** One X-Forwarded-For header value (not NUL-terminated). */
typedef struct st_hl_xff_value_t {
    const char *base;
    size_t len;
} hl_xff_value_t;

/**
 * Names the client of a request whose TCP peer is `peer` (IPv6 form, IPv4 mapped) and whose X-Forwarded-For headers are
 * `values` (in the order received; several headers count as one list joined by commas). Only when the peer lies in one
 * of `ranges` is the header used: its entries are walked from the right, skipping addresses that are themselves in
 * `ranges`, and the first other one is the client (when all are trusted, the leftmost). An entry that is not a plain
 * IPv4 or IPv6 address (empty, a port, a name, brackets) ends the walk at the last good address to its right.
 * Returns true and writes the client's text ("198.51.100.7", "2001:db8::1"; mapped IPv4 as IPv4) into out when the
 * header names it; false when the peer itself is the client (peer untrusted, no values, or no good entry).
 */
bool hl_xff_client(const uint8_t peer[16], const hl_xff_value_t *values, size_t num_values, const hl_cidr_t *ranges,
                   size_t num_ranges, char out[HL_ADDR_TEXT_MAX]);

#endif
