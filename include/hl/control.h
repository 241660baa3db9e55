/*
 * The control socket <home>/control.sock (0600): the CLI's channel to the running daemon (core layer: the address, the
 * framing and the client). One JSON request line per connection, one JSON reply line. File permissions and the peer's
 * uid (SO_PEERCRED: the daemon's own user only; others are closed unanswered), never an address, decide who may use it.
 * The server is the daemon's (hl/control_server.h).
 */
#ifndef HL_CONTROL_H
#define HL_CONTROL_H

#include <jansson.h>
#include <stddef.h>
#include <sys/un.h>

#include "hl/common.h"

/** The socket address of <home>/control.sock; *path_out gets its path (caller frees). 0 or -ENAMETOOLONG. */
int hl_control_addr(const char *home, struct sockaddr_un *sa, char **path_out) HL_WARN_UNUSED;

/** Sets receive and send timeouts on a control connection. */
void hl_control_set_timeouts(int fd, int ms);

/** Reads one line (without the newline) of at most 64 KiB; NULL on error, timeout or an over-long line. Caller frees. */
char *hl_control_read_line(int fd);

/** Writes all of `data`; 0 or -errno. */
int hl_control_write_all(int fd, const char *data, size_t len) HL_WARN_UNUSED;

/**
 * Sends `request` (borrowed) to the daemon of `home` and returns its reply (new reference) or NULL when no daemon
 * answers within timeout_ms. CLI.
 */
json_t *hl_control_call(const char *home, json_t *request, int timeout_ms);

#endif
