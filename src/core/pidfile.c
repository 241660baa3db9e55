#include "hl/pidfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "hl/fsutil.h"

static char *pid_path(const char *home)
{
    return hl_path_join(home, "hermeslink.pid");
}

static pid_t read_pid(int fd)
{
    char buf[32];
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    long v;
    char *nl = strchr(buf, '\n');
    if (nl != NULL)
        *nl = '\0';
    return hl_parse_long(buf, 1, 0x7fffffff, &v) == 0 ? (pid_t)v : 0;
}

int hl_pidfile_acquire(const char *home, pid_t *holder)
{
    char *path = pid_path(home);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    free(path);
    if (fd < 0)
        return -errno;
    /* a CLI probe holds a shared lock for an instant: retry briefly before concluding another daemon runs */
    int locked = -1;
    for (int attempt = 0; attempt < 10 && (locked = flock(fd, LOCK_EX | LOCK_NB)) != 0 && errno == EWOULDBLOCK; ++attempt) {
        struct timespec ts = {0, 20 * 1000000};
        nanosleep(&ts, NULL);
    }
    if (locked != 0) {
        int err = errno;
        if (holder != NULL)
            *holder = read_pid(fd);
        close(fd);
        return err == EWOULDBLOCK ? -EEXIST : -err;
    }
    char buf[32];
    int len = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)len, 0) != len) {
        int err = errno;
        close(fd);
        return -err;
    }
    return fd;
}

void hl_pidfile_release(const char *home, int fd)
{
    char *path = pid_path(home);
    /* unlink while still holding the lock, so a new daemon never sees our file half-removed */
    unlink(path);
    free(path);
    if (fd >= 0)
        close(fd);
}

hl_pid_state_t hl_pidfile_probe(const char *home, pid_t *pid)
{
    char *path = pid_path(home);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    free(path);
    *pid = 0;
    if (fd < 0)
        return HL_PID_NOT_RUNNING;
    *pid = read_pid(fd);
    hl_pid_state_t st;
    if (flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK) {
        st = HL_PID_RUNNING;
    } else {
        flock(fd, LOCK_UN);
        st = HL_PID_STALE; /* a file nobody holds is left over from a daemon that died (pid 0 when unreadable) */
    }
    close(fd);
    return st;
}
