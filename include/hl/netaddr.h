/*
 * Client addresses (core layer): address ranges for `trustedProxies`, the key under which caps and rate limits count a
 * client (an IPv4 address, or an IPv6 /64 since one IPv6 client owns a whole /64), and loopback. Pure functions.
 */
#ifndef HL_NETADDR_H
#define HL_NETADDR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "hl/common.h"

/** Room for an address's text (INET6_ADDRSTRLEN) and its NUL. */
#define HL_ADDR_TEXT_MAX 46

/** An address range; IPv4 is kept as IPv4-mapped IPv6 so that one comparison serves both families. */
typedef struct st_hl_cidr_t {
    uint8_t addr[16];
    int prefix; /* 0..128, in IPv6 bits */
} hl_cidr_t;

/** The key under which a client counts: 16 bytes (IPv4-mapped for IPv4, the /64 prefix with zeros for IPv6). */
typedef struct st_hl_addr_key_t {
    uint8_t b[16];
} hl_addr_key_t;

/** Parses "10.0.0.1", "10.0.0.0/8", "::1", "fd00::/8" (no host names). 0, or -EINVAL. */
int hl_cidr_parse(const char *s, hl_cidr_t *out) HL_WARN_UNUSED;

/** True when the 16-byte (IPv4-mapped or IPv6) address lies in the range. */
bool hl_cidr_contains(const hl_cidr_t *range, const uint8_t addr[16]);

/** True when the address lies in one of the ranges. */
bool hl_cidr_any_contains(const hl_cidr_t *ranges, size_t num_ranges, const uint8_t addr[16]);

/** Writes an address (IPv6 form) as text, IPv4-mapped ones as dotted IPv4. */
void hl_addr_text(const uint8_t addr[16], char out[HL_ADDR_TEXT_MAX]);

/** Writes the socket address's IPv6 form (IPv4 mapped) into addr16. False for other families. */
bool hl_sockaddr_to_v6(const struct sockaddr *sa, uint8_t addr16[16]);

/** Parses a textual address (IPv4 or IPv6, no brackets, no port) into its IPv6 form. False when it is not one. */
bool hl_addr_parse(const char *s, uint8_t addr16[16]);

/** The counting key of an address in IPv6 form (see hl_addr_key_t). */
hl_addr_key_t hl_addr_key(const uint8_t addr16[16]);

/** True for 127.0.0.0/8, ::1 and their mapped forms. */
bool hl_addr_is_loopback(const uint8_t addr16[16]);

/** True when the textual address (as given to --listen: no brackets, no port) is a loopback address. */
bool hl_host_is_loopback(const char *host);

#endif
