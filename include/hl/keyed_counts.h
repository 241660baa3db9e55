/*
 * Counts per key with a ceiling, shared by threads (core layer): connections per client address, event streams per
 * device. A mutex guards a chained hash; entries exist only while their count is above zero. Acquire and release are
 * rare next to requests (a connection or a stream opening), so one lock is enough.
 */
#ifndef HL_KEYED_COUNTS_H
#define HL_KEYED_COUNTS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HL_KEYED_COUNTS_KEY_MAX 64

typedef struct st_hl_keyed_count_t hl_keyed_count_t;

typedef struct st_hl_keyed_counts_t {
    pthread_mutex_t mutex;
    hl_keyed_count_t **buckets;
    size_t num_buckets; /* a power of two */
    size_t num_keys;
} hl_keyed_counts_t;

/** Prepares an empty map. */
void hl_keyed_counts_init(hl_keyed_counts_t *m);

/** Frees every entry (no thread may use the map any more). */
void hl_keyed_counts_dispose(hl_keyed_counts_t *m);

/**
 * Adds one to the key's count unless it already reached `max`. True when counted (the caller then owes one release).
 * Keys longer than HL_KEYED_COUNTS_KEY_MAX are cut there.
 */
bool hl_keyed_counts_acquire(hl_keyed_counts_t *m, const void *key, size_t keylen, uint64_t max);

/**
 * Adds `delta` to the key's count unless that would take it past `max` (subtracts a negative delta; a count reaching 0
 * removes the key). True when applied. For amounts such as bytes held per client address.
 */
bool hl_keyed_counts_add(hl_keyed_counts_t *m, const void *key, size_t keylen, int64_t delta, uint64_t max);

/** Takes one away from the key's count (a key counted by acquire). */
void hl_keyed_counts_release(hl_keyed_counts_t *m, const void *key, size_t keylen);

/** The key's current count (0 when absent). */
uint64_t hl_keyed_counts_get(hl_keyed_counts_t *m, const void *key, size_t keylen);

#endif
