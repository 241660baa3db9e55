/*
 * identity.json: this installation's ids and ed25519 key pair (STORAGE.md §1.2), created on the daemon's first start
 * with mode 0600. Main thread or CLI; the loaded struct is read-only afterwards and may be shared by every thread.
 */
#ifndef HL_IDENTITY_H
#define HL_IDENTITY_H

#include <stddef.h>

#include "hl/common.h"

typedef struct st_hl_identity_t {
    char *install_id;
    char *link_id; /* may be NULL in an imported file */
    char *public_key_pem;
    char *private_key_pem;
    char *created_at;
    char *updated_at;
} hl_identity_t;

/** Loads `<home>/identity.json`. 0, -ENOENT when absent, -EINVAL when malformed (message in err). */
int hl_identity_load(const char *home, hl_identity_t *id, char *err, size_t errlen) HL_WARN_UNUSED;

/** Loads the identity, creating it (new ids and an ed25519 key pair) when the file is absent. 0 or -errno. */
int hl_identity_ensure(const char *home, hl_identity_t *id, char *err, size_t errlen) HL_WARN_UNUSED;

/** Frees what the identity owns. */
void hl_identity_dispose(hl_identity_t *id);

#endif
