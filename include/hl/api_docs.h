/*
 * The API reference (GET /api/docs/openapi.json): an OpenAPI 3.0 document generated from the router's registered routes
 * joined with documentation tables (src/http/api_docs_<area>.c, data only), so that a route registered without docs is
 * listed as undocumented (x-undocumented) and detected by the tests, and a docs entry naming no route is reported too.
 *
 * Schemas in the tables use a compact notation that hl_api_docs_schema turns into JSON Schema:
 *   type    := base ['?']                       '?' = nullable
 *   base    := string | integer | number | boolean | object | any | #Name (components/schemas ref)
 *            | [type] (array) | {name:type name:type ...} (object) | =a|b|c (string enum)
 * Query parameters use the field list of an object without the braces ("limit:integer cursor:string").
 * Errors: "400:code_a,code_b 404:code_c" (status:codes, space separated).
 */
#ifndef HL_API_DOCS_H
#define HL_API_DOCS_H

#include <jansson.h>
#include <stddef.h>

#include "hl/router.h"

/** The documentation of one route (method + pattern as registered). Every string but method/pattern/tag may be NULL. */
typedef struct st_hl_api_doc_t {
    hl_method_t method;
    const char *pattern;
    const char *tag;     /* area, an OpenAPI tag */
    const char *summary; /* one line */
    const char *query;   /* query parameters (field list) */
    const char *request; /* request body schema (JSON unless request_type says otherwise) */
    const char *request_type;
    int status;                /* the success status (0: 200) */
    const char *response;      /* success body schema, NULL for an empty body */
    const char *response_type; /* NULL: application/json */
    const char *errors;        /* route-specific errors */
} hl_api_doc_t;

/** A named shared schema (components/schemas), in the same notation. */
typedef struct st_hl_api_schema_t {
    const char *name;
    const char *schema;
} hl_api_schema_t;

/** One documentation table (one area). */
typedef struct st_hl_api_doc_table_t {
    const hl_api_doc_t *docs;
    size_t count;
} hl_api_doc_table_t;

/** Every documentation table, ended by NULL (src/http/api_docs.c). */
extern const hl_api_doc_table_t *const hl_api_doc_tables[];
/** The shared schemas, ended by {NULL, NULL}. */
extern const hl_api_schema_t hl_api_schemas[];

/** True for routes the reference leaves out: pages (/pair, /app) and the test-mode hooks (/__test/...). */
int hl_api_docs_excluded(const char *pattern);

/** The docs entry for method + pattern, or NULL. */
const hl_api_doc_t *hl_api_docs_find(hl_method_t method, const char *pattern);

/**
 * Parses one schema of the notation above into a new JSON Schema object; NULL when the text is malformed. Any thread.
 */
json_t *hl_api_docs_schema(const char *text);

/** Parses a field list ("a:string b:integer?") into an object schema ({type, properties}); NULL when malformed. */
json_t *hl_api_docs_fields(const char *text);

/**
 * Builds the OpenAPI document for every route of `router` (excluded ones left out) at `version`. Routes without docs get a
 * minimal entry with "x-undocumented": true. Returns a new reference, or NULL (with *err set to a static description) when
 * a docs entry cannot be parsed. `problems` (may be NULL) receives a new array of strings: every undocumented route and
 * every docs entry that names no registered route. Main thread (or any thread with the router read-only).
 */
json_t *hl_api_docs_build(const hl_router_t *router, const char *version, json_t **problems, const char **err);

/** The OpenAPI method name of a route method ("get", "post"...). */
const char *hl_api_docs_method_name(hl_method_t method);

#endif
