/*
 * The runproxy actor: one thread running a libcurl multi loop (the actor's wait hook polls the upstream sockets and the
 * mailbox together). It observes the store's commits — runs to start, runs to stop, approval decisions — and drives them
 * against each profile's Hermes API server (runproxy_conv.c); it also serves the routes that go straight to the upstream
 * (runproxy_direct.c).
 *
 * Test mode only (POST /__test/runproxy/hold, /__test/runproxy/release): while the hold is on, runs handed over stay
 * running here (not started upstream), so that tests can observe and cancel a running run deterministically.
 */
#include "runproxy_internal.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "hl/clock.h"
#include "hl/json_util.h"
#include "hl/log.h"

typedef struct st_rp_task_t {
    hl_task_t super;
    hl_runproxy_t *rp;
    void (*fn)(hl_runproxy_t *rp, void *arg);
    void *arg;
    void (*free_arg)(void *arg);
} rp_task_t;

static void run_task(hl_task_t *base)
{
    rp_task_t *t = (rp_task_t *)base;
    t->fn(t->rp, t->arg);
    free(t);
}

static void free_task(hl_msg_t *msg)
{
    rp_task_t *t = (rp_task_t *)msg;
    if (t->free_arg != NULL)
        t->free_arg(t->arg);
    free(t);
}

void rp_post(hl_runproxy_t *rp, void (*fn)(hl_runproxy_t *rp, void *arg), void *arg, void (*free_arg)(void *arg))
{
    rp_task_t *t = hl_malloc(sizeof(*t));
    hl_msg_init(&t->super.super, 1, free_task);
    t->super.run = run_task;
    t->rp = rp;
    t->fn = fn;
    t->arg = arg;
    t->free_arg = free_arg;
    hl_actor_post(&rp->actor, &t->super.super);
}

void rp_target_copy(up_target_t *to, const hl_upstream_t *up)
{
    to->base_url = hl_strdup(up->base_url);
    to->api_key = hl_strdup(up->api_key);
}

void rp_target_dispose(up_target_t *t)
{
    free((char *)t->base_url);
    if (t->api_key != NULL) {
        explicit_bzero((char *)t->api_key, strlen(t->api_key));
        free((char *)t->api_key);
    }
    t->base_url = t->api_key = NULL;
}

/* ---- resolving a profile's upstream (the answer comes on the Hermes files actor's thread) ---- */

typedef struct st_resolve_t {
    hl_runproxy_t *rp;
    rp_resolved_fn done;
    void *arg;
    void (*drop)(void *arg);
    rp_resolved_t res;
    char *message;
} resolve_t;

static void resolve_free(resolve_t *r)
{
    rp_target_dispose(&r->res.target);
    free(r->message);
    free(r);
}

static void task_resolved(hl_runproxy_t *rp, void *arg)
{
    resolve_t *r = arg;
    r->res.message = r->message;
    r->done(rp, r->arg, &r->res);
    resolve_free(r);
}

static void drop_resolved(void *arg)
{
    resolve_t *r = arg;
    r->drop(r->arg);
    resolve_free(r);
}

static void on_resolved(void *data, const hl_upstream_t *up, const char *error_code, const char *message)
{
    resolve_t *r = data;
    if (up != NULL) {
        rp_target_copy(&r->res.target, up);
    } else {
        /* a result's code is a literal by contract: the resolution's two codes, as literals */
        r->res.error_code =
            strcmp(error_code != NULL ? error_code : "", "profile_not_found") == 0 ? "profile_not_found" : "invalid_profile_name";
        r->message = hl_strdup(message);
    }
    rp_post(r->rp, task_resolved, r, drop_resolved);
}

void rp_resolve(hl_runproxy_t *rp, const char *profile, rp_resolved_fn done, void *arg, void (*drop)(void *arg))
{
    resolve_t *r = hl_calloc(1, sizeof(*r));
    r->rp = rp;
    r->done = done;
    r->arg = arg;
    r->drop = drop;
    hl_hermes_resolve_upstream(rp->hermes, profile, on_resolved, r);
}

char *rp_upstream_message(const up_answer_t *a)
{
    json_t *j = a->json;
    json_t *err = json_object_get(j, "error");
    const char *m = json_string_value(json_object_get(err, "message"));
    if (m == NULL)
        m = json_string_value(json_object_get(j, "message"));
    if (m == NULL)
        m = json_string_value(err);
    if (m == NULL)
        m = json_string_value(json_object_get(j, "detail"));
    if (m != NULL)
        return hl_strndup(m, 500);
    if (a->body == NULL || a->body_len == 0)
        return hl_strdup(a->error != NULL ? a->error : "empty response body");
    /* the first 500 bytes, whitespace collapsed, never cutting a UTF-8 character */
    size_t n = a->body_len < 500 ? a->body_len : 500;
    while (n > 0 && n < a->body_len && ((unsigned char)a->body[n] & 0xC0) == 0x80)
        --n;
    char *out = hl_malloc(n + 1);
    size_t o = 0;
    bool space = false;
    for (size_t i = 0; i < n; ++i) {
        char c = a->body[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            space = o > 0;
            continue;
        }
        if (space)
            out[o++] = ' ';
        space = false;
        out[o++] = c;
    }
    out[o] = '\0';
    return out;
}

const char *rp_event_type(json_t *ev)
{
    return hl_json_alias(ev, "event", "type");
}

bool rp_event_terminal(const char *type)
{
    return type != NULL &&
           (strcmp(type, "run.completed") == 0 || strcmp(type, "run.failed") == 0 || strcmp(type, "run.cancelled") == 0);
}

/* A token count of the upstream's usage: its integer, 0 when negative or absent. */
static json_int_t token_count(json_t *n)
{
    json_int_t v = json_integer_value(n);
    return v > 0 ? v : 0;
}

json_t *rp_usage_of(json_t *ev)
{
    json_t *u = json_object_get(ev, "usage");
    if (!json_is_object(u))
        return NULL;
    json_t *in = json_object_get(u, "input_tokens"), *out = json_object_get(u, "output_tokens");
    if (in == NULL)
        in = json_object_get(u, "prompt_tokens");
    if (out == NULL)
        out = json_object_get(u, "completion_tokens");
    if (!json_is_integer(in) && !json_is_integer(out))
        return NULL;
    /* counts from the upstream as they are, but never negative, and a sum that cannot overflow */
    json_int_t i = token_count(in), o = token_count(out);
    json_t *t = json_object_get(u, "total_tokens");
    return json_pack("{s:I, s:I, s:I}", "input_tokens", i, "output_tokens", o, "total_tokens",
                     json_is_integer(t)  ? token_count(t)
                     : i > LLONG_MAX - o ? LLONG_MAX
                                         : i + o);
}

hl_result_t *rp_upstream_error(const up_answer_t *a, const char *code)
{
    if (a->out_of_memory) /* ours, not the upstream's: whatever the upstream said is lost with it */
        return hl_result_error(HL_RESULT_INTERNAL, "internal_error", "HermesLink ran out of memory talking to Hermes");
    if (a->connect_failed)
        return hl_result_error(HL_RESULT_UNAVAILABLE, "hermes_api_server_unavailable", "Hermes API Server is unavailable");
    char *msg;
    if (a->status == 0) { /* connected, then no answer (a timeout, a reset) */
        msg = hl_asprintf("Hermes API Server did not answer: %s", a->error != NULL ? a->error : "no response");
        code = "hermes_api_server_unavailable";
    } else {
        char *m = rp_upstream_message(a);
        msg = hl_asprintf("Hermes API Server returned HTTP %ld: %s", a->status, m);
        free(m);
    }
    hl_result_kind_t kind = a->status == 0                                   ? HL_RESULT_UNAVAILABLE
                            : strcmp(code, "hermes_rate_limited") == 0       ? HL_RESULT_RATE_LIMITED
                            : strcmp(code, "hermes_cancel_unsupported") == 0 ? HL_RESULT_UNSUPPORTED
                                                                             : HL_RESULT_UPSTREAM;
    hl_result_t *res = hl_result_error(kind, code, msg);
    free(msg);
    return res;
}

hl_result_t *rp_admission(const up_answer_t *a, const char **run_id)
{
    *run_id = NULL;
    if (a->out_of_memory)
        return rp_upstream_error(a, "internal_error");
    if (a->status == 404 || a->status == 503)
        return hl_result_error(HL_RESULT_UNAVAILABLE, "hermes_api_server_unavailable", "Hermes API Server is unavailable");
    if (a->status < 200 || a->status >= 300)
        return rp_upstream_error(a, a->status == 429 ? "hermes_rate_limited" : "hermes_response_invalid");
    if (!json_is_object(a->json))
        return hl_result_error(HL_RESULT_UPSTREAM, "hermes_response_invalid", "Hermes API Server answered without a JSON object");
    const char *keys[] = {"run_id", "runId", "id"};
    for (size_t i = 0; i < HL_ARRAY_SIZE(keys) && *run_id == NULL; ++i)
        *run_id = json_string_value(json_object_get(a->json, keys[i]));
    if (*run_id == NULL || (*run_id)[0] == '\0') {
        *run_id = NULL;
        return hl_result_error(HL_RESULT_UPSTREAM, "hermes_run_invalid", "Hermes API Server accepted the run without a run id");
    }
    return NULL;
}

/* ---- the store's commits ---- */

static void free_json(void *arg)
{
    json_decref(arg);
}

static void task_start(hl_runproxy_t *rp, void *arg)
{
    json_t *run = arg;
    if (rp->hold)
        json_array_append(rp->held, run);
    else
        rp_conv_start(rp, run);
    json_decref(run);
}

static void task_cancel(hl_runproxy_t *rp, void *arg)
{
    json_t *id = arg;
    const char *run_id = json_string_value(id);
    for (size_t i = 0; i < json_array_size(rp->held); ++i) {
        if (strcmp(json_string_value(json_object_get(json_array_get(rp->held, i), "run_id")), run_id) == 0) {
            json_array_remove(rp->held, i); /* a held run never reached the upstream */
            json_decref(id);
            return;
        }
    }
    rp_conv_cancel(rp, run_id);
    json_decref(id);
}

static void task_decide(hl_runproxy_t *rp, void *arg)
{
    json_t *d = arg;
    rp_conv_decide(rp, json_string_value(json_object_get(d, "run_id")), json_string_value(json_object_get(d, "approval_id")),
                   json_string_value(json_object_get(d, "decision")));
    json_decref(d);
}

/* A store observer (on the store's thread): what a batch committed becomes tasks here, in commit order. */
static void on_commit(void *data, const hl_store_commit_t *c)
{
    hl_runproxy_t *rp = data;
    for (size_t i = 0; i < c->num_run_starts; ++i)
        rp_post(rp, task_start, json_deep_copy(c->run_starts[i].request), free_json);
    for (size_t i = 0; i < c->num_run_cancels; ++i)
        rp_post(rp, task_cancel, json_string(c->run_cancels[i]), free_json);
    for (size_t i = 0; i < c->num_decisions; ++i) {
        const hl_approval_decision_t *d = &c->decisions[i];
        if (d->run_id != NULL)
            rp_post(rp, task_decide,
                    json_pack("{s:s, s:s?, s:s}", "run_id", d->run_id, "approval_id", d->approval_id, "decision", d->decision),
                    free_json);
    }
}

/* ---- the test hold ---- */

typedef struct st_hold_arg_t {
    int hold; /* 1 on, 0 off (and release), -1 release only */
    hl_reply_to_t *to;
} hold_arg_t;

static void task_hold(hl_runproxy_t *rp, void *arg)
{
    hold_arg_t *h = arg;
    size_t released = 0;
    if (h->hold >= 0)
        rp->hold = h->hold;
    if (h->hold <= 0) {
        /* detached first: a released run that ends at once may start the next queued one, handed back here */
        json_t *runs = rp->held;
        rp->held = json_array();
        size_t i;
        json_t *run;
        json_array_foreach(runs, i, run) rp_conv_start(rp, run);
        released = json_array_size(runs);
        json_decref(runs);
    }
    hl_logf(HL_LOG_INFO, "runproxy: test hold %s, %zu held, %zu released", rp->hold ? "on" : "off", json_array_size(rp->held),
            released);
    hl_reply(h->to, hl_result_ok(HL_RESULT_OK, json_pack("{s:b, s:I, s:I}", "hold", rp->hold, "held",
                                                         (json_int_t)json_array_size(rp->held), "released", (json_int_t)released)));
    free(h);
}

static void free_hold(void *arg)
{
    hold_arg_t *h = arg;
    hl_reply(h->to, hl_result_error(HL_RESULT_UNAVAILABLE, "shutting_down", "The run proxy is stopping"));
    free(h);
}

void hl_runproxy_test_hold(hl_runproxy_t *rp, int on, hl_reply_to_t *to)
{
    hold_arg_t *h = hl_malloc(sizeof(*h));
    h->hold = on;
    h->to = to;
    rp_post(rp, task_hold, h, free_hold);
}

/* ---- the loop ---- */

static void on_wait(hl_actor_t *actor, int mailbox_fd, int timeout_ms)
{
    hl_runproxy_t *rp = actor->data;
    /* the timers ran at the end of the last turn: text to coalesce and polls come only from the upstream's answers, read
     * in the wait, so what they said was due still holds */
    int t = timeout_ms;
    if (rp->timers_due_ms != 0) {
        uint64_t now = hl_monotonic_ms();
        int due = now >= rp->timers_due_ms ? 0 : (int)(rp->timers_due_ms - now);
        if (t < 0 || due < t)
            t = due;
    }
    if (t < 0 || t > 1000)
        t = 1000; /* stall checks */
    up_client_wait(rp->up, mailbox_fd, t);
    int due = rp_conv_timers(rp);
    rp->timers_due_ms = due >= 0 ? hl_monotonic_ms() + (uint64_t)due : 0;
    rp_relay_publish(rp);
}

static int on_start(hl_actor_t *actor)
{
    hl_runproxy_t *rp = actor->data;
    rp->up = up_client_new();
    return 0;
}

static void on_stop(hl_actor_t *actor)
{
    hl_runproxy_t *rp = actor->data;
    rp_conv_drop_all(rp);
    rp_relay_drop_all(rp);
    up_client_free(rp->up);
    rp_caps_drop_all(rp);
    rp->up = NULL;
}

static int64_t env_ms(const char *name, int64_t dflt)
{
    const char *v = getenv(name);
    long ms;
    if (v == NULL || hl_parse_long(v, 100, 3600000, &ms) != 0)
        return dflt;
    return ms;
}

int hl_runproxy_init(hl_runproxy_t **out, const hl_link_t *link, hl_store_t *store, hl_hermes_t *hermes)
{
    static const hl_actor_callbacks_t cb = {
        .on_start = on_start, .on_batch = hl_actor_run_tasks, .on_stop = on_stop, .wait = on_wait};
    hl_runproxy_t *rp = hl_calloc(1, sizeof(*rp));
    rp->store = store;
    rp->hermes = hermes;
    rp->held = json_array();
    rp->stall_ms = RP_STALL_MS;
    rp->approval_stall_ms = RP_APPROVAL_STALL_MS;
    if (link != NULL && link->test_mode) {
        /* tests shorten the stall limits to see a stalled stream end within seconds */
        rp->stall_ms = env_ms("HERMESLINK_TEST_STALL_MS", rp->stall_ms);
        rp->approval_stall_ms = env_ms("HERMESLINK_TEST_APPROVAL_STALL_MS", rp->approval_stall_ms);
    }
    int ret = hl_actor_init(&rp->actor, "runproxy", &cb, rp);
    if (ret != 0) {
        json_decref(rp->held);
        free(rp);
        return ret;
    }
    hl_store_observe(store, on_commit, rp);
    *out = rp;
    return 0;
}

hl_actor_t *hl_runproxy_actor(hl_runproxy_t *rp)
{
    return &rp->actor;
}

/* Runs still running upstream stay running in the store; the next start-up reconciles them. */
void hl_runproxy_dispose(hl_runproxy_t *rp)
{
    if (rp == NULL)
        return;
    hl_actor_dispose(&rp->actor);
    json_decref(rp->held);
    free(rp);
}
