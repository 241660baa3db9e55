/*
 * `hermeslink logs -f`: prints entries as they are appended to a log file, like tail -F. The file is polled (a log is
 * appended to a few times a second at most, and polling works on every file system); a rotation (the path names another
 * file) or a truncation is noticed and the new file read from its start, after what was left in the old one. SIGINT and
 * SIGTERM end it cleanly.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "hl/clock.h"
#include "hl/common.h"
#include "hl/logread.h"

#define POLL_MS 200
#define READ_CHUNK (64 * 1024)
/* a line longer than this is printed in pieces rather than held without bound */
#define MAX_LINE (1024 * 1024)

struct st_hl_logs_follow_t {
    char *path;
    int fd; /* -1 while the file does not exist */
    dev_t dev;
    ino_t ino;
    off_t offset;
    char *line; /* the partial last line read so far */
    size_t line_len;
};

static volatile sig_atomic_t stopping;

static void on_stop_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

/* Opens the path; at its end (`at_end`) or its start. The fd stays -1 when the file is missing. */
static void open_file(hl_logs_follow_t *f, int at_end)
{
    f->fd = open(f->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (f->fd < 0)
        return;
    struct stat st;
    if (fstat(f->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(f->fd);
        f->fd = -1;
        return;
    }
    f->dev = st.st_dev;
    f->ino = st.st_ino;
    f->offset = at_end ? st.st_size : 0;
}

hl_logs_follow_t *hl_logs_follow_open(const char *path)
{
    /* from now on a stop signal ends the command cleanly, even while the tail is still being printed */
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop_signal; /* no SA_RESTART: the poll's sleep ends at once */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    hl_logs_follow_t *f = hl_calloc(1, sizeof(*f));
    f->path = hl_strdup(path);
    open_file(f, 1);
    return f;
}

static void emit(const char *line, size_t len, int gateway, void (*print)(json_t *))
{
    json_t *e = hl_logs_parse_line(gateway, line, len, (long long)hl_now_ms());
    if (e != NULL) {
        print(e);
        json_decref(e);
    }
}

/* Reads what was appended since the last call and prints its complete lines. */
static void drain(hl_logs_follow_t *f, int gateway, void (*print)(json_t *))
{
    char *buf = hl_malloc(READ_CHUNK);
    for (;;) {
        ssize_t n = pread(f->fd, buf, READ_CHUNK, f->offset);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        f->offset += n;
        size_t start = 0;
        for (size_t i = 0; i < (size_t)n; ++i) {
            if (buf[i] != '\n' && f->line_len + (i - start) < MAX_LINE)
                continue;
            size_t piece = i - start;
            f->line = realloc(f->line, f->line_len + piece + 1);
            if (f->line == NULL)
                hl_fatal("out of memory");
            memcpy(f->line + f->line_len, buf + start, piece);
            emit(f->line, f->line_len + piece, gateway, print);
            f->line_len = 0;
            start = buf[i] == '\n' ? i + 1 : i;
        }
        size_t rest = (size_t)n - start;
        if (rest > 0) {
            f->line = realloc(f->line, f->line_len + rest + 1);
            if (f->line == NULL)
                hl_fatal("out of memory");
            memcpy(f->line + f->line_len, buf + start, rest);
            f->line_len += rest;
        }
    }
    free(buf);
    fflush(stdout);
}

/* After the old file was read to its end: a path that names another file now (rotated) or a shorter file (truncated) is
 * read from its start. */
static void check_rotation(hl_logs_follow_t *f, int gateway, void (*print)(json_t *))
{
    struct stat st;
    if (f->fd < 0) {
        open_file(f, 0);
        return;
    }
    if (stat(f->path, &st) != 0)
        return; /* rotated away, the new file not made yet: keep the old one */
    if (st.st_dev != f->dev || st.st_ino != f->ino) {
        if (f->line_len > 0) /* the old file's last line had no newline: it is complete now */
            emit(f->line, f->line_len, gateway, print);
        f->line_len = 0;
        close(f->fd);
        open_file(f, 0);
    } else if (st.st_size < f->offset) {
        f->offset = 0;
        f->line_len = 0;
    }
}

int hl_logs_follow_run(hl_logs_follow_t *f, int gateway, void (*print)(json_t *))
{
    fflush(stdout);
    while (!stopping) {
        if (f->fd >= 0)
            drain(f, gateway, print);
        check_rotation(f, gateway, print);
        if (f->fd >= 0)
            drain(f, gateway, print);
        struct timespec ts = {0, POLL_MS * 1000000L};
        nanosleep(&ts, NULL);
    }
    return 0;
}

void hl_logs_follow_close(hl_logs_follow_t *f)
{
    if (f == NULL)
        return;
    if (f->fd >= 0)
        close(f->fd);
    free(f->line);
    free(f->path);
    free(f);
}
