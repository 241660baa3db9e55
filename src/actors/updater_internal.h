/*
 * Private to the updater actor (src/actors/updater*.c): the job state both updates share (a Hermes update, a Link
 * self-update), the child process runner, the release manifest and its signature, and the actor's own state. Actor
 * thread only, except the pure helpers (lines, manifest, versions), which any thread may call (unit tests do).
 */
#ifndef HL_UPDATER_INTERNAL_H
#define HL_UPDATER_INTERNAL_H

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "hl/pipe_lines.h"
#include "hl/updater.h"

/* output lines a status shows (the oldest dropped first), and the characters kept of one (then "...") */
#define UPD_MAX_LINES 240
#define UPD_MAX_LINE 1200
/* bytes of one log file; past it the log says so and stops growing (the status keeps its lines) */
#define UPD_MAX_LOG_BYTES (2u << 20)
/* how long `hermes version` and `hermes update --check` may take, and `hermes update` */
#define UPD_CHECK_TIMEOUT_MS 15000
#define UPD_HERMES_UPDATE_TIMEOUT_MS (30 * 60 * 1000)
/* a release manifest's size cap, the feed's time limits, and how long a check's answer is reused */
#define UPD_MANIFEST_MAX_BYTES (64u << 10)
#define UPD_FEED_CONNECT_TIMEOUT_MS 3000
#define UPD_FEED_TIMEOUT_MS 10000
#define UPD_CHECK_CACHE_MS (5 * 60 * 1000)
#define UPD_CHECK_RETRY_MS (30 * 1000)
/* a downloaded binary's size cap and the download's time limit */
#define UPD_MAX_BINARY_BYTES (256u << 20)
#define UPD_DOWNLOAD_TIMEOUT_MS (10 * 60 * 1000)

/* ---- bounded output lines (updater_lines.c) ---- */

/**
 * Appends one output line to `lines` (a JSON array of strings) as the status shows it: trailing CR/LF dropped, nothing
 * added for an empty or blank line, bytes that are not UTF-8 replaced by '?', cut to UPD_MAX_LINE characters + "...",
 * and the oldest lines dropped past UPD_MAX_LINES. True when a line was added.
 */
bool upd_lines_add(json_t *lines, const char *s, size_t len);

/** Feeds `len` bytes of text (a log's content) line by line to upd_lines_add. */
void upd_lines_add_text(json_t *lines, const char *text, size_t len);

/* ---- a job's status (updater_job.c) ---- */

typedef struct st_upd_job_t {
    const char *kind;     /* "hermes" or "link": names the files (run/<kind>-update-state.json, logs/<kind>-update.log) */
    const char *state;    /* idle, running, succeeded, failed, restart_required (static strings) */
    char *job_id;         /* "<kind>_update_<base36 ms>" or NULL */
    pid_t pid;            /* the command's pid (0: none) */
    int64_t started_at;   /* ms, 0 when not yet */
    int64_t finished_at;  /* ms, 0 when not yet */
    int exit_code;        /* -1: none */
    char *signal;         /* the signal's name that ended the command, or NULL */
    char *error;          /* NULL, or what went wrong */
    char *target_version; /* Link only */
    char *manual_command; /* Link only */
    json_t *lines;        /* bounded output lines, newest last */
    int64_t version;      /* bumped on every change: orders the job's stream */
    int log_fd;           /* the log being written while running, else -1 */
    size_t log_bytes;
    bool dirty;            /* changed since last published (lines are published at most every UPD_PUBLISH_MS) */
    uint64_t published_at; /* monotonic ms of the last publication */
} upd_job_t;

/* the least time between two publications of a running job's new lines */
#define UPD_PUBLISH_MS 100

/** The idle job of `kind` ("hermes" | "link"). */
void upd_job_init(upd_job_t *j, const char *kind);

/** Frees what the job owns (closes its log). */
void upd_job_dispose(upd_job_t *j);

/** The status object of the routes, {state, job_id, pid, …} (HermesUpdateStatus / LinkUpdateStatus), without "ok". */
json_t *upd_job_json(const upd_job_t *j);

/** True while the job runs. */
bool upd_job_running(const upd_job_t *j);

/** Starts a new run: a fresh job id and the log truncated with its header line; state running. Persists it. */
void upd_job_begin(upd_job_t *j, const char *home);

/** A line of output (or progress): into the status lines and the log. True when the status changed. */
bool upd_job_line(upd_job_t *j, const char *s, size_t len);

/** Ends the run with `state` and `error` (stolen, may be NULL): footer line, log closed, state persisted. */
void upd_job_end(upd_job_t *j, const char *home, const char *state, char *error);

/** Writes run/<kind>-update-state.json atomically (logged on failure). */
void upd_job_save(const upd_job_t *j, const char *home);

/**
 * Reads the job back at start-up: its last lines from the log, and a run that a previous process left `running` is
 * reported failed with a clear error (the process is gone with that daemon, or no longer ours to watch). Persists the
 * correction.
 */
void upd_job_load(upd_job_t *j, const char *home);

/* ---- child processes (updater_proc.c) ---- */

typedef struct st_upd_proc_t {
    pid_t pid;           /* 0: none */
    hl_pipe_lines_t out; /* its stdout+stderr (out.fd -1 once at the end) */
    bool reaped;
    int status;        /* wait status once reaped (-1 unknown) */
    uint64_t deadline; /* monotonic ms when it is killed */
    bool timed_out;
} upd_proc_t;

/**
 * Starts argv[0] (a path) with stdin /dev/null and stdout+stderr on one non-blocking pipe, descriptors 0-2 only, default
 * signals, in a process group of its own, with the daemon's environment plus `extra_env` ("NAME=value", may be NULL).
 * 0 or -errno.
 */
int upd_proc_spawn(upd_proc_t *p, char *const argv[], const char *extra_env, uint64_t timeout_ms);

/** Reads what it wrote (each complete line to `line`) and reaps it; true once it has ended and all is read. */
bool upd_proc_poll(upd_proc_t *p, void (*line)(void *data, const char *s, size_t len), void *data);

/** Kills its process group (SIGTERM, then SIGKILL after a short grace), reaps it and closes the pipe. */
void upd_proc_stop(upd_proc_t *p);

/** Frees the pipe and buffer (the process must be reaped or stopped). */
void upd_proc_dispose(upd_proc_t *p);

/* ---- the release manifest (updater_manifest.c) ---- */

typedef struct st_upd_release_t {
    char *version;
    char *platform; /* "<os>-<machine>", e.g. "linux-x86_64" */
    char *url;      /* http(s) download URL of the binary */
    char *sha256;   /* 64 lowercase hex */
    uint64_t size;
    unsigned char signature[64];
    char *release_url;      /* or NULL */
    char *published_at;     /* or NULL */
    char *min_safe_version; /* or NULL */
} upd_release_t;

/** This build's platform key ("linux-x86_64"): static storage. */
const char *upd_platform(void);

/**
 * Parses a manifest {"version", "platforms": {"<platform>": {"url", "sha256", "size", "signature"}}, optional
 * release_url, published_at, min_safe_version} for `platform`. 0, or -EINVAL with a reason for people in *why (static).
 */
int upd_manifest_parse(const char *text, size_t len, const char *platform, upd_release_t *out, const char **why);

/** Frees a parsed release. */
void upd_release_dispose(upd_release_t *r);

/**
 * The bytes the release signature covers (SECURITY.md): "hermeslink-release-v1\n<version>\n<platform>\n<size>\n<sha256>\n".
 * Caller frees.
 */
char *upd_signed_text(const upd_release_t *r);

/**
 * Checks the release's ed25519 signature with `public_key_b64` (standard base64 of the 32-byte raw key). 0 when it
 * verifies, -EINVAL for a key that is not one, -EBADMSG for a signature that does not verify.
 */
int upd_release_verify(const upd_release_t *r, const char *public_key_b64);

/** Compares dotted versions numerically on their leading "x.y.z" (a leading "v" ignored): <0, 0, >0. */
int upd_version_cmp(const char *a, const char *b);

/* ---- the actor ---- */

typedef struct st_upd_waiter_t upd_waiter_t;

typedef struct st_upd_fetch_t {
    CURL *easy;
    bool is_download;
    char *buf; /* manifest text */
    size_t len;
    int fd; /* download: the temp file */
    char *tmp_path;
    EVP_MD_CTX *sha;
    uint64_t received, expected;
    uint64_t next_progress;
    bool too_big;
    struct st_hl_updater_t *owner;
    char errbuf[CURL_ERROR_SIZE];
} upd_fetch_t;

struct st_hl_updater_t {
    hl_actor_t actor;
    const hl_link_t *link;
    /* Hermes */
    upd_job_t hermes;
    upd_proc_t hermes_proc;
    upd_proc_t check_proc;
    int check_step; /* 0 none, 1 `hermes version`, 2 `hermes update --check` */
    char *check_bin;
    json_t *check_out;    /* the running check's output lines */
    json_t *check_local;  /* the finished `hermes version` {version, raw} */
    json_t *hermes_check; /* the last answer (without ok), or NULL */
    uint64_t hermes_check_at;
    hl_reply_to_t **hermes_waiters;
    size_t num_hermes_waiters;
    /* Link */
    upd_job_t link_job;
    CURLM *multi;
    upd_fetch_t *feed;     /* the manifest being read, or NULL */
    upd_fetch_t *download; /* the binary being downloaded, or NULL */
    bool feed_for_update;  /* the manifest read serves an update (else only a check) */
    json_t *link_check;    /* the last answer (without ok), or NULL */
    uint64_t link_check_at;
    upd_release_t release; /* the verified release of the update running */
    char *exe_path;        /* the binary being replaced */
    hl_reply_to_t **link_waiters;
    size_t num_link_waiters;
    char *available; /* the Link version the last check found newer, or NULL */
    /* observers */
    hl_updater_status_fn status_fn;
    void *status_data;
    hl_updater_available_fn available_fn;
    void *available_data;
    hl_updater_restart_fn restart_fn;
    void *restart_data;
};

/** Publishes a job's status to the observer (bumps its version). */
void upd_publish(hl_updater_t *u, upd_job_t *j);

/* updater_hermes.c */
/**
 * Interprets `hermes update --check` (its output lines, exit code or -1 when it did not end normally) against the local
 * version (may be NULL): sets *remote (new reference, {version, raw}, or NULL), *available, and returns NULL when the
 * answer was understood, else the reason for people (malloc'd).
 */
char *upd_interpret_check(const json_t *lines, int exit_code, const char *local_version, json_t **remote, bool *available);
void upd_hermes_check(hl_updater_t *u, hl_reply_to_t *to);
hl_result_t *upd_hermes_start(hl_updater_t *u);
void upd_hermes_poll(hl_updater_t *u);
void upd_hermes_stop(hl_updater_t *u);

/* updater_link.c */
struct stat;
/**
 * Why the binary at `exe` (its stat `st`) may not be replaced by a process of `euid` (`dir_writable`: its folder and
 * the file are writable), or NULL when it may (SECURITY.md): a path under a system prefix (/usr/ except /usr/local/,
 * /bin/, /sbin/, /lib/, /lib64/, /opt/, /snap/, /nix/, /gnu/) belongs to a package manager (*package set); a file that
 * is not regular, not owned by euid or not writable is refused. Static strings.
 */
const char *upd_refusal(const char *exe, const struct stat *st, uid_t euid, bool dir_writable, bool *package);
void upd_link_check(hl_updater_t *u, hl_reply_to_t *to, bool force);
hl_result_t *upd_link_start(hl_updater_t *u, const json_t *body);
void upd_link_transfer_done(hl_updater_t *u, CURL *easy, CURLcode rc);
void upd_link_stop(hl_updater_t *u);
/** At start: a pending marker (run/link-update-pending.json) left by the process that installed this binary and
 * re-executed it marks the update succeeded. */
void upd_link_resume(hl_updater_t *u);

/* updater_state.c: link-state.json */
json_t *upd_link_state_read(const char *home);
int upd_link_state_write(const char *home, json_t *state);

#endif
