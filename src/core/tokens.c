#include "hl/tokens.h"

#include <ctype.h>
#include <string.h>

#include "hl/common.h"
#include "hl/ids.h"

static char *prefixed(const char *prefix, size_t nbytes)
{
    unsigned char raw[32];
    hl_random_bytes(raw, nbytes);
    char *b64 = hl_base64url(raw, nbytes);
    char *out = hl_asprintf("%s%s", prefix, b64);
    free(b64);
    return out;
}

char *hl_token_new_access(void)
{
    return prefixed(HL_ACCESS_PREFIX, 24);
}

char *hl_token_new_refresh(void)
{
    return prefixed(HL_REFRESH_PREFIX, 24);
}

char *hl_token_new_connect(void)
{
    return prefixed("", 32);
}

void hl_token_hash(const char *token, size_t len, hl_token_hash_t *out)
{
    hl_sha256(token, len, out->bytes);
}

char *hl_token_hash_hex(const hl_token_hash_t *h, char out[65])
{
    return hl_hex(h->bytes, sizeof(h->bytes), out);
}

int hl_token_hash_from_hex(const char *hex, hl_token_hash_t *out)
{
    if (hex == NULL || strlen(hex) != 64)
        return -1;
    for (size_t i = 0; i < 32; ++i) {
        int hi = hl_hexval(hex[2 * i]), lo = hl_hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out->bytes[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}

bool hl_bearer_from_header(const char *value, size_t len, const char **token, size_t *token_len)
{
    while (len > 0 && isspace((unsigned char)*value))
        ++value, --len;
    if (len < 6 || strncasecmp(value, "bearer", 6) != 0)
        return false;
    value += 6;
    len -= 6;
    if (len == 0 || !isspace((unsigned char)*value))
        return false;
    while (len > 0 && isspace((unsigned char)*value))
        ++value, --len;
    while (len > 0 && isspace((unsigned char)value[len - 1]))
        --len;
    if (len == 0)
        return false;
    *token = value;
    *token_len = len;
    return true;
}

static void trim(const char **s, size_t *len)
{
    while (*len > 0 && isspace((unsigned char)**s))
        ++*s, --*len;
    while (*len > 0 && isspace((unsigned char)(*s)[*len - 1]))
        --*len;
}

bool hl_app_instance_valid(const char *s, size_t len)
{
    trim(&s, &len);
    if (len < 5 + 16 || len > 5 + 96 || strncmp(s, "appi_", 5) != 0)
        return false;
    for (size_t i = 5; i < len; ++i)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-')
            return false;
    return true;
}

char *hl_app_instance_hash(const char *id, size_t len, char out[65])
{
    trim(&id, &len);
    char *salted = hl_asprintf("hermespilot-app-instance:%.*s", (int)len, id);
    hl_sha256_hex(salted, strlen(salted), out);
    free(salted);
    return out;
}

char *hl_normalize_descriptor(const char *s, size_t max, bool lower, const char *fallback)
{
    if (s == NULL)
        return fallback != NULL ? hl_strdup(fallback) : NULL;
    size_t len = strlen(s);
    trim(&s, &len);
    /* cut at `max` characters (code points), never inside a UTF-8 sequence */
    size_t bytes = 0, chars = 0;
    while (bytes < len && chars < max) {
        unsigned char c = (unsigned char)s[bytes];
        size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
        if (bytes + n > len)
            break;
        bytes += n;
        ++chars;
    }
    /* a cut may leave trailing spaces: trim again, as a trimmed-then-cut label is what users expect */
    while (bytes > 0 && isspace((unsigned char)s[bytes - 1]))
        --bytes;
    if (bytes == 0)
        return fallback != NULL ? hl_strdup(fallback) : NULL;
    char *out = hl_strndup(s, bytes);
    if (lower)
        for (char *p = out; *p; ++p)
            *p = (char)tolower((unsigned char)*p);
    return out;
}
