/*
 * config.yaml line edits (src/actors/hermes_yaml_edit.c): set a scalar, set a list of strings, delete, rename, append a
 * mapping, at a path picked from a table of keys config.yaml really has (and short ones the dictionary makes likely).
 * Input: byte 0 the operation and value, byte 1 the path, the rest the YAML text. On success the output must:
 *   - be NUL-terminated at its length and, when the input loads with libyaml's loader (as PyYAML's in Hermes), load
 *     again as one document whose root is a mapping (or empty);
 *   - keep every byte outside the edited top-level key: all the text before the line of the path's first key, and all
 *     the text from the next top-level key on (for a new key, the text before the last top-level key's line); checked on
 *     LF-only text, where libyaml's line numbers are the text's;
 *   - for set, set-strings and delete, be a fixed point: the same edit of the output changes nothing.
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

/* Line starts of LF-only text: starts[i] is the offset of line i (0-based); returns the count. */
static size_t line_starts(const char *s, size_t len, size_t **out)
{
    size_t n = 1;
    for (size_t i = 0; i < len; ++i)
        n += s[i] == '\n';
    size_t *starts = malloc(n * sizeof(*starts));
    if (starts == NULL)
        abort();
    size_t k = 0;
    starts[k++] = 0;
    for (size_t i = 0; i < len; ++i)
        if (s[i] == '\n')
            starts[k++] = i + 1;
    *out = starts;
    return n;
}

/* True when libyaml's line numbers are the text's LF count: no CR and no Unicode line breaks (NEL, LS, PS). */
static bool lf_only(const char *s, size_t len)
{
    if (memchr(s, '\r', len) != NULL)
        return false;
    for (size_t i = 0; i + 1 < len; ++i) {
        unsigned char a = (unsigned char)s[i], b = (unsigned char)s[i + 1];
        if ((a == 0xC2 && b == 0x85) || (a == 0xE2 && b == 0x80 && i + 2 < len && ((unsigned char)s[i + 2] & 0xFE) == 0xA8))
            return false;
    }
    return true;
}

/*
 * The bytes of `text` an edit of top-level key `key` may change: [*from, *to). Found key: from its line to the line of
 * the next top-level key below it (or the end). Missing key: from the last top-level key's line to the end. False when
 * libyaml refuses the text's first document.
 */
static bool allowed_range(const char *text, size_t len, const char *key, size_t *from, size_t *to)
{
    size_t *starts;
    size_t nlines = line_starts(text, len, &starts);
    yaml_parser_t p;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    int depth = 0;
    size_t count = 0; /* events at depth 1 inside the root mapping: even = a key */
    bool root_mapping = false, ok = false;
    size_t key_line = SIZE_MAX, next_line = SIZE_MAX, last_line = SIZE_MAX;
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev))
            break;
        yaml_event_type_t t = ev.type;
        if (t == YAML_DOCUMENT_END_EVENT || t == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            ok = true;
            break;
        }
        bool start = t == YAML_MAPPING_START_EVENT || t == YAML_SEQUENCE_START_EVENT;
        bool end = t == YAML_MAPPING_END_EVENT || t == YAML_SEQUENCE_END_EVENT;
        if (depth == 0 && t == YAML_MAPPING_START_EVENT)
            root_mapping = true;
        if (depth == 1 && root_mapping && !end) {
            if (count % 2 == 0) {
                size_t line = ev.start_mark.line;
                last_line = line;
                if (key_line != SIZE_MAX && next_line == SIZE_MAX && line > key_line)
                    next_line = line;
                if (key_line == SIZE_MAX && t == YAML_SCALAR_EVENT && ev.data.scalar.length == strlen(key) &&
                    memcmp(ev.data.scalar.value, key, ev.data.scalar.length) == 0)
                    key_line = line;
            }
            ++count;
        }
        if (start)
            ++depth;
        else if (end)
            --depth;
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&p);
    if (ok) {
        size_t line = key_line != SIZE_MAX ? key_line : (last_line != SIZE_MAX ? last_line : 0);
        *from = line < nlines ? starts[line] : len;
        *to = key_line != SIZE_MAX && next_line != SIZE_MAX && next_line < nlines ? starts[next_line] : len;
    }
    free(starts);
    return ok;
}

/* True when `text` loads (libyaml's loader, as PyYAML's in Hermes) as one document whose root is a mapping or empty. */
static bool loads_as_mapping(const char *text, size_t len)
{
    yaml_parser_t p;
    yaml_document_t doc;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    bool ok = false;
    if (yaml_parser_load(&p, &doc)) {
        yaml_node_t *root = yaml_document_get_root_node(&doc);
        ok = root == NULL || root->type == YAML_MAPPING_NODE;
        yaml_document_delete(&doc);
    }
    yaml_parser_delete(&p);
    return ok;
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

    size_t from, to;
    if (lf_only(text, len) && allowed_range(text, len, path->steps[0].key, &from, &to)) {
        if (from > out_len || memcmp(text, out, from) != 0)
            abort(); /* a byte before the edited key changed */
        size_t tail = len - to;
        if (from + tail > out_len || memcmp(text + to, out + out_len - tail, tail) != 0)
            abort(); /* a byte of a later top-level key changed */
    }

    if (op <= 5) {
        char *again = NULL;
        size_t again_len = 0;
        if (edit(op, sel, out, out_len, path, &again, &again_len) != 0 || again_len != out_len || memcmp(again, out, out_len) != 0)
            abort(); /* the same edit of its own result must change nothing */
        free(again);
    }
    free(out);
    return 0;
}
