/*
 * <home>/hermeslink.pid with an flock held for the daemon's lifetime: one daemon per home, and a reliable "is it
 * running" test for the CLI (a lock held means alive, whatever the file says).
 */
#ifndef HL_PIDFILE_H
#define HL_PIDFILE_H

#include <sys/types.h>

#include "hl/common.h"

/**
 * Takes the lock and writes our pid. Returns the open fd (keep it for the process lifetime), -EEXIST with *holder set
 * when another process holds it, or -errno.
 */
int hl_pidfile_acquire(const char *home, pid_t *holder) HL_WARN_UNUSED;

/** Removes the file and releases the lock. */
void hl_pidfile_release(const char *home, int fd);

typedef enum { HL_PID_NOT_RUNNING, HL_PID_RUNNING, HL_PID_STALE } hl_pid_state_t;

/**
 * Reports whether a daemon holds the lock (RUNNING, *pid set), whether a pid file is left without one (STALE, *pid set
 * when readable) or nothing is there (NOT_RUNNING).
 */
hl_pid_state_t hl_pidfile_probe(const char *home, pid_t *pid);

#endif
