/*
 * The upstream routes (UPSTREAM-HERMES.md §1, FAKE-UPSTREAM.md §2): routing with aiohttp's 404/405, the per-dialect auth
 * and its 401 envelopes, CORS and the security headers, health, models, capabilities, and the /v1/runs family.
 */
#include "fake.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* ---- headers ---- */

static int origin_allowed(const char *origin)
{
    const char *list = fk_opt.cors;
    if (list == NULL)
        return 0;
    size_t ol = strlen(origin);
    while (*list != '\0') {
        while (*list == ' ' || *list == ',')
            ++list;
        const char *end = list;
        while (*end != '\0' && *end != ',')
            ++end;
        const char *e = end;
        while (e > list && e[-1] == ' ')
            --e;
        size_t len = (size_t)(e - list);
        if ((len == 1 && *list == '*') || (len == ol && len > 0 && memcmp(list, origin, ol) == 0))
            return 1;
        list = end;
    }
    return 0;
}

static int cors_any(void)
{
    return fk_opt.cors != NULL && strchr(fk_opt.cors, '*') != NULL;
}

void fk_common_headers(fk_buf_t *b, const fk_req_t *r)
{
    fk_buf_str(b, "X-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\n");
    if (fk_opt.dialect >= FK_V020)
        fk_buf_str(b, "Content-Security-Policy: default-src 'none'; frame-ancestors 'none'\r\nX-Frame-Options: DENY\r\n"
                      "Strict-Transport-Security: max-age=31536000; includeSubDomains\r\n"
                      "Permissions-Policy: camera=(), microphone=(), geolocation=()\r\nX-XSS-Protection: 0\r\n");
    const char *origin = r != NULL && r->head != NULL ? fk_req_header(r, "Origin") : NULL;
    if (origin != NULL && origin_allowed(origin) && strncmp(r->path, "/__fake", 7) != 0) {
        fk_buf_printf(b, "Access-Control-Allow-Origin: %s\r\n", cors_any() ? "*" : origin);
        fk_buf_str(b, "Access-Control-Allow-Methods: GET, POST, DELETE, OPTIONS\r\n");
        fk_buf_printf(b, "Access-Control-Allow-Headers: Authorization, Content-Type, Idempotency-Key%s\r\n",
                      fk_opt.dialect >= FK_V021 ? ", X-Hermes-Session-Id" : "");
        fk_buf_str(b, "Access-Control-Max-Age: 600\r\n");
        if (!cors_any())
            fk_buf_str(b, "Vary: Origin\r\n");
    }
}

/* ---- auth ---- */

static int auth_ok(const fk_req_t *r)
{
    if (fk_opt.key == NULL)
        return 1;
    const char *h = fk_req_header(r, "Authorization");
    if (h == NULL || strncmp(h, "Bearer ", 7) != 0)
        return 0;
    const char *t = h + 7;
    while (*t == ' ' || *t == '\t')
        ++t;
    size_t tl = strlen(t);
    while (tl > 0 && (t[tl - 1] == ' ' || t[tl - 1] == '\t'))
        --tl;
    size_t kl = strlen(fk_opt.key);
    unsigned diff = (unsigned)(tl ^ kl);
    for (size_t i = 0; i < tl && i < kl; ++i)
        diff |= (unsigned char)(t[i] ^ fk_opt.key[i]);
    return diff == 0;
}

static void respond_401(fk_conn_t *c)
{
    json_t *e = fk_opt.dialect >= FK_V020 ? json_pack("{s:s,s:s,s:s}", "message", "Invalid gateway API key (API_SERVER_KEY)",
                                                      "type", "gateway_auth_error", "code", "gateway_auth_failed")
                                          : json_pack("{s:s,s:s,s:s}", "message", "Invalid API key", "type",
                                                      "invalid_request_error", "code", "invalid_api_key");
    fk_respond_json(c, 401, json_pack("{s:o}", "error", e), NULL);
}

/* ---- health, models, capabilities ---- */

static void health_answer(fk_conn_t *c)
{
    const char *path = c->req.path;
    if (fk_ctl.health_status != 0 && fk_ctl.health_status != 200) {
        fk_respond_json(
            c, fk_ctl.health_status,
            json_pack("{s:s,s:s,s:s}", "status", "error", "platform", "hermes-agent", "error", "gateway unavailable (fake)"), NULL);
        return;
    }
    if (strcmp(path, "/health/detailed") != 0) {
        json_t *j = json_pack("{s:s,s:s}", "status", "ok", "platform", "hermes-agent");
        if (fk_opt.dialect >= FK_V020)
            json_object_set_new(j, "version", json_string(fk_dialect_version()));
        fk_respond_json(c, 200, j, NULL);
        return;
    }
    char iso[64];
    fk_iso(fk_now(), iso, sizeof(iso));
    size_t live = fk_runs_live();
    json_t *j;
    if (fk_opt.dialect >= FK_V020) {
        j = json_pack("{s:s,s:{s:s,s:{s:{s:s},s:{s:s},s:{s:s},s:{s:s}}},s:s,s:s,s:s,s:{s:{s:s}},s:I,s:b,s:b,s:n,s:s,s:I}", "status",
                      "ok", "readiness", "status", "ready", "checks", "state_db", "status", "ok", "config", "status", "ok", "model",
                      "status", "ok", "disk", "status", "ok", "platform", "hermes-agent", "version", fk_dialect_version(),
                      "gateway_state", "running", "platforms", "api_server", "state", "connected", "active_agents",
                      (json_int_t)live, "gateway_busy", live > 0, "gateway_drainable", 1, "exit_reason", "updated_at", iso, "pid",
                      (json_int_t)getpid());
    } else {
        j = json_pack("{s:s,s:s,s:s,s:{s:{s:s}},s:I,s:n,s:s,s:I}", "status", "ok", "platform", "hermes-agent", "gateway_state",
                      "running", "platforms", "api_server", "state", "connected", "active_agents", (json_int_t)live, "exit_reason",
                      "updated_at", iso, "pid", (json_int_t)getpid());
    }
    fk_respond_json(c, 200, j, NULL);
}

static json_t *model_entry(const char *id)
{
    return json_pack("{s:s,s:s,s:I,s:s,s:[],s:s,s:n}", "id", id, "object", "model", "created", (json_int_t)fk_now(), "owned_by",
                     "hermes", "permission", "root", id, "parent");
}

static void h_models(fk_conn_t *c)
{
    json_t *data = json_array();
    if (fk_ctl.models == NULL) {
        json_array_append_new(data, model_entry(fk_opt.model_name));
    } else {
        size_t i;
        json_t *m;
        json_array_foreach(fk_ctl.models, i, m) json_array_append_new(data, model_entry(json_string_value(m)));
    }
    fk_respond_json(c, 200, json_pack("{s:s,s:o}", "object", "list", "data", data), NULL);
}

static json_t *endpoint(const char *method, const char *path)
{
    return json_pack("{s:s,s:s}", "method", method, "path", path);
}

static void h_capabilities(fk_conn_t *c)
{
    int d = fk_opt.dialect;
    json_t *features = json_pack("{s:b,s:b,s:b,s:b,s:b,s:b,s:b,s:b,s:b,s:b,s:b,s:b}", "chat_completions", 1,
                                 "chat_completions_streaming", 1, "responses_api", 1, "responses_streaming", 1, "run_submission", 1,
                                 "run_status", 1, "run_events_sse", 1, "run_stop", 1, "run_approval_response", d >= FK_V015,
                                 "tool_progress_events", 1, "approval_events", d >= FK_V015, "cors", fk_opt.cors != NULL);
    if (d >= FK_V015) {
        json_object_set_new(features, "session_continuity", json_true());
        json_object_set_new(features, "jobs_api", json_true());
    }
    if (d >= FK_V020)
        json_object_set_new(features, "model_routes", json_true());
    if (d >= FK_V021) {
        json_object_set_new(features, "reasoning_streaming", json_true());
        json_object_set_new(features, "run_steer", json_true());
        json_object_set_new(features, "run_idempotency", json_true());
    }
    json_t *ep = json_object();
    json_object_set_new(ep, "health", endpoint("GET", "/health"));
    json_object_set_new(ep, "models", endpoint("GET", "/v1/models"));
    json_object_set_new(ep, "chat_completions", endpoint("POST", "/v1/chat/completions"));
    json_object_set_new(ep, "responses", endpoint("POST", "/v1/responses"));
    json_object_set_new(ep, "runs", endpoint("POST", "/v1/runs"));
    json_object_set_new(ep, "run_status", endpoint("GET", "/v1/runs/{run_id}"));
    json_object_set_new(ep, "run_events", endpoint("GET", "/v1/runs/{run_id}/events"));
    if (d >= FK_V015)
        json_object_set_new(ep, "run_approval", endpoint("POST", "/v1/runs/{run_id}/approval"));
    json_object_set_new(ep, "run_stop", endpoint("POST", "/v1/runs/{run_id}/stop"));
    if (d >= FK_V021)
        json_object_set_new(ep, "run_steer", endpoint("POST", "/v1/runs/{run_id}/steer"));
    json_object_set_new(ep, "jobs", endpoint("GET", "/api/jobs"));
    json_t *j =
        json_pack("{s:s,s:s,s:s,s:{s:s,s:b},s:{s:s,s:s,s:b,s:s},s:o,s:s,s:s,s:o}", "object", "hermes.api_server.capabilities",
                  "platform", "hermes-agent", "model", fk_opt.model_name, "auth", "type", "bearer", "required", fk_opt.key != NULL,
                  "runtime", "mode", "server_agent", "tool_execution", "server", "split_runtime", 0, "description",
                  "The agent runs on the server; clients receive events.", "features", features, "session_continuity_header",
                  "X-Hermes-Session-Id", "session_key_header", "X-Hermes-Session-Key", "endpoints", ep);
    fk_respond_json(c, 200, j, NULL);
}

/* ---- runs ---- */

static void run_not_found(fk_conn_t *c, const char *id)
{
    char msg[160];
    snprintf(msg, sizeof(msg), "Run not found: %.100s", id);
    fk_respond_error(c, 404, msg, "run_not_found");
}

/* The body as a JSON object, or NULL after answering 400 "Invalid JSON". */
static json_t *body_object(fk_conn_t *c)
{
    json_t *j = c->req.body != NULL ? json_loadb(c->req.body, c->req.body_len, 0, NULL) : NULL;
    if (!json_is_object(j)) {
        json_decref(j);
        fk_respond_error(c, 400, "Invalid JSON", "invalid_json");
        return NULL;
    }
    return j;
}

/* The text of a message content: a string, or the text parts of a list. Appends to b; returns 1 if any text. */
static int content_text(const json_t *content, fk_buf_t *b)
{
    if (json_is_string(content)) {
        fk_buf_str(b, json_string_value(content));
        return json_string_length(content) > 0;
    }
    int any = 0;
    size_t i;
    json_t *part;
    json_array_foreach(content, i, part)
    {
        const char *t = json_string_value(json_object_get(part, "text"));
        if (t == NULL && json_is_string(part))
            t = json_string_value(part);
        if (t != NULL) {
            fk_buf_str(b, t);
            any |= *t != '\0';
        }
    }
    return any;
}

/* Validates a run's body as upstream does. Returns 0 with the input's text (all of it, to look for a token) in *text,
 * or answers 400 and returns -1. */
static int validate_run_body(fk_conn_t *c, json_t *body, fk_buf_t *text)
{
    json_t *input = json_object_get(body, "input");
    if (input == NULL || json_is_null(input) || (json_is_string(input) && json_string_length(input) == 0) ||
        (json_is_array(input) && json_array_size(input) == 0)) {
        fk_respond_error(c, 400, "Missing 'input' field", NULL);
        return -1;
    }
    if (json_is_string(input)) {
        fk_buf_str(text, json_string_value(input));
    } else if (json_is_array(input)) {
        json_t *last = json_array_get(input, json_array_size(input) - 1);
        fk_buf_t lt = {0};
        int ok = json_is_string(last) ? json_string_length(last) > 0 : content_text(json_object_get(last, "content"), &lt);
        fk_buf_free(&lt);
        if (!ok) {
            fk_respond_error(c, 400, "No user message found in input", NULL);
            return -1;
        }
        size_t i;
        json_t *m;
        json_array_foreach(input, i, m)
        {
            if (json_is_string(m))
                fk_buf_str(text, json_string_value(m));
            else
                content_text(json_object_get(m, "content"), text);
            fk_buf_str(text, "\n");
        }
    } else {
        fk_respond_error(c, 400, "Missing 'input' field", NULL);
        return -1;
    }
    json_t *hist = json_object_get(body, "conversation_history");
    if (hist != NULL && !json_is_null(hist)) {
        int bad = !json_is_array(hist);
        size_t i;
        json_t *m;
        json_array_foreach(hist, i, m)
        {
            json_t *content = json_object_get(m, "content");
            if (!json_is_object(m) || !json_is_string(json_object_get(m, "role")) ||
                !(json_is_string(content) || json_is_array(content)))
                bad = 1;
        }
        if (bad) {
            fk_respond_error(c, 400, "Invalid 'conversation_history': each entry must be an object with 'role' and 'content'",
                             "invalid_conversation_history");
            return -1;
        }
    }
    json_t *sid = json_object_get(body, "session_id");
    json_t *model = json_object_get(body, "model");
    if ((sid != NULL && !json_is_null(sid) && !json_is_string(sid)) ||
        (model != NULL && !json_is_null(model) && !json_is_string(model))) {
        fk_respond_error(c, 400, "'session_id' and 'model' must be strings", NULL);
        return -1;
    }
    return 0;
}

static void admission_error(fk_conn_t *c, int status)
{
    if (status == 401) {
        respond_401(c);
    } else if (status == 429) {
        char msg[80];
        snprintf(msg, sizeof(msg), "Too many concurrent runs (max %ld)", fk_opt.max_runs);
        fk_respond_error(c, 429, msg, "rate_limit_exceeded");
    } else if (status >= 400 && status < 600) {
        fk_respond_error(c, status, status >= 500 ? "Internal server error (fake)" : "Request rejected (fake)",
                         status >= 500 ? "server_error" : "invalid_request");
    } else {
        fk_respond_error(c, 500, "Internal server error (fake)", "server_error");
    }
}

/* Admits the run (after delay_admit_ms when the scenario asked for it): c->scen_name/scen_params hold the scenario. */
void fk_admit_run(fk_conn_t *c)
{
    json_t *body = body_object(c);
    if (body == NULL)
        return;
    fk_scenario_t s = {c->scen_name, c->scen_params};
    c->scen_name = NULL;
    c->scen_params = NULL;
    long status_code = fk_param_long(s.params, "status_code", 0);
    if (status_code != 0) {
        fk_scenario_free(&s);
        json_decref(body);
        admission_error(c, (int)status_code);
        return;
    }
    if (fk_param_long(s.params, "admit_garbage", 0) != 0) {
        /* no HTTP at all: what a wrong service on the port, or a broken proxy, might send */
        static const char GARBAGE[] = "\x16\x03\x01garbage, not HTTP \xfe\xff{\"run_id\":\r\n\r\n";
        fk_scenario_free(&s);
        json_decref(body);
        fk_respond_raw(c, GARBAGE, sizeof(GARBAGE) - 1);
        return;
    }
    const char *idem = fk_opt.dialect >= FK_V021 ? fk_req_header(&c->req, "Idempotency-Key") : NULL;
    if (idem != NULL && *idem != '\0') {
        for (fk_run_t *r = fk_runs_first(); r != NULL; r = r->next) {
            if (r->idem_key == NULL || strcmp(r->idem_key, idem) != 0)
                continue;
            fk_scenario_free(&s);
            json_decref(body);
            if (strcmp(r->idem_body, c->req.body) != 0) {
                fk_respond_error(c, 409, "Idempotency-Key was already used with a different request body",
                                 "idempotency_key_conflict");
                return;
            }
            fk_respond_json(c, 202, json_pack("{s:s,s:s,s:b}", "run_id", r->id, "status", "started", "replayed", 1),
                            "Idempotency-Replayed: true\r\n");
            return;
        }
    }
    if (fk_opt.max_runs > 0 && fk_runs_live() >= (size_t)fk_opt.max_runs) {
        fk_scenario_free(&s);
        json_decref(body);
        admission_error(c, 429);
        return;
    }
    char err[200];
    fk_run_t *r = fk_run_create(&s, json_string_value(json_object_get(body, "session_id")),
                                json_string_value(json_object_get(body, "model")), err, sizeof(err));
    fk_scenario_free(&s);
    json_decref(body);
    if (r == NULL) {
        fk_respond_error(c, 400, err, "invalid_fake_scenario");
        return;
    }
    if (idem != NULL && *idem != '\0') {
        r->idem_key = fk_strdup(idem);
        r->idem_body = fk_strdup(c->req.body);
    }
    json_t *j = json_pack("{s:s,s:s}", "run_id", r->id, "status", "started");
    if (fk_opt.dialect >= FK_V021)
        json_object_set_new(j, "replayed", json_false());
    const char *skey = fk_req_header(&c->req, "X-Hermes-Session-Key");
    char *extra = skey != NULL && strpbrk(skey, "\r\n") == NULL ? fk_asprintf("X-Hermes-Session-Key: %s\r\n", skey) : NULL;
    fk_respond_json(c, 202, j, extra);
    free(extra);
}

static void h_runs_post(fk_conn_t *c)
{
    json_t *body = body_object(c);
    if (body == NULL)
        return;
    fk_buf_t text = {0};
    if (validate_run_body(c, body, &text) != 0) {
        json_decref(body);
        fk_buf_free(&text);
        return;
    }
    json_decref(body);
    fk_scenario_t s = {0};
    char err[200];
    const char *hdr = fk_req_header(&c->req, "X-Fake-Scenario");
    int rc = 0;
    if (hdr != NULL)
        rc = fk_scenario_parse(hdr, strlen(hdr), &s, err, sizeof(err)) == 0 ? 1 : -1;
    else
        rc = fk_scenario_token(text.p != NULL ? text.p : "", &s, err, sizeof(err));
    fk_buf_free(&text);
    if (rc < 0) {
        fk_respond_error(c, 400, err, "invalid_fake_scenario");
        return;
    }
    if (rc == 0)
        fk_take_queued(&s);
    c->scen_name = s.name;
    c->scen_params = s.params;
    long delay = fk_param_long(s.params, "delay_admit_ms", 0);
    if (delay > 0)
        fk_defer(c, fk_scaled((double)delay), fk_admit_run);
    else
        fk_admit_run(c);
}

static void events_try(fk_conn_t *c)
{
    fk_run_t *r = fk_run_find(c->ref);
    if (r == NULL) {
        if (++c->tries <= 20) { /* upstream waits up to 1 s (20 × 50 ms) for a run being registered */
            fk_defer(c, 50, events_try);
            return;
        }
        run_not_found(c, c->ref);
        return;
    }
    if (r->qstate != FK_Q_BUFFER) { /* a subscriber is attached, or the stream was consumed or dropped */
        run_not_found(c, c->ref);
        return;
    }
    fk_sse_start(c, r->chunking, NULL);
    if (c->state == FK_C_SSE)
        fk_run_attach(r, c);
}

static const char *approval_choice(const char *in, char *buf, size_t len)
{
    size_t o = 0;
    while (*in == ' ' || *in == '\t')
        ++in;
    for (; *in && o + 1 < len; ++in)
        buf[o++] = (char)(*in >= 'A' && *in <= 'Z' ? *in + 32 : *in);
    while (o > 0 && (buf[o - 1] == ' ' || buf[o - 1] == '\t'))
        --o;
    buf[o] = '\0';
    if (strcmp(buf, "approve") == 0 || strcmp(buf, "approved") == 0 || strcmp(buf, "allow") == 0)
        return "once";
    static const char *const VALID[] = {"once", "session", "always", "deny", NULL};
    for (size_t i = 0; VALID[i] != NULL; ++i)
        if (strcmp(buf, VALID[i]) == 0)
            return VALID[i];
    return NULL;
}

static void h_approval(fk_conn_t *c, const char *id)
{
    fk_run_t *r = fk_run_find(id);
    if (r == NULL) {
        run_not_found(c, id);
        return;
    }
    json_t *body = body_object(c);
    if (body == NULL)
        return;
    char buf[64];
    const char *given = json_string_value(json_object_get(body, "choice"));
    const char *choice = given != NULL ? approval_choice(given, buf, sizeof(buf)) : NULL;
    int all = json_is_true(json_object_get(body, "all")) || json_is_true(json_object_get(body, "resolve_all"));
    json_decref(body);
    if (choice == NULL) {
        fk_respond_error(c, 400, "Invalid approval choice; expected one of: once, session, always, deny",
                         "invalid_approval_choice");
        return;
    }
    if (fk_run_terminal(r) || r->status == FK_STOPPING) {
        fk_respond_error(c, 409, "Run is no longer active", "approval_not_active");
        return;
    }
    int n = fk_run_approve(r, choice, all);
    if (n == 0) {
        fk_respond_error(c, 409, "No approval is pending for this run", "approval_not_pending");
        return;
    }
    fk_respond_json(
        c, 200,
        json_pack("{s:s,s:s,s:s,s:i}", "object", "hermes.run.approval_response", "run_id", r->id, "choice", choice, "resolved", n),
        NULL);
}

static void stop_reply(fk_conn_t *c)
{
    fk_respond_json(c, 200, json_pack("{s:s,s:s}", "run_id", c->ref, "status", "stopping"), NULL);
}

static void stop_wait(fk_conn_t *c)
{
    fk_run_t *r = fk_run_find(c->ref);
    if (r == NULL || fk_run_terminal(r) || fk_mono_ms() >= c->deadline) {
        stop_reply(c);
        return;
    }
    fk_defer(c, 10, stop_wait);
}

static void h_stop(fk_conn_t *c, const char *id)
{
    if (fk_ctl.stop_status != 0) { /* the control API's /stop: this server does not stop runs */
        fk_respond_error(c, fk_ctl.stop_status, fk_ctl.stop_error != NULL ? fk_ctl.stop_error : "Run stop is not supported", NULL);
        return;
    }
    fk_run_t *r = fk_run_find(id);
    if (r == NULL || fk_run_stop(r) != 0) {
        run_not_found(c, id);
        return;
    }
    snprintf(c->ref, sizeof(c->ref), "%s", r->id);
    if (fk_opt.dialect <= FK_V015) { /* older servers answered once the run was cancelled, waiting up to 5 s */
        c->deadline = fk_mono_ms() + 5000;
        fk_defer(c, 10, stop_wait);
        return;
    }
    stop_reply(c);
}

static void h_steer(fk_conn_t *c, const char *id)
{
    fk_run_t *r = fk_run_find(id);
    if (r == NULL) {
        run_not_found(c, id);
        return;
    }
    json_t *body = body_object(c);
    if (body == NULL)
        return;
    const char *t = json_string_value(json_object_get(body, "text"));
    if (t == NULL)
        t = json_string_value(json_object_get(body, "message"));
    if (t == NULL)
        t = json_string_value(json_object_get(body, "input"));
    if (t == NULL || *t == '\0') {
        json_decref(body);
        fk_respond_error(c, 400, "Missing 'text' field", NULL);
        return;
    }
    if (r->status != FK_RUNNING && r->status != FK_WAITING) {
        json_decref(body);
        fk_respond_error(c, 409, "Run is not running", "run_not_running");
        return;
    }
    json_array_append_new(r->steers, json_string(t));
    json_decref(body);
    fk_respond_json(c, 200, json_pack("{s:s,s:s}", "run_id", r->id, "status", "steered"), NULL);
}

/* ---- dispatch ---- */

typedef enum en_route_t {
    R_NONE,
    R_HEALTH,
    R_DETAILED,
    R_MODELS,
    R_CAPS,
    R_RUNS,
    R_RUN,
    R_EVENTS,
    R_APPROVAL,
    R_STOP,
    R_STEER,
    R_JOBS,
    R_CHAT,
} route_t;

/* Finds the route of path; *allowed says whether method is one of its methods, *allow lists them. */
static route_t match(const char *m, const char *path, char *id, size_t idlen, int *allowed, const char **allow)
{
    int get = strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0, post = strcmp(m, "POST") == 0;
    *allowed = 0;
    *allow = "GET, HEAD";
    if (strcmp(path, "/health") == 0 || strcmp(path, "/v1/health") == 0)
        return *allowed = get, R_HEALTH;
    if (strcmp(path, "/health/detailed") == 0)
        return *allowed = get, R_DETAILED;
    if (strcmp(path, "/v1/models") == 0)
        return *allowed = get, R_MODELS;
    if (strcmp(path, "/v1/capabilities") == 0)
        return *allowed = get, R_CAPS;
    if (strcmp(path, "/v1/runs") == 0)
        return *allow = "POST", *allowed = post, R_RUNS;
    if (strcmp(path, "/v1/chat/completions") == 0)
        return *allow = "POST", *allowed = post, R_CHAT;
    if (strncmp(path, "/v1/runs/", 9) == 0) {
        const char *p = path + 9, *slash = strchr(p, '/');
        size_t len = slash != NULL ? (size_t)(slash - p) : strlen(p);
        if (len == 0 || len >= idlen)
            return R_NONE;
        memcpy(id, p, len);
        id[len] = '\0';
        if (slash == NULL)
            return *allowed = get, R_RUN;
        const char *action = slash + 1;
        if (strcmp(action, "events") == 0)
            return *allowed = get, R_EVENTS;
        *allow = "POST";
        if (strcmp(action, "approval") == 0 && fk_opt.dialect >= FK_V015)
            return *allowed = post, R_APPROVAL;
        if (strcmp(action, "stop") == 0)
            return *allowed = post, R_STOP;
        if (strcmp(action, "steer") == 0 && fk_opt.dialect >= FK_V021)
            return *allowed = post, R_STEER;
        return R_NONE;
    }
    if (strcmp(path, "/api/jobs") == 0 || strncmp(path, "/api/jobs/", 10) == 0) {
        if (!fk_jobs_route(m, path + 9, allowed))
            return R_NONE;
        *allow = path[9] == '\0' ? "GET, HEAD, POST" : strchr(path + 10, '/') != NULL ? "POST" : "GET, HEAD, PATCH, DELETE";
        return R_JOBS;
    }
    return R_NONE;
}

void fk_dispatch(fk_conn_t *c)
{
    fk_req_t *r = &c->req;
    if (strcmp(r->path, "/__fake") == 0 || strncmp(r->path, "/__fake/", 8) == 0) {
        fk_control_handle(c);
        return;
    }
    fk_reqlog_add(r);
    fk_runs_sweep(0);
    if (fk_ctl.down) {
        fk_conn_abort(c);
        return;
    }
    if (fk_canned_take(c))
        return;
    const char *origin = fk_req_header(r, "Origin");
    if (origin != NULL && !origin_allowed(origin)) {
        fk_respond(c, 403, NULL, "", 0, NULL);
        return;
    }
    if (strcmp(r->method, "OPTIONS") == 0 && origin != NULL) {
        fk_respond(c, 200, NULL, "", 0, NULL);
        return;
    }
    char id[64];
    int allowed;
    const char *allow;
    route_t route = match(r->method, r->path, id, sizeof(id), &allowed, &allow);
    if (route == R_NONE) {
        fk_respond_plain_status(c, 404, NULL);
        return;
    }
    if (!allowed) {
        char extra[96];
        snprintf(extra, sizeof(extra), "Allow: %s\r\n", allow);
        fk_respond_plain_status(c, 405, extra);
        return;
    }
    int needs_auth = route != R_HEALTH && (route != R_DETAILED || fk_opt.dialect >= FK_V020);
    if (needs_auth && !auth_ok(r)) {
        respond_401(c);
        return;
    }
    switch (route) {
    case R_HEALTH:
    case R_DETAILED:
        if (fk_ctl.health_hang_ms > 0)
            fk_defer(c, (double)fk_ctl.health_hang_ms, health_answer);
        else
            health_answer(c);
        break;
    case R_MODELS:
        h_models(c);
        break;
    case R_CAPS:
        h_capabilities(c);
        break;
    case R_RUNS:
        h_runs_post(c);
        break;
    case R_RUN: {
        fk_run_t *run = fk_run_find(id);
        if (run == NULL)
            run_not_found(c, id);
        else
            fk_respond_json(c, 200, fk_run_status_json(run), NULL);
        break;
    }
    case R_EVENTS:
        snprintf(c->ref, sizeof(c->ref), "%s", id);
        c->tries = 0;
        events_try(c);
        break;
    case R_APPROVAL:
        h_approval(c, id);
        break;
    case R_STOP:
        h_stop(c, id);
        break;
    case R_STEER:
        h_steer(c, id);
        break;
    case R_JOBS:
        fk_jobs_handle(c, r->path + 9);
        break;
    case R_CHAT:
        fk_chat_post(c);
        break;
    case R_NONE:
        break;
    }
}
