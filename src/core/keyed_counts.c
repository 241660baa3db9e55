#include "hl/keyed_counts.h"

#include <stdlib.h>
#include <string.h>

#include "hl/common.h"

struct st_hl_keyed_count_t {
    hl_keyed_count_t *next;
    uint64_t count;
    size_t keylen;
    uint8_t key[HL_KEYED_COUNTS_KEY_MAX];
};

void hl_keyed_counts_init(hl_keyed_counts_t *m)
{
    pthread_mutex_init(&m->mutex, NULL);
    m->num_buckets = 256;
    m->buckets = hl_calloc(m->num_buckets, sizeof(*m->buckets));
    m->num_keys = 0;
}

void hl_keyed_counts_dispose(hl_keyed_counts_t *m)
{
    for (size_t i = 0; i < m->num_buckets; ++i) {
        while (m->buckets[i] != NULL) {
            hl_keyed_count_t *e = m->buckets[i];
            m->buckets[i] = e->next;
            free(e);
        }
    }
    free(m->buckets);
    m->buckets = NULL;
    pthread_mutex_destroy(&m->mutex);
}

/* FNV-1a */
static size_t hash_of(const uint8_t *key, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; ++i)
        h = (h ^ key[i]) * 1099511628211ull;
    return (size_t)h;
}

static hl_keyed_count_t **slot_of(hl_keyed_counts_t *m, const uint8_t *key, size_t len)
{
    hl_keyed_count_t **p = &m->buckets[hash_of(key, len) & (m->num_buckets - 1)];
    while (*p != NULL && !((*p)->keylen == len && memcmp((*p)->key, key, len) == 0))
        p = &(*p)->next;
    return p;
}

static void grow(hl_keyed_counts_t *m)
{
    size_t n = m->num_buckets * 2;
    hl_keyed_count_t **b = hl_calloc(n, sizeof(*b));
    for (size_t i = 0; i < m->num_buckets; ++i) {
        while (m->buckets[i] != NULL) {
            hl_keyed_count_t *e = m->buckets[i];
            m->buckets[i] = e->next;
            size_t j = hash_of(e->key, e->keylen) & (n - 1);
            e->next = b[j];
            b[j] = e;
        }
    }
    free(m->buckets);
    m->buckets = b;
    m->num_buckets = n;
}

bool hl_keyed_counts_add(hl_keyed_counts_t *m, const void *key, size_t keylen, int64_t delta, uint64_t max)
{
    if (keylen > HL_KEYED_COUNTS_KEY_MAX)
        keylen = HL_KEYED_COUNTS_KEY_MAX;
    bool ok = false;
    pthread_mutex_lock(&m->mutex);
    hl_keyed_count_t **p = slot_of(m, key, keylen);
    uint64_t now = *p != NULL ? (*p)->count : 0;
    if (delta < 0) {
        now = (uint64_t)-delta >= now ? 0 : now - (uint64_t)-delta;
        ok = true;
    } else if (now + (uint64_t)delta <= max) {
        now += (uint64_t)delta;
        ok = true;
    }
    if (ok && now > 0 && *p == NULL) {
        hl_keyed_count_t *e = hl_calloc(1, sizeof(*e));
        e->keylen = keylen;
        memcpy(e->key, key, keylen);
        *p = e;
        if (++m->num_keys > m->num_buckets * 2)
            grow(m);
        p = slot_of(m, key, keylen); /* grow moved it */
    }
    if (ok && *p != NULL) {
        if (now > 0) {
            (*p)->count = now;
        } else {
            hl_keyed_count_t *e = *p;
            *p = e->next;
            free(e);
            --m->num_keys;
        }
    }
    pthread_mutex_unlock(&m->mutex);
    return ok;
}

bool hl_keyed_counts_acquire(hl_keyed_counts_t *m, const void *key, size_t keylen, uint64_t max)
{
    return hl_keyed_counts_add(m, key, keylen, 1, max);
}

void hl_keyed_counts_release(hl_keyed_counts_t *m, const void *key, size_t keylen)
{
    hl_keyed_counts_add(m, key, keylen, -1, 0);
}

uint64_t hl_keyed_counts_get(hl_keyed_counts_t *m, const void *key, size_t keylen)
{
    if (keylen > HL_KEYED_COUNTS_KEY_MAX)
        keylen = HL_KEYED_COUNTS_KEY_MAX;
    pthread_mutex_lock(&m->mutex);
    hl_keyed_count_t *e = *slot_of(m, key, keylen);
    uint64_t n = e != NULL ? e->count : 0;
    pthread_mutex_unlock(&m->mutex);
    return n;
}
