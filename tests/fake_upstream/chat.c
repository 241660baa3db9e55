/*
 * POST /v1/chat/completions (UPSTREAM-HERMES.md §1.3) on the scenario engine: a chat run whose events become the answer.
 * Non-streaming: the text as message.content with usage in OpenAI naming, 502 agent_incomplete (500 server_error with
 * mode=exception) for a failing scenario. Streaming: a role chunk, one chunk per delta, named hermes.tool.progress events
 * for tool steps, a finish chunk with usage (or finish_reason "error"), then [DONE]; a client that goes away interrupts
 * the run. Both answer with X-Hermes-Session-Id: api-<16 hex>.
 */
#include "fake.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *chunk(const fk_run_t *r, json_t *delta, const char *finish)
{
    return json_pack("{s:s,s:s,s:I,s:s,s:[{s:i,s:o,s:o}]}", "id", r->id, "object", "chat.completion.chunk", "created",
                     (json_int_t)fk_now(), "model", r->model, "choices", "index", 0, "delta", delta, "finish_reason",
                     finish != NULL ? json_string(finish) : json_null());
}

static void send_frame(fk_run_t *r, const char *event, json_t *j)
{
    if (r->sub == NULL)
        return;
    char *s = fk_json_dump(j);
    json_decref(j);
    char *frame = event != NULL ? fk_asprintf("event: %s\ndata: %s\n\n", event, s) : fk_asprintf("data: %s\n\n", s);
    fk_sse_send(r->sub, frame, strlen(frame));
    free(frame);
    free(s);
}

static json_t *usage(const fk_run_t *r)
{
    return json_pack("{s:I,s:I,s:I}", "prompt_tokens", (json_int_t)r->usage_in, "completion_tokens", (json_int_t)r->usage_out,
                     "total_tokens", (json_int_t)(r->usage_in + r->usage_out));
}

static char *session_header(const fk_run_t *r)
{
    return fk_asprintf("X-Hermes-Session-Id: %s\r\n", r->chat_session);
}

/* The stream or the answer is over: the connection and the run part. */
static void finish(fk_run_t *r)
{
    fk_conn_t *c = r->sub;
    r->sub = NULL;
    r->qstate = FK_Q_GONE;
    if (c == NULL)
        return;
    c->run = NULL;
    if (r->chat_stream)
        fk_sse_end(c, FK_END_DONE);
}

static void stream_event(fk_run_t *r, const char *event, json_t *fields)
{
    if (strcmp(event, "message.delta") == 0) {
        send_frame(r, NULL, chunk(r, json_pack("{s:O}", "content", json_object_get(fields, "delta")), NULL));
    } else if (strcmp(event, "reasoning.delta") == 0 && fk_opt.dialect >= FK_V021) {
        send_frame(r, NULL, chunk(r, json_pack("{s:O}", "reasoning_content", json_object_get(fields, "delta")), NULL));
    } else if (strcmp(event, "tool.started") == 0) {
        memcpy(r->tool_call_id, "call_", 5);
        fk_hex_id(r->tool_call_id + 5, 24);
        send_frame(r, "hermes.tool.progress",
                   json_pack("{s:O,s:s,s:O,s:s,s:s}", "tool", json_object_get(fields, "tool"), "emoji", "\xF0\x9F\x92\xBB", "label",
                             json_object_get(fields, "preview"), "toolCallId", r->tool_call_id, "status", "running"));
    } else if (strcmp(event, "tool.completed") == 0) {
        send_frame(r, "hermes.tool.progress",
                   json_pack("{s:O,s:s,s:s}", "tool", json_object_get(fields, "tool"), "toolCallId", r->tool_call_id, "status",
                             "completed"));
    } else if (strcmp(event, "run.completed") == 0) {
        json_t *c = chunk(r, json_object(), "stop");
        json_object_set_new(c, "usage", usage(r));
        send_frame(r, NULL, c);
        if (r->sub != NULL)
            fk_sse_send(r->sub, "data: [DONE]\n\n", 14);
        finish(r);
    } else if (strcmp(event, "run.failed") == 0) {
        send_frame(r, NULL, chunk(r, json_object(), "error"));
        if (r->sub != NULL)
            fk_sse_send(r->sub, "data: [DONE]\n\n", 14);
        finish(r);
    } else if (strcmp(event, "run.cancelled") == 0) {
        finish(r);
    }
}

static void plain_event(fk_run_t *r, const char *event, json_t *fields)
{
    if (strcmp(event, "message.delta") == 0) {
        fk_buf_str(&r->chat_text, json_string_value(json_object_get(fields, "delta")));
        return;
    }
    fk_conn_t *c = r->sub;
    int done = strcmp(event, "run.completed") == 0, failed = strcmp(event, "run.failed") == 0;
    if ((!done && !failed) || c == NULL) {
        if (strcmp(event, "run.cancelled") == 0)
            finish(r);
        return;
    }
    finish(r);
    char *extra = session_header(r);
    const char *text = r->chat_text.p != NULL ? r->chat_text.p : "";
    if (done) {
        fk_respond_json(c, 200,
                        json_pack("{s:s,s:s,s:I,s:s,s:[{s:i,s:{s:s,s:s},s:s}],s:o}", "id", r->id, "object", "chat.completion",
                                  "created", (json_int_t)r->created_at, "model", r->model, "choices", "index", 0, "message", "role",
                                  "assistant", "content", text, "finish_reason", "stop", "usage", usage(r)),
                        extra);
    } else {
        const char *err = json_string_value(json_object_get(fields, "error"));
        int exception = strcmp(fk_param(r->params, "mode", "failed"), "exception") == 0;
        json_t *e = json_pack("{s:s,s:s,s:n,s:s}", "message", err != NULL ? err : "agent failed", "type",
                              exception ? "server_error" : "server_error", "param", "code",
                              exception ? "server_error" : "agent_incomplete");
        json_t *body = json_pack("{s:o}", "error", e);
        if (!exception)
            json_object_set_new(body, "hermes",
                                json_pack("{s:b,s:b,s:b,s:s,s:s}", "completed", 0, "partial", *text != '\0', "failed", 1, "error",
                                          err != NULL ? err : "", "error_code", "agent_incomplete"));
        fk_respond_json(c, exception ? 500 : 502, body, extra);
    }
    free(extra);
}

void fk_chat_event(fk_run_t *r, const char *event, json_t *fields)
{
    if (r->chat_stream)
        stream_event(r, event, fields);
    else
        plain_event(r, event, fields);
}

void fk_chat_drop(fk_run_t *r)
{
    fk_conn_t *c = r->sub;
    r->sub = NULL;
    r->qstate = FK_Q_GONE;
    if (c == NULL)
        return;
    c->run = NULL;
    if (r->chat_stream)
        fk_sse_end(c, FK_END_DROP);
    else
        fk_conn_abort(c);
}

/* ---- admission ---- */

/* The last user or assistant message's text (appended to b), or -1 with the 400 answered. */
static int last_message(fk_conn_t *c, json_t *messages, fk_buf_t *b)
{
    json_t *last = NULL;
    size_t i;
    json_t *m;
    json_array_foreach(messages, i, m)
    {
        const char *role = json_string_value(json_object_get(m, "role"));
        if (role != NULL && (strcmp(role, "user") == 0 || strcmp(role, "assistant") == 0))
            last = m;
    }
    json_t *content = json_object_get(last, "content");
    if (json_is_string(content)) {
        fk_buf_str(b, json_string_value(content));
    } else if (json_is_array(content)) {
        json_t *part;
        json_array_foreach(content, i, part)
        {
            const char *type = json_string_value(json_object_get(part, "type"));
            if (type != NULL && strcmp(type, "file") == 0) {
                fk_respond_error(c, 400, "File content parts are not supported", "unsupported_content_type");
                return -1;
            }
            const char *t = json_string_value(json_object_get(part, "text"));
            if (t != NULL)
                fk_buf_str(b, t);
        }
    }
    if (b->len == 0) {
        fk_respond_error(c, 400, "No user message found in messages", NULL);
        return -1;
    }
    return 0;
}

void fk_chat_admit(fk_conn_t *c)
{
    json_t *body = json_loadb(c->req.body != NULL ? c->req.body : "", c->req.body_len, 0, NULL);
    fk_scenario_t s = {c->scen_name, c->scen_params};
    c->scen_name = NULL;
    c->scen_params = NULL;
    long status = fk_param_long(s.params, "status_code", 0);
    if (status >= 400 && status < 600) {
        fk_scenario_free(&s);
        json_decref(body);
        fk_respond_error(c, (int)status, status >= 500 ? "Internal server error (fake)" : "Request rejected (fake)",
                         status == 429   ? "rate_limit_exceeded"
                         : status >= 500 ? "server_error"
                                         : "invalid_request");
        return;
    }
    if (fk_opt.max_runs > 0 && fk_opt.dialect >= FK_V020 && fk_runs_live() >= (size_t)fk_opt.max_runs) {
        fk_scenario_free(&s);
        json_decref(body);
        char msg[80];
        snprintf(msg, sizeof(msg), "Too many concurrent runs (max %ld)", fk_opt.max_runs);
        fk_respond_error(c, 429, msg, "rate_limit_exceeded");
        return;
    }
    char err[200];
    const char *model = json_string_value(json_object_get(body, "model"));
    fk_run_t *r = fk_run_create(&s, NULL, model, err, sizeof(err));
    fk_scenario_free(&s);
    if (r == NULL) {
        json_decref(body);
        fk_respond_error(c, 400, err, "invalid_fake_scenario");
        return;
    }
    r->kind = FK_KIND_CHAT;
    memcpy(r->id, "chatcmpl-", 9);
    fk_hex_id(r->id + 9, 29);
    r->chat_stream = json_is_true(json_object_get(body, "stream"));
    json_decref(body);
    const char *sid = fk_req_header(&c->req, "X-Hermes-Session-Id");
    if (sid != NULL && strlen(sid) < sizeof(r->chat_session) && strpbrk(sid, "\r\n") == NULL) {
        snprintf(r->chat_session, sizeof(r->chat_session), "%s", sid);
    } else {
        memcpy(r->chat_session, "api-", 4);
        fk_hex_id(r->chat_session + 4, 16);
    }
    r->qstate = FK_Q_ATTACHED;
    r->sub = c;
    c->run = r;
    if (r->chat_stream) {
        char *extra = session_header(r);
        fk_sse_start(c, r->chunking, extra);
        free(extra);
        send_frame(r, NULL, chunk(r, json_pack("{s:s}", "role", "assistant"), NULL));
    }
}

void fk_chat_post(fk_conn_t *c)
{
    json_t *body = c->req.body != NULL ? json_loadb(c->req.body, c->req.body_len, 0, NULL) : NULL;
    if (!json_is_object(body)) {
        json_decref(body);
        fk_respond_error(c, 400, "Invalid JSON", "invalid_json");
        return;
    }
    json_t *messages = json_object_get(body, "messages");
    if (!json_is_array(messages) || json_array_size(messages) == 0) {
        json_decref(body);
        fk_respond_error(c, 400, "Missing or invalid 'messages' field", NULL);
        return;
    }
    fk_buf_t text = {0};
    int rc = last_message(c, messages, &text);
    json_decref(body);
    if (rc != 0) {
        fk_buf_free(&text);
        return;
    }
    fk_scenario_t s = {0};
    char err[200];
    const char *hdr = fk_req_header(&c->req, "X-Fake-Scenario");
    if (hdr != NULL)
        rc = fk_scenario_parse(hdr, strlen(hdr), &s, err, sizeof(err)) == 0 ? 1 : -1;
    else
        rc = fk_scenario_token(text.p, &s, err, sizeof(err));
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
        fk_defer(c, fk_scaled((double)delay), fk_chat_admit);
    else
        fk_chat_admit(c);
}
