/*
 * The control socket <home>/control.sock (0600): the CLI's channel to the running daemon. One JSON request line per
 * connection, one JSON reply line. File permissions, not the peer address, decide who may use it.
 */
#ifndef HL_CONTROL_H
#define HL_CONTROL_H

#include <jansson.h>

#include "hl/common.h"

/** Starts the control server thread on <home>/control.sock. 0 or -errno. Main thread (daemon). */
int hl_control_start(const char *home) HL_WARN_UNUSED;

/** Stops the server thread and removes the socket file. Main thread (daemon). */
void hl_control_stop(void);

/**
 * Sends `request` (borrowed) to the daemon of `home` and returns its reply (new reference) or NULL when no daemon
 * answers within timeout_ms. CLI.
 */
json_t *hl_control_call(const char *home, json_t *request, int timeout_ms);

#endif
