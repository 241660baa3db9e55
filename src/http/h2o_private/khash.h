/*
 * Stands in for klib's "khash.h", which <h2o/http2_internal.h> includes but Debian's libh2o-evloop-dev does not ship.
 * It declares only what that header needs, written for HermesLink: the hash table's struct as h2o 2.2.5 lays it out
 * (four 32-bit counters, then the flags, keys and values arrays; two flag bits per bucket, non-zero when the bucket is
 * empty or deleted) and a lookup by walking the buckets. HermesLink never changes an h2o table; it reads one to learn
 * what each HTTP/2 connection holds (h2_bodies.c), and checks every entry it reads against the stream it names.
 * Used by src/http/h2_bodies.c only (its include path), never installed.
 */
#ifndef HL_H2O_PRIVATE_KHASH_H
#define HL_H2O_PRIVATE_KHASH_H

#include <stdint.h>

typedef uint32_t khint32_t;
typedef uint64_t khint64_t;
typedef khint32_t khint_t;
typedef khint_t khiter_t;

/* true when bucket i holds an entry */
#define kh_exist(h, i) ((((h)->flags[(i) >> 4] >> (((i)&0xfU) << 1)) & 3) == 0)
#define kh_end(h) ((h)->n_buckets)
#define kh_key(h, i) ((h)->keys[i])
#define kh_val(h, i) ((h)->vals[i])
#define khash_t(name) kh_##name##_t
#define kh_get(name, h, k) kh_get_##name(h, k)

#define KHASH_MAP_INIT_INT64(name, khval_t)                                                                                        \
    typedef struct kh_##name##_s {                                                                                                 \
        khint_t n_buckets, size, n_occupied, upper_bound;                                                                          \
        khint32_t *flags;                                                                                                          \
        khint64_t *keys;                                                                                                           \
        khval_t *vals;                                                                                                             \
    } kh_##name##_t;                                                                                                               \
    static inline khint_t kh_get_##name(const kh_##name##_t *h, khint64_t key)                                                     \
    {                                                                                                                              \
        for (khint_t i = 0; h != NULL && i < h->n_buckets; ++i)                                                                    \
            if (kh_exist(h, i) && h->keys[i] == key)                                                                               \
                return i;                                                                                                          \
        return h != NULL ? h->n_buckets : 0;                                                                                       \
    }

#endif
