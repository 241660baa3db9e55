#include "hl/token_table.h"

#include <stdatomic.h>
#include <string.h>

#include <openssl/crypto.h>
#include <urcu.h>
#include <urcu/rculfhash.h>

#include <jansson.h>

#include "hl/common.h"

#include "hl/tsan.h"

typedef struct st_token_entry_t {
    struct cds_lfht_node node;
    struct rcu_head rcu;
    hl_token_hash_t hash;
    hl_auth_device_t dev; /* strings point into data[] */
    atomic_llong seen_asked_at;
    char data[];
} token_entry_t;

static struct cds_lfht *table;
/* moved (release) after each change is in the table, read (acquire) by hl_token_table_generation */
static atomic_uint_fast64_t generation;

static void changed(void)
{
    atomic_fetch_add_explicit(&generation, 1, memory_order_release);
}

uint64_t hl_token_table_generation(void)
{
    return atomic_load_explicit(&generation, memory_order_acquire);
}

static unsigned long hash_of(const hl_token_hash_t *h)
{
    unsigned long v;
    memcpy(&v, h->bytes, sizeof(v)); /* already uniformly random */
    return v;
}

static int match(struct cds_lfht_node *node, const void *key)
{
    token_entry_t *e = caa_container_of(node, token_entry_t, node);
    /* digests, not secrets, but compared in constant time anyway so that no timing depends on token bytes */
    return CRYPTO_memcmp(e->hash.bytes, ((const hl_token_hash_t *)key)->bytes, sizeof(e->hash.bytes)) == 0;
}

static void free_entry_rcu(struct rcu_head *head)
{
    token_entry_t *e = caa_container_of(head, token_entry_t, rcu);
    HL_TSAN_ACQUIRE(e);
    free(e);
}

static void retire(token_entry_t *e)
{
    HL_TSAN_RELEASE(e);
    call_rcu(&e->rcu, free_entry_rcu);
}

void hl_token_table_init(void)
{
    table = cds_lfht_new(64, 64, 0, CDS_LFHT_AUTO_RESIZE | CDS_LFHT_ACCOUNTING, NULL);
    if (table == NULL)
        hl_fatal("cds_lfht_new failed");
}

void hl_token_table_destroy(void)
{
    if (table == NULL)
        return;
    struct cds_lfht_iter iter;
    struct cds_lfht_node *node;
    rcu_read_lock();
    cds_lfht_for_each(table, &iter, node)
    {
        if (cds_lfht_del(table, node) == 0)
            retire(caa_container_of(node, token_entry_t, node));
    }
    rcu_read_unlock();
    rcu_barrier();
    if (cds_lfht_destroy(table, NULL) != 0)
        hl_fatal("cds_lfht_destroy failed");
    table = NULL;
}

static char *copy_str(char **cursor, const char *s)
{
    if (s == NULL)
        return NULL;
    size_t len = strlen(s) + 1;
    char *out = *cursor;
    memcpy(out, s, len);
    *cursor += len;
    return out;
}

void hl_token_table_put(const hl_token_hash_t *hash, const hl_auth_device_t *dev)
{
    json_t *obj = json_pack("{s:s, s:s, s:s, s:s, s:o, s:s}", "id", dev->id, "device_id", dev->id, "label", dev->label, "platform",
                            dev->platform, "model", dev->model != NULL ? json_string(dev->model) : json_null(), "scope", "admin");
    char *json = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(obj);
    size_t need = strlen(dev->id) + 1 + strlen(dev->label) + 1 + strlen(dev->platform) + 1 +
                  (dev->model ? strlen(dev->model) + 1 : 0) + strlen(json) + 1;
    token_entry_t *e = hl_malloc(sizeof(*e) + need);
    cds_lfht_node_init(&e->node);
    e->hash = *hash;
    char *cursor = e->data;
    e->dev.id = copy_str(&cursor, dev->id);
    e->dev.label = copy_str(&cursor, dev->label);
    e->dev.platform = copy_str(&cursor, dev->platform);
    e->dev.model = copy_str(&cursor, dev->model);
    e->dev.json = copy_str(&cursor, json);
    free(json);
    e->dev.app_instance_bound = dev->app_instance_bound;
    e->dev.access_expires_at = dev->access_expires_at;
    atomic_init(&e->seen_asked_at, 0);
    rcu_read_lock();
    /* keep the debounce state across a replacement (a rename must not trigger a burst of last-seen writes): copied
     * before the new entry is visible, since a reader finding it with 0 would ask again */
    struct cds_lfht_iter it;
    cds_lfht_lookup(table, hash_of(hash), match, hash, &it);
    struct cds_lfht_node *prev = cds_lfht_iter_get_node(&it);
    if (prev != NULL)
        atomic_init(&e->seen_asked_at, atomic_load(&caa_container_of(prev, token_entry_t, node)->seen_asked_at));
    HL_TSAN_RELEASE(e);
    struct cds_lfht_node *old = cds_lfht_add_replace(table, hash_of(hash), match, hash, &e->node);
    rcu_read_unlock();
    if (old != NULL) {
        /* a reader may have asked on the old entry meanwhile: keep the later time */
        token_entry_t *o = caa_container_of(old, token_entry_t, node);
        long long v = atomic_load(&o->seen_asked_at), cur = atomic_load(&e->seen_asked_at);
        while (v > cur && !atomic_compare_exchange_weak(&e->seen_asked_at, &cur, v))
            ;
        retire(o);
    }
    changed();
}

void hl_token_table_remove(const hl_token_hash_t *hash)
{
    struct cds_lfht_iter iter;
    rcu_read_lock();
    cds_lfht_lookup(table, hash_of(hash), match, hash, &iter);
    struct cds_lfht_node *node = cds_lfht_iter_get_node(&iter);
    if (node != NULL && cds_lfht_del(table, node) == 0) {
        retire(caa_container_of(node, token_entry_t, node));
        changed();
    }
    rcu_read_unlock();
}

size_t hl_token_table_prune(int64_t now_ms)
{
    size_t removed = 0;
    struct cds_lfht_iter iter;
    struct cds_lfht_node *node;
    rcu_read_lock();
    cds_lfht_for_each(table, &iter, node)
    {
        token_entry_t *e = caa_container_of(node, token_entry_t, node);
        if (e->dev.access_expires_at <= now_ms && cds_lfht_del(table, node) == 0) {
            retire(e);
            ++removed;
        }
    }
    rcu_read_unlock();
    if (removed > 0)
        changed();
    return removed;
}

unsigned long hl_token_table_count(void)
{
    long before, after;
    unsigned long count;
    rcu_read_lock();
    cds_lfht_count_nodes(table, &before, &count, &after);
    rcu_read_unlock();
    return count;
}

bool hl_token_table_lookup(const hl_token_hash_t *hash, int64_t now_ms, int64_t seen_interval_ms, bool *post_seen,
                           hl_token_table_visit_cb visit, void *data)
{
    struct cds_lfht_iter iter;
    bool found = false;
    *post_seen = false;
    rcu_read_lock();
    cds_lfht_lookup(table, hash_of(hash), match, hash, &iter);
    struct cds_lfht_node *node = cds_lfht_iter_get_node(&iter);
    if (node != NULL) {
        token_entry_t *e = caa_container_of(node, token_entry_t, node);
        HL_TSAN_ACQUIRE(e);
        if (e->dev.access_expires_at > now_ms) {
            found = true;
            long long asked = atomic_load_explicit(&e->seen_asked_at, memory_order_relaxed);
            if (now_ms - asked >= seen_interval_ms &&
                atomic_compare_exchange_strong_explicit(&e->seen_asked_at, &asked, now_ms, memory_order_relaxed,
                                                        memory_order_relaxed))
                *post_seen = true;
            if (visit != NULL)
                visit(&e->dev, data);
        }
        HL_TSAN_RELEASE(e);
    }
    rcu_read_unlock();
    return found;
}
