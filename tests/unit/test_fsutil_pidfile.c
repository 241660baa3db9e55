/*
 * Filesystem helpers (mkdir -p, atomic writes, bounded reads, path joins) and the daemon's pid file lock.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hl/fsutil.h"
#include "hl/pidfile.h"
#include "unit_util.h"

static int is_dir(const char *path, mode_t *mode)
{
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return 0;
    if (mode != NULL)
        *mode = st.st_mode & 07777;
    return 1;
}

/* ---- hl_mkdir_p ---- */

START_TEST(mkdir_p_nested_and_existing)
{
    char *base = ut_mkdtemp(), *deep = ut_path(base, "a/b/c/d"), *mid = ut_path(base, "a/b");
    mode_t mode;
    ck_assert_int_eq(hl_mkdir_p(deep, 0700), 0);
    ck_assert(is_dir(deep, &mode));
    ck_assert_int_eq(mode, 0700);
    ck_assert(is_dir(mid, &mode));
    ck_assert_int_eq(mode, 0700);
    /* again: already there */
    ck_assert_int_eq(hl_mkdir_p(deep, 0700), 0);
    ck_assert_int_eq(hl_mkdir_p(mid, 0700), 0);
    ck_assert_int_eq(hl_mkdir_p(base, 0700), 0);
    ck_assert_int_eq(hl_mkdir_p("/", 0700), 0);
    /* trailing and doubled slashes */
    char *trailing = ut_path(base, "x//y/");
    ck_assert_int_eq(hl_mkdir_p(trailing, 0750), 0);
    char *y = ut_path(base, "x/y");
    ck_assert(is_dir(y, &mode));
    ck_assert_int_eq(mode, 0750);
    free(y);
    free(trailing);
    free(mid);
    free(deep);
    ut_rm_rf(base);
}
END_TEST

START_TEST(mkdir_p_file_in_the_way)
{
    char *base = ut_mkdtemp(), *file = ut_path(base, "file"), *under = ut_path(base, "file/sub/deeper");
    ut_write_str(file, "x");
    ck_assert_int_eq(hl_mkdir_p(file, 0700), -ENOTDIR);
    ck_assert_int_eq(hl_mkdir_p(under, 0700), -ENOTDIR);
    /* a read-only parent: the error comes back */
    char *ro = ut_path(base, "ro"), *ro_child = ut_path(base, "ro/child");
    ck_assert_int_eq(mkdir(ro, 0500), 0);
    if (geteuid() != 0)
        ck_assert_int_eq(hl_mkdir_p(ro_child, 0700), -EACCES);
    chmod(ro, 0700);
    free(ro_child);
    free(ro);
    free(under);
    free(file);
    ut_rm_rf(base);
}
END_TEST

/* regression: hl_mkdir_p (src/core/fsutil.c) starts scanning at buf + 1, past the terminating NUL of an empty path, and
 * reads beyond the 1-byte allocation (heap-buffer-overflow under ASan). An empty path should fail with -ENOENT like
 * mkdir(""). */
START_TEST(mkdir_p_empty_path)
{
    ck_assert_int_eq(hl_mkdir_p("", 0700), -ENOENT);
}
END_TEST

/* ---- hl_write_file_atomic ---- */

START_TEST(write_atomic_content_and_mode)
{
    char *base = ut_mkdtemp(), *path = ut_path(base, "data.json");
    mode_t old_umask = umask(077);
    ck_assert_int_eq(hl_write_file_atomic(path, "{\"a\":1}\n", 8, 0640), 0);
    umask(old_umask);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert(S_ISREG(st.st_mode));
    ck_assert_int_eq(st.st_mode & 07777, 0640); /* the mode is exact, whatever the umask */
    char *text = ut_read(path);
    ck_assert_str_eq(text, "{\"a\":1}\n");
    free(text);

    /* replacing: new content and mode, same single directory entry */
    ck_assert_int_eq(hl_write_file_atomic(path, "second", 6, 0600), 0);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 07777, 0600);
    ck_assert_int_eq(st.st_size, 6);
    text = ut_read(path);
    ck_assert_str_eq(text, "second");
    free(text);

    /* empty and binary content */
    ck_assert_int_eq(hl_write_file_atomic(path, "", 0, 0600), 0);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_size, 0);
    static const char bin[] = {'a', 0, 'b', (char)0xff};
    ck_assert_int_eq(hl_write_file_atomic(path, bin, sizeof(bin), 0600), 0);
    char *back;
    size_t len;
    ck_assert_int_eq(hl_read_file(path, 100, &back, &len), 0);
    ck_assert_int_eq(len, sizeof(bin));
    ck_assert(memcmp(back, bin, sizeof(bin)) == 0);
    free(back);

    /* no temp files left behind */
    ck_assert_int_eq(ut_count_entries(base), 1);
    free(path);
    ut_rm_rf(base);
}
END_TEST

START_TEST(write_atomic_large)
{
    char *base = ut_mkdtemp(), *path = ut_path(base, "big");
    size_t n = 3 * 1024 * 1024 + 17;
    char *data = malloc(n);
    for (size_t i = 0; i < n; ++i)
        data[i] = (char)(i * 31 + 7);
    ck_assert_int_eq(hl_write_file_atomic(path, data, n, 0600), 0);
    char *back;
    size_t len;
    ck_assert_int_eq(hl_read_file(path, n, &back, &len), 0);
    ck_assert_int_eq(len, n);
    ck_assert(memcmp(back, data, n) == 0);
    ck_assert_int_eq(ut_count_entries(base), 1);
    free(back);
    free(data);
    free(path);
    ut_rm_rf(base);
}
END_TEST

START_TEST(write_atomic_failures_leave_nothing)
{
    char *base = ut_mkdtemp();
    /* missing directory */
    char *missing = ut_path(base, "nope/file");
    ck_assert_int_eq(hl_write_file_atomic(missing, "x", 1, 0600), -ENOENT);
    ck_assert_int_eq(ut_count_entries(base), 0);
    /* the target is a directory: the rename fails and the temp file is removed */
    char *dir = ut_path(base, "adir");
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    int r = hl_write_file_atomic(dir, "x", 1, 0600);
    ck_assert_int_lt(r, 0);
    ck_assert_int_eq(ut_count_entries(base), 1);
    ck_assert(is_dir(dir, NULL));
    ck_assert_int_eq(ut_count_entries(dir), 0);
    free(dir);
    free(missing);
    ut_rm_rf(base);
}
END_TEST

/* ---- hl_read_file ---- */

START_TEST(read_file_limits)
{
    char *base = ut_mkdtemp(), *path = ut_path(base, "f");
    ut_write_str(path, "0123456789");
    char *out = NULL;
    size_t len = 0;
    ck_assert_int_eq(hl_read_file(path, 10, &out, &len), 0); /* exactly at the limit */
    ck_assert_int_eq(len, 10);
    ck_assert_str_eq(out, "0123456789"); /* NUL-terminated */
    free(out);
    ck_assert_int_eq(hl_read_file(path, 11, &out, NULL), 0); /* out_len optional */
    ck_assert_str_eq(out, "0123456789");
    free(out);
    out = NULL;
    ck_assert_int_eq(hl_read_file(path, 9, &out, &len), -EFBIG);
    ck_assert_ptr_null(out);
    ck_assert_int_eq(hl_read_file(path, 0, &out, &len), -EFBIG);

    /* empty file */
    ut_write_str(path, "");
    ck_assert_int_eq(hl_read_file(path, 0, &out, &len), 0);
    ck_assert_int_eq(len, 0);
    ck_assert_str_eq(out, "");
    free(out);

    /* several read chunks, around the limit */
    size_t n = 10000;
    char *data = malloc(n);
    memset(data, 'z', n);
    ut_write(path, data, n);
    ck_assert_int_eq(hl_read_file(path, n, &out, &len), 0);
    ck_assert_int_eq(len, n);
    ck_assert(memcmp(out, data, n) == 0 && out[n] == '\0');
    free(out);
    ck_assert_int_eq(hl_read_file(path, n - 1, &out, &len), -EFBIG);
    ck_assert_int_eq(hl_read_file(path, 4096, &out, &len), -EFBIG);
    ck_assert_int_eq(hl_read_file(path, 4095, &out, &len), -EFBIG);
    free(data);

    char *missing = ut_path(base, "missing");
    ck_assert_int_eq(hl_read_file(missing, 100, &out, &len), -ENOENT);
    ck_assert_int_eq(hl_read_file(base, 100, &out, &len), -EISDIR);
    free(missing);
    free(path);
    ut_rm_rf(base);
}
END_TEST

/* regression: hl_read_file (src/core/fsutil.c) compares `cap > max_len + 1`, which wraps to 0 for max_len == SIZE_MAX
 * ("no limit"), so any file of 4095 bytes or more fails with -EFBIG. */
START_TEST(read_file_unbounded_limit)
{
    char *base = ut_mkdtemp(), *path = ut_path(base, "f");
    char data[5000];
    memset(data, 'q', sizeof(data));
    ut_write(path, data, sizeof(data));
    char *out = NULL;
    size_t len = 0;
    ck_assert_int_eq(hl_read_file(path, SIZE_MAX, &out, &len), 0);
    ck_assert_int_eq(len, sizeof(data));
    free(out);
    free(path);
    ut_rm_rf(base);
}
END_TEST

/* ---- hl_path_join ---- */

static void expect_join(const char *dir, const char *name, const char *want)
{
    char *p = hl_path_join(dir, name);
    ck_assert_str_eq(p, want);
    free(p);
}

START_TEST(path_join)
{
    expect_join("/a/b", "c", "/a/b/c");
    expect_join("/a/b/", "c", "/a/b/c");
    expect_join("/a/b///", "c.json", "/a/b/c.json");
    expect_join("rel", "x", "rel/x");
    expect_join("/a", "b/c", "/a/b/c");
}
END_TEST

/* regression: hl_path_join (src/core/fsutil.c) keeps the last '/' of the root directory and adds another, so
 * hl_path_join("/", "c") is "//c" instead of "/c" (the header promises one '/'). */
START_TEST(path_join_root)
{
    expect_join("/", "c", "/c");
    expect_join("//", "c", "/c");
}
END_TEST

/* ---- pid file ---- */

/* Probes from a child process (flock locks belong to the open file description, so a second process sees ours);
 * returns the state and stores the pid the child saw. */
static hl_pid_state_t probe_in_child(const char *home, pid_t *pid)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        close(fds[0]);
        pid_t p = 0;
        int st = (int)hl_pidfile_probe(home, &p);
        int msg[2] = {st, (int)p};
        _exit(write(fds[1], msg, sizeof(msg)) == (ssize_t)sizeof(msg) ? 0 : 1);
    }
    close(fds[1]);
    int msg[2] = {-1, -1};
    ck_assert_int_eq(read(fds[0], msg, sizeof(msg)), (ssize_t)sizeof(msg));
    close(fds[0]);
    int status;
    ck_assert_int_eq(waitpid(child, &status, 0), child);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    *pid = (pid_t)msg[1];
    return (hl_pid_state_t)msg[0];
}

/* Tries to acquire from a child; returns the result and the holder the child saw. */
static int acquire_in_child(const char *home, pid_t *holder)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        close(fds[0]);
        pid_t h = 0;
        int r = hl_pidfile_acquire(home, &h);
        int msg[2] = {r, (int)h};
        _exit(write(fds[1], msg, sizeof(msg)) == (ssize_t)sizeof(msg) ? 0 : 1);
    }
    close(fds[1]);
    int msg[2] = {0, 0};
    ck_assert_int_eq(read(fds[0], msg, sizeof(msg)), (ssize_t)sizeof(msg));
    close(fds[0]);
    waitpid(child, NULL, 0);
    *holder = (pid_t)msg[1];
    return msg[0];
}

START_TEST(pidfile_lifecycle)
{
    char *home = ut_mkdtemp(), *path = ut_path(home, "hermeslink.pid");
    pid_t pid = -1;
    ck_assert_int_eq(hl_pidfile_probe(home, &pid), HL_PID_NOT_RUNNING);
    ck_assert_int_eq(pid, 0);

    pid_t holder = 0;
    int fd = hl_pidfile_acquire(home, &holder);
    ck_assert_int_ge(fd, 0);
    char want[32];
    snprintf(want, sizeof(want), "%d\n", (int)getpid());
    char *text = ut_read(path);
    ck_assert_str_eq(text, want);
    free(text);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 077, 0); /* not readable by others */

    /* another process sees us running */
    ck_assert_int_eq(probe_in_child(home, &pid), HL_PID_RUNNING);
    ck_assert_int_eq(pid, getpid());
    /* and so does a second open in this process (a different open file description) */
    ck_assert_int_eq(hl_pidfile_probe(home, &pid), HL_PID_RUNNING);
    ck_assert_int_eq(pid, getpid());

    /* a second daemon is refused and told who holds the lock */
    holder = 0;
    ck_assert_int_eq(acquire_in_child(home, &holder), -EEXIST);
    ck_assert_int_eq(holder, getpid());
    holder = 0;
    ck_assert_int_eq(hl_pidfile_acquire(home, &holder), -EEXIST);
    ck_assert_int_eq(holder, getpid());
    /* the refused attempts left the file alone */
    text = ut_read(path);
    ck_assert_str_eq(text, want);
    free(text);

    hl_pidfile_release(home, fd);
    ck_assert_int_eq(access(path, F_OK), -1);
    ck_assert_int_eq(probe_in_child(home, &pid), HL_PID_NOT_RUNNING);
    ck_assert_int_eq(hl_pidfile_probe(home, &pid), HL_PID_NOT_RUNNING);

    /* and it can be taken again */
    fd = hl_pidfile_acquire(home, NULL);
    ck_assert_int_ge(fd, 0);
    hl_pidfile_release(home, fd);
    free(path);
    ut_rm_rf(home);
}
END_TEST

START_TEST(pidfile_stale)
{
    char *home = ut_mkdtemp(), *path = ut_path(home, "hermeslink.pid");
    pid_t pid = 0;
    /* a pid left without a lock */
    ut_write_str(path, "12345\n");
    ck_assert_int_eq(hl_pidfile_probe(home, &pid), HL_PID_STALE);
    ck_assert_int_eq(pid, 12345);
    ut_write_str(path, "4242"); /* no newline */
    ck_assert_int_eq(probe_in_child(home, &pid), HL_PID_STALE);
    ck_assert_int_eq(pid, 4242);

    /* a daemon that died without cleaning up: its lock went with it */
    pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        int fd = hl_pidfile_acquire(home, NULL);
        _exit(fd >= 0 ? 0 : 1);
    }
    int status;
    ck_assert_int_eq(waitpid(child, &status, 0), child);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ck_assert_int_eq(hl_pidfile_probe(home, &pid), HL_PID_STALE);
    ck_assert_int_eq(pid, child);

    /* a stale file does not stop a new daemon, which rewrites it */
    pid_t holder = 0;
    int fd = hl_pidfile_acquire(home, &holder);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(probe_in_child(home, &pid), HL_PID_RUNNING);
    ck_assert_int_eq(pid, getpid());
    hl_pidfile_release(home, fd);
    free(path);
    ut_rm_rf(home);
}
END_TEST

START_TEST(pidfile_probe_does_not_take_the_lock)
{
    /* probing a stale file leaves it unlocked: a daemon can start right after */
    char *home = ut_mkdtemp(), *path = ut_path(home, "hermeslink.pid");
    ut_write_str(path, "777\n");
    pid_t pid;
    for (int i = 0; i < 3; ++i)
        ck_assert_int_eq(hl_pidfile_probe(home, &pid), HL_PID_STALE);
    pid_t holder = 0;
    int fd = acquire_in_child(home, &holder);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(hl_pidfile_probe(home, &pid), HL_PID_STALE); /* the child exited: its lock is gone */
    free(path);
    ut_rm_rf(home);
}
END_TEST

/* regression: hl_pidfile_probe (src/core/pidfile.c) returns NOT_RUNNING for an unlocked pid file whose content is not
 * a pid (empty or garbage, e.g. a daemon that died between creating and writing it). The header says a file left
 * without a lock is STALE, with *pid set only "when readable", so this should be STALE with *pid == 0. */
START_TEST(pidfile_unreadable_stale)
{
    char *home = ut_mkdtemp(), *path = ut_path(home, "hermeslink.pid");
    pid_t pid = -1;
    ut_write_str(path, "not a pid\n");
    ck_assert_int_eq(hl_pidfile_probe(home, &pid), HL_PID_STALE);
    ck_assert_int_eq(pid, 0);
    free(path);
    ut_rm_rf(home);
}
END_TEST

START_TEST(pidfile_missing_home)
{
    char *home = ut_mkdtemp(), *missing = ut_path(home, "nope");
    pid_t holder = 0, pid = 0;
    ck_assert_int_eq(hl_pidfile_acquire(missing, &holder), -ENOENT);
    ck_assert_int_eq(hl_pidfile_probe(missing, &pid), HL_PID_NOT_RUNNING);
    free(missing);
    ut_rm_rf(home);
}
END_TEST

Suite *suite_fsutil_pidfile(void)
{
    Suite *s = suite_create("fsutil_pidfile");
    TCase *fs = tcase_create("fsutil");
    tcase_add_test(fs, mkdir_p_nested_and_existing);
    tcase_add_test(fs, mkdir_p_file_in_the_way);
    tcase_add_test(fs, mkdir_p_empty_path);
    tcase_add_test(fs, write_atomic_content_and_mode);
    tcase_add_test(fs, write_atomic_large);
    tcase_add_test(fs, write_atomic_failures_leave_nothing);
    tcase_add_test(fs, read_file_limits);
    tcase_add_test(fs, read_file_unbounded_limit);
    tcase_add_test(fs, path_join);
    tcase_add_test(fs, path_join_root);
    suite_add_tcase(s, fs);

    TCase *pid = tcase_create("pidfile");
    tcase_add_test(pid, pidfile_lifecycle);
    tcase_add_test(pid, pidfile_stale);
    tcase_add_test(pid, pidfile_probe_does_not_take_the_lock);
    tcase_add_test(pid, pidfile_unreadable_stale);
    tcase_add_test(pid, pidfile_missing_home);
    suite_add_tcase(s, pid);
    return s;
}
