/*
 * What this build really implements, as advertised by GET /api/v1/bootstrap. Each capability is switched on by the
 * change that implements it, never before.
 */
#ifndef HL_CAPABILITIES_H
#define HL_CAPABILITIES_H

#include <jansson.h>
#include <stdbool.h>

/** The bootstrap "capabilities" object (new reference), keys in the order of spec/API.md §2. */
json_t *hl_capabilities_json(void);

/** Whether pairing (QR sessions, claims, device tokens) is implemented: bootstrap's "pairing_supported". */
bool hl_capability_pairing(void);

#endif
