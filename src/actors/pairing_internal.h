/*
 * Private to the pairing actor (pairing.c, pairing_page.c).
 */
#ifndef HL_PAIRING_INTERNAL_H
#define HL_PAIRING_INTERNAL_H

#include <stdint.h>

#include "hl/json_job.h"
#include "hl/pairing.h"

typedef struct st_session_row_t {
    char *id, *link_id, *display_name, *local_api_url, *preferred_urls;
    char code_hash[65];
    int64_t created_at, expires_at, claimed_at, closed_at;
    int failed_attempts;
} session_row_t;

/** Loads a session by id: 0 or -ENOENT. */
int session_load(hl_db_t *db, const char *id, session_row_t *row);
void session_row_dispose(session_row_t *row);

/** "waiting" | "claimed" | "expired" (closed sessions read as expired). */
const char *session_state(const session_row_t *row, int64_t now);

/** The plaintext code of a waiting session, or NULL once claimed, expired or forgotten (e.g. after a restart). */
const char *pairing_code_of(hl_pairing_t *pr, const char *session_id, int64_t now);

/** The QR payload of a session (new reference). */
json_t *pairing_qr_payload(const hl_link_t *svc, const session_row_t *row, const char *code);

/** Renders the pairing page (malloc'd HTML). */
char *pairing_page_html(const hl_link_t *svc, const session_row_t *row, const char *code, int64_t now);

#endif
