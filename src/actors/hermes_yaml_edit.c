/*
 * config.yaml's editor: a few byte-range replacements computed from the position tree (hermes_yaml_tree.c), so that
 * what the edit does not touch stays as the user (or Hermes, through ruamel) wrote it.
 *
 * Block mappings are edited by whole lines: a key's entry runs from the start of its line to the end of the line where
 * its value's content ends (a trailing comment on that line goes with it; comment lines around it stay). New entries go
 * after the last content line of their mapping, indented like its first key. Flow mappings ({a: 1}) are edited inside
 * their braces. Anything that does not fit those shapes (anchors and aliases, whose meaning an edit could silently
 * change; explicit keys; repeated keys, where the reader and the editor could disagree on which one counts) is refused,
 * and every result is parsed again and the edited path read back before it is returned, so that a shape this code
 * did not foresee ends in an error rather than in a broken file.
 */
#include <errno.h>
#include <string.h>

#include <yaml.h>

#include "hl/hermes_read.h"
#include "hl/hermes_yaml_edit.h"
#include "hermes_yaml_edit_internal.h"

/* One replacement of [start, end) by text (owned). An edit needs at most two. */
typedef struct st_edit_t {
    uint32_t start, end;
    yt_buf_t text;
} edit_t;

/* The value to write: a scalar, or a list of strings when `scalar` is NULL. */
typedef struct st_newval_t {
    const hl_yaml_scalar_t *scalar;
    const char *const *items;
    size_t count;
} newval_t;

typedef struct st_ctx_t {
    yt_tree_t t;
    const char *const *path;
    size_t depth;
    const char *eol;
    size_t unit;       /* indentation of a nested mapping */
    size_t seq_offset; /* column of a block list's '-' relative to its key */
    edit_t edits[2];
    size_t nedits;
    char *err;
    size_t errlen;
} ctx_t;

/* Where the walk down the path stopped. */
typedef enum en_walk_kind_t {
    WALK_FOUND,       /* the last key exists: key, value */
    WALK_MISSING,     /* path[level] is not in `map` (YT_NONE: the document is empty) */
    WALK_NULL_PARENT, /* path[level] (not the last) holds null or an empty {} in a block mapping: key, value */
    WALK_NOT_MAPPING, /* path[level] (not the last) holds something else: key, value */
} walk_kind_t;

typedef struct st_walk_t {
    walk_kind_t kind;
    size_t level;
    uint32_t map, key, value;
} walk_t;

/* ---- text positions ---- */

static uint32_t line_start(const yt_tree_t *t, uint32_t pos)
{
    while (pos > 0 && t->text[pos - 1] != '\n')
        --pos;
    return pos;
}

/* Past the '\n' that ends the line holding pos (the end of the text on the last line). */
static uint32_t line_next(const yt_tree_t *t, uint32_t pos)
{
    const char *lf = memchr(t->text + pos, '\n', t->len - pos);
    return lf != NULL ? (uint32_t)(lf - t->text) + 1 : (uint32_t)t->len;
}

/* The line break (its '\r' for CRLF) that ends the line holding pos, or the end of the text. */
static uint32_t line_break(const yt_tree_t *t, uint32_t pos)
{
    uint32_t next = line_next(t, pos);
    if (next > 0 && t->text[next - 1] == '\n') {
        --next;
        if (next > 0 && t->text[next - 1] == '\r')
            --next;
    }
    return next;
}

static size_t column(const yt_tree_t *t, uint32_t pos)
{
    return pos - line_start(t, pos);
}

static bool only_blanks_before(const yt_tree_t *t, uint32_t pos)
{
    for (uint32_t i = line_start(t, pos); i < pos; ++i)
        if (t->text[i] != ' ' && t->text[i] != '\t')
            return false;
    return true;
}

/* The ':' after a key on its line, or YT_NONE (an explicit `? key`, or a key of a flow mapping without a value). */
static uint32_t colon_after(const yt_tree_t *t, const yt_node_t *key)
{
    uint32_t p = key->last;
    while (p < t->len && (t->text[p] == ' ' || t->text[p] == '\t'))
        ++p;
    return p < t->len && t->text[p] == ':' ? p : YT_NONE;
}

/* Past the last character of a key's entry: its value's content, or the ':' (or the key) when the value is empty. */
static uint32_t entry_end(const yt_tree_t *t, const yt_node_t *key, const yt_node_t *value)
{
    if (!value->empty)
        return value->last;
    uint32_t colon = colon_after(t, key);
    return colon != YT_NONE ? colon + 1 : key->last;
}

static uint32_t next_of(const yt_tree_t *t, uint32_t i)
{
    return yt_node(t, i)->next;
}

/* ---- messages ---- */

/* "a.b.c" for path[0..upto] into buf. */
static const char *path_text(const ctx_t *c, size_t upto, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i <= upto && i < c->depth; ++i) {
        int n = snprintf(buf + used, size - used, "%s%s", i > 0 ? "." : "", c->path[i]);
        if (n < 0 || (size_t)n >= size - used)
            break;
        used += (size_t)n;
    }
    return buf;
}

static int refuse(ctx_t *c, int code, size_t level, const char *why)
{
    char p[256];
    yt_error(c->err, c->errlen, "config.yaml: %s: %s", path_text(c, level, p, sizeof(p)), why);
    return code;
}

/* ---- walking the path ---- */

/* The key `name` in mapping m. 0 with *key (YT_NONE when absent), or -ENOTSUP. */
static int find_key(ctx_t *c, const yt_tree_t *t, uint32_t m, size_t level, uint32_t *key)
{
    const char *name = c->path[level];
    size_t len = strlen(name);
    *key = YT_NONE;
    for (uint32_t k = yt_node(t, m)->first; k != YT_NONE; k = next_of(t, next_of(t, k))) {
        const yt_node_t *kn = yt_node(t, k);
        if (kn->kind == YT_ALIAS)
            return refuse(c, -ENOTSUP, level, "its mapping has an alias as a key; edit it by hand");
        if (kn->kind != YT_SCALAR)
            continue;
        if (kn->style == YAML_PLAIN_SCALAR_STYLE && kn->length == 2 && memcmp(yt_value(t, kn), "<<", 2) == 0)
            return refuse(c, -ENOTSUP, level, "its mapping has a merge key (<<); edit it by hand");
        if (kn->length == len && memcmp(yt_value(t, kn), name, len) == 0) {
            if (*key != YT_NONE)
                return refuse(c, -ENOTSUP, level, "the key is repeated; edit it by hand");
            *key = k;
        }
    }
    return 0;
}

static int walk(ctx_t *c, const yt_tree_t *t, walk_t *w)
{
    memset(w, 0, sizeof(*w));
    w->map = w->key = w->value = YT_NONE;
    if (t->root == YT_NONE) {
        w->kind = WALK_MISSING;
        return 0;
    }
    uint32_t m = t->root;
    for (size_t level = 0;; ++level) {
        const yt_node_t *mn = yt_node(t, m);
        if (mn->anchor || mn->tag)
            return refuse(c, -ENOTSUP, level > 0 ? level - 1 : 0, "a mapping on the path has an anchor or a tag; edit it by hand");
        uint32_t k;
        int ret = find_key(c, t, m, level, &k);
        if (ret != 0)
            return ret;
        w->level = level;
        w->map = m;
        if (k == YT_NONE) {
            w->kind = WALK_MISSING;
            return 0;
        }
        uint32_t v = next_of(t, k);
        const yt_node_t *kn = yt_node(t, k), *vn = yt_node(t, v);
        w->key = k;
        w->value = v;
        if (kn->refs != 0)
            return refuse(c, -ENOTSUP, level, "the key has an anchor; edit it by hand");
        if (level + 1 == c->depth) {
            w->kind = WALK_FOUND;
            return 0;
        }
        if (vn->kind == YT_ALIAS)
            return refuse(c, -ENOTSUP, level, "the value is an alias; edit it by hand");
        if (vn->kind == YT_MAPPING && !(vn->flow && vn->count == 0 && !mn->flow)) {
            m = v;
            continue;
        }
        w->kind = yt_is_null(t, vn) || vn->kind == YT_MAPPING ? WALK_NULL_PARENT : WALK_NOT_MAPPING;
        return 0;
    }
}

/* ---- comparing ---- */

/* True when node n reads as the scalar v (so that writing v changes nothing). */
static bool scalar_matches(const yt_tree_t *t, const yt_node_t *n, const hl_yaml_scalar_t *v)
{
    if (n->kind != YT_SCALAR || n->tag || n->anchor)
        return false;
    const char *value = yt_value(t, n);
    if (v->type == HL_YAML_STRING) {
        size_t len = strlen(v->string);
        if (n->length != len || memcmp(value, v->string, len) != 0)
            return false;
        return n->style != YAML_PLAIN_SCALAR_STYLE || !yt_needs_quotes(value, len);
    }
    if (v->type == HL_YAML_NULL && yt_is_null(t, n))
        return true;
    if (n->style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    yt_buf_t b = {0};
    bool same = yt_write_scalar(&b, v) == 0 && b.len == n->length && memcmp(b.data, value, b.len) == 0;
    free(b.data);
    return same;
}

static bool value_matches(const yt_tree_t *t, const yt_node_t *n, const newval_t *nv)
{
    if (nv->scalar != NULL)
        return scalar_matches(t, n, nv->scalar);
    if (n->kind != YT_SEQUENCE || n->refs != 0 || n->tag || n->count != nv->count)
        return false;
    size_t i = 0;
    for (uint32_t item = n->first; item != YT_NONE; item = next_of(t, item), ++i) {
        hl_yaml_scalar_t s = hl_yaml_string(nv->items[i]);
        if (!scalar_matches(t, yt_node(t, item), &s))
            return false;
    }
    return true;
}

/* ---- writing ---- */

static edit_t *add_edit(ctx_t *c, uint32_t start, uint32_t end)
{
    if (c->nedits == HL_ARRAY_SIZE(c->edits))
        hl_fatal("yaml edit: too many replacements");
    edit_t *e = &c->edits[c->nedits++];
    e->start = start;
    e->end = end;
    e->text = (yt_buf_t){0};
    return e;
}

static int write_key(yt_buf_t *b, const char *key)
{
    hl_yaml_scalar_t s = hl_yaml_string(key);
    return yt_write_scalar(b, &s);
}

/* The value on one line: the scalar, or the list as [a, b]. */
static int write_inline(yt_buf_t *b, const newval_t *nv)
{
    if (nv->scalar != NULL)
        return yt_write_scalar(b, nv->scalar);
    yt_buf_add(b, "[", 1);
    for (size_t i = 0; i < nv->count; ++i) {
        if (i > 0)
            yt_buf_str(b, ", ");
        int ret = write_key(b, nv->items[i]);
        if (ret != 0)
            return ret;
    }
    yt_buf_add(b, "]", 1);
    return 0;
}

/* The list as `- item` lines at column col, each ending with the file's line break. */
static int write_block_list(ctx_t *c, yt_buf_t *b, size_t col, const newval_t *nv)
{
    for (size_t i = 0; i < nv->count; ++i) {
        yt_buf_spaces(b, col);
        yt_buf_str(b, "- ");
        int ret = write_key(b, nv->items[i]);
        if (ret != 0)
            return ret;
        yt_buf_str(b, c->eol);
    }
    return 0;
}

static bool is_block_list(const newval_t *nv)
{
    return nv->scalar == NULL && nv->count > 0;
}

/* path[from..] as nested block entries from column col, the last holding nv; each line ends with a line break. */
static int write_block_entries(ctx_t *c, yt_buf_t *b, size_t from, size_t col, const newval_t *nv)
{
    int ret;
    for (size_t j = from; j < c->depth; ++j, col += c->unit) {
        yt_buf_spaces(b, col);
        if ((ret = write_key(b, c->path[j])) != 0)
            return ret;
        yt_buf_add(b, ":", 1);
        if (j + 1 < c->depth) {
            yt_buf_str(b, c->eol);
        } else if (is_block_list(nv)) {
            yt_buf_str(b, c->eol);
            return write_block_list(c, b, col + c->seq_offset, nv);
        } else {
            yt_buf_add(b, " ", 1);
            if ((ret = write_inline(b, nv)) != 0)
                return ret;
            yt_buf_str(b, c->eol);
        }
    }
    return 0;
}

/* path[from..] as nested flow entries: `a: {b: value}`. */
static int write_flow_entries(ctx_t *c, yt_buf_t *b, size_t from, const newval_t *nv)
{
    int ret;
    for (size_t j = from; j < c->depth; ++j) {
        if ((ret = write_key(b, c->path[j])) != 0)
            return ret;
        yt_buf_str(b, j + 1 < c->depth ? ": {" : ": ");
    }
    if ((ret = write_inline(b, nv)) != 0)
        return ret;
    for (size_t j = from + 1; j < c->depth; ++j)
        yt_buf_add(b, "}", 1);
    return 0;
}

/* Lines that end with a line break, inserted at a line break instead: the break moves to their front. */
static void insert_lines_at_break(ctx_t *c, uint32_t at, const yt_buf_t *lines)
{
    edit_t *e = add_edit(c, at, at);
    size_t eol = strlen(c->eol);
    yt_buf_str(&e->text, c->eol);
    yt_buf_add(&e->text, lines->data, lines->len - eol);
}

/* ---- operations ---- */

/* A value in a flow mapping replaced by `text`; an implicit null gets ": text" after its key. */
static void replace_in_flow(ctx_t *c, const yt_node_t *kn, const yt_node_t *vn, yt_buf_t *text)
{
    edit_t *e;
    if (!vn->empty) {
        e = add_edit(c, vn->start, vn->end);
    } else {
        uint32_t colon = colon_after(&c->t, kn);
        e = add_edit(c, colon != YT_NONE ? colon + 1 : kn->last, colon != YT_NONE ? colon + 1 : kn->last);
        yt_buf_str(&e->text, colon != YT_NONE ? " " : ": ");
    }
    yt_buf_add(&e->text, text->data, text->len);
    free(text->data);
}

static int set_found(ctx_t *c, const walk_t *w, const newval_t *nv)
{
    const yt_tree_t *t = &c->t;
    const yt_node_t *mn = yt_node(t, w->map), *kn = yt_node(t, w->key), *vn = yt_node(t, w->value);
    size_t level = c->depth - 1;
    int ret;
    if (vn->refs != 0)
        return refuse(c, -ENOTSUP, level, "the value has an anchor or alias; edit it by hand");
    if (value_matches(t, vn, nv))
        return 0;
    yt_buf_t b = {0};
    if (mn->flow) {
        if ((ret = write_inline(&b, nv)) != 0)
            goto Error;
        replace_in_flow(c, kn, vn, &b);
        return 0;
    }
    uint32_t colon = colon_after(t, kn);
    if (colon == YT_NONE || !only_blanks_before(t, kn->start))
        return refuse(c, -ENOTSUP, level, "the key is not a simple `key:`; edit it by hand");
    bool block = (vn->kind == YT_MAPPING || vn->kind == YT_SEQUENCE) && !vn->flow;
    if (block && line_start(t, vn->start) <= colon)
        return refuse(c, -ENOTSUP, level, "the value starts on the key's line; edit it by hand");
    if (!is_block_list(nv) || (vn->kind == YT_SEQUENCE && vn->flow)) {
        /* one line: after the ':', in place of an inline value, or instead of the block's lines */
        if ((ret = write_inline(&b, nv)) != 0)
            goto Error;
        edit_t *e;
        if (vn->empty || block) {
            e = add_edit(c, colon + 1, colon + 1);
            yt_buf_add(&e->text, " ", 1);
        } else {
            e = add_edit(c, vn->start, vn->last);
        }
        yt_buf_add(&e->text, b.data, b.len);
        if (block)
            add_edit(c, line_start(t, vn->start), line_next(t, vn->last - 1));
        free(b.data);
        return 0;
    }
    if (block) {
        /* a block list where a block was: the same lines replaced, a list keeping its column */
        size_t col = vn->kind == YT_SEQUENCE ? column(t, vn->start) : column(t, kn->start) + c->seq_offset;
        edit_t *e = add_edit(c, line_start(t, vn->start), line_next(t, vn->last - 1));
        return write_block_list(c, &e->text, col, nv);
    }
    /* a block list where an inline value (or none) was: the value goes, the lines follow the key's line */
    if ((ret = write_block_list(c, &b, column(t, kn->start) + c->seq_offset, nv)) != 0)
        goto Error;
    if (!vn->empty)
        add_edit(c, colon + 1, vn->last);
    insert_lines_at_break(c, line_break(t, vn->empty ? colon : vn->last - 1), &b);
    free(b.data);
    return 0;
Error:
    free(b.data);
    return ret;
}

static int set_missing(ctx_t *c, const walk_t *w, const newval_t *nv)
{
    const yt_tree_t *t = &c->t;
    yt_buf_t b = {0};
    int ret;
    edit_t *e;
    if (w->map == YT_NONE) {
        /* an empty document: the entries go at the end */
        if ((ret = write_block_entries(c, &b, 0, 0, nv)) != 0)
            goto Error;
        e = add_edit(c, (uint32_t)t->len, (uint32_t)t->len);
        if (t->len > 0 && t->text[t->len - 1] != '\n')
            yt_buf_str(&e->text, c->eol);
        yt_buf_add(&e->text, b.data, b.len);
        free(b.data);
        return 0;
    }
    const yt_node_t *mn = yt_node(t, w->map);
    if (mn->flow) {
        if (mn->count == 0) {
            if (mn->end == 0 || t->text[mn->end - 1] != '}')
                return refuse(c, -ENOTSUP, w->level, "its flow mapping has an unexpected shape; edit it by hand");
            e = add_edit(c, mn->end - 1, mn->end - 1);
        } else {
            uint32_t end = 0;
            for (uint32_t k = mn->first; k != YT_NONE; k = next_of(t, next_of(t, k)))
                end = entry_end(t, yt_node(t, k), yt_node(t, next_of(t, k)));
            e = add_edit(c, end, end);
            yt_buf_str(&e->text, ", ");
        }
        return write_flow_entries(c, &e->text, w->level, nv);
    }
    const yt_node_t *first = yt_node(t, mn->first);
    if (!only_blanks_before(t, first->start))
        return refuse(c, -ENOTSUP, w->level, "its mapping does not start on a line of its own; edit it by hand");
    if ((ret = write_block_entries(c, &b, w->level, column(t, first->start), nv)) != 0)
        goto Error;
    uint32_t at = line_next(t, mn->last - 1);
    e = add_edit(c, at, at);
    if (at == t->len && t->text[t->len - 1] != '\n')
        yt_buf_str(&e->text, c->eol);
    yt_buf_add(&e->text, b.data, b.len);
    free(b.data);
    return 0;
Error:
    free(b.data);
    return ret;
}

/* path[level] holds null (or {}): it becomes the mapping that holds the rest of the path. */
static int set_null_parent(ctx_t *c, const walk_t *w, const newval_t *nv)
{
    const yt_tree_t *t = &c->t;
    const yt_node_t *mn = yt_node(t, w->map), *kn = yt_node(t, w->key), *vn = yt_node(t, w->value);
    yt_buf_t b = {0};
    int ret;
    if (vn->refs != 0)
        return refuse(c, -ENOTSUP, w->level, "the value has an anchor; edit it by hand");
    if (mn->flow) {
        yt_buf_add(&b, "{", 1);
        if ((ret = write_flow_entries(c, &b, w->level + 1, nv)) != 0)
            goto Error;
        yt_buf_add(&b, "}", 1);
        replace_in_flow(c, kn, vn, &b);
        return 0;
    }
    uint32_t colon = colon_after(t, kn);
    if (colon == YT_NONE || !only_blanks_before(t, kn->start))
        return refuse(c, -ENOTSUP, w->level, "the key is not a simple `key:`; edit it by hand");
    if ((ret = write_block_entries(c, &b, w->level + 1, column(t, kn->start) + c->unit, nv)) != 0)
        goto Error;
    if (!vn->empty)
        add_edit(c, colon + 1, vn->last);
    insert_lines_at_break(c, line_break(t, vn->empty ? colon : vn->last - 1), &b);
    free(b.data);
    return 0;
Error:
    free(b.data);
    return ret;
}

static int delete_found(ctx_t *c, const walk_t *w)
{
    const yt_tree_t *t = &c->t;
    const yt_node_t *mn = yt_node(t, w->map), *kn = yt_node(t, w->key), *vn = yt_node(t, w->value);
    size_t level = c->depth - 1;
    if (vn->refs != 0)
        return refuse(c, -ENOTSUP, level, "the value has an anchor or alias; edit it by hand");
    if (mn->flow) {
        uint32_t prev = YT_NONE, next = YT_NONE;
        for (uint32_t k = mn->first; k != YT_NONE; k = next_of(t, next_of(t, k))) {
            if (k == w->key) {
                next = next_of(t, next_of(t, k));
                break;
            }
            prev = k;
        }
        if (mn->count == 2) /* the only entry: {} stays */
            add_edit(c, mn->start + 1, mn->end - 1);
        else if (prev != YT_NONE) /* from the end of the entry before: its comma goes */
            add_edit(c, entry_end(t, yt_node(t, prev), yt_node(t, next_of(t, prev))), entry_end(t, kn, vn));
        else /* the first: up to the next key */
            add_edit(c, kn->start, yt_node(t, next)->start);
        return 0;
    }
    uint32_t colon = colon_after(t, kn);
    if (colon == YT_NONE || !only_blanks_before(t, kn->start))
        return refuse(c, -ENOTSUP, level, "the key is not a simple `key:`; edit it by hand");
    uint32_t end = entry_end(t, kn, vn);
    add_edit(c, line_start(t, kn->start), line_next(t, (end > colon + 1 ? end : colon + 1) - 1));
    if (mn->count == 2 && w->map != t->root) {
        /* the mapping's only key: its own key keeps a mapping, {} (null would not read as one) */
        uint32_t pk = yt_node(t, mn->parent)->first;
        while (next_of(t, pk) != w->map)
            pk = next_of(t, next_of(t, pk));
        uint32_t pcolon = colon_after(t, yt_node(t, pk));
        if (pcolon == YT_NONE)
            return refuse(c, -ENOTSUP, level - 1, "the key is not a simple `key:`; edit it by hand");
        edit_t *e = add_edit(c, pcolon + 1, pcolon + 1);
        yt_buf_str(&e->text, " {}");
    }
    return 0;
}

/* ---- driver ---- */

/* The file's indentation: the first nested block mapping and the first block list under a key. */
static void detect_indentation(ctx_t *c)
{
    const yt_tree_t *t = &c->t;
    size_t unit = 0, seq = SIZE_MAX;
    for (uint32_t m = 0; m < t->count && (unit == 0 || seq == SIZE_MAX); ++m) {
        const yt_node_t *mn = yt_node(t, m);
        if (mn->kind != YT_MAPPING || mn->flow)
            continue;
        for (uint32_t k = mn->first; k != YT_NONE; k = next_of(t, next_of(t, k))) {
            const yt_node_t *kn = yt_node(t, k), *vn = yt_node(t, next_of(t, k));
            if (vn->flow || vn->count == 0 || !only_blanks_before(t, kn->start))
                continue;
            size_t kcol = column(t, kn->start);
            if (vn->kind == YT_MAPPING && unit == 0) {
                size_t col = column(t, yt_node(t, vn->first)->start);
                if (col > kcol)
                    unit = col - kcol;
            } else if (vn->kind == YT_SEQUENCE && seq == SIZE_MAX) {
                size_t col = column(t, vn->start);
                if (col >= kcol)
                    seq = col - kcol;
            }
        }
    }
    c->unit = unit != 0 ? unit : 2;
    c->seq_offset = seq != SIZE_MAX ? seq : c->unit;
}

static bool valid_string(const char *s)
{
    return s != NULL && yt_valid_utf8(s, strlen(s));
}

static int check_args(ctx_t *c, const char *const *path, size_t depth, const newval_t *nv)
{
    if (path == NULL || depth == 0 || depth > HL_YAML_EDIT_MAX_DEPTH) {
        yt_error(c->err, c->errlen, "config.yaml: a path of 1 to %d keys is needed", HL_YAML_EDIT_MAX_DEPTH);
        return -EINVAL;
    }
    for (size_t i = 0; i < depth; ++i)
        if (!valid_string(path[i])) {
            yt_error(c->err, c->errlen, "config.yaml: key %zu of the path is not UTF-8 text", i + 1);
            return -EINVAL;
        }
    if (nv == NULL)
        return 0;
    if (nv->scalar != NULL) {
        hl_yaml_type_t type = nv->scalar->type;
        if (type != HL_YAML_NULL && type != HL_YAML_BOOL && type != HL_YAML_INT && type != HL_YAML_FLOAT &&
            type != HL_YAML_STRING) {
            yt_error(c->err, c->errlen, "config.yaml: unknown value type %d", (int)type);
            return -EINVAL;
        }
        if (type == HL_YAML_STRING && !valid_string(nv->scalar->string)) {
            yt_error(c->err, c->errlen, "config.yaml: the value to write is not UTF-8 text");
            return -EINVAL;
        }
        return 0;
    }
    if (nv->count > 0 && nv->items == NULL) {
        yt_error(c->err, c->errlen, "config.yaml: no items for a list of %zu", nv->count);
        return -EINVAL;
    }
    for (size_t i = 0; i < nv->count; ++i)
        if (!valid_string(nv->items[i])) {
            yt_error(c->err, c->errlen, "config.yaml: item %zu of the list is not UTF-8 text", i + 1);
            return -EINVAL;
        }
    return 0;
}

/* The text with the edits made, into *out. */
static void apply_edits(ctx_t *c, char **out, size_t *out_len)
{
    const yt_tree_t *t = &c->t;
    if (c->nedits == 2 && c->edits[1].start < c->edits[0].start) {
        edit_t tmp = c->edits[0];
        c->edits[0] = c->edits[1];
        c->edits[1] = tmp;
    }
    yt_buf_t b = {0};
    uint32_t at = 0;
    for (size_t i = 0; i < c->nedits; ++i) {
        edit_t *e = &c->edits[i];
        if (e->start < at || e->end < e->start || e->end > t->len)
            hl_fatal("yaml edit: overlapping replacements");
        yt_buf_add(&b, t->text + at, e->start - at);
        if (e->text.len > 0)
            yt_buf_add(&b, e->text.data, e->text.len);
        at = e->end;
    }
    yt_buf_add(&b, t->text + at, t->len - at);
    *out = b.data;
    *out_len = b.len;
}

/* The result parsed again: valid, and the path reads as wanted (nv) or is gone (nv NULL). */
static int verify(ctx_t *c, const char *text, size_t len, const newval_t *nv)
{
    ctx_t v = {.path = c->path, .depth = c->depth};
    int ret = yt_parse(&v.t, text, len, NULL, 0);
    if (ret == -EFBIG) {
        yt_error(c->err, c->errlen, "config.yaml: the edited file would be larger than %d bytes", HL_HERMES_MAX_FILE_BYTES);
        return ret;
    }
    walk_t w;
    bool ok = ret == 0 && walk(&v, &v.t, &w) == 0 &&
              (nv != NULL ? w.kind == WALK_FOUND && value_matches(&v.t, yt_node(&v.t, w.value), nv) : w.kind != WALK_FOUND);
    if (ret == 0)
        yt_dispose(&v.t);
    return ok ? 0 : refuse(c, -ENOTSUP, c->depth - 1, "this file's layout cannot be edited safely; edit it by hand");
}

static int run(const char *text, size_t len, const char *const *path, size_t depth, const newval_t *nv, char **out, size_t *out_len,
               char *err, size_t errlen)
{
    ctx_t c = {.path = path, .depth = depth, .err = err, .errlen = errlen};
    *out = NULL;
    *out_len = 0;
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    int ret = check_args(&c, path, depth, nv);
    if (ret != 0)
        return ret;
    if ((ret = yt_parse(&c.t, text, len, err, errlen)) != 0)
        return ret;
    c.eol = c.t.crlf ? "\r\n" : "\n";
    detect_indentation(&c);
    walk_t w;
    if ((ret = walk(&c, &c.t, &w)) != 0)
        goto Exit;
    if (nv == NULL) {
        ret = w.kind == WALK_FOUND ? delete_found(&c, &w) : 0;
    } else {
        switch (w.kind) {
        case WALK_FOUND:
            ret = set_found(&c, &w, nv);
            break;
        case WALK_MISSING:
            ret = set_missing(&c, &w, nv);
            break;
        case WALK_NULL_PARENT:
            ret = set_null_parent(&c, &w, nv);
            break;
        case WALK_NOT_MAPPING:
            ret = refuse(&c, -ENOTDIR, w.level, "its value is not a mapping");
            break;
        }
    }
    if (ret != 0)
        goto Exit;
    apply_edits(&c, out, out_len);
    if (c.nedits > 0 && (ret = verify(&c, *out, *out_len, nv)) != 0) {
        free(*out);
        *out = NULL;
        *out_len = 0;
    }
Exit:
    for (size_t i = 0; i < c.nedits; ++i)
        free(c.edits[i].text.data);
    yt_dispose(&c.t);
    return ret;
}

int hl_yaml_edit_set(const char *text, size_t len, const char *const *path, size_t depth, const hl_yaml_scalar_t *value, char **out,
                     size_t *out_len, char *err, size_t errlen)
{
    if (value == NULL) {
        *out = NULL;
        *out_len = 0;
        yt_error(err, errlen, "config.yaml: no value to write");
        return -EINVAL;
    }
    newval_t nv = {.scalar = value};
    return run(text, len, path, depth, &nv, out, out_len, err, errlen);
}

int hl_yaml_edit_set_strings(const char *text, size_t len, const char *const *path, size_t depth, const char *const *items,
                             size_t count, char **out, size_t *out_len, char *err, size_t errlen)
{
    newval_t nv = {.items = items, .count = count};
    return run(text, len, path, depth, &nv, out, out_len, err, errlen);
}

int hl_yaml_edit_delete(const char *text, size_t len, const char *const *path, size_t depth, char **out, size_t *out_len, char *err,
                        size_t errlen)
{
    return run(text, len, path, depth, NULL, out, out_len, err, errlen);
}
