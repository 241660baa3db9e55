/*
 * Reading and changing a profile's memory files as Hermes does (tools/memory_tool.py): readers read without a lock,
 * because every writer renames a complete file into place; writers serialise on flock(LOCK_EX) of the sibling
 * `<file>.lock` and do their read-modify-write under it, so Hermes's agent and HermesLink never lose each other's
 * entries. Hermes waits for the lock forever; we poll for a bounded time and answer "busy" (hl_memory_update), or try
 * once and let the caller retry (hl_memory_try_update: the Hermes files actor parks the request and serves others).
 *
 * Paths are checked against the profile directory (symbolic links resolved): memories/, the file and the lock must not
 * lead out of it, so a profile cannot make us read or write elsewhere. A missing profile is never created.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hl/clock.h"
#include "hl/fsutil.h"
#include "hl/hermes_memory.h"
#include "hl/hermes_read.h"
#include "hermes_internal.h"

#define LOCK_POLL_MS 10

static unsigned lock_wait_ms = HL_MEMORY_LOCK_WAIT_MS;

void hl_memory_test_set_lock_wait(unsigned ms)
{
    __atomic_store_n(&lock_wait_ms, ms == 0 ? HL_MEMORY_LOCK_WAIT_MS : ms, __ATOMIC_RELAXED);
}

unsigned hl_memory_lock_wait_ms(void)
{
    return __atomic_load_n(&lock_wait_ms, __ATOMIC_RELAXED);
}

/* Where one memory file of a profile lives. */
typedef struct st_memory_paths_t {
    char *profile_real; /* the profile directory, links resolved: the containment root */
    char *memdir;       /* <profile_real>/memories resolved, NULL when it does not exist */
} memory_paths_t;

static void paths_dispose(memory_paths_t *p)
{
    free(p->profile_real);
    free(p->memdir);
}

static hl_memory_status_t io_error(int *err, int e)
{
    if (err != NULL)
        *err = e;
    return HL_MEMORY_IO_ERROR;
}

/* The profile directory and its memories/ (created 0700 when `create`). */
static hl_memory_status_t resolve(const char *hermes_home, const char *profile, bool create, memory_paths_t *p, int *err)
{
    memset(p, 0, sizeof(*p));
    char *dir = hl_hermes_profile_dir(hermes_home, profile);
    if (dir == NULL)
        return HL_MEMORY_INVALID_PROFILE;
    char *root_real = hermes_root_real(hermes_home);
    hl_memory_status_t st = HL_MEMORY_OK;
    if (!hermes_dir_inside(root_real, dir)) {
        st = HL_MEMORY_PROFILE_NOT_FOUND;
        goto Exit;
    }
    if ((p->profile_real = realpath(dir, NULL)) == NULL) {
        st = errno == ENOENT ? HL_MEMORY_PROFILE_NOT_FOUND : io_error(err, -errno);
        goto Exit;
    }
    char *memdir = hl_path_join(p->profile_real, "memories");
    struct stat lst;
    if (create && mkdir(memdir, 0700) != 0 && errno != EEXIST) {
        st = io_error(err, -errno);
    } else if ((p->memdir = realpath(memdir, NULL)) == NULL) {
        if (errno != ENOENT)
            st = io_error(err, -errno);
        else if (create || lstat(memdir, &lst) == 0)
            st = HL_MEMORY_UNSAFE_PATH; /* a dangling link (mkdir said it exists) */
        /* else no memories/ yet: nothing to read */
    } else if (!hermes_dir_inside(p->profile_real, p->memdir)) {
        st = HL_MEMORY_UNSAFE_PATH;
    }
    free(memdir);
Exit:
    if (st != HL_MEMORY_OK)
        paths_dispose(p);
    free(root_real);
    free(dir);
    return st;
}

static char *rel_path(const char *profile, hl_memory_target_t t)
{
    if (profile == NULL || *profile == '\0' || strcmp(profile, "default") == 0)
        return hl_asprintf("memories/%s", hl_memory_file_name(t));
    return hl_asprintf("profiles/%s/memories/%s", profile, hl_memory_file_name(t));
}

/*
 * Reads the file into out->entries. *real gets the path to write (the link's target when the file is a link inside the
 * profile) and *mode its mode, when not NULL.
 */
static hl_memory_status_t read_entries(const memory_paths_t *p, hl_memory_target_t t, hl_memory_file_t *out, char **real,
                                       mode_t *mode, int *err)
{
    const char *name = hl_memory_file_name(t);
    char *path = hl_path_join(p->memdir, name);
    char *text = NULL;
    size_t len = 0;
    hl_memory_status_t st = HL_MEMORY_OK;
    int ret = hermes_read_file(p->profile_real, p->memdir, name, &text, &len);
    struct stat lst, sst;
    if (ret == -ENOENT) {
        if (lstat(path, &lst) == 0)
            st = HL_MEMORY_UNSAFE_PATH; /* a dangling link: do not write through or over it */
        else if (real != NULL)
            *real = hl_strdup(path);
        if (mode != NULL)
            *mode = 0600;
        goto Exit;
    }
    if (ret == -EXDEV || ret == -EINVAL) {
        st = HL_MEMORY_UNSAFE_PATH;
        goto Exit;
    }
    if (ret == -EFBIG) {
        st = HL_MEMORY_FILE_INVALID;
        goto Exit;
    }
    if (ret != 0) {
        st = io_error(err, ret);
        goto Exit;
    }
    if (!hl_memory_text_valid(text, len)) {
        st = HL_MEMORY_FILE_INVALID; /* never rewrite what we cannot read back as Hermes would */
        goto Exit;
    }
    char *target = realpath(path, NULL);
    if (target == NULL || stat(target, &sst) != 0) {
        st = io_error(err, -errno);
        free(target);
        goto Exit;
    }
    hl_memory_parse(&out->entries, text, len);
    out->exists = true;
    out->mtime_ms = (int64_t)sst.st_mtim.tv_sec * 1000 + sst.st_mtim.tv_nsec / 1000000;
    if (mode != NULL)
        *mode = sst.st_mode & 07777;
    if (real != NULL)
        *real = target;
    else
        free(target);
Exit:
    free(text);
    free(path);
    return st;
}

static void file_init(hl_memory_file_t *out, const char *profile, hl_memory_target_t t)
{
    memset(out, 0, sizeof(*out));
    out->target = t;
    out->mtime_ms = -1;
    out->rel_path = rel_path(profile, t);
}

/* Empties `out` after a failure, keeping it disposable. */
static hl_memory_status_t fail(hl_memory_file_t *out, hl_memory_status_t st)
{
    hl_memory_entries_dispose(&out->entries);
    out->exists = false;
    out->chars = 0;
    out->mtime_ms = -1;
    return st;
}

hl_memory_status_t hl_memory_read(const char *hermes_home, const char *profile, hl_memory_target_t t, hl_memory_file_t *out,
                                  int *err)
{
    file_init(out, profile, t);
    memory_paths_t p;
    hl_memory_status_t st = resolve(hermes_home, profile, false, &p, err);
    if (st != HL_MEMORY_OK)
        return fail(out, st);
    if (p.memdir != NULL)
        st = read_entries(&p, t, out, NULL, NULL, err);
    paths_dispose(&p);
    if (st != HL_MEMORY_OK)
        return fail(out, st);
    out->chars = hl_memory_chars(&out->entries);
    return HL_MEMORY_OK;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Opens <memdir>/<file>.lock (where Hermes puts it: next to the name, not next to a link's target) and locks it, polling
 * for up to wait_ms (0: one attempt). */
static hl_memory_status_t take_lock(const char *memdir, hl_memory_target_t t, unsigned wait_ms, int *fd_out, int *err)
{
    char *name = hl_asprintf("%s.lock", hl_memory_file_name(t));
    char *path = hl_path_join(memdir, name);
    free(name);
    int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    free(path);
    if (fd < 0)
        return errno == ELOOP ? HL_MEMORY_UNSAFE_PATH : io_error(err, -errno);
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return HL_MEMORY_UNSAFE_PATH;
    }
    uint64_t deadline = hl_monotonic_ms() + wait_ms;
    while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        if (e == EINTR)
            continue;
        if (e != EWOULDBLOCK) {
            close(fd);
            return io_error(err, -e);
        }
        if (hl_monotonic_ms() >= deadline) {
            close(fd);
            return HL_MEMORY_BUSY;
        }
        sleep_ms(LOCK_POLL_MS);
    }
    *fd_out = fd;
    return HL_MEMORY_OK;
}

/* Writes the new text when it differs from what was read; `before` is the serialisation of what was read. */
static hl_memory_status_t write_if_changed(const hl_memory_file_t *out, const char *before, const char *real, mode_t mode,
                                           bool existed, int *err)
{
    size_t len;
    char *text = hl_memory_serialize(&out->entries, &len);
    hl_memory_status_t st = HL_MEMORY_OK;
    /* an unchanged text is not rewritten, and clearing a file that does not exist does not create it */
    if (existed ? strcmp(text, before) != 0 : len > 0) {
        int ret = hl_write_file_atomic(real, text, len, mode);
        if (ret != 0)
            st = io_error(err, ret);
    }
    free(text);
    return st;
}

static hl_memory_status_t update(const char *hermes_home, const char *profile, hl_memory_target_t t, size_t limit,
                                 const hl_memory_op_t *op, unsigned wait_ms, hl_memory_file_t *out, int *err)
{
    file_init(out, profile, t);
    /* an op refused whatever the file holds leaves no trace: no memories/, no lock file */
    hl_memory_status_t refused = hl_memory_op_check(op);
    memory_paths_t p;
    hl_memory_status_t st = resolve(hermes_home, profile, refused == HL_MEMORY_OK, &p, err);
    if (st != HL_MEMORY_OK)
        return fail(out, st);
    if (refused != HL_MEMORY_OK) {
        paths_dispose(&p);
        return fail(out, refused);
    }
    int fd = -1;
    char *real = NULL, *before = NULL;
    mode_t mode = 0600;
    if ((st = take_lock(p.memdir, t, wait_ms, &fd, err)) != HL_MEMORY_OK)
        goto Exit;
    if ((st = read_entries(&p, t, out, &real, &mode, err)) != HL_MEMORY_OK)
        goto Exit;
    bool existed = out->exists;
    before = hl_memory_serialize(&out->entries, NULL);
    st = hl_memory_apply(&out->entries, op, limit);
    if (st == HL_MEMORY_OK) {
        hl_memory_status_t wst = write_if_changed(out, before, real, mode, existed, err);
        if (wst != HL_MEMORY_OK) {
            st = wst;
            goto Exit;
        }
        struct stat sst;
        if (stat(real, &sst) == 0) {
            out->exists = true;
            out->mtime_ms = (int64_t)sst.st_mtim.tv_sec * 1000 + sst.st_mtim.tv_nsec / 1000000;
        }
    }
    out->chars = hl_memory_chars(&out->entries);
Exit:
    if (fd >= 0)
        close(fd); /* releases the flock */
    free(before);
    free(real);
    paths_dispose(&p);
    if (st == HL_MEMORY_BUSY || st == HL_MEMORY_UNSAFE_PATH || st == HL_MEMORY_FILE_INVALID || st == HL_MEMORY_IO_ERROR)
        return fail(out, st);
    return st;
}

void hl_memory_file_dispose(hl_memory_file_t *f)
{
    hl_memory_entries_dispose(&f->entries);
    free(f->rel_path);
    memset(f, 0, sizeof(*f));
    f->mtime_ms = -1;
}

hl_memory_status_t hl_memory_update(const char *hermes_home, const char *profile, hl_memory_target_t t, size_t limit,
                                    const hl_memory_op_t *op, hl_memory_file_t *out, int *err)
{
    return update(hermes_home, profile, t, limit, op, hl_memory_lock_wait_ms(), out, err);
}

hl_memory_status_t hl_memory_try_update(const char *hermes_home, const char *profile, hl_memory_target_t t, size_t limit,
                                        const hl_memory_op_t *op, hl_memory_file_t *out, int *err)
{
    return update(hermes_home, profile, t, limit, op, 0, out, err);
}
