#include "hl/common.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void hl__fatal(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("fatal: ", stderr);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (%s:%d)\n", file, line);
    va_end(ap);
    abort();
}

void *hl_malloc(size_t sz)
{
    void *p = malloc(sz == 0 ? 1 : sz);
    if (p == NULL)
        hl_fatal("out of memory allocating %zu bytes", sz);
    return p;
}

void *hl_calloc(size_t n, size_t sz)
{
    void *p = calloc(n == 0 ? 1 : n, sz == 0 ? 1 : sz);
    if (p == NULL)
        hl_fatal("out of memory allocating %zu x %zu bytes", n, sz);
    return p;
}

void *hl_realloc(void *p, size_t sz)
{
    void *np = realloc(p, sz == 0 ? 1 : sz);
    if (np == NULL)
        hl_fatal("out of memory reallocating %zu bytes", sz);
    return np;
}

char *hl_strdup(const char *s)
{
    return s == NULL ? NULL : hl_strndup(s, strlen(s));
}

char *hl_strndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *d = hl_malloc(len + 1);
    memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

char *hl_asprintf(const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        hl_fatal("bad format string");
    char *buf = hl_malloc((size_t)n + 1);
    vsnprintf(buf, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    return buf;
}

int hl_parse_long(const char *s, long min, long max, long *out)
{
    /* digits with an optional leading '-': no spaces, no '+', nothing after */
    if (s == NULL || !((*s >= '0' && *s <= '9') || (*s == '-' && s[1] >= '0' && s[1] <= '9')))
        return -EINVAL;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return -EINVAL;
    *out = v;
    return 0;
}

int hl_hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

size_t hl_utf8_length(const char *s)
{
    size_t n = 0;
    for (; *s; ++s)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}
