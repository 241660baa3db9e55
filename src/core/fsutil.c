#include "hl/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int hl_mkdir_p(const char *path, mode_t mode)
{
    if (path[0] == '\0')
        return -ENOENT;
    char *buf = hl_strdup(path);
    int ret = 0;
    for (char *p = buf + 1;; ++p) {
        if (*p == '/' || *p == '\0') {
            char saved = *p;
            *p = '\0';
            if (mkdir(buf, mode) != 0 && errno != EEXIST) {
                ret = -errno;
                goto Exit;
            }
            *p = saved;
            if (saved == '\0')
                break;
        }
    }
    struct stat st;
    if (stat(path, &st) != 0)
        ret = -errno;
    else if (!S_ISDIR(st.st_mode))
        ret = -ENOTDIR;
Exit:
    free(buf);
    return ret;
}

static int storage_full;

void hl_storage_full_simulate(int on)
{
    __atomic_store_n(&storage_full, on != 0, __ATOMIC_RELEASE);
}

int hl_storage_full_simulated(void)
{
    return __atomic_load_n(&storage_full, __ATOMIC_ACQUIRE);
}

int hl_errno_is_disk_full(int neg_errno)
{
    return neg_errno == -ENOSPC || neg_errno == -EDQUOT;
}

static int write_all(int fd, const void *data, size_t len)
{
    if (hl_storage_full_simulated())
        return -ENOSPC;
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static void fsync_parent(const char *path)
{
    char *copy = hl_strdup(path);
    int dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    free(copy);
}

int hl_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
    static unsigned counter;
    char *tmp = hl_asprintf("%s.%d.%u.tmp", path, (int)getpid(), __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED));
    int ret, fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) {
        ret = -errno;
        goto Exit;
    }
    if ((ret = write_all(fd, data, len)) == 0 && (fchmod(fd, mode) != 0 || fsync(fd) != 0))
        ret = -errno;
    close(fd);
    if (ret != 0) {
        unlink(tmp);
        goto Exit;
    }
    if (rename(tmp, path) != 0) {
        ret = -errno;
        unlink(tmp);
        goto Exit;
    }
    fsync_parent(path);
    ret = 0;
Exit:
    free(tmp);
    return ret;
}

int hl_read_file(const char *path, size_t max_len, char **out, size_t *out_len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t cap = 4096, len = 0;
    char *buf = hl_malloc(cap);
    int ret = 0;
    for (;;) {
        if (len + 1 >= cap) {
            if (cap - 1 > max_len) {
                ret = -EFBIG;
                goto Error;
            }
            cap *= 2;
            buf = hl_realloc(buf, cap);
        }
        ssize_t n = read(fd, buf + len, cap - len - 1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            ret = -errno;
            goto Error;
        }
        if (n == 0)
            break;
        len += (size_t)n;
        if (len > max_len) {
            ret = -EFBIG;
            goto Error;
        }
    }
    close(fd);
    buf[len] = '\0';
    *out = buf;
    if (out_len != NULL)
        *out_len = len;
    return 0;
Error:
    close(fd);
    free(buf);
    return ret;
}

char *hl_path_join(const char *dir, const char *name)
{
    size_t dl = strlen(dir);
    while (dl > 0 && dir[dl - 1] == '/')
        --dl; /* "/" becomes "", so the root joins as "/name" */
    return hl_asprintf("%.*s/%s", (int)dl, dir, name);
}
