/*
 * The release manifest of HermesLink's self-update and its signature (SECURITY.md "Self-update"). A manifest names one
 * version and, per platform, the binary's URL, size, SHA-256 and an ed25519 signature over a canonical text that binds
 * all four to the platform; the key is compiled in (HL_UPDATE_PUBLIC_KEY) or given by config updatePublicKey.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include <openssl/evp.h>

#include "hl/common.h"
#include "updater_internal.h"

const char *upd_platform(void)
{
    static char platform[96];
    if (platform[0] == '\0') {
        struct utsname u;
        if (uname(&u) != 0)
            return "unknown";
        char os[32];
        size_t i = 0;
        for (; u.sysname[i] != '\0' && i < sizeof(os) - 1; ++i)
            os[i] = (char)tolower((unsigned char)u.sysname[i]);
        os[i] = '\0';
        snprintf(platform, sizeof(platform), "%s-%.40s", os, u.machine);
    }
    return platform;
}

/* Decodes standard base64 into out (exactly `want` bytes); 0 or -EINVAL. */
static int b64_exact(const char *s, unsigned char *out, size_t want)
{
    size_t len = strlen(s);
    if (len == 0 || len % 4 != 0 || len / 4 * 3 > want + 2)
        return -EINVAL;
    unsigned char buf[96];
    if (len / 4 * 3 > sizeof(buf))
        return -EINVAL;
    int n = EVP_DecodeBlock(buf, (const unsigned char *)s, (int)len);
    if (n < 0)
        return -EINVAL;
    size_t pad = (s[len - 1] == '=') + (s[len - 2] == '=');
    if ((size_t)n - pad != want)
        return -EINVAL;
    memcpy(out, buf, want);
    return 0;
}

static bool valid_version(const char *v)
{
    size_t len = strlen(v);
    if (len == 0 || len > 64)
        return false;
    const char *p = v[0] == 'v' ? v + 1 : v;
    if (!isdigit((unsigned char)*p))
        return false;
    for (; *p; ++p)
        if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-' && *p != '+')
            return false;
    return true;
}

static bool valid_url(const char *s)
{
    if (strlen(s) > 2048 || (strncmp(s, "http://", 7) != 0 && strncmp(s, "https://", 8) != 0))
        return false;
    for (const char *p = s; *p; ++p)
        if ((unsigned char)*p <= ' ' || *p == '"' || *p == '\\')
            return false;
    return true;
}

static bool valid_sha256(const char *s)
{
    if (strlen(s) != 64)
        return false;
    for (const char *p = s; *p; ++p)
        if (!isxdigit((unsigned char)*p) || isupper((unsigned char)*p))
            return false;
    return true;
}

static char *opt_string(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s != NULL && strlen(s) <= 2048 ? hl_strdup(s) : NULL;
}

int upd_manifest_parse(const char *text, size_t len, const char *platform, upd_release_t *out, const char **why)
{
    memset(out, 0, sizeof(*out));
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
    int ret = -EINVAL;
    if (!json_is_object(root)) {
        *why = "The release feed did not answer with a JSON object";
        goto Exit;
    }
    const char *version = json_string_value(json_object_get(root, "version"));
    if (version == NULL || !valid_version(version)) {
        *why = "The release manifest has no valid version";
        goto Exit;
    }
    json_t *p = json_object_get(json_object_get(root, "platforms"), platform);
    if (!json_is_object(p)) {
        *why = "The release manifest offers no binary for this platform";
        goto Exit;
    }
    const char *url = json_string_value(json_object_get(p, "url"));
    const char *sha = json_string_value(json_object_get(p, "sha256"));
    const char *sig = json_string_value(json_object_get(p, "signature"));
    json_t *size = json_object_get(p, "size");
    if (url == NULL || !valid_url(url) || sha == NULL || !valid_sha256(sha) || sig == NULL || !json_is_integer(size) ||
        json_integer_value(size) <= 0) {
        *why = "The release manifest's entry for this platform is incomplete (url, sha256, size, signature)";
        goto Exit;
    }
    if ((uint64_t)json_integer_value(size) > UPD_MAX_BINARY_BYTES) {
        *why = "The release's binary is larger than HermesLink accepts";
        goto Exit;
    }
    if (b64_exact(sig, out->signature, sizeof(out->signature)) != 0) {
        *why = "The release manifest's signature is not the base64 of 64 bytes";
        goto Exit;
    }
    out->version = hl_strdup(version);
    out->platform = hl_strdup(platform);
    out->url = hl_strdup(url);
    out->sha256 = hl_strdup(sha);
    out->size = (uint64_t)json_integer_value(size);
    out->release_url = opt_string(root, "release_url");
    out->published_at = opt_string(root, "published_at");
    out->min_safe_version = opt_string(root, "min_safe_version");
    ret = 0;
Exit:
    json_decref(root);
    return ret;
}

void upd_release_dispose(upd_release_t *r)
{
    free(r->version);
    free(r->platform);
    free(r->url);
    free(r->sha256);
    free(r->release_url);
    free(r->published_at);
    free(r->min_safe_version);
    memset(r, 0, sizeof(*r));
}

char *upd_signed_text(const upd_release_t *r)
{
    return hl_asprintf("hermeslink-release-v1\n%s\n%s\n%llu\n%s\n", r->version, r->platform, (unsigned long long)r->size,
                       r->sha256);
}

int upd_release_verify(const upd_release_t *r, const char *public_key_b64)
{
    unsigned char raw[32];
    if (public_key_b64 == NULL || b64_exact(public_key_b64, raw, sizeof(raw)) != 0)
        return -EINVAL;
    EVP_PKEY *key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, raw, sizeof(raw));
    if (key == NULL)
        return -EINVAL;
    char *text = upd_signed_text(r);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx != NULL && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, key) == 1 &&
             EVP_DigestVerify(ctx, r->signature, sizeof(r->signature), (const unsigned char *)text, strlen(text)) == 1;
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(key);
    free(text);
    return ok ? 0 : -EBADMSG;
}

/* The next dotted number of a version, advancing *p past it (and its dot); -1 at the end. */
static long next_part(const char **p)
{
    if (!isdigit((unsigned char)**p))
        return -1;
    long v = 0;
    while (isdigit((unsigned char)**p)) {
        if (v < 100000000)
            v = v * 10 + (**p - '0');
        ++*p;
    }
    if (**p == '.')
        ++*p;
    return v;
}

int upd_version_cmp(const char *a, const char *b)
{
    if (*a == 'v')
        ++a;
    if (*b == 'v')
        ++b;
    for (int i = 0; i < 3; ++i) {
        long x = next_part(&a), y = next_part(&b);
        if (x < 0)
            x = 0;
        if (y < 0)
            y = 0;
        if (x != y)
            return x < y ? -1 : 1;
    }
    return 0;
}
