/*
 * A fault-injection shim for the integration tests (LD_PRELOAD=libhlfault.so): makes syscalls fail the way a sick disk
 * does, and allocations fail the way a machine out of memory does, on demand, without touching the daemon's code.
 * HLT_FAULT_FILE names a file the test writes; its content is a list of words, so the test can switch faults on and off
 * while the daemon runs:
 *   fsync    fsync() and fdatasync() fail with EIO
 *   enospc   pwrite() / pwrite64() / write() to a regular file fail with ENOSPC (sockets and pipes are left alone)
 *   malloc=N        every Nth eligible malloc() / calloc() / realloc() returns NULL (ENOMEM); N = 1: every one
 *   mallocp=P:SEED  each eligible one fails with probability P percent, from a PRNG seeded with SEED (a run replays)
 *   thread=NAME     the thread whose allocations are eligible (its name as prctl(PR_GET_NAME) gives it; default
 *                   hl-runproxy, the run proxy actor: src/runtime/actor.c names actor threads "hl-<actor>")
 * The syscall words are read at every call. The allocation words are read at most every 20 ms, and only on every 64th
 * allocation (an allocation must stay cheap: the switch is seen at the next allocations after a change, which a request
 * makes), and the number of allocations failed so far is written to <HLT_FAULT_FILE>.injected then, so that a test can
 * tell the fault really hit.
 *
 * Which allocations are eligible: those made on the named thread by libcurl (and nghttp2) or jansson, found by the
 * caller's address (__builtin_return_address against the libraries' mapped segments). libcurl reports an allocation
 * failure to its caller (CURLE_OUT_OF_MEMORY, a NULL handle or list), which HermesLink must turn into a clean error.
 * HermesLink's own allocations (hl_malloc and friends, and libc's on its behalf) abort through hl_fatal() by design
 * (DESIGN.md §8), so failing them would only test that abort; the daemon routes jansson's allocations through hl_malloc
 * too (json_set_alloc_funcs in src/daemon.c), so in the daemon jansson's calls reach malloc from hl_malloc and are not
 * eligible: only libcurl's are (jansson stays listed for a program that leaves jansson's allocator alone).
 *
 * With the ASan daemon: the shim is preloaded ahead of libasan (the harness sets verify_asan_link_order=0), so the
 * daemon's and the libraries' malloc calls reach this malloc first, and the real one found with dlsym(RTLD_NEXT) is
 * ASan's: every block still comes from ASan's allocator and is freed by ASan's free (this shim defines no free). Calling
 * __libc_malloc instead would hand ASan blocks it never made. This needs a dynamically linked sanitizer runtime (GCC's
 * default; clang links ASan statically into the executable, whose malloc would then win over any preloaded one).
 * dlsym may allocate (its error state): while it runs, an allocation on the same thread gets NULL instead of recursing.
 * Without the variable, or with an empty file, every call goes straight to the real one.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <link.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
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

/* ---- allocations ----
 *
 * Nothing on this path may call a function the sanitizer runtime intercepts (clock_gettime, prctl, read, strstr, strlen,
 * memcpy, …): ASan allocates while it initialises, before its interceptors know the real functions, and such a call then
 * jumps to address 0. Hence raw syscall()s, the small string helpers below, and no thread-local storage but the
 * initial-exec kind (__tls_get_addr may allocate). The CMake target builds this file with -fno-builtin and
 * -fno-tree-loop-distribute-patterns so that the compiler does not turn those loops back into libc calls. */

static struct {
    int every;              /* malloc=N: every Nth eligible call fails; 0: off */
    unsigned pct;           /* mallocp=P:SEED: the probability in percent; 0: off */
    char thread[16];        /* the eligible thread's name */
    unsigned long ticks;    /* allocations seen: the clock is read on every 64th */
    long next_read_ms;      /* when the file is read again */
    int reading;            /* one thread reads it at a time */
    unsigned long calls;    /* eligible calls so far */
    unsigned long injected; /* calls failed so far */
    unsigned long reported; /* what <file>.injected says */
    uint64_t rng;           /* xorshift state */
} alloc_fault = {.thread = "hl-runproxy"};

/* the mapped segments of the libraries whose allocations are eligible */
#define MAX_SEGS 32
static struct {
    uintptr_t lo, hi;
} segs[MAX_SEGS];
static int nsegs = -1; /* -1: not looked up yet */
static int segs_lock;

static __thread int in_dlsym __attribute__((tls_model("initial-exec")));

static long mono_ms(void)
{
    struct timespec ts;
    if (syscall(SYS_clock_gettime, CLOCK_MONOTONIC_COARSE, &ts) != 0)
        return 0;
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static size_t s_len(const char *s)
{
    size_t n = 0;
    while (s[n] != '\0')
        ++n;
    return n;
}

/* the first occurrence of word in s, or NULL */
static const char *s_find(const char *s, const char *word)
{
    for (; *s != '\0'; ++s) {
        size_t i = 0;
        while (word[i] != '\0' && s[i] == word[i])
            ++i;
        if (word[i] == '\0')
            return s;
    }
    return NULL;
}

static long parse_num(const char *s, const char **end)
{
    long v = 0;
    while (*s >= '0' && *s <= '9')
        v = v * 10 + (*s++ - '0');
    *end = s;
    return v;
}

/* rereads the allocation words and reports the count of failed allocations (raw syscalls only) */
static void read_alloc_words(void)
{
    const char *path = getenv("HLT_FAULT_FILE"); /* not intercepted; allocates nothing */
    int every = 0;
    unsigned pct = 0;
    uint64_t seed = 0;
    char thread[16] = "hl-runproxy";
    if (path != NULL) {
        char buf[512];
        long n = -1;
        int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            n = syscall(SYS_read, fd, buf, sizeof(buf) - 1);
            syscall(SYS_close, fd);
        }
        buf[n > 0 ? n : 0] = '\0';
        const char *w, *end;
        if ((w = s_find(buf, "malloc=")) != NULL)
            every = (int)parse_num(w + 7, &end);
        if ((w = s_find(buf, "mallocp=")) != NULL) {
            pct = (unsigned)parse_num(w + 8, &end);
            if (*end == ':')
                seed = (uint64_t)parse_num(end + 1, &end);
        }
        if ((w = s_find(buf, "thread=")) != NULL) {
            size_t i = 0;
            for (w += 7; i < sizeof(thread) - 1 && *w > ' '; ++w)
                thread[i++] = *w;
            thread[i] = '\0';
        }
        unsigned long injected = __atomic_load_n(&alloc_fault.injected, __ATOMIC_RELAXED);
        size_t plen = s_len(path);
        if (injected != alloc_fault.reported && plen + 10 < 600) {
            char out[600], num[24];
            size_t k = sizeof(num);
            unsigned long v = injected;
            num[--k] = '\n';
            do
                num[--k] = (char)('0' + v % 10);
            while ((v /= 10) != 0);
            for (size_t i = 0; i < plen; ++i)
                out[i] = path[i];
            for (size_t i = 0; i < 10; ++i)
                out[plen + i] = ".injected"[i];
            fd = (int)syscall(SYS_openat, AT_FDCWD, out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
            if (fd >= 0) {
                syscall(SYS_write, fd, num + k, sizeof(num) - k);
                syscall(SYS_close, fd);
            }
            alloc_fault.reported = injected;
        }
    }
    if (pct != 0 && (pct != alloc_fault.pct || alloc_fault.rng == 0))
        alloc_fault.rng = seed * 2654435761u + 88172645463325252ull;
    for (size_t i = 0; i < sizeof(thread); ++i)
        alloc_fault.thread[i] = thread[i];
    __atomic_store_n(&alloc_fault.pct, pct, __ATOMIC_RELAXED);
    __atomic_store_n(&alloc_fault.every, every, __ATOMIC_RELAXED);
}

static int add_segs(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    (void)data;
    static const char *const LIBS[] = {"/libcurl", "/libjansson", "/libnghttp2"};
    const char *name = info->dlpi_name;
    int eligible = 0;
    for (size_t i = 0; i < sizeof(LIBS) / sizeof(LIBS[0]); ++i)
        eligible |= name != NULL && s_find(name, LIBS[i]) != NULL;
    if (!eligible)
        return 0;
    for (int i = 0; i < info->dlpi_phnum && nsegs < MAX_SEGS; ++i) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X) != 0) {
            segs[nsegs].lo = info->dlpi_addr + ph->p_vaddr;
            segs[nsegs].hi = segs[nsegs].lo + ph->p_memsz;
            ++nsegs;
        }
    }
    return 0;
}

static int from_eligible_lib(uintptr_t caller)
{
    if (__atomic_load_n(&nsegs, __ATOMIC_ACQUIRE) < 0) {
        if (__atomic_exchange_n(&segs_lock, 1, __ATOMIC_ACQUIRE) != 0)
            return 0; /* another thread is looking them up */
        if (nsegs < 0) {
            __atomic_store_n(&nsegs, 0, __ATOMIC_RELAXED);
            dl_iterate_phdr(add_segs, NULL); /* not intercepted; allocates nothing */
        }
        __atomic_store_n(&segs_lock, 0, __ATOMIC_RELEASE);
    }
    int n = __atomic_load_n(&nsegs, __ATOMIC_ACQUIRE);
    for (int i = 0; i < n; ++i)
        if (caller >= segs[i].lo && caller < segs[i].hi)
            return 1;
    return 0;
}

/* whether this allocation (made from `caller`) fails */
static int alloc_fails(uintptr_t caller)
{
    if ((__atomic_add_fetch(&alloc_fault.ticks, 1, __ATOMIC_RELAXED) & 63) == 0) {
        long now = mono_ms();
        if (now >= __atomic_load_n(&alloc_fault.next_read_ms, __ATOMIC_RELAXED) &&
            __atomic_exchange_n(&alloc_fault.reading, 1, __ATOMIC_ACQUIRE) == 0) {
            read_alloc_words();
            __atomic_store_n(&alloc_fault.next_read_ms, now + 20, __ATOMIC_RELAXED);
            __atomic_store_n(&alloc_fault.reading, 0, __ATOMIC_RELEASE);
        }
    }
    int every = __atomic_load_n(&alloc_fault.every, __ATOMIC_RELAXED);
    unsigned pct = __atomic_load_n(&alloc_fault.pct, __ATOMIC_RELAXED);
    if (every <= 0 && pct == 0)
        return 0;
    char name[16] = {0};
    if (syscall(SYS_prctl, PR_GET_NAME, name, 0, 0, 0) != 0)
        return 0;
    for (size_t i = 0; i < sizeof(name); ++i) {
        if (name[i] != alloc_fault.thread[i])
            return 0;
        if (name[i] == '\0')
            break;
    }
    if (!from_eligible_lib(caller))
        return 0;
    unsigned long k = __atomic_add_fetch(&alloc_fault.calls, 1, __ATOMIC_RELAXED);
    int fails;
    if (every > 0) {
        fails = k % (unsigned long)every == 0;
    } else {
        /* one eligible thread: the PRNG needs no lock */
        uint64_t x = alloc_fault.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        alloc_fault.rng = x;
        fails = x % 100 < pct;
    }
    if (fails)
        __atomic_add_fetch(&alloc_fault.injected, 1, __ATOMIC_RELAXED);
    return fails;
}

static void *next_fn(const char *name)
{
    ++in_dlsym;
    void *f = dlsym(RTLD_NEXT, name);
    --in_dlsym;
    return f;
}

/* malloc(3), or NULL with ENOMEM when the allocation fault picks this call (alloc_fails); any thread. */
void *malloc(size_t n)
{
    static void *(*real)(size_t);
    if (in_dlsym)
        return NULL;
    if (real == NULL && (real = (void *(*)(size_t))next_fn("malloc")) == NULL)
        return NULL;
    if (alloc_fails((uintptr_t)__builtin_return_address(0))) {
        errno = ENOMEM;
        return NULL;
    }
    return real(n);
}

/* calloc(3), or NULL with ENOMEM as malloc. */
void *calloc(size_t n, size_t m)
{
    static void *(*real)(size_t, size_t);
    if (in_dlsym)
        return NULL;
    if (real == NULL && (real = (void *(*)(size_t, size_t))next_fn("calloc")) == NULL)
        return NULL;
    if (alloc_fails((uintptr_t)__builtin_return_address(0))) {
        errno = ENOMEM;
        return NULL;
    }
    return real(n, m);
}

/* realloc(3), or NULL with ENOMEM as malloc, `p` left as it was; realloc(p, 0) always goes through. */
void *realloc(void *p, size_t n)
{
    static void *(*real)(void *, size_t);
    if (in_dlsym)
        return NULL;
    if (real == NULL && (real = (void *(*)(void *, size_t))next_fn("realloc")) == NULL)
        return NULL;
    if (n != 0 && alloc_fails((uintptr_t)__builtin_return_address(0))) {
        errno = ENOMEM;
        return NULL; /* p stays valid, as a real failure leaves it */
    }
    return real(p, n);
}
