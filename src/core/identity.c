#include "hl/identity.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "hl/clock.h"
#include "hl/fsutil.h"
#include "hl/ids.h"

/* A non-empty string field, copied; NULL when absent or of another type. */
static char *dup_field(json_t *root, const char *key)
{
    json_t *v = json_object_get(root, key);
    return json_is_string(v) && json_string_length(v) > 0 ? hl_strdup(json_string_value(v)) : NULL;
}

int hl_identity_load(const char *home, hl_identity_t *id, char *err, size_t errlen)
{
    memset(id, 0, sizeof(*id));
    char *path = hl_path_join(home, "identity.json"), *text = NULL;
    int ret = hl_read_file(path, 1024 * 1024, &text, NULL);
    free(path);
    if (ret != 0) {
        if (ret != -ENOENT)
            snprintf(err, errlen, "identity.json cannot be read (%s)", strerror(-ret));
        return ret;
    }
    json_t *root = json_loads(text, 0, NULL);
    free(text);
    if (!json_is_object(root)) {
        json_decref(root);
        snprintf(err, errlen, "identity.json is not a JSON object");
        return -EINVAL;
    }
    id->install_id = dup_field(root, "install_id");
    id->link_id = dup_field(root, "link_id");
    id->public_key_pem = dup_field(root, "public_key_pem");
    id->private_key_pem = dup_field(root, "private_key_pem");
    id->created_at = dup_field(root, "created_at");
    id->updated_at = dup_field(root, "updated_at");
    json_decref(root);
    if (id->install_id == NULL || id->public_key_pem == NULL || id->private_key_pem == NULL || id->created_at == NULL) {
        snprintf(err, errlen, "identity.json is missing install_id, keys or created_at");
        hl_identity_dispose(id);
        return -EINVAL;
    }
    if (id->updated_at == NULL)
        id->updated_at = hl_strdup(id->created_at);
    return 0;
}

static char *pem_of(EVP_PKEY *key, int private)
{
    BIO *bio = BIO_new(BIO_s_mem());
    int ok = private ? PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) : PEM_write_bio_PUBKEY(bio, key);
    char *out = NULL;
    if (ok) {
        char *data;
        long len = BIO_get_mem_data(bio, &data);
        out = hl_strndup(data, (size_t)len);
    }
    BIO_free(bio);
    return out;
}

static int create(const char *home, hl_identity_t *id, char *err, size_t errlen)
{
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    if (key == NULL) {
        snprintf(err, errlen, "cannot generate the ed25519 identity key");
        return -EIO;
    }
    char now[HL_ISO_TIME_LEN];
    hl_format_iso(hl_now_ms(), now);
    id->install_id = hl_random_hex_id("install_", 16);
    id->link_id = hl_random_hex_id("link_", 16);
    id->public_key_pem = pem_of(key, 0);
    id->private_key_pem = pem_of(key, 1);
    id->created_at = hl_strdup(now);
    id->updated_at = hl_strdup(now);
    EVP_PKEY_free(key);
    if (id->public_key_pem == NULL || id->private_key_pem == NULL) {
        snprintf(err, errlen, "cannot encode the identity key");
        hl_identity_dispose(id);
        return -EIO;
    }
    json_t *root = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "install_id", id->install_id, "link_id", id->link_id,
                             "public_key_pem", id->public_key_pem, "private_key_pem", id->private_key_pem, "created_at",
                             id->created_at, "updated_at", id->updated_at);
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(root);
    char *with_nl = hl_asprintf("%s\n", text), *path = hl_path_join(home, "identity.json");
    int ret = hl_write_file_atomic(path, with_nl, strlen(with_nl), 0600);
    free(text);
    free(with_nl);
    free(path);
    if (ret != 0) {
        snprintf(err, errlen, "cannot write identity.json (%s)", strerror(-ret));
        hl_identity_dispose(id);
    }
    return ret;
}

int hl_identity_ensure(const char *home, hl_identity_t *id, char *err, size_t errlen)
{
    int ret = hl_identity_load(home, id, err, errlen);
    if (ret == -ENOENT)
        ret = create(home, id, err, errlen);
    return ret;
}

void hl_identity_dispose(hl_identity_t *id)
{
    free(id->install_id);
    free(id->link_id);
    free(id->public_key_pem);
    free(id->private_key_pem);
    free(id->created_at);
    free(id->updated_at);
    memset(id, 0, sizeof(*id));
}
