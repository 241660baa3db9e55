/*
 * Integration harness: runs the real `hermeslink` binary (built with ASan+UBSan) on random loopback ports with temporary
 * homes, talks to it with libcurl over HTTP/1.1, h2c (prior knowledge and Upgrade) and h2 over TLS, and runs the CLI.
 *
 * Every daemon and CLI process runs with leak detection on; a run counts as clean only if it exits as expected and its
 * stderr holds no sanitizer report. The test process is single-threaded except where a test says otherwise.
 */
#ifndef HLT_HARNESS_H
#define HLT_HARNESS_H

#include <stddef.h>
#include <sys/types.h>

#include <check.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <jansson.h>

/** How long (ms) a daemon may take to print its ports, and to exit after SIGTERM. */
#define HLT_START_TIMEOUT_MS 30000
#define HLT_STOP_TIMEOUT_MS 15000

/** A temporary directory tree: <dir>/home (HERMESLINK_HOME), <dir>/hermes (HERMES_HOME), logs of the processes run. */
typedef struct st_hlt_env_t {
    char *dir;
    char *home;
    char *hermes_home;
    const char *log_level;   /* HERMESLINK_LOG_LEVEL for processes started in this env, NULL to leave it unset */
    const char *listen_host; /* HERMESLINK_LISTEN_HOST for processes started in this env (e.g. a daemon `pair` starts) */
    int keep;                /* set by a failure: the tree is left for inspection */
} hlt_env_t;

/** Creates the tree under $TMPDIR (or /tmp). Aborts the test on failure. */
void hlt_env_init(hlt_env_t *env);
/** Builds a path inside the env's directory (or its home with in_home). Caller frees. */
char *hlt_env_path(const hlt_env_t *env, int in_home, const char *name);
/** Writes the daemon's config.json (in the env's home) with json as its text. Aborts the test on failure. */
void hlt_env_write_config(const hlt_env_t *env, const char *json);
/** Removes the tree (unless a failure asked to keep it, or HLT_KEEP=1) and frees the strings. */
void hlt_env_dispose(hlt_env_t *env);

typedef struct st_hlt_daemon_t {
    hlt_env_t *env;
    int own_env; /* env was created by hlt_daemon_start and is disposed with the daemon */
    pid_t pid;   /* 0 once reaped */
    int port;
    int tls_port;
    char *out_path;
    char *err_path;
    int status;           /* waitpid status once reaped */
    long stop_timeout_ms; /* 0: HLT_STOP_TIMEOUT_MS */
} hlt_daemon_t;

typedef struct st_hlt_daemon_opts_t {
    hlt_env_t *env;        /* NULL: a fresh temporary env owned by the daemon */
    int tls;               /* also listen with TLS (--tls-port auto) */
    const char *log_level; /* overrides env->log_level */
    const char *listen;    /* --listen host, NULL: 127.0.0.1 (only a test of the wildcard bind passes another) */
    /* NULL-terminated changes to what the daemon inherits from the test process's environment (not to the variables
       the harness sets itself: homes, test mode, log level, sanitizer options): "NAME=value" sets NAME, "NAME" alone
       removes it (e.g. HERMES_BIN and PATH for profile creation); may be NULL */
    const char *const *extra_env;
} hlt_daemon_opts_t;

/**
 * Starts `hermeslink run --port auto --tls-port auto|0 --listen 127.0.0.1|<opts->listen>` and waits until it printed its ports. The
 * daemon is a child of the calling process: only that process can stop it. Aborts the test (ck_assert) on failure.
 */
void hlt_daemon_start(hlt_daemon_t *d, const hlt_daemon_opts_t *opts);
/**
 * SIGTERM, then waits up to HLT_STOP_TIMEOUT_MS (SIGKILL after that). Returns NULL if the daemon exited 0 with a clean
 * stderr, else a description of what went wrong (static storage, valid until the next call). Idempotent.
 */
const char *hlt_daemon_stop(hlt_daemon_t *d);
/** Like hlt_daemon_stop, and also reports how long the exit took. */
const char *hlt_daemon_stop_timed(hlt_daemon_t *d, long *elapsed_ms);
/** hlt_daemon_stop asserting a clean exit, then frees everything (and the env if the daemon owns it). */
void hlt_daemon_stop_clean(hlt_daemon_t *d);
/** Frees the daemon's strings and its own env; kills it first if it still runs. */
void hlt_daemon_dispose(hlt_daemon_t *d);
/** True while the process has not exited (reaps it if it has). */
int hlt_daemon_alive(hlt_daemon_t *d);

/**
 * Teardown of a daemon shared by a TCase (unchecked fixture, runs in the runner process where a ck_assert would not be
 * counted): stops it and, if it did not exit clean, records a failure reported at the end of the run.
 */
void hlt_daemon_teardown_shared(hlt_daemon_t *d, const char *what);
/** Records a failure found outside a test (printed at once); hlt_late_failures() counts them. */
void hlt_late_failure(const char *what, const char *msg);
int hlt_late_failures(void);

/** Finds an executable on PATH; NULL if there is none. Caller frees. */
char *hlt_which(const char *name);
/**
 * Starts argv (argv[0] an absolute path) with the test process's environment, stdin from /dev/null and stdout/stderr into
 * the given files; it gets SIGKILL if the calling thread exits. Aborts the test on failure.
 */
pid_t hlt_spawn(char *const *argv, const char *out_path, const char *err_path);
/** waitpid with a deadline: 1 and the status if the child exited, 0 on timeout. */
int hlt_wait_exit(pid_t pid, int *status, long timeout_ms);

/* the stand-in LAN address of hlt_private_network (TEST-NET-1, never routed) */
#define HLT_PRIVATE_LAN_ADDR "192.0.2.10"
/**
 * Moves the calling test process, and every process it starts afterwards, into a network namespace of its own (a user
 * namespace too when not root) with the loopback up and HLT_PRIVATE_LAN_ADDR on it, and returns that address: a test
 * that binds the wildcard or a LAN address then reaches nothing outside it. Fails the test when the kernel refuses. Check
 * runs each test in a process of its own; with CK_FORK=no the whole run stays in the namespace.
 */
struct in_addr hlt_private_network(void);

/** Scans a file for sanitizer reports. Returns NULL if clean, else an excerpt (static storage). */
const char *hlt_sanitizer_report(const char *path);
/** Reads a whole file; NULL if it cannot be read. Caller frees. */
char *hlt_read_file(const char *path, size_t *len);
/** Writes a whole file (mode 0600). Aborts the test on failure. */
void hlt_write_file(const char *path, const char *data);
/** Counts occurrences of needle in haystack. */
size_t hlt_count(const char *haystack, const char *needle);
/** Sleeps the given milliseconds. */
void hlt_sleep_ms(long ms);
/** CLOCK_MONOTONIC in milliseconds. */
long hlt_now_ms(void);
/** Path of the daemon binary: $HL_BINARY, else the one built with the tests. */
const char *hlt_binary(void);

/* ---- HTTP ---- */

typedef enum en_hlt_proto_t {
    HLT_H1,          /* HTTP/1.1 over TCP */
    HLT_H2C,         /* HTTP/2 cleartext, prior knowledge */
    HLT_H2C_UPGRADE, /* HTTP/1.1 Upgrade: h2c */
    HLT_H2_TLS,      /* HTTP/2 over TLS, negotiated by ALPN */
    HLT_NUM_PROTOS
} hlt_proto_t;

const char *hlt_proto_name(hlt_proto_t p);
/** The CURLINFO_HTTP_VERSION the protocol must end up with. */
long hlt_proto_version(hlt_proto_t p);

typedef struct st_hlt_header_t {
    char *name; /* lower-cased */
    char *value;
} hlt_header_t;

typedef struct st_hlt_response_t {
    CURLcode rc;
    char errbuf[CURL_ERROR_SIZE];
    long status;
    long http_version;
    long num_connects;     /* connections this transfer opened (0 when it reused one) */
    hlt_header_t *headers; /* of the final response (a 101 or 100 before it is dropped) */
    size_t num_headers;
    char *body; /* NUL-terminated */
    size_t body_len;
    json_t *json; /* body parsed as JSON, or NULL */
    struct curl_slist *_req_headers;
} hlt_response_t;

typedef struct st_hlt_request_t {
    const char *method;         /* default GET; HEAD uses CURLOPT_NOBODY */
    const char *path;           /* with query */
    const char *const *headers; /* "Name: value", NULL-terminated, may be NULL */
    const char *body;           /* sent as is (POSTFIELDS), may be NULL */
    size_t body_len;
    int has_body;            /* send body even when body_len is 0 */
    long timeout_ms;         /* default 10000 */
    const char *source_addr; /* local address to connect from (e.g. "127.0.0.2"), NULL for any */
} hlt_request_t;

/** Sets up an easy handle for a request to the daemon (URL, protocol, method, headers, body, capture). */
CURL *hlt_easy_new(const hlt_daemon_t *d, hlt_proto_t proto, const hlt_request_t *req, hlt_response_t *res);
/** Fills status, version and json once the easy handle is done; frees the handle and its header list. */
void hlt_easy_finish(CURL *curl, CURLcode rc, hlt_response_t *res);

/** A multi handle that multiplexes HTTP/2 streams (add easy handles with CURLOPT_PIPEWAIT to share one connection). */
CURLM *hlt_multi_new(void);
/**
 * Drives the multi until no transfer runs or timeout_ms passed. Each finished transfer is removed and completed with
 * hlt_easy_finish into the hlt_response_t that hlt_easy_new stored as its CURLOPT_PRIVATE. Returns how many still run.
 * Note: libcurl 7.88.1 fails every transfer but the first on a reused prior-knowledge h2c connection ("Error in the
 * HTTP2 framing layer", a client bug: h2load and nghttp multiplex fine), so multiplexed tests use h2c by Upgrade or TLS.
 */
int hlt_multi_drive(CURLM *multi, long timeout_ms);

/** Performs a request; never asserts (res->rc tells a transport failure). */
void hlt_request(const hlt_daemon_t *d, hlt_proto_t proto, const hlt_request_t *req, hlt_response_t *res);
/** Performs a request and asserts that it completed over the expected HTTP version. */
void hlt_fetch(const hlt_daemon_t *d, hlt_proto_t proto, const hlt_request_t *req, hlt_response_t *res);
/** GET shorthand for hlt_fetch. */
void hlt_get(const hlt_daemon_t *d, hlt_proto_t proto, const char *path, hlt_response_t *res);
/** The value of a response header (case-insensitive name), NULL if absent; count tells how many there were. */
const char *hlt_header(const hlt_response_t *res, const char *name);
size_t hlt_header_count(const hlt_response_t *res, const char *name);
void hlt_response_free(hlt_response_t *res);

/** Asserts the error envelope {"ok":false,"error":{"code":<code>,"message":<string>}}, JSON content type, CORS. */
void hlt_assert_error(const hlt_daemon_t *d, const hlt_response_t *res, long status, const char *code);
/** Asserts Access-Control-Allow-Origin: * and Vary: Origin. */
void hlt_assert_cors(const hlt_response_t *res);
/** Asserts content-type application/json; charset=utf-8 and a JSON object body. */
void hlt_assert_json(const hlt_response_t *res);

/* ---- CLI ---- */

typedef struct st_hlt_cli_result_t {
    int exit_code; /* -1 if killed by a signal or timed out */
    char *out;
    char *err;
} hlt_cli_result_t;

/**
 * Runs `hermeslink <args...>` (NULL-terminated) in the env with a 60 s timeout, capturing stdout and stderr. Asserts that
 * its stderr holds no sanitizer report.
 */
void hlt_cli(hlt_env_t *env, hlt_cli_result_t *res, ...) __attribute__((sentinel));
void hlt_cli_free(hlt_cli_result_t *res);

#endif
