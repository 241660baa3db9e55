/*
 * Lines from a child process's non-blocking pipe (hl/pipe_lines.h): used by the updater (`hermes update`) and the
 * Hermes files actor (`hermes profile create`).
 */
#include "hl/pipe_lines.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hl/common.h"

void hl_pipe_lines_init(hl_pipe_lines_t *p, int fd, size_t max_line)
{
    memset(p, 0, sizeof(*p));
    p->fd = fd;
    p->max_line = max_line;
}

/* hands over the complete lines of the buffer (and a too long unfinished one), keeps the rest; true when any */
static bool split(hl_pipe_lines_t *p, hl_pipe_line_fn line, void *data)
{
    bool any = false;
    char *start = p->part, *nl;
    while ((nl = memchr(start, '\n', p->part_len - (size_t)(start - p->part))) != NULL) {
        line(data, start, (size_t)(nl - start));
        any = true;
        start = nl + 1;
    }
    size_t rest = p->part_len - (size_t)(start - p->part);
    if (rest > p->max_line) { /* a line without end: cut it */
        line(data, start, rest);
        any = true;
        rest = 0;
    }
    memmove(p->part, start, rest);
    p->part_len = rest;
    return any;
}

bool hl_pipe_lines_drain(hl_pipe_lines_t *p, hl_pipe_line_fn line, void *data)
{
    bool any = false;
    char buf[4096];
    while (p->fd >= 0) {
        ssize_t n = read(p->fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n <= 0) { /* the end (or an error): the unfinished last line counts */
            if (p->part_len > 0) {
                line(data, p->part, p->part_len);
                any = true;
            }
            hl_pipe_lines_close(p);
            break;
        }
        p->part = hl_realloc(p->part, p->part_len + (size_t)n);
        memcpy(p->part + p->part_len, buf, (size_t)n);
        p->part_len += (size_t)n;
        any |= split(p, line, data);
    }
    return any;
}

void hl_pipe_lines_close(hl_pipe_lines_t *p)
{
    if (p->fd >= 0)
        close(p->fd);
    free(p->part);
    p->part = NULL;
    p->part_len = 0;
    p->fd = -1;
}
