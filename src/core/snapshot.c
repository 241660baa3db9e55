#include "hl/snapshot.h"

#include <stdlib.h>

#include <jansson.h>

#include "hl/tsan.h"

static hl_snapshot_t *current;

static void free_snapshot(hl_snapshot_t *s)
{
    free(s->bootstrap_json);
    free(s->system_status_json);
    free(s->urls_json);
    free(s);
}

static void free_rcu(struct rcu_head *head)
{
    hl_snapshot_t *s = caa_container_of(head, hl_snapshot_t, _rcu);
    HL_TSAN_ACQUIRE(s); /* after every reader's release: liburcu's grace period is invisible to ThreadSanitizer */
    free_snapshot(s);
}

hl_snapshot_t *hl_snapshot_current(void)
{
    hl_snapshot_t *s = rcu_dereference(current);
    if (s != NULL)
        HL_TSAN_ACQUIRE(s); /* its contents, as published */
    return s;
}

void hl_snapshot_done(hl_snapshot_t *s)
{
    if (s != NULL)
        HL_TSAN_RELEASE(s); /* this reader's reads, before the free after the grace period */
}

json_t *hl_snapshot_urls(void)
{
    json_t *out = NULL;
    rcu_read_lock();
    hl_snapshot_t *s = hl_snapshot_current();
    if (s != NULL && s->urls_json != NULL)
        out = json_loads(s->urls_json, 0, NULL);
    hl_snapshot_done(s);
    rcu_read_unlock();
    if (out == NULL)
        out = json_pack("{s:[], s:[], s:[]}", "preferred_urls", "lan_ips", "tls_urls");
    return out;
}

void hl_snapshot_publish(hl_snapshot_t *snap)
{
    HL_TSAN_RELEASE(snap); /* its contents, for the readers' acquire */
    hl_snapshot_t *old = rcu_xchg_pointer(&current, snap);
    if (old != NULL) {
        HL_TSAN_RELEASE(old);
        call_rcu(&old->_rcu, free_rcu);
    }
}

void hl_snapshot_clear(void)
{
    hl_snapshot_t *old = rcu_xchg_pointer(&current, NULL);
    if (old != NULL) {
        synchronize_rcu();
        HL_TSAN_ACQUIRE(old);
        free_snapshot(old);
    }
}
