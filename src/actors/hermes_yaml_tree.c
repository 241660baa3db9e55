/*
 * The position tree config.yaml's editor works on: libyaml's events turned into nodes that know where their text is.
 *
 * libyaml's marks count characters, not bytes (a UTF-8 BOM at the start not counted at all), so a table maps them back
 * when the text is not plain ASCII. Its own line counting also takes a lone CR, NEL, LS and PS as line breaks; the
 * editor works on lines ending in LF, so such text is refused rather than edited on lines libyaml does not see.
 * Nesting is limited while parsing, before libyaml's scanner gets slow on deep flow nesting (see hermes_yaml.c).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <yaml.h>

#include "hl/hermes_read.h"
#include "hermes_yaml_edit_internal.h"

void yt_error(char *err, size_t errlen, const char *fmt, ...)
{
    if (err == NULL || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Where the characters libyaml counts start: `map` (NULL when every character is one byte) or `base` + index. */
typedef struct st_charmap_t {
    uint32_t *map;
    uint32_t base;
    size_t chars;
} charmap_t;

static uint32_t byte_at(const charmap_t *cm, size_t index)
{
    if (index > cm->chars)
        index = cm->chars; /* libyaml never marks past the end; keep a bad mark inside the text anyway */
    return cm->map != NULL ? cm->map[index] : cm->base + (uint32_t)index;
}

/* Length of the UTF-8 sequence at s (at most `left` bytes) and its code point, or 0 when it is not valid UTF-8. */
static size_t utf8_decode(const unsigned char *s, size_t left, uint32_t *cp)
{
    unsigned char c = s[0];
    size_t n;
    uint32_t v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if ((c & 0xE0) == 0xC0) {
        n = 2, v = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        n = 3, v = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        n = 4, v = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (n > left)
        return 0;
    for (size_t i = 1; i < n; ++i) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return n;
}

bool yt_valid_utf8(const char *s, size_t len)
{
    uint32_t cp;
    for (size_t i = 0; i < len;) {
        size_t n = utf8_decode((const unsigned char *)s + i, len - i, &cp);
        if (n == 0)
            return false;
        i += n;
    }
    return true;
}

/* Checks the text's bytes and builds the character map. 0, -EINVAL or -ENOTSUP with a message. */
static int scan_text(charmap_t *cm, const char *text, size_t len, char *err, size_t errlen)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0, line = 1;
    bool ascii = true;
    memset(cm, 0, sizeof(*cm));
    if (len >= 3 && s[0] == 0xEF && s[1] == 0xBB && s[2] == 0xBF)
        i = cm->base = 3;
    for (size_t j = i; j < len; ++j)
        if (s[j] >= 0x80) {
            ascii = false;
            break;
        }
    if (!ascii)
        cm->map = hl_malloc((len - i + 1) * sizeof(*cm->map));
    while (i < len) {
        uint32_t cp;
        size_t n = utf8_decode(s + i, len - i, &cp);
        if (n == 0) {
            yt_error(err, errlen, "config.yaml: line %zu is not valid UTF-8", line);
            goto Error;
        }
        if (cp == 0) {
            yt_error(err, errlen, "config.yaml: line %zu holds a NUL character", line);
            goto Error;
        }
        if ((cp == '\r' && (i + 1 >= len || s[i + 1] != '\n')) || cp == 0x85 || cp == 0x2028 || cp == 0x2029) {
            yt_error(err, errlen, "config.yaml: line %zu has a line break other than LF or CRLF", line);
            free(cm->map);
            cm->map = NULL;
            return -ENOTSUP;
        }
        if (cp == '\n')
            ++line;
        if (cm->map != NULL)
            cm->map[cm->chars] = (uint32_t)i;
        ++cm->chars;
        i += n;
    }
    if (cm->map != NULL)
        cm->map[cm->chars] = (uint32_t)len;
    return 0;
Error:
    free(cm->map);
    cm->map = NULL;
    return -EINVAL;
}

/* Anchors and aliases by name and place, to find aliases to nothing (libyaml's parser leaves that to its loader). */
typedef struct st_name_t {
    char *name;
    uint32_t pos;
} name_t;

typedef struct st_names_t {
    name_t *v;
    size_t count, cap;
} names_t;

static void names_add(names_t *n, const unsigned char *name, uint32_t pos)
{
    if (n->count == n->cap) {
        n->cap = n->cap != 0 ? n->cap * 2 : 16;
        n->v = hl_realloc(n->v, n->cap * sizeof(*n->v));
    }
    n->v[n->count].name = hl_strdup((const char *)name);
    n->v[n->count++].pos = pos;
}

static void names_free(names_t *n)
{
    for (size_t i = 0; i < n->count; ++i)
        free(n->v[i].name);
    free(n->v);
}

static int compare_names(const void *a, const void *b)
{
    const name_t *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c != 0 ? c : (x->pos > y->pos) - (x->pos < y->pos);
}

/* The first alias that names no anchor before it, or NULL. Sorts both lists. */
static const name_t *undefined_alias(names_t *anchors, names_t *aliases)
{
    if (anchors->count > 0)
        qsort(anchors->v, anchors->count, sizeof(name_t), compare_names);
    for (size_t i = 0; i < aliases->count; ++i) {
        const name_t *alias = &aliases->v[i];
        size_t lo = 0, hi = anchors->count; /* the first anchor of that name: the earliest */
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (strcmp(anchors->v[mid].name, alias->name) < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo == anchors->count || strcmp(anchors->v[lo].name, alias->name) != 0 || anchors->v[lo].pos > alias->pos)
            return alias;
    }
    return NULL;
}

static uint32_t add_node(yt_tree_t *t, yt_kind_t kind, uint32_t parent)
{
    if (t->count == t->_cap) {
        t->_cap = t->_cap != 0 ? t->_cap * 2 : 64;
        t->nodes = hl_realloc(t->nodes, t->_cap * sizeof(*t->nodes));
    }
    uint32_t i = (uint32_t)t->count++;
    yt_node_t *n = &t->nodes[i];
    memset(n, 0, sizeof(*n));
    n->kind = (uint8_t)kind;
    n->parent = parent;
    n->first = n->next = n->tail = YT_NONE;
    if (parent != YT_NONE) {
        yt_node_t *p = &t->nodes[parent];
        if (p->tail == YT_NONE)
            p->first = i;
        else
            t->nodes[p->tail].next = i;
        p->tail = i;
        ++p->count;
    }
    return i;
}

/* An anchor or alias at node i: counted on it and every node above it. */
static void add_ref(yt_tree_t *t, uint32_t i)
{
    for (; i != YT_NONE; i = t->nodes[i].parent)
        ++t->nodes[i].refs;
}

static void pool_add(yt_tree_t *t, yt_node_t *n, const unsigned char *value, size_t length)
{
    if (t->pool_len + length + 1 > t->_pool_cap) {
        size_t cap = t->_pool_cap != 0 ? t->_pool_cap : 1024;
        while (cap < t->pool_len + length + 1)
            cap *= 2;
        t->pool = hl_realloc(t->pool, cap);
        t->_pool_cap = cap;
    }
    memcpy(t->pool + t->pool_len, value, length);
    t->pool[t->pool_len + length] = '\0';
    n->value = (uint32_t)t->pool_len;
    n->length = (uint32_t)length;
    t->pool_len += length + 1;
}

static int is_blank_or_break(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/*
 * True when the block scalar at [start, end) has keep chomping (`|+`, `>2+`): its trailing blank lines are then part of
 * its value, and a line written after its last text would cut them off. The header is read past the node's properties
 * (&anchor, !tag), which may stand on earlier lines; a header this cannot read counts as keep, which only moves new
 * lines further down.
 */
static bool keeps_trailing_lines(const char *text, uint32_t start, uint32_t end)
{
    uint32_t p = start;
    while (p < end) {
        if (text[p] == '&' || text[p] == '!') {
            while (p < end && !is_blank_or_break(text[p]))
                ++p;
        } else if (text[p] == '#') {
            while (p < end && text[p] != '\n')
                ++p;
        } else if (is_blank_or_break(text[p])) {
            ++p;
        } else {
            break;
        }
    }
    if (p >= end || (text[p] != '|' && text[p] != '>'))
        return true;
    for (uint32_t i = p + 1; i < end && i <= p + 2; ++i) {
        if (text[i] == '+')
            return true;
        if (text[i] != '-' && (text[i] < '0' || text[i] > '9'))
            break;
    }
    return false;
}

/*
 * Where a block scalar's content ends, as far as lines written after it are concerned. libyaml's mark runs past its
 * trailing lines. With keep chomping they are all content. Otherwise only the empty ones can go: a line of blanks may
 * be content (more blanks than the scalar's indentation), so the content ends at the last line that is not empty.
 */
static uint32_t block_scalar_last(const char *text, uint32_t start, uint32_t end)
{
    uint32_t last = end;
    if (keeps_trailing_lines(text, start, end))
        return last;
    while (last > start + 1 && (text[last - 1] == '\n' || text[last - 1] == '\r'))
        --last;
    return last;
}

/* A collection's end: block collections end where their content does (libyaml marks the next token, past comments). */
static void close_collection(yt_tree_t *t, uint32_t i, uint32_t end)
{
    yt_node_t *n = &t->nodes[i];
    n->end = end;
    if (n->flow) {
        n->last = end;
        return;
    }
    n->last = n->start;
    for (uint32_t c = n->first; c != YT_NONE; c = t->nodes[c].next)
        if (!t->nodes[c].empty && t->nodes[c].last > n->last)
            n->last = t->nodes[c].last;
}

bool yt_is_null(const yt_tree_t *t, const yt_node_t *n)
{
    if (n->kind != YT_SCALAR || n->style != YAML_PLAIN_SCALAR_STYLE || n->tag)
        return false;
    const char *v = yt_value(t, n);
    return n->length == 0 || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 || strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0;
}

int yt_parse(yt_tree_t *t, const char *text, size_t len, char *err, size_t errlen)
{
    memset(t, 0, sizeof(*t));
    t->text = text;
    t->len = len;
    t->root = YT_NONE;
    if (len > HL_HERMES_MAX_FILE_BYTES) {
        yt_error(err, errlen, "config.yaml: larger than %d bytes", HL_HERMES_MAX_FILE_BYTES);
        return -EFBIG;
    }
    charmap_t cm;
    int ret = scan_text(&cm, text, len, err, errlen);
    if (ret != 0)
        return ret;
    const char *lf = memchr(text, '\n', len);
    t->crlf = lf != NULL && lf > text && lf[-1] == '\r';

    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        hl_fatal("yaml_parser_initialize");
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    names_t anchors = {0}, aliases = {0};
    uint32_t stack[HL_YAML_EDIT_MAX_DEPTH];
    size_t depth = 0, docs = 0;
    for (bool done = false; !done;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            if (parser.error == YAML_MEMORY_ERROR)
                hl_fatal("libyaml: out of memory");
            yt_error(err, errlen, "config.yaml: malformed YAML at line %zu: %s", parser.problem_mark.line + 1,
                     parser.problem != NULL ? parser.problem : "parse error");
            ret = -EINVAL;
            break;
        }
        uint32_t parent = depth > 0 ? stack[depth - 1] : YT_NONE, i;
        uint32_t start = byte_at(&cm, ev.start_mark.index), end = byte_at(&cm, ev.end_mark.index);
        yt_node_t *n;
        switch (ev.type) {
        case YAML_DOCUMENT_START_EVENT:
            if (++docs > 1) {
                yt_error(err, errlen, "config.yaml: line %zu starts a second document; only one is supported",
                         ev.start_mark.line + 1);
                ret = -EINVAL;
                done = true;
            }
            break;
        case YAML_ALIAS_EVENT:
            i = add_node(t, YT_ALIAS, parent);
            n = &t->nodes[i];
            n->start = start;
            n->end = n->last = end;
            add_ref(t, i);
            names_add(&aliases, ev.data.alias.anchor, start);
            break;
        case YAML_SCALAR_EVENT:
            i = add_node(t, YT_SCALAR, parent);
            n = &t->nodes[i];
            n->start = start;
            n->end = n->last = end;
            n->style = (uint8_t)ev.data.scalar.style;
            n->tag = ev.data.scalar.tag != NULL;
            n->anchor = ev.data.scalar.anchor != NULL;
            n->empty = ev.data.scalar.length == 0 && n->style == YAML_PLAIN_SCALAR_STYLE && start == end;
            if (n->style == YAML_LITERAL_SCALAR_STYLE || n->style == YAML_FOLDED_SCALAR_STYLE) {
                n->last = block_scalar_last(text, start, end);
                if (end >= len && len > 0 && text[len - 1] != '\n')
                    t->open_end = true;
            }
            pool_add(t, n, ev.data.scalar.value, ev.data.scalar.length);
            if (n->anchor) {
                add_ref(t, i);
                names_add(&anchors, ev.data.scalar.anchor, start);
            }
            break;
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
            if (depth == HL_YAML_EDIT_MAX_DEPTH) {
                yt_error(err, errlen, "config.yaml: malformed YAML at line %zu: nested more than %d levels deep",
                         ev.start_mark.line + 1, HL_YAML_EDIT_MAX_DEPTH);
                ret = -EINVAL;
                done = true;
                break;
            }
            i = add_node(t, ev.type == YAML_MAPPING_START_EVENT ? YT_MAPPING : YT_SEQUENCE, parent);
            n = &t->nodes[i];
            n->start = start;
            if (ev.type == YAML_MAPPING_START_EVENT) {
                n->flow = ev.data.mapping_start.style == YAML_FLOW_MAPPING_STYLE;
                n->tag = ev.data.mapping_start.tag != NULL;
                n->anchor = ev.data.mapping_start.anchor != NULL;
            } else {
                n->flow = ev.data.sequence_start.style == YAML_FLOW_SEQUENCE_STYLE;
                n->tag = ev.data.sequence_start.tag != NULL;
                n->anchor = ev.data.sequence_start.anchor != NULL;
            }
            if (n->anchor) {
                add_ref(t, i);
                names_add(&anchors,
                          ev.type == YAML_MAPPING_START_EVENT ? ev.data.mapping_start.anchor : ev.data.sequence_start.anchor,
                          start);
            }
            stack[depth++] = i;
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            close_collection(t, stack[--depth], end);
            break;
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    free(cm.map);
    const name_t *alias;
    if (ret == 0 && aliases.count > 0 && (alias = undefined_alias(&anchors, &aliases)) != NULL) {
        size_t line = 1;
        for (uint32_t k = 0; k < alias->pos; ++k)
            line += text[k] == '\n';
        yt_error(err, errlen, "config.yaml: malformed YAML at line %zu: an alias to an undefined anchor", line);
        ret = -EINVAL;
    }
    names_free(&anchors);
    names_free(&aliases);
    if (ret == 0 && t->count > 0) {
        yt_node_t *root = &t->nodes[0];
        if (root->kind == YT_MAPPING) {
            t->root = 0;
        } else if (!(root->kind == YT_SCALAR && root->empty)) {
            size_t line = 1;
            for (uint32_t k = 0; k < root->start; ++k)
                line += text[k] == '\n';
            yt_error(err, errlen, "config.yaml: the top level (line %zu) is not a mapping", line);
            ret = -EINVAL;
        }
    }
    if (ret != 0)
        yt_dispose(t);
    return ret;
}

void yt_dispose(yt_tree_t *t)
{
    free(t->nodes);
    free(t->pool);
    t->nodes = NULL;
    t->pool = NULL;
    t->count = t->_cap = t->pool_len = t->_pool_cap = 0;
    t->root = YT_NONE;
}
