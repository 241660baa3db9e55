/*
 * The config.yaml keys the memory and skills views read: memory.memory_char_limit, memory.user_char_limit and
 * skills.disabled. Read-only, with the shared depth-limited loader (hermes_yaml.c); writing them back is the YAML
 * editor's job. Values are taken the way Hermes's Python takes them (int(), its list normalisation), and a value Hermes
 * would choke on falls back to the default with a warning instead of failing the whole view.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "hl/fsutil.h"
#include "hl/hermes_memory.h"
#include "hl/hermes_read.h"
#include "hl/hermes_skills.h"
#include "hermes_internal.h"

/* No limit above this: a 1 MiB file cannot hold more code points anyway. */
#define MAX_LIMIT 100000000L

static void warn(char **warning, char *line)
{
    if (warning != NULL)
        hermes_add_warning(warning, line);
    else
        free(line);
}

/* A scalar's text as Python's int() would read it: blanks around, an optional '+', digits with single '_' between. */
static int parse_limit(const yaml_node_t *n, long *out)
{
    if (n->type != YAML_SCALAR_NODE)
        return -EINVAL;
    const char *s = (const char *)n->data.scalar.value;
    size_t start, len = hermes_strip(s, n->data.scalar.length, &start);
    s += start;
    if (len > 0 && *s == '+') {
        ++s;
        --len;
    }
    long v = 0;
    int digits = 0;
    for (size_t i = 0; i < len; ++i) {
        if (s[i] == '_' && i > 0 && i + 1 < len && s[i - 1] != '_' && s[i + 1] != '_')
            continue;
        if (s[i] < '0' || s[i] > '9')
            return -EINVAL;
        v = v * 10 + (s[i] - '0');
        if (v > MAX_LIMIT)
            return -ERANGE;
        ++digits;
    }
    if (digits == 0 || v <= 0)
        return -EINVAL;
    *out = v;
    return 0;
}

static void read_limit(yaml_document_t *doc, yaml_node_t *memory, const char *key, size_t *out, char **warning)
{
    yaml_node_t *n = hermes_yaml_get(doc, memory, key);
    long v;
    if (n == NULL || hermes_yaml_is_null(n))
        return;
    if (parse_limit(n, &v) == 0)
        *out = (size_t)v;
    else
        warn(warning, hl_asprintf("config.yaml: memory.%s is not a positive integer, the default %zu is used", key, *out));
}

int hl_memory_limits_parse(hl_memory_limits_t *out, const char *text, size_t len, char **warning)
{
    out->memory = HL_MEMORY_DEFAULT_MEMORY_LIMIT;
    out->user = HL_MEMORY_DEFAULT_USER_LIMIT;
    yaml_document_t doc;
    char err[256];
    if (hermes_yaml_load(&doc, text, len, "config.yaml", err, sizeof(err)) != 0) {
        warn(warning, hl_strdup(err));
        return -EINVAL;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    yaml_node_t *memory = hermes_yaml_get(&doc, root, "memory");
    if (memory != NULL && !hermes_yaml_is_null(memory) && memory->type != YAML_MAPPING_NODE) {
        warn(warning, hl_strdup("config.yaml: memory is not a mapping, the default limits are used"));
    } else {
        read_limit(&doc, memory, "memory_char_limit", &out->memory, warning);
        read_limit(&doc, memory, "user_char_limit", &out->user, warning);
    }
    yaml_document_delete(&doc);
    return 0;
}

/* config.yaml of a profile: 0 with the text, -ENOENT when there is none, another -errno with a warning. */
static int read_config(const char *hermes_home, const char *profile, char **text, size_t *len, char **warning)
{
    char *dir = hl_hermes_profile_dir(hermes_home, profile);
    char *root_real = hermes_root_real(hermes_home);
    int ret = dir == NULL ? -EINVAL : hermes_read_file(root_real, dir, "config.yaml", text, len);
    if (ret != 0 && ret != -ENOENT)
        warn(warning, hl_asprintf("config.yaml: cannot be read (%s)", ret == -EXDEV   ? "a link out of the Hermes home"
                                                                      : ret == -EFBIG ? "larger than 1 MiB"
                                                                                      : strerror(-ret)));
    free(root_real);
    free(dir);
    return ret;
}

void hl_memory_limits_load(hl_memory_limits_t *out, const char *hermes_home, const char *profile, char **warning)
{
    char *text = NULL;
    size_t len = 0;
    out->memory = HL_MEMORY_DEFAULT_MEMORY_LIMIT;
    out->user = HL_MEMORY_DEFAULT_USER_LIMIT;
    if (read_config(hermes_home, profile, &text, &len, warning) == 0)
        (void)hl_memory_limits_parse(out, text, len, warning);
    free(text);
}

/* Adds a name, stripped, unless empty or already there. */
static void add_name(json_t *names, const char *s, size_t len)
{
    size_t start;
    len = hermes_strip(s, len, &start);
    if (len == 0 || !hermes_utf8_valid(s + start, len))
        return;
    json_t *name = json_stringn(s + start, len);
    size_t i;
    json_t *v;
    json_array_foreach(names, i, v)
    {
        if (json_equal(v, name)) {
            json_decref(name);
            return;
        }
    }
    json_array_append_new(names, name);
}

int hl_skills_disabled_parse(const char *text, size_t len, json_t **names, char **warning)
{
    *names = json_array();
    yaml_document_t doc;
    char err[256];
    if (hermes_yaml_load(&doc, text, len, "config.yaml", err, sizeof(err)) != 0) {
        warn(warning, hl_strdup(err));
        return -EINVAL;
    }
    yaml_node_t *skills = hermes_yaml_get(&doc, yaml_document_get_root_node(&doc), "skills");
    yaml_node_t *n = hermes_yaml_get(&doc, skills, "disabled");
    if (n == NULL || hermes_yaml_is_null(n)) {
        /* nothing disabled */
    } else if (n->type == YAML_SEQUENCE_NODE) {
        for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; ++it) {
            yaml_node_t *item = yaml_document_get_node(&doc, *it);
            if (item != NULL && item->type == YAML_SCALAR_NODE && !hermes_yaml_is_null(item))
                add_name(*names, (const char *)item->data.scalar.value, item->data.scalar.length);
        }
    } else if (n->type == YAML_SCALAR_NODE) {
        /* `hermes config set` may store the list as a JSON-array string; a plain string is one name */
        const char *v = (const char *)n->data.scalar.value;
        size_t start, vlen = hermes_strip(v, n->data.scalar.length, &start);
        json_t *arr = vlen > 0 && v[start] == '[' ? json_loadb(v + start, vlen, 0, NULL) : NULL;
        if (json_is_array(arr)) {
            size_t i;
            json_t *item;
            json_array_foreach(arr, i, item)
            {
                if (json_is_string(item))
                    add_name(*names, json_string_value(item), json_string_length(item));
            }
        } else {
            add_name(*names, v, n->data.scalar.length);
        }
        json_decref(arr);
    } else {
        warn(warning, hl_strdup("config.yaml: skills.disabled is not a list, ignored"));
    }
    yaml_document_delete(&doc);
    return 0;
}

int hl_skills_disabled_load(const char *hermes_home, const char *profile, json_t **names, char **warning)
{
    char *text = NULL;
    size_t len = 0;
    int ret = read_config(hermes_home, profile, &text, &len, warning);
    if (ret == 0)
        ret = hl_skills_disabled_parse(text, len, names, warning);
    else
        *names = json_array();
    free(text);
    return ret == -ENOENT ? 0 : ret;
}
