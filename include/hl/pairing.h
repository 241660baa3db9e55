/*
 * The pairing actor (src/actors/pairing.c): pairing sessions, connect tokens and claims, persisted in link.db with
 * codes and tokens stored only as SHA-256 hashes. The plaintext code of a waiting session stays in this actor's memory
 * (for the pairing page) until the session is claimed or expires. Every function posts a job and returns at once.
 */
#ifndef HL_PAIRING_H
#define HL_PAIRING_H

#include <jansson.h>

#include "hl/auth.h"
#include "hl/db.h"
#include "hl/link.h"
#include "hl/reply.h"

/**
 * Failed claims that name an existing session (a wrong code, a claim of a claimed session) allowed per client address
 * (see hl_pairing_addr_key) per window before 429 rate_limited. Unknown session ids are answered 404 and never counted:
 * they cannot lock out the other clients behind one NAT or tunnel.
 */
#define HL_PAIRING_RATE_LIMIT 30
#define HL_PAIRING_RATE_WINDOW_MS (60LL * 1000)
/** Wrong codes after which a session is closed (then it answers like an expired one): the lock-out per session. */
#define HL_PAIRING_MAX_BAD_CODES 5

/** Size of a buffer for hl_pairing_addr_key. */
#define HL_PAIRING_ADDR_KEY_MAX 64

/**
 * The key under which a client address is rate limited: an IPv4 address as is (also when a dual-stack listener reports
 * it mapped into IPv6), an IPv6 address by its /64 ("2001:db8:1:2::/64"), since one subscriber's prefix is /64 and it
 * may rotate addresses within it at will; anything else as is. Loopback addresses are not special (each one is its own
 * key). Any thread.
 */
void hl_pairing_addr_key(const char *peer, char out[HL_PAIRING_ADDR_KEY_MAX]);

typedef struct st_hl_pairing_t hl_pairing_t;

/** Prepares the pairing actor on link.db; a successful claim creates its device through `auth`. Main thread. */
int hl_pairing_init(hl_pairing_t **out, const hl_link_t *link, hl_auth_t *auth) HL_WARN_UNUSED;

/** The actor (start, stop, and the in-flight bound of requests to it). */
hl_actor_t *hl_pairing_actor(hl_pairing_t *pr);

/** Frees it after hl_actor_stop (or when never started). Main thread. */
void hl_pairing_dispose(hl_pairing_t *pr);

/**
 * Creates a pairing session and its connect token; the result's body is
 * {"qr_payload", "pairing_page_urls", "web_client_url", "session_id", "connect_token", "expires_at"}
 * (web_client_url: hl_web_client_url of the first preferred URL).
 */
void hl_pairing_create(hl_pairing_t *pr, hl_reply_to_t *reply_to);

/** GET /api/v1/pairing/session. `session_id` may be NULL (answers 400). `peer` is the client address. */
void hl_pairing_get_session(hl_pairing_t *pr, hl_reply_to_t *reply_to, const char *session_id, const char *peer);

/** POST /api/v1/pairing/claim with the request body (borrowed; read before returning). */
void hl_pairing_claim(hl_pairing_t *pr, hl_reply_to_t *reply_to, json_t *body, const char *peer);

/**
 * POST /api/v1/auth/device-session: consumes the connect token (single use) and enrols a new device through the auth
 * actor; 401 auth_invalid when the token is unknown, used or expired. Takes ownership of `desc`.
 */
void hl_pairing_enroll(hl_pairing_t *pr, hl_reply_to_t *reply_to, const char *token, size_t token_len,
                       hl_device_descriptor_t *desc);

/** GET /pair?session_id=: answers the HTML pairing page (or the spec's text/plain 404). */
void hl_pairing_page(hl_pairing_t *pr, hl_reply_to_t *reply_to, const char *session_id, const char *peer);

/**
 * The Content-Security-Policy of the pairing page: its one inline script and one inline style by their SHA-256, fetches to
 * its own origin, nothing else (no framing, no forms, no base). Static storage, computed once; any thread.
 */
const char *hl_pairing_page_csp(void);

#endif
