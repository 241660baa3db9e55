/*
 * A fault-injection shim for the integration tests (LD_PRELOAD=libhlfault.so): makes syscalls fail the way a sick disk
 * does, on demand, without touching the daemon's code. HLT_FAULT_FILE names a file the test writes; its content is a
 * list of words, read at every call so the test can switch faults on and off while the daemon runs:
 *   fsync    fsync() and fdatasync() fail with EIO
 *   enospc   pwrite() / pwrite64() / write() to a regular file fail with ENOSPC (sockets and pipes are left alone)
 * Without the variable, or with an empty file, every call goes straight to the real one.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

/* whether the fault file currently lists word (read with raw syscalls: no allocation, no stdio, no recursion) */
static int fault_on(const char *word)
{
    const char *path = getenv("HLT_FAULT_FILE");
    if (path == NULL)
        return 0;
    int saved = errno;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        errno = saved;
        return 0;
    }
    char buf[256];
    static ssize_t (*real_read)(int, void *, size_t);
    if (real_read == NULL)
        real_read = (ssize_t(*)(int, void *, size_t))dlsym(RTLD_NEXT, "read");
    ssize_t n = real_read(fd, buf, sizeof(buf) - 1);
    close(fd);
    errno = saved;
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    return strstr(buf, word) != NULL;
}

static int regular_file(int fd)
{
    struct stat st;
    int saved = errno;
    int r = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    errno = saved;
    return r;
}

int fsync(int fd)
{
    static int (*real)(int);
    if (real == NULL)
        real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    if (fault_on("fsync")) {
        errno = EIO;
        return -1;
    }
    return real(fd);
}

int fdatasync(int fd)
{
    static int (*real)(int);
    if (real == NULL)
        real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    if (fault_on("fsync")) {
        errno = EIO;
        return -1;
    }
    return real(fd);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
    static ssize_t (*real)(int, const void *, size_t, off_t);
    if (real == NULL)
        real = (ssize_t(*)(int, const void *, size_t, off_t))dlsym(RTLD_NEXT, "pwrite");
    if (fault_on("enospc") && regular_file(fd)) {
        errno = ENOSPC;
        return -1;
    }
    return real(fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
    static ssize_t (*real)(int, const void *, size_t, off_t);
    if (real == NULL)
        real = (ssize_t(*)(int, const void *, size_t, off_t))dlsym(RTLD_NEXT, "pwrite64");
    if (fault_on("enospc") && regular_file(fd)) {
        errno = ENOSPC;
        return -1;
    }
    return real(fd, buf, n, off);
}

ssize_t write(int fd, const void *buf, size_t n)
{
    static ssize_t (*real)(int, const void *, size_t);
    if (real == NULL)
        real = (ssize_t(*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
    if (fd > 2 && fault_on("enospc") && regular_file(fd)) {
        errno = ENOSPC;
        return -1;
    }
    return real(fd, buf, n);
}
