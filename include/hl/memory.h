/*
 * The daemon's memory (runtime layer): what the allocator and SQLite hold, and giving freed memory back to the system.
 * glibc keeps the pages of freed chunks inside its arenas (by default up to 8 per core, one per thread); under a long
 * mixed load that retained memory, not live objects, was about half of the daemon's RSS climb (tests/RELIABILITY.md,
 * "Soak").
 */
#ifndef HL_MEMORY_H
#define HL_MEMORY_H

#include <stddef.h>

#include <jansson.h>

/**
 * Tunes glibc's allocator before any thread exists: at most `arenas` arenas (0 = glibc's default), and allocations of
 * `mmap_threshold` bytes or more in their own mappings, returned to the system when freed (0 = glibc's default, a
 * threshold that rises to the largest block freed so far: after the first megabyte-sized upload buffer every later one
 * came from the arenas and left holes there). 0, or -1 if glibc refused a setting.
 */
int hl_memory_tune(int arenas, size_t mmap_threshold);

/**
 * Caps the heap SQLite may use, over every connection of the process (sqlite3_soft_heap_limit64; 0 = no cap): past it a
 * connection recycles its least recently used cache pages instead of allocating more. Without it each connection's page
 * cache (2 MB by default) fills as the database grows, slowly, over hours. Returns the previous cap. Any thread.
 */
long long hl_memory_limit_sqlite(long long bytes);

/** Gives the free pages inside every arena back to the system (malloc_trim). Any thread; takes each arena's lock in
 * turn (measured: up to ~15 ms in all for 32 MiB of heap under load). Returns 1 if memory was released. */
int hl_memory_release(void);

/**
 * A snapshot: {"rss_bytes", "rss_anon_bytes",
 *   "malloc": {"allocator" ("glibc", or "sanitizer" in a sanitizer build), "heap_bytes", "in_use_bytes", "free_bytes",
 *              "mmap_bytes"},
 *   "sqlite": {"used_bytes", "highwater_bytes", "soft_limit_bytes"},
 *   "releases", "released_bytes", "release_us_total", "release_us_max"} (the releases so far: how many, the RSS they gave
 * back, the time they took). Values the system does not report are -1. Any thread. New reference.
 */
json_t *hl_memory_report(void);

#endif
