/*
 * How the CLI asks for the service to be served (core layer): the options of `run`/`start`, and the entry point the program
 * hands the CLI, so that the CLI reaches the daemon without depending on it.
 */
#ifndef HL_SERVE_H
#define HL_SERVE_H

typedef struct st_hl_daemon_options_t {
    int port;           /* -1 = from config; 0 = any free port (`--port auto`) */
    int tls_port;       /* -2 = from config; -1 = off (`--tls-port 0`); 0 = any free port (`--tls-port auto`) */
    const char *listen; /* NULL = HERMESLINK_LISTEN_HOST or 0.0.0.0 */
    int foreground;     /* log text to stderr too */
    int ready_fd;       /* >= 0: write "ok <port> <tls_port>\n" or "error <message>\n" here once serving, then close */
} hl_daemon_options_t;

/** Serves until SIGTERM/SIGINT; the process's exit code. */
typedef int (*hl_serve_fn)(const hl_daemon_options_t *opts);

#endif
