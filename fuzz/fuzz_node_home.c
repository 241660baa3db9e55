/*
 * The import's reading of a whole Node home (src/core/node_home.c hl_node_home_load) for the files fuzz_node_import does
 * not reach: identity.json and a blob's metadata (blobs/blob_<id>.json, next to its 32 raw bytes). The home is a
 * temporary folder made once per process (under TMPDIR, else /dev/shm when it exists, else /tmp); each input is written
 * as one of the two files (byte 0 even: identity.json, odd: the blob's .json), the other one absent. Checks: 0 or a
 * negative errno with a message; on success the identity is an object or NULL and every blob an object.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "hl/node_home.h"

#define BLOB "blob_0123456789abcdef0123456789abcd01"

static char home[256];

static void write_file(const char *rel, const uint8_t *data, size_t len)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", home, rel);
    FILE *f = fopen(path, "wb");
    if (f == NULL || (len > 0 && fwrite(data, 1, len, f) != len) || fclose(f) != 0)
        abort();
}

static void remove_file(const char *rel)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", home, rel);
    (void)unlink(path);
}

static void cleanup(void)
{
    remove_file("identity.json");
    remove_file("blobs/" BLOB ".json");
    remove_file("blobs/" BLOB);
    char path[512];
    snprintf(path, sizeof(path), "%s/blobs", home);
    (void)rmdir(path);
    (void)rmdir(home);
}

static void make_home(void)
{
    const char *tmp = getenv("TMPDIR");
    struct stat st;
    if (tmp == NULL || tmp[0] == '\0')
        tmp = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm" : "/tmp";
    snprintf(home, sizeof(home), "%s/hl-fuzz-node-home.XXXXXX", tmp);
    if (mkdtemp(home) == NULL)
        abort();
    char path[512];
    snprintf(path, sizeof(path), "%s/blobs", home);
    if (mkdir(path, 0700) != 0)
        abort();
    write_file("blobs/" BLOB, (const uint8_t *)"0123456789abcdef0123456789abcdef", 32);
    atexit(cleanup);
}

/** libFuzzer's entry: selector byte, then the file's bytes. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if (home[0] == '\0')
        make_home();
    const char *rel = (data[0] & 1) == 0 ? "identity.json" : "blobs/" BLOB ".json";
    write_file(rel, data + 1, size - 1);
    hl_node_home_t h;
    memset(&h, 0, sizeof(h));
    char err[512] = "";
    int ret = hl_node_home_load(home, &h, err, sizeof(err));
    if (ret > 0 || (ret != 0 && err[0] == '\0'))
        abort();
    if (ret == 0) {
        if (h.identity != NULL && !json_is_object(h.identity))
            abort();
        size_t i;
        json_t *b;
        json_array_foreach(h.blobs, i, b) if (!json_is_object(b)) abort();
    }
    hl_node_home_dispose(&h);
    remove_file(rel);
    return 0;
}
