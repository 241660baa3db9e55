/*
 * Memory entries in memory: Hermes's parse and serialisation of MEMORY.md / USER.md, its add / replace / remove rules,
 * and the JSON the memory routes show. No I/O here (hermes_memory_file.c reads and writes the files under the lock).
 */
#include "hl/hermes_memory.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "hl/ids.h"
#include "hermes_internal.h"

#define DELIM_LEN (sizeof(HL_MEMORY_DELIMITER) - 1)
#define DELIM_CHARS 3

const char *hl_memory_target_name(hl_memory_target_t t)
{
    return t == HL_MEMORY_TARGET_USER ? "user" : "memory";
}

const char *hl_memory_file_name(hl_memory_target_t t)
{
    return t == HL_MEMORY_TARGET_USER ? "USER.md" : "MEMORY.md";
}

int hl_memory_target_parse(const char *s, hl_memory_target_t *out)
{
    if (s != NULL && strcmp(s, "memory") == 0)
        *out = HL_MEMORY_TARGET_MEMORY;
    else if (s != NULL && strcmp(s, "user") == 0)
        *out = HL_MEMORY_TARGET_USER;
    else
        return -EINVAL;
    return 0;
}

const char *hl_memory_status_code(hl_memory_status_t st)
{
    switch (st) {
    case HL_MEMORY_OK:
        return "ok";
    case HL_MEMORY_UNCHANGED:
        return "unchanged";
    case HL_MEMORY_CONTENT_EMPTY:
        return "memory_content_empty";
    case HL_MEMORY_CONTENT_INVALID:
        return "memory_content_invalid";
    case HL_MEMORY_MATCH_EMPTY:
        return "memory_match_empty";
    case HL_MEMORY_NOT_FOUND:
        return "memory_entry_not_found";
    case HL_MEMORY_AMBIGUOUS:
        return "memory_entry_ambiguous";
    case HL_MEMORY_LIMIT_EXCEEDED:
        return "memory_limit_exceeded";
    case HL_MEMORY_INVALID_PROFILE:
        return "invalid_profile_name";
    case HL_MEMORY_PROFILE_NOT_FOUND:
        return "profile_not_found";
    case HL_MEMORY_UNSAFE_PATH:
        return "memory_path_unsafe";
    case HL_MEMORY_FILE_INVALID:
        return "memory_file_invalid";
    case HL_MEMORY_BUSY:
        return "memory_busy";
    case HL_MEMORY_IO_ERROR:
        break;
    }
    return "internal_error";
}

void hl_memory_entries_push(hl_memory_entries_t *e, const char *s, size_t len)
{
    if (e->count == e->_cap) {
        e->_cap = e->_cap == 0 ? 8 : e->_cap * 2;
        e->items = hl_realloc(e->items, e->_cap * sizeof(*e->items));
    }
    e->items[e->count++] = hl_strndup(s, len);
}

void hl_memory_entries_dispose(hl_memory_entries_t *e)
{
    for (size_t i = 0; i < e->count; ++i)
        free(e->items[i]);
    free(e->items);
    memset(e, 0, sizeof(*e));
}

bool hl_memory_text_valid(const char *text, size_t len)
{
    return hermes_utf8_valid(text, len);
}

/* Adds text[0..len) stripped, unless it strips to nothing. */
static void push_stripped(hl_memory_entries_t *e, const char *text, size_t len)
{
    size_t start, n = hermes_strip(text, len, &start);
    if (n > 0)
        hl_memory_entries_push(e, text + start, n);
}

void hl_memory_parse(hl_memory_entries_t *out, const char *text, size_t len)
{
    memset(out, 0, sizeof(*out));
    size_t from = 0;
    for (;;) {
        const char *d = len - from >= DELIM_LEN ? memmem(text + from, len - from, HL_MEMORY_DELIMITER, DELIM_LEN) : NULL;
        if (d == NULL)
            break;
        push_stripped(out, text + from, (size_t)(d - (text + from)));
        from = (size_t)(d - text) + DELIM_LEN;
    }
    push_stripped(out, text + from, len - from);
}

char *hl_memory_serialize(const hl_memory_entries_t *e, size_t *len)
{
    size_t total = 0;
    for (size_t i = 0; i < e->count; ++i)
        total += strlen(e->items[i]) + (i > 0 ? DELIM_LEN : 0);
    char *out = hl_malloc(total + 1), *p = out;
    for (size_t i = 0; i < e->count; ++i) {
        if (i > 0) {
            memcpy(p, HL_MEMORY_DELIMITER, DELIM_LEN);
            p += DELIM_LEN;
        }
        size_t n = strlen(e->items[i]);
        memcpy(p, e->items[i], n);
        p += n;
    }
    *p = '\0';
    if (len != NULL)
        *len = total;
    return out;
}

static size_t chars_of(const char *s)
{
    return hermes_utf8_chars(s, strlen(s));
}

size_t hl_memory_chars(const hl_memory_entries_t *e)
{
    size_t n = 0;
    for (size_t i = 0; i < e->count; ++i)
        n += chars_of(e->items[i]) + (i > 0 ? DELIM_CHARS : 0);
    return n;
}

static uint64_t hash_str(const char *s)
{
    uint64_t h = 14695981039346656037ull; /* FNV-1a */
    for (; *s; ++s)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

void hl_memory_dedupe(hl_memory_entries_t *e)
{
    /* a hash set of the kept entries: a 1 MiB file may hold a quarter of a million tiny entries */
    size_t cap = 16;
    while (cap < e->count * 2)
        cap *= 2;
    size_t *slots = hl_malloc(cap * sizeof(*slots)), kept = 0;
    memset(slots, 0xff, cap * sizeof(*slots));
    for (size_t i = 0; i < e->count; ++i) {
        size_t s = (size_t)hash_str(e->items[i]) & (cap - 1);
        while (slots[s] != SIZE_MAX && strcmp(e->items[slots[s]], e->items[i]) != 0)
            s = (s + 1) & (cap - 1);
        if (slots[s] != SIZE_MAX) {
            free(e->items[i]);
            continue;
        }
        e->items[kept] = e->items[i];
        slots[s] = kept++;
    }
    e->count = kept;
    free(slots);
}

/* The stripped view of an optional argument. */
static const char *stripped(const char *s, size_t *len)
{
    if (s == NULL)
        s = "";
    size_t start;
    *len = hermes_strip(s, strlen(s), &start);
    return s + start;
}

/* The one entry containing `match` (NUL-terminated copy), or a status. */
static hl_memory_status_t find_match(const hl_memory_entries_t *e, const char *match, size_t *idx)
{
    size_t found = 0;
    for (size_t i = 0; i < e->count; ++i) {
        if (strstr(e->items[i], match) != NULL) {
            if (found++ == 0)
                *idx = i;
        }
    }
    return found == 0 ? HL_MEMORY_NOT_FOUND : found > 1 ? HL_MEMORY_AMBIGUOUS : HL_MEMORY_OK;
}

static hl_memory_status_t add(hl_memory_entries_t *e, const char *content, size_t len, size_t limit)
{
    if (len == 0)
        return HL_MEMORY_CONTENT_EMPTY;
    for (size_t i = 0; i < e->count; ++i)
        if (strlen(e->items[i]) == len && memcmp(e->items[i], content, len) == 0)
            return HL_MEMORY_UNCHANGED;
    size_t total = hl_memory_chars(e) + (e->count > 0 ? DELIM_CHARS : 0) + hermes_utf8_chars(content, len);
    if (total > limit)
        return HL_MEMORY_LIMIT_EXCEEDED;
    hl_memory_entries_push(e, content, len);
    return HL_MEMORY_OK;
}

static hl_memory_status_t replace(hl_memory_entries_t *e, size_t idx, const char *content, size_t len, size_t limit)
{
    hl_memory_entries_t next = {0};
    for (size_t i = 0; i < e->count; ++i) {
        if (i == idx)
            hl_memory_entries_push(&next, content, len);
        else
            hl_memory_entries_push(&next, e->items[i], strlen(e->items[i]));
    }
    hl_memory_dedupe(&next); /* content may equal another entry: keep one copy, as Hermes's next load would */
    if (hl_memory_chars(&next) > limit) {
        hl_memory_entries_dispose(&next);
        return HL_MEMORY_LIMIT_EXCEEDED;
    }
    hl_memory_entries_dispose(e);
    *e = next;
    return HL_MEMORY_OK;
}

hl_memory_status_t hl_memory_op_check(const hl_memory_op_t *op)
{
    if (op->kind == HL_MEMORY_CLEAR)
        return HL_MEMORY_OK;
    size_t clen, mlen;
    const char *content = stripped(op->content, &clen), *match = stripped(op->match, &mlen);
    if (!hermes_utf8_valid(content, clen) || !hermes_utf8_valid(match, mlen))
        return HL_MEMORY_CONTENT_INVALID;
    if (op->kind == HL_MEMORY_ADD)
        return clen == 0 ? HL_MEMORY_CONTENT_EMPTY : HL_MEMORY_OK;
    if (mlen == 0)
        return HL_MEMORY_MATCH_EMPTY;
    if (op->kind == HL_MEMORY_REPLACE && clen == 0)
        return HL_MEMORY_CONTENT_EMPTY;
    return HL_MEMORY_OK;
}

hl_memory_status_t hl_memory_apply(hl_memory_entries_t *e, const hl_memory_op_t *op, size_t limit)
{
    hl_memory_dedupe(e);
    if (op->kind == HL_MEMORY_CLEAR) {
        hl_memory_entries_dispose(e);
        return HL_MEMORY_OK;
    }
    hl_memory_status_t st = hl_memory_op_check(op);
    if (st != HL_MEMORY_OK)
        return st;
    size_t clen, mlen;
    const char *content = stripped(op->content, &clen), *match = stripped(op->match, &mlen);
    if (op->kind == HL_MEMORY_ADD)
        return add(e, content, clen, limit);
    char *m = hl_strndup(match, mlen);
    size_t idx = 0;
    st = find_match(e, m, &idx);
    free(m);
    if (st != HL_MEMORY_OK)
        return st;
    if (op->kind == HL_MEMORY_REPLACE)
        return replace(e, idx, content, clen, limit);
    free(e->items[idx]);
    memmove(e->items + idx, e->items + idx + 1, (e->count - idx - 1) * sizeof(*e->items));
    --e->count;
    return HL_MEMORY_OK;
}

/* The UTF-16 hash of STORAGE §3.4 over valid UTF-8 text. */
static uint32_t utf16_hash(const char *s)
{
    uint32_t h = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p != '\0') {
        uint32_t cp;
        if (*p < 0x80)
            cp = *p++;
        else if ((*p & 0xE0) == 0xC0)
            cp = (uint32_t)(p[0] & 0x1F) << 6 | (p[1] & 0x3F), p += 2;
        else if ((*p & 0xF0) == 0xE0)
            cp = (uint32_t)(p[0] & 0x0F) << 12 | (uint32_t)(p[1] & 0x3F) << 6 | (p[2] & 0x3F), p += 3;
        else
            cp = (uint32_t)(p[0] & 0x07) << 18 | (uint32_t)(p[1] & 0x3F) << 12 | (uint32_t)(p[2] & 0x3F) << 6 | (p[3] & 0x3F),
            p += 4;
        if (cp >= 0x10000) {
            cp -= 0x10000;
            h = h * 31 + (0xD800 + (cp >> 10));
            h = h * 31 + (0xDC00 + (cp & 0x3FF));
        } else {
            h = h * 31 + cp;
        }
    }
    return h;
}

char *hl_memory_entry_id(hl_memory_target_t t, size_t index, const char *content)
{
    return hl_asprintf("%s_%zu_%x", hl_memory_target_name(t), index, utf16_hash(content));
}

json_t *hl_memory_entries_json(const hl_memory_entries_t *e, hl_memory_target_t t)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < e->count; ++i) {
        char *id = hl_memory_entry_id(t, i, e->items[i]);
        json_array_append_new(arr, json_pack("{s:s, s:s}", "id", id, "content", e->items[i]));
        free(id);
    }
    return arr;
}

json_t *hl_memory_usage_json(size_t chars, size_t limit)
{
    size_t percent = limit == 0 ? 0 : chars >= limit ? 100 : chars * 100 / limit;
    return json_pack("{s:I, s:I, s:I}", "chars", (json_int_t)chars, "limit", (json_int_t)limit, "percent", (json_int_t)percent);
}

size_t hl_memory_limit_of(const hl_memory_limits_t *l, hl_memory_target_t t)
{
    return t == HL_MEMORY_TARGET_USER ? l->user : l->memory;
}
