/*
 * A request's answer in domain terms, and the address it goes back to (runtime layer: knows nothing of HTTP).
 *
 * An actor that serves a request builds an hl_result_t — a kind (done, created, not found, conflict…), an error code and
 * message, or a success body — and hands it to the request's hl_reply_to_t. Whoever made the address decides what a result
 * becomes: the HTTP layer turns kinds into status codes and bodies into JSON envelopes; the control socket writes a line of
 * JSON; a test keeps it.
 */
#ifndef HL_REPLY_H
#define HL_REPLY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hl/common.h"

typedef enum en_hl_result_kind_t {
    HL_RESULT_OK,              /* done */
    HL_RESULT_CREATED,         /* a new resource exists */
    HL_RESULT_ACCEPTED,        /* started; it finishes later */
    HL_RESULT_INVALID,         /* malformed, or not allowed in the resource's state */
    HL_RESULT_UNAUTHENTICATED, /* a credential is missing, unknown or expired */
    HL_RESULT_NOT_FOUND,       /* no such resource (or not visible to the caller) */
    HL_RESULT_CONFLICT,        /* the resource's state forbids it */
    HL_RESULT_TOO_LARGE,       /* the input is over a limit */
    HL_RESULT_RATE_LIMITED,    /* too many attempts; retry_after_s says when to come back */
    HL_RESULT_INTERNAL,        /* our fault: a failed write, a broken invariant */
    HL_RESULT_UPSTREAM,        /* a service we depend on answered something unusable */
    HL_RESULT_UNAVAILABLE,     /* busy, or a service we depend on is down */
    HL_RESULT_UNSUPPORTED,     /* a service we depend on cannot do it (HTTP 501) */
    HL_RESULT_STORAGE_FULL,    /* the disk is full: nothing was written (HTTP 507) */
} hl_result_kind_t;

/**
 * Bytes produced in chunks by another thread (a file read off the workers). read() fetches the next chunk of at most
 * `max` bytes and calls done(ctx, data, len, err) exactly once, from any thread: `data` stays valid until the next read
 * or close; len 0 means the end; err non-zero a failure. One read at a time. close() frees the source at once (any
 * thread, never while a read is outstanding).
 */
typedef struct st_hl_byte_source_t hl_byte_source_t;
struct st_hl_byte_source_t {
    void (*read)(hl_byte_source_t *src, size_t max, void (*done)(void *ctx, const char *data, size_t len, int err), void *ctx);
    void (*close)(hl_byte_source_t *src);
};

/** An answer. Owns every pointer in it; freed with hl_result_free. */
typedef struct st_hl_result_t {
    hl_result_kind_t kind;
    /** error code (a string literal, e.g. "conversation_not_found"); NULL for success kinds */
    const char *code;
    /** error message for people; never carries paths or errno text */
    char *message;
    /** success: the fields of the answer (JSON object), or NULL when `bytes` carries it */
    json_t *body;
    /** success: raw content instead of JSON (a page, a blob), with its type */
    char *bytes;
    size_t len;
    char *content_type;
    /** success: raw content read in chunks instead of `bytes` (closed with the result unless taken), of `source_len` bytes */
    hl_byte_source_t *source;
    uint64_t source_len;
    /** download name of raw content (Content-Disposition), or NULL */
    char *filename;
    /** the version of the data this answer reflects, for caching it until the data changes (0 = do not cache) */
    uint64_t version;
    /** seconds after which a rate-limited caller may retry (0 = unspecified) */
    int retry_after_s;
    /** the answer must not be cached (it carries a secret or a one-time state) */
    bool no_store;
} hl_result_t;

/** The answer to a write that failed because the disk is full: insufficient_storage, a message saying so. Any thread. */
hl_result_t *hl_result_storage_full(void);

/** A success of `kind` with `body` (stolen; an object). Any thread. */
hl_result_t *hl_result_ok(hl_result_kind_t kind, json_t *body);

/** A success whose `len` bytes of `content_type` (copied) come from `source` (stolen), in chunks. Any thread. */
hl_result_t *hl_result_stream(hl_byte_source_t *source, uint64_t len, const char *content_type);

/** A success carrying `len` raw bytes (stolen, malloc'd) of `content_type` (copied). Any thread. */
hl_result_t *hl_result_bytes(char *bytes, size_t len, const char *content_type);

/** An error of `kind` with `code` (a string literal) and `message` (copied). Any thread. */
hl_result_t *hl_result_error(hl_result_kind_t kind, const char *code, const char *message);

/** True for the success kinds. */
static inline bool hl_result_is_ok(const hl_result_t *r)
{
    return r->kind <= HL_RESULT_ACCEPTED;
}

/** Frees a result (NULL is fine). Any thread. */
void hl_result_free(hl_result_t *r);

/**
 * Where a result goes. Made by whoever asks (the HTTP layer for requests, the control socket, tests); consumed by exactly
 * one hl_reply. deliver runs on the replying actor's thread and owns both the address and the result from then on.
 */
typedef struct st_hl_reply_to_t hl_reply_to_t;
struct st_hl_reply_to_t {
    void (*deliver)(hl_reply_to_t *self, hl_result_t *result);
};

/** Answers `to` with `result` (both consumed). A NULL `to` (a request nobody waits for) just frees the result. Any thread. */
void hl_reply(hl_reply_to_t *to, hl_result_t *result);

#endif
