/*
 * Where Hermes profiles live (spec STORAGE §3.1) and how their files are read: names are checked before any path is
 * built, and a file or profile directory reached through a symbolic link that leads out of the Hermes root is treated
 * as absent, so a profile cannot make us read files elsewhere on the machine.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "hl/fsutil.h"
#include "hl/hermes_read.h"
#include "hermes_internal.h"

int hl_hermes_valid_profile_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 64 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return 0;
    for (const char *s = name; *s; ++s) {
        char c = *s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

const char *hl_hermes_new_profile_name_problem(const char *name)
{
    /* Hermes's reserved names, then its CLI subcommands (a profile gets a `<name>` wrapper command) */
    static const char *const TAKEN[] = {
        "hermes", "default",  "test",      "tmp",  "root",      "sudo",     "chat",    "model",     "gateway", "setup",   "login",
        "logout", "auth",     "status",    "cron", "doctor",    "dump",     "debug",   "config",    "pairing", "skills",  "tools",
        "mcp",    "sessions", "insights",  "logs", "memory",    "version",  "update",  "uninstall", "profile", "plugins", "hooks",
        "backup", "import",   "dashboard", "acp",  "approvals", "security", "webhook", "whatsapp"};
    size_t n = strlen(name);
    if (n == 0 || n > 64 || !((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= '0' && name[0] <= '9')))
        return "A new profile name must start with a lowercase letter or digit and be at most 64 characters";
    for (const char *p = name; *p != '\0'; ++p)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
            return "A new profile name may hold only lowercase letters, digits, '_' and '-'";
    for (size_t i = 0; i < sizeof(TAKEN) / sizeof(TAKEN[0]); ++i)
        if (strcmp(name, TAKEN[i]) == 0)
            return "This profile name is reserved by Hermes";
    return NULL;
}

/* `path` without trailing slashes ("/" stays "/"). */
static char *trimmed(const char *path)
{
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/')
        --len;
    return hl_strndup(path, len);
}

char *hl_hermes_profiles_root(const char *hermes_home)
{
    char *home = trimmed(hermes_home);
    char *last = strrchr(home, '/');
    if (last != NULL && last > home && last[1] != '\0') {
        /* …/profiles/<x>: the profile's parent's parent */
        const char *parent_end = last, *parent = last;
        while (parent > home && parent[-1] != '/')
            --parent;
        if ((size_t)(parent_end - parent) == strlen("profiles") && memcmp(parent, "profiles", 8) == 0) {
            size_t root_len = (size_t)(parent - home);
            while (root_len > 1 && home[root_len - 1] == '/')
                --root_len;
            char *root = root_len > 0 ? hl_strndup(home, root_len) : hl_strdup("."); /* "profiles/x": relative */
            free(home);
            return root;
        }
    }
    return home;
}

char *hl_hermes_profile_dir(const char *hermes_home, const char *profile)
{
    if (profile == NULL || *profile == '\0' || strcmp(profile, "default") == 0)
        return trimmed(hermes_home);
    if (!hl_hermes_valid_profile_name(profile))
        return NULL;
    char *root = hl_hermes_profiles_root(hermes_home);
    char *dir = hl_asprintf("%s/profiles/%s", strcmp(root, "/") == 0 ? "" : root, profile);
    free(root);
    return dir;
}

void hermes_add_warning(char **warning, char *line)
{
    if (*warning == NULL) {
        *warning = line;
        return;
    }
    char *joined = hl_asprintf("%s; %s", *warning, line);
    free(*warning);
    free(line);
    *warning = joined;
}

int hermes_parse_bool(const char *v, bool digits)
{
    static const char *const yes[] = {"true", "yes", "on"}, *const no[] = {"false", "no", "off"};
    if (v == NULL)
        return -1;
    if (digits && (strcmp(v, "1") == 0 || strcmp(v, "0") == 0))
        return v[0] == '1';
    for (size_t i = 0; i < HL_ARRAY_SIZE(yes); ++i) {
        if (strcasecmp(v, yes[i]) == 0)
            return 1;
        if (strcasecmp(v, no[i]) == 0)
            return 0;
    }
    return -1;
}

char *hermes_root_real(const char *hermes_home)
{
    char *root = hl_hermes_profiles_root(hermes_home);
    char *real = realpath(root, NULL);
    free(root);
    return real;
}

int hermes_path_inside(const char *root_real, const char *real)
{
    size_t n = strlen(root_real);
    if (strcmp(root_real, "/") == 0)
        return 1;
    return strncmp(real, root_real, n) == 0 && (real[n] == '\0' || real[n] == '/');
}

int hermes_dir_inside(const char *root_real, const char *path)
{
    if (root_real == NULL)
        return 0;
    char *real = realpath(path, NULL);
    struct stat st;
    int ok = real != NULL && hermes_path_inside(root_real, real) && stat(real, &st) == 0 && S_ISDIR(st.st_mode);
    free(real);
    return ok;
}

int hermes_read_file(const char *root_real, const char *dir, const char *name, char **text, size_t *len)
{
    if (root_real == NULL)
        return -ENOENT;
    char *path = hl_path_join(dir, name);
    char *real = realpath(path, NULL);
    int ret = real == NULL ? -errno : 0;
    free(path);
    if (ret != 0)
        return ret == -ENOTDIR ? -ENOENT : ret;
    struct stat st;
    if (!hermes_path_inside(root_real, real))
        ret = -EXDEV;
    else if (stat(real, &st) != 0)
        ret = -errno;
    else if (!S_ISREG(st.st_mode))
        ret = -EINVAL; /* a FIFO would block the actor */
    else
        ret = hl_read_file(real, HL_HERMES_MAX_FILE_BYTES, text, len);
    free(real);
    return ret;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

json_t *hl_hermes_profile_names(const char *hermes_home)
{
    json_t *names = json_array();
    json_array_append_new(names, json_string("default"));
    char *root = hl_hermes_profiles_root(hermes_home);
    char *dir = hl_path_join(root, "profiles");
    char *root_real = realpath(root, NULL);
    DIR *d = root_real != NULL ? opendir(dir) : NULL;
    char **found = NULL;
    size_t count = 0, cap = 0;
    if (d != NULL) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (!hl_hermes_valid_profile_name(e->d_name) || strcmp(e->d_name, "default") == 0)
                continue;
            char *path = hl_path_join(dir, e->d_name);
            if (hermes_dir_inside(root_real, path)) {
                if (count == cap) {
                    cap = cap == 0 ? 16 : cap * 2;
                    found = hl_realloc(found, cap * sizeof(*found));
                }
                found[count++] = hl_strdup(e->d_name);
            }
            free(path);
        }
        closedir(d);
    }
    if (count > 0)
        qsort(found, count, sizeof(*found), by_name);
    for (size_t i = 0; i < count; ++i) {
        json_array_append_new(names, json_string(found[i]));
        free(found[i]);
    }
    free(found);
    free(root_real);
    free(dir);
    free(root);
    return names;
}
