/*
 * hl_file_replace: backup, atomic write, pruning. The backup is a hard link to the old file when it can be: the old
 * inode stays exactly as it was (content, mode, owner, times) at no cost, and the rename that follows leaves it only
 * under the backup's name. Backups are written before the new content and removed again if the write fails, so a
 * failed edit leaves no trace.
 */
#include "hl/file_replace.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hl/fsutil.h"

/* attempts at a free backup name (one microsecond apart) before giving up */
#define MAX_NAME_TRIES 1000

/* True when the file open on fd holds exactly `len` bytes of `data`. */
static bool same_content(int fd, const struct stat *st, const void *data, size_t len)
{
    if ((size_t)st->st_size != len)
        return false;
    char buf[16384];
    size_t at = 0;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n == 0 && at == len;
        if (at + (size_t)n > len || memcmp(buf, (const char *)data + at, (size_t)n) != 0)
            return false;
        at += (size_t)n;
    }
}

static char *backup_name(const char *path, const struct timespec *ts)
{
    struct tm tm;
    char stamp[32];
    gmtime_r(&ts->tv_sec, &tm);
    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%S", &tm);
    return hl_asprintf("%s.bak.%s.%06ldZ", path, stamp, ts->tv_nsec / 1000);
}

/* A copy of the file open on fd at `to` (created, never replacing), for filesystems without hard links. */
static int copy_to(int fd, const struct stat *st, const char *to)
{
    int out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, st->st_mode & 07777);
    if (out < 0)
        return -errno;
    char buf[16384];
    int ret = 0;
    if (lseek(fd, 0, SEEK_SET) != 0) {
        ret = -errno;
        goto Exit;
    }
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            ret = -errno;
            goto Exit;
        }
        if (n == 0)
            break;
        for (ssize_t done = 0; done < n;) {
            ssize_t w = write(out, buf + done, (size_t)(n - done));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                ret = -errno;
                goto Exit;
            }
            done += w;
        }
    }
    if (fsync(out) != 0)
        ret = -errno;
Exit:
    close(out);
    if (ret != 0)
        unlink(to);
    return ret;
}

/* The old content under a fresh backup name: *backup is that name. 0 or -errno. */
static int make_backup(const char *path, int fd, const struct stat *st, char **backup)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    for (int i = 0; i < MAX_NAME_TRIES; ++i) {
        char *name = backup_name(path, &ts);
        int ret = link(path, name) == 0 ? 0 : -errno;
        if (ret == -EPERM || ret == -EXDEV || ret == -ENOTSUP || ret == -EMLINK || ret == -ENOSYS)
            ret = copy_to(fd, st, name);
        if (ret == 0) {
            *backup = name;
            return 0;
        }
        free(name);
        if (ret != -EEXIST)
            return ret;
        if ((ts.tv_nsec += 1000) >= 1000000000L) {
            ts.tv_nsec -= 1000000000L;
            ++ts.tv_sec;
        }
    }
    return -EEXIST;
}

/* True for "<base>.bak." followed by a stamp of the documented form. */
static bool is_backup_of(const char *name, const char *base)
{
    size_t bl = strlen(base);
    if (strncmp(name, base, bl) != 0 || strncmp(name + bl, ".bak.", 5) != 0)
        return false;
    const char *s = name + bl + 5;
    static const char form[] = "ddddddddTdddddd.ddddddZ"; /* 8 digits, T, 6 digits, '.', 6 digits, Z */
    if (strlen(s) != HL_FILE_BACKUP_STAMP_LEN)
        return false;
    for (size_t i = 0; i < HL_FILE_BACKUP_STAMP_LEN; ++i)
        if (form[i] == 'd' ? !(s[i] >= '0' && s[i] <= '9') : s[i] != form[i])
            return false;
    return true;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Removes the backups of `path` beyond the HL_FILE_BACKUP_KEEP newest, best effort. `made` (the one just made) stays
 * whatever its name says: after the clock went back it would sort first.
 */
static void prune_backups(const char *path, const char *made)
{
    char *dcopy = hl_strdup(path), *bcopy = hl_strdup(path);
    const char *base = basename(bcopy);
    DIR *d = opendir(dirname(dcopy));
    char **names = NULL;
    size_t count = 0, cap = 0;
    if (d == NULL)
        goto Exit;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!is_backup_of(e->d_name, base))
            continue;
        if (count == cap) {
            cap = cap != 0 ? cap * 2 : 16;
            names = hl_realloc(names, cap * sizeof(*names));
        }
        names[count++] = hl_strdup(e->d_name);
    }
    qsort(names, count, sizeof(*names), compare_names);
    const char *made_base = strrchr(made, '/') != NULL ? strrchr(made, '/') + 1 : made;
    size_t extra = count > HL_FILE_BACKUP_KEEP ? count - HL_FILE_BACKUP_KEEP : 0;
    for (size_t i = 0; i < count && extra > 0; ++i)
        if (strcmp(names[i], made_base) != 0) {
            unlinkat(dirfd(d), names[i], 0);
            --extra;
        }
    closedir(d);
Exit:
    for (size_t i = 0; i < count; ++i)
        free(names[i]);
    free(names);
    free(dcopy);
    free(bcopy);
}

int hl_file_replace(const char *path, const void *data, size_t len, char **backup_path)
{
    char *backup = NULL;
    int ret, fd = -1;
    struct stat st;
    if (backup_path != NULL)
        *backup_path = NULL;
    if (lstat(path, &st) != 0) {
        if (errno != ENOENT)
            return -errno;
        return hl_write_file_atomic(path, data, len, 0600);
    }
    if (S_ISLNK(st.st_mode))
        return -ELOOP;
    if (!S_ISREG(st.st_mode))
        return -EINVAL;
    if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
        return -errno;
    if (fstat(fd, &st) != 0) {
        ret = -errno;
        goto Exit;
    }
    if (same_content(fd, &st, data, len)) {
        ret = 0;
        goto Exit;
    }
    if ((ret = make_backup(path, fd, &st, &backup)) != 0)
        goto Exit;
    if ((ret = hl_write_file_atomic(path, data, len, st.st_mode & 07777)) != 0) {
        unlink(backup);
        goto Exit;
    }
    prune_backups(path, backup);
    if (backup_path != NULL) {
        *backup_path = backup;
        backup = NULL;
    }
Exit:
    close(fd);
    free(backup);
    return ret;
}
