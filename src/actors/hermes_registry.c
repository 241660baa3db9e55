#include "hermes_registry.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hl/clock.h"
#include "hl/common.h"
#include "hl/fsutil.h"
#include "hl/ids.h"
#include "hl/json_util.h"
#include "hl/log.h"

/* more than any user has profiles: the file stays small */
#define MAX_REGISTRY_BYTES (4 * 1024 * 1024)

void hermes_registry_open(hermes_registry_t *reg, const char *link_home)
{
    reg->path = hl_path_join(link_home, "profiles.json");
    reg->profiles = NULL;
    char *text = NULL;
    size_t len = 0;
    int ret = hl_read_file(reg->path, MAX_REGISTRY_BYTES, &text, &len);
    if (ret == 0) {
        json_t *root = json_loadb(text, len, 0, NULL);
        json_t *profiles = json_object_get(root, "profiles");
        if (json_is_object(profiles))
            reg->profiles = json_incref(profiles);
        json_decref(root);
        if (reg->profiles == NULL) {
            char *bad = hl_asprintf("%s.bad", reg->path);
            if (rename(reg->path, bad) != 0)
                ret = -errno;
            hl_logf(HL_LOG_WARN, "hermes: profiles.json was not readable; set aside as profiles.json.bad");
            free(bad);
        }
    } else if (ret != -ENOENT) {
        hl_logf(HL_LOG_WARN, "hermes: profiles.json could not be read (%s)", strerror(-ret));
    }
    free(text);
    if (reg->profiles == NULL)
        reg->profiles = json_object();
}

void hermes_registry_dispose(hermes_registry_t *reg)
{
    json_decref(reg->profiles);
    free(reg->path);
    reg->profiles = NULL;
    reg->path = NULL;
}

static int save(hermes_registry_t *reg)
{
    json_t *root = json_pack("{s:i, s:O}", "version", 1, "profiles", reg->profiles);
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(root);
    int ret = hl_write_file_atomic(reg->path, text, strlen(text), 0600);
    free(text);
    if (ret != 0)
        hl_logf(HL_LOG_ERROR, "hermes: profiles.json could not be written (%s)", strerror(-ret));
    return ret;
}

json_t *hermes_registry_find(const hermes_registry_t *reg, const char *name)
{
    return json_object_get(reg->profiles, name);
}

json_t *hermes_registry_ensure(hermes_registry_t *reg, const char *name)
{
    json_t *entry = json_object_get(reg->profiles, name);
    if (entry != NULL)
        return entry;
    char *uid = hl_random_hex_id("prof_", 16);
    json_t *now = hl_json_iso(hl_now_ms());
    entry = json_pack("{s:s, s:n, s:n, s:s, s:n, s:O, s:O}", "uid", uid, "displayName", "description", "avatarType", "default",
                      "avatarUrl", "createdAt", now, "updatedAt", now);
    json_decref(now);
    free(uid);
    json_object_set_new(reg->profiles, name, entry);
    reg->changed = true;
    save(reg); /* a failed save keeps the entry for this run; the uid is new again after a restart */
    return entry;
}

int hermes_registry_update(hermes_registry_t *reg, const char *name, json_t *changes)
{
    json_t *entry = hermes_registry_ensure(reg, name), *before = json_deep_copy(entry);
    static const char *const FIELDS[] = {"displayName", "description", "avatarType", "avatarUrl"};
    for (size_t i = 0; i < HL_ARRAY_SIZE(FIELDS); ++i) {
        json_t *v = json_object_get(changes, FIELDS[i]);
        if (v != NULL)
            json_object_set(entry, FIELDS[i], v);
    }
    json_object_set_new(entry, "updatedAt", hl_json_iso(hl_now_ms()));
    int ret = save(reg);
    if (ret != 0)
        json_object_set(reg->profiles, name, before);
    json_decref(before);
    return ret;
}

int hermes_registry_rename(hermes_registry_t *reg, const char *from, const char *to)
{
    json_t *entry = json_incref(json_object_get(reg->profiles, from)), *stale = json_incref(json_object_get(reg->profiles, to));
    if (entry == NULL) {
        json_decref(stale);
        return 0;
    }
    json_object_del(reg->profiles, from);
    reg->changed = true;
    json_object_set_new(entry, "updatedAt", hl_json_iso(hl_now_ms()));
    json_object_set(reg->profiles, to, entry);
    int ret = save(reg);
    if (ret != 0) {
        json_object_set(reg->profiles, from, entry);
        if (stale != NULL)
            json_object_set(reg->profiles, to, stale);
        else
            json_object_del(reg->profiles, to);
    }
    json_decref(entry);
    json_decref(stale);
    return ret;
}

int hermes_registry_remove(hermes_registry_t *reg, const char *name)
{
    json_t *entry = json_incref(json_object_get(reg->profiles, name));
    if (entry == NULL)
        return 0;
    json_object_del(reg->profiles, name);
    reg->changed = true;
    int ret = save(reg);
    if (ret != 0)
        json_object_set(reg->profiles, name, entry);
    json_decref(entry);
    return ret;
}
