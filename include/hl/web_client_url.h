/*
 * The web-client pairing URL (src/core/web_client_url.c): the address that opens the web client at /app already holding
 * a pairing session, `<base>/app#session=<session id>&code=<connect token>`. The claim travels in the URL fragment,
 * which a browser never sends to a server (no request line, no access log, no Referer). Used by the pairing page (its
 * second QR code and its "Pair on this device" button) and by the daemon's `pair` answer (`hermeslink pair --web`,
 * `--json`'s web_client_url). Pure functions, any thread.
 */
#ifndef HL_WEB_CLIENT_URL_H
#define HL_WEB_CLIENT_URL_H

#include <jansson.h>

/**
 * `<base>/app#session=<session_id>&code=<code>` with both values percent-encoded (every byte but A-Z a-z 0-9 - . _ ~
 * becomes %XX) and one trailing '/' of base dropped. base "" (or NULL) gives the same-origin path "/app#…". Caller frees.
 */
char *hl_web_client_url(const char *base, const char *session_id, const char *code);

/**
 * The base of the web-client URL of a pairing session: the first of its preferred_urls (hl_preferred_urls orders them
 * publicUrl first, then the LAN URLs the daemon listens on, loopback last), or `fallback` (the session's local URL) when
 * that array is empty or not an array of strings. Borrowed from the arguments.
 */
const char *hl_web_client_base(const json_t *preferred_urls, const char *fallback);

#endif
