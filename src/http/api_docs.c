/*
 * The OpenAPI generator: walks the ROUTER's routes (not the docs tables) and joins each with its docs entry, so a route
 * registered without documentation still shows up (x-undocumented) and is reported, and so is a docs entry that names
 * no route. Runs once at start; the result is served as bytes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hl/api_docs.h"
#include "hl/common.h"
#include "hl/http.h"
#include "api_docs_tables.h"

const hl_api_doc_table_t *const hl_api_doc_tables[] = {
    &hl_api_docs_system,   &hl_api_docs_auth,   &hl_api_docs_devices, &hl_api_docs_conversations, &hl_api_docs_streams,
    &hl_api_docs_profiles, &hl_api_docs_models, &hl_api_docs_agent,   &hl_api_docs_updates,       NULL,
};

int hl_api_docs_excluded(const char *pattern)
{
    return strcmp(pattern, "/pair") == 0 || strcmp(pattern, "/app") == 0 || strncmp(pattern, "/app/", 5) == 0 ||
           strncmp(pattern, "/__test/", 8) == 0;
}

const hl_api_doc_t *hl_api_docs_find(hl_method_t method, const char *pattern)
{
    for (const hl_api_doc_table_t *const *tp = hl_api_doc_tables; *tp != NULL; ++tp)
        for (size_t i = 0; i < (*tp)->count; ++i)
            if ((*tp)->docs[i].method == method && strcmp((*tp)->docs[i].pattern, pattern) == 0)
                return &(*tp)->docs[i];
    return NULL;
}

const char *hl_api_docs_method_name(hl_method_t method)
{
    switch (method) {
    case HL_METHOD_GET:
        return "get";
    case HL_METHOD_HEAD:
        return "head";
    case HL_METHOD_POST:
        return "post";
    case HL_METHOD_PUT:
        return "put";
    case HL_METHOD_PATCH:
        return "patch";
    case HL_METHOD_DELETE:
        return "delete";
    case HL_METHOD_OPTIONS:
        return "options";
    }
    return "get";
}

/* "/a/:id/b" → "/a/{id}/b", with the parameter names appended to `names`. */
static char *openapi_path(const char *pattern, json_t *names)
{
    size_t cap = strlen(pattern) * 2 + 2, o = 0;
    char *out = hl_malloc(cap);
    for (const char *p = pattern; *p != '\0';) {
        if (*p == ':' && p > pattern && p[-1] == '/') {
            const char *s = ++p;
            while (*p != '\0' && *p != '/')
                ++p;
            json_array_append_new(names, json_stringn(s, (size_t)(p - s)));
            out[o++] = '{';
            memcpy(out + o, s, (size_t)(p - s));
            o += (size_t)(p - s);
            out[o++] = '}';
        } else {
            out[o++] = *p++;
        }
    }
    out[o] = '\0';
    return out;
}

/* Adds "status:code,code ..." to errors {status: [codes]}; -1 when malformed. */
static int add_errors(json_t *errors, const char *text)
{
    const char *p = text;
    while (*p != '\0') {
        while (*p == ' ')
            ++p;
        if (*p == '\0')
            break;
        char status[4];
        size_t n = 0;
        while (p[n] >= '0' && p[n] <= '9' && n < 3)
            ++n;
        if (n != 3 || p[n] != ':')
            return -1;
        memcpy(status, p, 3);
        status[3] = '\0';
        p += 4;
        json_t *codes = json_object_get(errors, status);
        if (codes == NULL) {
            codes = json_array();
            json_object_set_new(errors, status, codes);
        }
        for (;;) {
            size_t m = 0;
            while (p[m] != '\0' && p[m] != ',' && p[m] != ' ')
                ++m;
            if (m == 0)
                return -1;
            int dup = 0;
            size_t i;
            json_t *c;
            json_array_foreach(codes, i, c)
            {
                if (strlen(json_string_value(c)) == m && memcmp(json_string_value(c), p, m) == 0)
                    dup = 1;
            }
            if (!dup)
                json_array_append_new(codes, json_stringn(p, m));
            p += m;
            if (*p != ',')
                break;
            ++p;
        }
    }
    return 0;
}

static const char *status_text(int status)
{
    const char *r = hl_http_reason_phrase(status);
    return r != NULL ? r : "Response";
}

typedef struct st_build_t {
    json_t *paths;
    json_t *tags; /* tag names in order of first use */
    json_t *seen; /* "METHOD pattern" of every documented route walked */
    json_t *problems;
    const char *err;
} build_t;

/* The errors every route of these flags can give, before its own (API.md §1.7, §18; DESIGN.md back-pressure). */
static void generic_errors(json_t *errors, const hl_route_t *route)
{
    if ((route->flags & (HL_ROUTE_AUTH | HL_ROUTE_CONNECT_TOKEN)) != 0)
        add_errors(errors, "401:auth_required,device_access_token_invalid,auth_invalid");
    if ((route->flags & HL_ROUTE_JSON_BODY) != 0)
        add_errors(errors, "400:invalid_json 413:payload_too_large");
    if ((route->flags & HL_ROUTE_RAW_BODY) != 0)
        add_errors(errors, "413:payload_too_large");
    add_errors(errors, "500:internal_error 503:server_busy");
    if (route->method != HL_METHOD_GET)
        add_errors(errors, "507:insufficient_storage");
}

static json_t *error_responses(json_t *errors)
{
    json_t *out = json_object();
    /* statuses in numeric order, whatever order the docs named them in */
    for (int status = 400; status < 600; ++status) {
        char key[8];
        snprintf(key, sizeof(key), "%d", status);
        json_t *codes = json_object_get(errors, key);
        if (codes == NULL)
            continue;
        char desc[512] = "";
        size_t o = 0, i;
        json_t *c;
        o = (size_t)snprintf(desc, sizeof(desc), "%s:", status_text(status));
        json_array_foreach(codes, i, c)
        {
            if (o < sizeof(desc))
                o += (size_t)snprintf(desc + o, sizeof(desc) - o, "%s %s", i == 0 ? "" : ",", json_string_value(c));
        }
        json_t *r = json_pack("{s:s, s:{s:{s:{s:s}}}, s:O}", "description", desc, "content", "application/json", "schema", "$ref",
                              "#/components/schemas/ErrorEnvelope", "x-error-codes", codes);
        json_object_set_new(out, key, r);
    }
    return out;
}

static json_t *schema_or_fail(build_t *b, const char *text, const char *fallback)
{
    json_t *s = hl_api_docs_schema(text != NULL ? text : fallback);
    if (s == NULL)
        b->err = "a docs schema is malformed";
    return s;
}

static int in_array(json_t *strings, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(strings, i, v)
    {
        if (strcmp(json_string_value(v), s) == 0)
            return 1;
    }
    return 0;
}

static void add_route(const hl_route_t *route, void *data)
{
    build_t *b = data;
    if (hl_api_docs_excluded(route->pattern) || b->err != NULL)
        return;
    const hl_api_doc_t *doc = hl_api_docs_find(route->method, route->pattern);
    const char *method = hl_api_docs_method_name(route->method);
    char key[512];
    snprintf(key, sizeof(key), "%s %s", method, route->pattern);
    for (char *k = key; *k != ' '; ++k)
        *k = (char)(*k - 'a' + 'A');
    if (doc == NULL)
        json_array_append_new(b->problems, json_sprintf("%s has no docs entry", key));
    else
        json_object_set_new(b->seen, key, json_true());

    json_t *names = json_array();
    char *path = openapi_path(route->pattern, names);
    json_t *item = json_object_get(b->paths, path);
    if (item == NULL) {
        item = json_object();
        json_object_set_new(b->paths, path, item);
    }
    json_t *op = json_object();
    json_object_set_new(item, method, op);
    const char *tag = doc != NULL && doc->tag != NULL ? doc->tag : "Undocumented";
    json_object_set_new(op, "tags", json_pack("[s]", tag));
    if (!in_array(b->tags, tag))
        json_array_append_new(b->tags, json_string(tag));
    size_t i;
    json_object_set_new(op, "summary", json_string(doc != NULL && doc->summary != NULL ? doc->summary : key));
    json_object_set_new(op, "operationId", json_string(key));
    const char *auth = (route->flags & HL_ROUTE_AUTH) != 0            ? "device"
                       : (route->flags & HL_ROUTE_CONNECT_TOKEN) != 0 ? "connect-token"
                                                                      : "none";
    json_object_set_new(op, "security", strcmp(auth, "none") == 0 ? json_array() : json_pack("[{s:[]}]", "bearerAuth"));
    json_object_set_new(op, "x-auth", json_string(auth));
    if (doc == NULL)
        json_object_set_new(op, "x-undocumented", json_true());

    json_t *params = json_array();
    json_t *n;
    json_array_foreach(names, i, n)
    {
        json_array_append_new(
            params, json_pack("{s:O, s:s, s:b, s:{s:s}}", "name", n, "in", "path", "required", 1, "schema", "type", "string"));
    }
    if (doc != NULL && doc->query != NULL) {
        json_t *fields = hl_api_docs_fields(doc->query);
        if (fields == NULL) {
            b->err = "a docs query list is malformed";
        } else {
            const char *qn;
            json_t *qs;
            json_object_foreach(json_object_get(fields, "properties"), qn, qs)
            {
                json_array_append_new(params,
                                      json_pack("{s:s, s:s, s:b, s:O}", "name", qn, "in", "query", "required", 0, "schema", qs));
            }
            json_decref(fields);
        }
    }
    json_object_set_new(op, "parameters", params);

    if ((route->flags & HL_ROUTE_JSON_BODY) != 0) {
        json_t *s = schema_or_fail(b, doc != NULL ? doc->request : NULL, "object");
        if (s != NULL)
            json_object_set_new(op, "requestBody",
                                json_pack("{s:b, s:{s:{s:o}}}", "required", 0, "content", "application/json", "schema", s));
    } else if ((route->flags & HL_ROUTE_RAW_BODY) != 0) {
        const char *type = doc != NULL && doc->request_type != NULL ? doc->request_type : "application/octet-stream";
        json_object_set_new(op, "requestBody",
                            json_pack("{s:b, s:{s:{s:{s:s, s:s}}}}", "required", 1, "content", type, "schema", "type", "string",
                                      "format", "binary"));
    }

    json_t *errors = json_object();
    generic_errors(errors, route);
    if (doc != NULL && doc->errors != NULL && add_errors(errors, doc->errors) != 0)
        b->err = "a docs error list is malformed";
    json_t *responses = error_responses(errors);
    json_decref(errors);
    int status = doc != NULL && doc->status != 0 ? doc->status : 200;
    char skey[8];
    snprintf(skey, sizeof(skey), "%d", status);
    json_t *ok = json_pack("{s:s}", "description", status_text(status));
    if (status != 204) {
        json_t *s = schema_or_fail(b, doc != NULL ? doc->response : NULL, "object");
        const char *type = doc != NULL && doc->response_type != NULL ? doc->response_type : "application/json";
        if (s != NULL)
            json_object_set_new(ok, "content", json_pack("{s:{s:o}}", type, "schema", s));
    }
    json_object_set_new(responses, skey, ok);
    json_object_set_new(op, "responses", responses);
    free(path);
    json_decref(names);
}

static json_t *components(build_t *b)
{
    json_t *schemas = json_object();
    for (const hl_api_schema_t *s = hl_api_schemas; s->name != NULL; ++s) {
        json_t *j = hl_api_docs_schema(s->schema);
        if (j == NULL) {
            b->err = "a shared schema is malformed";
            break;
        }
        json_object_set_new(schemas, s->name, j);
    }
    return json_pack("{s:{s:{s:s, s:s, s:s}}, s:o}", "securitySchemes", "bearerAuth", "type", "http", "scheme", "bearer",
                     "description", "A device access token (hlat_...), or a connect token on POST /api/v1/auth/device-session",
                     "schemas", schemas);
}

json_t *hl_api_docs_build(const hl_router_t *router, const char *version, json_t **problems, const char **err)
{
    build_t b = {json_object(), json_array(), json_object(), json_array(), NULL};
    hl_router_foreach(router, add_route, &b);
    for (const hl_api_doc_table_t *const *tp = hl_api_doc_tables; *tp != NULL; ++tp) {
        const hl_api_doc_table_t *t = *tp;
        for (size_t i = 0; i < t->count; ++i) {
            char key[512];
            snprintf(key, sizeof(key), "%s %s", hl_api_docs_method_name(t->docs[i].method), t->docs[i].pattern);
            for (char *k = key; *k != ' '; ++k)
                *k = (char)(*k - 'a' + 'A');
            if (json_object_get(b.seen, key) == NULL)
                json_array_append_new(b.problems, json_sprintf("docs entry %s names no registered route", key));
        }
    }
    json_t *comp = components(&b);
    /* tags in the order of the docs tables (areas as a reader meets them), then any only the router walk found */
    json_t *tags = json_array(), *named = json_object();
    for (const hl_api_doc_table_t *const *tp = hl_api_doc_tables; *tp != NULL; ++tp) {
        for (size_t i = 0; i < (*tp)->count; ++i) {
            const char *tag = (*tp)->docs[i].tag;
            if (tag != NULL && json_object_get(named, tag) == NULL && in_array(b.tags, tag)) {
                json_object_set_new(named, tag, json_true());
                json_array_append_new(tags, json_pack("{s:s}", "name", tag));
            }
        }
    }
    size_t i;
    json_t *tn;
    json_array_foreach(b.tags, i, tn)
    {
        if (json_object_get(named, json_string_value(tn)) == NULL)
            json_array_append_new(tags, json_pack("{s:O}", "name", tn));
    }
    json_decref(named);
    json_t *doc = json_pack("{s:s, s:{s:s, s:s, s:s}, s:[{s:s}], s:o, s:o, s:o}", "openapi", "3.0.3", "info", "title",
                            "Hermes Link API", "version", version, "description",
                            "The HermesLink HTTP API, generated from the daemon's route table. Protected routes take "
                            "Authorization: Bearer <device access token>.",
                            "servers", "url", "/", "tags", tags, "paths", b.paths, "components", comp);
    json_decref(b.tags);
    json_decref(b.seen);
    if (b.err != NULL) {
        json_decref(doc);
        json_decref(b.problems);
        if (err != NULL)
            *err = b.err;
        return NULL;
    }
    if (problems != NULL)
        *problems = b.problems;
    else
        json_decref(b.problems);
    return doc;
}
