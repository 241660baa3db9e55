/*
 * A profile's skills (include/hl/hermes_skills.h): one SKILL.md's frontmatter read as Hermes reads it, the scan of
 * skills/ on a temporary Hermes home (nested categories, pruned folders, broken frontmatter, names that are not
 * strings, duplicates, links out of the profile and round a loop, the depth bound, provenance, disabled marking), the
 * API's JSON, and skills.disabled from config.yaml.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "hl/common.h"
#include "hl/fsutil.h"
#include "hl/hermes_skills.h"
#include "unit_util.h"

/* ---- one SKILL.md ---- */

static void md(hl_skill_md_t *m, const char *text)
{
    hl_skill_md_parse(m, text, strlen(text));
}

START_TEST(frontmatter_name_and_description)
{
    hl_skill_md_t m;
    md(&m, "---\nname: arxiv\ndescription: >\n  Search   papers\n  on arXiv.\nversion: 1.0\n---\n# Title\nbody\n");
    ck_assert_str_eq(m.name, "arxiv");
    ck_assert_str_eq(m.description, "Search papers on arXiv.");
    ck_assert(!m.frontmatter_broken);
    ck_assert(!m.name_not_string);
    hl_skill_md_dispose(&m);

    /* a BOM, blanks after the closing ---, CRLF-free body fallback for the description */
    md(&m, "\xef\xbb\xbf---\nname: \"quoted name\"\n---   \n\n# Heading\n\n  First   real line.  \nSecond\n");
    ck_assert_str_eq(m.name, "quoted name");
    ck_assert_str_eq(m.description, "First real line.");
    hl_skill_md_dispose(&m);

    /* no frontmatter: no name (the folder's is used), description from the body */
    md(&m, "# Only a title\n\nDoes things.\n");
    ck_assert_ptr_null(m.name);
    ck_assert_str_eq(m.description, "Does things.");
    hl_skill_md_dispose(&m);

    /* an opening --- without a closing line is no frontmatter: the body starts at the top, as in Hermes */
    md(&m, "---\nname: never closed\n");
    ck_assert_ptr_null(m.name);
    ck_assert_str_eq(m.description, "---");
    hl_skill_md_dispose(&m);

    /* YAML that is not a mapping gives no keys */
    md(&m, "---\n- a\n- b\n---\nText.\n");
    ck_assert_ptr_null(m.name);
    ck_assert_str_eq(m.description, "Text.");
    hl_skill_md_dispose(&m);

    /* an empty frontmatter */
    md(&m, "---\n---\nJust body.\n");
    ck_assert_ptr_null(m.name);
    ck_assert_str_eq(m.description, "Just body.");
    hl_skill_md_dispose(&m);
}
END_TEST

START_TEST(frontmatter_broken_falls_back_to_lines)
{
    hl_skill_md_t m;
    md(&m, "---\nname: broken-skill\ndescription: [unclosed: list\n---\nbody\n");
    ck_assert(m.frontmatter_broken);
    ck_assert_ptr_nonnull(strstr(m.yaml_error, "frontmatter: malformed YAML at line"));
    ck_assert_str_eq(m.name, "broken-skill");
    ck_assert_str_eq(m.description, "[unclosed: list");
    hl_skill_md_dispose(&m);
}
END_TEST

START_TEST(frontmatter_names_that_are_not_strings)
{
    static const char *const not_strings[] = {"123", "yes", "Off", "~", "", "1.5", "0x1f", "[a, b]", "{a: 1}", "null"};
    for (size_t i = 0; i < HL_ARRAY_SIZE(not_strings); ++i) {
        char *text = hl_asprintf("---\nname: %s\n---\nx\n", not_strings[i]);
        hl_skill_md_t m;
        md(&m, text);
        ck_assert_msg(m.name_not_string, "name: %s", not_strings[i]);
        hl_skill_md_dispose(&m);
        free(text);
    }
    static const char *const strings[] = {"\"123\"", "'yes'", "1password", "v1.2.3", "my-skill", "a:b"};
    for (size_t i = 0; i < HL_ARRAY_SIZE(strings); ++i) {
        char *text = hl_asprintf("---\nname: %s\n---\nx\n", strings[i]);
        hl_skill_md_t m;
        md(&m, text);
        ck_assert_msg(!m.name_not_string && m.name != NULL, "name: %s", strings[i]);
        hl_skill_md_dispose(&m);
        free(text);
    }
}
END_TEST

START_TEST(frontmatter_refuses_deep_nesting_quickly)
{
    size_t depth = 100000;
    char *text = hl_malloc(depth + 32);
    memcpy(text, "---\nname: ", 10);
    memset(text + 10, '[', depth);
    memcpy(text + 10 + depth, "\n---\nbody\n", 11);
    hl_skill_md_t m;
    md(&m, text);
    ck_assert(m.frontmatter_broken);
    ck_assert_ptr_nonnull(strstr(m.yaml_error, "nested more than"));
    hl_skill_md_dispose(&m);
    free(text);
}
END_TEST

/* ---- a scan ---- */

static void put(const char *base, const char *rel, const char *text)
{
    char *p = ut_path(base, rel);
    char *slash = strrchr(p, '/');
    *slash = '\0';
    ck_assert_int_eq(hl_mkdir_p(p, 0700), 0);
    *slash = '/';
    ut_write_str(p, text);
    free(p);
}

static void link_at(const char *base, const char *rel, const char *target)
{
    char *p = ut_path(base, rel);
    ck_assert_int_eq(symlink(target, p), 0);
    free(p);
}

typedef struct st_home_t {
    char *tmp, *home, *outside;
} home_t;

static void make_home(home_t *h)
{
    h->tmp = ut_mkdtemp();
    h->home = ut_path(h->tmp, "home");
    h->outside = ut_path(h->tmp, "outside");
    const char *H = h->home;
    put(H, "skills/research/arxiv/SKILL.md", "---\nname: arxiv\ndescription: Search papers on arXiv.\n---\nbody\n");
    put(H, "skills/research/arxiv/references/old/SKILL.md", "---\nname: archived\n---\n"); /* support folder */
    put(H, "skills/research/deep/nested/SKILL.md", "---\nname: nested-skill\ndescription: Deep.\n---\n");
    put(H, "skills/plain/SKILL.md", "# Plain\n\nNo frontmatter here.\n");
    put(H, "skills/devops/broken/SKILL.md", "---\nname: broken-skill\ndescription: [unclosed\n---\nbody\n");
    put(H, "skills/devops/numeric/SKILL.md", "---\nname: 2048\n---\n");
    put(H, "skills/zz/dup/SKILL.md", "---\nname: arxiv\ndescription: second of the name\n---\n");
    put(H, "skills/.git/x/SKILL.md", "---\nname: in-git\n---\n");
    put(H, "skills/node_modules/y/SKILL.md", "---\nname: in-node-modules\n---\n");
    put(H, "skills/_org/acme/z/SKILL.md", "---\nname: org-skill\n---\n"); /* no .active_org: not read */
    put(H, "skills/bad/utf8/SKILL.md", "---\nname: bad\n---\n\xff\xfe\n");
    put(H, "skills/.bundled_manifest", "plain:0123abcd\n\nother:ffff\n");
    put(H, "skills/.hub/lock.json", "{\"installed\":{\"nested-skill\":{\"source\":\"github\",\"trust_level\":\"community\"}}}");
    /* a folder leading out of the profile, and a loop of links inside it */
    put(h->outside, "evil/SKILL.md", "---\nname: evil\n---\n");
    char *evil = ut_path(h->outside, "evil");
    link_at(H, "skills/evil", evil);
    free(evil);
    put(H, "skills/loop/inner/SKILL.md", "---\nname: looped\n---\n");
    link_at(H, "skills/loop/inner/again", "..");
}

static void home_done(home_t *h)
{
    free(h->home);
    free(h->outside);
    ut_rm_rf(h->tmp);
}

static const hl_skill_t *find(const hl_skills_t *s, const char *name)
{
    const hl_skill_t *k = hl_skills_find(s, name);
    ck_assert_msg(k != NULL, "skill %s missing", name);
    return k;
}

START_TEST(scan_nested_categories_and_skips)
{
    home_t h;
    make_home(&h);
    json_t *disabled = json_pack("[s]", "arxiv");
    hl_skills_t s;
    ck_assert_int_eq(hl_skills_scan(&s, h.home, NULL, disabled), 0);
    /* order: category (uncategorised last), then name */
    static const char *const order[] = {"broken-skill", "looped", "arxiv", "nested-skill", "plain"};
    ck_assert_uint_eq(s.count, HL_ARRAY_SIZE(order));
    for (size_t i = 0; i < s.count; ++i)
        ck_assert_str_eq(s.items[i].name, order[i]);

    const hl_skill_t *k = find(&s, "arxiv");
    ck_assert_str_eq(k->category, "research");
    ck_assert_str_eq(k->relative_path, "research/arxiv");
    ck_assert_str_eq(k->description, "Search papers on arXiv.");
    ck_assert(!k->enabled);
    ck_assert_str_eq(k->source, "local");
    ck_assert_str_eq(k->trust, "local");

    k = find(&s, "nested-skill");
    ck_assert_str_eq(k->category, "research"); /* the first folder, however deep */
    ck_assert_str_eq(k->relative_path, "research/deep/nested");
    ck_assert(k->enabled);
    ck_assert_str_eq(k->source, "github");
    ck_assert_str_eq(k->trust, "community");

    k = find(&s, "plain");
    ck_assert_ptr_null(k->category);
    ck_assert_str_eq(k->relative_path, "plain");
    ck_assert_str_eq(k->description, "No frontmatter here.");
    ck_assert_str_eq(k->source, "builtin");
    ck_assert_str_eq(k->trust, "builtin");

    /* broken frontmatter: listed as Hermes's fallback reads it, and reported */
    k = find(&s, "broken-skill");
    ck_assert_str_eq(k->category, "devops");
    ck_assert_str_eq(k->description, "[unclosed");
    ck_assert_str_eq(find(&s, "looped")->category, "loop");

    ck_assert_ptr_nonnull(s.warning);
    ck_assert_ptr_nonnull(strstr(s.warning, "skills/devops/broken/SKILL.md: frontmatter: malformed YAML"));
    ck_assert_ptr_nonnull(strstr(s.warning, "skills/devops/numeric/SKILL.md: name is not a string"));
    ck_assert_ptr_nonnull(strstr(s.warning, "skills/zz/dup/SKILL.md: a skill named \"arxiv\" comes first"));
    ck_assert_ptr_nonnull(strstr(s.warning, "skills/bad/utf8/SKILL.md: not UTF-8 text"));
    ck_assert_ptr_nonnull(strstr(s.warning, "skills/evil: a link out of the profile"));
    ck_assert_ptr_null(strstr(s.warning, h.tmp)); /* no absolute paths */
    /* pruned: support folders of a skill, .git, node_modules, _org without a marker */
    ck_assert_ptr_null(hl_skills_find(&s, "archived"));
    ck_assert_ptr_null(hl_skills_find(&s, "in-git"));
    ck_assert_ptr_null(hl_skills_find(&s, "in-node-modules"));
    ck_assert_ptr_null(hl_skills_find(&s, "org-skill"));
    ck_assert_ptr_null(hl_skills_find(&s, "evil"));
    hl_skills_dispose(&s);

    /* the active org's mirror is read */
    put(h.home, "skills/_org/.active_org", "acme\n");
    ck_assert_int_eq(hl_skills_scan(&s, h.home, "default", NULL), 0);
    ck_assert(find(&s, "org-skill")->enabled);
    ck_assert(find(&s, "arxiv")->enabled); /* no disabled list */
    hl_skills_dispose(&s);
    json_decref(disabled);
    home_done(&h);
}
END_TEST

START_TEST(scan_json_shapes)
{
    home_t h;
    make_home(&h);
    json_t *disabled = json_pack("[s]", "arxiv");
    hl_skills_t s;
    ck_assert_int_eq(hl_skills_scan(&s, h.home, NULL, disabled), 0);
    json_t *skills = hl_skills_json(&s), *cats = hl_skills_categories_json(&s);
    json_t *arxiv = json_array_get(skills, 2);
    json_t *want =
        json_pack("{s:s, s:s, s:s, s:b, s:s, s:s, s:s}", "name", "arxiv", "category", "research", "description",
                  "Search papers on arXiv.", "enabled", 0, "source", "local", "trust", "local", "relativePath", "research/arxiv");
    ck_assert_msg(json_equal(arxiv, want), "%s", json_dumps(arxiv, 0));
    json_decref(want);
    json_t *plain = json_array_get(skills, 4);
    ck_assert(json_is_null(json_object_get(plain, "category")));
    ck_assert_uint_eq(json_object_size(plain), 7);

    want = json_pack("[{s:s, s:s, s:i, s:i, s:i}, {s:s, s:s, s:i, s:i, s:i}, {s:s, s:s, s:i, s:i, s:i}, {s:n, s:s, s:i, s:i, "
                     "s:i}]",
                     "name", "devops", "label", "devops", "total", 1, "enabled", 1, "disabled", 0, /* */
                     "name", "loop", "label", "loop", "total", 1, "enabled", 1, "disabled", 0,     /* */
                     "name", "research", "label", "research", "total", 2, "enabled", 1, "disabled", 1, "name", "label",
                     "\xe6\x9c\xaa\xe5\x88\x86\xe7\xb1\xbb", "total", 1, "enabled", 1, "disabled", 0);
    ck_assert_msg(json_equal(cats, want), "%s", json_dumps(cats, 0));
    json_decref(want);
    /* never an absolute path */
    char *dump = json_dumps(skills, 0);
    ck_assert_ptr_null(strstr(dump, h.tmp));
    free(dump);
    json_decref(skills);
    json_decref(cats);
    hl_skills_dispose(&s);
    json_decref(disabled);
    home_done(&h);
}
END_TEST

START_TEST(scan_bounds_and_cuts)
{
    char *tmp = ut_mkdtemp(), *home = ut_path(tmp, "home");
    /* deeper than HL_SKILLS_MAX_DEPTH folders below skills/ */
    char rel[512] = "skills";
    for (int i = 0; i < HL_SKILLS_MAX_DEPTH + 1; ++i) {
        size_t n = strlen(rel);
        snprintf(rel + n, sizeof(rel) - n, "/d%d", i);
    }
    size_t n = strlen(rel);
    snprintf(rel + n, sizeof(rel) - n, "/SKILL.md");
    put(home, rel, "---\nname: too-deep\n---\n");
    put(home, "skills/a/b/c/d/e/f/g/SKILL.md", "---\nname: deep-enough\n---\n");
    /* name cut to 64 characters, description to 1024 with "..." (characters, not bytes) */
    char *long_name = hl_malloc(200), *long_desc = hl_malloc(4000);
    memset(long_name, 'n', 99);
    long_name[99] = '\0';
    for (int i = 0; i < 1100; ++i)
        memcpy(long_desc + 2 * i, "\xc3\xa9", 2);
    long_desc[2200] = '\0';
    char *text = hl_asprintf("---\nname: %s\ndescription: %s\n---\n", long_name, long_desc);
    put(home, "skills/long/SKILL.md", text);
    hl_skills_t s;
    ck_assert_int_eq(hl_skills_scan(&s, home, NULL, NULL), 0);
    ck_assert_ptr_null(hl_skills_find(&s, "too-deep"));
    ck_assert_ptr_nonnull(hl_skills_find(&s, "deep-enough"));
    ck_assert_ptr_nonnull(strstr(s.warning, "deeper than"));
    long_name[64] = '\0';
    const hl_skill_t *k = hl_skills_find(&s, long_name);
    ck_assert_ptr_nonnull(k);
    ck_assert_uint_eq(strlen(k->description), 1021 * 2 + 3);
    ck_assert(strcmp(k->description + 1021 * 2, "...") == 0);
    hl_skills_dispose(&s);
    free(text);
    free(long_name);
    free(long_desc);
    free(home);
    ut_rm_rf(tmp);
}
END_TEST

START_TEST(scan_profiles)
{
    char *tmp = ut_mkdtemp(), *home = ut_path(tmp, "home");
    put(home, "profiles/work/skills/w/SKILL.md", "---\nname: work-skill\n---\n");
    put(home, "profiles/empty/config.yaml", "");
    hl_skills_t s;
    ck_assert_int_eq(hl_skills_scan(&s, home, "work", NULL), 0);
    ck_assert_uint_eq(s.count, 1);
    ck_assert_str_eq(s.items[0].relative_path, "w");
    hl_skills_dispose(&s);
    /* no skills/ yet: none, no error */
    ck_assert_int_eq(hl_skills_scan(&s, home, "empty", NULL), 0);
    ck_assert_uint_eq(s.count, 0);
    ck_assert_ptr_null(s.warning);
    hl_skills_dispose(&s);
    /* the default profile has no skills/ here either */
    ck_assert_int_eq(hl_skills_scan(&s, home, NULL, NULL), 0);
    ck_assert_uint_eq(s.count, 0);
    hl_skills_dispose(&s);
    ck_assert_int_eq(hl_skills_scan(&s, home, "ghost", NULL), -ENOENT);
    hl_skills_dispose(&s);
    ck_assert_int_eq(hl_skills_scan(&s, home, "../x", NULL), -EINVAL);
    hl_skills_dispose(&s);
    /* skills/ itself leading out of the profile: not read */
    char *out = ut_path(tmp, "elsewhere");
    put(out, "x/SKILL.md", "---\nname: elsewhere\n---\n");
    link_at(home, "profiles/empty/skills", out);
    ck_assert_int_eq(hl_skills_scan(&s, home, "empty", NULL), 0);
    ck_assert_uint_eq(s.count, 0);
    ck_assert_ptr_nonnull(strstr(s.warning, "out of the profile"));
    hl_skills_dispose(&s);
    free(out);
    free(home);
    ut_rm_rf(tmp);
}
END_TEST

/* ---- skills.disabled ---- */

static void disabled(const char *yaml, int want_ret, const char *want_json, const char *want_warning)
{
    json_t *names = NULL;
    char *warning = NULL;
    ck_assert_int_eq(hl_skills_disabled_parse(yaml, strlen(yaml), &names, &warning), want_ret);
    json_t *want = json_loads(want_json, 0, NULL);
    ck_assert_msg(json_equal(names, want), "%s: %s", yaml, json_dumps(names, 0));
    if (want_warning == NULL)
        ck_assert_msg(warning == NULL, "warning %s", warning);
    else
        ck_assert_msg(warning != NULL && strstr(warning, want_warning) != NULL, "warning %s", warning);
    json_decref(want);
    json_decref(names);
    free(warning);
}

START_TEST(disabled_from_config_yaml)
{
    disabled("", 0, "[]", NULL);
    disabled("skills:\n  external_dirs: []\n", 0, "[]", NULL);
    disabled("skills:\n  disabled:\n    - arxiv\n    - ' spaced '\n    - arxiv\n    - ''\n", 0, "[\"arxiv\", \"spaced\"]", NULL);
    disabled("skills: {disabled: [a, b]}\n", 0, "[\"a\", \"b\"]", NULL);
    disabled("skills:\n  disabled: single\n", 0, "[\"single\"]", NULL);
    disabled("skills:\n  disabled: '[\"x\", \"y\"]'\n", 0, "[\"x\", \"y\"]", NULL);
    disabled("skills:\n  disabled: {a: 1}\n", 0, "[]", "not a list");
    disabled("skills:\n  disabled: [unclosed\n", -EINVAL, "[]", "malformed YAML");
}
END_TEST

Suite *suite_hermes_skills(void)
{
    Suite *s = suite_create("hermes_skills");
    TCase *md_case = tcase_create("skill_md");
    tcase_set_timeout(md_case, 30);
    tcase_add_test(md_case, frontmatter_name_and_description);
    tcase_add_test(md_case, frontmatter_broken_falls_back_to_lines);
    tcase_add_test(md_case, frontmatter_names_that_are_not_strings);
    tcase_add_test(md_case, frontmatter_refuses_deep_nesting_quickly);
    suite_add_tcase(s, md_case);
    TCase *scan = tcase_create("scan");
    tcase_set_timeout(scan, 30);
    tcase_add_test(scan, scan_nested_categories_and_skips);
    tcase_add_test(scan, scan_json_shapes);
    tcase_add_test(scan, scan_bounds_and_cuts);
    tcase_add_test(scan, scan_profiles);
    tcase_add_test(scan, disabled_from_config_yaml);
    suite_add_tcase(s, scan);
    return s;
}
