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
 *
 * Lists are reached through item steps (custom_providers[2].model). A block list's item is edited by whole lines too:
 * from the line of its '-' to the end of its content. A mapping that starts on the dash's line (`- name: x`) is edited
 * like any other block mapping, except that its first key shares the line with the dash, which stays when that key
 * goes. New items go after the list's last content line, at its dash's column.
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

/* The value to write: a scalar, a list of strings, or a list holding one mapping of scalars (an appended item). */
typedef enum en_nv_kind_t { NV_SCALAR, NV_STRINGS, NV_MAPLIST } nv_kind_t;

typedef struct st_newval_t {
    nv_kind_t kind;
    const hl_yaml_scalar_t *scalar; /* NV_SCALAR */
    const char *const *items;       /* NV_STRINGS: the strings; NV_MAPLIST: the mapping's keys */
    const hl_yaml_scalar_t *values; /* NV_MAPLIST: the mapping's values */
    size_t count;
} newval_t;

/* What an edit does: how its result is checked. */
typedef enum en_op_t { OP_SET, OP_DELETE, OP_RENAME, OP_APPEND } op_t;

typedef struct st_ctx_t {
    yt_tree_t t;
    const hl_yaml_step_t *steps;
    size_t depth;
    op_t op;
    const char *new_key; /* OP_RENAME */
    size_t old_count;    /* OP_APPEND and OP_DELETE of an item: the list's items before the edit */
    bool item_deleted;   /* OP_DELETE removed an item (the check counts the list's items) */
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
    WALK_FOUND,       /* the last step exists: key (YT_NONE for an item), value */
    WALK_MISSING,     /* steps[level] is not in `map` (a mapping or a list; YT_NONE: the document is empty) */
    WALK_NULL_PARENT, /* steps[level] (a key, not the last) holds null or an empty {} in a block mapping and the next
                         step is a key: key, value */
    WALK_NOT_MAPPING, /* steps[level] (not the last) holds something else than the next step needs: key, value */
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

/* Where a value written in place of `n` on its line ends: its content without the line break that ends it (a keep-chomped
   block scalar's content runs past it; the break stays). */
static uint32_t inline_end(const yt_tree_t *t, const yt_node_t *n)
{
    uint32_t e = n->last;
    if (n->kind == YT_SCALAR && (n->style == YAML_LITERAL_SCALAR_STYLE || n->style == YAML_FOLDED_SCALAR_STYLE)) {
        if (e > n->start + 1 && t->text[e - 1] == '\n')
            --e;
        if (e > n->start + 1 && t->text[e - 1] == '\r')
            --e;
    }
    return e;
}

/* The line break after a value's content: a keep-chomped block scalar's is the one of its last blank line. */
static uint32_t value_break(const yt_tree_t *t, const yt_node_t *n)
{
    uint32_t e = inline_end(t, n);
    return e < n->last ? line_break(t, e) : line_break(t, n->last - 1);
}

static size_t column(const yt_tree_t *t, uint32_t pos)
{
    return pos - line_start(t, pos);
}

/*
 * Where lines added after a block collection go: past the line holding pos (its last node's end) and past every later
 * content line that still belongs to the collection by its indentation — deeper than `col` (its entries' column), or at
 * `col` for a mapping (a `? ` complex key, whose empty parts carry no position) and for a list an item's `-` — but not
 * past the comments and blank lines before the next line that does not belong (they stay with what follows).
 */
static uint32_t block_end(const yt_tree_t *t, uint32_t pos, size_t col, bool list)
{
    uint32_t end = line_next(t, pos), at = end;
    while (at < t->len) {
        uint32_t p = at;
        while (p < t->len && t->text[p] == ' ')
            ++p;
        uint32_t next = line_next(t, at);
        if (p >= t->len || t->text[p] == '\n' || t->text[p] == '\r' || t->text[p] == '#') {
            at = next; /* blank or comment: belongs to whichever content line comes next */
            continue;
        }
        size_t indent = p - at;
        bool doc_marker =
            indent == 0 && t->len - p >= 3 && (memcmp(t->text + p, "---", 3) == 0 || memcmp(t->text + p, "...", 3) == 0);
        bool dash =
            t->text[p] == '-' && (p + 1 >= t->len || t->text[p + 1] == ' ' || t->text[p + 1] == '\n' || t->text[p + 1] == '\r');
        if (doc_marker || indent < col || (indent == col && list && !dash))
            break;
        end = at = next;
    }
    return end;
}

static bool is_blank(char ch)
{
    return ch == ' ' || ch == '\t';
}

static bool only_blanks_before(const yt_tree_t *t, uint32_t pos)
{
    for (uint32_t i = line_start(t, pos); i < pos; ++i)
        if (!is_blank(t->text[i]))
            return false;
    return true;
}

/* What precedes pos on its line: blanks only, or blanks, one '-' (at *dash) and blanks (the first line of a block list's
 * item), or something else. */
typedef enum en_prefix_t { PREFIX_BLANKS, PREFIX_DASH, PREFIX_OTHER } prefix_t;

static prefix_t line_prefix(const yt_tree_t *t, uint32_t pos, uint32_t *dash)
{
    uint32_t i = line_start(t, pos);
    while (i < pos && is_blank(t->text[i]))
        ++i;
    if (i == pos)
        return PREFIX_BLANKS;
    if (t->text[i] != '-')
        return PREFIX_OTHER;
    if (dash != NULL)
        *dash = i;
    uint32_t after = ++i;
    while (i < pos && is_blank(t->text[i]))
        ++i;
    return i == pos && i > after ? PREFIX_DASH : PREFIX_OTHER;
}

/* True when [from, to) holds only blanks and line breaks. */
static bool only_space(const yt_tree_t *t, uint32_t from, uint32_t to)
{
    for (uint32_t i = from; i < to; ++i)
        if (!is_blank(t->text[i]) && t->text[i] != '\r' && t->text[i] != '\n')
            return false;
    return true;
}

/* The ':' after a key on its line, or YT_NONE (an explicit `? key`, or a key of a flow mapping without a value). */
static uint32_t colon_after(const yt_tree_t *t, const yt_node_t *key)
{
    uint32_t p = key->last;
    while (p < t->len && is_blank(t->text[p]))
        ++p;
    return p < t->len && t->text[p] == ':' ? p : YT_NONE;
}

/* A key of a block mapping that HermesLink edits by lines: `key:`, first on its line or just after its item's dash. */
static bool simple_key(const yt_tree_t *t, const yt_node_t *key)
{
    return colon_after(t, key) != YT_NONE && line_prefix(t, key->start, NULL) != PREFIX_OTHER;
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

/* Item `index` of list node seq, or YT_NONE. */
static uint32_t item_at(const yt_tree_t *t, uint32_t seq, size_t index)
{
    uint32_t i = yt_node(t, seq)->first;
    for (size_t n = 0; i != YT_NONE && n < index; ++n)
        i = next_of(t, i);
    return i;
}

/* ---- messages ---- */

/* "a.b[2].c" for steps[0..upto] into buf. */
static const char *path_text(const ctx_t *c, size_t upto, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i <= upto && i < c->depth; ++i) {
        const hl_yaml_step_t *s = &c->steps[i];
        int n = s->key != NULL ? snprintf(buf + used, size - used, "%s%s", i > 0 ? "." : "", s->key)
                               : snprintf(buf + used, size - used, "[%zu]", s->index);
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

/* The key `name` in mapping m (refusals name steps[level]). 0 with *key (YT_NONE when absent), or -ENOTSUP. */
static int find_key(ctx_t *c, const yt_tree_t *t, uint32_t m, const char *name, size_t level, uint32_t *key)
{
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
        const hl_yaml_step_t *step = &c->steps[level];
        if (mn->anchor || mn->tag)
            return refuse(c, -ENOTSUP, level > 0 ? level - 1 : 0,
                          mn->kind == YT_MAPPING ? "a mapping on the path has an anchor or a tag; edit it by hand"
                                                 : "a list on the path has an anchor or a tag; edit it by hand");
        uint32_t k = YT_NONE, v;
        w->level = level;
        w->map = m;
        if (step->key != NULL) {
            int ret = find_key(c, t, m, step->key, level, &k);
            if (ret != 0)
                return ret;
            if (k == YT_NONE) {
                w->kind = WALK_MISSING;
                return 0;
            }
            if (yt_node(t, k)->refs != 0)
                return refuse(c, -ENOTSUP, level, "the key has an anchor; edit it by hand");
            v = next_of(t, k);
        } else if ((v = item_at(t, m, step->index)) == YT_NONE) {
            w->kind = WALK_MISSING;
            return 0;
        }
        const yt_node_t *vn = yt_node(t, v);
        w->key = k;
        w->value = v;
        if (level + 1 == c->depth) {
            w->kind = WALK_FOUND;
            return 0;
        }
        if (vn->kind == YT_ALIAS)
            return refuse(c, -ENOTSUP, level, "the value is an alias; edit it by hand");
        if (c->steps[level + 1].key == NULL) {
            if (vn->kind == YT_SEQUENCE) {
                m = v;
                continue;
            }
            w->kind = WALK_NOT_MAPPING;
            return 0;
        }
        /* an empty {} under a key of a block mapping is taken as null: what replaces it is written in block style */
        if (vn->kind == YT_MAPPING && !(vn->flow && vn->count == 0 && !mn->flow && k != YT_NONE)) {
            m = v;
            continue;
        }
        w->kind = k != YT_NONE && (yt_is_null(t, vn) || vn->kind == YT_MAPPING) ? WALK_NULL_PARENT : WALK_NOT_MAPPING;
        return 0;
    }
}

/* The step index of the first item step in steps[from..depth), or depth when there is none. */
static size_t first_item_step(const ctx_t *c, size_t from)
{
    while (from < c->depth && c->steps[from].key != NULL)
        ++from;
    return from;
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
        return n->style != YAML_PLAIN_SCALAR_STYLE || yt_plain_is_string(value, len);
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

/* True when node n is a mapping holding exactly the keys and scalars of nv (NV_MAPLIST), in that order. */
static bool mapping_matches(const yt_tree_t *t, const yt_node_t *n, const newval_t *nv)
{
    if (n->kind != YT_MAPPING || n->refs != 0 || n->tag || n->count != 2 * nv->count)
        return false;
    uint32_t k = n->first;
    for (size_t i = 0; i < nv->count; ++i, k = next_of(t, next_of(t, k))) {
        hl_yaml_scalar_t key = hl_yaml_string(nv->items[i]);
        if (!scalar_matches(t, yt_node(t, k), &key) || !scalar_matches(t, yt_node(t, next_of(t, k)), &nv->values[i]))
            return false;
    }
    return true;
}

static bool value_matches(const yt_tree_t *t, const yt_node_t *n, const newval_t *nv)
{
    if (nv->kind == NV_SCALAR)
        return scalar_matches(t, n, nv->scalar);
    if (nv->kind == NV_MAPLIST) /* appending always adds an item */
        return false;
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

/* A mapping of scalars on one line: {k: v, k2: v2}. */
static int write_flow_mapping(yt_buf_t *b, const newval_t *nv)
{
    int ret;
    yt_buf_add(b, "{", 1);
    for (size_t i = 0; i < nv->count; ++i) {
        if (i > 0)
            yt_buf_str(b, ", ");
        if ((ret = write_key(b, nv->items[i])) != 0)
            return ret;
        yt_buf_str(b, ": ");
        if ((ret = yt_write_scalar(b, &nv->values[i])) != 0)
            return ret;
    }
    yt_buf_add(b, "}", 1);
    return 0;
}

/* The value on one line: the scalar, or the list as [a, b] (or [{k: v}]). */
static int write_inline(yt_buf_t *b, const newval_t *nv)
{
    if (nv->kind == NV_SCALAR)
        return yt_write_scalar(b, nv->scalar);
    yt_buf_add(b, "[", 1);
    if (nv->kind == NV_MAPLIST) {
        int ret = write_flow_mapping(b, nv);
        if (ret != 0)
            return ret;
    } else {
        for (size_t i = 0; i < nv->count; ++i) {
            if (i > 0)
                yt_buf_str(b, ", ");
            int ret = write_key(b, nv->items[i]);
            if (ret != 0)
                return ret;
        }
    }
    yt_buf_add(b, "]", 1);
    return 0;
}

/* A mapping of scalars as a block list's item at column col, its keys `offset` columns right of the dash; each line ends
 * with the file's line break. */
static int write_block_item(ctx_t *c, yt_buf_t *b, size_t col, size_t offset, const newval_t *nv)
{
    int ret;
    for (size_t i = 0; i < nv->count; ++i) {
        if (i == 0) {
            yt_buf_spaces(b, col);
            yt_buf_add(b, "-", 1);
            yt_buf_spaces(b, offset - 1);
        } else {
            yt_buf_spaces(b, col + offset);
        }
        if ((ret = write_key(b, nv->items[i])) != 0)
            return ret;
        yt_buf_str(b, ": ");
        if ((ret = yt_write_scalar(b, &nv->values[i])) != 0)
            return ret;
        yt_buf_str(b, c->eol);
    }
    return 0;
}

/* The list as `- item` lines at column col, each ending with the file's line break. */
static int write_block_list(ctx_t *c, yt_buf_t *b, size_t col, const newval_t *nv)
{
    if (nv->kind == NV_MAPLIST)
        return write_block_item(c, b, col, 2, nv);
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
    return nv->kind != NV_SCALAR && nv->count > 0;
}

/* steps[from..] (keys) as nested block entries from column col, the last holding nv; each line ends with a break. */
static int write_block_entries(ctx_t *c, yt_buf_t *b, size_t from, size_t col, const newval_t *nv)
{
    int ret;
    for (size_t j = from; j < c->depth; ++j, col += c->unit) {
        yt_buf_spaces(b, col);
        if ((ret = write_key(b, c->steps[j].key)) != 0)
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

/* steps[from..] (keys) as nested flow entries: `a: {b: value}`. */
static int write_flow_entries(ctx_t *c, yt_buf_t *b, size_t from, const newval_t *nv)
{
    int ret;
    for (size_t j = from; j < c->depth; ++j) {
        if ((ret = write_key(b, c->steps[j].key)) != 0)
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

/* Lines that end with a line break, inserted at the start of a line (or at the end of the text). */
static void insert_lines_at(ctx_t *c, uint32_t at, const yt_buf_t *lines)
{
    const yt_tree_t *t = &c->t;
    edit_t *e = add_edit(c, at, at);
    if (at == t->len && t->len > 0 && t->text[t->len - 1] != '\n')
        yt_buf_str(&e->text, c->eol);
    yt_buf_add(&e->text, lines->data, lines->len);
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
    if (!simple_key(t, kn))
        return refuse(c, -ENOTSUP, level, "the key is not a simple `key:`; edit it by hand");
    uint32_t colon = colon_after(t, kn);
    bool block = (vn->kind == YT_MAPPING || vn->kind == YT_SEQUENCE) && !vn->flow;
    if (block && line_start(t, vn->start) <= colon)
        return refuse(c, -ENOTSUP, level, "the value starts on the key's line; edit it by hand");
    /* a flow list keeps its style, except an empty one that receives a mapping: that is written as a block */
    bool flow_list = vn->kind == YT_SEQUENCE && vn->flow && !(nv->kind == NV_MAPLIST && vn->count == 0);
    if (!is_block_list(nv) || flow_list) {
        /* one line: after the ':', in place of an inline value, or instead of the block's lines */
        if ((ret = write_inline(&b, nv)) != 0)
            goto Error;
        edit_t *e;
        if (vn->empty || block) {
            e = add_edit(c, colon + 1, colon + 1);
            yt_buf_add(&e->text, " ", 1);
        } else {
            e = add_edit(c, vn->start, inline_end(t, vn));
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
        add_edit(c, colon + 1, inline_end(t, vn));
    insert_lines_at_break(c, vn->empty ? line_break(t, colon) : value_break(t, vn), &b);
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
        insert_lines_at(c, (uint32_t)t->len, &b);
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
    if (line_prefix(t, first->start, NULL) == PREFIX_OTHER)
        return refuse(c, -ENOTSUP, w->level, "its mapping does not start on a line of its own; edit it by hand");
    if ((ret = write_block_entries(c, &b, w->level, column(t, first->start), nv)) != 0)
        goto Error;
    insert_lines_at(c, block_end(t, mn->last - 1, column(t, first->start), false), &b);
    free(b.data);
    return 0;
Error:
    free(b.data);
    return ret;
}

/* steps[level] holds null (or {}): it becomes the mapping that holds the rest of the path. */
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
    if (!simple_key(t, kn))
        return refuse(c, -ENOTSUP, w->level, "the key is not a simple `key:`; edit it by hand");
    uint32_t colon = colon_after(t, kn);
    if ((ret = write_block_entries(c, &b, w->level + 1, column(t, kn->start) + c->unit, nv)) != 0)
        goto Error;
    if (!vn->empty)
        add_edit(c, colon + 1, inline_end(t, vn));
    insert_lines_at_break(c, vn->empty ? line_break(t, colon) : value_break(t, vn), &b);
    free(b.data);
    return 0;
Error:
    free(b.data);
    return ret;
}

/* The first key of a list item's mapping, on the dash's line, goes: the dash stays. */
static int delete_first_of_item(ctx_t *c, const walk_t *w, uint32_t dash, uint32_t stop)
{
    const yt_tree_t *t = &c->t;
    const yt_node_t *mn = yt_node(t, w->map), *kn = yt_node(t, w->key);
    if (mn->count == 2) {
        /* the item's only key: the item stays a mapping, `- {}` (a lone dash would read as null) */
        edit_t *e = add_edit(c, kn->start, line_break(t, stop - 1));
        yt_buf_str(&e->text, "{}");
        return 0;
    }
    const yt_node_t *next = yt_node(t, next_of(t, w->value));
    if (only_space(t, stop, next->start)) {
        /* the next key moves up next to the dash */
        add_edit(c, kn->start, next->start);
    } else {
        /* comment lines before the next key stay: the dash keeps a line of its own */
        add_edit(c, dash + 1, line_break(t, stop - 1));
    }
    return 0;
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
        /* an empty key (`? ` alone) has no text to measure the entry next to it by */
        const yt_node_t *nb = prev != YT_NONE ? yt_node(t, prev) : next != YT_NONE ? yt_node(t, next) : NULL;
        if (mn->count != 2 && nb != NULL && nb->empty)
            return refuse(c, -ENOTSUP, level, "the entry next to it has an empty key; edit it by hand");
        if (mn->count == 2) /* the only entry: {} stays */
            add_edit(c, mn->start + 1, mn->end - 1);
        else if (prev != YT_NONE) /* from the end of the entry before: its comma goes */
            add_edit(c, entry_end(t, yt_node(t, prev), yt_node(t, next_of(t, prev))), entry_end(t, kn, vn));
        else /* the first: up to the next key */
            add_edit(c, kn->start, yt_node(t, next)->start);
        return 0;
    }
    uint32_t colon = colon_after(t, kn), dash = 0;
    prefix_t prefix = line_prefix(t, kn->start, &dash);
    if (colon == YT_NONE || prefix == PREFIX_OTHER)
        return refuse(c, -ENOTSUP, level, "the key is not a simple `key:`; edit it by hand");
    uint32_t end = entry_end(t, kn, vn);
    uint32_t stop = line_next(t, (end > colon + 1 ? end : colon + 1) - 1);
    if (prefix == PREFIX_DASH)
        return delete_first_of_item(c, w, dash, stop);
    add_edit(c, line_start(t, kn->start), stop);
    if (mn->count == 2 && w->map != t->root) {
        /* the mapping's only key: its own key keeps a mapping, {} (null would not read as one) */
        const yt_node_t *parent = yt_node(t, mn->parent);
        if (parent->kind != YT_MAPPING)
            return refuse(c, -ENOTSUP, level, "the only key of a list item on lines of its own; edit it by hand");
        uint32_t pk = parent->first;
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

/* Item w->value of list w->map goes. The list's only item: the list becomes [] (no item left would read as null). */
static int delete_item(ctx_t *c, const walk_t *w)
{
    const yt_tree_t *t = &c->t;
    const yt_node_t *sn = yt_node(t, w->map), *vn = yt_node(t, w->value);
    size_t level = c->depth - 1;
    c->old_count = sn->count;
    c->item_deleted = true;
    if (vn->refs != 0)
        return refuse(c, -ENOTSUP, level, "the item has an anchor or alias; edit it by hand");
    if (sn->flow) {
        uint32_t prev = YT_NONE;
        for (uint32_t i = sn->first; i != w->value; i = next_of(t, i))
            prev = i;
        if (sn->count == 1)
            add_edit(c, sn->start + 1, sn->end - 1);
        else if (prev != YT_NONE) /* from the end of the item before: its comma goes */
            add_edit(c, yt_node(t, prev)->last, vn->last);
        else /* the first: up to the next item */
            add_edit(c, vn->start, yt_node(t, vn->next)->start);
        return 0;
    }
    if (sn->count == 1) {
        if (level == 0 || c->steps[level - 1].key == NULL)
            return refuse(c, -ENOTSUP, level, "the only item of a list inside a list; edit it by hand");
        /* the list's key gets [] in place of the block */
        ctx_t up = *c;
        up.depth = c->depth - 1;
        walk_t pw;
        int ret = walk(&up, t, &pw);
        if (ret == 0 && pw.kind != WALK_FOUND)
            ret = refuse(c, -ENOTSUP, level, "this file's layout cannot be edited safely; edit it by hand");
        newval_t empty = {.kind = NV_STRINGS};
        if (ret == 0)
            ret = set_found(&up, &pw, &empty);
        c->nedits = up.nedits;
        memcpy(c->edits, up.edits, sizeof(c->edits));
        return ret;
    }
    uint32_t dash = 0;
    if (vn->empty || line_prefix(t, vn->start, &dash) != PREFIX_DASH || column(t, dash) != column(t, sn->start))
        return refuse(c, -ENOTSUP, level, "the item does not start on its dash's line; edit it by hand");
    add_edit(c, line_start(t, dash), line_next(t, vn->last - 1));
    return 0;
}

/* The key of steps[depth-1] becomes c->new_key, its value untouched. */
static int rename_found(ctx_t *c, const walk_t *w)
{
    const yt_tree_t *t = &c->t;
    const yt_node_t *mn = yt_node(t, w->map), *kn = yt_node(t, w->key);
    size_t level = c->depth - 1;
    if (kn->kind != YT_SCALAR || kn->tag || kn->anchor)
        return refuse(c, -ENOTSUP, level, "the key is not a plain text key; edit it by hand");
    uint32_t other;
    int ret = find_key(c, t, w->map, c->new_key, level, &other);
    if (ret != 0)
        return ret;
    if (other == w->key)
        return 0;
    if (other != YT_NONE)
        return refuse(c, -EEXIST, level, "the new key is already in the mapping");
    if (!mn->flow && !simple_key(t, kn))
        return refuse(c, -ENOTSUP, level, "the key is not a simple `key:`; edit it by hand");
    edit_t *e = add_edit(c, kn->start, kn->end);
    return write_key(&e->text, c->new_key);
}

/* The mapping nv (NV_MAPLIST) added after the last item of the list at w->value. */
static int append_found(ctx_t *c, const walk_t *w, const newval_t *nv)
{
    const yt_tree_t *t = &c->t;
    const yt_node_t *sn = yt_node(t, w->value);
    size_t level = c->depth - 1;
    c->old_count = sn->kind == YT_SEQUENCE ? sn->count : 0;
    if (sn->refs != 0 || sn->tag)
        return refuse(c, -ENOTSUP, level, "the list has an anchor, alias or tag; edit it by hand");
    if (sn->kind != YT_SEQUENCE) {
        if (!yt_is_null(t, sn))
            return refuse(c, -ENOTDIR, level, "its value is not a list");
        return set_found(c, w, nv);
    }
    if (sn->count == 0) /* [] */
        return set_found(c, w, nv);
    if (sn->flow) {
        edit_t *e = add_edit(c, yt_node(t, sn->tail)->last, yt_node(t, sn->tail)->last);
        yt_buf_str(&e->text, ", ");
        return write_flow_mapping(&e->text, nv);
    }
    /* a block list: the item's keys indented as the first item's, when that is a mapping on its dash's line */
    size_t col = column(t, sn->start), offset = 2;
    const yt_node_t *first = yt_node(t, sn->first);
    uint32_t dash = 0;
    if (first->kind == YT_MAPPING && !first->flow && first->count > 0 &&
        line_prefix(t, yt_node(t, first->first)->start, &dash) == PREFIX_DASH && column(t, dash) == col)
        offset = column(t, yt_node(t, first->first)->start) - col;
    yt_buf_t b = {0};
    int ret = write_block_item(c, &b, col, offset, nv);
    if (ret == 0)
        insert_lines_at(c, block_end(t, sn->last - 1, col, true), &b);
    free(b.data);
    return ret;
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

static int check_scalar(ctx_t *c, const hl_yaml_scalar_t *v)
{
    hl_yaml_type_t type = v->type;
    if (type != HL_YAML_NULL && type != HL_YAML_BOOL && type != HL_YAML_INT && type != HL_YAML_FLOAT && type != HL_YAML_STRING) {
        yt_error(c->err, c->errlen, "config.yaml: unknown value type %d", (int)type);
        return -EINVAL;
    }
    if (type == HL_YAML_STRING && !valid_string(v->string)) {
        yt_error(c->err, c->errlen, "config.yaml: the value to write is not UTF-8 text");
        return -EINVAL;
    }
    return 0;
}

static int check_args(ctx_t *c, const newval_t *nv)
{
    if (c->steps == NULL || c->depth == 0 || c->depth > HL_YAML_EDIT_MAX_DEPTH) {
        yt_error(c->err, c->errlen, "config.yaml: a path of 1 to %d keys is needed", HL_YAML_EDIT_MAX_DEPTH);
        return -EINVAL;
    }
    for (size_t i = 0; i < c->depth; ++i) {
        const hl_yaml_step_t *s = &c->steps[i];
        if (s->key == NULL && i == 0) {
            yt_error(c->err, c->errlen, "config.yaml: the path must start with a key");
            return -EINVAL;
        }
        if (s->key != NULL && !valid_string(s->key)) {
            yt_error(c->err, c->errlen, "config.yaml: key %zu of the path is not UTF-8 text", i + 1);
            return -EINVAL;
        }
    }
    if (c->op != OP_DELETE && c->steps[c->depth - 1].key == NULL) {
        yt_error(c->err, c->errlen, "config.yaml: the path must end with a key");
        return -EINVAL;
    }
    if (c->op == OP_RENAME && !valid_string(c->new_key)) {
        yt_error(c->err, c->errlen, "config.yaml: the new key is not UTF-8 text");
        return -EINVAL;
    }
    if (nv == NULL)
        return 0;
    if (nv->kind == NV_SCALAR)
        return check_scalar(c, nv->scalar);
    if (nv->count > 0 && (nv->items == NULL || (nv->kind == NV_MAPLIST && nv->values == NULL))) {
        yt_error(c->err, c->errlen, "config.yaml: no items for a list of %zu", nv->count);
        return -EINVAL;
    }
    if (nv->kind == NV_MAPLIST && nv->count == 0) {
        yt_error(c->err, c->errlen, "config.yaml: an item needs at least one key");
        return -EINVAL;
    }
    for (size_t i = 0; i < nv->count; ++i) {
        if (!valid_string(nv->items[i])) {
            yt_error(c->err, c->errlen, "config.yaml: item %zu of the list is not UTF-8 text", i + 1);
            return -EINVAL;
        }
        int ret = nv->kind == NV_MAPLIST ? check_scalar(c, &nv->values[i]) : 0;
        if (ret != 0)
            return ret;
        for (size_t j = 0; nv->kind == NV_MAPLIST && j < i; ++j)
            if (strcmp(nv->items[i], nv->items[j]) == 0) {
                yt_error(c->err, c->errlen, "config.yaml: key %zu of the item is repeated", i + 1);
                return -EINVAL;
            }
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

/* The edited path in the result, read back: what the operation promised is there. */
static bool result_holds(ctx_t *c, ctx_t *v, const newval_t *nv)
{
    walk_t w;
    if (c->op == OP_RENAME) {
        hl_yaml_step_t renamed[HL_YAML_EDIT_MAX_DEPTH];
        memcpy(renamed, c->steps, c->depth * sizeof(*renamed));
        renamed[c->depth - 1] = hl_yaml_key(c->new_key);
        ctx_t r = *v;
        r.steps = renamed;
        if (walk(&r, &v->t, &w) != 0 || w.kind != WALK_FOUND)
            return false;
        return walk(v, &v->t, &w) == 0 && w.kind != WALK_FOUND;
    }
    if (c->op == OP_DELETE && c->item_deleted) {
        /* the list has one item less (or is [] when it had one) */
        v->depth = c->depth - 1;
        bool ok = walk(v, &v->t, &w) == 0 && w.kind == WALK_FOUND;
        const yt_node_t *sn = ok ? yt_node(&v->t, w.value) : NULL;
        return ok && sn->kind == YT_SEQUENCE && sn->count + 1 == c->old_count;
    }
    if (walk(v, &v->t, &w) != 0)
        return false;
    if (c->op == OP_DELETE)
        return w.kind != WALK_FOUND;
    if (w.kind != WALK_FOUND)
        return false;
    const yt_node_t *n = yt_node(&v->t, w.value);
    if (c->op == OP_APPEND)
        return n->kind == YT_SEQUENCE && n->count == c->old_count + 1 && mapping_matches(&v->t, yt_node(&v->t, n->tail), nv);
    return value_matches(&v->t, n, nv);
}

/* The result parsed again and checked (result_holds). */
static int verify(ctx_t *c, const char *text, size_t len, const newval_t *nv)
{
    ctx_t v = {.steps = c->steps, .depth = c->depth, .new_key = c->new_key};
    int ret = yt_parse(&v.t, text, len, NULL, 0);
    if (ret == -EFBIG) {
        yt_error(c->err, c->errlen, "config.yaml: the edited file would be larger than %d bytes", HL_HERMES_MAX_FILE_BYTES);
        return ret;
    }
    bool ok = ret == 0 && result_holds(c, &v, nv);
    if (ret == 0)
        yt_dispose(&v.t);
    return ok ? 0 : refuse(c, -ENOTSUP, c->depth - 1, "this file's layout cannot be edited safely; edit it by hand");
}

/* What a set or an append does once the path is walked. */
static int set_walked(ctx_t *c, const walk_t *w, const newval_t *nv)
{
    size_t item = first_item_step(c, w->level);
    switch (w->kind) {
    case WALK_FOUND:
        return c->op == OP_APPEND ? append_found(c, w, nv) : set_found(c, w, nv);
    case WALK_MISSING:
    case WALK_NULL_PARENT:
        /* missing keys are made; a missing item is not */
        if (item < c->depth)
            return refuse(c, -ENOENT, item, "the list has no such item");
        return w->kind == WALK_MISSING ? set_missing(c, w, nv) : set_null_parent(c, w, nv);
    case WALK_NOT_MAPPING:
        break;
    }
    return refuse(c, -ENOTDIR, w->level,
                  c->steps[w->level + 1].key != NULL ? "its value is not a mapping" : "its value is not a list");
}

static int run(ctx_t *c, const char *text, size_t len, const newval_t *nv, char **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    if (c->err != NULL && c->errlen > 0)
        c->err[0] = '\0';
    int ret = check_args(c, nv);
    if (ret != 0)
        return ret;
    if ((ret = yt_parse(&c->t, text, len, c->err, c->errlen)) != 0)
        return ret;
    c->eol = c->t.crlf ? "\r\n" : "\n";
    detect_indentation(c);
    walk_t w;
    if ((ret = walk(c, &c->t, &w)) != 0)
        goto Exit;
    switch (c->op) {
    case OP_DELETE:
        if (w.kind == WALK_FOUND)
            ret = c->steps[c->depth - 1].key != NULL ? delete_found(c, &w) : delete_item(c, &w);
        break;
    case OP_RENAME:
        if (w.kind == WALK_FOUND)
            ret = rename_found(c, &w);
        else if (w.kind == WALK_NOT_MAPPING)
            ret = refuse(c, -ENOTDIR, w.level,
                         c->steps[w.level + 1].key != NULL ? "its value is not a mapping" : "its value is not a list");
        else
            ret = refuse(c, -ENOENT, w.level, "no such key");
        break;
    case OP_SET:
    case OP_APPEND:
        ret = set_walked(c, &w, nv);
        break;
    }
    if (ret != 0)
        goto Exit;
    /* a block scalar's last line gains a line break when lines follow it, and with it the scalar's value (clip and keep
       chomping) */
    for (size_t i = 0; i < c->nedits && c->t.open_end; ++i)
        if (c->edits[i].start == c->t.len && c->edits[i].text.len > 0) {
            ret = refuse(c, -ENOTSUP, 0,
                         "the file ends inside a block scalar (| or >) without a line break; add one or edit it by hand");
            goto Exit;
        }
    apply_edits(c, out, out_len);
    if (c->nedits > 0 && (ret = verify(c, *out, *out_len, nv)) != 0) {
        free(*out);
        *out = NULL;
        *out_len = 0;
    }
Exit:
    for (size_t i = 0; i < c->nedits; ++i)
        free(c->edits[i].text.data);
    yt_dispose(&c->t);
    return ret;
}

/* A path of keys (none NULL: keys_present) as steps; a depth past the limit is left for check_args to refuse. */
static size_t key_steps(hl_yaml_step_t *steps, const char *const *path, size_t depth)
{
    if (path == NULL || depth > HL_YAML_EDIT_MAX_DEPTH)
        return depth;
    for (size_t i = 0; i < depth; ++i)
        steps[i] = hl_yaml_key(path[i]);
    return depth;
}

/* A NULL key in a path of keys is a bad argument, not an item step. */
static bool keys_present(const char *const *path, size_t depth, char *err, size_t errlen)
{
    for (size_t i = 0; path != NULL && i < depth && i < HL_YAML_EDIT_MAX_DEPTH; ++i)
        if (path[i] == NULL) {
            yt_error(err, errlen, "config.yaml: key %zu of the path is missing", i + 1);
            return false;
        }
    return true;
}

static int run_keys(op_t op, const char *text, size_t len, const char *const *path, size_t depth, const newval_t *nv, char **out,
                    size_t *out_len, char *err, size_t errlen)
{
    hl_yaml_step_t steps[HL_YAML_EDIT_MAX_DEPTH];
    *out = NULL;
    *out_len = 0;
    if (!keys_present(path, depth, err, errlen))
        return -EINVAL;
    ctx_t c = {
        .op = op, .steps = path != NULL ? steps : NULL, .depth = key_steps(steps, path, depth), .err = err, .errlen = errlen};
    return run(&c, text, len, nv, out, out_len);
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
    newval_t nv = {.kind = NV_SCALAR, .scalar = value};
    return run_keys(OP_SET, text, len, path, depth, &nv, out, out_len, err, errlen);
}

int hl_yaml_edit_set_strings(const char *text, size_t len, const char *const *path, size_t depth, const char *const *items,
                             size_t count, char **out, size_t *out_len, char *err, size_t errlen)
{
    newval_t nv = {.kind = NV_STRINGS, .items = items, .count = count};
    return run_keys(OP_SET, text, len, path, depth, &nv, out, out_len, err, errlen);
}

int hl_yaml_edit_delete(const char *text, size_t len, const char *const *path, size_t depth, char **out, size_t *out_len, char *err,
                        size_t errlen)
{
    return run_keys(OP_DELETE, text, len, path, depth, NULL, out, out_len, err, errlen);
}

int hl_yaml_edit_set_at(const char *text, size_t len, const hl_yaml_step_t *path, size_t depth, const hl_yaml_scalar_t *value,
                        char **out, size_t *out_len, char *err, size_t errlen)
{
    if (value == NULL) {
        *out = NULL;
        *out_len = 0;
        yt_error(err, errlen, "config.yaml: no value to write");
        return -EINVAL;
    }
    newval_t nv = {.kind = NV_SCALAR, .scalar = value};
    ctx_t c = {.op = OP_SET, .steps = path, .depth = depth, .err = err, .errlen = errlen};
    return run(&c, text, len, &nv, out, out_len);
}

int hl_yaml_edit_set_strings_at(const char *text, size_t len, const hl_yaml_step_t *path, size_t depth, const char *const *items,
                                size_t count, char **out, size_t *out_len, char *err, size_t errlen)
{
    newval_t nv = {.kind = NV_STRINGS, .items = items, .count = count};
    ctx_t c = {.op = OP_SET, .steps = path, .depth = depth, .err = err, .errlen = errlen};
    return run(&c, text, len, &nv, out, out_len);
}

int hl_yaml_edit_delete_at(const char *text, size_t len, const hl_yaml_step_t *path, size_t depth, char **out, size_t *out_len,
                           char *err, size_t errlen)
{
    ctx_t c = {.op = OP_DELETE, .steps = path, .depth = depth, .err = err, .errlen = errlen};
    return run(&c, text, len, NULL, out, out_len);
}

int hl_yaml_edit_rename_at(const char *text, size_t len, const hl_yaml_step_t *path, size_t depth, const char *new_key, char **out,
                           size_t *out_len, char *err, size_t errlen)
{
    ctx_t c = {.op = OP_RENAME, .steps = path, .depth = depth, .new_key = new_key, .err = err, .errlen = errlen};
    return run(&c, text, len, NULL, out, out_len);
}

int hl_yaml_edit_append_mapping(const char *text, size_t len, const hl_yaml_step_t *path, size_t depth, const char *const *keys,
                                const hl_yaml_scalar_t *values, size_t count, char **out, size_t *out_len, char *err, size_t errlen)
{
    newval_t nv = {.kind = NV_MAPLIST, .items = keys, .values = values, .count = count};
    ctx_t c = {.op = OP_APPEND, .steps = path, .depth = depth, .err = err, .errlen = errlen};
    return run(&c, text, len, &nv, out, out_len);
}
