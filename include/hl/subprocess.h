/*
 * Running a short helper command (core layer, src/core/subprocess.c): `systemctl --user …` for autostart. The child gets
 * /dev/null as stdin, stdout and stderr and no other descriptor of ours, default signal dispositions and an empty mask,
 * and is killed when it outlives its time. Blocking: the CLI or an actor thread (the system actor), never a worker.
 */
#ifndef HL_SUBPROCESS_H
#define HL_SUBPROCESS_H

#include "hl/common.h"

#include <spawn.h>
#include <stdbool.h>

/**
 * Initialises `attr` for a child of the daemon: an empty signal mask and every signal at its default (the daemon's threads
 * block the signals its main thread waits for; a command must not inherit that), and its own process group when
 * `own_group`. The caller destroys it (posix_spawnattr_destroy).
 */
void hl_spawnattr_clean(posix_spawnattr_t *attr, bool own_group);

/** Exit status reported by hl_run_quiet when the command did not finish in time (it was killed). */
#define HL_RUN_TIMED_OUT (-1000)

/**
 * The absolute path of the executable `name` (which holds no '/') found on $PATH, or NULL when there is none. Caller frees.
 */
char *hl_find_executable(const char *name);

/**
 * Runs argv (argv[0] an absolute path, NULL-terminated) with the process's environment and waits at most `timeout_ms`.
 * Returns its exit status (0..255), 128 + the signal that ended it, HL_RUN_TIMED_OUT (after SIGKILL and reaping it), or
 * -errno when it could not be started.
 */
int hl_run_quiet(char *const argv[], int timeout_ms) HL_WARN_UNUSED;

#endif
