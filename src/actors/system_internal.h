/*
 * Private to the system actor (system.c, system_reports.c): its state, on its thread only (fixed fields excepted).
 */
#ifndef HL_SYSTEM_INTERNAL_H
#define HL_SYSTEM_INTERNAL_H

#include <jansson.h>

#include "hl/autostart.h"
#include "hl/hermes_files.h"
#include "hl/system.h"

struct st_hl_system_t {
    hl_actor_t actor;
    const hl_link_t *link;
    const hl_device_counts_t *counts;
    hl_hermes_t *hermes; /* the profile count; NULL in unit tests */
    json_t *lan_ips;
    char *update_available;                 /* the Link version a release-feed check found (updater actor), or NULL */
    hl_autostart_method_t autostart_method; /* detected at start and at each change */
    hl_autostart_status_t autostart;        /* as published in system/status */
};

/** Rebuilds and publishes the snapshot (bootstrap, system status, URLs). Actor thread. */
void hl_system_publish(hl_system_t *sys);

#endif
