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

/* The value part of an assignment line (just after '='), its key in [*key, *key + *key_len); NULL when the line is no
 * assignment. Keys and blanks as hl_dotenv_parse reads them. */
static const char *assignment(const char *line, const char *end, const char **key, size_t *key_len)
{
    const char *p = line;
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\v' || *p == '\f'))
        ++p;
    if ((size_t)(end - p) > 7 && memcmp(p, "export", 6) == 0 && (p[6] == ' ' || p[6] == '\t' || p[6] == '\v' || p[6] == '\f')) {
        p += 7;
        while (p < end && (*p == ' ' || *p == '\t' || *p == '\v' || *p == '\f'))
            ++p;
    }
    *key = p;
    if (p == end || !((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || *p == '_'))
        return NULL;
    while (p < end && ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
        ++p;
    *key_len = (size_t)(p - *key);
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\v' || *p == '\f'))
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

/*
 * True when `out` reads (hl_dotenv_parse) as `text` with `key` set to `value` and nothing else changed. Statements that
 * do not parse are skipped line by line, so a quote one of them opens can be closed by a later line: replacing that
 * line can make the quotes pair up differently and swallow or reveal other lines. This catches every such case.
 */
static bool reads_as_intended(const char *text, size_t len, const char *out, size_t out_len, const char *key, const char *value)
{
    hl_dotenv_t before, after;
    hl_dotenv_parse(&before, text, len);
    hl_dotenv_parse(&after, out, out_len);
    const char *got = hl_dotenv_get(&after, key);
    bool ok = got != NULL && strcmp(got, value) == 0 && after.count == before.count + (hl_dotenv_get(&before, key) == NULL);
    for (size_t i = 0; ok && i < before.count; ++i) {
        if (strcmp(before.keys[i], key) == 0)
            continue;
        const char *v = hl_dotenv_get(&after, before.keys[i]);
        ok = v != NULL && strcmp(v, before.values[i]) == 0;
    }
    hl_dotenv_dispose(&before);
    hl_dotenv_dispose(&after);
    return ok;
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
        const char *k = NULL;
        size_t k_len = 0;
        const char *v = assignment(p, line_end, &k, &k_len);
        /* a statement: one line, or an assignment with the lines of a quoted value that goes on past its first line
           (whatever key it assigns: a line inside another key's value is no assignment of ours) */
        const char *stop = v != NULL ? quoted_end(v, end) : NULL;
        if (stop == NULL || stop <= line_end)
            stop = line_end;
        const char *next = memchr(stop, '\n', (size_t)(end - stop));
        const char *after = next != NULL ? next + 1 : end;
        if (v == NULL || k_len != strlen(key) || memcmp(k, key, k_len) != 0) {
            put(&b, p, (size_t)(after - p));
        } else {
            if (!written)
                put(&b, line.p, line.len);
            written = true;
        }
        p = after;
    }
    if (!written) {
        if (b.len > 0 && b.p[b.len - 1] != '\n')
            put(&b, "\n", 1);
        put(&b, line.p, line.len);
    }
    if (b.len > 0 && b.p[b.len - 1] != '\n')
        put(&b, "\n", 1); /* a last line of the file kept below the key's line */
    while (b.len > 1 && b.p[b.len - 1] == '\n' && b.p[b.len - 2] == '\n')
        b.p[--b.len] = '\0'; /* exactly one newline at the end */
    explicit_bzero(line.p, line.len);
    free(line.p);
    if (!reads_as_intended(text, len, b.p, b.len, key, value)) {
        explicit_bzero(b.p, b.len);
        free(b.p);
        *out_len = 0;
        return NULL;
    }
    *out_len = b.len;
    return b.p;
}
