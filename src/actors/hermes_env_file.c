/*
 * A profile's .env on the Hermes files actor (spec STORAGE §3.6): read inside the Hermes root only, and one key set
 * with every other byte kept (hl_dotenv_set), the file replaced atomically with its mode (a new one is 0600) and a
 * backup, as config.yaml is. The texts hold secrets: they are wiped once used.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hermes_actor.h"
#include "hermes_internal.h"
#include "hl/file_replace.h"
#include "hl/fsutil.h"
#include "hl/hermes_read.h"
#include "hl/log.h"

static void wipe_free(char *text, size_t len)
{
    if (text != NULL)
        explicit_bzero(text, len);
    free(text);
}

/* The .env text of a profile: 0 (a missing file is ""), or the read's -errno. */
static int read_env(hl_hermes_t *h, const char *name, char **text, size_t *len)
{
    char *root = hermes_root_real(h->link->hermes_home), *dir = hl_hermes_profile_dir(h->link->hermes_home, name);
    int ret = dir != NULL ? hermes_read_file(root, dir, ".env", text, len) : -EINVAL;
    free(root);
    free(dir);
    if (ret == -ENOENT) {
        *text = hl_strdup("");
        *len = 0;
        return 0;
    }
    return ret;
}

void hermes_env_load(hl_hermes_t *h, const char *name, hl_dotenv_t *env)
{
    char *text = NULL;
    size_t len = 0;
    if (read_env(h, name, &text, &len) != 0) {
        hl_dotenv_parse(env, "", 0); /* unreadable: no key is configured */
        return;
    }
    hl_dotenv_parse(env, text, len);
    wipe_free(text, len);
}

static hl_result_t *unsafe(void)
{
    return hl_result_error(
        HL_RESULT_CONFLICT, "env_file_unsafe",
        ".env is not a regular file inside the Hermes home, or is larger than 1 MiB; HermesLink leaves it alone");
}

hl_result_t *hermes_env_set(hl_hermes_t *h, const char *name, const char *key, const char *value, bool *changed)
{
    *changed = false;
    char *text = NULL;
    size_t len = 0;
    int ret = read_env(h, name, &text, &len);
    if (ret == -EXDEV || ret == -EINVAL || ret == -EFBIG)
        return unsafe();
    if (ret != 0)
        return hl_result_error(HL_RESULT_INTERNAL, "internal_error", ".env could not be read");
    size_t out_len = 0;
    char *out = hl_dotenv_set(text, len, key, value, &out_len);
    hl_result_t *res = NULL;
    if (out_len != len || memcmp(out, text, len) != 0) {
        char *dir = hl_hermes_profile_dir(h->link->hermes_home, name), *path = hl_path_join(dir, ".env");
        ret = hl_file_replace(path, out, out_len, NULL);
        if (ret == -ELOOP || ret == -EINVAL) {
            res = unsafe();
        } else if (ret != 0) {
            hl_logf(HL_LOG_ERROR, "hermes: .env of a profile could not be written (%s)", strerror(-ret));
            res = hl_result_error(HL_RESULT_INTERNAL, "internal_error", ".env could not be written");
        } else {
            *changed = true;
        }
        free(path);
        free(dir);
    }
    wipe_free(out, out_len);
    wipe_free(text, len);
    return res;
}
