/*
 * Text as Hermes (Python 3) sees it: Hermes decodes its files as UTF-8 and then counts, cuts and strips code points, so
 * a limit of 2200 "characters" is 2200 code points and strip() also removes Unicode blanks such as U+00A0 or U+3000.
 * Doing the same on bytes keeps our entries and counts identical to Hermes's for every valid UTF-8 text.
 */
#include <stdint.h>

#include "hermes_internal.h"

/* Length of the valid UTF-8 sequence at s (RFC 3629), 0 if invalid or NUL. */
static size_t seq_len(const unsigned char *s, size_t avail)
{
    unsigned c = s[0];
    if (c == 0)
        return 0;
    if (c < 0x80)
        return 1;
    size_t n;
    uint32_t cp;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (avail < n)
        return 0;
    for (size_t i = 1; i < n; ++i) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return n;
}

bool hermes_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        size_t n = seq_len(p + i, len - i);
        if (n == 0)
            return false;
        i += n;
    }
    return true;
}

size_t hermes_utf8_chars(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; ++i)
        n += ((unsigned char)s[i] & 0xc0) != 0x80;
    return n;
}

size_t hermes_utf8_prefix(const char *s, size_t len, size_t chars)
{
    size_t seen = 0;
    for (size_t i = 0; i < len; ++i) {
        if (((unsigned char)s[i] & 0xc0) != 0x80 && seen++ == chars)
            return i;
    }
    return len;
}

size_t hermes_space_at(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    if (len == 0)
        return 0;
    if ((p[0] >= 0x09 && p[0] <= 0x0d) || (p[0] >= 0x1c && p[0] <= 0x20))
        return 1;
    if (len >= 2 && p[0] == 0xc2 && (p[1] == 0x85 || p[1] == 0xa0))
        return 2;
    if (len < 3)
        return 0;
    if (p[0] == 0xe1 && p[1] == 0x9a && p[2] == 0x80) /* U+1680 */
        return 3;
    if (p[0] == 0xe2 && p[1] == 0x80 && ((p[2] >= 0x80 && p[2] <= 0x8a) || p[2] == 0xa8 || p[2] == 0xa9 || p[2] == 0xaf))
        return 3;                                     /* U+2000-U+200A, U+2028, U+2029, U+202F */
    if (p[0] == 0xe2 && p[1] == 0x81 && p[2] == 0x9f) /* U+205F */
        return 3;
    if (p[0] == 0xe3 && p[1] == 0x80 && p[2] == 0x80) /* U+3000 */
        return 3;
    return 0;
}

size_t hermes_strip(const char *s, size_t len, size_t *start)
{
    size_t b = 0, e = len, n;
    while (b < e && (n = hermes_space_at(s + b, e - b)) > 0)
        b += n;
    while (e > b) {
        size_t c = e - 1; /* the start of the last character */
        while (c > b && ((unsigned char)s[c] & 0xc0) == 0x80)
            --c;
        if (hermes_space_at(s + c, e - c) != e - c)
            break;
        e = c;
    }
    *start = b;
    return e - b;
}
