/*
 * Helpers of the auth / pairing / devices / status suites: authenticated API calls, connect tokens from `hermeslink pair
 * --json`, device sessions (enrolment and claims) with the exact response shapes of spec/API.md §3, the daemon's test
 * clock, JSON shape checks and ISO timestamps.
 */
#ifndef HLT_AUTH_UTIL_H
#define HLT_AUTH_UTIL_H

#include <stdint.h>

#include "harness.h"

#define HLT_ACCESS_TTL_MS (2LL * 60 * 60 * 1000)
#define HLT_REFRESH_TTL_MS (90LL * 24 * 60 * 60 * 1000)
#define HLT_CONNECT_TTL_MS (5LL * 60 * 1000)

/**
 * The local address hlt_api connects from (printf format, e.g. "127.0.3.%d"); NULL for the default. The daemon rate
 * limits failed pairing attempts per client address, so tests sharing a daemon use addresses of their own.
 */
void hlt_api_set_source(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *hlt_api_source(void);

/**
 * Performs `method path` over proto with an optional bearer token ("Authorization: Bearer <bearer>"), extra headers
 * (NULL-terminated, may be NULL) and body (sent as is when non-NULL). Asserts that the transfer completed over proto.
 */
void hlt_api_ex(const hlt_daemon_t *d, hlt_proto_t proto, const char *method, const char *path, const char *const *headers,
                const char *bearer, const char *body, hlt_response_t *res);
#define hlt_api(d, proto, method, path, bearer, body, res) hlt_api_ex(d, proto, method, path, NULL, bearer, body, res)

/** Asserts status 200, a JSON object with "ok": true, JSON content type and CORS. */
void hlt_assert_ok(const hlt_response_t *res);
/** Asserts a header value (exact, case-sensitive value), or its absence when want is NULL. */
void hlt_assert_header(const hlt_response_t *res, const char *name, const char *want);

/** Asserts that obj is an object with exactly the given keys (NULL-terminated). */
void hlt_assert_keys(json_t *obj, const char *what, ...) __attribute__((sentinel));
/** The string at obj[key], asserting that it is one. */
const char *hlt_str(json_t *obj, const char *key);
/** Parses "YYYY-MM-DDTHH:MM:SS.mmmZ" (the daemon's format, milliseconds required); -1 if it is not that. */
int64_t hlt_parse_iso(const char *s);
/** Asserts the daemon's ISO format and returns the time. */
int64_t hlt_iso(json_t *obj, const char *key);
/** Formats ms as the daemon's ISO format into buf (at least 25 bytes). */
const char *hlt_format_iso(int64_t ms, char *buf);
/** True if s matches the extended regular expression. */
int hlt_matches(const char *s, const char *pattern);

/** Advances the daemon's wall clock (POST /__test/clock) and returns the daemon's new "now" in ms. */
int64_t hlt_clock_advance(const hlt_daemon_t *d, int64_t ms);
/** The daemon's "now" in ms (advances its clock by 0). */
int64_t hlt_daemon_now(const hlt_daemon_t *d);

/** A pairing session made by `hermeslink pair --json`. */
typedef struct st_hlt_pairing_t {
    json_t *json; /* the whole output */
    const char *session_id, *connect_token, *expires_at, *link_id;
} hlt_pairing_t;

/**
 * Creates a pairing session on the daemon of env the way `hermeslink pair --json` does, but without a process: the same
 * "pair" command on control.sock (the CLI's output itself is tested with hlt_pair_cli). Asserts the result's shape.
 */
void hlt_pair(hlt_env_t *env, hlt_pairing_t *p);
/** Runs `hermeslink pair --json` in env, asserting success and the output's shape. */
void hlt_pair_cli(hlt_env_t *env, hlt_pairing_t *p);
void hlt_pairing_free(hlt_pairing_t *p);

/** A device session: the tokens of a device-session, claim or refresh response. */
typedef struct st_hlt_device_t {
    char *id, *access, *refresh;
    json_t *json; /* the response body */
} hlt_device_t;

/**
 * Asserts the exact response of POST /auth/device-session or /pairing/claim (with_link) or /auth/refresh (without):
 * {ok, [link{link_id, display_name}], device{id, device_id, label, platform, model, scope}, access_token{token,
 * expires_at}, refresh_token{…}}, token formats, and expiries 2 h / 90 d after daemon_now (± a few seconds; pass -1 to
 * skip). link_id, when not NULL, is the one expected. Fills out (may be NULL).
 */
void hlt_assert_session(const hlt_response_t *res, int with_link, const char *link_id, int64_t daemon_now, hlt_device_t *out);
void hlt_device_free(hlt_device_t *dev);

/** POST /auth/device-session with a connect token and body; asserts 200 and the shape. */
void hlt_device_session(const hlt_daemon_t *d, hlt_proto_t proto, const char *connect_token, const char *body, hlt_device_t *dev);
/** `pair` and then POST /auth/device-session with body (NULL for none). */
void hlt_enroll(const hlt_daemon_t *d, hlt_proto_t proto, const char *body, hlt_device_t *dev);
/** POST /auth/refresh {"refresh_token": token}; the response is left in res. */
void hlt_refresh(const hlt_daemon_t *d, hlt_proto_t proto, const char *token, hlt_response_t *res);

/** GET /api/v1/devices with bearer; asserts 200 and returns the body (new reference). */
json_t *hlt_list_devices(const hlt_daemon_t *d, hlt_proto_t proto, const char *bearer);
/** The item of device id in a GET /devices body (borrowed), NULL if not listed. */
json_t *hlt_find_device(json_t *list, const char *id);

/** Asserts that bearer is refused on GET /api/v1/auth/me with 401 code. */
void hlt_assert_refused(const hlt_daemon_t *d, hlt_proto_t proto, const char *bearer, const char *code);
/** Asserts that bearer is accepted on GET /api/v1/auth/me as device id; returns nothing. */
void hlt_assert_accepted(const hlt_daemon_t *d, hlt_proto_t proto, const char *bearer, const char *id);

/**
 * Sends n requests at once: one connection each over HTTP/1.1, multiplexed on one connection over HTTP/2 (use h2c by
 * Upgrade or TLS, see hlt_multi_drive). paths[i] is required; bearers and bodies may be NULL (arrays) or hold NULLs.
 * Asserts that every transfer completed over proto.
 */
void hlt_parallel(const hlt_daemon_t *d, hlt_proto_t proto, size_t n, const char *method, const char *const *paths,
                  const char *const *bearers, const char *const *bodies, hlt_response_t *res);

/** Like hlt_daemon_stop_clean, with the report cut to what a Check message can carry. */
void hlt_assert_stop_clean(hlt_daemon_t *d);

/** A loopback TCP port that was free a moment ago. */
int hlt_free_port(void);

#endif
