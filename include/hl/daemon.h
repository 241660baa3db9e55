/*
 * The serving process: start-up in dependency order, serve until SIGTERM/SIGINT, graceful shutdown in reverse order.
 */
#ifndef HL_DAEMON_H
#define HL_DAEMON_H

typedef struct st_hl_daemon_options_t {
    int port;           /* -1 = from config; 0 = any free port */
    int tls_port;       /* -2 = from config; -1 or 0 from the CLI as documented by `run --help` */
    const char *listen; /* NULL = HERMESLINK_LISTEN_HOST or 0.0.0.0 */
    int foreground;     /* log text to stderr too */
    int ready_fd;       /* >= 0: write "ok <port> <tls_port>\n" or "error <message>\n" here once serving, then close */
} hl_daemon_options_t;

/** Runs the daemon until it is told to stop. Returns the process exit code. Main thread of a fresh process. */
int hl_daemon_run(const hl_daemon_options_t *opts);

#endif
