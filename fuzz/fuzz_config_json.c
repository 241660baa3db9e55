/*
 * HermesLink's own settings file, config.json (hl_config_load, src/core/config.c), and the CLI's `hermeslink config set
 * <key> <value>` (hl_config_set). The input is the file's text, optionally followed by NUL, a CLI key, NUL and a value.
 * Checks: a refused file has a message; a loaded one has every number within its documented range and a TLS port that
 * differs from the plain one; what `config set` accepts keeps those ranges; and the file HermesLink writes back
 * (hl_config_save) loads again to the very same settings (its dump is a fixed point), so saving never loses or changes
 * a setting, unknown keys included.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hl/config.h"
#include "hl/fsutil.h"

/* on tmpfs: the atomic writes fsync, which costs nothing there */
/* a NUL-terminated copy of `len` bytes that need not be terminated (strndup would read past them) */
static char *dup_bytes(const char *s, size_t len)
{
    char *out = malloc(len + 1);
    memcpy(out, s, len);
    out[len] = '\0';
    return out;
}

static char home[64], home2[64];

/** Makes the two temporary homes once. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(home, sizeof(home), "/dev/shm/hl-fuzz-config-XXXXXX");
    snprintf(home2, sizeof(home2), "/dev/shm/hl-fuzz-config-XXXXXX");
    if (mkdtemp(home) == NULL || mkdtemp(home2) == NULL)
        abort();
    return 0;
}

static void check_ranges(const hl_config_t *c)
{
    if (c->port < 1 || c->port > 65535 || c->tls_port < 0 || c->tls_port > 65535 || c->tls_port == c->port || c->workers < 0 ||
        c->workers > 256 || c->max_connections < 16 || c->max_connections_per_address < 1 || c->max_streams_per_device < 1 ||
        c->max_streams_per_device > 100000 || c->max_body_mib_per_address < 1 || c->num_trusted_proxies > HL_MAX_TRUSTED_PROXIES ||
        c->language == NULL || c->log_level == NULL)
        abort();
}

/* saves `c` into home2, loads it back and compares the dumps */
static void check_round_trip(const hl_config_t *c)
{
    if (hl_config_save(c, home2) != 0)
        abort();
    hl_config_t again;
    hl_config_defaults(&again);
    char err[256] = "";
    if (hl_config_load(&again, home2, err, sizeof(err)) != 0)
        abort(); /* what HermesLink writes, it must read */
    char *a = hl_config_dump(c, 0), *b = hl_config_dump(&again, 0);
    if (strcmp(a, b) != 0)
        abort();
    free(a);
    free(b);
    hl_config_dispose(&again);
}

/** libFuzzer's entry: "<config.json text>[\0<cli key>\0<value>]". */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    const char *nul = memchr(s, '\0', size);
    size_t file_len = nul != NULL ? (size_t)(nul - s) : size;
    char *path = hl_path_join(home, "config.json");
    if (hl_write_file_atomic(path, s, file_len, 0600) != 0)
        abort();
    free(path);
    hl_config_t c;
    hl_config_defaults(&c);
    char err[256] = "";
    if (hl_config_load(&c, home, err, sizeof(err)) != 0) {
        if (err[0] == '\0')
            abort();
        hl_config_dispose(&c);
        return 0;
    }
    check_ranges(&c);
    check_round_trip(&c);
    if (nul != NULL) {
        const char *key = nul + 1;
        const char *key_end = memchr(key, '\0', size - file_len - 1);
        if (key_end != NULL) {
            char *value = dup_bytes(key_end + 1, size - (size_t)(key_end + 1 - s));
            char *msg = NULL;
            int ret = hl_config_set(&c, key, value, &msg);
            if (msg == NULL || (ret != 0 && ret != -EINVAL && ret != -ENOENT))
                abort();
            free(msg);
            free(value);
            if (ret == 0) {
                check_ranges(&c);
                check_round_trip(&c);
            }
        }
    }
    hl_config_dispose(&c);
    return 0;
}
