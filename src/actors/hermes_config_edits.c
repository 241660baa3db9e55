/*
 * Several config.yaml edits in one change of the file: each hl_yaml_edit_* call takes the text the previous one made, so
 * every edit still changes only its own lines, and the file is read, checked and replaced once (one backup).
 */
#include "hermes_config_edits.h"

#include <stdlib.h>
#include <string.h>

#include "hl/common.h"

static hermes_edit_t *add(hermes_edits_t *e, hermes_edit_kind_t kind, const char *const *path, size_t depth)
{
    if (depth == 0 || depth > HERMES_EDIT_MAX_DEPTH)
        hl_fatal("hermes_edits: bad path depth");
    if (e->count == e->_cap) {
        e->_cap = e->_cap != 0 ? e->_cap * 2 : 8;
        e->items = hl_realloc(e->items, e->_cap * sizeof(*e->items));
    }
    hermes_edit_t *it = &e->items[e->count++];
    memset(it, 0, sizeof(*it));
    it->kind = kind;
    it->depth = depth;
    for (size_t i = 0; i < depth; ++i)
        it->path[i] = path[i];
    return it;
}

void hermes_edits_set(hermes_edits_t *e, const char *const *path, size_t depth, hl_yaml_scalar_t value)
{
    hermes_edit_t *it = add(e, HERMES_EDIT_SET, path, depth);
    it->value = value;
    if (value.type == HL_YAML_STRING) {
        it->_string = hl_strdup(value.string);
        it->value.string = it->_string;
    }
}

void hermes_edits_strings(hermes_edits_t *e, const char *const *path, size_t depth, const char *const *items, size_t count)
{
    hermes_edit_t *it = add(e, HERMES_EDIT_STRINGS, path, depth);
    it->items = hl_calloc(count + 1, sizeof(*it->items));
    for (size_t i = 0; i < count; ++i)
        it->items[i] = hl_strdup(items[i]);
    it->count = count;
}

void hermes_edits_delete(hermes_edits_t *e, const char *const *path, size_t depth)
{
    add(e, HERMES_EDIT_DELETE, path, depth);
}

int hermes_edits_apply(void *ctx, const char *text, size_t len, char **out, size_t *out_len, char *err, size_t errlen)
{
    hermes_edits_t *e = ctx;
    char *cur = hl_strndup(text, len);
    size_t cur_len = len;
    for (size_t i = 0; i < e->count; ++i) {
        const hermes_edit_t *it = &e->items[i];
        char *next = NULL;
        size_t next_len = 0;
        int ret;
        switch (it->kind) {
        case HERMES_EDIT_SET:
            ret = hl_yaml_edit_set(cur, cur_len, it->path, it->depth, &it->value, &next, &next_len, err, errlen);
            break;
        case HERMES_EDIT_STRINGS:
            ret = hl_yaml_edit_set_strings(cur, cur_len, it->path, it->depth, (const char *const *)it->items, it->count, &next,
                                           &next_len, err, errlen);
            break;
        default:
            ret = hl_yaml_edit_delete(cur, cur_len, it->path, it->depth, &next, &next_len, err, errlen);
        }
        free(cur);
        if (ret != 0)
            return ret;
        cur = next;
        cur_len = next_len;
    }
    e->changed = cur_len != len || memcmp(cur, text, len) != 0;
    *out = cur;
    *out_len = cur_len;
    return 0;
}

void hermes_edits_dispose(hermes_edits_t *e)
{
    for (size_t i = 0; i < e->count; ++i) {
        free(e->items[i]._string);
        for (size_t k = 0; k < e->items[i].count; ++k)
            free(e->items[i].items[k]);
        free(e->items[i].items);
    }
    free(e->items);
    memset(e, 0, sizeof(*e));
}
