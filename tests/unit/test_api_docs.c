/*
 * The API reference (include/hl/api_docs.h): the daemon's whole route table, built as the daemon builds it, has a docs
 * entry for every route and every docs entry names a registered route; the document's operations, security and errors
 * follow the routes' flags; an undocumented route is reported and marked; the schema notation parses and rejects.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "hl/api_docs.h"
#include "hl/routes.h"
#include "hl/version.h"

static hl_router_t *daemon_router(int test_mode)
{
    /* registration only stores the actors' addresses: opaque non-NULL stand-ins are enough to build the table */
    static char stand_in;
    static hl_link_t link;
    link.test_mode = test_mode;
    hl_routes_deps_t deps = {.link = &link, .updater = (hl_updater_t *)&stand_in};
    return hl_routes_build(&deps);
}

typedef struct st_walk_t {
    json_t *doc;
    size_t documented, excluded;
} walk_t;

static void check_route(const hl_route_t *route, void *data)
{
    walk_t *w = data;
    if (hl_api_docs_excluded(route->pattern)) {
        ++w->excluded;
        return;
    }
    ++w->documented;
    /* "/a/:id" is "/a/{id}" in the document */
    char path[256];
    size_t o = 0;
    for (const char *p = route->pattern; *p != '\0' && o + 2 < sizeof(path);) {
        if (*p == ':') {
            path[o++] = '{';
            ++p;
            while (*p != '\0' && *p != '/' && o + 2 < sizeof(path))
                path[o++] = *p++;
            path[o++] = '}';
        } else {
            path[o++] = *p++;
        }
    }
    path[o] = '\0';
    json_t *op = json_object_get(json_object_get(json_object_get(w->doc, "paths"), path), hl_api_docs_method_name(route->method));
    ck_assert_msg(op != NULL, "%s %s missing from the document", hl_api_docs_method_name(route->method), route->pattern);
    ck_assert_msg(json_object_get(op, "x-undocumented") == NULL, "%s has no docs", route->pattern);
    ck_assert_ptr_nonnull(hl_api_docs_find(route->method, route->pattern));
    json_t *security = json_object_get(op, "security");
    ck_assert(json_is_array(security));
    if ((route->flags & (HL_ROUTE_AUTH | HL_ROUTE_CONNECT_TOKEN)) != 0) {
        ck_assert_int_eq(json_array_size(security), 1);
        ck_assert_ptr_nonnull(json_object_get(json_array_get(security, 0), "bearerAuth"));
        ck_assert_ptr_nonnull(json_object_get(json_object_get(op, "responses"), "401"));
    } else {
        ck_assert_int_eq(json_array_size(security), 0);
    }
    json_t *responses = json_object_get(op, "responses");
    int ok = 0, errors = 0;
    const char *status;
    json_t *r;
    json_object_foreach(responses, status, r)
    {
        if (status[0] == '2')
            ++ok;
        else
            errors += json_array_size(json_object_get(r, "x-error-codes")) > 0;
    }
    ck_assert_msg(ok == 1 && errors >= 2, "%s: %d success and %d error statuses", route->pattern, ok, errors);
    ck_assert_ptr_nonnull(json_object_get(responses, "500"));
    ck_assert_ptr_nonnull(json_object_get(responses, "503"));
    if ((route->flags & HL_ROUTE_JSON_BODY) != 0) {
        ck_assert_ptr_nonnull(json_object_get(op, "requestBody"));
        ck_assert_ptr_nonnull(json_object_get(responses, "413"));
    }
}

static size_t count_ops(json_t *doc)
{
    size_t n = 0;
    const char *path;
    json_t *item;
    json_object_foreach(json_object_get(doc, "paths"), path, item)
    {
        n += json_object_size(item);
    }
    return n;
}

static void check_daemon_table(int test_mode)
{
    hl_router_t *router = daemon_router(test_mode);
    json_t *problems = NULL;
    const char *err = NULL;
    json_t *doc = hl_api_docs_build(router, HL_VERSION, &problems, &err);
    ck_assert_msg(doc != NULL, "%s", err != NULL ? err : "");
    if (json_array_size(problems) != 0) {
        char *text = json_dumps(problems, JSON_INDENT(1));
        ck_abort_msg("the API reference is incomplete: %s", text);
    }
    ck_assert_str_eq(json_string_value(json_object_get(doc, "openapi")), "3.0.3");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(doc, "info"), "version")), HL_VERSION);
    walk_t w = {doc, 0, 0};
    hl_router_foreach(router, check_route, &w);
    ck_assert_uint_eq(count_ops(doc), w.documented);
    ck_assert_uint_ge(w.documented, 100);
    ck_assert_uint_ge(w.excluded, test_mode ? 2 : 1); /* /pair, plus the /__test hooks in test mode */
    ck_assert_ptr_null(json_object_get(json_object_get(doc, "paths"), "/pair"));
    ck_assert_ptr_nonnull(json_object_get(json_object_get(json_object_get(doc, "components"), "schemas"), "ErrorEnvelope"));
    json_decref(problems);
    json_decref(doc);
    hl_router_free(router);
}

START_TEST(every_route_documented)
{
    check_daemon_table(0);
}
END_TEST

START_TEST(test_mode_hooks_left_out)
{
    check_daemon_table(1);
}
END_TEST

static void handler(struct st_hl_request_t *r)
{
    (void)r;
}

START_TEST(undocumented_and_stale_are_reported)
{
    static const hl_route_t extra = {HL_METHOD_POST, "/api/v1/brand-new/:thing", handler, HL_ROUTE_AUTH | HL_ROUTE_JSON_BODY, 0};
    hl_router_t *router = daemon_router(0);
    ck_assert_int_eq(hl_router_add(router, &extra), 0);
    json_t *problems = NULL;
    json_t *doc = hl_api_docs_build(router, HL_VERSION, &problems, NULL);
    ck_assert_ptr_nonnull(doc);
    ck_assert_int_eq(json_array_size(problems), 1);
    ck_assert_ptr_nonnull(strstr(json_string_value(json_array_get(problems, 0)), "POST /api/v1/brand-new/:thing"));
    /* still served: a minimal entry, marked, with its auth and generic errors */
    json_t *op = json_object_get(json_object_get(json_object_get(doc, "paths"), "/api/v1/brand-new/{thing}"), "post");
    ck_assert_ptr_nonnull(op);
    ck_assert(json_is_true(json_object_get(op, "x-undocumented")));
    ck_assert_int_eq(json_array_size(json_object_get(op, "security")), 1);
    ck_assert_ptr_nonnull(json_object_get(json_object_get(op, "responses"), "401"));
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(op, "parameters"), 0), "name")), "thing");
    json_decref(problems);
    json_decref(doc);
    hl_router_free(router);

    /* a table with only some routes: every other docs entry names no registered route */
    router = hl_router_new();
    hl_routes_system(router);
    doc = hl_api_docs_build(router, HL_VERSION, &problems, NULL);
    ck_assert_ptr_nonnull(doc);
    ck_assert_uint_gt(json_array_size(problems), 50);
    ck_assert_ptr_nonnull(strstr(json_string_value(json_array_get(problems, 0)), "names no registered route"));
    json_decref(problems);
    json_decref(doc);
    hl_router_free(router);
}
END_TEST

START_TEST(schema_notation)
{
    json_t *s = hl_api_docs_schema("{ok:boolean items:[#Message] next:string? state:=idle|running n:integer? any:any x:#Ref?}");
    ck_assert_ptr_nonnull(s);
    char *text = json_dumps(s, JSON_COMPACT | JSON_SORT_KEYS);
    ck_assert_str_eq(text, "{\"properties\":{\"any\":{},\"items\":{\"items\":{\"$ref\":\"#/components/schemas/Message\"},\"type\":"
                           "\"array\"},\"n\":{\"nullable\":true,\"type\":\"integer\"},\"next\":{\"nullable\":true,\"type\":"
                           "\"string\"},\"ok\":{\"type\":\"boolean\"},\"state\":{\"enum\":[\"idle\",\"running\"],\"type\":"
                           "\"string\"},\"x\":{\"allOf\":[{\"$ref\":\"#/components/schemas/Ref\"}],\"nullable\":true}},"
                           "\"type\":\"object\"}");
    free(text);
    json_decref(s);
    static const char *const bad[] = {"",        "{ok:bool}", "{ok:boolean",
                                      "[string", "{:string}", "string extra",
                                      "=",       "#",         "[[[[[[[[[[[[[[[[[[[[string]]]]]]]]]]]]]]]]]]]"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i)
        ck_assert_msg(hl_api_docs_schema(bad[i]) == NULL, "accepted \"%s\"", bad[i]);
    json_t *f = hl_api_docs_fields("limit:integer cursor:string");
    ck_assert_int_eq(json_object_size(json_object_get(f, "properties")), 2);
    json_decref(f);
    ck_assert_ptr_null(hl_api_docs_fields("limit"));
}
END_TEST

Suite *suite_api_docs(void)
{
    Suite *s = suite_create("api_docs");
    TCase *tc = tcase_create("api_docs");
    tcase_add_test(tc, every_route_documented);
    tcase_add_test(tc, test_mode_hooks_left_out);
    tcase_add_test(tc, undocumented_and_stale_are_reported);
    tcase_add_test(tc, schema_notation);
    suite_add_tcase(s, tc);
    return s;
}
