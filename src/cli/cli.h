/*
 * The `hermeslink` command line (spec/CLI.md). Each command returns the process exit code.
 */
#ifndef HL_CLI_H
#define HL_CLI_H

#include <jansson.h>

#include "hl/serve.h"

/** Entry point: argv → command; `serve` runs the service (run, start). */
int hl_cli_main(int argc, char **argv, hl_serve_fn serve);

/** The serving entry point given to hl_cli_main. */
extern hl_serve_fn hl_cli_serve;

int hl_cmd_run(int argc, char **argv);
int hl_cmd_start(int argc, char **argv);
int hl_cmd_stop(int argc, char **argv);
int hl_cmd_restart(int argc, char **argv);
int hl_cmd_status(int argc, char **argv);
int hl_cmd_config(int argc, char **argv);
int hl_cmd_logs(int argc, char **argv);
int hl_cmd_pair(int argc, char **argv);
/** The hidden `__update-watchdog` command: the self-update's rollback guard (update_watchdog.c). */
int hl_cmd_update_watchdog(int argc, char **argv);
int hl_cmd_autostart(int argc, char **argv);
/** `import [DIR]`: a Node HermesLink home into the running daemon (import_cmd.c). */
int hl_cmd_import(int argc, char **argv);
/** `devices [--json]` / `devices revoke ID`: the running daemon's paired devices (devices_cmd.c). */
int hl_cmd_devices(int argc, char **argv);

struct st_hl_autostart_status_t;
/**
 * Autostart `action` ("enable", "disable" or "show") for `home`: through the running daemon when there is one, else here.
 * Fills *out with the resulting state; 0, or -1 when the change failed (*out still says what is).
 */
int hl_cli_autostart(const char *home, const char *action, struct st_hl_autostart_status_t *out);

/** A log file followed for `logs -f` (logs_follow.c). */
typedef struct st_hl_logs_follow_t hl_logs_follow_t;

/**
 * Starts following `path` from its current end (or from the start of a file made later), and makes SIGINT and SIGTERM
 * end hl_logs_follow_run cleanly from now on. Never NULL.
 */
hl_logs_follow_t *hl_logs_follow_open(const char *path);

/**
 * Prints, through `print`, each entry appended to the file (JSON lines, or the gateway's text when `gateway`), across
 * rotations and truncations, until SIGINT or SIGTERM; then returns 0.
 */
int hl_logs_follow_run(hl_logs_follow_t *f, int gateway, void (*print)(json_t *));

/** Closes and frees it (NULL is fine). */
void hl_logs_follow_close(hl_logs_follow_t *f);

/** Starts the daemon of `home` with the configured ports (as `start` does); progress on stderr when `quiet`. 0 or 1. */
int hl_cli_start_daemon(const char *home, int quiet);

/**
 * Refuses `arg` of a command: "Unknown option: <arg>" (or "Unexpected argument: <arg>" when it is no option) and the first
 * line of the command's `help` (its usage line) on stderr; with a NULL `arg` the usage line alone. Returns 1, the exit code.
 */
int hl_cli_reject(const char *arg, const char *help);

/** True when argv[1..] contains --help or -h. */
int hl_cli_wants_help(int argc, char **argv);

/** The resolved, created home directory, or NULL after printing why not. Caller frees. */
char *hl_cli_home(void);

#endif
