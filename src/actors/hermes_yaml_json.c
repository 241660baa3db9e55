/*
 * config.yaml as JSON, for the derived views (permissions, tool configs, model configs): the first document read with
 * hermes_yaml_load (depth-limited), its plain scalars typed the way PyYAML's resolver (YAML 1.1, what Hermes reads
 * with) types them: null, booleans (yes/no/on/off…), integers (decimal, 0x, 0o/0 octal, with '_'), floats; quoted and
 * block scalars stay strings. Mapping keys that are not scalars are skipped; a repeated key keeps its last value, as
 * PyYAML does. Aliases point at shared nodes: every visit counts, so a document of nested aliases cannot expand past
 * MAX_NODES, and the depth is bounded too (MAX_DEPTH), so that an alias inside the node it names (`a: &x [*x]`, which
 * libyaml's loader accepts) ends in an error instead of a recursion that overflows the stack.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "hermes_internal.h"
#include "hl/common.h"

#define MAX_NODES 200000
/* hermes_yaml_load refuses text nested deeper than 64: only aliases go past this */
#define MAX_DEPTH 128

typedef struct st_conv_t {
    yaml_document_t *doc;
    size_t visited;
    unsigned depth;
} conv_t;

/* An integer as PyYAML reads a plain scalar: [-+]? then 0b…, 0x…, 0… (octal), or decimal, '_' allowed between digits. */
static bool as_int(const char *s, json_int_t *out)
{
    char buf[72];
    size_t n = 0;
    for (const char *p = s; *p != '\0'; ++p) {
        if (*p == '_')
            continue;
        if (n + 1 >= sizeof(buf))
            return false;
        buf[n++] = *p;
    }
    buf[n] = '\0';
    const char *p = buf;
    int sign = 1;
    if (*p == '-' || *p == '+')
        sign = *p++ == '-' ? -1 : 1;
    if (*p == '\0')
        return false;
    int base = 10;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
        base = 16, p += 2;
    else if (p[0] == '0' && (p[1] == 'b' || p[1] == 'B'))
        base = 2, p += 2;
    else if (p[0] == '0' && p[1] != '\0')
        base = 8, p += 1;
    if (*p == '\0')
        return false;
    errno = 0;
    char *end;
    long long v = strtoll(p, &end, base);
    if (*end != '\0' || errno != 0)
        return false;
    *out = (json_int_t)(sign * v);
    return true;
}

/* A float as PyYAML reads one: digits with a '.', an optional exponent, or .inf/.nan. JSON has no inf/nan: NULL. */
static json_t *as_float(const char *s)
{
    if (strchr(s, '.') == NULL || strspn(s, "0123456789.-+eE_") != strlen(s))
        return NULL;
    char buf[72];
    size_t n = 0;
    for (const char *p = s; *p != '\0' && n + 1 < sizeof(buf); ++p)
        if (*p != '_')
            buf[n++] = *p;
    buf[n] = '\0';
    char *end;
    double v = strtod(buf, &end);
    if (*end != '\0' || end == buf || !isfinite(v))
        return NULL;
    return json_real(v);
}

static json_t *scalar_json(const yaml_node_t *n)
{
    const char *v = (const char *)n->data.scalar.value;
    size_t len = n->data.scalar.length;
    if (memchr(v, '\0', len) != NULL)
        return json_null();
    if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return json_stringn(v, len);
    if (hermes_yaml_is_null(n))
        return json_null();
    int b = hermes_parse_bool(v, false);
    if (b >= 0 && strcasecmp(v, "y") != 0 && strcasecmp(v, "n") != 0)
        return json_boolean(b);
    json_int_t i;
    if (len > 0 && as_int(v, &i))
        return json_integer(i);
    json_t *f = as_float(v);
    return f != NULL ? f : json_stringn(v, len);
}

static json_t *node_json(conv_t *c, yaml_node_t *n);

/* node_json one level down. */
static json_t *child_json(conv_t *c, yaml_node_t *n)
{
    if (c->depth >= MAX_DEPTH)
        return NULL;
    ++c->depth;
    json_t *v = node_json(c, n);
    --c->depth;
    return v;
}

static json_t *node_json(conv_t *c, yaml_node_t *n)
{
    if (n == NULL || ++c->visited > MAX_NODES)
        return NULL;
    switch (n->type) {
    case YAML_SCALAR_NODE:
        return scalar_json(n);
    case YAML_SEQUENCE_NODE: {
        json_t *arr = json_array();
        for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; ++it) {
            json_t *v = child_json(c, yaml_document_get_node(c->doc, *it));
            if (v == NULL) {
                json_decref(arr);
                return NULL;
            }
            json_array_append_new(arr, v);
        }
        return arr;
    }
    case YAML_MAPPING_NODE: {
        json_t *obj = json_object();
        for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; ++p) {
            yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
            if (k == NULL || k->type != YAML_SCALAR_NODE || memchr(k->data.scalar.value, '\0', k->data.scalar.length) != NULL)
                continue;
            json_t *v = child_json(c, yaml_document_get_node(c->doc, p->value));
            if (v == NULL) {
                json_decref(obj);
                return NULL;
            }
            char *key = hl_strndup((const char *)k->data.scalar.value, k->data.scalar.length);
            json_object_set_new(obj, key, v);
            free(key);
        }
        return obj;
    }
    default:
        return json_null();
    }
}

int hermes_yaml_json(const char *text, size_t len, json_t **out, char *err, size_t errlen)
{
    *out = NULL;
    yaml_document_t doc;
    int ret = hermes_yaml_load(&doc, text, len, "config.yaml", err, errlen);
    if (ret != 0)
        return ret;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    conv_t c = {.doc = &doc};
    json_t *v = root != NULL ? node_json(&c, root) : json_object();
    yaml_document_delete(&doc);
    if (v == NULL) {
        snprintf(err, errlen, "config.yaml: too many values (aliases expand past %d values or %d levels)", MAX_NODES, MAX_DEPTH);
        return -EFBIG;
    }
    if (json_is_null(v)) {
        json_decref(v);
        v = json_object();
    }
    if (!json_is_object(v)) {
        json_decref(v);
        snprintf(err, errlen, "config.yaml: the top level is not a mapping");
        return -EINVAL;
    }
    *out = v;
    return 0;
}
