#include "hl/capabilities.h"

#include "hl/common.h"

static const struct {
    const char *name;
    bool enabled;
} CAPABILITIES[] = {
    {"runs", true},
    {"sse", true},
    {"relay", false},
    {"profiles", true},
    {"logs", true},
    {"statistics", true},
    {"conversations", true},
    {"conversation_events", true},
    {"conversation_delete", true},
    {"conversation_bulk_delete", true},
    {"conversation_clear_plan", true},
    {"conversation_cancel", true},
    {"conversation_rename", true},
    {"blobs", true},
    {"devices", true},
    {"device_delete", true},
    {"device_revoke", true},
    {"device_rename", true},
    {"device_session_enroll", true},
    {"cron_jobs", true},
    {"profile_skills", true},
    {"profile_memory", true},
    {"hermes_updates", true},
};

json_t *hl_capabilities_json(void)
{
    json_t *caps = json_object();
    for (size_t i = 0; i < HL_ARRAY_SIZE(CAPABILITIES); ++i)
        json_object_set_new(caps, CAPABILITIES[i].name, json_boolean(CAPABILITIES[i].enabled));
    return caps;
}

bool hl_capability_pairing(void)
{
    return true;
}
