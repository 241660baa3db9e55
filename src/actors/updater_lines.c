/*
 * The output lines an update status shows (spec/API.md §13): the last UPD_MAX_LINES non-empty lines, each cut to
 * UPD_MAX_LINE characters + "...". Output is whatever a command printed, so it is made valid UTF-8 here first.
 */
#include <string.h>

#include "hl/common.h"
#include "updater_internal.h"

/* Length of the valid UTF-8 sequence at s (at most `len` bytes), or 0 when it is not one. */
static size_t utf8_seq(const unsigned char *s, size_t len)
{
    size_t n;
    unsigned min;
    unsigned cp;
    if (s[0] < 0x80)
        return 1;
    if ((s[0] & 0xe0) == 0xc0)
        n = 2, min = 0x80, cp = s[0] & 0x1f;
    else if ((s[0] & 0xf0) == 0xe0)
        n = 3, min = 0x800, cp = s[0] & 0x0f;
    else if ((s[0] & 0xf8) == 0xf0)
        n = 4, min = 0x10000, cp = s[0] & 0x07;
    else
        return 0;
    if (n > len)
        return 0;
    for (size_t i = 1; i < n; ++i) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

bool upd_lines_add(json_t *lines, const char *s, size_t len)
{
    while (len > 0 && (s[len - 1] == '\r' || s[len - 1] == '\n'))
        --len;
    bool blank = true;
    for (size_t i = 0; i < len && blank; ++i)
        blank = s[i] == ' ' || s[i] == '\t' || s[i] == '\r';
    if (blank)
        return false;
    /* at most UPD_MAX_LINE characters of at most 4 bytes, then "..." */
    char *out = hl_malloc(len < (size_t)UPD_MAX_LINE * 4 ? len + 4 : (size_t)UPD_MAX_LINE * 4 + 4);
    size_t o = 0, chars = 0, i = 0;
    while (i < len && chars < UPD_MAX_LINE) {
        size_t n = utf8_seq((const unsigned char *)s + i, len - i);
        if (n == 0 || (n == 1 && (unsigned char)s[i] < 0x20 && s[i] != '\t')) {
            out[o++] = '?'; /* not UTF-8, or a control character (a terminal's escape sequences) */
            i += n == 0 ? 1 : n;
        } else {
            memcpy(out + o, s + i, n);
            o += n, i += n;
        }
        ++chars;
    }
    if (i < len) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    json_array_append_new(lines, json_stringn(out, o));
    free(out);
    while (json_array_size(lines) > UPD_MAX_LINES)
        json_array_remove(lines, 0);
    return true;
}

void upd_lines_add_text(json_t *lines, const char *text, size_t len)
{
    size_t start = 0;
    for (size_t i = 0; i < len; ++i) {
        if (text[i] == '\n') {
            upd_lines_add(lines, text + start, i - start);
            start = i + 1;
        }
    }
    if (start < len)
        upd_lines_add(lines, text + start, len - start);
}
