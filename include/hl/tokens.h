/*
 * Token and device-descriptor helpers shared by the auth and pairing actors and the worker-side bearer check
 * (spec/FLOWS.md §1). Pure functions, any thread.
 */
#ifndef HL_TOKENS_H
#define HL_TOKENS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HL_ACCESS_PREFIX "hlat_"
#define HL_REFRESH_PREFIX "hlrt_"
#define HL_ACCESS_TTL_MS (2LL * 60 * 60 * 1000)
#define HL_REFRESH_TTL_MS (90LL * 24 * 60 * 60 * 1000)
#define HL_CONNECT_TTL_MS (5LL * 60 * 1000)
#define HL_REFRESH_GRACE_MS (30LL * 1000)
#define HL_LABEL_MAX 128
#define HL_PLATFORM_MAX 48
#define HL_MODEL_MAX 128
#define HL_DEFAULT_DEVICE_LABEL "HermesPilot App"

/** A SHA-256 digest, the only form in which tokens are stored or published. */
typedef struct st_hl_token_hash_t {
    unsigned char bytes[32];
} hl_token_hash_t;

/** New access token "hlat_" + base64url(24 random bytes). Caller frees. */
char *hl_token_new_access(void);
/** New refresh token "hlrt_" + base64url(24 random bytes). Caller frees. */
char *hl_token_new_refresh(void);
/** New connect token: base64url(32 random bytes), 43 chars, no prefix. Caller frees. */
char *hl_token_new_connect(void);

/** SHA-256 of a token. */
void hl_token_hash(const char *token, size_t len, hl_token_hash_t *out);

/** Lowercase hex of a token hash into out (65 bytes). Returns out. */
char *hl_token_hash_hex(const hl_token_hash_t *h, char out[65]);

/** Parses 64 hex chars into a hash. 0 or -1. */
int hl_token_hash_from_hex(const char *hex, hl_token_hash_t *out);

/**
 * Extracts the bearer token from an Authorization header value: scheme "Bearer" case-insensitive, token trimmed.
 * Returns false when the header is not a usable bearer (missing scheme, empty token).
 */
bool hl_bearer_from_header(const char *value, size_t len, const char **token, size_t *token_len);

/** True for "appi_" + 16..96 of [A-Za-z0-9_-] (after trimming). */
bool hl_app_instance_valid(const char *s, size_t len);

/** sha256_hex("hermespilot-app-instance:" + id) into out (65 bytes). */
char *hl_app_instance_hash(const char *id, size_t len, char out[65]);

/**
 * Normalises a device descriptor field (FLOWS.md §1.2 / API.md §3): trimmed, cut to `max` characters (UTF-8 aware),
 * `lower` lower-cases ASCII; an empty result gives `fallback` (which may be NULL). Caller frees the non-NULL result.
 */
char *hl_normalize_descriptor(const char *s, size_t max, bool lower, const char *fallback);

#endif
