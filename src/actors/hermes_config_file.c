/*
 * Reading and editing a profile's config.yaml on the Hermes files actor: the file is reached only inside the Hermes
 * root, is never a link that HermesLink would write through, and is replaced atomically with a backup (at most the five
 * newest kept, GAPS §C 8) only when an edit changed it. The editor (hermes_yaml_edit.c) changes only the lines of the
 * keys it touches, so comments, order and unknown keys stay as the user or Hermes wrote them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hermes_actor.h"
#include "hermes_internal.h"
#include "hl/file_replace.h"
#include "hl/fsutil.h"
#include "hl/hermes_read.h"
#include "hl/log.h"

int hermes_config_read(hl_hermes_t *h, const char *name, char **text, size_t *len, hl_result_t **res)
{
    char *real = hermes_root_real(h->link->hermes_home), *dir = hl_hermes_profile_dir(h->link->hermes_home, name);
    int ret = dir != NULL ? hermes_read_file(real, dir, "config.yaml", text, len) : -EINVAL;
    free(real);
    free(dir);
    if (ret == -ENOENT) {
        *text = hl_strdup("");
        *len = 0;
        return 0;
    }
    if (ret == 0)
        return 0;
    if (ret == -EXDEV || ret == -EINVAL || ret == -EFBIG)
        *res =
            hl_result_error(HL_RESULT_CONFLICT, "config_yaml_unsafe",
                            ret == -EFBIG ? "config.yaml is larger than HermesLink reads (1 MiB)"
                                          : "config.yaml is not a regular file inside the Hermes home; HermesLink leaves it alone");
    else
        *res = hl_result_error(HL_RESULT_INTERNAL, "internal_error", "config.yaml could not be read");
    return ret;
}

hl_result_t *hermes_config_edit(hl_hermes_t *h, const char *name, hermes_config_edit_fn edit, void *ctx, char **backup_display)
{
    *backup_display = NULL;
    char *text = NULL, *out = NULL, err[256] = "";
    size_t len = 0, out_len = 0;
    hl_result_t *res = NULL;
    if (hermes_config_read(h, name, &text, &len, &res) != 0)
        return res;
    int ret = edit(ctx, text, len, &out, &out_len, err, sizeof(err));
    if (ret != 0) {
        free(text);
        if (ret == -ENOMEM)
            return hl_result_error(HL_RESULT_INTERNAL, "internal_error", "Out of memory");
        char *msg = hl_asprintf("%s (the file was not changed)", err[0] != '\0' ? err : "config.yaml cannot be edited");
        res = hl_result_error(HL_RESULT_CONFLICT, "config_yaml_invalid", msg);
        free(msg);
        return res;
    }
    if (out_len != len || memcmp(out, text, len) != 0) {
        char *dir = hl_hermes_profile_dir(h->link->hermes_home, name), *path = hl_path_join(dir, "config.yaml"), *backup = NULL;
        ret = hl_file_replace(path, out, out_len, &backup);
        if (ret == -ELOOP || ret == -EINVAL)
            res = hl_result_error(HL_RESULT_CONFLICT, "config_yaml_unsafe",
                                  "config.yaml is a link or not a regular file; HermesLink leaves it alone");
        else if (ret != 0) {
            hl_logf(HL_LOG_ERROR, "hermes: config.yaml of a profile could not be written (%s)", strerror(-ret));
            res = hl_errno_is_disk_full(ret)
                      ? hl_result_storage_full()
                      : hl_result_error(HL_RESULT_INTERNAL, "internal_error", "config.yaml could not be written");
        } else if (backup != NULL) {
            const char *base = strrchr(backup, '/');
            *backup_display = hermes_display_dir(h, name, base != NULL ? base + 1 : backup);
        }
        free(backup);
        free(path);
        free(dir);
    }
    free(text);
    free(out);
    return res;
}
