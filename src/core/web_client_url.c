/*
 * The web-client pairing URL (include/hl/web_client_url.h): `<base>/app#session=…&code=…`, values percent-encoded.
 */
#include <string.h>

#include "hl/common.h"
#include "hl/web_client_url.h"

static int unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
           c == '~';
}

/* Appends the percent-encoding of s at out (room for 3 bytes per byte of s); returns the new end. */
static char *encode(char *out, const char *s)
{
    static const char HEX[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)(s != NULL ? s : ""); *p != '\0'; ++p) {
        if (unreserved(*p)) {
            *out++ = (char)*p;
        } else {
            *out++ = '%';
            *out++ = HEX[*p >> 4];
            *out++ = HEX[*p & 15];
        }
    }
    return out;
}

char *hl_web_client_url(const char *base, const char *session_id, const char *code)
{
    static const char APP[] = "/app#session=", CODE[] = "&code=";
    size_t base_len = base != NULL ? strlen(base) : 0;
    if (base_len > 0 && base[base_len - 1] == '/')
        --base_len;
    size_t sid_len = session_id != NULL ? strlen(session_id) : 0, code_len = code != NULL ? strlen(code) : 0;
    char *url = hl_malloc(base_len + sizeof(APP) + sizeof(CODE) + 3 * (sid_len + code_len) + 1);
    char *p = url;
    if (base_len > 0)
        memcpy(p, base, base_len);
    p += base_len;
    memcpy(p, APP, sizeof(APP) - 1);
    p = encode(p + sizeof(APP) - 1, session_id);
    memcpy(p, CODE, sizeof(CODE) - 1);
    p = encode(p + sizeof(CODE) - 1, code);
    *p = '\0';
    return url;
}

const char *hl_web_client_base(const json_t *preferred_urls, const char *fallback)
{
    const char *first = json_string_value(json_array_get(preferred_urls, 0));
    return first != NULL && *first != '\0' ? first : fallback;
}
