/*
 * The systemd notify protocol without libsystemd (core layer, src/core/sd_notify.c): `hermeslink run` as a Type=notify
 * service says READY=1 once it listens and STOPPING=1 when it begins to stop. NOTIFY_SOCKET names a unix datagram socket:
 * a path ("/run/user/1000/systemd/notify") or an abstract name ("@…"); anything else is ignored.
 */
#ifndef HL_SD_NOTIFY_H
#define HL_SD_NOTIFY_H

#include "hl/common.h"

/**
 * Takes NOTIFY_SOCKET from the environment (and removes it, so that commands the daemon runs do not talk to systemd in
 * its name). Main thread, before any other thread exists (it changes the environment). Idempotent.
 */
void hl_sd_notify_init(void);

/**
 * Puts NOTIFY_SOCKET back into the environment, for a re-executed image of this process (same pid: still the service's
 * main process). Main thread, when no other thread runs.
 */
void hl_sd_notify_restore_env(void);

/**
 * Sends `state` (newline-separated KEY=VALUE assignments, e.g. "READY=1\nSTATUS=Serving") to the socket taken by
 * hl_sd_notify_init. 1 sent, 0 no socket to send to, -errno on failure (never fatal: the service runs on). Any thread.
 */
int hl_sd_notify(const char *state);

/** Sends `state` as one datagram to `socket_name` (a path or "@abstract"). 0, or -EINVAL for another form,
 * -ENAMETOOLONG past sun_path, another -errno from the socket. Any thread. */
int hl_sd_notify_to(const char *socket_name, const char *state) HL_WARN_UNUSED;

#endif
