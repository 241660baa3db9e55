/*
 * fake-hermes: a loopback test double of the Hermes Agent API server (shared/spec/FAKE-UPSTREAM.md), for HermesLink's
 * tests. Independent of the code under test: libc and jansson only.
 *
 * One thread, one epoll loop, a sorted timer list. Pieces, one file each:
 *   main.c      options, the loop, timers, signals, the fake clock, ids, shutdown
 *   http.c      connections, the HTTP/1.1 request parser, responses, the chunked SSE writer
 *   routes.c    the upstream routes (health, models, capabilities, runs, approval, stop, steer), auth, CORS, dispatch
 *   scenario.c  scenario selection and scripts, the run store and its event queues
 *   cron.c      the /api/jobs store (and its jobs.json under --state-dir)
 *   control.c   the /__fake control API and the request log
 */
#ifndef FAKE_HERMES_H
#define FAKE_HERMES_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define FK_MAX_BODY 10000000L /* upstream's client_max_size */
#define FK_MAX_HEAD 65536     /* request line and headers */
#define FK_MAX_HEADERS 100
#define FK_MAX_CONNS 512
#define FK_LOG_MAX 10000               /* request log entries kept */
#define FK_LOG_BODY_MAX 65536          /* request log body bytes kept */
#define FK_LOG_BYTES_MAX (64L << 20)   /* request log bytes kept in all */
#define FK_SSE_BACKLOG_MAX (16L << 20) /* an event stream whose reader lags this far behind is closed */

#define FK_CONTAINER_OF(p, T, m) ((T *)(void *)((char *)(p)-offsetof(T, m)))

typedef enum en_fk_dialect_t { FK_V012 = 12, FK_V015 = 15, FK_V020 = 20, FK_V021 = 21 } fk_dialect_t;

/* ---- utilities (main.c) ---- */

void *fk_malloc(size_t n);
void *fk_calloc(size_t n, size_t m);
void *fk_realloc(void *p, size_t n);
char *fk_strdup(const char *s);
char *fk_strndup(const char *s, size_t n);
char *fk_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fk_log(const char *fmt, ...) __attribute__((format(printf, 1, 2))); /* a diagnostic line on stderr */

typedef struct st_fk_buf_t {
    char *p;
    size_t len, cap;
} fk_buf_t;
void fk_buf_add(fk_buf_t *b, const void *data, size_t n);
void fk_buf_str(fk_buf_t *b, const char *s);
void fk_buf_printf(fk_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void fk_buf_consume(fk_buf_t *b, size_t n); /* drops n bytes from the front */
void fk_buf_free(fk_buf_t *b);

/** A timer embedded in its owner, who disarms it before freeing itself. */
typedef struct st_fk_timer_t fk_timer_t;
typedef void (*fk_timer_cb)(fk_timer_t *t);
struct st_fk_timer_t {
    fk_timer_cb cb;
    double due; /* monotonic ms */
    fk_timer_t *next;
    int armed;
};
void fk_timer_arm(fk_timer_t *t, double ms, fk_timer_cb cb);
void fk_timer_disarm(fk_timer_t *t);
double fk_mono_ms(void);

/** The fake clock (float unix seconds): real time plus an offset, or frozen. */
double fk_now(void);
void fk_clock_set(double now, int frozen);
/** A scripted delay in ms scaled by --time-scale. */
double fk_scaled(double ms);

/** Random or (with a seed) counter-based ids: "run_" + 32 hex, 12 hex for jobs, n hex digits. */
void fk_hex_id(char *out, size_t digits);
void fk_seed(uint64_t seed);
/** A small PRNG (xorshift), seeded with --seed when given. */
uint32_t fk_rand(void);

/** Compact JSON with 16 significant digits for reals; caller frees. */
char *fk_json_dump(const json_t *j);
/** An ISO-8601 time with an offset (+00:00), microseconds, like Python's isoformat(). */
void fk_iso(double t, char *out, size_t len);
/** Parses an ISO-8601 timestamp (date, optional time, optional fraction and offset); returns 0 on success. */
int fk_iso_parse(const char *s, double *t);
/** 1 if s is valid UTF-8. */
int fk_utf8_valid(const char *s, size_t len);

/* ---- options and global state (main.c) ---- */

#define FK_DEFAULT_MAX_DELTAS 100000    /* --max-deltas: longer scripts are cut (bench/proxy streams 100,000) */
#define FK_DEFAULT_KEEP_FINISHED_S 3600 /* --keep-finished-s: a finished run stays pollable an hour, as upstream */

typedef struct st_fk_opts_t {
    int port;
    char *key; /* NULL: auth off; changed at run time by /__fake/auth */
    fk_dialect_t dialect;
    char *model_name;
    char *cors; /* comma-separated allowlist, "*" or NULL */
    long max_runs;
    double time_scale;
    long keepalive_ms;
    char *state_dir;
    char *log_path;
    int simple_cron;
    long backlog;         /* listen(2) backlog: 128 as aiohttp's */
    long max_deltas;      /* scripts are cut at this many deltas: the engine builds them whole at admission */
    long keep_finished_s; /* seconds of the fake clock a terminal run is kept (then swept) */
} fk_opts_t;

extern fk_opts_t fk_opt;
extern int fk_quit; /* set to leave the loop */

/** The dialect's version string ("0.20.0"), used by /health. */
const char *fk_dialect_version(void);

/* ---- HTTP (http.c) ---- */

typedef struct st_fk_hdr_t {
    char *name; /* as received */
    char *value;
} fk_hdr_t;

typedef struct st_fk_req_t {
    char *head; /* owned copy of the request head; the strings below point into it or are owned as said */
    char *method;
    char *target;
    char *path;  /* decoded (owned) */
    char *query; /* raw, without '?', "" if none (owned) */
    int minor;   /* HTTP/1.x */
    fk_hdr_t hdrs[FK_MAX_HEADERS];
    size_t nhdrs;
    char *body; /* owned, NUL-terminated; NULL when none */
    size_t body_len;
} fk_req_t;

typedef enum en_fk_conn_state_t {
    FK_C_READ,   /* waiting for (more of) a request */
    FK_C_WAIT,   /* a request is being handled (deferred answer) */
    FK_C_WRITE,  /* an answer is being written; then back to FK_C_READ or closed */
    FK_C_SSE,    /* an event stream */
    FK_C_DRAIN,  /* answered an error before the body: discard input until EOF or a timeout */
    FK_C_CLOSED, /* closed, freed at the end of the loop iteration */
} fk_conn_state_t;

typedef enum en_fk_chunking_t { FK_WHOLE, FK_BYTES, FK_COALESCE } fk_chunking_t;

struct st_fk_run_t;

typedef struct st_fk_conn_t fk_conn_t;
typedef void (*fk_defer_cb)(fk_conn_t *c);
struct st_fk_conn_t {
    int fd;
    uint64_t serial;
    fk_conn_t *prev, *next;
    fk_conn_state_t state;
    fk_buf_t in, out;
    int close_after; /* close once the answer is written */
    int want_out;    /* EPOLLOUT registered */
    fk_req_t req;
    int have_req;
    int head_only; /* HEAD: answer without body */
    /* a deferred answer: the callback runs when the timer fires (polls, delays) */
    fk_timer_t timer;
    fk_defer_cb defer;
    int tries;
    double deadline; /* monotonic ms */
    char ref[64];    /* a run id the deferred answer is about */
    char *scen_name; /* the scenario of a run admission held by delay_admit_ms */
    json_t *scen_params;
    /* an event stream */
    struct st_fk_run_t *run;
    fk_chunking_t chunking;
    fk_buf_t sse_pending; /* SSE payload not yet framed into chunks (bytes and coalesce modes) */
    int sse_pending_events;
    int sse_end;  /* 0, 1: end with ": stream closed" and the last chunk, 2: drop the connection */
    int sse_tail; /* the end is queued: close once written */
    fk_timer_t sse_timer;
    fk_timer_t ka_timer;
    double last_send; /* monotonic ms of the last SSE write (the keepalive timer is not moved on each) */
    int reset;        /* closed with a TCP reset (zero linger) instead of a FIN */
};

void fk_http_init(int listen_fd, int epfd);
/** Accept, read, write: one epoll event for a connection. */
void fk_conn_event(fk_conn_t *c, uint32_t events);
void fk_http_accept(void);
void fk_conn_close(fk_conn_t *c);
void fk_conns_reap(void); /* frees closed connections */
void fk_conns_close_all(void);
size_t fk_conns_count(void);

const char *fk_req_header(const fk_req_t *r, const char *name);
/** The value of a query parameter (decoded, static buffer), NULL when absent. */
const char *fk_req_query(const fk_req_t *r, const char *name);

/** Answers (status line, standard headers, extra header lines "Name: v\r\n…", body); the connection stays open or closes
 * according to the request. */
void fk_respond(fk_conn_t *c, int status, const char *ctype, const char *body, size_t len, const char *extra);
/** A JSON answer (the reference is stolen). */
void fk_respond_json(fk_conn_t *c, int status, json_t *j, const char *extra);
/** The OpenAI error envelope {"error":{"message","type","param","code"}}. code may be NULL (null). */
void fk_respond_error(fk_conn_t *c, int status, const char *message, const char *code);
/** aiohttp's plain text errors: "404: Not Found". */
void fk_respond_plain_status(fk_conn_t *c, int status, const char *extra);
/** Defers the answer: cb runs after ms (it may defer again, or answer). */
void fk_defer(fk_conn_t *c, double ms, fk_defer_cb cb);
/** Closes a connection at once without answering. */
void fk_conn_abort(fk_conn_t *c);

/** Writes raw bytes (no status line, no headers: garbage for the client) and closes once they are out. */
void fk_respond_raw(fk_conn_t *c, const char *bytes, size_t len);

/** Starts an event stream answer (200, SSE headers, chunked; extra header lines may be NULL). */
void fk_sse_start(fk_conn_t *c, fk_chunking_t chunking, const char *extra);
/** Sends SSE payload bytes (one event frame or comment) according to the stream's chunking. */
void fk_sse_send(fk_conn_t *c, const char *data, size_t len);
/** Ends the stream once what was queued is written: FK_END_CLOSED writes ": stream closed" and the last chunk, FK_END_DONE
 * only the last chunk (chat streams, after [DONE]), FK_END_DROP closes abruptly. The connection closes then. */
enum { FK_END_CLOSED = 0, FK_END_DROP = 1, FK_END_DONE = 2, FK_END_RESET = 3 /* closes with a TCP reset */ };
void fk_sse_end(fk_conn_t *c, int how);
/**
 * Ends the stream in the middle of an event: only the first `keep` bytes of `frame` (`len` bytes) are sent. clean = 0:
 * inside an HTTP chunk announced for the whole frame, then the connection closes (a peer that died while writing);
 * clean = 1: as a complete chunk followed by the last chunk (the HTTP answer ends well, the event does not).
 */
void fk_sse_cut(fk_conn_t *c, const char *frame, size_t len, size_t keep, int clean);

const char *fk_reason(int status);

/* ---- routes (routes.c) ---- */

/** A complete request arrived on c (its state is FK_C_WAIT). Answers it now or later. */
void fk_dispatch(fk_conn_t *c);
/** The common response headers (security, CORS for the request's origin), appended to b. */
void fk_common_headers(fk_buf_t *b, const fk_req_t *r);
/** The run admission once the delay (delay_admit_ms) is over. */
void fk_admit_run(fk_conn_t *c);

/* ---- runs and scenarios (scenario.c) ---- */

typedef enum en_fk_status_t {
    FK_QUEUED,
    FK_RUNNING,
    FK_WAITING,
    FK_STOPPING,
    FK_COMPLETED,
    FK_FAILED,
    FK_CANCELLED,
} fk_status_t;

typedef enum en_fk_step_kind_t {
    FK_S_EMIT,       /* an event with fixed fields */
    FK_S_WAIT,       /* ms */
    FK_S_TOOL_START, /* tool.started, remembers the time */
    FK_S_APPROVAL,   /* `count` approval.request events, then blocks until answered or timed out */
    FK_S_TOOL_DONE,  /* tool.completed with the duration and the error flag */
    FK_S_COMPLETE,   /* run.completed */
    FK_S_FAIL,       /* run.failed */
    FK_S_HANG,       /* blocks until stopped */
} fk_step_kind_t;

typedef struct st_fk_step_t {
    fk_step_kind_t kind;
    char *event;
    json_t *fields; /* extra fields of an emitted event */
    double ms;      /* WAIT: scaled ms; APPROVAL: timeout (scaled); TOOL_DONE: fixed duration in ms or -1 (measured) */
    int count;      /* APPROVAL: prompts */
} fk_step_t;

typedef struct st_fk_ev_t {
    struct st_fk_ev_t *next;
    char *data; /* "data: {…}\n\n" */
    size_t len;
} fk_ev_t;

typedef enum en_fk_queue_t { FK_Q_BUFFER, FK_Q_ATTACHED, FK_Q_GONE } fk_queue_t;

typedef enum en_fk_run_kind_t { FK_KIND_RUN, FK_KIND_CHAT } fk_run_kind_t;

typedef struct st_fk_run_t {
    struct st_fk_run_t *next;
    fk_run_kind_t kind;
    char id[40];
    char *session_id, *model, *scenario;
    json_t *params; /* the scenario's parameters as given (strings) */
    fk_status_t status;
    double created_at, updated_at;
    char *last_event;
    char *output;
    long usage_in, usage_out;
    char *error;
    /* the script */
    fk_step_t *steps;
    size_t nsteps, steps_cap, pc;
    fk_timer_t step_timer, cancel_timer, approval_timer;
    double tool_started; /* monotonic ms */
    int approvals_pending;
    int approval_denied;
    json_t *choices; /* approval choices received */
    int stop_calls;
    json_t *steers; /* steer texts received */
    fk_chunking_t chunking;
    long drop_after, emitted;
    /* stream faults (common options): after that many events the stream closes with a reset, goes silent for good, carries
     * one block of garbage, or is cut inside the next event (-1: never) */
    long reset_after, stall_after, garbage_after, cut_after;
    int cut_clean;   /* cut_end=chunk: the HTTP answer ends well, only the event is cut */
    char *cut_frame; /* the event the cut leaves unfinished, until the stream ends with it */
    size_t cut_len;
    double cancel_latency; /* scaled ms */
    char *full_text;
    /* the single-consumer event queue */
    fk_queue_t qstate;
    fk_ev_t *qhead, *qtail;
    size_t qlen;
    int qend; /* 0, 1: ends after the queued events, 2: drop after them, 3: reset after them, 4: cut (cut_frame) after them */
    fk_conn_t *sub;
    /* idempotency (v0.21) */
    char *idem_key, *idem_body;
    /* a chat completion: its events become the answer on `sub` (chat.c) */
    int chat_stream;
    fk_buf_t chat_text;
    char chat_session[24];
    char tool_call_id[32];
    int chat_exception;
} fk_run_t;

typedef struct st_fk_scenario_t {
    char *name;
    json_t *params; /* object of strings */
} fk_scenario_t;

/** Parses "name;k=v;…" (values %-decoded). Returns 0, or -1 with a message. */
int fk_scenario_parse(const char *spec, size_t len, fk_scenario_t *s, char *err, size_t errlen);
void fk_scenario_free(fk_scenario_t *s);
int fk_scenario_known(const char *name);
/** Finds "[[fake:…]]" in text; returns 1 and fills s, 0 if none, -1 on a bad token (err filled). */
int fk_scenario_token(const char *text, fk_scenario_t *s, char *err, size_t errlen);
/** A string parameter (or def). */
const char *fk_param(const json_t *params, const char *key, const char *def);
long fk_param_long(const json_t *params, const char *key, long def);

/** Queued default scenarios (POST /__fake/scenario). */
void fk_queue_scenario(const char *name, json_t *params, long times);
/** Takes the next queued scenario (1) or the global default (0). */
int fk_take_queued(fk_scenario_t *s);
void fk_queued_clear(void);

/** Creates and starts a run; takes the scenario. Returns NULL with err on a bad parameter. */
fk_run_t *fk_run_create(fk_scenario_t *s, const char *session_id, const char *model, char *err, size_t errlen);
/** A /v1/runs run by id (chat completions are not runs). */
fk_run_t *fk_run_find(const char *id);
/** Any run, chat completions included (the control API). */
fk_run_t *fk_run_find_any(const char *id);
fk_run_t *fk_runs_first(void);
size_t fk_runs_live(void);
int fk_run_terminal(const fk_run_t *r);
const char *fk_status_name(fk_status_t s);
json_t *fk_run_status_json(const fk_run_t *r);
json_t *fk_run_debug_json(const fk_run_t *r);
/** Attaches an event stream (the connection already answered its head). */
void fk_run_attach(fk_run_t *r, fk_conn_t *c);
/** The subscriber went away (closed connection). */
void fk_run_detach(fk_run_t *r, fk_conn_t *c);
/** The stop route: 0, or -1 if the run is terminal. */
int fk_run_stop(fk_run_t *r);
/** Approval: returns the number resolved (>0), 0 if nothing pending. */
int fk_run_approve(fk_run_t *r, const char *choice, int all);
/** Drops expired runs (terminal for more than --keep-finished-s, default 3600 s) and unclaimed buffers (> 300 s), by the fake
 * clock; at most once a second unless forced (the clock was moved). */
void fk_runs_sweep(int force);
void fk_runs_clear(void);

/* ---- chat completions (chat.c) ---- */

/** POST /v1/chat/completions. */
void fk_chat_post(fk_conn_t *c);
/** The admission once delay_admit_ms is over (c->scen_* hold the scenario). */
void fk_chat_admit(fk_conn_t *c);
/** An event of a chat run (instead of the run's queue). */
void fk_chat_event(fk_run_t *r, const char *event, json_t *fields);
/** The chat run's connection is dropped (drop_after). */
void fk_chat_drop(fk_run_t *r);

/* ---- cron store (cron.c) ---- */

/** /api/jobs… : rest is what follows "/api/jobs" in the path ("" or "/<id>" or "/<id>/<action>"). */
void fk_jobs_handle(fk_conn_t *c, const char *rest);
/** 1 if rest names a known jobs path, and whether the method is allowed there (*allowed). */
int fk_jobs_route(const char *method, const char *rest, int *allowed);
void fk_jobs_fail(const char *op, int status, const char *error);
void fk_jobs_load(void);
void fk_jobs_clear(void);
/** Clears the jobs and the faults, and rewrites jobs.json (POST /__fake/reset). */
void fk_jobs_reset(void);

/* ---- control API and request log (control.c) ---- */

void fk_control_handle(fk_conn_t *c);
/** Appends a request to the log (and --log). */
void fk_reqlog_add(const fk_req_t *r);
void fk_control_free(void);
/**
 * Answers c with a canned response queued by POST /__fake/respond for its method and path, if any is left (each is used
 * `times` times). Returns 1 if it answered.
 */
int fk_canned_take(fk_conn_t *c);

/** Runtime switches set through the control API. */
typedef struct st_fk_ctl_t {
    int health_status; /* 0: normal */
    long health_hang_ms;
    int down;
    json_t *models;   /* NULL: the default single entry */
    int stop_status;  /* POST /v1/runs/{id}/stop answers this status (with stop_error) instead of stopping; 0: normal */
    char *stop_error; /* its message ({"error": …}) */
} fk_ctl_t;
extern fk_ctl_t fk_ctl;

#endif
