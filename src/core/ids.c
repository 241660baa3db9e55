#include "hl/ids.h"

#include <pthread.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

void hl_random_bytes(void *buf, size_t len)
{
    if (RAND_bytes(buf, (int)len) != 1)
        hl_fatal("RAND_bytes failed");
}

char *hl_hex(const void *data, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    const unsigned char *p = data;
    for (size_t i = 0; i < len; ++i) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * len] = '\0';
    return out;
}

char *hl_random_hex_id(const char *prefix, size_t nbytes)
{
    unsigned char raw[64];
    if (nbytes > sizeof(raw))
        hl_fatal("id too long");
    hl_random_bytes(raw, nbytes);
    size_t plen = strlen(prefix);
    char *out = hl_malloc(plen + 2 * nbytes + 1);
    memcpy(out, prefix, plen);
    hl_hex(raw, nbytes, out + plen);
    return out;
}

char *hl_base64url(const void *data, size_t len)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const unsigned char *p = data;
    char *out = hl_malloc((len + 2) / 3 * 4 + 1), *o = out;
    size_t i = 0;
    for (; i + 2 < len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        *o++ = alphabet[v >> 18 & 63];
        *o++ = alphabet[v >> 12 & 63];
        *o++ = alphabet[v >> 6 & 63];
        *o++ = alphabet[v & 63];
    }
    if (i + 1 == len) {
        uint32_t v = (uint32_t)p[i] << 16;
        *o++ = alphabet[v >> 18 & 63];
        *o++ = alphabet[v >> 12 & 63];
    } else if (i + 2 == len) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        *o++ = alphabet[v >> 18 & 63];
        *o++ = alphabet[v >> 12 & 63];
        *o++ = alphabet[v >> 6 & 63];
    }
    *o = '\0';
    return out;
}

/* OpenSSL 3's one-shot SHA256() fetches the implementation (a process-wide lock) and allocates a context on every call,
 * which dominated the cost of an authenticated request; fetch once and keep one context per thread instead. */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;
static pthread_key_t sha256_ctx_key;

static void free_ctx(void *ctx)
{
    EVP_MD_CTX_free(ctx);
}

static void sha256_init(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (sha256_md == NULL || pthread_key_create(&sha256_ctx_key, free_ctx) != 0)
        hl_fatal("cannot set up SHA-256");
}

void hl_sha256(const void *data, size_t len, unsigned char out[32])
{
    pthread_once(&sha256_once, sha256_init);
    EVP_MD_CTX *ctx = pthread_getspecific(sha256_ctx_key);
    if (ctx == NULL) {
        if ((ctx = EVP_MD_CTX_new()) == NULL || pthread_setspecific(sha256_ctx_key, ctx) != 0)
            hl_fatal("cannot allocate a SHA-256 context");
    }
    unsigned int n = 0;
    if (EVP_DigestInit_ex(ctx, sha256_md, NULL) != 1 || EVP_DigestUpdate(ctx, data, len) != 1 ||
        EVP_DigestFinal_ex(ctx, out, &n) != 1 || n != 32)
        hl_fatal("SHA-256 failed");
}

char *hl_sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[32];
    hl_sha256(data, len, md);
    return hl_hex(md, sizeof(md), out);
}

bool hl_consttime_equal(const void *a, size_t alen, const void *b, size_t blen)
{
    if (alen != blen)
        return false;
    return CRYPTO_memcmp(a, b, alen) == 0;
}
