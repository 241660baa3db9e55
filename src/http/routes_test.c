/*
 * Test-only routes, registered only when HERMESLINK_TEST_MODE=1 so that integration tests can drive what a real route
 * cannot expose on demand: a slow actor round trip (resets while replies are in flight), a held-open stream (graceful
 * shutdown), the in-flight bound of an actor (503 server_busy), the wall clock (expiry without sleeping) and runs that
 * stay running in the runproxy stub until released (cancelling a running run).
 */
#include <string.h>
#include <time.h>

#include "hl/clock.h"
#include "hl/fsutil.h"
#include "hl/store.h"
#include "hl/api_docs.h"
#include "hl/http.h"
#include "hl/routes.h"
#include "hl/runproxy.h"

#define MAX_DELAY_MS 5000

/* what these routes use, given at registration */
static hl_store_t *store;
static hl_runproxy_t *runproxy;

static void get_actor_echo(hl_request_t *r)
{
    long delay = 0;
    const char *d = hl_request_query(r, "delay_ms", NULL);
    if (d != NULL && hl_parse_long(d, 0, MAX_DELAY_MS, &delay) != 0) {
        hl_reply_error(r, 400, "invalid_delay", "delay_ms must be an integer from 0 to 5000");
        return;
    }
    /* ?hold=1: the round trip waits in the store's writer while /__test/search-hold is on (the in-flight bound test
     * holds its slot exactly as long as it needs, whatever the machine's load) */
    const char *hold = hl_request_query(r, "hold", NULL);
    if (hold != NULL && strcmp(hold, "1") == 0)
        delay = -1;
    hl_reply_to_t *to = hl_request_defer(r, hl_store_actor(store));
    if (to != NULL)
        hl_store_ping(store, to, (int)delay);
}

static void post_actor_limit(hl_request_t *r)
{
    json_t *max = json_object_get(r->body, "max");
    if (!json_is_integer(max) || json_integer_value(max) < 1 || json_integer_value(max) > 1000000) {
        hl_reply_error(r, 400, "invalid_limit", "max must be a positive integer");
        return;
    }
    atomic_store(&hl_store_actor(store)->max_inflight, (unsigned)json_integer_value(max));
    hl_reply_json(r, 200, json_pack("{s:b, s:I}", "ok", 1, "max", json_integer_value(max)));
}

/* {"full": true|false}: while on, writes fail as on a full disk (SQLITE_FULL in the store, ENOSPC for files) */
static void post_storage_full(hl_request_t *r)
{
    json_t *on = json_object_get(r->body, "full");
    if (!json_is_boolean(on)) {
        hl_reply_error(r, 400, "invalid_full", "full must be true or false");
        return;
    }
    hl_storage_full_simulate(json_is_true(on));
    hl_reply_json(r, 200, json_pack("{s:b, s:b}", "ok", 1, "full", json_is_true(on)));
}

/* {"hold": true|false}: while on, searches wait before they run; answers how many wait now */
static void post_search_hold(hl_request_t *r)
{
    json_t *on = json_object_get(r->body, "hold");
    if (!json_is_boolean(on)) {
        hl_reply_error(r, 400, "invalid_hold", "hold must be true or false");
        return;
    }
    unsigned waiting = hl_store_test_hold_searches(store, json_is_true(on));
    hl_reply_json(r, 200, json_pack("{s:b, s:b, s:i}", "ok", 1, "hold", json_is_true(on), "waiting", (int)waiting));
}

/* {"hold": true|false}: while on, runs handed to the runproxy stay running; off fails the held runs (as without a hold) */
static void post_runproxy_hold(hl_request_t *r)
{
    json_t *on = json_object_get(r->body, "hold");
    if (!json_is_boolean(on)) {
        hl_reply_error(r, 400, "invalid_hold", "hold must be true or false");
        return;
    }
    hl_reply_to_t *to = hl_request_defer(r, hl_runproxy_actor(runproxy));
    if (to != NULL)
        hl_runproxy_test_hold(runproxy, json_is_true(on), to);
}

/* Fails the runs held so far; the hold stays as it is */
static void post_runproxy_release(hl_request_t *r)
{
    hl_reply_to_t *to = hl_request_defer(r, hl_runproxy_actor(runproxy));
    if (to != NULL)
        hl_runproxy_test_hold(runproxy, -1, to);
}

static void post_clock(hl_request_t *r)
{
    json_t *adv = json_object_get(r->body, "advance_ms");
    if (!json_is_integer(adv)) {
        hl_reply_error(r, 400, "invalid_advance", "advance_ms must be an integer");
        return;
    }
    hl_clock_advance(json_integer_value(adv));
    char now[HL_ISO_TIME_LEN];
    hl_reply_json(r, 200, json_pack("{s:b, s:s}", "ok", 1, "now", hl_format_iso(hl_now_ms(), now)));
}

/* A held-open streaming response that ticks every 100 ms until the client leaves or the server shuts down. */
typedef struct st_test_stream_t {
    h2o_generator_t super;
    h2o_req_t *req;
    hl_worker_t *worker;
    hl_stream_link_t link;
    h2o_timeout_entry_t timer;
    int sending;
    int closing; /* shutdown asked for FINAL while a send was in flight */
    int gone;
    unsigned ticks;
    char buf[64];
} test_stream_t;

static void stream_send(test_stream_t *s, const char *text, h2o_send_state_t state)
{
    size_t len = strlen(text);
    memcpy(s->buf, text, len);
    h2o_iovec_t v = h2o_iovec_init(s->buf, len);
    s->sending = 1;
    h2o_send(s->req, &v, 1, state);
}

static void stream_finish(test_stream_t *s)
{
    s->gone = 1;
    h2o_timeout_unlink(&s->timer);
    hl_worker_remove_stream(&s->link);
    /* after FINAL the request may be freed at once: touch nothing afterwards */
    stream_send(s, "event: shutdown\ndata: {}\n\n", H2O_SEND_STATE_FINAL);
}

static void on_tick(h2o_timeout_entry_t *entry)
{
    test_stream_t *s = H2O_STRUCT_FROM_MEMBER(test_stream_t, timer, entry);
    if (!s->sending) {
        char line[40];
        snprintf(line, sizeof(line), ": tick %u\n\n", ++s->ticks);
        stream_send(s, line, H2O_SEND_STATE_IN_PROGRESS);
    }
    h2o_timeout_link(s->req->conn->ctx->loop, &s->req->conn->ctx->hundred_ms_timeout, &s->timer);
}

static void on_proceed(h2o_generator_t *gen, h2o_req_t *req)
{
    (void)req;
    test_stream_t *s = (test_stream_t *)gen;
    s->sending = 0;
    if (s->closing)
        stream_finish(s);
}

static void on_stop(h2o_generator_t *gen, h2o_req_t *req)
{
    (void)req;
    test_stream_t *s = (test_stream_t *)gen;
    s->gone = 1;
    h2o_timeout_unlink(&s->timer);
    hl_worker_remove_stream(&s->link);
}

static void on_stream_shutdown(hl_stream_link_t *link)
{
    test_stream_t *s = H2O_STRUCT_FROM_MEMBER(test_stream_t, link, link);
    if (s->gone)
        return;
    if (s->sending) {
        s->closing = 1;
        h2o_timeout_unlink(&s->timer);
        return;
    }
    stream_finish(s);
}

static void on_stream_dispose(void *p)
{
    test_stream_t *s = p;
    h2o_timeout_unlink(&s->timer);
    hl_worker_remove_stream(&s->link);
}

static void get_stream(hl_request_t *r)
{
    test_stream_t *s = h2o_mem_alloc_shared(&r->req->pool, sizeof(*s), on_stream_dispose);
    memset(s, 0, sizeof(*s));
    s->super.proceed = on_proceed;
    s->super.stop = on_stop;
    s->req = r->req;
    s->worker = r->worker;
    s->timer.cb = on_tick;
    s->link.on_shutdown = on_stream_shutdown;
    r->req->res.status = 200;
    r->req->res.reason = "OK";
    h2o_add_header(&r->req->pool, &r->req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("text/event-stream"));
    h2o_add_header(&r->req->pool, &r->req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-cache"));
    h2o_add_header(&r->req->pool, &r->req->res.headers, H2O_TOKEN_ACCESS_CONTROL_ALLOW_ORIGIN, NULL, H2O_STRLIT("*"));
    h2o_start_response(r->req, &s->super);
    hl_worker_add_stream(r->worker, &s->link);
    stream_send(s, "retry: 1000\n\n", H2O_SEND_STATE_IN_PROGRESS);
    h2o_timeout_link(r->req->conn->ctx->loop, &r->req->conn->ctx->hundred_ms_timeout, &s->timer);
}

/* the table the daemon serves, read when asked (the docs routes register after these hooks) */
static const hl_router_t *routes_router;

static void add_route_json(const hl_route_t *route, void *data)
{
    const char *auth = (route->flags & HL_ROUTE_AUTH) != 0            ? "device"
                       : (route->flags & HL_ROUTE_CONNECT_TOKEN) != 0 ? "connect-token"
                                                                      : "none";
    json_array_append_new(data, json_pack("{s:s, s:s, s:s}", "method", hl_api_docs_method_name(route->method), "pattern",
                                          route->pattern, "auth", auth));
}

/* Every registered route, so that the API docs test compares the document with the router itself. */
static void get_routes(hl_request_t *r)
{
    json_t *list = json_array();
    hl_router_foreach(routes_router, add_route_json, list);
    hl_reply_json(r, 200, json_pack("{s:b, s:o}", "ok", 1, "routes", list));
}

static const hl_route_t ROUTES[] = {
    {HL_METHOD_GET, "/__test/routes", get_routes, 0, 0},
    {HL_METHOD_GET, "/__test/actor-echo", get_actor_echo, 0, 0},
    {HL_METHOD_POST, "/__test/actor-limit", post_actor_limit, HL_ROUTE_JSON_BODY, 0},
    {HL_METHOD_POST, "/__test/clock", post_clock, HL_ROUTE_JSON_BODY, 0},
    {HL_METHOD_POST, "/__test/runproxy/hold", post_runproxy_hold, HL_ROUTE_JSON_BODY, 0},
    {HL_METHOD_POST, "/__test/runproxy/release", post_runproxy_release, 0, 0},
    {HL_METHOD_POST, "/__test/search-hold", post_search_hold, HL_ROUTE_JSON_BODY, 0},
    {HL_METHOD_POST, "/__test/storage-full", post_storage_full, HL_ROUTE_JSON_BODY, 0},
    {HL_METHOD_GET, "/__test/stream", get_stream, 0, 0},
};

void hl_routes_test(hl_router_t *router, hl_store_t *s, hl_runproxy_t *rp)
{
    store = s;
    runproxy = rp;
    routes_router = router;
    hl_routes_add_all(router, ROUTES, HL_ARRAY_SIZE(ROUTES));
}
