#include "hl/snapshot.h"

#include <stdlib.h>

#include <jansson.h>

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
    free_snapshot(caa_container_of(head, hl_snapshot_t, _rcu));
}

hl_snapshot_t *hl_snapshot_current(void)
{
    return rcu_dereference(current);
}

json_t *hl_snapshot_urls(void)
{
    json_t *out = NULL;
    rcu_read_lock();
    hl_snapshot_t *s = rcu_dereference(current);
    if (s != NULL && s->urls_json != NULL)
        out = json_loads(s->urls_json, 0, NULL);
    rcu_read_unlock();
    if (out == NULL)
        out = json_pack("{s:[], s:[], s:[]}", "preferred_urls", "lan_ips", "tls_urls");
    return out;
}

void hl_snapshot_publish(hl_snapshot_t *snap)
{
    hl_snapshot_t *old = rcu_xchg_pointer(&current, snap);
    if (old != NULL)
        call_rcu(&old->_rcu, free_rcu);
}

void hl_snapshot_clear(void)
{
    hl_snapshot_t *old = rcu_xchg_pointer(&current, NULL);
    if (old != NULL) {
        synchronize_rcu();
        free_snapshot(old);
    }
}
