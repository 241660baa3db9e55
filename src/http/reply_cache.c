/*
 * Answers kept per worker for reads that are asked again and again (a phone refreshing its conversation list): an entry
 * is the exact response body of a key (route, device and parameters) together with the data version it was read at, and
 * it is served only while the data source still reports that version. Each worker has its own small direct-mapped table,
 * so there are no locks; a colliding key simply replaces the entry. Bounded: 256 entries of at most 64 KiB of body
 * per worker. Versions only grow (the store's generation), so once a newer version is put every older entry can never
 * be served again and is dropped at once: under a steady stream of writes the table holds next to nothing instead of
 * up to 16 MiB of dead answers per worker (the 30-minute soak in tests/RELIABILITY.md saw it fill that way).
 */
#include <stdatomic.h>
#include <string.h>

#include "hl/http.h"
#include "worker.h"

#define SLOTS 256
#define MAX_BODY (64 * 1024)

typedef struct st_cache_entry_t {
    char *key;
    uint64_t version;
    char *body;
    size_t len;
} cache_entry_t;

struct st_hl_reply_cache_t {
    cache_entry_t slots[SLOTS];
    uint64_t newest; /* the newest version put: entries of older ones are dead */
};

/* body bytes held by every worker's table (the memory report) */
static atomic_size_t cached_bytes;

static size_t slot_of(const char *key)
{
    uint64_t h = 1469598103934665603ull;
    for (; *key; ++key)
        h = (h ^ (unsigned char)*key) * 1099511628211ull;
    return (size_t)(h % SLOTS);
}

static struct st_hl_reply_cache_t *cache_of(hl_worker_t *w)
{
    if (w->reply_cache == NULL)
        w->reply_cache = hl_calloc(1, sizeof(*w->reply_cache));
    return w->reply_cache;
}

bool hl_reply_cache_serve(hl_request_t *r, const char *key, uint64_t version)
{
    cache_entry_t *e = &cache_of(r->worker)->slots[slot_of(key)];
    if (e->key == NULL || e->version != version || strcmp(e->key, key) != 0)
        return false;
    hl_reply_bytes(r, 200, "application/json; charset=utf-8", e->body, e->len);
    return true;
}

static void drop_entry(cache_entry_t *e)
{
    atomic_fetch_sub_explicit(&cached_bytes, e->len, memory_order_relaxed);
    free(e->key);
    free(e->body);
    *e = (cache_entry_t){0};
}

void hl_reply_cache_put(hl_worker_t *w, const char *key, uint64_t version, const char *body, size_t len)
{
    struct st_hl_reply_cache_t *c = cache_of(w);
    if (version < c->newest)
        return; /* read before a write that has since committed: already dead */
    if (version > c->newest) {
        for (size_t i = 0; i < SLOTS; ++i)
            if (c->slots[i].key != NULL && c->slots[i].version < version)
                drop_entry(&c->slots[i]);
        c->newest = version;
    }
    if (len > MAX_BODY)
        return;
    cache_entry_t *e = &c->slots[slot_of(key)];
    atomic_fetch_add_explicit(&cached_bytes, len, memory_order_relaxed);
    atomic_fetch_sub_explicit(&cached_bytes, e->len, memory_order_relaxed);
    free(e->key);
    free(e->body);
    e->key = hl_strdup(key);
    e->version = version;
    e->body = hl_malloc(len ? len : 1);
    memcpy(e->body, body, len);
    e->len = len;
}

void hl_reply_cache_dispose(hl_worker_t *w)
{
    if (w->reply_cache == NULL)
        return;
    for (size_t i = 0; i < SLOTS; ++i)
        drop_entry(&w->reply_cache->slots[i]);
    free(w->reply_cache);
    w->reply_cache = NULL;
}

size_t hl_reply_cache_bytes(void)
{
    return atomic_load_explicit(&cached_bytes, memory_order_relaxed);
}
