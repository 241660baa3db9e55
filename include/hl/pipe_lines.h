/*
 * Lines from a child process's non-blocking pipe, read by an actor when its wait hook says the pipe is readable: what
 * has arrived is split at '\n' and each complete line handed to a callback; an unfinished line waits for the rest, up
 * to a bound past which it is handed over cut; at the end of the stream the unfinished last line counts too.
 */
#ifndef HL_PIPE_LINES_H
#define HL_PIPE_LINES_H

#include <stdbool.h>
#include <stddef.h>

typedef struct st_hl_pipe_lines_t {
    int fd;     /* the pipe's read end (non-blocking, owned); -1 once at its end */
    char *part; /* an unfinished line */
    size_t part_len;
    size_t max_line; /* an unfinished line longer than this is handed over as it is */
} hl_pipe_lines_t;

/** A line handed over: `len` bytes at `s`, without the '\n' (a '\r' before it is left to the callback); not terminated. */
typedef void (*hl_pipe_line_fn)(void *data, const char *s, size_t len);

/** Starts reading `fd` (owned from now on; -1 for none), cutting unfinished lines past `max_line` bytes. */
void hl_pipe_lines_init(hl_pipe_lines_t *p, int fd, size_t max_line);

/**
 * Reads until the pipe would block, handing every complete line to `line`. At the end of the stream (or a read error)
 * hands over the unfinished last line and closes as hl_pipe_lines_close does (fd -1, buffer freed). True when at least one line was
 * handed over. Does nothing once fd is -1.
 */
bool hl_pipe_lines_drain(hl_pipe_lines_t *p, hl_pipe_line_fn line, void *data);

/** Closes the pipe if it is open (what it still held is dropped) and frees the buffer; fd is -1 afterwards. */
void hl_pipe_lines_close(hl_pipe_lines_t *p);

#endif
