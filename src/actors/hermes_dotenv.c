/*
 * A profile's `.env`, parsed the way python-dotenv (which Hermes uses) reads it, closely enough for the keys we need: a
 * statement it cannot make sense of is skipped, not fatal, because Hermes itself keeps going past it and a key further
 * down still applies to its API server.
 */
#include <string.h>

#include "hl/hermes_read.h"

typedef struct st_cursor_t {
    const char *p, *end;
    size_t line; /* 1-based line of p */
} cursor_t;

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\v' || c == '\f';
}

static int at_eol(const cursor_t *c)
{
    return c->p == c->end || *c->p == '\n' || (*c->p == '\r' && (c->p + 1 == c->end || c->p[1] == '\n'));
}

static void skip_blanks(cursor_t *c)
{
    while (c->p < c->end && is_blank(*c->p))
        ++c->p;
}

/* Moves past the end of the current line (its newline included). */
static void skip_line(cursor_t *c)
{
    while (c->p < c->end && *c->p != '\n')
        ++c->p;
    if (c->p < c->end) {
        ++c->p;
        ++c->line;
    }
}

static void set(hl_dotenv_t *env, const char *key, size_t key_len, char *value)
{
    for (size_t i = 0; i < env->count; ++i) {
        if (strlen(env->keys[i]) == key_len && memcmp(env->keys[i], key, key_len) == 0) {
            explicit_bzero(env->values[i], strlen(env->values[i]));
            free(env->values[i]);
            env->values[i] = value; /* the last assignment wins, as in a shell */
            return;
        }
    }
    if (env->count == env->_cap) {
        env->_cap = env->_cap == 0 ? 16 : env->_cap * 2;
        env->keys = hl_realloc(env->keys, env->_cap * sizeof(*env->keys));
        env->values = hl_realloc(env->values, env->_cap * sizeof(*env->values));
    }
    env->keys[env->count] = hl_strndup(key, key_len);
    env->values[env->count++] = value;
}

static char unescape(char c)
{
    switch (c) {
    case 'n':
        return '\n';
    case 'r':
        return '\r';
    case 't':
        return '\t';
    default: /* \" \' \\ */
        return c;
    }
}

/* A quoted value from the opening quote at c->p; NULL when it is not closed (or holds a NUL). */
static char *quoted_value(cursor_t *c)
{
    char quote = *c->p++;
    const char *start = c->p;
    size_t lines = 0;
    while (c->p < c->end && *c->p != quote) {
        if (*c->p == '\0')
            return NULL;
        if (*c->p == '\n')
            ++lines;
        if (quote == '"' && *c->p == '\\' && c->p + 1 < c->end)
            ++c->p;
        ++c->p;
    }
    if (c->p == c->end)
        return NULL;
    char *out = hl_malloc((size_t)(c->p - start) + 1), *o = out;
    for (const char *s = start; s < c->p; ++s) {
        if (quote == '"' && *s == '\\' && strchr("nrt\"'\\", s[1]) != NULL)
            *o++ = unescape(*++s);
        else
            *o++ = *s;
    }
    *o = '\0';
    ++c->p; /* the closing quote */
    c->line += lines;
    return out;
}

/* An unquoted value: the rest of the line, cut at a '#' that follows a blank, trimmed; NULL when it holds a NUL. */
static char *unquoted_value(cursor_t *c)
{
    const char *start = c->p, *stop = NULL;
    for (; !at_eol(c); ++c->p) {
        if (*c->p == '\0')
            return NULL;
        if (stop == NULL && *c->p == '#' && c->p > start && is_blank(c->p[-1]))
            stop = c->p;
    }
    if (stop == NULL)
        stop = c->p;
    while (stop > start && (is_blank(stop[-1]) || stop[-1] == '\r'))
        --stop;
    return hl_strndup(start, (size_t)(stop - start));
}

static int key_start(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static int key_char(char c)
{
    return key_start(c) || (c >= '0' && c <= '9');
}

/* One statement from the start of a line; 0, or -1 when it cannot be parsed (the cursor may be anywhere on it). */
static int statement(hl_dotenv_t *env, cursor_t *c)
{
    if (c->end - c->p > 7 && memcmp(c->p, "export", 6) == 0 && is_blank(c->p[6])) {
        c->p += 6;
        skip_blanks(c);
    }
    const char *key = c->p;
    if (c->p == c->end || !key_start(*c->p))
        return -1;
    while (c->p < c->end && key_char(*c->p))
        ++c->p;
    size_t key_len = (size_t)(c->p - key);
    skip_blanks(c);
    if (c->p == c->end || *c->p != '=')
        return -1;
    ++c->p;
    skip_blanks(c);
    char *value;
    if (c->p < c->end && (*c->p == '"' || *c->p == '\'')) {
        if ((value = quoted_value(c)) == NULL)
            return -1;
        skip_blanks(c);
        if (!at_eol(c) && *c->p != '#') {
            explicit_bzero(value, strlen(value));
            free(value);
            return -1;
        }
    } else if ((value = unquoted_value(c)) == NULL) {
        return -1;
    }
    set(env, key, key_len, value);
    return 0;
}

void hl_dotenv_parse(hl_dotenv_t *env, const char *text, size_t len)
{
    memset(env, 0, sizeof(*env));
    cursor_t c = {.p = text, .end = text + len, .line = 1};
    while (c.p < c.end) {
        skip_blanks(&c);
        if (!at_eol(&c) && *c.p != '#') {
            cursor_t line_start = c;
            if (statement(env, &c) != 0) {
                if (env->bad_lines++ == 0)
                    env->first_bad_line = line_start.line;
                c = line_start; /* resume on the next line, not after a quote that never closed */
            }
        }
        skip_line(&c);
    }
}

const char *hl_dotenv_get(const hl_dotenv_t *env, const char *key)
{
    for (size_t i = 0; i < env->count; ++i)
        if (strcmp(env->keys[i], key) == 0)
            return env->values[i];
    return NULL;
}

void hl_dotenv_dispose(hl_dotenv_t *env)
{
    for (size_t i = 0; i < env->count; ++i) {
        free(env->keys[i]);
        explicit_bzero(env->values[i], strlen(env->values[i]));
        free(env->values[i]);
    }
    free(env->keys);
    free(env->values);
    memset(env, 0, sizeof(*env));
}
