/*
 * The serving process: start-up in dependency order, serve until SIGTERM/SIGINT, graceful shutdown in reverse order.
 */
#ifndef HL_DAEMON_H
#define HL_DAEMON_H

#include "hl/serve.h"

/** Runs the daemon until it is told to stop. Returns the process exit code. Main thread of a fresh process. */
int hl_daemon_run(const hl_daemon_options_t *opts);

#endif
