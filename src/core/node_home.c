/*
 * Walking the Node version's home for `hermeslink import`: which files exist, each read once, read-only, without following
 * symlinks and under a size cap, and validated as a whole before the caller imports anything (a corrupt file refuses the
 * import and is named by its path relative to the home). Directory entries are only used once they match an id pattern,
 * so no name from the source ever reaches a path unchecked.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hl/clock.h"
#include "hl/node_home.h"

int hl_node_read(const char *dir, const char *rel, size_t max, char **out, size_t *len)
{
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return -errno;
    int fd = openat(dfd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK), ret = 0;
    close(dfd);
    if (fd < 0)
        return errno == ELOOP ? -EINVAL : -errno;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ret = -EINVAL;
        goto Exit;
    }
    if ((size_t)st.st_size > max) {
        ret = -EFBIG;
        goto Exit;
    }
    char *buf = hl_malloc((size_t)st.st_size + 1);
    size_t off = 0;
    while (off < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + off, (size_t)st.st_size - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    buf[off] = '\0';
    *out = buf;
    if (len != NULL)
        *len = off;
Exit:
    close(fd);
    return ret;
}

static bool exists(const char *dir, const char *rel)
{
    char *p = hl_asprintf("%s/%s", dir, rel);
    struct stat st;
    bool ok = lstat(p, &st) == 0;
    free(p);
    return ok;
}

bool hl_node_home_detect(const char *dir)
{
    return exists(dir, "identity.json") || exists(dir, "credentials.json") || exists(dir, "conversations") || exists(dir, "blobs");
}

/* reads an optional file: 0 with *out NULL when absent; -EINVAL with the file named in err when unreadable */
static int read_opt(const char *dir, const char *rel, size_t max, char **out, size_t *len, char *err, size_t errlen)
{
    *out = NULL;
    int ret = hl_node_read(dir, rel, max, out, len);
    if (ret == -ENOENT)
        return 0;
    if (ret == -EFBIG)
        snprintf(err, errlen, "%s: larger than the %zu bytes allowed", rel, max);
    else if (ret != 0)
        snprintf(err, errlen, "%s: cannot be read (not a regular file, or a symlink)", rel);
    return ret != 0 ? -EINVAL : 0;
}

static int load_identity(const char *dir, hl_node_home_t *h, char *err, size_t errlen)
{
    char *text;
    int ret = read_opt(dir, "identity.json", HL_NODE_SMALL_JSON_MAX, &text, NULL, err, errlen);
    if (ret != 0 || text == NULL)
        return ret;
    json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
    free(text);
    static const char *const keys[] = {"install_id", "public_key_pem", "private_key_pem", "created_at"};
    for (size_t i = 0; j != NULL && i < HL_ARRAY_SIZE(keys); ++i) {
        const char *v = json_string_value(json_object_get(j, keys[i]));
        if (v == NULL || v[0] == '\0')
            goto Bad;
    }
    json_t *link = json_object_get(j, "link_id");
    const char *install = json_string_value(json_object_get(j, "install_id"));
    if (!hl_node_id_valid("install_", install) ||
        (link != NULL && !json_is_null(link) && !hl_node_id_valid("link_", json_string_value(link))) ||
        strstr(json_string_value(json_object_get(j, "public_key_pem")), "-----BEGIN PUBLIC KEY-----") == NULL ||
        strstr(json_string_value(json_object_get(j, "private_key_pem")), "-----BEGIN PRIVATE KEY-----") == NULL)
        goto Bad;
    /* a missing link_id is derived from the install id, as the Node version does (FLOWS.md §2.1) */
    if (link == NULL || json_is_null(link)) {
        char *derived = hl_asprintf("link_%s", install + strlen("install_"));
        json_object_set_new(j, "link_id", json_string(derived));
        free(derived);
    }
    if (!json_is_string(json_object_get(j, "updated_at")))
        json_object_set(j, "updated_at", json_object_get(j, "created_at"));
    h->identity = j;
    return 0;
Bad:
    json_decref(j);
    snprintf(err, errlen, "identity.json: corrupt (expected install_id, link_id, PEM keys and created_at)");
    return -EINVAL;
}

static int load_devices(const char *dir, hl_node_home_t *h, char *err, size_t errlen)
{
    char *text, why[256];
    int ret = read_opt(dir, "credentials.json", HL_NODE_JSON_MAX, &text, NULL, err, errlen);
    if (ret != 0 || text == NULL)
        return ret;
    if (hl_node_parse_credentials(text, h->devices, why, sizeof(why)) != 0) {
        snprintf(err, errlen, "credentials.json: %s", why);
        ret = -EINVAL;
    }
    free(text);
    return ret;
}

/* the names of a directory that match `prefix` + hex32 (+ `suffix`), sorted; other entries are refused unless hidden
 * (temp files of the Node version's atomic writes start with a dot) */
static int list_ids(const char *dir, const char *sub, const char *prefix, const char *suffix, bool want_dirs, json_t *out,
                    char *err, size_t errlen)
{
    char *path = hl_asprintf("%s/%s", dir, sub);
    struct stat st;
    /* a symlinked folder would lead the import out of DIR */
    if (lstat(path, &st) == 0 && !S_ISDIR(st.st_mode)) {
        free(path);
        snprintf(err, errlen, "%s: not a directory (a symlink?)", sub);
        return -EINVAL;
    }
    DIR *d = opendir(path);
    free(path);
    if (d == NULL)
        return errno == ENOENT ? 0 : (snprintf(err, errlen, "%s/: cannot be read", sub), -EINVAL);
    struct dirent *de;
    int ret = 0;
    size_t sl = strlen(suffix);
    while ((de = readdir(d)) != NULL) {
        const char *n = de->d_name;
        if (n[0] == '.')
            continue;
        size_t nl = strlen(n);
        bool has_suffix = nl > sl && strcmp(n + nl - sl, suffix) == 0;
        char *base = hl_strndup(n, has_suffix ? nl - sl : nl);
        bool ok = has_suffix && hl_node_id_valid(prefix, base);
        free(base);
        if (!ok) {
            /* blobs/ holds the raw files next to their manifests: only manifests are listed; in a home shared with this
             * HermesLink it also holds ours, named by their SHA-256 */
            if (!want_dirs && (hl_node_id_valid(prefix, n) || hl_node_hash_valid(n)))
                continue;
            snprintf(err, errlen, "%s/%.80s: not a name the Node HermesLink writes", sub, n);
            ret = -EINVAL;
            break;
        }
        if (want_dirs) {
            char *entry = hl_asprintf("%s/%s/%s", dir, sub, n);
            int is_dir = lstat(entry, &st) == 0 && S_ISDIR(st.st_mode);
            free(entry);
            if (!is_dir) {
                snprintf(err, errlen, "%s/%s: not a directory (a symlink?)", sub, n);
                ret = -EINVAL;
                break;
            }
        }
        json_array_append_new(out, json_string(n));
    }
    closedir(d);
    return ret;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(json_string_value(*(json_t *const *)a), json_string_value(*(json_t *const *)b));
}

static void sort_names(json_t *arr)
{
    size_t n = json_array_size(arr);
    json_t **v = hl_calloc(n + 1, sizeof(*v));
    for (size_t i = 0; i < n; ++i)
        v[i] = json_incref(json_array_get(arr, i));
    qsort(v, n, sizeof(*v), cmp_names);
    json_array_clear(arr);
    for (size_t i = 0; i < n; ++i)
        json_array_append_new(arr, v[i]);
    free(v);
}

int hl_node_conversation_load(const char *dir, const char *id, json_t **out, char *err, size_t errlen)
{
    char *texts[3] = {NULL, NULL, NULL}, why[384];
    static const char *const files[] = {"manifest.json", "snapshot.json", "events.json"};
    int ret = hl_node_id_valid("conv_", id) ? 0 : (snprintf(err, errlen, "conversations/: not a conversation id"), -EINVAL);
    *out = NULL;
    for (int k = 0; k < 3 && ret == 0; ++k) {
        char *rel = hl_asprintf("conversations/%s/%s", id, files[k]);
        ret = read_opt(dir, rel, HL_NODE_JSON_MAX, &texts[k], NULL, err, errlen);
        if (ret == 0 && k == 0 && texts[0] == NULL) {
            snprintf(err, errlen, "%s: missing", rel);
            ret = -EINVAL;
        }
        free(rel);
    }
    if (ret == 0 && hl_node_parse_conversation(id, texts[0], texts[1], texts[2], out, why, sizeof(why)) != 0) {
        snprintf(err, errlen, "conversations/%s/%s", id, why);
        ret = -EINVAL;
    }
    for (int k = 0; k < 3; ++k)
        free(texts[k]);
    return ret;
}

/* every conversation is parsed (to refuse a corrupt one before anything is imported) but only its counts are kept: the
 * importer parses each again when its turn comes, so a large home is never held in memory whole */
static int load_conversations(const char *dir, hl_node_home_t *h, char *err, size_t errlen)
{
    json_t *names = json_array();
    int ret = list_ids(dir, "conversations", "conv_", "", true, names, err, errlen);
    sort_names(names);
    size_t i;
    json_t *n;
    json_array_foreach(names, i, n)
    {
        json_t *conv = NULL;
        if (ret != 0 || (ret = hl_node_conversation_load(dir, json_string_value(n), &conv, err, errlen)) != 0)
            break;
        size_t nm = json_array_size(json_object_get(conv, "messages")), ne = json_array_size(json_object_get(conv, "events"));
        h->num_messages += nm;
        h->num_events += ne;
        json_array_append_new(h->conversations,
                              json_pack("{s:O, s:I, s:I}", "id", n, "messages", (json_int_t)nm, "events", (json_int_t)ne));
        json_decref(conv);
    }
    json_decref(names);
    return ret;
}

static int parse_blob(const char *dir, const char *name, json_t *blobs, char *err, size_t errlen)
{
    char *rel = hl_asprintf("blobs/%s", name), *text = NULL;
    char *raw_rel = hl_strndup(rel, strlen(rel) - strlen(".json"));
    int ret = read_opt(dir, rel, HL_NODE_SMALL_JSON_MAX, &text, NULL, err, errlen);
    json_t *j = text != NULL ? json_loads(text, JSON_REJECT_DUPLICATES, NULL) : NULL,
           *convs = json_object_get(j, "conversation_ids");
    const char *id = json_string_value(json_object_get(j, "id")), *mime = json_string_value(json_object_get(j, "mime"));
    const char *filename = json_string_value(json_object_get(j, "filename"));
    int64_t created = 0;
    if (ret != 0)
        goto Exit;
    ret = -EINVAL;
    if (!json_is_object(j) || !hl_node_id_valid("blob_", id) || strncmp(name, id, strlen(id)) != 0 || !json_is_array(convs) ||
        !json_is_integer(json_object_get(j, "size")) || json_integer_value(json_object_get(j, "size")) < 0 ||
        hl_parse_iso(json_string_value(json_object_get(j, "created_at")), &created) != 0 || (mime != NULL && strlen(mime) > 255) ||
        (filename != NULL && strlen(filename) > 1024)) {
        snprintf(err, errlen, "%s: corrupt (expected id matching its name, size, created_at, conversation_ids)", rel);
        goto Exit;
    }
    size_t i;
    json_t *c;
    json_array_foreach(convs, i, c) if (!hl_node_id_valid("conv_", json_string_value(c)))
    {
        snprintf(err, errlen, "%s: conversation_ids holds something that is not a conversation id", rel);
        goto Exit;
    }
    /* the raw bytes must be there, readable and of the size the manifest says; they are read again when imported */
    struct stat st;
    char *raw = hl_asprintf("%s/%s", dir, raw_rel);
    int st_ok = lstat(raw, &st) == 0 && S_ISREG(st.st_mode);
    free(raw);
    if (!st_ok || st.st_size != json_integer_value(json_object_get(j, "size")) || (size_t)st.st_size > HL_NODE_BLOB_MAX) {
        snprintf(err, errlen, "%s: missing, not a regular file, over 50 MiB, or not the size its manifest says", raw_rel);
        goto Exit;
    }
    json_array_append_new(blobs,
                          json_pack("{s:s, s:I, s:s, s:s, s:I, s:O, s:s}", "id", id, "size", (json_int_t)st.st_size, "mime",
                                    mime != NULL ? mime : "application/octet-stream", "filename", filename != NULL ? filename : id,
                                    "created_at", (json_int_t)created, "conversation_ids", convs, "path", raw_rel));
    ret = 0;
Exit:
    json_decref(j);
    free(text);
    free(rel);
    free(raw_rel);
    return ret;
}

static int load_blobs(const char *dir, hl_node_home_t *h, char *err, size_t errlen)
{
    json_t *names = json_array();
    int ret = list_ids(dir, "blobs", "blob_", ".json", false, names, err, errlen);
    sort_names(names);
    size_t i;
    json_t *n;
    json_array_foreach(names, i, n)
    {
        if (ret == 0)
            ret = parse_blob(dir, json_string_value(n), h->blobs, err, errlen);
    }
    json_decref(names);
    return ret;
}

int hl_node_home_load(const char *dir, hl_node_home_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    out->devices = json_array();
    out->conversations = json_array();
    out->blobs = json_array();
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s is not a directory", dir);
        hl_node_home_dispose(out);
        return -ENOTDIR;
    }
    int ret = load_identity(dir, out, err, errlen);
    if (ret == 0)
        ret = load_devices(dir, out, err, errlen);
    if (ret == 0)
        ret = load_conversations(dir, out, err, errlen);
    if (ret == 0)
        ret = load_blobs(dir, out, err, errlen);
    if (ret != 0)
        hl_node_home_dispose(out);
    return ret;
}

void hl_node_home_dispose(hl_node_home_t *h)
{
    json_decref(h->identity);
    json_decref(h->devices);
    json_decref(h->conversations);
    json_decref(h->blobs);
    memset(h, 0, sizeof(*h));
}
