/*
 * The control socket's server (daemon layer): status, pair (through the pairing actor), stop, and in test mode a clock
 * shift, for the CLI (hl/control.h is the client).
 */
#ifndef HL_CONTROL_SERVER_H
#define HL_CONTROL_SERVER_H

#include "hl/link.h"
#include "hl/pairing.h"

/** Starts the control server thread on <home>/control.sock; `pair` asks `pairing`. 0 or -errno. Main thread. */
int hl_control_start(const hl_link_t *link, hl_pairing_t *pairing) HL_WARN_UNUSED;

/** Stops the server thread and removes the socket file. Main thread. */
void hl_control_stop(void);

#endif
