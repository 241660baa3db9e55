/*
 * Private to src/http: the worker structure and the entry points the server and the dispatcher share.
 */
#ifndef HL_HTTP_WORKER_H
#define HL_HTTP_WORKER_H

#include <pthread.h>

#include "hl/http.h"
#include "hl/server.h"

#define HL_MAX_LISTENERS 4

struct st_hl_worker_t {
    h2o_context_t ctx; /* first: the dispatcher maps a context back to its worker */
    size_t index;
    hl_server_t *server;
    pthread_t thread;
    h2o_evloop_t *loop;
    h2o_accept_ctx_t accept_ctx[HL_MAX_LISTENERS];
    h2o_socket_t *listeners[HL_MAX_LISTENERS];
    size_t num_listeners;
    /** out of file descriptors: the listeners are paused until this timer resumes them (no accept spin) */
    h2o_timeout_t accept_pause_timeout;
    h2o_timeout_entry_t accept_resume;
    bool accept_paused;
    hl_mailbox_t mailbox;
    h2o_socket_t *mailbox_sock; /* the mailbox's eventfd (a duplicate) on the worker's loop */
    h2o_linklist_t streams;
    /** deferred requests whose reply has not come back yet */
    size_t num_pending;
    bool shutting_down;
    bool stopped;
    bool started;
    /** answers kept for repeated reads (reply_cache.c), created on first use */
    struct st_hl_reply_cache_t *reply_cache;
    /** the worker's admitted connections and their checks (conn_guard.c) */
    struct st_hl_conn_guard_t *guard;
    /** the worker's SSE fan-out state (sse.c) */
    struct st_hl_sse_worker_t *sse;
};

/** Calls fn for every started worker of the running server (any thread; the set is fixed while serving). */
void hl_server_each_worker(void (*fn)(hl_worker_t *worker, void *data), void *data);

/** Keeps a 200 JSON body for `key` at `version` (copied; too large bodies are not kept). Versions only grow: putting a
 * newer one drops every entry of an older one, and a body older than the newest put is not kept. Worker thread. */
void hl_reply_cache_put(hl_worker_t *w, const char *key, uint64_t version, const char *body, size_t len);

/** Frees the worker's cache. Worker thread, at shutdown. */
void hl_reply_cache_dispose(hl_worker_t *w);

/** The h2o handler entry point (dispatch.c). */
int hl_dispatch(h2o_handler_t *self, h2o_req_t *req);

#endif
