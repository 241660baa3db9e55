/*
 * spec/API.md §9 (GET /api/v1/models) and §12 (runs: POST /api/v1/runs, GET /api/v1/runs/:runId/events, POST
 * /api/v1/runs/:runId/cancel): answered by the profile's Hermes API server through the run proxy actor; run events are
 * relayed by the SSE hub from the run proxy's relay, to any number of clients, with replay for late joiners.
 */
#include <string.h>

#include "hl/http.h"
#include "hl/json_util.h"
#include "hl/routes.h"
#include "hl/runproxy.h"
#include "hl/sse.h"

/* the run proxy these routes call, given at registration */
static hl_runproxy_t *runproxy;

#define MAX_RUN_ID 128

/* An upstream run id: 1–128 of [A-Za-z0-9_.:-] (the upstream's are run_<32 hex>). */
static bool run_id_valid(const char *id)
{
    size_t n = id != NULL ? strlen(id) : 0;
    if (n == 0 || n > MAX_RUN_ID)
        return false;
    for (size_t i = 0; i < n; ++i) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.' ||
              c == ':'))
            return false;
    }
    return true;
}

/* The profile of a run route: query `profile`, else the body's profile|profile_name|profileName; NULL = default. */
static const char *profile_of(hl_request_t *r)
{
    const char *p = hl_request_query(r, "profile", NULL);
    if ((p == NULL || p[0] == '\0') && json_is_object(r->body)) {
        const char *keys[] = {"profile", "profile_name", "profileName"};
        for (size_t i = 0; i < HL_ARRAY_SIZE(keys) && (p == NULL || p[0] == '\0'); ++i)
            p = json_string_value(json_object_get(r->body, keys[i]));
    }
    return p != NULL && p[0] != '\0' ? p : NULL;
}

static void get_models(hl_request_t *r)
{
    const char *profile = profile_of(r);
    hl_reply_to_t *p = hl_request_defer(r, hl_runproxy_actor(runproxy));
    if (p != NULL)
        hl_runproxy_models(runproxy, p, profile);
}

/* POST /api/v1/runs: input (trimmed, required), instructions, session_id|sessionId, conversation_history (array). */
static void post_run(hl_request_t *r)
{
    json_t *b = r->body;
    const char *input = json_string_value(json_object_get(b, "input"));
    size_t start = 0, end = input != NULL ? strlen(input) : 0;
    while (start < end && strchr(" \t\r\n", input[start]) != NULL)
        ++start;
    while (end > start && strchr(" \t\r\n", input[end - 1]) != NULL)
        --end;
    if (input == NULL || start == end) {
        hl_reply_error(r, 400, "run_input_required", "input is required");
        return;
    }
    json_t *history = json_object_get(b, "conversation_history");
    if (history != NULL && !json_is_array(history)) {
        hl_reply_error(r, 400, "invalid_conversation_history", "conversation_history must be an array");
        return;
    }
    json_t *up = json_pack("{s:s%, s:o}", "input", input + start, end - start, "conversation_history",
                           history != NULL ? json_incref(history) : json_array());
    json_t *instructions = json_object_get(b, "instructions");
    if (json_is_string(instructions))
        json_object_set(up, "instructions", instructions);
    const char *session = hl_json_alias(b, "session_id", "sessionId");
    if (session != NULL)
        json_object_set_new(up, "session_id", json_string(session));
    hl_direct_run_req_t req = {.profile = profile_of(r), .body = up};
    hl_reply_to_t *p = hl_request_defer(r, hl_runproxy_actor(runproxy));
    if (p != NULL)
        hl_runproxy_create_run(runproxy, p, &req);
    json_decref(up);
}

/* What the stream opens with once the run is relayed (pool memory: it outlives the check). */
typedef struct st_run_open_t {
    const char *run_id;
    int64_t after;
} run_open_t;

static void relayed(hl_request_t *r, hl_result_t *result, void *data)
{
    run_open_t *a = data;
    if (r != NULL && hl_result_is_ok(result)) {
        hl_sse_open_run(r, a->run_id, a->after);
        hl_result_free(result);
    } else if (r != NULL) {
        hl_reply_result(r, result);
    } else {
        hl_result_free(result);
    }
}

static void get_run_events(hl_request_t *r)
{
    const char *id = hl_request_param(r, "runId");
    if (!run_id_valid(id)) {
        hl_reply_error(r, 400, "invalid_run_id", "Run id is invalid");
        return;
    }
    run_open_t *a = h2o_mem_alloc_pool(&r->req->pool, sizeof(*a));
    a->run_id = id; /* a decoded parameter: pool memory */
    a->after = hl_sse_request_cursor(r);
    const char *profile = profile_of(r);
    hl_reply_to_t *to = hl_request_defer_then(r, hl_runproxy_actor(runproxy), relayed, a);
    if (to != NULL)
        hl_runproxy_open_run(runproxy, to, id, profile);
}

static void post_run_cancel(hl_request_t *r)
{
    const char *id = hl_request_param(r, "runId");
    if (!run_id_valid(id)) {
        hl_reply_error(r, 400, "invalid_run_id", "Run id is invalid");
        return;
    }
    const char *profile = profile_of(r);
    hl_reply_to_t *p = hl_request_defer(r, hl_runproxy_actor(runproxy));
    if (p != NULL)
        hl_runproxy_stop_run(runproxy, p, id, profile);
}

static const hl_route_t ROUTES[] = {
    {HL_METHOD_GET, "/api/v1/models", get_models, HL_ROUTE_AUTH | HL_ROUTE_NO_STORE, 0},
    {HL_METHOD_POST, "/api/v1/runs", post_run, HL_ROUTE_AUTH | HL_ROUTE_JSON_BODY, 0},
    {HL_METHOD_GET, "/api/v1/runs/:runId/events", get_run_events, HL_ROUTE_AUTH, 0},
    {HL_METHOD_POST, "/api/v1/runs/:runId/cancel", post_run_cancel, HL_ROUTE_AUTH | HL_ROUTE_JSON_BODY, 0},
};

void hl_routes_agent(hl_router_t *router, hl_runproxy_t *rp)
{
    runproxy = rp;
    hl_routes_add_all(router, ROUTES, HL_ARRAY_SIZE(ROUTES));
}
