/*
 * Lines from a child's non-blocking pipe (src/core/pipe_lines.c), as the updater and profile creation read them: lines
 * split across reads are joined, several in one read are handed over in order, an unfinished line waits for the rest,
 * a line longer than the bound is handed over cut, and at the end of the stream the unfinished last line counts and the
 * pipe is closed; a drain that finds nothing new hands nothing over.
 */
#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hl/pipe_lines.h"

typedef struct {
    char got[8][64];
    size_t n;
} seen_t;

static void remember(void *data, const char *s, size_t len)
{
    seen_t *seen = data;
    ck_assert_uint_lt(seen->n, 8);
    ck_assert_uint_lt(len, sizeof(seen->got[0]));
    memcpy(seen->got[seen->n], s, len);
    seen->got[seen->n][len] = '\0';
    ++seen->n;
}

static void write_all(int fd, const char *s)
{
    ck_assert_int_eq(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

START_TEST(lines_joined_split_cut_and_the_last_one)
{
    int fds[2];
    ck_assert_int_eq(pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
    hl_pipe_lines_t p;
    hl_pipe_lines_init(&p, fds[0], 10);
    seen_t seen = {.n = 0};

    ck_assert(!hl_pipe_lines_drain(&p, remember, &seen)); /* nothing written yet */
    write_all(fds[1], "one\ntw");
    ck_assert(hl_pipe_lines_drain(&p, remember, &seen));
    ck_assert_uint_eq(seen.n, 1);
    ck_assert_str_eq(seen.got[0], "one");
    write_all(fds[1], "o\r\nthree\n");
    ck_assert(hl_pipe_lines_drain(&p, remember, &seen));
    ck_assert_uint_eq(seen.n, 3);
    ck_assert_str_eq(seen.got[1], "two\r"); /* the '\r' is the caller's to drop */
    ck_assert_str_eq(seen.got[2], "three");
    write_all(fds[1], "0123456789abc"); /* past the bound without an end */
    ck_assert(hl_pipe_lines_drain(&p, remember, &seen));
    ck_assert_uint_eq(seen.n, 4);
    ck_assert_str_eq(seen.got[3], "0123456789abc");
    write_all(fds[1], "last");
    ck_assert(!hl_pipe_lines_drain(&p, remember, &seen)); /* waits for the rest */
    ck_assert_int_ge(p.fd, 0);
    close(fds[1]);
    ck_assert(hl_pipe_lines_drain(&p, remember, &seen));
    ck_assert_uint_eq(seen.n, 5);
    ck_assert_str_eq(seen.got[4], "last");
    ck_assert_int_eq(p.fd, -1);
    ck_assert_ptr_null(p.part);
    ck_assert(!hl_pipe_lines_drain(&p, remember, &seen)); /* closed: nothing more */
    hl_pipe_lines_close(&p);
}
END_TEST

START_TEST(close_drops_what_is_left)
{
    int fds[2];
    ck_assert_int_eq(pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
    hl_pipe_lines_t p;
    hl_pipe_lines_init(&p, fds[0], 4096);
    seen_t seen = {.n = 0};
    write_all(fds[1], "unfinished");
    ck_assert(!hl_pipe_lines_drain(&p, remember, &seen));
    hl_pipe_lines_close(&p);
    ck_assert_int_eq(p.fd, -1);
    ck_assert_uint_eq(seen.n, 0);
    /* the read end is closed: the writer sees EPIPE (SIGPIPE ignored for the check) */
    signal(SIGPIPE, SIG_IGN);
    ck_assert_int_eq(write(fds[1], "x", 1), -1);
    close(fds[1]);
}
END_TEST

Suite *suite_pipe_lines(void)
{
    Suite *s = suite_create("pipe_lines");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, lines_joined_split_cut_and_the_last_one);
    tcase_add_test(tc, close_drops_what_is_left);
    suite_add_tcase(s, tc);
    return s;
}
