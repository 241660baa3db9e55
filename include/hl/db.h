/*
 * link.db (DESIGN §3): WAL, foreign keys, synchronous=FULL, forward-only migrations embedded in the binary and run by
 * the main thread before any actor starts; then one connection per owning actor.
 *
 * A db actor is an actor with its own connection that runs jobs in group commit: each mailbox batch is one transaction
 * (a savepoint per job, so one failing job does not undo the others) and every job's completion — which sends its
 * reply — runs only after the COMMIT, so nobody is told about a write that could still be lost. A batch's writing
 * transactions take the process's write turn first (hl/db_write_turn.h: the db actors queue for SQLite's write lock in
 * order); a run of jobs marked read-only is a deferred transaction of its own that takes neither.
 */
#ifndef HL_DB_H
#define HL_DB_H

#include <errno.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdbool.h>

#include "hl/actor.h"

/**
 * Opens a connection with the pragmas every owner uses (WAL, foreign keys, synchronous FULL, a busy timeout long enough
 * that another actor's short transaction never fails a batch). `readonly` for reader connections.
 */
int hl_db_open(const char *path, bool readonly, sqlite3 **out) HL_WARN_UNUSED;

typedef struct st_hl_db_t hl_db_t;
typedef struct st_hl_db_job_t hl_db_job_t;

struct st_hl_db_job_t {
    hl_msg_t super;
    /** Runs on the actor thread inside the batch transaction. Return 0 to keep its writes, non-zero to roll them back. */
    int (*run)(hl_db_job_t *job, hl_db_t *db);
    /**
     * Runs after the batch committed, with run's result (or HL_DB_FAILED when a statement or the commit failed, HL_DB_FULL
     * when the disk was full). Sends the reply
     * and frees the job. Required.
     */
    void (*complete)(hl_db_job_t *job, int status);
    /**
     * The job only reads. Consecutive read-only jobs of a batch share a deferred transaction: a snapshot that neither
     * takes the write turn nor waits for SQLite's write lock. A read-only job that writes anyway is logged as an error.
     */
    bool readonly;
};

/** Initialises a job header. */
void hl_db_job_init(hl_db_job_t *job, int (*run)(hl_db_job_t *, hl_db_t *), void (*complete)(hl_db_job_t *, int));

/** The connection of a db actor (its thread only). */
sqlite3 *hl_db_conn(hl_db_t *db);

/** The data pointer given to hl_db_actor_init (its thread only). */
void *hl_db_data(hl_db_t *db);

/**
 * A cached prepared statement for `sql` (a string literal: cached by address), reset and with bindings cleared. A statement
 * that does not prepare is logged and gives NULL (SQLite treats a NULL statement as a misuse that binds and steps nothing)
 * and fails the job. The connection's thread only.
 */
sqlite3_stmt *hl_db_stmt(hl_db_t *db, const char *sql);

/**
 * sqlite3_step that treats an error as an error: it is logged with the statement's SQL and fails the running job (its
 * savepoint is rolled back and it completes with HL_DB_FAILED), whatever the caller then does with the return code.
 * The connection's thread only.
 */
int hl_db_step(sqlite3_stmt *st);

/** Binds the string member `key` of `o` (copied) to parameter i; leaves it NULL when `key` is missing or not a string. */
void hl_db_bind_json_text(sqlite3_stmt *st, int i, const json_t *o, const char *key);

/** Binds the integer member `key` of `o` to parameter i; leaves it NULL when `key` is missing or not an integer. */
void hl_db_bind_json_int(sqlite3_stmt *st, int i, const json_t *o, const char *key);

/** Runs a prepared statement to completion and resets it; 0 (DONE or ROW) or -1 (logged, and the job fails). */
int hl_db_exec(sqlite3_stmt *st);

/** The status a job completes with when one of its statements failed (or its batch did not commit). */
#define HL_DB_FAILED (-EIO)
/** The status a job completes with when its writes failed because the disk (or the database's page limit) is full. */
#define HL_DB_FULL (-ENOSPC)
/** The status of a reader's job interrupted for running past its time limit. */
#define HL_DB_TIMEOUT (-ETIMEDOUT)

/** A column's text, copied (NULL for SQL NULL). Caller frees. */
char *hl_db_text(sqlite3_stmt *st, int col);

typedef struct st_hl_db_actor_t {
    hl_actor_t actor;
    hl_db_t *_db;
    char *_path;
} hl_db_actor_t;

/** Hooks a specific db actor may add; all optional, all on the actor's thread. */
typedef struct st_hl_db_actor_hooks_t {
    /** after the connection is open; non-zero aborts start-up */
    int (*on_open)(hl_db_t *db);
    /** periodic, inside its own transaction */
    void (*on_tick)(hl_db_t *db);
    unsigned tick_ms;
    /** before the connection closes */
    void (*on_close)(hl_db_t *db);
    /** right after a batch's COMMIT, before its completions answer anyone (e.g. to move a data version) */
    void (*on_committed)(hl_db_t *db);
    /** after each committed batch's completions ran (e.g. to broadcast what the batch produced) */
    void (*on_batch_done)(hl_db_t *db);
} hl_db_actor_hooks_t;

/** Prepares a db actor on `path`; `data` is reachable through hl_db_data. Main thread. */
int hl_db_actor_init(hl_db_actor_t *a, const char *name, const char *path, const hl_db_actor_hooks_t *hooks,
                     void *data) HL_WARN_UNUSED;

/** Frees the actor after hl_actor_stop (or when it was initialised but never started). Main thread. */
void hl_db_actor_dispose(hl_db_actor_t *a);

/** Posts a job (ownership passes). Any thread. */
void hl_db_actor_post(hl_db_actor_t *a, hl_db_job_t *job);

/** A connection of its own for a thread that is not a db actor (reader threads). 0 or -errno. */
int hl_db_connect(const char *path, bool readonly, void *data, hl_db_t **out) HL_WARN_UNUSED;

/**
 * Runs one job on `db` in its own transaction (a read snapshot for readers) and completes it. `max_ms` > 0 interrupts a
 * job that runs longer (its statements fail, it completes with HL_DB_TIMEOUT). The connection's thread only.
 */
void hl_db_run_one(hl_db_t *db, hl_db_job_t *job, unsigned max_ms);

/** Closes a connection made with hl_db_connect. */
void hl_db_disconnect(hl_db_t *db);

#endif
