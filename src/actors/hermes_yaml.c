/*
 * Loading YAML (config.yaml, a SKILL.md's frontmatter) with libyaml's document loader, and config.yaml's
 * platforms.api_server block. The loader keeps aliases as references to one node (no expansion) and readers only walk
 * fixed paths of mappings. libyaml's scanner costs time proportional to the nesting depth for every token (1 MiB of '['
 * takes minutes), so a first pass over the events refuses a document nested deeper than MAX_DEPTH before the loader
 * sees it: reading stays linear in the (size-limited) text.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <yaml.h>

#include "hl/hermes_read.h"
#include "hermes_internal.h"

/* far more than any Hermes config.yaml uses */
#define MAX_DEPTH 64

yaml_node_t *hermes_yaml_get(yaml_document_t *doc, yaml_node_t *map, const char *name)
{
    if (map == NULL || map->type != YAML_MAPPING_NODE)
        return NULL;
    yaml_node_t *found = NULL;
    size_t len = strlen(name);
    for (yaml_node_pair_t *pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top; ++pair) {
        yaml_node_t *key = yaml_document_get_node(doc, pair->key);
        if (key != NULL && key->type == YAML_SCALAR_NODE && key->data.scalar.length == len &&
            memcmp(key->data.scalar.value, name, len) == 0)
            found = yaml_document_get_node(doc, pair->value);
    }
    return found;
}

int hermes_yaml_is_null(const yaml_node_t *n)
{
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return 0;
    const char *v = (const char *)n->data.scalar.value;
    return n->data.scalar.length == 0 || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 || strcmp(v, "Null") == 0 ||
           strcmp(v, "NULL") == 0;
}

static void add_warning(hl_api_server_yaml_t *out, const char *fmt, const char *what)
{
    hermes_add_warning(&out->warning, hl_asprintf(fmt, what));
}

/* A scalar's text (NULL for a null, an empty string, or a node of the wrong type, which is also reported). */
static char *scalar(hl_api_server_yaml_t *out, yaml_node_t *n, const char *path)
{
    if (n == NULL || hermes_yaml_is_null(n))
        return NULL;
    if (n->type != YAML_SCALAR_NODE) {
        add_warning(out, "config.yaml: %s is not a single value, ignored", path);
        return NULL;
    }
    if (n->data.scalar.length == 0 || memchr(n->data.scalar.value, '\0', n->data.scalar.length) != NULL)
        return NULL;
    return hl_strndup((const char *)n->data.scalar.value, n->data.scalar.length);
}

/* A mapping on the path, NULL when absent or null; another type is reported and treated as absent. */
static yaml_node_t *mapping(hl_api_server_yaml_t *out, yaml_node_t *n, const char *path)
{
    if (n == NULL || hermes_yaml_is_null(n))
        return NULL;
    if (n->type != YAML_MAPPING_NODE) {
        add_warning(out, "config.yaml: %s is not a mapping, ignored", path);
        return NULL;
    }
    return n;
}

/* YAML 1.1 booleans, the ones PyYAML (Hermes's reader) knows; -1 for anything else. */
static int boolean(yaml_node_t *n)
{
    return n != NULL && n->type == YAML_SCALAR_NODE ? hermes_parse_bool((const char *)n->data.scalar.value, false) : -1;
}

static void parse_error(yaml_parser_t *parser, const char *what, char *err, size_t errlen)
{
    if (parser->error == YAML_MEMORY_ERROR)
        hl_fatal("libyaml: out of memory");
    snprintf(err, errlen, "%s: malformed YAML at line %zu: %s", what, parser->problem_mark.line + 1,
             parser->problem != NULL ? parser->problem : "parse error");
}

/* The first pass: the first document's events, refused past MAX_DEPTH or on a syntax error. 0 or -EINVAL. */
static int check_depth(const char *text, size_t len, const char *what, char *err, size_t errlen)
{
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        hl_fatal("yaml_parser_initialize");
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    int depth = 0, ret = 0;
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            parse_error(&parser, what, err, errlen);
            ret = -EINVAL;
            break;
        }
        yaml_event_type_t type = ev.type;
        size_t line = ev.start_mark.line + 1;
        yaml_event_delete(&ev);
        if (type == YAML_SEQUENCE_START_EVENT || type == YAML_MAPPING_START_EVENT) {
            if (++depth > MAX_DEPTH) {
                snprintf(err, errlen, "%s: malformed YAML at line %zu: nested more than %d levels deep", what, line, MAX_DEPTH);
                ret = -EINVAL;
                break;
            }
        } else if (type == YAML_SEQUENCE_END_EVENT || type == YAML_MAPPING_END_EVENT) {
            --depth;
        } else if (type == YAML_DOCUMENT_END_EVENT || type == YAML_STREAM_END_EVENT) {
            break;
        }
    }
    yaml_parser_delete(&parser);
    return ret;
}

int hermes_yaml_load(yaml_document_t *doc, const char *text, size_t len, const char *what, char *err, size_t errlen)
{
    if (check_depth(text, len, what, err, errlen) != 0)
        return -EINVAL;
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        hl_fatal("yaml_parser_initialize");
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    int ret = 0;
    if (!yaml_parser_load(&parser, doc)) {
        parse_error(&parser, what, err, errlen);
        ret = -EINVAL;
    }
    yaml_parser_delete(&parser);
    return ret;
}

int hl_api_server_yaml_read(hl_api_server_yaml_t *out, const char *text, size_t len, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    out->enabled = -1;
    yaml_document_t doc;
    if (hermes_yaml_load(&doc, text, len, "config.yaml", err, errlen) != 0)
        return -EINVAL;
    yaml_node_t *root = mapping(out, yaml_document_get_root_node(&doc), "the document");
    yaml_node_t *platforms = mapping(out, hermes_yaml_get(&doc, root, "platforms"), "platforms");
    yaml_node_t *api = mapping(out, hermes_yaml_get(&doc, platforms, "api_server"), "platforms.api_server");
    out->enabled = boolean(hermes_yaml_get(&doc, api, "enabled"));
    yaml_node_t *extra = mapping(out, hermes_yaml_get(&doc, api, "extra"), "platforms.api_server.extra");
    out->host = scalar(out, hermes_yaml_get(&doc, extra, "host"), "platforms.api_server.extra.host");
    out->port = scalar(out, hermes_yaml_get(&doc, extra, "port"), "platforms.api_server.extra.port");
    out->key = scalar(out, hermes_yaml_get(&doc, extra, "key"), "platforms.api_server.extra.key");
    yaml_document_delete(&doc);
    return 0;
}

void hl_api_server_yaml_dispose(hl_api_server_yaml_t *y)
{
    free(y->host);
    free(y->port);
    if (y->key != NULL)
        explicit_bzero(y->key, strlen(y->key));
    free(y->key);
    free(y->warning);
    memset(y, 0, sizeof(*y));
    y->enabled = -1;
}
