/*
 * The fake Hermes API server (tests/fake_upstream, shared spec FAKE-UPSTREAM.md) as a child of a test: start it on a free
 * loopback port, talk to it directly (its /__fake control API, or upstream routes to check the fake itself), stop it and
 * check that it exited clean (exit code 0, no sanitizer report: it is built with ASan+UBSan like the daemon).
 */
#ifndef HLT_FAKE_HERMES_H
#define HLT_FAKE_HERMES_H

#include <sys/types.h>

#include "harness.h"

typedef struct st_hlt_fake_t {
    pid_t pid; /* 0 once reaped */
    int port;
    char *out_path, *err_path;
    char *base_url; /* http://127.0.0.1:<port> */
} hlt_fake_t;

/** The fake's executable: $HL_FAKE_HERMES, else the one built with the tests. */
const char *hlt_fake_binary(void);
/**
 * Starts the fake with `--port 0` and extra args (NULL-terminated list, may be NULL), its stdout and stderr in files under
 * `dir`, and waits up to 5 s for "READY <port>". Aborts the test on failure.
 */
void hlt_fake_start(hlt_fake_t *f, const char *dir, const char *const *args);
/**
 * SIGTERM, then waits up to 5 s (SIGKILL after that). Returns NULL if it exited 0 with no sanitizer report in its stderr,
 * else a description (static storage). Frees the strings; idempotent.
 */
const char *hlt_fake_stop(hlt_fake_t *f);
/**
 * A plain HTTP/1.1 request straight to the fake: method, path (with query), optional body, optional extra header lines
 * ("Name: value", NULL-terminated). Fills res (hlt_response_free it); never asserts (res->rc tells a transport failure).
 */
void hlt_fake_request(const hlt_fake_t *f, const char *method, const char *path, const char *body, const char *const *headers,
                      hlt_response_t *res);

/** The fake's request log (GET /__fake/requests: upstream routes only) as one JSON array, oldest first. */
json_t *hlt_fake_requests(const hlt_fake_t *f);
/**
 * The first request in `reqs` (from hlt_fake_requests) with `method` (NULL: any) whose path starts with `path_prefix` and
 * contains `path_part` (either NULL: any); NULL if there is none. Borrowed from reqs.
 */
json_t *hlt_fake_find_request(json_t *reqs, const char *method, const char *path_prefix, const char *path_part);
/** Polls the fake's request log until a request as hlt_fake_find_request matches it came, or timeout_ms passed: 1 if it came. */
int hlt_fake_wait_request(const hlt_fake_t *f, const char *method, const char *path_prefix, const char *path_part, long timeout_ms);
/**
 * Queues a canned answer (POST /__fake/respond): the next `times` requests with `method` and exact `path` (no query) get
 * `status` with `body` (JSON content type) instead of the route's answer. Asserts that the fake took it.
 */
void hlt_fake_respond(const hlt_fake_t *f, const char *method, const char *path, int status, const char *body, int times);

#endif
