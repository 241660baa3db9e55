/*
 * Small helpers shared by the unit suites: temporary directories under /tmp and whole-file writes/reads.
 */
#ifndef HL_UNIT_UTIL_H
#define HL_UNIT_UTIL_H

#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* main() creates one root for the whole run (and removes it at the end, so tests that fail before cleaning up leave
 * nothing behind) and passes it down in this variable. */
#define UT_TMP_ENV "HL_UNIT_TMPDIR"

/* Creates a fresh temporary directory under /tmp/hl-unit-… and returns its path (caller frees with ut_rm_rf). */
static inline char *ut_mkdtemp(void)
{
    const char *root = getenv(UT_TMP_ENV);
    size_t len = (root != NULL ? strlen(root) : 0) + 32;
    char *dir = malloc(len);
    ck_assert_ptr_nonnull(dir);
    if (root != NULL)
        snprintf(dir, len, "%s/t-XXXXXX", root);
    else
        snprintf(dir, len, "/tmp/hl-unit-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    return dir;
}

static inline int ut_rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    return flag == FTW_DP ? rmdir(path) : unlink(path);
}

/* Removes a temporary tree and frees its path. */
static inline void ut_rm_rf(char *dir)
{
    ck_assert(strncmp(dir, "/tmp/hl-unit-", 13) == 0);
    nftw(dir, ut_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(dir);
}

/* Returns dir + "/" + name (caller frees). */
static inline char *ut_path(const char *dir, const char *name)
{
    size_t len = strlen(dir) + strlen(name) + 2;
    char *p = malloc(len);
    ck_assert_ptr_nonnull(p);
    snprintf(p, len, "%s/%s", dir, name);
    return p;
}

static inline void ut_write(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
    close(fd);
}

static inline void ut_write_str(const char *path, const char *text)
{
    ut_write(path, text, strlen(text));
}

/* Reads a whole small file into a NUL-terminated malloc'd string. */
static inline char *ut_read(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    ck_assert_ptr_nonnull(buf);
    size_t n;
    while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (len + 1 == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            ck_assert_ptr_nonnull(buf);
        }
    }
    fclose(f);
    buf[len] = '\0';
    return buf;
}

/* Number of entries in a directory, "." and ".." excluded. */
static inline int ut_count_entries(const char *dir)
{
    int n = 0;
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            ++n;
    closedir(d);
    return n;
}

#endif
