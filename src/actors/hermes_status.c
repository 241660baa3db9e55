/*
 * HermesProfileStatus (spec/API.md §1.10), with the corrections of GAPS §A 14 and §B 23: paths are shown relative to
 * the profiles root (never the user's absolute paths), `active` says which profile Hermes uses when none is named
 * (<root>/active_profile, default when absent), and only a profile that exists gets a registry entry.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "hermes_actor.h"
#include "hermes_internal.h"
#include "hl/fsutil.h"
#include "hl/hermes_read.h"

char *hermes_display_dir(const hl_hermes_t *h, const char *name, const char *file)
{
    (void)h;
    bool home = strcmp(name, "default") == 0;
    if (file == NULL)
        return home ? hl_strdup(".") : hl_asprintf("profiles/%s", name);
    return home ? hl_strdup(file) : hl_asprintf("profiles/%s/%s", name, file);
}

bool hermes_profile_exists(const hl_hermes_t *h, const char *name)
{
    char *real = hermes_root_real(h->link->hermes_home), *dir = hl_hermes_profile_dir(h->link->hermes_home, name);
    bool ok = dir != NULL && hermes_dir_inside(real, dir);
    free(real);
    free(dir);
    return ok;
}

bool hermes_profile_escapes(const hl_hermes_t *h, const char *name)
{
    if (strcmp(name, "default") == 0)
        return false;
    char *root = hermes_root_real(h->link->hermes_home), *dir = hl_hermes_profile_dir(h->link->hermes_home, name);
    char *real = dir != NULL ? realpath(dir, NULL) : NULL;
    bool out = root != NULL && real != NULL && !hermes_path_inside(root, real);
    free(real);
    free(dir);
    free(root);
    return out;
}

/* The profile Hermes uses when none is named: <root>/active_profile's one line, "default" when absent or empty. */
static char *active_profile(const hl_hermes_t *h)
{
    char *real = hermes_root_real(h->link->hermes_home), *text = NULL;
    size_t len = 0;
    if (hermes_read_file(real, h->root, "active_profile", &text, &len) != 0)
        text = NULL;
    free(real);
    if (text != NULL) {
        char *s = text, *e = text + strlen(text);
        while (*s != '\0' && isspace((unsigned char)*s))
            ++s;
        while (e > s && isspace((unsigned char)e[-1]))
            --e;
        *e = '\0';
        if (*s != '\0' && hl_hermes_valid_profile_name(s)) {
            char *name = hl_strdup(s);
            free(text);
            return name;
        }
        free(text);
    }
    return hl_strdup("default");
}

json_t *hermes_profile_status(hl_hermes_t *h, const char *name)
{
    bool exists = hermes_profile_exists(h, name);
    json_t *entry = NULL;
    if (exists) {
        if (hermes_registry_find(&h->registry, name) == NULL) {
            hermes_registry_ensure(&h->registry, name);
            hermes_snapshot_refresh(h); /* the new uid is published before any answer shows it */
        }
        entry = hermes_registry_ensure(&h->registry, name);
    }
    bool key = false;
    if (exists) {
        hl_upstream_t up;
        const char *code = NULL;
        char *message = NULL;
        if (hl_hermes_resolve(&up, h->link->hermes_home, h->link->config, name, &code, &message) == 0) {
            key = up.api_key != NULL && up.api_key[0] != '\0';
            hl_upstream_dispose(&up);
        }
        free(message);
    }
    char *active = active_profile(h), *path = hermes_display_dir(h, name, NULL),
         *config = hermes_display_dir(h, name, "config.yaml");
    json_t *avatar_type = json_object_get(entry, "avatarType");
    json_t *status = json_pack(
        "{s:O, s:s, s:b, s:s, s:s, s:O, s:O, s:O, s:O, s:b, s:b}", "uid", entry ? json_object_get(entry, "uid") : json_null(),
        "name", name, "active", strcmp(active, name) == 0, "path", path, "configPath", config, "displayName",
        entry ? json_object_get(entry, "displayName") : json_null(), "description",
        entry ? json_object_get(entry, "description") : json_null(), "avatarType", avatar_type ? avatar_type : json_null(),
        "avatarUrl", entry ? json_object_get(entry, "avatarUrl") : json_null(), "exists", exists, "apiKeyConfigured", key);
    if (avatar_type == NULL)
        json_object_set_new(status, "avatarType", json_string("default"));
    free(active);
    free(path);
    free(config);
    return status;
}
