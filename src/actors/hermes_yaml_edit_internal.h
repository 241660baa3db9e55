/*
 * Private to config.yaml's editor (hermes_yaml_edit.c): the position tree of a document (hermes_yaml_tree.c), the
 * writing of scalars (hermes_yaml_scalar.c) and a growable text buffer. Pure code, any thread.
 */
#ifndef HL_HERMES_YAML_EDIT_INTERNAL_H
#define HL_HERMES_YAML_EDIT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "hl/common.h"
#include "hl/hermes_yaml_edit.h"

/* ---- text buffer ---- */

typedef struct st_yt_buf_t {
    char *data; /* NUL-terminated once anything was added */
    size_t len, cap;
} yt_buf_t;

static inline void yt_buf_add(yt_buf_t *b, const void *p, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap != 0 ? b->cap : 64;
        while (cap < b->len + n + 1)
            cap *= 2;
        b->data = hl_realloc(b->data, cap);
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static inline void yt_buf_str(yt_buf_t *b, const char *s)
{
    yt_buf_add(b, s, strlen(s));
}

static inline void yt_buf_spaces(yt_buf_t *b, size_t n)
{
    while (n-- > 0)
        yt_buf_add(b, " ", 1);
}

/** Formats a message into `err` (`errlen` bytes; nothing when NULL or 0). */
void yt_error(char *err, size_t errlen, const char *fmt, ...) HL_PRINTF(3, 4);

/* ---- position tree ---- */

#define YT_NONE UINT32_MAX

typedef enum en_yt_kind_t { YT_SCALAR, YT_SEQUENCE, YT_MAPPING, YT_ALIAS } yt_kind_t;

/* One node of the document. Offsets are byte offsets into the text. */
typedef struct st_yt_node_t {
    uint8_t kind;           /* yt_kind_t */
    uint8_t flow;           /* collections: flow style ({…}, […]) */
    uint8_t style;          /* scalars: yaml_scalar_style_t */
    uint8_t anchor;         /* carries an &anchor */
    uint8_t tag;            /* carries an explicit !tag */
    uint8_t empty;          /* an implicit null: no text of its own; start/last mean nothing */
    uint32_t start;         /* first byte, properties (anchor, tag) included */
    uint32_t end;           /* past the node as libyaml marks it: exact for scalars and flow collections only */
    uint32_t last;          /* past the last byte of content (block scalars: without their trailing empty lines, except
                               with keep chomping `|+`, whose trailing lines are content: then past the last one's line
                               break; block collections: their last child's) */
    uint32_t value, length; /* scalars: their value in the tree's pool */
    uint32_t parent, first, next, tail, count; /* children in order; for a mapping key, value, key, value… */
    uint32_t refs;                             /* anchors and aliases in this subtree, itself included */
} yt_node_t;

typedef struct st_yt_tree_t {
    const char *text;
    size_t len;
    yt_node_t *nodes;
    size_t count, _cap;
    char *pool;
    size_t pool_len, _pool_cap;
    uint32_t root; /* YT_NONE: no document, or an empty one (both read as an empty mapping) */
    bool crlf;     /* the first line break is CRLF: new lines get CRLF */
    bool open_end; /* the text ends inside a block scalar, without a line break: a line added after it would change it */
} yt_tree_t;

/**
 * Parses `text` (the whole stream, so that anything invalid is refused) into `t`, which borrows `text`. Refuses (errors of
 * hl/hermes_yaml_edit.h, message in err): more than HL_HERMES_MAX_FILE_BYTES, invalid UTF-8, NUL, line breaks other than
 * LF and CRLF (-ENOTSUP), malformed YAML (an alias to an undefined anchor included), nesting deeper than HL_YAML_EDIT_MAX_DEPTH,
 * more than one document, a top level other than a mapping or an empty document. On failure `t` holds nothing to dispose.
 */
int yt_parse(yt_tree_t *t, const char *text, size_t len, char *err, size_t errlen) HL_WARN_UNUSED;

/** Frees what `t` owns. */
void yt_dispose(yt_tree_t *t);

static inline yt_node_t *yt_node(const yt_tree_t *t, uint32_t i)
{
    return &t->nodes[i];
}

/** The value of scalar node `n` (not NUL-terminated; `length` bytes). */
static inline const char *yt_value(const yt_tree_t *t, const yt_node_t *n)
{
    return t->pool + n->value;
}

/** True for a scalar node YAML reads as null: implicit, or plain ~, null, Null, NULL. */
bool yt_is_null(const yt_tree_t *t, const yt_node_t *n);

/* ---- scalars ---- */

/**
 * Appends `v` as YAML would have to read it back (plain when that reads as the same value, else double-quoted), usable
 * in block and flow context, as a value or a key. -EINVAL for a string that is not UTF-8.
 */
int yt_write_scalar(yt_buf_t *b, const hl_yaml_scalar_t *v) HL_WARN_UNUSED;

/** True when the string `s` (`len` bytes) must be quoted to read back as that string. */
bool yt_needs_quotes(const char *s, size_t len);

/**
 * True when a plain scalar whose text is `s` (`len` bytes, as the parser read it) reads as that string in YAML 1.1 and
 * 1.2, not as null, a boolean, a number or a date. Unlike yt_needs_quotes this is about reading, not writing: a URL
 * with its ':' is a string once it stands plain in a file.
 */
bool yt_plain_is_string(const char *s, size_t len);

/** True when `len` bytes at `s` are valid UTF-8 (no overlong forms, surrogates or code points past U+10FFFF). */
bool yt_valid_utf8(const char *s, size_t len);

#endif
