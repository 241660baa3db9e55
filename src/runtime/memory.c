/*
 * The allocator's and SQLite's figures, and malloc_trim for the daemon's main thread to call while idle (runtime layer).
 */
#include "hl/memory.h"

#include <limits.h>
#include <malloc.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static atomic_long releases;
static atomic_llong released_bytes;
static atomic_llong release_us_total, release_us_max; /* time spent in malloc_trim */

static long long monotonic_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int hl_memory_tune(int arenas, size_t mmap_threshold)
{
    int ret = 0;
    if (arenas > 0 && mallopt(M_ARENA_MAX, arenas) != 1)
        ret = -1;
    /* a fixed threshold also stops glibc from moving it (and the trim threshold) as blocks are freed */
    if (mmap_threshold > 0 && (mmap_threshold > INT_MAX || mallopt(M_MMAP_THRESHOLD, (int)mmap_threshold) != 1))
        ret = -1;
    return ret;
}

long long hl_memory_limit_sqlite(long long bytes)
{
    return (long long)sqlite3_soft_heap_limit64(bytes);
}

/* a "Vm…:" or "Rss…:" line of /proc/self/status in bytes, -1 if absent */
static long long status_bytes(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL)
        return -1;
    char line[256];
    long long kib = -1;
    size_t klen = strlen(key);
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
            if (sscanf(line + klen + 1, "%lld", &kib) != 1)
                kib = -1;
            break;
        }
    }
    fclose(f);
    return kib >= 0 ? kib * 1024 : -1;
}

int hl_memory_release(void)
{
    long long before = status_bytes("RssAnon");
    long long t0 = monotonic_us();
    int released = malloc_trim(0);
    long long took = monotonic_us() - t0, max = atomic_load(&release_us_max);
    while (took > max && !atomic_compare_exchange_weak(&release_us_max, &max, took))
        ;
    atomic_fetch_add(&release_us_total, took);
    long long after = status_bytes("RssAnon");
    atomic_fetch_add(&releases, 1);
    if (before >= 0 && after >= 0 && before > after)
        atomic_fetch_add(&released_bytes, before - after);
    return released;
}

/* What the allocator holds: glibc's figures summed over every arena, or, in a sanitizer build (where glibc's malloc
 * is not the one in use and mallinfo2 says 0), the sanitizer allocator's own. */
typedef struct st_alloc_figures_t {
    const char *allocator;
    size_t heap, in_use, free, mmapped;
} alloc_figures_t;

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
/* the sanitizer runtime's allocator statistics (its public interface; gcc ships no header for it) */
size_t __sanitizer_get_heap_size(void);
size_t __sanitizer_get_current_allocated_bytes(void);
#endif

static alloc_figures_t alloc_figures(void)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    size_t heap = __sanitizer_get_heap_size(), in_use = __sanitizer_get_current_allocated_bytes();
    return (alloc_figures_t){"sanitizer", heap, in_use, heap > in_use ? heap - in_use : 0, 0};
#else
    struct mallinfo2 mi = mallinfo2(); /* sums every arena */
    return (alloc_figures_t){"glibc", mi.arena, mi.uordblks, mi.fordblks, mi.hblkhd};
#endif
}

json_t *hl_memory_report(void)
{
    alloc_figures_t mi = alloc_figures();
    json_t *alloc =
        json_pack("{s:s, s:I, s:I, s:I, s:I}", "allocator", mi.allocator, "heap_bytes", (json_int_t)mi.heap, "in_use_bytes",
                  (json_int_t)mi.in_use, "free_bytes", (json_int_t)mi.free, "mmap_bytes", (json_int_t)mi.mmapped);
    json_t *sqlite =
        json_pack("{s:I, s:I, s:I}", "used_bytes", (json_int_t)sqlite3_memory_used(), "highwater_bytes",
                  (json_int_t)sqlite3_memory_highwater(0), "soft_limit_bytes", (json_int_t)sqlite3_soft_heap_limit64(-1));
    return json_pack("{s:I, s:I, s:o, s:o, s:I, s:I, s:I, s:I}", "rss_bytes", (json_int_t)status_bytes("VmRSS"), "rss_anon_bytes",
                     (json_int_t)status_bytes("RssAnon"), "malloc", alloc, "sqlite", sqlite, "releases",
                     (json_int_t)atomic_load(&releases), "released_bytes", (json_int_t)atomic_load(&released_bytes),
                     "release_us_total", (json_int_t)atomic_load(&release_us_total), "release_us_max",
                     (json_int_t)atomic_load(&release_us_max));
}
