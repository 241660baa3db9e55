/*
 * A skills listing as API.md §10 shows it: Skill objects and the per-category counts. Field names are the original's
 * (camelCase relativePath); the uncategorised group's label is the original's Chinese text, which apps display as is.
 */
#include <string.h>

#include "hl/hermes_skills.h"

#define UNCATEGORISED_LABEL "\xe6\x9c\xaa\xe5\x88\x86\xe7\xb1\xbb" /* 未分类 */

const hl_skill_t *hl_skills_find(const hl_skills_t *s, const char *name)
{
    for (size_t i = 0; i < s->count; ++i)
        if (strcmp(s->items[i].name, name) == 0)
            return &s->items[i];
    return NULL;
}

void hl_skills_dispose(hl_skills_t *s)
{
    for (size_t i = 0; i < s->count; ++i) {
        hl_skill_t *k = &s->items[i];
        free(k->name);
        free(k->category);
        free(k->description);
        free(k->source);
        free(k->trust);
        free(k->relative_path);
    }
    free(s->items);
    free(s->warning);
    memset(s, 0, sizeof(*s));
}

static json_t *string_or_null(const char *s)
{
    return s != NULL ? json_string(s) : json_null();
}

json_t *hl_skill_json(const hl_skill_t *k)
{
    return json_pack("{s:s, s:o, s:s, s:b, s:s, s:o, s:s}", "name", k->name, "category", string_or_null(k->category), "description",
                     k->description, "enabled", k->enabled, "source", k->source, "trust", string_or_null(k->trust), "relativePath",
                     k->relative_path);
}

json_t *hl_skills_json(const hl_skills_t *s)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < s->count; ++i)
        json_array_append_new(arr, hl_skill_json(&s->items[i]));
    return arr;
}

static bool same_category(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

json_t *hl_skills_categories_json(const hl_skills_t *s)
{
    json_t *arr = json_array();
    /* the list is sorted by category, so each category is one run */
    for (size_t i = 0; i < s->count;) {
        const char *cat = s->items[i].category;
        size_t total = 0, enabled = 0;
        for (; i < s->count && same_category(s->items[i].category, cat); ++i) {
            ++total;
            enabled += s->items[i].enabled;
        }
        json_array_append_new(arr, json_pack("{s:o, s:s, s:I, s:I, s:I}", "name", string_or_null(cat), "label",
                                             cat != NULL ? cat : UNCATEGORISED_LABEL, "total", (json_int_t)total, "enabled",
                                             (json_int_t)enabled, "disabled", (json_int_t)(total - enabled)));
    }
    return arr;
}
