/*
 * The compact schema notation of the docs tables (include/hl/api_docs.h) → JSON Schema (OpenAPI 3.0 flavour). A small
 * recursive-descent parser over a NUL-terminated string; depth is bounded so a malformed table cannot recurse without end.
 */
#include <ctype.h>
#include <string.h>

#include "hl/api_docs.h"
#include "hl/common.h"

#define MAX_DEPTH 16

typedef struct st_parser_t {
    const char *p;
    int depth;
} parser_t;

static void skip_ws(parser_t *ps)
{
    while (*ps->p == ' ' || *ps->p == '\n' || *ps->p == '\t')
        ++ps->p;
}

static int name_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '-' || c == '.';
}

static size_t read_name(parser_t *ps)
{
    size_t n = 0;
    while (name_char(ps->p[n]))
        ++n;
    return n;
}

static json_t *parse_type(parser_t *ps);

/* fields until `end` ('}' or '\0'): {properties: {...}} */
static json_t *parse_fields(parser_t *ps, char end)
{
    json_t *props = json_object();
    for (;;) {
        skip_ws(ps);
        if (*ps->p == end)
            break;
        size_t n = read_name(ps);
        if (n == 0 || ps->p[n] != ':')
            goto Error;
        char name[128];
        if (n >= sizeof(name))
            goto Error;
        memcpy(name, ps->p, n);
        name[n] = '\0';
        ps->p += n + 1;
        json_t *t = parse_type(ps);
        if (t == NULL)
            goto Error;
        json_object_set_new(props, name, t);
    }
    json_t *obj = json_pack("{s:s}", "type", "object");
    json_object_set_new(obj, "properties", props);
    return obj;
Error:
    json_decref(props);
    return NULL;
}

static json_t *parse_base(parser_t *ps)
{
    static const char *const simple[] = {"string", "integer", "number", "boolean", "object"};
    if (*ps->p == '[') {
        ++ps->p;
        json_t *items = parse_type(ps);
        if (items == NULL)
            return NULL;
        skip_ws(ps);
        if (*ps->p != ']') {
            json_decref(items);
            return NULL;
        }
        ++ps->p;
        json_t *arr = json_pack("{s:s}", "type", "array");
        json_object_set_new(arr, "items", items);
        return arr;
    }
    if (*ps->p == '{') {
        ++ps->p;
        json_t *obj = parse_fields(ps, '}');
        if (obj == NULL)
            return NULL;
        ++ps->p;
        return obj;
    }
    if (*ps->p == '#') {
        ++ps->p;
        size_t n = read_name(ps);
        if (n == 0 || n > 100)
            return NULL;
        char ref[128];
        memcpy(ref, "#/components/schemas/", 21);
        memcpy(ref + 21, ps->p, n);
        ref[21 + n] = '\0';
        ps->p += n;
        return json_pack("{s:s}", "$ref", ref);
    }
    if (*ps->p == '=') {
        ++ps->p;
        json_t *values = json_array();
        for (;;) {
            size_t n = read_name(ps);
            if (n == 0) {
                json_decref(values);
                return NULL;
            }
            json_array_append_new(values, json_stringn(ps->p, n));
            ps->p += n;
            if (*ps->p != '|')
                break;
            ++ps->p;
        }
        json_t *e = json_pack("{s:s}", "type", "string");
        json_object_set_new(e, "enum", values);
        return e;
    }
    size_t n = read_name(ps);
    if (n == 3 && memcmp(ps->p, "any", 3) == 0) {
        ps->p += n;
        return json_object(); /* {} : any value */
    }
    for (size_t i = 0; i < HL_ARRAY_SIZE(simple); ++i) {
        if (strlen(simple[i]) == n && memcmp(ps->p, simple[i], n) == 0) {
            ps->p += n;
            return json_pack("{s:s}", "type", simple[i]);
        }
    }
    return NULL;
}

static json_t *parse_type(parser_t *ps)
{
    if (++ps->depth > MAX_DEPTH)
        return NULL;
    skip_ws(ps);
    json_t *t = parse_base(ps);
    if (t != NULL && *ps->p == '?') {
        ++ps->p;
        if (json_object_get(t, "$ref") != NULL) {
            /* OpenAPI 3.0 ignores siblings of $ref: wrap it to make it nullable */
            json_t *wrap = json_pack("{s:b, s:[o]}", "nullable", 1, "allOf", t);
            t = wrap;
        } else {
            json_object_set_new(t, "nullable", json_true());
        }
    }
    --ps->depth;
    return t;
}

json_t *hl_api_docs_schema(const char *text)
{
    parser_t ps = {text, 0};
    json_t *t = parse_type(&ps);
    if (t == NULL)
        return NULL;
    skip_ws(&ps);
    if (*ps.p != '\0') {
        json_decref(t);
        return NULL;
    }
    return t;
}

json_t *hl_api_docs_fields(const char *text)
{
    parser_t ps = {text, 0};
    return parse_fields(&ps, '\0');
}
