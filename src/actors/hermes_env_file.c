/*
 * A profile's `.env` (spec STORAGE §3.6) read and written by the Hermes files actor. The file holds secrets: every copy
 * of its text is wiped before it is freed, and answers say only which problem the file has, never what it holds. Writes
 * go through hl_file_replace, so Hermes never sees a half-written file and the previous text stays as a backup.
 */
#include "hermes_env_file.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hermes_actor.h"
#include "hermes_internal.h"
#include "hl/file_replace.h"
#include "hl/fsutil.h"
#include "hl/log.h"

void hermes_env_changes_add(hermes_env_changes_t *c, const char *key, const char *value)
{
    for (size_t i = 0; i < c->count; ++i)
        if (strcmp(c->keys[i], key) == 0) {
            explicit_bzero(c->values[i], strlen(c->values[i]));
            free(c->values[i]);
            c->values[i] = hl_strdup(value);
            return;
        }
    if (c->count == c->_cap) {
        c->_cap = c->_cap != 0 ? c->_cap * 2 : 8;
        c->keys = hl_realloc(c->keys, c->_cap * sizeof(*c->keys));
        c->values = hl_realloc(c->values, c->_cap * sizeof(*c->values));
    }
    c->keys[c->count] = hl_strdup(key);
    c->values[c->count++] = hl_strdup(value);
}

const char *hermes_env_changes_get(const hermes_env_changes_t *c, const char *key)
{
    for (size_t i = 0; i < c->count; ++i)
        if (strcmp(c->keys[i], key) == 0)
            return c->values[i];
    return NULL;
}

void hermes_env_changes_dispose(hermes_env_changes_t *c)
{
    for (size_t i = 0; i < c->count; ++i) {
        explicit_bzero(c->values[i], strlen(c->values[i]));
        free(c->values[i]);
        free(c->keys[i]);
    }
    free(c->keys);
    free(c->values);
    memset(c, 0, sizeof(*c));
}

static void wipe_free(char *text, size_t len)
{
    if (text != NULL) {
        explicit_bzero(text, len);
        free(text);
    }
}

static hl_result_t *unsafe(int err)
{
    return hl_result_error(HL_RESULT_CONFLICT, "env_file_unsafe",
                           err == -EFBIG ? ".env is larger than HermesLink reads (1 MiB); HermesLink leaves it alone"
                                         : ".env is not a regular file inside the Hermes home; HermesLink leaves it alone");
}

/* The raw text of the profile's .env ("" when missing): 0, or -errno and *res. */
static int read_text(hl_hermes_t *h, const char *name, char **text, size_t *len, hl_result_t **res)
{
    char *real = hermes_root_real(h->link->hermes_home), *dir = hl_hermes_profile_dir(h->link->hermes_home, name);
    int ret = dir != NULL ? hermes_read_file(real, dir, ".env", text, len) : -EINVAL;
    free(real);
    free(dir);
    if (ret == -ENOENT) {
        *text = hl_strdup("");
        *len = 0;
        return 0;
    }
    if (ret == 0)
        return 0;
    *text = NULL;
    *len = 0;
    *res = ret == -EXDEV || ret == -EINVAL || ret == -EFBIG
               ? unsafe(ret)
               : hl_result_error(HL_RESULT_INTERNAL, "internal_error", ".env could not be read");
    return ret;
}

int hermes_env_read(hl_hermes_t *h, const char *name, hl_dotenv_t *env, hl_result_t **res)
{
    memset(env, 0, sizeof(*env));
    char *text = NULL;
    size_t len = 0;
    int ret = read_text(h, name, &text, &len, res);
    if (ret != 0)
        return ret;
    hl_dotenv_parse(env, text, len);
    wipe_free(text, len);
    return 0;
}

hl_result_t *hermes_env_write(hl_hermes_t *h, const char *name, const hermes_env_changes_t *changes, char **backup_display,
                              bool *changed)
{
    *backup_display = NULL;
    *changed = false;
    char *text = NULL;
    size_t len = 0;
    hl_result_t *res = NULL;
    if (read_text(h, name, &text, &len, &res) != 0)
        return res;
    char *cur = text;
    size_t cur_len = len;
    for (size_t i = 0; i < changes->count; ++i) {
        size_t next_len = 0;
        char *next = hl_dotenv_set(cur, cur_len, changes->keys[i], changes->values[i], &next_len);
        if (cur != text)
            wipe_free(cur, cur_len);
        cur = next;
        cur_len = next_len;
        if (cur == NULL) {
            wipe_free(text, len);
            return hl_result_error(HL_RESULT_CONFLICT, "env_file_unsafe",
                                   ".env has quoted values HermesLink cannot change safely (a quote left open); fix it by hand");
        }
    }
    if (cur != text && (cur_len != len || memcmp(cur, text, len) != 0)) {
        char *dir = hl_hermes_profile_dir(h->link->hermes_home, name), *path = hl_path_join(dir, ".env"), *backup = NULL;
        int ret = hl_file_replace(path, cur, cur_len, &backup);
        if (ret == -ELOOP || ret == -EINVAL)
            res = unsafe(ret);
        else if (ret != 0) {
            hl_logf(HL_LOG_ERROR, "hermes: .env of a profile could not be written (%s)", strerror(-ret));
            res = hl_errno_is_disk_full(ret) ? hl_result_storage_full()
                                             : hl_result_error(HL_RESULT_INTERNAL, "internal_error", ".env could not be written");
        } else {
            *changed = true;
            if (backup != NULL) {
                const char *base = strrchr(backup, '/');
                *backup_display = hermes_display_dir(h, name, base != NULL ? base + 1 : backup);
            }
        }
        free(backup);
        free(path);
        free(dir);
    }
    if (cur != text)
        wipe_free(cur, cur_len);
    wipe_free(text, len);
    return res;
}
