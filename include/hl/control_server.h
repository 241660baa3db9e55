/*
 * The control socket's server (daemon layer): status, pair (through the pairing actor), autostart (the system actor), stop, import
 * (a Node HermesLink home, hl/node_import.h), and in
 * test mode a clock shift, for the CLI (hl/control.h is the client).
 */
#ifndef HL_CONTROL_SERVER_H
#define HL_CONTROL_SERVER_H

#include "hl/auth.h"
#include "hl/link.h"
#include "hl/pairing.h"
#include "hl/store.h"
#include "hl/system.h"

/** Starts the control server thread on <home>/control.sock; `pair` asks `pairing`. 0 or -errno. Main thread. */
int hl_control_start(const hl_link_t *link, hl_pairing_t *pairing) HL_WARN_UNUSED;

/** Lets `autostart` ask the system actor (without it the command answers an error). Main thread, before hl_control_start. */
void hl_control_set_system(hl_system_t *system);

/** Lets `import` hand a Node home's data to the auth actor and the store, and `devices` list and revoke devices through
 * that actor. Main thread, before hl_control_start. */
void hl_control_set_import(hl_auth_t *auth, hl_store_t *store, const hl_device_counts_t *counts);

/** Stops the server thread and removes the socket file. Main thread. */
void hl_control_stop(void);

#endif
