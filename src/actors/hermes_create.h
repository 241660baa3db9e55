/*
 * Private to the Hermes files actor: creating a profile (spec/API.md §10 "POST /api/v1/profiles", GAPS §B 9) — through
 * `hermes profile create` when a hermes binary exists, its output lines streamed as progress, else by laying out the
 * folders Hermes gives a new profile (UPSTREAM-HERMES §2.1) — one creation at a time. Actor thread only.
 */
#ifndef HL_ACTORS_HERMES_CREATE_H
#define HL_ACTORS_HERMES_CREATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "hl/hermes_files.h"
#include "hl/pipe_lines.h"

/* output lines kept for the status (the oldest dropped first) and the length of one */
#define HERMES_CREATE_MAX_LINES 200
#define HERMES_CREATE_MAX_LINE 2000
/* how long `hermes profile create` may run before it is killed */
#define HERMES_CREATE_TIMEOUT_MS (10 * 60 * 1000)

typedef struct st_hermes_creation_t {
    const char *state; /* "idle", "running", "succeeded", "failed" (static strings) */
    char *profile_name, *job_id, *error;
    int64_t started_at, finished_at; /* ms, 0 when not yet */
    pid_t pid;                       /* the command's pid (0: none, or folders laid out without it) */
    bool reaped;                     /* the command ended and was waited for */
    int exit_status;                 /* its wait status once reaped (-1 when unknown) */
    json_t *lines;                   /* its output lines, newest last */
    int64_t version;                 /* 1 at first, bumped on every change: the event id of the status stream */
    hl_pipe_lines_t out, err;        /* the command's stdout and stderr (fd -1 once at their end) */
    json_t *err_tail;                /* the last stderr lines, for the error of a failure */
    char *description;
    uint64_t deadline; /* monotonic ms when the command is killed */
} hermes_creation_t;

/** The idle state. */
void hermes_creation_init(hermes_creation_t *c);

/** Frees it (a command still running is killed). */
void hermes_creation_dispose(hermes_creation_t *c);

/** The status object of the routes: {state, profile_name, started_at, finished_at, pid, job_id, lines, error}. */
json_t *hermes_creation_json(const hermes_creation_t *c);

/** The descriptors to watch (the command's pipes), up to 2; their count. */
int hermes_creation_fds(const hermes_creation_t *c, int fds[2]);

/** Reads what the command wrote and reaps it when it ended; true when the status changed. Call when a pipe is readable,
 * and on every wake while a command runs (the deadline, the exit). */
bool hermes_creation_poll(hl_hermes_t *h, hermes_creation_t *c);

/**
 * POST /api/v1/profiles with `body` {name|profile_name|profileName, clone (bool), clone_from|cloneFrom, description}:
 * checks the name (Hermes's rule), that it is free and that no creation runs, then starts it. 202 with the status, or
 * the error (400 invalid_profile_name, 409 profile_already_exists / profile_creation_in_progress, 404 for a missing
 * profile to clone from).
 */
struct st_hl_result_t;
struct st_hl_result_t *hermes_creation_start(hl_hermes_t *h, hermes_creation_t *c, const json_t *body);

#endif
