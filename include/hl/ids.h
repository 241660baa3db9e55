/*
 * Random identifiers and token helpers built on OpenSSL. Thread-safe.
 */
#ifndef HL_IDS_H
#define HL_IDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hl/common.h"

/** Fills buf with cryptographically secure random bytes; aborts if the RNG fails. */
void hl_random_bytes(void *buf, size_t len);

/** Returns prefix followed by the lowercase hex of `nbytes` random bytes ("link_" + 32 hex for 16). Caller frees. */
char *hl_random_hex_id(const char *prefix, size_t nbytes);

/** Lowercase hex of `len` bytes into out (2*len+1 bytes). Returns out. */
char *hl_hex(const void *data, size_t len, char *out);

/** Unpadded base64url of `len` bytes. Caller frees. */
char *hl_base64url(const void *data, size_t len);

/** SHA-256 of data into out (fetched implementation, one reusable context per thread). Any thread. */
void hl_sha256(const void *data, size_t len, unsigned char out[32]);

/** SHA-256 of data as lowercase hex into out (65 bytes). Returns out. */
char *hl_sha256_hex(const void *data, size_t len, char out[65]);

/** Constant-time comparison of two equal-length buffers (false when lengths differ). */
bool hl_consttime_equal(const void *a, size_t alen, const void *b, size_t blen);

#endif
