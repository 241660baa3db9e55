/*
 * The pairing actor: sessions, connect tokens, claims and their rate limits. Claims are serialised here, so of N racing
 * claims exactly one succeeds; the winning claim's device is created by the auth actor only after this actor committed
 * the claim, so the next session query already reports it claimed.
 */
#include <errno.h>
#include <string.h>

#include "hl/link.h"
#include "hl/clock.h"
#include "hl/ids.h"
#include "hl/json_util.h"
#include "hl/log.h"
#include "hl/netaddr.h"
#include "hl/snapshot.h"
#include "hl/tokens.h"
#include "hl/web_client_url.h"
#include "pairing_internal.h"

#define MAX_RATE_ENTRIES 4096
#define SESSION_RETENTION_MS (24LL * 60 * 60 * 1000)

typedef struct st_code_entry_t {
    char *session_id;
    char *code;
    int64_t expires_at;
} code_entry_t;

typedef struct st_rate_entry_t {
    char addr[HL_PAIRING_ADDR_KEY_MAX]; /* hl_pairing_addr_key */
    int64_t window_start;
    unsigned failures;
} rate_entry_t;

/* The pairing actor: its db actor, what it was given at init, and its memory-only state (actor thread only). */
struct st_hl_pairing_t {
    hl_db_actor_t actor;
    const hl_link_t *svc;
    hl_auth_t *auth; /* creates the device of a successful claim */
    code_entry_t *codes;
    size_t num_codes;
    rate_entry_t *rates;
    size_t num_rates;
};

static hl_pairing_t *pairing_of(hl_db_t *db)
{
    return hl_db_data(db);
}

/* ---- plaintext codes (memory only) ---- */

static void code_free(code_entry_t *c)
{
    free(c->session_id);
    if (c->code != NULL)
        memset(c->code, 0, strlen(c->code));
    free(c->code);
}

static void forget_code(hl_pairing_t *pr, const char *session_id)
{
    for (size_t i = 0; i < pr->num_codes; ++i) {
        if (strcmp(pr->codes[i].session_id, session_id) == 0) {
            code_free(&pr->codes[i]);
            pr->codes[i] = pr->codes[--pr->num_codes];
            return;
        }
    }
}

static void prune_codes(hl_pairing_t *pr, int64_t now)
{
    for (size_t i = 0; i < pr->num_codes;) {
        if (pr->codes[i].expires_at <= now) {
            code_free(&pr->codes[i]);
            pr->codes[i] = pr->codes[--pr->num_codes];
        } else {
            ++i;
        }
    }
}

const char *pairing_code_of(hl_pairing_t *pr, const char *session_id, int64_t now)
{
    for (size_t i = 0; i < pr->num_codes; ++i)
        if (strcmp(pr->codes[i].session_id, session_id) == 0)
            return pr->codes[i].expires_at > now ? pr->codes[i].code : NULL;
    return NULL;
}

/* ---- rate limiting per client address ---- */

void hl_pairing_addr_key(const char *peer, char out[HL_PAIRING_ADDR_KEY_MAX])
{
    /* the caps' counting key as text (hl_addr_key: IPv4 as is, also when mapped into IPv6 by a dual-stack listener,
     * never the /64 all of IPv4 maps into; IPv6 by its /64) */
    uint8_t addr[16];
    if (peer == NULL || !hl_addr_parse(peer, addr)) {
        snprintf(out, HL_PAIRING_ADDR_KEY_MAX, "%s", peer != NULL ? peer : "");
        return;
    }
    hl_addr_key_t key = hl_addr_key(addr);
    char text[HL_ADDR_TEXT_MAX];
    hl_addr_text(key.b, text);
    snprintf(out, HL_PAIRING_ADDR_KEY_MAX, strchr(text, ':') == NULL ? "%s" : "%s/64", text);
}

static rate_entry_t *rate_entry(hl_pairing_t *pr, const char *addr, int64_t now, int create)
{
    rate_entry_t *oldest = NULL;
    for (size_t i = 0; i < pr->num_rates; ++i) {
        rate_entry_t *e = &pr->rates[i];
        if (strcmp(e->addr, addr) == 0) {
            if (now - e->window_start >= HL_PAIRING_RATE_WINDOW_MS) {
                e->window_start = now;
                e->failures = 0;
            }
            return e;
        }
        if (oldest == NULL || e->window_start < oldest->window_start)
            oldest = e;
    }
    if (!create)
        return NULL;
    rate_entry_t *e;
    if (pr->num_rates < MAX_RATE_ENTRIES) {
        pr->rates = hl_realloc(pr->rates, sizeof(*pr->rates) * (pr->num_rates + 1));
        e = &pr->rates[pr->num_rates++];
    } else {
        e = oldest; /* bounded memory: the stalest address makes room */
    }
    snprintf(e->addr, sizeof(e->addr), "%s", addr);
    e->window_start = now;
    e->failures = 0;
    return e;
}

/* 0 when the address may try, else the seconds until it may (the caller answers 429). */
static int64_t rate_limited(hl_pairing_t *pr, const char *peer, int64_t now)
{
    char key[HL_PAIRING_ADDR_KEY_MAX];
    hl_pairing_addr_key(peer, key);
    rate_entry_t *e = rate_entry(pr, key, now, 0);
    if (e == NULL || e->failures < HL_PAIRING_RATE_LIMIT)
        return 0;
    int64_t wait_ms = e->window_start + HL_PAIRING_RATE_WINDOW_MS - now;
    return wait_ms <= 0 ? 1 : (wait_ms + 999) / 1000;
}

/* Counts a failure that named an existing session. Unknown session ids are never counted: anyone can make them up, and
 * counting them let one client lock out every other behind the same NAT or tunnel (issue 9, finding 5). */
static void rate_fail(hl_pairing_t *pr, const char *peer, int64_t now)
{
    char key[HL_PAIRING_ADDR_KEY_MAX];
    hl_pairing_addr_key(peer, key);
    rate_entry(pr, key, now, 1)->failures++;
}

static void prune_rates(hl_pairing_t *pr, int64_t now)
{
    for (size_t i = 0; i < pr->num_rates;) {
        if (now - pr->rates[i].window_start >= HL_PAIRING_RATE_WINDOW_MS)
            pr->rates[i] = pr->rates[--pr->num_rates];
        else
            ++i;
    }
}

/* ---- rows ---- */

int session_load(hl_db_t *db, const char *id, session_row_t *row)
{
    sqlite3_stmt *st = hl_db_stmt(db, "SELECT id, link_id, display_name, local_api_url, preferred_urls, code_hash, created_at, "
                                      "expires_at, claimed_at, closed_at, failed_attempts FROM pairing_sessions WHERE id = ?1");
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int found = hl_db_step(st) == SQLITE_ROW;
    if (found) {
        memset(row, 0, sizeof(*row));
        row->id = hl_db_text(st, 0);
        row->link_id = hl_db_text(st, 1);
        row->display_name = hl_db_text(st, 2);
        row->local_api_url = hl_db_text(st, 3);
        row->preferred_urls = hl_db_text(st, 4);
        snprintf(row->code_hash, sizeof(row->code_hash), "%s", (const char *)sqlite3_column_text(st, 5));
        row->created_at = sqlite3_column_int64(st, 6);
        row->expires_at = sqlite3_column_int64(st, 7);
        row->claimed_at = sqlite3_column_int64(st, 8);
        row->closed_at = sqlite3_column_int64(st, 9);
        row->failed_attempts = sqlite3_column_int(st, 10);
    }
    sqlite3_reset(st);
    return found ? 0 : -ENOENT;
}

void session_row_dispose(session_row_t *row)
{
    free(row->id);
    free(row->link_id);
    free(row->display_name);
    free(row->local_api_url);
    free(row->preferred_urls);
    memset(row, 0, sizeof(*row));
}

const char *session_state(const session_row_t *row, int64_t now)
{
    if (row->claimed_at != 0)
        return "claimed";
    if (row->closed_at != 0 || row->expires_at <= now)
        return "expired";
    return "waiting";
}

static json_t *session_json(const session_row_t *row)
{
    json_t *urls = json_loads(row->preferred_urls, 0, NULL);
    return json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:b}", "session_id", row->id, "link_id", row->link_id, "display_name",
                     row->display_name, "local_api_url", row->local_api_url, "preferred_urls", urls ? urls : json_array(),
                     "created_at", hl_json_iso(row->created_at), "expires_at", hl_json_iso(row->expires_at), "claimed",
                     row->claimed_at != 0);
}

json_t *pairing_qr_payload(const hl_link_t *svc, const session_row_t *row, const char *code)
{
    json_t *urls = hl_snapshot_urls();
    json_t *preferred = json_loads(row->preferred_urls, 0, NULL);
    json_t *p = json_pack("{s:s, s:i, s:s, s:s, s:s, s:s, s:o, s:O}", "kind", "hermes_link_pairing", "version", 1, "link_id",
                          row->link_id, "display_name", row->display_name, "session_id", row->id, "code", code, "preferred_urls",
                          preferred ? preferred : json_array(), "lan_ips", json_object_get(urls, "lan_ips"));
    if (svc->tls_port >= 0) {
        json_object_set_new(p, "tls_fingerprint", json_string(svc->tls->fingerprint));
        json_object_set(p, "tls_urls", json_object_get(urls, "tls_urls"));
    }
    json_decref(urls);
    return p;
}

static bool session_id_valid(const char *id)
{
    size_t len = id != NULL ? strlen(id) : 0;
    if (len < 4 || len > 64 || strncmp(id, "ps_", 3) != 0)
        return false;
    for (size_t i = 3; i < len; ++i) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
            return false;
    }
    return true;
}

/* ---- create (control socket) ---- */

typedef struct st_create_job_t {
    hl_json_job_t super;
    hl_pairing_t *pr;
    char *session_id, *code;
    int64_t expires_at;
} create_job_t;

static int exec_create(hl_json_job_t *base, hl_db_t *db)
{
    create_job_t *job = (create_job_t *)base;
    int64_t now = hl_now_ms();
    unsigned char raw[12];
    hl_random_bytes(raw, sizeof(raw));
    char *b64 = hl_base64url(raw, sizeof(raw));
    job->session_id = hl_asprintf("ps_%s", b64);
    free(b64);
    job->code = hl_token_new_connect();
    job->expires_at = now + HL_CONNECT_TTL_MS;
    hl_token_hash_t h;
    char hex[65];
    hl_token_hash(job->code, strlen(job->code), &h);
    hl_token_hash_hex(&h, hex);

    json_t *urls = hl_snapshot_urls();
    json_t *preferred = json_object_get(urls, "preferred_urls");
    const char *local = json_string_value(json_array_get(preferred, 0));
    const hl_link_t *svc = job->pr->svc;
    /* no address known yet: the loopback URL the same rules give (the last of the preferred URLs) */
    json_t *own =
        local == NULL ? hl_preferred_urls(svc->config, NULL, svc->plain_host, svc->port, svc->listen_host, svc->tls_port) : NULL;
    if (local == NULL)
        local = json_string_value(json_array_get(own, json_array_size(own) - 1));
    char *preferred_text = json_dumps(preferred, JSON_COMPACT);
    sqlite3_stmt *st = hl_db_stmt(db, "INSERT INTO pairing_sessions(id, code_hash, link_id, display_name, local_api_url, "
                                      "preferred_urls, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
    sqlite3_bind_text(st, 1, job->session_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, hex, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, job->pr->svc->identity->link_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, HL_DISPLAY_NAME, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, local, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, preferred_text, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, now);
    sqlite3_bind_int64(st, 8, job->expires_at);
    int ret = hl_db_exec(st);
    free(preferred_text);
    json_decref(own);
    if (ret == 0) {
        st = hl_db_stmt(db, "INSERT INTO connect_tokens(token_hash, session_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)");
        sqlite3_bind_text(st, 1, hex, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, job->session_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, now);
        sqlite3_bind_int64(st, 4, job->expires_at);
        ret = hl_db_exec(st);
    }
    if (ret != 0) {
        json_decref(urls);
        return -1;
    }
    session_row_t row;
    if (session_load(db, job->session_id, &row) != 0) {
        json_decref(urls);
        return -1;
    }
    json_t *page_urls = json_array();
    size_t i;
    json_t *u;
    json_array_foreach(preferred, i, u)
    {
        char *url = hl_asprintf("%s/pair?session_id=%s", json_string_value(u), job->session_id);
        json_array_append_new(page_urls, json_string(url));
        free(url);
    }
    /* the web client on the phone: the first preferred URL (publicUrl, else the first LAN URL), the claim in the fragment */
    char *web = hl_web_client_url(hl_web_client_base(preferred, row.local_api_url), job->session_id, job->code);
    json_t *result = json_pack("{s:o, s:o, s:s, s:s, s:s, s:o}", "qr_payload", pairing_qr_payload(job->pr->svc, &row, job->code),
                               "pairing_page_urls", page_urls, "web_client_url", web, "session_id", job->session_id,
                               "connect_token", job->code, "expires_at", hl_json_iso(job->expires_at));
    free(web);
    session_row_dispose(&row);
    json_decref(urls);
    return hl_json_job_ok(base, HL_RESULT_OK, result);
}

static void create_after_commit(hl_json_job_t *base)
{
    create_job_t *job = (create_job_t *)base;
    hl_pairing_t *pr = job->pr;
    pr->codes = hl_realloc(pr->codes, sizeof(*pr->codes) * (pr->num_codes + 1));
    code_entry_t *c = &pr->codes[pr->num_codes++];
    c->session_id = hl_strdup(job->session_id);
    c->code = hl_strdup(job->code);
    c->expires_at = job->expires_at;
    hl_log(HL_LOG_INFO, "pairing_session_created", json_pack("{s:s}", "session_id", job->session_id));
}

static void create_dispose(hl_json_job_t *base)
{
    create_job_t *job = (create_job_t *)base;
    free(job->session_id);
    if (job->code != NULL)
        memset(job->code, 0, strlen(job->code));
    free(job->code);
}

void hl_pairing_create(hl_pairing_t *pr, hl_reply_to_t *reply_to)
{
    create_job_t *job = hl_json_job_new(sizeof(*job), reply_to, exec_create);
    job->pr = pr;
    job->super.after_commit = create_after_commit;
    job->super.dispose = create_dispose;
    hl_db_actor_post(&pr->actor, &job->super.super);
}

/* ---- session query ---- */

typedef struct st_lookup_job_t {
    hl_json_job_t super;
    hl_pairing_t *pr;
    char *session_id;
    char *peer;
    int page; /* answer with the HTML page instead of JSON */
} lookup_job_t;

static void lookup_dispose(hl_json_job_t *base)
{
    lookup_job_t *job = (lookup_job_t *)base;
    free(job->session_id);
    free(job->peer);
}

static int too_many(hl_json_job_t *job, int64_t retry_after)
{
    hl_result_t *res = hl_result_error(HL_RESULT_RATE_LIMITED, "rate_limited", "Too many failed pairing attempts; retry later");
    res->retry_after_s = retry_after > INT32_MAX ? INT32_MAX : (int)retry_after;
    return hl_json_job_set(job, res);
}

static int exec_get_session(hl_json_job_t *base, hl_db_t *db)
{
    lookup_job_t *job = (lookup_job_t *)base;
    int64_t now = hl_now_ms(), wait;
    if ((wait = rate_limited(job->pr, job->peer, now)) != 0)
        return too_many(base, wait);
    if (job->session_id == NULL || job->session_id[0] == '\0')
        return hl_json_job_error(base, HL_RESULT_INVALID, "pairing_session_required", "session_id is required");
    session_row_t row;
    if (!session_id_valid(job->session_id) || session_load(db, job->session_id, &row) != 0)
        return hl_json_job_error(base, HL_RESULT_NOT_FOUND, "pairing_session_not_found", "Pairing session not found");
    int ret;
    if (strcmp(session_state(&row, now), "expired") == 0) {
        ret = hl_json_job_error(base, HL_RESULT_NOT_FOUND, "pairing_session_expired", "Pairing session has expired");
    } else {
        ret = hl_json_job_ok(base, HL_RESULT_OK, json_pack("{s:o}", "session", session_json(&row)));
        base->result->no_store = true;
    }
    session_row_dispose(&row);
    return ret;
}

static lookup_job_t *lookup_job(hl_pairing_t *pr, hl_reply_to_t *reply_to, int (*exec)(hl_json_job_t *, hl_db_t *),
                                const char *session_id, const char *peer)
{
    lookup_job_t *job = hl_json_job_new(sizeof(*job), reply_to, exec);
    job->pr = pr;
    job->super.dispose = lookup_dispose;
    job->session_id = hl_strdup(session_id);
    job->peer = hl_strdup(peer);
    return job;
}

void hl_pairing_get_session(hl_pairing_t *pr, hl_reply_to_t *reply_to, const char *session_id, const char *peer)
{
    lookup_job_t *job = lookup_job(pr, reply_to, exec_get_session, session_id, peer);
    job->super.super.readonly = true;
    hl_db_actor_post(&pr->actor, &job->super.super);
}

/* ---- pairing page ---- */

/* The page's own text answers (spec/API.md §2): plain text errors, the HTML page; a rate limit is the JSON envelope. */
static int page_text(hl_json_job_t *job, hl_result_kind_t kind, const char *type, char *text)
{
    hl_result_t *res = hl_result_bytes(text, strlen(text), type);
    res->kind = kind;
    hl_json_job_set(job, res);
    return 0;
}

static int exec_page(hl_json_job_t *base, hl_db_t *db)
{
    lookup_job_t *job = (lookup_job_t *)base;
    int64_t now = hl_now_ms(), wait;
    if ((wait = rate_limited(job->pr, job->peer, now)) != 0) {
        too_many(base, wait);
        return 0;
    }
    if (job->session_id == NULL || job->session_id[0] == '\0')
        return page_text(base, HL_RESULT_INVALID, "text/plain; charset=utf-8", hl_strdup("Missing session_id"));
    session_row_t row;
    if (!session_id_valid(job->session_id) || session_load(db, job->session_id, &row) != 0)
        return page_text(base, HL_RESULT_NOT_FOUND, "text/plain; charset=utf-8", hl_strdup("Pairing session not found"));
    const char *code = strcmp(session_state(&row, now), "waiting") == 0 ? pairing_code_of(job->pr, row.id, now) : NULL;
    char *html = pairing_page_html(job->pr->svc, &row, code, now);
    session_row_dispose(&row);
    page_text(base, HL_RESULT_OK, "text/html; charset=utf-8", html);
    base->result->no_store = true;
    return 0;
}

void hl_pairing_page(hl_pairing_t *pr, hl_reply_to_t *reply_to, const char *session_id, const char *peer)
{
    lookup_job_t *job = lookup_job(pr, reply_to, exec_page, session_id, peer);
    job->super.super.readonly = true;
    hl_db_actor_post(&pr->actor, &job->super.super);
}

/* ---- claim and enrol ---- */

typedef struct st_claim_job_t {
    hl_json_job_t super;
    hl_pairing_t *pr;
    char *session_id, *claim_token, *peer;
    hl_token_hash_t token_hash;
    hl_device_descriptor_t desc;
    int is_enroll; /* device-session with a connect token rather than a claim */
    int forward;   /* set by exec: the auth actor creates the device after our commit */
} claim_job_t;

static void claim_dispose(hl_json_job_t *base)
{
    claim_job_t *job = (claim_job_t *)base;
    free(job->session_id);
    if (job->claim_token != NULL)
        memset(job->claim_token, 0, strlen(job->claim_token));
    free(job->claim_token);
    free(job->peer);
    hl_device_descriptor_dispose(&job->desc);
}

static void claim_after_commit(hl_json_job_t *base)
{
    claim_job_t *job = (claim_job_t *)base;
    if (!job->forward)
        return;
    if (job->session_id != NULL)
        forget_code(job->pr, job->session_id);
    hl_auth_create_session(job->pr->auth, base->reply_to, &job->desc, !job->is_enroll);
    base->reply_to = NULL; /* the auth actor answers */
}

static int mark_used(hl_db_t *db, const char *token_hash_hex, const char *session_id, int64_t now)
{
    sqlite3_stmt *st = hl_db_stmt(db, "UPDATE connect_tokens SET used_at = ?2 WHERE token_hash = ?1 AND used_at IS NULL");
    sqlite3_bind_text(st, 1, token_hash_hex, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now);
    if (hl_db_exec(st) != 0)
        return -1;
    if (session_id == NULL)
        return 0;
    st = hl_db_stmt(db, "UPDATE pairing_sessions SET claimed_at = ?2 WHERE id = ?1 AND claimed_at IS NULL");
    sqlite3_bind_text(st, 1, session_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now);
    return hl_db_exec(st);
}

static int claim_mismatch(hl_json_job_t *job, const char *message)
{
    return hl_json_job_error(job, HL_RESULT_CONFLICT, "pairing_claim_mismatch", message);
}

static int exec_claim(hl_json_job_t *base, hl_db_t *db)
{
    claim_job_t *job = (claim_job_t *)base;
    int64_t now = hl_now_ms(), wait;
    if ((wait = rate_limited(job->pr, job->peer, now)) != 0)
        return too_many(base, wait);
    if (job->session_id == NULL || job->claim_token == NULL)
        return hl_json_job_error(base, HL_RESULT_INVALID, "pairing_claim_invalid", "session_id and claim_token are required");
    if (job->pr->svc->identity->link_id == NULL)
        return hl_json_job_error(base, HL_RESULT_CONFLICT, "link_not_paired", "Hermes Link is not paired");
    session_row_t row;
    if (!session_id_valid(job->session_id) || session_load(db, job->session_id, &row) != 0)
        return hl_json_job_error(base, HL_RESULT_NOT_FOUND, "pairing_session_not_found", "Pairing session not found");
    int ret;
    char presented[65];
    hl_token_hash_t h;
    hl_token_hash(job->claim_token, strlen(job->claim_token), &h);
    hl_token_hash_hex(&h, presented);
    if (row.claimed_at != 0) {
        rate_fail(job->pr, job->peer, now);
        ret = hl_json_job_error(base, HL_RESULT_CONFLICT, "pairing_session_already_claimed",
                                "Pairing session has already been claimed");
    } else if (row.closed_at != 0 || row.expires_at <= now) {
        ret = hl_json_job_error(base, HL_RESULT_NOT_FOUND, "pairing_session_expired", "Pairing session has expired");
    } else if (strcmp(row.link_id, job->pr->svc->identity->link_id) != 0) {
        ret = claim_mismatch(base, "Pairing claim does not match this Link");
    } else if (!hl_consttime_equal(presented, 64, row.code_hash, strlen(row.code_hash))) {
        /* a wrong code: counted per address, and a session guessed at too often is closed for good */
        rate_fail(job->pr, job->peer, now);
        sqlite3_stmt *st = hl_db_stmt(db, "UPDATE pairing_sessions SET failed_attempts = failed_attempts + 1, closed_at = CASE "
                                          "WHEN failed_attempts + 1 >= ?2 THEN ?3 ELSE closed_at END WHERE id = ?1");
        sqlite3_bind_text(st, 1, row.id, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, HL_PAIRING_MAX_BAD_CODES);
        sqlite3_bind_int64(st, 3, now);
        ret = hl_db_exec(st);
        if (row.failed_attempts + 1 >= HL_PAIRING_MAX_BAD_CODES) {
            forget_code(job->pr, row.id);
            hl_log(HL_LOG_WARN, "pairing_session_closed",
                   json_pack("{s:s, s:s}", "session_id", row.id, "reason", "too many wrong codes"));
        }
        claim_mismatch(base, "Pairing claim token does not match");
        /* keep the counters (ret == 0) unless the update itself failed */
    } else {
        ret = mark_used(db, presented, row.id, now);
        if (ret == 0) {
            job->forward = 1;
            hl_log(HL_LOG_INFO, "pairing_session_claimed", json_pack("{s:s, s:s}", "session_id", row.id, "peer", job->peer));
        }
    }
    session_row_dispose(&row);
    return ret;
}

/* A claim's fields: the first alias present as a non-empty string, copied. */
static char *nonempty_alias(json_t *body, const char *a, const char *b)
{
    const char *v = hl_json_alias(body, a, b);
    return v != NULL && v[0] != '\0' ? hl_strdup(v) : NULL;
}

void hl_pairing_claim(hl_pairing_t *pr, hl_reply_to_t *reply_to, json_t *body, const char *peer)
{
    claim_job_t *job = hl_json_job_new(sizeof(*job), reply_to, exec_claim);
    job->pr = pr;
    job->super.after_commit = claim_after_commit;
    job->super.dispose = claim_dispose;
    job->session_id = nonempty_alias(body, "session_id", "sessionId");
    job->claim_token = nonempty_alias(body, "claim_token", "claimToken");
    job->peer = hl_strdup(peer);
    hl_device_descriptor_from_json(&job->desc, body);
    hl_db_actor_post(&pr->actor, &job->super.super);
}

static int exec_enroll(hl_json_job_t *base, hl_db_t *db)
{
    claim_job_t *job = (claim_job_t *)base;
    int64_t now = hl_now_ms();
    char hex[65];
    hl_token_hash_hex(&job->token_hash, hex);
    sqlite3_stmt *st = hl_db_stmt(db, "SELECT session_id FROM connect_tokens WHERE token_hash = ?1 AND used_at IS NULL AND "
                                      "expires_at > ?2");
    sqlite3_bind_text(st, 1, hex, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now);
    int found = hl_db_step(st) == SQLITE_ROW;
    if (found)
        job->session_id = hl_db_text(st, 0);
    sqlite3_reset(st);
    if (!found)
        return hl_json_job_error(base, HL_RESULT_UNAUTHENTICATED, "auth_invalid", "Token is invalid or expired");
    if (mark_used(db, hex, job->session_id, now) != 0)
        return -1;
    job->forward = 1;
    return 0;
}

void hl_pairing_enroll(hl_pairing_t *pr, hl_reply_to_t *reply_to, const char *token, size_t token_len, hl_device_descriptor_t *desc)
{
    claim_job_t *job = hl_json_job_new(sizeof(*job), reply_to, exec_enroll);
    job->pr = pr;
    job->super.after_commit = claim_after_commit;
    job->super.dispose = claim_dispose;
    job->is_enroll = 1;
    hl_token_hash(token, token_len, &job->token_hash);
    job->desc = *desc;
    memset(desc, 0, sizeof(*desc));
    hl_db_actor_post(&pr->actor, &job->super.super);
}

/* ---- actor ---- */

static void on_tick(hl_db_t *db)
{
    hl_pairing_t *pr = pairing_of(db);
    int64_t now = hl_now_ms();
    prune_codes(pr, now);
    prune_rates(pr, now);
    sqlite3_stmt *st = hl_db_stmt(db, "DELETE FROM pairing_sessions WHERE expires_at <= ?1");
    sqlite3_bind_int64(st, 1, now - SESSION_RETENTION_MS);
    hl_db_exec(st);
    st = hl_db_stmt(db, "DELETE FROM connect_tokens WHERE expires_at <= ?1");
    sqlite3_bind_int64(st, 1, now - SESSION_RETENTION_MS);
    hl_db_exec(st);
}

static void on_close(hl_db_t *db)
{
    hl_pairing_t *pr = pairing_of(db);
    while (pr->num_codes > 0) {
        code_free(&pr->codes[0]);
        pr->codes[0] = pr->codes[--pr->num_codes];
    }
    free(pr->codes);
    free(pr->rates);
    pr->codes = NULL;
    pr->rates = NULL;
    pr->num_rates = 0;
}

int hl_pairing_init(hl_pairing_t **out, const hl_link_t *link, hl_auth_t *auth)
{
    static const hl_db_actor_hooks_t hooks = {.on_tick = on_tick, .tick_ms = 30000, .on_close = on_close};
    hl_pairing_t *pr = hl_calloc(1, sizeof(*pr));
    pr->svc = link;
    pr->auth = auth;
    int ret = hl_db_actor_init(&pr->actor, "pairing", link->db_path, &hooks, pr);
    if (ret != 0) {
        free(pr);
        return ret;
    }
    *out = pr;
    return 0;
}

hl_actor_t *hl_pairing_actor(hl_pairing_t *pr)
{
    return &pr->actor.actor;
}

void hl_pairing_dispose(hl_pairing_t *pr)
{
    if (pr == NULL)
        return;
    hl_db_actor_dispose(&pr->actor);
    free(pr);
}
