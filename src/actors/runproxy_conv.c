/*
 * Conversation runs through Hermes's API server (spec/FLOWS.md §4.5–4.8, spec/UPSTREAM-HERMES.md §1.3–1.4): a run the
 * store hands over is resolved to its profile's upstream, admitted with POST /v1/runs, and followed on its single
 * upstream event stream; what the agent does becomes typed store run events (text coalesced in time, tools, reasoning,
 * approvals, the end). A run that cannot reach the upstream, or whose stream breaks, stalls or carries garbage, ends
 * failed with a clear error: never stuck running.
 */
#include <stdio.h>
#include <string.h>

#include "hl/clock.h"
#include "hl/log.h"
#include "runproxy_events.h"
#include "runproxy_internal.h"

static uint64_t now_ms(void)
{
    return hl_monotonic_ms();
}

static conv_run_t *find_run(hl_runproxy_t *rp, const char *run_id)
{
    for (conv_run_t *r = rp->runs; r != NULL; r = r->next)
        if (run_id != NULL && strcmp(r->run_id, run_id) == 0)
            return r;
    return NULL;
}

/* Forgets the run: its call (if any) is cancelled without a callback. */
static void destroy(conv_run_t *r)
{
    conv_run_t **p = &r->rp->runs;
    while (*p != NULL && *p != r)
        p = &(*p)->next;
    if (*p == r)
        *p = r->next;
    up_cancel(r->call);
    if (r->relay != NULL) {
        rp_relay_end(r->rp, r->relay, "run.failed", "HermesLink stopped following this run");
        r->relay->fed = false;
    }
    hl_sse_parser_dispose(&r->parser);
    rp_target_dispose(&r->target);
    json_decref(r->request);
    free(r->run_id);
    free(r->profile);
    free(r->upstream_id);
    free(r->delta);
    free(r);
}

void rp_conv_drop_all(hl_runproxy_t *rp)
{
    while (rp->runs != NULL)
        destroy(rp->runs);
}

static void report(conv_run_t *r, hl_run_event_t *ev)
{
    ev->run_id = r->run_id;
    hl_store_run_event(r->rp->store, NULL, ev);
}

/* Reports the text received since the last report (one message.updated). */
static void flush_text(conv_run_t *r)
{
    r->last_flush_ms = now_ms();
    if (r->delta_len == 0)
        return;
    hl_run_event_t ev = {.kind = HL_RUN_EVENT_DELTA, .delta = r->delta};
    report(r, &ev);
    r->delta_len = 0;
    r->delta[0] = '\0';
}

static void add_text(conv_run_t *r, const char *s, size_t n)
{
    if (r->delta_len + n + 1 > r->delta_cap) {
        size_t cap = r->delta_cap ? r->delta_cap : 256;
        while (cap < r->delta_len + n + 1)
            cap *= 2;
        r->delta = hl_realloc(r->delta, cap);
        r->delta_cap = cap;
    }
    memcpy(r->delta + r->delta_len, s, n);
    r->delta_len += n;
    r->delta[r->delta_len] = '\0';
    if (now_ms() - r->last_flush_ms >= RP_COALESCE_MS)
        flush_text(r);
}

static void ignore_answer(void *data, const up_answer_t *a)
{
    char *what = data;
    if (a->connect_failed || a->status < 200 || a->status >= 300) {
        char *m = rp_upstream_message(a);
        hl_logf(HL_LOG_WARN, "runproxy: %s: HTTP %ld: %s", what, a->status, m);
        free(m);
    }
    free(what);
}

/* Asks the upstream to stop the run (best effort: its answer is only logged). */
static void stop_upstream(conv_run_t *r)
{
    if (r->upstream_id == NULL || r->target.base_url == NULL)
        return;
    char *esc = up_escape(r->upstream_id);
    char *path = hl_asprintf("/v1/runs/%s/stop", esc);
    up_json(r->rp->up, &r->target, "POST", path, NULL, ignore_answer, hl_asprintf("stop %s", r->upstream_id));
    free(path);
    free(esc);
}

/* Ends the run as failed (text received so far is kept); the stream, if any, is dropped. */
static void fail(conv_run_t *r, const char *code, const char *message)
{
    flush_text(r);
    hl_logf(HL_LOG_WARN, "runproxy: run %s failed: %s: %s", r->run_id, code, message);
    hl_run_event_t ev = {.kind = HL_RUN_EVENT_FAILED, .error_code = code, .error_message = message};
    report(r, &ev);
    r->state = RUN_ENDED;
    if (r->relay != NULL)
        rp_relay_end(r->rp, r->relay, "run.failed", message);
}

static void fail_and_destroy(conv_run_t *r, const char *code, const char *message)
{
    fail(r, code, message);
    destroy(r);
}

/* ---- the upstream's events ---- */

static const char *str(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* One upstream event (mapped by rp_event_map); returns non-zero when the run has ended (terminal event). */
static int on_event(conv_run_t *r, json_t *ev, const char *sse_name)
{
    rp_event_map_t m;
    rp_event_map(ev, sse_name, &m);
    if (m.action == RP_EVENT_TEXT) {
        if (m.text != NULL)
            add_text(r, m.text, strlen(m.text));
        return 0;
    }
    flush_text(r); /* everything else comes after the text before it */
    switch (m.action) {
    case RP_EVENT_IGNORE:
        return 0;
    case RP_EVENT_APPROVAL_RESPONDED:
        r->waiting_approval = false;
        return 0;
    case RP_EVENT_FAILED:
        fail(r, "hermes_run_failed", m.message);
        return 1;
    default:
        break;
    }
    if (m.event.kind == HL_RUN_EVENT_APPROVAL)
        r->waiting_approval = true;
    report(r, &m.event);
    rp_event_map_dispose(&m);
    if (m.terminal)
        r->state = RUN_ENDED;
    return m.terminal;
}

static int on_sse(void *data, const hl_sse_event_t *sse)
{
    conv_run_t *r = data;
    json_error_t err;
    json_t *ev = json_loadb(sse->data, sse->data_len, 0, &err);
    if (!json_is_object(ev)) {
        json_decref(ev);
        if (sse->data_len == 0 || strcmp(sse->data, "[DONE]") == 0)
            return 0;
        fail(r, "hermes_stream_invalid", "Hermes sent an event that is not a JSON object");
        stop_upstream(r);
        return 1;
    }
    if (r->relay != NULL) {
        /* relayed first, as received (the run's last frame when it is a terminal event) */
        rp_relay_append(r->rp, r->relay, sse->raw_data, sse->raw_data_len, rp_event_terminal(rp_event_type(ev)));
    }
    int ended = on_event(r, ev, sse->event);
    json_decref(ev);
    return ended;
}

static void on_stream_open(void *data, long status)
{
    conv_run_t *r = data;
    r->stream_status = (int)status;
}

static int on_stream_bytes(void *data, const char *bytes, size_t len)
{
    conv_run_t *r = data;
    if (r->state != RUN_STREAMING)
        return 1;
    if (r->stream_status < 200 || r->stream_status >= 300)
        return 0; /* an error body: read to the end, reported then */
    int ret = hl_sse_parser_feed(&r->parser, bytes, len, on_sse, r);
    if (ret < 0) {
        fail(r, "hermes_stream_invalid", "Hermes sent an event larger than 4 MiB");
        stop_upstream(r);
        return 1;
    }
    return r->state != RUN_STREAMING; /* ended: stop reading */
}

static void on_stream_end(void *data, const up_answer_t *a)
{
    conv_run_t *r = data;
    r->call = NULL;
    if (r->state == RUN_STREAMING && r->reconcile && r->stream_status == 404) {
        /* the upstream dropped the events of a run whose subscriber went away: its status tells the end */
        r->state = RUN_POLLING;
        r->next_poll_ms = now_ms() + RP_POLL_MS;
        hl_sse_parser_dispose(&r->parser);
        return;
    }
    if (r->state == RUN_STREAMING) {
        char msg[200];
        if (r->stream_status == 404) {
            fail(r, "hermes_events_unavailable", "Hermes no longer has this run's events");
        } else if (r->stream_status < 200 || r->stream_status >= 300) {
            snprintf(msg, sizeof(msg), "Hermes API Server returned HTTP %d for the run's events", r->stream_status);
            fail(r, "hermes_events_unavailable", msg);
        } else if (a->out_of_memory) {
            fail(r, "internal_error", "HermesLink ran out of memory reading this run's events");
        } else {
            snprintf(msg, sizeof(msg), "The connection to Hermes ended before the run finished%s%s", a->error != NULL ? ": " : "",
                     a->error != NULL ? a->error : "");
            fail(r, "hermes_stream_interrupted", msg);
        }
    }
    destroy(r);
}

static void open_stream(conv_run_t *r)
{
    static const up_stream_cb_t cb = {.on_open = on_stream_open, .on_bytes = on_stream_bytes, .on_end = on_stream_end};
    char *esc = up_escape(r->upstream_id);
    char *path = hl_asprintf("/v1/runs/%s/events", esc);
    hl_sse_parser_init(&r->parser, RP_MAX_EVENT_BYTES);
    r->relay = rp_relay_get(r->rp, r->upstream_id);
    r->relay->fed = true;
    r->state = RUN_STREAMING;
    r->last_flush_ms = now_ms();
    r->call = up_stream(r->rp->up, &r->target, path, &cb, r);
    free(path);
    free(esc);
}

/* ---- reconciling a run a restart interrupted ---- */

static void poll_status(conv_run_t *r);
static void resend_decisions(conv_run_t *r);

static void on_status(void *data, const up_answer_t *a)
{
    conv_run_t *r = data;
    r->call = NULL;
    if (r->state == RUN_ENDED) { /* cancelled meanwhile */
        destroy(r);
        return;
    }
    if (a->connect_failed || a->status == 404) {
        fail_and_destroy(r, "link_restarted",
                         a->connect_failed
                             ? "Hermes Link restarted during this run, and Hermes cannot be reached to tell how it ended"
                             : "Hermes Link restarted during this run, and Hermes no longer knows it");
        return;
    }
    const char *status = str(a->json, "status");
    if (a->status < 200 || a->status >= 300 || status == NULL) {
        if (++r->polls >= RP_MAX_POLLS) {
            fail_and_destroy(r, "link_restarted", "Hermes did not tell how this run ended");
            return;
        }
        r->state = RUN_POLLING;
        r->next_poll_ms = now_ms() + RP_POLL_MS;
        return;
    }
    hl_run_event_t ev = {0};
    if (strcmp(status, "completed") == 0) {
        json_t *usage = rp_usage_of(a->json);
        ev = (hl_run_event_t){.kind = HL_RUN_EVENT_COMPLETED, .usage = usage, .text = str(a->json, "output")};
        report(r, &ev);
        json_decref(usage);
        if (r->relay != NULL)
            rp_relay_end(r->rp, r->relay, "run.completed", NULL);
        destroy(r);
    } else if (strcmp(status, "failed") == 0) {
        json_t *err = json_object_get(a->json, "error");
        const char *m = json_is_string(err) ? json_string_value(err) : str(err, "message");
        fail_and_destroy(r, "hermes_run_failed", m != NULL ? m : "Hermes run failed");
    } else if (strcmp(status, "cancelled") == 0 || strcmp(status, "interrupted") == 0) {
        ev = (hl_run_event_t){.kind = HL_RUN_EVENT_CANCELLED};
        report(r, &ev);
        if (r->relay != NULL)
            rp_relay_end(r->rp, r->relay, "run.cancelled", NULL);
        destroy(r);
    } else if (r->polls++ == 0) {
        open_stream(r); /* still going: follow it again if the upstream still has its events, else poll */
    } else if (r->polls >= RP_MAX_POLLS) {
        fail_and_destroy(r, "link_restarted", "Hermes did not finish this run within two hours of the restart");
    } else {
        r->state = RUN_POLLING;
        r->next_poll_ms = now_ms() + RP_POLL_MS;
    }
}

static void poll_status(conv_run_t *r)
{
    char *esc = up_escape(r->upstream_id);
    char *path = hl_asprintf("/v1/runs/%s", esc);
    r->state = RUN_POLLING;
    r->call = up_json(r->rp->up, &r->target, "GET", path, NULL, on_status, r);
    free(path);
    free(esc);
}

/* ---- admission ---- */

static void on_admitted(void *data, const up_answer_t *a)
{
    conv_run_t *r = data;
    r->call = NULL;
    if (a->connect_failed)
        rp_caps_forget(r->rp, r->target.base_url);
    const char *id;
    hl_result_t *err = rp_admission(a, &id);
    if (err != NULL) {
        fail_and_destroy(r, err->code, err->message);
        hl_result_free(err);
        return;
    }
    r->upstream_id = hl_strdup(id);
    hl_run_event_t ev = {.kind = HL_RUN_EVENT_UPSTREAM, .upstream_run_id = id, .session_id = str(r->request, "session_id")};
    report(r, &ev);
    if (r->cancel_requested) { /* cancelled while the upstream was admitting it */
        stop_upstream(r);
        destroy(r);
        return;
    }
    open_stream(r);
}

static void admit(conv_run_t *r)
{
    json_t *q = r->request;
    json_t *body = json_pack("{s:O, s:O}", "input", json_object_get(q, "input"), "conversation_history",
                             json_object_get(q, "conversation_history"));
    const char *keys[] = {"session_id", "instructions", "model"};
    for (size_t i = 0; i < HL_ARRAY_SIZE(keys); ++i)
        if (json_is_string(json_object_get(q, keys[i])))
            json_object_set(body, keys[i], json_object_get(q, keys[i]));
    /* The history goes with this request only (the body holds it until up_json has written it out): a run streams for
     * seconds to minutes and the history grows with its conversation, so keeping it would hold every long
     * conversation's text once per run in flight (tests/RELIABILITY.md "Soak": RSS grew with the conversations). */
    json_object_del(q, "conversation_history");
    r->state = RUN_ADMITTING;
    rp_caps_note(r->rp, &r->target);
    r->call = up_json(r->rp->up, &r->target, "POST", "/v1/runs", body, on_admitted, r);
}

/* ---- resolution ---- */

static void on_resolved(hl_runproxy_t *rp, void *arg, rp_resolved_t *res)
{
    char *run_id = arg;
    conv_run_t *r = find_run(rp, run_id);
    if (r != NULL && r->state == RUN_RESOLVING) {
        if (res->error_code != NULL) {
            fail_and_destroy(r, res->error_code, res->message != NULL ? res->message : "The conversation's profile cannot be used");
        } else {
            r->target = res->target;
            res->target = (up_target_t){0};
            if (r->reconcile) {
                resend_decisions(r);
                poll_status(r);
            } else {
                admit(r);
            }
        }
    }
    free(run_id);
}

void rp_conv_start(hl_runproxy_t *rp, const json_t *request)
{
    const char *run_id = str((json_t *)request, "run_id");
    if (run_id == NULL || find_run(rp, run_id) != NULL)
        return;
    conv_run_t *r = hl_calloc(1, sizeof(*r));
    r->rp = rp;
    r->run_id = hl_strdup(run_id);
    r->profile = hl_strdup(str((json_t *)request, "profile"));
    r->request = json_deep_copy(request);
    r->state = RUN_RESOLVING;
    if (json_is_true(json_object_get(request, "reconcile"))) {
        r->reconcile = true;
        r->upstream_id = hl_strdup(str((json_t *)request, "upstream_run_id"));
    }
    r->next = rp->runs;
    rp->runs = r;
    rp_resolve(rp, r->profile, on_resolved, hl_strdup(run_id), free);
}

void rp_conv_cancel(hl_runproxy_t *rp, const char *run_id)
{
    conv_run_t *r = find_run(rp, run_id);
    if (r == NULL)
        return;
    r->state = RUN_ENDED; /* the store has ended it already */
    if (r->upstream_id == NULL && r->call != NULL) {
        r->cancel_requested = true; /* admission in flight: stopped once the upstream names the run */
        return;
    }
    stop_upstream(r);
    if (r->relay != NULL)
        rp_relay_end(rp, r->relay, "run.cancelled", NULL);
    destroy(r);
}

/* The upstream's answer to a decision: taken (2xx), or moot (404: no such run, 409: nothing pending, the run ended) —
 * either way settled, so the store marks it delivered; anything else is only logged (sent again after a restart). */
typedef struct st_decision_call_t {
    hl_runproxy_t *rp;
    char *run_id, *approval_id, *what;
} decision_call_t;

static void on_decision_answer(void *data, const up_answer_t *a)
{
    decision_call_t *d = data;
    bool settled = !a->connect_failed && ((a->status >= 200 && a->status < 300) || a->status == 404 || a->status == 409);
    if (settled && d->approval_id != NULL) {
        hl_run_event_t ev = {.kind = HL_RUN_EVENT_DECIDED, .run_id = d->run_id, .approval_id = d->approval_id};
        hl_store_run_event(d->rp->store, NULL, &ev);
    }
    if (a->connect_failed || a->status < 200 || a->status >= 300) {
        char *m = rp_upstream_message(a);
        hl_logf(settled ? HL_LOG_INFO : HL_LOG_WARN, "runproxy: %s: HTTP %ld: %s", d->what, a->status, m);
        free(m);
    }
    free(d->run_id);
    free(d->approval_id);
    free(d->what);
    free(d);
}

static void send_decision(conv_run_t *r, const char *approval_id, const char *decision)
{
    decision_call_t *d = hl_malloc(sizeof(*d));
    *d = (decision_call_t){.rp = r->rp,
                           .run_id = hl_strdup(r->run_id),
                           .approval_id = hl_strdup(approval_id),
                           .what = hl_asprintf("approval for %s", r->upstream_id)};
    char *esc = up_escape(r->upstream_id);
    char *path = hl_asprintf("/v1/runs/%s/approval", esc);
    up_json(r->rp->up, &r->target, "POST", path, json_pack("{s:s}", "choice", decision), on_decision_answer, d);
    free(path);
    free(esc);
}

/* A reconciled run: the decisions the previous process answered but may not have delivered go first. */
static void resend_decisions(conv_run_t *r)
{
    if (!rp_caps_approvals(r->rp, r->target.base_url))
        return;
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(r->request, "decisions"), i, d)
    {
        hl_logf(HL_LOG_INFO, "runproxy: run %s: sending again the decision on approval %s, made before the restart", r->run_id,
                str(d, "approval_id"));
        send_decision(r, str(d, "approval_id"), str(d, "decision"));
    }
}

void rp_conv_decide(hl_runproxy_t *rp, const char *run_id, const char *approval_id, const char *decision)
{
    conv_run_t *r = find_run(rp, run_id);
    if (r == NULL || r->upstream_id == NULL) {
        hl_logf(HL_LOG_WARN, "runproxy: an approval decision for run %s, which is not running upstream", run_id);
        return;
    }
    if (!rp_caps_approvals(rp, r->target.base_url)) {
        hl_logf(HL_LOG_WARN,
                "runproxy: run %s: the Hermes API server takes no approval answers (before v0.15); the agent "
                "decides when its approval times out",
                run_id);
        return;
    }
    send_decision(r, approval_id, decision);
    /* still waiting (for the approval limit) until the upstream says approval.responded */
}

int rp_conv_timers(hl_runproxy_t *rp)
{
    uint64_t now = now_ms();
    int due = -1;
    for (conv_run_t *r = rp->runs, *next; r != NULL; r = next) {
        next = r->next;
        if (r->state == RUN_POLLING && r->call == NULL) {
            if (now >= r->next_poll_ms)
                poll_status(r);
            else if (due < 0 || (int)(r->next_poll_ms - now) < due)
                due = (int)(r->next_poll_ms - now);
            continue;
        }
        if (r->state != RUN_STREAMING)
            continue;
        if (r->delta_len > 0) {
            uint64_t since = now - r->last_flush_ms;
            if (since >= RP_COALESCE_MS)
                flush_text(r);
            else if (due < 0 || (int)(RP_COALESCE_MS - since) < due)
                due = (int)(RP_COALESCE_MS - since);
        }
        int64_t limit = r->waiting_approval ? r->rp->approval_stall_ms : r->rp->stall_ms;
        if (r->call != NULL && up_idle_ms(r->call) > limit) {
            char msg[160];
            snprintf(msg, sizeof(msg), "Hermes sent nothing for %lld s", (long long)(limit / 1000));
            fail(r, "hermes_stream_stalled", msg);
            stop_upstream(r);
            destroy(r);
        }
    }
    return due;
}
