/*
 * The write turn (runtime layer): the db actors of one process take turns at SQLite's write lock in the order they asked.
 * SQLite's own lock is not fair: a writer that finds it held sleeps in the busy handler (1, 2, 5 … 100 ms) and can miss
 * every short gap between another actor's back-to-back transactions, so under a steady stream of message writes a
 * device's token refresh waited up to seconds (tests/RELIABILITY.md, "Soak"). Taking the turn first makes the wait one
 * FIFO queue: at most the transactions queued ahead. Other processes (a CLI import) still meet SQLite's busy handler.
 */
#ifndef HL_DB_WRITE_TURN_H
#define HL_DB_WRITE_TURN_H

#include "hl/common.h"

/**
 * Waits for the turn, first come first served, at most `timeout_ms`. 0 when taken (give it back with
 * hl_db_write_turn_give), -ETIMEDOUT when not (the caller goes on without it: SQLite's busy handler still serialises).
 * Any thread; not re-entrant.
 */
int hl_db_write_turn_take(unsigned timeout_ms) HL_WARN_UNUSED;

/** Hands the turn to the longest waiter, or frees it. Only by the thread that took it. */
void hl_db_write_turn_give(void);

/** How many threads wait for the turn now (tests: to line waiters up in a known order). */
unsigned hl_db_write_turn_waiters(void);

#endif
