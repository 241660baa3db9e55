/*
 * Writing one key of a profile's `.env` (spec STORAGE §3.6), changing nothing else: each assignment of the key (with or
 * without `export `, a quoted value spanning lines included) becomes `KEY="value"` with \\, \" and \n escapes — which
 * python-dotenv, Hermes's reader, and hl_dotenv_parse read back as the same value; a key not yet there is appended.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "hl/hermes_read.h"

typedef struct st_buf_t {
    char *p;
    size_t len, cap;
} buf_t;

static void put(buf_t *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->p = hl_realloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

bool hl_dotenv_valid_key(const char *key)
{
    if (key == NULL || !((key[0] >= 'A' && key[0] <= 'Z') || (key[0] >= 'a' && key[0] <= 'z') || key[0] == '_'))
        return false;
    for (const char *p = key; *p != '\0'; ++p)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return false;
    return strlen(key) <= 128;
}

bool hl_hermes_valid_key_env(const char *name)
{
    static const char SUFFIX[] = "_API_KEY";
    size_t n = name != NULL ? strlen(name) : 0, s = sizeof(SUFFIX) - 1;
    if (n <= s || n > 64 || strcmp(name + n - s, SUFFIX) != 0 || !(name[0] >= 'A' && name[0] <= 'Z'))
        return false;
    for (size_t i = 0; i < n; ++i)
        if (!((name[i] >= 'A' && name[i] <= 'Z') || (name[i] >= '0' && name[i] <= '9') || name[i] == '_'))
            return false;
    return true;
}

/* The value part of an assignment line of `key` (just after '='), or NULL when the line assigns another key. */
static const char *assignment_of(const char *line, const char *end, const char *key)
{
    const char *p = line;
    while (p < end && (*p == ' ' || *p == '\t'))
        ++p;
    if ((size_t)(end - p) > 7 && memcmp(p, "export", 6) == 0 && (p[6] == ' ' || p[6] == '\t')) {
        p += 7;
        while (p < end && (*p == ' ' || *p == '\t'))
            ++p;
    }
    size_t k = strlen(key);
    if ((size_t)(end - p) < k || memcmp(p, key, k) != 0)
        return NULL;
    p += k;
    while (p < end && (*p == ' ' || *p == '\t'))
        ++p;
    return p < end && *p == '=' ? p + 1 : NULL;
}

static bool blank(char c)
{
    return c == ' ' || c == '\t' || c == '\v' || c == '\f';
}

/*
 * Where a quoted value opened at `v` (within [v, end of text)) closes: the position just past its closing quote. NULL
 * when the statement is not one quoted value: unquoted, a quote that does not close or holds a NUL, or text other than a
 * comment after the closing quote. Then, as hl_dotenv_parse (and python-dotenv) resume on the next line, the
 * assignment is its first line only: the lines below it are other statements, kept.
 */
static const char *quoted_end(const char *v, const char *text_end)
{
    while (v < text_end && blank(*v))
        ++v;
    if (v == text_end || (*v != '"' && *v != '\''))
        return NULL;
    char q = *v;
    const char *p = v + 1;
    for (; p < text_end && *p != q; ++p) {
        if (*p == '\0')
            return NULL;
        if (q == '"' && *p == '\\' && p + 1 < text_end)
            ++p;
    }
    if (p == text_end)
        return NULL;
    const char *close = p + 1;
    for (p = close; p < text_end && blank(*p); ++p)
        ;
    bool eol = p == text_end || *p == '\n' || *p == '#' || (*p == '\r' && (p + 1 == text_end || p[1] == '\n'));
    return eol ? close : NULL;
}

char *hl_dotenv_set(const char *text, size_t len, const char *key, const char *value, size_t *out_len)
{
    buf_t b = {0};
    put(&b, "", 0);
    buf_t line = {0};
    put(&line, key, strlen(key));
    put(&line, "=\"", 2);
    for (const char *v = value; *v != '\0'; ++v) {
        switch (*v) {
        case '\\':
            put(&line, "\\\\", 2);
            break;
        case '"':
            put(&line, "\\\"", 2);
            break;
        case '\n':
            put(&line, "\\n", 2);
            break;
        case '\r':
            put(&line, "\\r", 2);
            break;
        default:
            put(&line, v, 1);
        }
    }
    put(&line, "\"\n", 2);
    bool written = false;
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = eol != NULL ? eol : end;
        const char *v = assignment_of(p, line_end, key);
        if (v == NULL) {
            put(&b, p, (size_t)(line_end - p) + (eol != NULL ? 1 : 0));
            p = eol != NULL ? eol + 1 : end;
            continue;
        }
        /* this assignment, with the lines of a quoted value that goes on past its first line */
        const char *stop = quoted_end(v, end);
        if (stop == NULL || stop <= line_end)
            stop = line_end;
        const char *next = memchr(stop, '\n', (size_t)(end - stop));
        p = next != NULL ? next + 1 : end;
        if (!written)
            put(&b, line.p, line.len);
        written = true;
    }
    if (!written) {
        if (b.len > 0 && b.p[b.len - 1] != '\n')
            put(&b, "\n", 1);
        put(&b, line.p, line.len);
    }
    while (b.len > 1 && b.p[b.len - 1] == '\n' && b.p[b.len - 2] == '\n')
        b.p[--b.len] = '\0'; /* exactly one newline at the end */
    explicit_bzero(line.p, line.len);
    free(line.p);
    *out_len = b.len;
    return b.p;
}
