/*
 * spec/API.md §4 (pairing session query and claim) and §2 (GET /pair, the pairing page).
 */
#include <string.h>

#include "hl/pairing.h"
#include "hl/http.h"
#include "hl/routes.h"

/* the pairing actor these routes call, given at registration */
static hl_pairing_t *pairing;

static const char *session_id_query(hl_request_t *r)
{
    const char *id = hl_request_query(r, "session_id", NULL);
    return id != NULL ? id : hl_request_query(r, "sessionId", NULL);
}

static void get_session(hl_request_t *r)
{
    hl_reply_to_t *p = hl_request_defer(r, hl_pairing_actor(pairing));
    if (p != NULL)
        hl_pairing_get_session(pairing, p, session_id_query(r), hl_request_peer(r));
}

static void post_claim(hl_request_t *r)
{
    hl_reply_to_t *p = hl_request_defer(r, hl_pairing_actor(pairing));
    if (p != NULL)
        hl_pairing_claim(pairing, p, r->body, hl_request_peer(r));
}

/* The page shows a connect token and a "Pair" button: it must not be framed (clickjacking), run anything but its own script,
 * nor leak its URL (the session id) to anyone through Referer. On every answer of /pair, errors included. */
static void add_page_headers(hl_request_t *r)
{
    h2o_req_t *req = r->req;
    const char *csp = hl_pairing_page_csp();
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-frame-options"), 0, NULL, H2O_STRLIT("DENY"));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("content-security-policy"), 0, NULL, csp, strlen(csp));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("referrer-policy"), 0, NULL, H2O_STRLIT("no-referrer"));
}

static void get_pair_page(hl_request_t *r)
{
    add_page_headers(r);
    const char *id = hl_request_query(r, "session_id", NULL);
    if (id == NULL || *id == '\0') {
        static const char msg[] = "Missing session_id";
        hl_reply_bytes(r, 400, "text/plain; charset=utf-8", msg, sizeof(msg) - 1);
        return;
    }
    hl_reply_to_t *p = hl_request_defer(r, hl_pairing_actor(pairing));
    if (p != NULL)
        hl_pairing_page(pairing, p, id, hl_request_peer(r));
}

static const hl_route_t ROUTES[] = {
    {HL_METHOD_GET, "/api/v1/pairing/session", get_session, 0, 0},
    {HL_METHOD_POST, "/api/v1/pairing/claim", post_claim, HL_ROUTE_JSON_BODY, 0},
    {HL_METHOD_GET, "/pair", get_pair_page, 0, 0},
};

void hl_routes_pairing(hl_router_t *router, hl_pairing_t *pairing_actor)
{
    pairing = pairing_actor;
    hl_routes_add_all(router, ROUTES, HL_ARRAY_SIZE(ROUTES));
}
