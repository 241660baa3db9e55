/*
 * `hermeslink import`, run inside the daemon (daemon layer): reads and validates the whole Node home first (nothing is
 * imported when any file is corrupt), settles the identity, then hands devices to the auth actor and blobs,
 * conversations and usage facts to the store, reporting progress as it goes. Called by the control server's thread.
 */
#ifndef HL_NODE_IMPORT_H
#define HL_NODE_IMPORT_H

#include <jansson.h>

#include "hl/auth.h"
#include "hl/link.h"
#include "hl/store.h"

typedef struct st_hl_node_import_ctx_t {
    const hl_link_t *svc;
    hl_auth_t *auth;
    hl_store_t *store;
    const hl_device_counts_t *device_counts;
    /** called with {phase, done, total} (borrowed) as work proceeds; optional */
    void (*progress)(void *arg, json_t *p);
    void *progress_arg;
} hl_node_import_ctx_t;

/**
 * Imports the Node home at `dir` (absolute). Returns the control reply (new reference): {ok:true, link_id, identity
 * ("kept", "same", "taken", "none"), restart_needed, counts:{devices, conversations, messages, events, blobs,
 * usage_facts: {imported, skipped}}} or {ok:false, error:{code, message}}. Blocking; the control thread.
 */
json_t *hl_node_import_run(const hl_node_import_ctx_t *ctx, const char *dir);

#endif
