/*
 * config.yaml line edits (src/actors/hermes_yaml_edit.c): set a scalar, set a list of strings, delete, rename, append a
 * mapping, at a path picked from a table of keys config.yaml really has (and short ones the dictionary makes likely).
 * Input: byte 0 the operation and value, byte 1 the path, the rest the YAML text. On success the output must:
 *   - be NUL-terminated at its length and, when the input loads with libyaml's loader (as PyYAML's in Hermes), load
 *     again as one document whose root is a mapping (or empty);
 *   - keep every byte outside the edited top-level entry: all the text up to the end of the previous entry's value, and
 *     all the text from the next top-level key on (for a new key, the text up to the end of the last entry's value);
 *   - read the same as the input for every other top-level key (compared as loaded values);
 *   - for set, set-strings and the delete of a key, be a fixed point: the same edit of the output changes nothing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "hl/hermes_yaml_edit.h"

#define K(s)                                                                                                                       \
    {                                                                                                                              \
        .key = s                                                                                                                   \
    }
#define I(n)                                                                                                                       \
    {                                                                                                                              \
        .key = NULL, .index = n                                                                                                    \
    }

typedef struct {
    hl_yaml_step_t steps[4];
    size_t depth;
} path_t;

static const path_t PATHS[] = {
    {{K("model")}, 1},
    {{K("model"), K("default")}, 2},
    {{K("skills"), K("disabled")}, 2},
    {{K("approvals"), K("mode")}, 2},
    {{K("memory"), K("memory_char_limit")}, 2},
    {{K("platform_toolsets"), K("api_server")}, 2},
    {{K("a")}, 1},
    {{K("a"), K("b")}, 2},
    {{K("a"), K("b"), K("c")}, 3},
    {{K("b")}, 1},
    {{K("custom_providers"), I(0), K("name")}, 3},
    {{K("custom_providers"), I(1)}, 2},
    {{K("a"), I(0)}, 2},
    {{K("a"), I(0), K("b")}, 3},
    {{K("x"), K("y")}, 2},
    {{K("")}, 1},
};

static const char *const VALUES[] = {"",     "x",      "yes",      "null",        "~",       "12",     "1.5",
                                     "a: b", "#c",     " pad ",    "line\nbreak", "'q'",     "\"dq\"", "- i",
                                     "[x]",  "{a: 1}", "\xC3\xBC", "tab\there",   "&anchor", "*alias"};
#define NVALUES (sizeof(VALUES) / sizeof(VALUES[0]))

/* Byte offsets of every character of UTF-8 text (libyaml's marks count characters): map[i] for character i, map[n] = len. */
static size_t *char_offsets(const char *s, size_t len)
{
    size_t *map = malloc((len + 1) * sizeof(*map)), n = 0;
    if (map == NULL)
        abort();
    for (size_t i = 0; i < len; ++i)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            map[n++] = i;
    map[n] = len;
    for (size_t i = n + 1; i <= len; ++i)
        map[i] = len;
    return map;
}

/* True when libyaml's marks can be mapped to bytes simply: no BOM, no CR and no Unicode line breaks (NEL, LS, PS). */
static bool plain_text(const char *s, size_t len)
{
    if (memchr(s, '\r', len) != NULL || (len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0))
        return false;
    for (size_t i = 0; i + 1 < len; ++i) {
        unsigned char a = (unsigned char)s[i], b = (unsigned char)s[i + 1];
        if ((a == 0xC2 && b == 0x85) || (a == 0xE2 && b == 0x80 && i + 2 < len && ((unsigned char)s[i + 2] & 0xFE) == 0xA8))
            return false;
    }
    return true;
}

typedef struct {
    size_t key_start, value_end;
    bool match;
} entry_t;

/*
 * The bytes of `text` an edit of top-level key `key` may change: [*from, *to). Found key: from the end of the previous
 * entry's value (or the start) to the start of the next key (or the end); a missing key: from the end of the last
 * entry's value to the end. False when libyaml refuses the text's first document.
 */
static bool allowed_range(const char *text, size_t len, const char *key, size_t *from, size_t *to)
{
    size_t *map = char_offsets(text, len);
    entry_t entries[256];
    size_t n = 0, last_end = 0;
    yaml_parser_t p;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    int depth = 0;
    bool flow[128];   /* per open collection: flow style */
    size_t count = 0; /* nodes at depth 1 inside the root mapping: even = a key */
    bool root_mapping = false, ok = false;
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev))
            break;
        yaml_event_type_t t = ev.type;
        if (t == YAML_DOCUMENT_END_EVENT || t == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            ok = n < sizeof(entries) / sizeof(entries[0]);
            break;
        }
        bool start = t == YAML_MAPPING_START_EVENT || t == YAML_SEQUENCE_START_EVENT;
        bool end = t == YAML_MAPPING_END_EVENT || t == YAML_SEQUENCE_END_EVENT;
        size_t start_byte = map[ev.start_mark.index <= len ? ev.start_mark.index : len];
        size_t end_byte = map[ev.end_mark.index <= len ? ev.end_mark.index : len];
        if (depth == 0 && t == YAML_MAPPING_START_EVENT)
            root_mapping = true;
        if (root_mapping && depth == 1 && end) { /* the root mapping ends */
            if (n > 0)
                entries[n - 1].value_end = last_end;
        } else if (root_mapping && depth == 1) {
            if (count % 2 == 0 && n < sizeof(entries) / sizeof(entries[0])) {
                if (n > 0)
                    entries[n - 1].value_end = last_end;
                entries[n++] = (entry_t){.key_start = start_byte,
                                         .match = t == YAML_SCALAR_EVENT && ev.data.scalar.length == strlen(key) &&
                                                  memcmp(ev.data.scalar.value, key, ev.data.scalar.length) == 0};
            }
            ++count;
        }
        /* where a value really ends: the end of its last scalar or alias, or of a flow collection's closing bracket
           (a block collection's end event is marked at the next token, past any comment lines after it) */
        if (start) {
            if (depth >= (int)sizeof(flow)) {
                yaml_event_delete(&ev);
                break;
            }
            flow[depth++] = t == YAML_MAPPING_START_EVENT ? ev.data.mapping_start.style == YAML_FLOW_MAPPING_STYLE
                                                          : ev.data.sequence_start.style == YAML_FLOW_SEQUENCE_STYLE;
        } else if (end) {
            if (flow[--depth] && depth >= 1)
                last_end = end_byte;
        } else if (depth >= 1 && t == YAML_SCALAR_EVENT && ev.data.scalar.length == 0 &&
                   ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE && start_byte == end_byte) {
            /* an implicit null has no text: its mark is wherever the next token is */
        } else if (depth >= 1 && (t == YAML_SCALAR_EVENT || t == YAML_ALIAS_EVENT)) {
            last_end = end_byte;
            /* a block scalar's mark runs past its trailing blank lines: only its text is content (with keep chomping
               those lines are content too, which the value comparison below checks) */
            if (t == YAML_SCALAR_EVENT &&
                (ev.data.scalar.style == YAML_LITERAL_SCALAR_STYLE || ev.data.scalar.style == YAML_FOLDED_SCALAR_STYLE))
                while (last_end > start_byte + 1 && strchr(" \t\n", text[last_end - 1]) != NULL)
                    --last_end;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&p);
    if (ok) {
        size_t i = 0;
        while (i < n && !entries[i].match)
            ++i;
        if (i < n) {
            *from = i > 0 ? entries[i - 1].value_end : 0;
            *to = i + 1 < n ? entries[i + 1].key_start : len;
        } else {
            *from = n > 0 ? entries[n - 1].value_end : 0;
            *to = len;
        }
        ok = *from <= *to && *to <= len;
    }
    free(map);
    return ok;
}

/* True when `text` loads (libyaml's loader, as PyYAML's in Hermes) as one document whose root is a mapping, or as null. */
static bool loads_as_mapping(const char *text, size_t len)
{
    yaml_parser_t p;
    yaml_document_t doc;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    bool ok = false;
    if (yaml_parser_load(&p, &doc)) {
        yaml_node_t *root = yaml_document_get_root_node(&doc);
        /* no document, or a document with no content ("---" alone, which deleting the last key can leave): both read as
           null, which Hermes and the editor take for an empty mapping */
        ok =
            root == NULL || root->type == YAML_MAPPING_NODE ||
            (root->type == YAML_SCALAR_NODE && root->data.scalar.length == 0 && root->data.scalar.style == YAML_PLAIN_SCALAR_STYLE);
        yaml_document_delete(&doc);
    }
    yaml_parser_delete(&p);
    return ok;
}

static size_t compare_budget; /* nodes compared for this input */

/* Two loaded nodes read as the same value: same kind, tag and scalar text, same items and pairs in order. */
static bool same_node(yaml_document_t *da, yaml_node_t *a, yaml_document_t *db, yaml_node_t *b, int depth)
{
    if (a == NULL || b == NULL)
        return a == b;
    if (depth > 64 || ++compare_budget > 100000)
        return true; /* enough: aliases may loop, or repeat a node exponentially often */
    if (a->type != b->type || strcmp((const char *)a->tag, (const char *)b->tag) != 0)
        return false;
    switch (a->type) {
    case YAML_SCALAR_NODE:
        return a->data.scalar.length == b->data.scalar.length &&
               memcmp(a->data.scalar.value, b->data.scalar.value, a->data.scalar.length) == 0;
    case YAML_SEQUENCE_NODE: {
        yaml_node_item_t *ia = a->data.sequence.items.start, *ib = b->data.sequence.items.start;
        if (a->data.sequence.items.top - ia != b->data.sequence.items.top - ib)
            return false;
        for (; ia < a->data.sequence.items.top; ++ia, ++ib)
            if (!same_node(da, yaml_document_get_node(da, *ia), db, yaml_document_get_node(db, *ib), depth + 1))
                return false;
        return true;
    }
    case YAML_MAPPING_NODE: {
        yaml_node_pair_t *pa = a->data.mapping.pairs.start, *pb = b->data.mapping.pairs.start;
        if (a->data.mapping.pairs.top - pa != b->data.mapping.pairs.top - pb)
            return false;
        for (; pa < a->data.mapping.pairs.top; ++pa, ++pb)
            if (!same_node(da, yaml_document_get_node(da, pa->key), db, yaml_document_get_node(db, pb->key), depth + 1) ||
                !same_node(da, yaml_document_get_node(da, pa->value), db, yaml_document_get_node(db, pb->value), depth + 1))
                return false;
        return true;
    }
    default:
        return true;
    }
}

static bool load(yaml_document_t *doc, const char *text, size_t len)
{
    yaml_parser_t p;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    bool ok = yaml_parser_load(&p, doc) != 0;
    yaml_parser_delete(&p);
    return ok;
}

/* The first value of scalar key `key` (`len` bytes) in mapping `map`, else NULL. */
static yaml_node_t *lookup(yaml_document_t *doc, yaml_node_t *map, const yaml_char_t *key, size_t len)
{
    for (yaml_node_pair_t *pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top; ++pr) {
        yaml_node_t *k = yaml_document_get_node(doc, pr->key);
        if (k != NULL && k->type == YAML_SCALAR_NODE && k->data.scalar.length == len && memcmp(k->data.scalar.value, key, len) == 0)
            return yaml_document_get_node(doc, pr->value);
    }
    return NULL;
}

/*
 * Every top-level entry of the input other than the edited key (scalar keys; the first of repeated ones) reads the same
 * in the output: an edit never changes the value of a key it does not touch. Only when both load.
 */
static void check_untouched_values(const char *text, size_t len, const char *out, size_t out_len, const char *edited)
{
    yaml_document_t in, res;
    if (!load(&in, text, len))
        return;
    if (!load(&res, out, out_len)) {
        yaml_document_delete(&in);
        return;
    }
    yaml_node_t *ri = yaml_document_get_root_node(&in), *ro = yaml_document_get_root_node(&res);
    compare_budget = 0;
    if (ri != NULL && ri->type == YAML_MAPPING_NODE && ro != NULL && ro->type == YAML_MAPPING_NODE) {
        for (yaml_node_pair_t *pr = ri->data.mapping.pairs.start; pr < ri->data.mapping.pairs.top; ++pr) {
            yaml_node_t *k = yaml_document_get_node(&in, pr->key);
            if (k == NULL || k->type != YAML_SCALAR_NODE ||
                (k->data.scalar.length == strlen(edited) && memcmp(k->data.scalar.value, edited, k->data.scalar.length) == 0))
                continue;
            yaml_node_t *vi = lookup(&in, ri, k->data.scalar.value, k->data.scalar.length);
            yaml_node_t *vo = lookup(&res, ro, k->data.scalar.value, k->data.scalar.length);
            if (vi == yaml_document_get_node(&in, pr->value) && !same_node(&in, vi, &res, vo, 0))
                abort(); /* the value of a key the edit does not touch changed */
        }
    }
    yaml_document_delete(&in);
    yaml_document_delete(&res);
}

static int edit(int op, unsigned sel, const char *text, size_t len, const path_t *path, char **out, size_t *out_len)
{
    char err[256];
    const char *value = VALUES[sel % NVALUES];
    switch (op) {
    case 0:
    case 1:
    case 2:
    case 3: {
        hl_yaml_scalar_t v = op == 0   ? hl_yaml_string(value)
                             : op == 1 ? hl_yaml_int((int64_t)sel - 8)
                             : op == 2 ? hl_yaml_bool(sel & 1)
                                       : hl_yaml_null();
        return hl_yaml_edit_set_at(text, len, path->steps, path->depth, &v, out, out_len, err, sizeof(err));
    }
    case 4: {
        const char *items[3] = {value, VALUES[(sel + 1) % NVALUES], VALUES[(sel + 7) % NVALUES]};
        return hl_yaml_edit_set_strings_at(text, len, path->steps, path->depth, items, sel % 4, out, out_len, err, sizeof(err));
    }
    case 5:
        return hl_yaml_edit_delete_at(text, len, path->steps, path->depth, out, out_len, err, sizeof(err));
    case 6:
        return hl_yaml_edit_rename_at(text, len, path->steps, path->depth, sel & 1 ? "renamed" : value, out, out_len, err,
                                      sizeof(err));
    default: {
        const char *keys[2] = {"name", "model"};
        hl_yaml_scalar_t values[2] = {hl_yaml_string(value), hl_yaml_int(sel)};
        return hl_yaml_edit_append_mapping(text, len, path->steps, path->depth, keys, values, 1 + (sel & 1), out, out_len, err,
                                           sizeof(err));
    }
    }
}

/** libFuzzer's entry: operation byte, path byte, YAML text. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    int op = data[0] & 7;
    unsigned sel = data[0] >> 3;
    const path_t *path = &PATHS[data[1] % (sizeof(PATHS) / sizeof(PATHS[0]))];
    const char *text = (const char *)data + 2;
    size_t len = size - 2;
    char *out = NULL;
    size_t out_len = 0;
    int ret = edit(op, sel, text, len, path, &out, &out_len);
    if (ret != 0) {
        if (out != NULL || ret > 0)
            abort();
        return 0;
    }
    if (out == NULL || out[out_len] != '\0')
        abort();
    /* the editor reads events, the loader also refuses e.g. a repeated anchor name: text the loader (and so Hermes)
       could read must stay readable */
    if (loads_as_mapping(text, len) && !loads_as_mapping(out, out_len))
        abort();

    check_untouched_values(text, len, out, out_len, path->steps[0].key);
    size_t from, to;
    if (plain_text(text, len) && allowed_range(text, len, path->steps[0].key, &from, &to)) {
        if (from > out_len || memcmp(text, out, from) != 0)
            abort(); /* a byte before the edited key changed */
        size_t tail = len - to;
        if (from + tail > out_len || memcmp(text + to, out + out_len - tail, tail) != 0)
            abort(); /* a byte of a later top-level key changed */
    }

    /* deleting item n again deletes the next one: only a key's deletion is a fixed point */
    if (op <= 4 || (op == 5 && path->steps[path->depth - 1].key != NULL)) {
        char *again = NULL;
        size_t again_len = 0;
        if (edit(op, sel, out, out_len, path, &again, &again_len) != 0 || again_len != out_len || memcmp(again, out, out_len) != 0)
            abort(); /* the same edit of its own result must change nothing */
        free(again);
    }
    free(out);
    return 0;
}
