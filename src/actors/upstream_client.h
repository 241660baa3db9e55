/*
 * HTTP calls to Hermes's API server over one libcurl multi handle (domain layer, private to the run proxy). Everything
 * here runs on the run proxy's thread: calls are started there, progress happens inside up_client_wait (the actor's wait
 * hook), and callbacks run there. Connections are kept alive per upstream; a connect gives up after about a second, so an
 * upstream that is down is known fast. The bearer key is sent as a header and never logged.
 */
#ifndef HL_UPSTREAM_CLIENT_H
#define HL_UPSTREAM_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>
#include <jansson.h>

/* long enough for the SYN retransmissions of a full accept queue (1 s, then 3 s later) to be answered: a burst of runs
 * beyond the upstream's backlog waits instead of failing; an upstream that is down refuses at once whatever this is */
#define UP_CONNECT_TIMEOUT_MS 3500
#define UP_JSON_TIMEOUT_MS 30000
#define UP_MAX_JSON_BYTES (8 * 1024 * 1024)

typedef struct st_up_client_t up_client_t;
typedef struct st_up_call_t up_call_t;

/** Where a call goes: the upstream's base URL (no trailing slash) and its key (NULL: none). Copied by the call. */
typedef struct st_up_target_t {
    const char *base_url;
    const char *api_key;
} up_target_t;

/** How a call ended. `connect_failed`: the upstream could not be reached (down, refused, connect timeout). */
typedef struct st_up_answer_t {
    long status; /* HTTP status, 0 when no answer came */
    bool connect_failed;
    bool out_of_memory; /* the call failed on our side: libcurl could not allocate (setting it up, or during the transfer) */
    const char *error;  /* curl's message when the transfer failed, else NULL */
    const char *body;   /* the whole body (JSON calls), NUL-terminated */
    size_t body_len;
    json_t *json; /* body parsed (any JSON value), or NULL; borrowed */
} up_answer_t;

/** A JSON call's end; the call is gone after it returns. */
typedef void (*up_done_fn)(void *data, const up_answer_t *answer);

/** A stream's callbacks: `on_open` once the status line and headers arrived; `on_bytes` per piece of the body (non-zero
 * aborts the transfer, then on_end reports it); `on_end` once, last (answer: status and error; no body). */
typedef struct st_up_stream_cb_t {
    void (*on_open)(void *data, long status);
    int (*on_bytes)(void *data, const char *bytes, size_t len);
    void (*on_end)(void *data, const up_answer_t *answer);
} up_stream_cb_t;

/** Creates the multi handle. */
up_client_t *up_client_new(void);
/** Cancels every call (no callbacks) and frees the client. */
void up_client_free(up_client_t *c);

/**
 * Starts `method path` with `body` (stolen; NULL: none) as JSON; `done` is called exactly once (unless the call is
 * cancelled first), never from inside this function: a call libcurl could not set up for want of memory ends
 * in the next up_client_wait with status 0 and the error "Out of memory", unsent.
 */
up_call_t *up_json(up_client_t *c, const up_target_t *to, const char *method, const char *path, json_t *body, up_done_fn done,
                   void *data);

/** Starts `GET path` as an event stream (Accept: text/event-stream, no total timeout); a stream that cannot be set up ends as
 * up_json's call does (on_end only). */
up_call_t *up_stream(up_client_t *c, const up_target_t *to, const char *path, const up_stream_cb_t *cb, void *data);

/** Stops a call that has not ended; no callback runs for it afterwards. */
void up_cancel(up_call_t *call);

/** Milliseconds since the call received its last byte (streams: for stall detection). */
int64_t up_idle_ms(const up_call_t *call);

/**
 * The run proxy's wait hook body: waits for the upstream sockets, `extra_fd` (the mailbox) or `timeout_ms`, then drives
 * the transfers and runs the callbacks of those that progressed or ended.
 */
void up_client_wait(up_client_t *c, int extra_fd, int timeout_ms);

/** A URL path segment, percent-encoded (caller frees). */
char *up_escape(const char *segment);

#endif
