#include "hl/paths.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hl/fsutil.h"

static char *user_home(void)
{
    const char *h = getenv("HOME");
    if (h != NULL && *h == '/')
        return hl_strdup(h);
    struct passwd *pw = getpwuid(getuid());
    return pw != NULL && pw->pw_dir != NULL ? hl_strdup(pw->pw_dir) : NULL;
}

/* Trims an env value and makes it absolute against the working directory (without touching the filesystem). */
static char *absolute_from_env(const char *name)
{
    const char *v = getenv(name);
    if (v == NULL)
        return NULL;
    while (isspace((unsigned char)*v))
        ++v;
    size_t len = strlen(v);
    while (len > 0 && isspace((unsigned char)v[len - 1]))
        --len;
    if (len == 0)
        return NULL;
    char *trimmed = hl_strndup(v, len);
    if (trimmed[0] == '/')
        return trimmed;
    char cwd[PATH_MAX];
    if (getcwd(cwd, sizeof(cwd)) == NULL) {
        free(trimmed);
        return NULL;
    }
    char *abs = hl_path_join(cwd, trimmed);
    free(trimmed);
    return abs;
}

static char *resolve(const char *env, const char *dirname)
{
    char *p = absolute_from_env(env);
    if (p != NULL)
        return p;
    char *home = user_home();
    if (home == NULL)
        return NULL;
    p = hl_path_join(home, dirname);
    free(home);
    return p;
}

char *hl_resolve_home(void)
{
    return resolve("HERMESLINK_HOME", ".hermeslink");
}

char *hl_resolve_hermes_home(void)
{
    return resolve("HERMES_HOME", ".hermes");
}

int hl_ensure_home(const char *home)
{
    int ret = hl_mkdir_p(home, 0700);
    if (ret == 0 && chmod(home, 0700) != 0)
        ret = -errno;
    return ret;
}
