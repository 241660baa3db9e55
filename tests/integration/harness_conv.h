/*
 * Helpers of the conversation suites (conversations, messages, blobs, SSE, durability): a daemon with an enrolled device,
 * conversation calls with their status and shape checks, an incremental SSE client on libcurl (one stream or many on one
 * multi handle), a raw HTTP/1.1 SSE reader, run/queue waits, event replays, blob uploads, and read-only access to link.db.
 */
#ifndef HLT_HARNESS_CONV_H
#define HLT_HARNESS_CONV_H

#include <stdint.h>

#include "auth_util.h"
#include "harness.h"

/* ---- a daemon with a device ---- */

typedef struct st_hltc_ctx_t {
    hlt_daemon_t d;
    hlt_device_t dev;
    int started;
} hltc_ctx_t;

/** Starts a daemon (with TLS when asked; env NULL for a fresh one) and enrolls a device over HTTP/1.1. */
void hltc_start(hltc_ctx_t *c, int tls, hlt_env_t *env);
/** Teardown of a shared context in an unchecked fixture (records a late failure on an unclean exit). */
void hltc_teardown_shared(hltc_ctx_t *c, const char *what);

/* ---- calls ---- */

/**
 * `method path` with the bearer and an optional JSON body; asserts the status and, for a success (2xx), the JSON content
 * type, CORS and "ok": true. Returns the parsed body (new reference; NULL only for a non-JSON body).
 */
json_t *hltc_call(const hlt_daemon_t *d, hlt_proto_t proto, const char *bearer, const char *method, const char *path,
                  const char *body, long want_status);
/** Like hltc_call for an expected error: asserts the error envelope with `code`. */
void hltc_call_error(const hlt_daemon_t *d, hlt_proto_t proto, const char *bearer, const char *method, const char *path,
                     const char *body, long want_status, const char *code);

/** POST /conversations {"title": title} (title NULL: no body); asserts 201 and the summary; returns the id (caller frees). */
char *hltc_create(const hlt_daemon_t *d, hlt_proto_t proto, const char *bearer, const char *title);
/** POST …/messages {"content": text}; asserts 202 and the shape; returns the body. */
json_t *hltc_send(const hlt_daemon_t *d, hlt_proto_t proto, const char *bearer, const char *conv, const char *text);
/** GET …/messages?limit=100 body (asserts 200). */
json_t *hltc_messages(const hlt_daemon_t *d, hlt_proto_t proto, const char *bearer, const char *conv);
/** The conversation's last_event_seq (GET …/messages). */
int64_t hltc_last_seq(const hlt_daemon_t *d, const char *bearer, const char *conv);
/**
 * Waits (up to timeout_ms) until no run of the conversation is queued or running: the replayed events hold as many run
 * terminal events (run.completed/failed/cancelled) as distinct runs started. Returns the replay (hltc_events_free).
 */
struct st_hltc_events_t *hltc_wait_runs_done(const hlt_daemon_t *d, const char *bearer, const char *conv, long timeout_ms);

/** Asserts a ConversationSummary (spec/API.md §1.10 plus status and unread_count). */
void hltc_assert_summary(json_t *s, const char *what);
/** Asserts a stored message object (FLOWS.md §4.2). */
void hltc_assert_message(json_t *m, const char *what);
/** Asserts the id format prefix_<32 lowercase hex>. */
void hltc_assert_id(const char *id, const char *prefix);

/* ---- SSE ---- */

typedef struct st_hltc_event_t {
    int64_t id; /* the `id:` line, -1 when absent */
    char *type; /* the `event:` line, NULL when absent */
    char *data;
    json_t *json; /* data parsed */
} hltc_event_t;

typedef struct st_hltc_events_t {
    hltc_event_t *v;
    size_t n, cap;
    int64_t retry;   /* the last `retry:` value, -1 if none */
    size_t comments; /* comment blocks (": …") */
    char *last_comment;
} hltc_events_t;

void hltc_events_free(hltc_events_t *e);
/** Parses whole blocks of `text` from *offset on (advancing it past what was parsed) into e. Returns blocks added. */
size_t hltc_sse_parse(hltc_events_t *e, const char *text, size_t len, size_t *offset);
/** Index of the first event with this type (and, when not NULL, this top-level run_id / message_id), else -1. */
long hltc_find(const hltc_events_t *e, const char *type, const char *key, const char *value);
size_t hltc_count_type(const hltc_events_t *e, const char *type);

/** A stream read through libcurl; `res` comes first so that CURLINFO_PRIVATE works for both. */
typedef struct st_hltc_sse_t {
    hlt_response_t res;
    CURL *easy;
    CURLM *multi;
    int own_multi;
    int done; /* the transfer ended (res.rc says how) */
    size_t parsed;
    hltc_events_t ev;
} hltc_sse_t;

/**
 * Opens `path` as an event stream with the bearer and extra headers (e.g. "Last-Event-ID: 3"; NULL-terminated, may be NULL).
 * multi NULL: the stream gets its own multi handle; else it joins `multi` (with PIPEWAIT, to share an HTTP/2 connection).
 */
void hltc_sse_open(hltc_sse_t *s, const hlt_daemon_t *d, hlt_proto_t proto, const char *bearer, const char *path,
                   const char *const *headers, CURLM *multi);
/** Drives a multi of streams for up to ms (a stream that ends is parsed; hltc_sse_update parses the others). */
void hltc_sse_drive(CURLM *multi, long ms);
/** Parses what arrived on the stream so far into its events. */
void hltc_sse_update(hltc_sse_t *s);
/** Drops the bytes already parsed from the stream's body buffer (long streams; the head check needs the start). */
void hltc_sse_compact(hltc_sse_t *s);
/** Drives the stream's own multi for ms, then parses. */
void hltc_sse_pump(hltc_sse_t *s, long ms);
/** Drives the stream's multi until it has at least n events (or an event with id >= min_id when n is 0), or timeout. */
int hltc_sse_wait(hltc_sse_t *s, size_t n, int64_t min_id, long timeout_ms);
/** Ends the stream (if still open) and frees it; a shared multi is left to the caller. */
void hltc_sse_close(hltc_sse_t *s);
/** Asserts the SSE response head: 200, text/event-stream, no-cache, X-Accel-Buffering, CORS, and the retry: block. */
void hltc_sse_assert_head(hltc_sse_t *s);

/**
 * Replays a conversation's stream from `after` until the event with id `until` arrived (asserts it does within 10 s), over
 * HTTP/1.1. Returns the events.
 */
hltc_events_t *hltc_replay(const hlt_daemon_t *d, const char *bearer, const char *conv, int64_t after, int64_t until);

/** A raw HTTP/1.1 GET on a plain socket (rcvbuf > 0 sets SO_RCVBUF before connecting). Returns the fd. */
int hltc_raw_get(int port, const char *path, const char *bearer, int rcvbuf);
/**
 * A raw HTTP/1.1 GET of an event stream (hltc_raw_get) whose response head said 200 within ms: returns its fd (open, the
 * stream running), or -1 (the connection closed) when the head said anything else, or did not come in time.
 */
int hltc_raw_stream_open(int port, const char *path, const char *bearer, long ms);
/** Reads what is available on fd for up to ms into *buf (grown), returns bytes read, -1 at EOF/error. */
long hltc_raw_read(int fd, char **buf, size_t *len, long ms);
/** Decodes an HTTP/1.1 chunked body (after the head) into a new string; *complete tells whether the last chunk came. */
char *hltc_dechunk(const char *raw, size_t len, size_t *out_len, int *complete);

/* ---- an event generator on a thread ---- */

/**
 * Updates a conversation n times from a thread of its own (each update is one conversation.updated event): PATCH …/<what>
 * ("title" or "profile") with the value "g<i> " padded with 'x' to title_len characters (a profile name appears twice in
 * the event's summary and is not indexed for search: the cheap way to big events). in_flight 1: one HTTP/1.1 keep-alive connection,
 * sequential requests with pause_us between them; more: that many requests in flight multiplexed on one h2 TLS connection (the
 * daemon needs TLS). The thread never asserts: it counts failures, which hltc_gen_join asserts are zero.
 */
typedef struct st_hltc_gen_t {
    const hlt_daemon_t *d;
    char *bearer, *conv, *what;
    int n, title_len, in_flight;
    long pause_us;
    volatile int sent, ok, failed, done;
    char last_error[256];
    unsigned long thread;
} hltc_gen_t;

void hltc_gen_start(hltc_gen_t *g, const hlt_daemon_t *d, const char *bearer, const char *conv, const char *what, int n,
                    int title_len, int in_flight, long pause_us);
/** Waits for the thread and asserts that every request was answered 200. */
void hltc_gen_join(hltc_gen_t *g);

/* ---- blobs ---- */

/**
 * POST …/blobs with raw bytes; content_type NULL sends none, filename NULL no Content-Disposition. The response is left in
 * res (no assertion but the transport).
 */
void hltc_upload(const hlt_daemon_t *d, hlt_proto_t proto, const char *bearer, const char *conv, const char *data, size_t len,
                 const char *content_type, const char *filename, hlt_response_t *res);
/** hltc_upload asserting 201 and the blob shape; returns the blob id (caller frees). */
char *hltc_upload_ok(const hlt_daemon_t *d, hlt_proto_t proto, const char *bearer, const char *conv, const char *data, size_t len,
                     const char *content_type, const char *filename);

/* ---- the process and its database ---- */

/** VmRSS of a process in KiB (-1 if unreadable). */
long hltc_rss_kib(pid_t pid);
/** SIGKILL by pid and reap; the daemon struct is left disposed-ready (pid 0). */
void hltc_kill9(hlt_daemon_t *d);
/** Opens <home>/link.db (read-only unless rw) with sqlite3; aborts the test on failure. Returns a sqlite3 *. */
void *hltc_db_open(const hlt_env_t *env, int rw);
/** The first column of the first row of sql as an integer (-1 when no row). */
int64_t hltc_db_int(void *db, const char *sql, const char *arg);
/** The first column of the first row as text (caller frees; NULL when no row). */
char *hltc_db_str(void *db, const char *sql, const char *arg);
/** Runs sql (no result), asserting success. */
void hltc_db_exec(void *db, const char *sql);
/** PRAGMA integrity_check result (caller frees). */
char *hltc_db_integrity(void *db);
void hltc_db_close(void *db);

/** Every message of conv, walking its whole history with before-cursors: {message id: status} (new reference). */
json_t *hltc_all_messages(const hlt_daemon_t *d, const char *bearer, const char *conv);
/** Asserts that the env's link.db passes PRAGMA integrity_check; `when` names the moment in the failure message. */
void hltc_assert_integrity(const hlt_env_t *env, const char *when);

/** printf into one of 16 rotating static buffers (paths and bodies for a call or two). */
const char *hltc_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/** A random lowercase hex tag of n characters (for unique titles). */
void hltc_tag(char *buf, size_t n);

#endif
