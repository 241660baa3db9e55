/*
 * config.yaml's editor (include/hl/hermes_yaml_edit.h). Every edit of the commented fixture is checked against the
 * whole expected text, built as the fixture with exactly the touched lines replaced: a diff of before and after shows
 * those lines and nothing else. Then the other shapes (flow mappings, CRLF, empty files, indentation), the refusals
 * (the text is never changed), and the quoting of strings read back by libyaml and by hl_api_server_yaml_read.
 */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "hl/common.h"
#include "hl/hermes_read.h"
#include "hl/hermes_yaml_edit.h"

/* A path literal: PATH("skills", "disabled") gives the array and its length. */
#define PATH(...) (const char *const[]){__VA_ARGS__}, HL_ARRAY_SIZE(((const char *const[]){__VA_ARGS__}))

static const char FIXTURE[] = "# Hermes Agent configuration\n"
                              "# (edited by hand, keep the comments)\n"
                              "\n"
                              "model:\n"
                              "  default: \"anthropic/claude-sonnet-4\"   # the everyday model\n"
                              "  provider: openrouter\n"
                              "  base_url: 'https://openrouter.ai/api/v1'\n"
                              "  context_length: 200000\n"
                              "\n"
                              "agent:\n"
                              "  max_turns: 500\n"
                              "  reasoning_effort: medium\n"
                              "\n"
                              "approvals:\n"
                              "  mode: manual     # manual | smart | off\n"
                              "  timeout: 60\n"
                              "  deny: [rm_rf, \"shutdown\"]\n"
                              "\n"
                              "terminal:\n"
                              "  backend: local\n"
                              "  cwd: .\n"
                              "  container_persistent: yes\n"
                              "\n"
                              "platform_toolsets:\n"
                              "  api_server:\n"
                              "  - web\n"
                              "  - terminal   # risky\n"
                              "  - file\n"
                              "  cli: [hermes-cli]\n"
                              "\n"
                              "skills:\n"
                              "  external_dirs: []\n"
                              "  disabled:\n"
                              "    - old-skill\n"
                              "    # kept for now\n"
                              "    - \"legacy tool\"\n"
                              "  inline_shell: false\n"
                              "\n"
                              "memory:\n"
                              "  memory_enabled: true\n"
                              "  memory_char_limit: 2200\n"
                              "  provider: \"\"\n"
                              "\n"
                              "display:\n"
                              "  # only one key\n"
                              "  theme: dark\n"
                              "\n"
                              "honcho:   # plugin settings, unused\n"
                              "\n"
                              "# Something HermesLink does not know about\n"
                              "unknown_block:\n"
                              "  nested:\n"
                              "    deep: {a: 1, b: [x, y]}\n"
                              "  text: |\n"
                              "    line one\n"
                              "    line two\n"
                              "\n"
                              "sessions_dir: ~/sessions\n";

/* `text` with `old` (which must occur exactly once) replaced by `new`. Caller frees. */
static char *replaced(const char *text, const char *old, const char *new)
{
    const char *at = strstr(text, old);
    ck_assert_msg(at != NULL, "not in the text: %s", old);
    ck_assert_msg(strstr(at + 1, old) == NULL, "more than once in the text: %s", old);
    return hl_asprintf("%.*s%s%s", (int)(at - text), text, new, at + strlen(old));
}

static void check_out(int ret, char *out, size_t out_len, const char *err, const char *want)
{
    ck_assert_msg(ret == 0, "edit failed: %d %s", ret, err);
    ck_assert_ptr_nonnull(out);
    ck_assert_uint_eq(out_len, strlen(out));
    ck_assert_str_eq(out, want);
    free(out);
}

static void set_is(const char *in, const char *const *path, size_t depth, hl_yaml_scalar_t v, const char *want)
{
    char *out = NULL, err[256] = "";
    size_t out_len = 0;
    int ret = hl_yaml_edit_set(in, strlen(in), path, depth, &v, &out, &out_len, err, sizeof(err));
    check_out(ret, out, out_len, err, want);
}

static void strings_are(const char *in, const char *const *path, size_t depth, const char *const *items, size_t count,
                        const char *want)
{
    char *out = NULL, err[256] = "";
    size_t out_len = 0;
    int ret = hl_yaml_edit_set_strings(in, strlen(in), path, depth, items, count, &out, &out_len, err, sizeof(err));
    check_out(ret, out, out_len, err, want);
}

static void delete_is(const char *in, const char *const *path, size_t depth, const char *want)
{
    char *out = NULL, err[256] = "";
    size_t out_len = 0;
    int ret = hl_yaml_edit_delete(in, strlen(in), path, depth, &out, &out_len, err, sizeof(err));
    check_out(ret, out, out_len, err, want);
}

/* The fixture edited: `old` lines become `new` lines, nothing else changes. */
static void fixture_set(const char *const *path, size_t depth, hl_yaml_scalar_t v, const char *old, const char *new)
{
    char *want = replaced(FIXTURE, old, new);
    set_is(FIXTURE, path, depth, v, want);
    free(want);
}

static void fixture_strings(const char *const *path, size_t depth, const char *const *items, size_t count, const char *old,
                            const char *new)
{
    char *want = replaced(FIXTURE, old, new);
    strings_are(FIXTURE, path, depth, items, count, want);
    free(want);
}

static void fixture_delete(const char *const *path, size_t depth, const char *old, const char *new)
{
    char *want = replaced(FIXTURE, old, new);
    delete_is(FIXTURE, path, depth, want);
    free(want);
}

/* ---- the fixture ---- */

START_TEST(set_scalars_in_place)
{
    /* a double-quoted string becomes plain, the comment after it stays */
    fixture_set(PATH("model", "default"), hl_yaml_string("openai/gpt-4o"),
                "  default: \"anthropic/claude-sonnet-4\"   # the everyday model\n",
                "  default: openai/gpt-4o   # the everyday model\n");
    fixture_set(PATH("approvals", "timeout"), hl_yaml_int(300), "  timeout: 60\n", "  timeout: 300\n");
    fixture_set(PATH("approvals", "mode"), hl_yaml_string("smart"), "  mode: manual     # manual | smart | off\n",
                "  mode: smart     # manual | smart | off\n");
    fixture_set(PATH("terminal", "container_persistent"), hl_yaml_bool(false), "  container_persistent: yes\n",
                "  container_persistent: false\n");
    fixture_set(PATH("memory", "memory_char_limit"), hl_yaml_float(2500.5), "  memory_char_limit: 2200\n",
                "  memory_char_limit: 2500.5\n");
    fixture_set(PATH("model", "base_url"), hl_yaml_null(), "  base_url: 'https://openrouter.ai/api/v1'\n", "  base_url: null\n");
    /* a string that reads as another type is quoted */
    fixture_set(PATH("model", "context_length"), hl_yaml_string("128000"), "  context_length: 200000\n",
                "  context_length: \"128000\"\n");
    /* a block scalar becomes one line */
    fixture_set(PATH("unknown_block", "text"), hl_yaml_string("one line"), "  text: |\n    line one\n    line two\n",
                "  text: one line\n");
    /* a block mapping replaced by a scalar: its lines go */
    fixture_set(PATH("unknown_block", "nested"), hl_yaml_string("flat"), "  nested:\n    deep: {a: 1, b: [x, y]}\n",
                "  nested: flat\n");
    /* a value inside a flow mapping */
    fixture_set(PATH("unknown_block", "nested", "deep", "a"), hl_yaml_int(2), "    deep: {a: 1, b: [x, y]}\n",
                "    deep: {a: 2, b: [x, y]}\n");
}
END_TEST

START_TEST(set_same_value_changes_nothing)
{
    /* values that already read as the one written keep their text, quoting included */
    set_is(FIXTURE, PATH("agent", "reasoning_effort"), hl_yaml_string("medium"), FIXTURE);
    set_is(FIXTURE, PATH("model", "default"), hl_yaml_string("anthropic/claude-sonnet-4"), FIXTURE);
    set_is(FIXTURE, PATH("model", "base_url"), hl_yaml_string("https://openrouter.ai/api/v1"), FIXTURE);
    set_is(FIXTURE, PATH("memory", "provider"), hl_yaml_string(""), FIXTURE);
    set_is(FIXTURE, PATH("agent", "max_turns"), hl_yaml_int(500), FIXTURE);
    set_is(FIXTURE, PATH("skills", "inline_shell"), hl_yaml_bool(false), FIXTURE);
    set_is(FIXTURE, PATH("honcho"), hl_yaml_null(), FIXTURE);
    strings_are(FIXTURE, PATH("skills", "disabled"), (const char *const[]){"old-skill", "legacy tool"}, 2, FIXTURE);
    strings_are(FIXTURE, PATH("platform_toolsets", "cli"), (const char *const[]){"hermes-cli"}, 1, FIXTURE);
    strings_are(FIXTURE, PATH("skills", "external_dirs"), NULL, 0, FIXTURE);
    /* plain strings the writer would have quoted read as those strings: left as they are */
    set_is("u: https://h:8080/v1\nr: ${KEY}\nd: -x\n", PATH("u"), hl_yaml_string("https://h:8080/v1"),
           "u: https://h:8080/v1\nr: ${KEY}\nd: -x\n");
    set_is("u: https://h:8080/v1\nr: ${KEY}\n", PATH("r"), hl_yaml_string("${KEY}"), "u: https://h:8080/v1\nr: ${KEY}\n");
    /* … but not plain words and numbers that read as something else */
    set_is("d: -1\n", PATH("d"), hl_yaml_string("-1"), "d: \"-1\"\n");
    set_is("d: .5\n", PATH("d"), hl_yaml_string(".5"), "d: \".5\"\n");
    set_is("d: 2026-01-01\n", PATH("d"), hl_yaml_string("2026-01-01"), "d: \"2026-01-01\"\n");
    set_is("d: Off\n", PATH("d"), hl_yaml_string("Off"), "d: \"Off\"\n");
    /* but a string where a number was is a change */
    fixture_set(PATH("agent", "max_turns"), hl_yaml_string("500"), "  max_turns: 500\n", "  max_turns: \"500\"\n");
}
END_TEST

START_TEST(set_new_keys_and_parents)
{
    /* a new key at the end of its mapping, before the blank line */
    fixture_set(PATH("approvals", "cron_mode"), hl_yaml_string("deny"), "  deny: [rm_rf, \"shutdown\"]\n",
                "  deny: [rm_rf, \"shutdown\"]\n  cron_mode: deny\n");
    /* after a mapping whose last value is a block scalar */
    fixture_set(PATH("unknown_block", "more"), hl_yaml_bool(true), "    line two\n", "    line two\n  more: true\n");
    /* missing parents, at the end of the document */
    char *step1 = replaced(FIXTURE, "sessions_dir: ~/sessions\n",
                           "sessions_dir: ~/sessions\nplatforms:\n  api_server:\n    extra:\n      host: \"127.0.0.1\"\n");
    set_is(FIXTURE, PATH("platforms", "api_server", "extra", "host"), hl_yaml_string("127.0.0.1"), step1);
    char *step2 = replaced(step1, "      host: \"127.0.0.1\"\n", "      host: \"127.0.0.1\"\n      port: 8643\n");
    set_is(step1, PATH("platforms", "api_server", "extra", "port"), hl_yaml_int(8643), step2);
    char *step3 = replaced(step2, "      port: 8643\n", "      port: 8643\n    enabled: true\n");
    set_is(step2, PATH("platforms", "api_server", "enabled"), hl_yaml_bool(true), step3);
    free(step1);
    free(step2);
    free(step3);
    /* missing parents inside an existing mapping */
    fixture_set(PATH("auxiliary", "compression", "model"), hl_yaml_string("gpt-4o-mini"), "sessions_dir: ~/sessions\n",
                "sessions_dir: ~/sessions\nauxiliary:\n  compression:\n    model: gpt-4o-mini\n");
    fixture_set(PATH("model", "extra", "api_mode"), hl_yaml_string("chat_completions"), "  context_length: 200000\n",
                "  context_length: 200000\n  extra:\n    api_mode: chat_completions\n");
    /* a parent holding null becomes a mapping; its comment stays on its line */
    fixture_set(PATH("honcho", "workspace"), hl_yaml_string("hermes"), "honcho:   # plugin settings, unused\n",
                "honcho:   # plugin settings, unused\n  workspace: hermes\n");
    fixture_set(PATH("honcho", "a", "b"), hl_yaml_int(1), "honcho:   # plugin settings, unused\n",
                "honcho:   # plugin settings, unused\n  a:\n    b: 1\n");
}
END_TEST

START_TEST(set_lists)
{
    /* a block list keeps its column; the comment line between items goes with them */
    fixture_strings(PATH("skills", "disabled"), (const char *const[]){"alpha", "beta gamma", "no"}, 3,
                    "    - old-skill\n    # kept for now\n    - \"legacy tool\"\n",
                    "    - alpha\n    - beta gamma\n    - \"no\"\n");
    /* a flow list stays a flow list */
    fixture_strings(PATH("approvals", "deny"), (const char *const[]){"rm_rf", "yes", "a, b"}, 3, "  deny: [rm_rf, \"shutdown\"]\n",
                    "  deny: [rm_rf, \"yes\", \"a, b\"]\n");
    fixture_strings(PATH("skills", "external_dirs"), (const char *const[]){"/opt/skills"}, 1, "  external_dirs: []\n",
                    "  external_dirs: [/opt/skills]\n");
    /* an empty list is [] */
    fixture_strings(PATH("platform_toolsets", "api_server"), NULL, 0, "  api_server:\n  - web\n  - terminal   # risky\n  - file\n",
                    "  api_server: []\n");
    /* a new list is indented as the file's first block list under a key is (here: at the key's column) */
    fixture_strings(PATH("toolsets"), (const char *const[]){"hermes-cli"}, 1, "sessions_dir: ~/sessions\n",
                    "sessions_dir: ~/sessions\ntoolsets:\n- hermes-cli\n");
    fixture_strings(PATH("skills", "platform_disabled", "telegram"), (const char *const[]){"x", "y"}, 2, "  inline_shell: false\n",
                    "  inline_shell: false\n  platform_disabled:\n    telegram:\n    - x\n    - \"y\"\n");
    /* a scalar or null replaced by a block list: the lines follow the key's line, its comment stays */
    fixture_strings(PATH("honcho"), (const char *const[]){"a"}, 1, "honcho:   # plugin settings, unused\n",
                    "honcho:   # plugin settings, unused\n- a\n");
    fixture_strings(PATH("approvals", "mode"), (const char *const[]){"a"}, 1, "  mode: manual     # manual | smart | off\n",
                    "  mode:     # manual | smart | off\n  - a\n");
    /* a block mapping or scalar replaced by a list */
    fixture_strings(PATH("unknown_block", "nested"), (const char *const[]){"p"}, 1, "  nested:\n    deep: {a: 1, b: [x, y]}\n",
                    "  nested:\n  - p\n");
    fixture_strings(PATH("unknown_block", "text"), (const char *const[]){"p"}, 1, "  text: |\n    line one\n    line two\n",
                    "  text:\n  - p\n");
    /* a list replaced by a scalar */
    fixture_set(PATH("skills", "disabled"), hl_yaml_null(),
                "  disabled:\n    - old-skill\n    # kept for now\n    - \"legacy tool\"\n", "  disabled: null\n");
}
END_TEST

START_TEST(delete_keys)
{
    fixture_delete(PATH("model", "provider"), "  provider: openrouter\n", "");
    fixture_delete(PATH("approvals", "mode"), "  mode: manual     # manual | smart | off\n", "");
    /* a nested block, its comment lines included */
    fixture_delete(PATH("skills", "disabled"), "  disabled:\n    - old-skill\n    # kept for now\n    - \"legacy tool\"\n", "");
    fixture_delete(PATH("unknown_block", "nested"), "  nested:\n    deep: {a: 1, b: [x, y]}\n", "");
    fixture_delete(PATH("unknown_block", "text"), "  text: |\n    line one\n    line two\n", "");
    /* a whole top-level block; the comment line above it stays */
    fixture_delete(PATH("unknown_block"),
                   "unknown_block:\n  nested:\n    deep: {a: 1, b: [x, y]}\n  text: |\n    line one\n    line two\n", "");
    fixture_delete(PATH("honcho"), "honcho:   # plugin settings, unused\n", "");
    /* the only key of a mapping: the mapping stays a mapping */
    fixture_delete(PATH("display", "theme"), "display:\n  # only one key\n  theme: dark\n", "display: {}\n  # only one key\n");
    /* inside a flow mapping */
    fixture_delete(PATH("unknown_block", "nested", "deep", "b"), "    deep: {a: 1, b: [x, y]}\n", "    deep: {a: 1}\n");
    fixture_delete(PATH("unknown_block", "nested", "deep", "a"), "    deep: {a: 1, b: [x, y]}\n", "    deep: {b: [x, y]}\n");
    /* nothing to delete: the same text */
    delete_is(FIXTURE, PATH("model", "api_key"), FIXTURE);
    delete_is(FIXTURE, PATH("nowhere", "at", "all"), FIXTURE);
    delete_is(FIXTURE, PATH("model", "default", "deeper"), FIXTURE);
    delete_is(FIXTURE, PATH("honcho", "x"), FIXTURE);
}
END_TEST

/* ---- other shapes ---- */

START_TEST(flow_mappings)
{
    const char *in = "a: {b: 1, c: [x], d}\ne: {}\n";
    set_is(in, PATH("a", "z"), hl_yaml_string("zz"), "a: {b: 1, c: [x], d, z: zz}\ne: {}\n");
    set_is(in, PATH("a", "d"), hl_yaml_int(5), "a: {b: 1, c: [x], d: 5}\ne: {}\n");
    set_is(in, PATH("a", "d", "q"), hl_yaml_string("yes"), "a: {b: 1, c: [x], d: {q: \"yes\"}}\ne: {}\n");
    set_is(in, PATH("a", "n", "m"), hl_yaml_int(1), "a: {b: 1, c: [x], d, \"n\": {m: 1}}\ne: {}\n");
    set_is(in, PATH("a", "new", "m"), hl_yaml_int(1), "a: {b: 1, c: [x], d, new: {m: 1}}\ne: {}\n");
    strings_are(in, PATH("a", "b"), (const char *const[]){"p", "q"}, 2, "a: {b: [p, q], c: [x], d}\ne: {}\n");
    strings_are(in, PATH("a", "c"), NULL, 0, "a: {b: 1, c: [], d}\ne: {}\n");
    delete_is(in, PATH("a", "c"), "a: {b: 1, d}\ne: {}\n");
    delete_is(in, PATH("a", "d"), "a: {b: 1, c: [x]}\ne: {}\n");
    delete_is("a: {b: 1}\n", PATH("a", "b"), "a: {}\n");
    /* an empty {} in a block mapping becomes a block */
    set_is(in, PATH("e", "f", "g"), hl_yaml_int(1), "a: {b: 1, c: [x], d}\ne:\n  f:\n    g: 1\n");
    /* a flow top level */
    set_is("{a: 1}\n", PATH("b"), hl_yaml_int(2), "{a: 1, b: 2}\n");
    set_is("{}\n", PATH("b"), hl_yaml_int(2), "{b: 2}\n");
}
END_TEST

START_TEST(line_endings_and_empty_files)
{
    set_is("a: 1\r\nb:\r\n  c: 2", PATH("b", "d"), hl_yaml_int(3), "a: 1\r\nb:\r\n  c: 2\r\n  d: 3\r\n");
    strings_are("a: 1\r\nb:\r\n  c: 2\r\n", PATH("x"), (const char *const[]){"p"}, 1, "a: 1\r\nb:\r\n  c: 2\r\nx:\r\n  - p\r\n");
    set_is("a: 1\r\nn: ~\r\n", PATH("n", "k"), hl_yaml_int(1), "a: 1\r\nn:\r\n  k: 1\r\n");
    delete_is("a: 1\r\nb: 2\r\n", PATH("a"), "b: 2\r\n");
    set_is("a: 1", PATH("a"), hl_yaml_int(2), "a: 2");
    set_is("a: 1", PATH("b"), hl_yaml_int(2), "a: 1\nb: 2\n");
    delete_is("a: 1\nb: 2", PATH("b"), "a: 1\n");
    delete_is("a: 1\n", PATH("a"), "");
    set_is("", PATH("a", "b"), hl_yaml_string("c"), "a:\n  b: c\n");
    set_is("# only a comment\n", PATH("a"), hl_yaml_int(1), "# only a comment\na: 1\n");
    set_is("# only a comment", PATH("a"), hl_yaml_int(1), "# only a comment\na: 1\n");
    set_is("---\n", PATH("a"), hl_yaml_int(1), "---\na: 1\n");
    delete_is("", PATH("a"), "");
    /* a UTF-8 BOM and characters of several bytes before the edited spots */
    const char *u = "\xEF\xBB\xBF# \xC3\xA9t\xC3\xA9\nnam\xC3\xA9: \xC3\xB1 # c\nx: [\xC3\xA9, \xC3\xBC]\ny: 1\n";
    strings_are(u, PATH("x"), (const char *const[]){"\xC3\xB6"}, 1,
                "\xEF\xBB\xBF# \xC3\xA9t\xC3\xA9\nnam\xC3\xA9: \xC3\xB1 # c\nx: [\xC3\xB6]\ny: 1\n");
    set_is(u, PATH("nam\xC3\xA9"), hl_yaml_string("\xE2\x82\xAC"),
           "\xEF\xBB\xBF# \xC3\xA9t\xC3\xA9\nnam\xC3\xA9: \xE2\x82\xAC # c\nx: [\xC3\xA9, \xC3\xBC]\ny: 1\n");
    delete_is(u, PATH("nam\xC3\xA9"), "\xEF\xBB\xBF# \xC3\xA9t\xC3\xA9\nx: [\xC3\xA9, \xC3\xBC]\ny: 1\n");
}
END_TEST

START_TEST(indentation_follows_the_file)
{
    const char *in = "a:\n    b: 1\nl:\n- x\n";
    set_is(in, PATH("new", "m", "k"), hl_yaml_string("v"), "a:\n    b: 1\nl:\n- x\nnew:\n    m:\n        k: v\n");
    set_is(in, PATH("a", "c", "d"), hl_yaml_int(2), "a:\n    b: 1\n    c:\n        d: 2\nl:\n- x\n");
    strings_are(in, PATH("a", "s"), (const char *const[]){"p"}, 1, "a:\n    b: 1\n    s:\n    - p\nl:\n- x\n");
    /* no nested block in the file: 2 spaces, lists indented under their key */
    set_is("a: 1\n", PATH("new", "m"), hl_yaml_int(1), "a: 1\nnew:\n  m: 1\n");
    strings_are("a: 1\n", PATH("new", "l"), (const char *const[]){"p"}, 1, "a: 1\nnew:\n  l:\n    - p\n");
    /* a mapping indented by 3: its new keys too */
    set_is("top:\n   k: 1\n", PATH("top", "new"), hl_yaml_int(2), "top:\n   k: 1\n   new: 2\n");
}
END_TEST

/* Found by fuzz/fuzz_yaml_edit.c: a key added after a block scalar went before lines that belong to its value. */
START_TEST(block_scalars_keep_their_lines)
{
    /* keep chomping: the trailing empty lines are the value's, new keys go after them */
    set_is("x: |+\n  text\n\n\n", PATH("a"), hl_yaml_null(), "x: |+\n  text\n\n\na: null\n");
    set_is("x: &k |2+\n  t\n\n", PATH("a"), hl_yaml_null(), "x: &k |2+\n  t\n\na: null\n");
    set_is("m:\n  x: |+\n    t\n\n  # c\nb: 1\n", PATH("m", "y"), hl_yaml_null(),
           "m:\n  x: |+\n    t\n\n  \"y\": null\n  # c\nb: 1\n");
    /* the scalar itself replaced or deleted: its lines go with it */
    set_is("x: |+\n  t\n\nb: 1\n", PATH("x"), hl_yaml_null(), "x: null\nb: 1\n");
    delete_is("x: |+\n  t\n\nb: 1\n", PATH("x"), "b: 1\n");
    /* clip: trailing empty lines are no content and stay below the new key, as before */
    set_is("x: |\n  text\n\n", PATH("a"), hl_yaml_null(), "x: |\n  text\na: null\n\n");
    /* a line of blanks deeper than the scalar's indentation is content ("f\n   ") */
    set_is("x: >-\n f\n    \n", PATH("a"), hl_yaml_null(), "x: >-\n f\n    \na: null\n");
    /* a file that ends inside a block scalar without a line break: a line after it would add one to the value */
    char *out = (char *)"untouched", err[256] = "";
    size_t out_len = 0;
    hl_yaml_scalar_t v = hl_yaml_null();
    ck_assert_int_eq(hl_yaml_edit_set("x: |\n  t", 8, PATH("a"), &v, &out, &out_len, err, sizeof(err)), -ENOTSUP);
    ck_assert_ptr_null(out);
    ck_assert_msg(strstr(err, "ends inside a block scalar") != NULL, "%s", err);
    set_is("x: |-\n  t", PATH("x"), hl_yaml_null(), "x: null"); /* replacing it adds no line: allowed */
}
END_TEST

/* ---- refusals: an error, a message, no text ---- */

/* Found by fuzz/fuzz_yaml_edit.c: deleting a flow entry next to an empty key (`? ` alone) took that entry too. */
START_TEST(flow_entry_next_to_an_empty_key)
{
    const char *const in[] = {"{a: 1, ? }\n", "{? , a: 1}\n"};
    for (size_t i = 0; i < HL_ARRAY_SIZE(in); ++i) {
        char *out = (char *)"untouched", err[256] = "";
        size_t out_len = 0;
        ck_assert_int_eq(hl_yaml_edit_delete(in[i], strlen(in[i]), PATH("a"), &out, &out_len, err, sizeof(err)), -ENOTSUP);
        ck_assert_ptr_null(out);
        ck_assert_msg(strstr(err, "empty key") != NULL, "%s", err);
    }
    delete_is("{b, a: 1}\n", PATH("a"), "{b}\n"); /* an implicit null value is no empty key */
}
END_TEST

static void refused(const char *in, size_t len, int code, const char *msg)
{
    char *out = (char *)"untouched", err[256] = "";
    size_t out_len = 7;
    hl_yaml_scalar_t v = hl_yaml_int(7);
    int ret = hl_yaml_edit_set(in, len, PATH("a", "b"), &v, &out, &out_len, err, sizeof(err));
    ck_assert_msg(ret == code, "set: %d, want %d (%s) for: %.60s", ret, code, err, in);
    ck_assert_ptr_null(out);
    ck_assert_uint_eq(out_len, 0);
    ck_assert_msg(strstr(err, msg) != NULL, "message \"%s\" lacks \"%s\"", err, msg);
    out = (char *)"untouched";
    ret = hl_yaml_edit_delete(in, len, PATH("a", "b"), &out, &out_len, err, sizeof(err));
    ck_assert_msg(ret == code, "delete: %d, want %d (%s)", ret, code, err);
    ck_assert_ptr_null(out);
    out = (char *)"untouched";
    ret = hl_yaml_edit_set_strings(in, len, PATH("a", "b"), (const char *const[]){"x"}, 1, &out, &out_len, err, sizeof(err));
    ck_assert_msg(ret == code, "strings: %d, want %d (%s)", ret, code, err);
    ck_assert_ptr_null(out);
}

static void refused_str(const char *in, int code, const char *msg)
{
    refused(in, strlen(in), code, msg);
}

START_TEST(invalid_yaml_is_refused)
{
    refused_str("a:\n  b: [1, 2\nc: 3\n", -EINVAL, "config.yaml: malformed YAML at line ");
    refused_str("a: b\n c: d\n  - e\n", -EINVAL, "malformed YAML at line 2");
    refused_str("a:\n\tb: 1\n", -EINVAL, "malformed YAML");
    refused_str("a: \"unterminated\n", -EINVAL, "malformed YAML");
    refused_str("a: *nowhere\n", -EINVAL, "malformed YAML at line 1: an alias to an undefined anchor");
    refused_str("x: *later\ny: &later 1\n", -EINVAL, "malformed YAML at line 1: an alias to an undefined anchor");
    refused_str("a: 1\n---\nb: 2\n", -EINVAL, "line 2 starts a second document");
    refused_str("- a\n- b\n", -EINVAL, "the top level (line 1) is not a mapping");
    refused_str("# c\njust text\n", -EINVAL, "the top level (line 2) is not a mapping");
    refused_str("a: \xC3\x28\n", -EINVAL, "line 1 is not valid UTF-8");
    refused("a: 1\nb\0: 2\n", 11, -EINVAL, "line 2 holds a NUL character");
    refused_str("a: 1\rb: 2\n", -ENOTSUP, "line 1 has a line break other than LF or CRLF");
    refused_str("a: 1\nb: \xE2\x80\xA8\n", -ENOTSUP, "line 2 has a line break other than LF or CRLF");
}
END_TEST

START_TEST(aliases_and_odd_shapes_are_refused)
{
    refused_str("a: &x\n  b: 1\nc: *x\n", -ENOTSUP, "config.yaml: a: a mapping on the path has an anchor or a tag");
    refused_str("x: &v 1\na:\n  b: *v\n", -ENOTSUP, "config.yaml: a.b: the value has an anchor or alias");
    refused_str("a:\n  b: &v 1\nx: *v\n", -ENOTSUP, "config.yaml: a.b: the value has an anchor or alias");
    refused_str("base: &b {b: 1}\na: *b\n", -ENOTSUP, "config.yaml: a: the value is an alias");
    refused_str("base: &b {b: 1}\na:\n  <<: *b\n  c: 2\n", -ENOTSUP, "config.yaml: a.b: its mapping has a merge key (<<)");
    refused_str("a:\n  b: 1\n  b: 2\n", -ENOTSUP, "config.yaml: a.b: the key is repeated");
    refused_str("a: !!map\n  b: 1\n", -ENOTSUP, "a mapping on the path has an anchor or a tag");
    refused_str("a:\n  ? b\n  : 1\n", -ENOTSUP, "config.yaml: a.b: the key is not a simple `key:`");
    refused_str("&top a:\n  b: 1\n", -ENOTSUP, "config.yaml: a: the key has an anchor");
    /* a document that only ends: appending would start a second one; the check of the result catches it */
    char *out = NULL, err[256] = "";
    size_t out_len;
    hl_yaml_scalar_t v = hl_yaml_int(1);
    ck_assert_int_eq(hl_yaml_edit_set("---\n...\n", 8, PATH("a"), &v, &out, &out_len, err, sizeof(err)), -ENOTSUP);
    ck_assert_str_eq(err, "config.yaml: a: this file's layout cannot be edited safely; edit it by hand");
    ck_assert_ptr_null(out);
    /* anchors and aliases elsewhere do not matter */
    set_is("x: &v 1\ny: *v\na:\n  b: 2\n", PATH("a", "b"), hl_yaml_int(3), "x: &v 1\ny: *v\na:\n  b: 3\n");
}
END_TEST

START_TEST(bad_paths_and_values)
{
    char *out = NULL, err[256] = "";
    size_t out_len;
    hl_yaml_scalar_t v = hl_yaml_int(1);
    /* a parent that holds something else than a mapping */
    ck_assert_int_eq(
        hl_yaml_edit_set(FIXTURE, strlen(FIXTURE), PATH("model", "default", "x"), &v, &out, &out_len, err, sizeof(err)), -ENOTDIR);
    ck_assert_str_eq(err, "config.yaml: model.default: its value is not a mapping");
    ck_assert_ptr_null(out);
    ck_assert_int_eq(
        hl_yaml_edit_set(FIXTURE, strlen(FIXTURE), PATH("skills", "disabled", "x"), &v, &out, &out_len, err, sizeof(err)),
        -ENOTDIR);
    ck_assert_int_eq(
        hl_yaml_edit_set(FIXTURE, strlen(FIXTURE), (const char *const[]){"a"}, 0, &v, &out, &out_len, err, sizeof(err)), -EINVAL);
    ck_assert_int_eq(hl_yaml_edit_set(FIXTURE, strlen(FIXTURE), PATH("a", NULL), &v, &out, &out_len, err, sizeof(err)), -EINVAL);
    ck_assert_int_eq(hl_yaml_edit_set(FIXTURE, strlen(FIXTURE), PATH("a\xFF"), &v, &out, &out_len, err, sizeof(err)), -EINVAL);
    ck_assert_int_eq(hl_yaml_edit_set(FIXTURE, strlen(FIXTURE), PATH("a"), NULL, &out, &out_len, err, sizeof(err)), -EINVAL);
    hl_yaml_scalar_t bad = hl_yaml_string("\xC0\x80");
    ck_assert_int_eq(hl_yaml_edit_set(FIXTURE, strlen(FIXTURE), PATH("a"), &bad, &out, &out_len, err, sizeof(err)), -EINVAL);
    ck_assert_str_eq(err, "config.yaml: the value to write is not UTF-8 text");
    bad = hl_yaml_string(NULL);
    ck_assert_int_eq(hl_yaml_edit_set(FIXTURE, strlen(FIXTURE), PATH("a"), &bad, &out, &out_len, err, sizeof(err)), -EINVAL);
    ck_assert_int_eq(hl_yaml_edit_set_strings(FIXTURE, strlen(FIXTURE), PATH("a"), (const char *const[]){"ok", NULL}, 2, &out,
                                              &out_len, NULL, 0),
                     -EINVAL);
    ck_assert_ptr_null(out);
    /* a path of 65 keys */
    const char *deep[HL_YAML_EDIT_MAX_DEPTH + 1];
    for (size_t i = 0; i < HL_ARRAY_SIZE(deep); ++i)
        deep[i] = "k";
    ck_assert_int_eq(hl_yaml_edit_delete(FIXTURE, strlen(FIXTURE), deep, HL_ARRAY_SIZE(deep), &out, &out_len, err, sizeof(err)),
                     -EINVAL);
    ck_assert_int_eq(hl_yaml_edit_delete(FIXTURE, strlen(FIXTURE), deep, HL_YAML_EDIT_MAX_DEPTH, &out, &out_len, err, sizeof(err)),
                     0);
    ck_assert_str_eq(out, FIXTURE);
    free(out);
}
END_TEST

START_TEST(sizes_are_bounded)
{
    char *out = NULL, err[256] = "";
    size_t out_len, max = HL_HERMES_MAX_FILE_BYTES;
    hl_yaml_scalar_t v = hl_yaml_string("abcdef0123456789abcdef0123456789");
    /* a text of the limit is edited; one byte more is refused, and so is a result past the limit */
    char *big = malloc(max + 2);
    memcpy(big, "a: ", 3);
    memset(big + 3, 'x', max - 4);
    big[max - 1] = '\n';
    big[max] = big[max + 1] = '\0';
    ck_assert_int_eq(hl_yaml_edit_set(big, max, PATH("a"), &v, &out, &out_len, err, sizeof(err)), 0);
    ck_assert_str_eq(out, "a: abcdef0123456789abcdef0123456789\n");
    free(out);
    ck_assert_int_eq(hl_yaml_edit_set(big, max, PATH("b"), &v, &out, &out_len, err, sizeof(err)), -EFBIG);
    ck_assert_ptr_nonnull(strstr(err, "the edited file would be larger than"));
    ck_assert_ptr_null(out);
    big[max] = '\n';
    ck_assert_int_eq(hl_yaml_edit_set(big, max + 1, PATH("a"), &v, &out, &out_len, err, sizeof(err)), -EFBIG);
    ck_assert_ptr_null(out);
    free(big);

    /* nesting: 64 levels are read, 65 refused at once (even in 1 MiB of '[') */
    size_t depth = max / 2;
    char *deep = malloc(2 * depth + 16);
    memcpy(deep, "a: ", 3);
    memset(deep + 3, '[', depth - 3);
    memset(deep + depth, ']', depth - 3);
    ck_assert_int_eq(hl_yaml_edit_set(deep, 2 * depth - 3, PATH("a"), &v, &out, &out_len, err, sizeof(err)), -EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "nested more than 64 levels deep"));
    char *ok = hl_asprintf("a: %.*s%.*s\n", 63, deep + 3, 63, deep + depth);
    ck_assert_int_eq(hl_yaml_edit_set(ok, strlen(ok), PATH("a"), &v, &out, &out_len, err, sizeof(err)), 0);
    ck_assert_str_eq(out, "a: abcdef0123456789abcdef0123456789\n");
    free(out);
    free(ok);
    free(deep);
}
END_TEST

/* ---- quoting ---- */

/* Strings and how they are written: plain only when every YAML reader gives back the same string. */
static const struct {
    const char *value, *written;
} quoting[] = {
    {"plain text", "plain text"},
    {"openai/gpt-4o", "openai/gpt-4o"},
    {"C#", "C#"},
    {"say \"hi\"", "say \"hi\""},
    {"back\\slash", "back\\slash"},
    {"\xC3\xBCn\xC3\xAF", "\xC3\xBCn\xC3\xAF"},
    {"yes", "\"yes\""},
    {"No", "\"No\""},
    {"ON", "\"ON\""},
    {"off", "\"off\""},
    {"y", "\"y\""},
    {"true", "\"true\""},
    {"null", "\"null\""},
    {"~", "\"~\""},
    {"", "\"\""},
    {" lead", "\" lead\""},
    {"trail ", "\"trail \""},
    {"a: b", "\"a: b\""},
    {"a #b", "\"a #b\""},
    {"#x", "\"#x\""},
    {"trailing:", "\"trailing:\""},
    {"-x", "\"-x\""},
    {"- x", "\"- x\""},
    {"8642", "\"8642\""},
    {"0x1F", "\"0x1F\""},
    {"1.5", "\"1.5\""},
    {"+1", "\"+1\""},
    {".inf", "\".inf\""},
    {"2026-01-01", "\"2026-01-01\""},
    {"1:30", "\"1:30\""},
    {"http://h:1/v1", "\"http://h:1/v1\""},
    {"[x]", "\"[x]\""},
    {"a,b", "\"a,b\""},
    {"{a}", "\"{a}\""},
    {"*star", "\"*star\""},
    {"&amp", "\"&amp\""},
    {"!bang", "\"!bang\""},
    {"@at", "\"@at\""},
    {"%pct", "\"%pct\""},
    {"`tick", "\"`tick\""},
    {"|pipe", "\"|pipe\""},
    {">gt", "\">gt\""},
    {"'single", "\"'single\""},
    {"\"double", "\"\\\"double\""},
    {"<<", "\"<<\""},
    {"=", "\"=\""},
    {"---", "\"---\""},
    {"tab\there", "\"tab\\there\""},
    {"two\nlines", "\"two\\nlines\""},
    {"cr\r", "\"cr\\r\""},
    {"bell\a", "\"bell\\x07\""},
    {"esc\x1B", "\"esc\\e\""},
    {"del\x7F", "\"del\\x7F\""},
    {"back\\ and \"q\"\n", "\"back\\\\ and \\\"q\\\"\\n\""},
    {"\xC2\x85nel", "\"\\Nnel\""},
    {"ls\xE2\x80\xA8", "\"ls\\L\""},
    {"ps\xE2\x80\xA9", "\"ps\\P\""},
    {"bom\xEF\xBB\xBF", "\"bom\\uFEFF\""},
};

/* The scalar at platforms.api_server.extra.key as libyaml's loader reads it: its value and whether it was plain. */
static char *load_key(const char *text, bool *plain)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    ck_assert(yaml_parser_initialize(&parser));
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, strlen(text));
    ck_assert_msg(yaml_parser_load(&parser, &doc), "libyaml: %s in %s", parser.problem, text);
    yaml_node_t *n = yaml_document_get_root_node(&doc);
    static const char *const path[] = {"platforms", "api_server", "extra", "key"};
    for (size_t i = 0; i < HL_ARRAY_SIZE(path); ++i) {
        ck_assert(n != NULL && n->type == YAML_MAPPING_NODE);
        yaml_node_t *found = NULL;
        for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; ++p) {
            yaml_node_t *k = yaml_document_get_node(&doc, p->key);
            if (k->type == YAML_SCALAR_NODE && strcmp((const char *)k->data.scalar.value, path[i]) == 0)
                found = yaml_document_get_node(&doc, p->value);
        }
        n = found;
    }
    ck_assert(n != NULL && n->type == YAML_SCALAR_NODE);
    char *value = hl_strndup((const char *)n->data.scalar.value, n->data.scalar.length);
    *plain = n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return value;
}

START_TEST(quoting_round_trips)
{
    const char *in = "platforms:\n  api_server:\n    extra:\n      key: old   # the key\n";
    for (size_t i = 0; i < HL_ARRAY_SIZE(quoting); ++i) {
        char *want = hl_asprintf("platforms:\n  api_server:\n    extra:\n      key: %s   # the key\n", quoting[i].written);
        char *out = NULL, err[256] = "";
        size_t out_len;
        hl_yaml_scalar_t v = hl_yaml_string(quoting[i].value);
        ck_assert_int_eq(
            hl_yaml_edit_set(in, strlen(in), PATH("platforms", "api_server", "extra", "key"), &v, &out, &out_len, err, sizeof(err)),
            0);
        ck_assert_str_eq(out, want);
        /* libyaml reads the same string back; a plain one is one no resolver takes for another type */
        bool plain;
        char *back = load_key(out, &plain);
        ck_assert_str_eq(back, quoting[i].value);
        ck_assert_int_eq(plain, strcmp(quoting[i].written, quoting[i].value) == 0);
        free(back);
        /* and so does HermesLink's own reader (which leaves out empty values) */
        hl_api_server_yaml_t y;
        ck_assert_int_eq(hl_api_server_yaml_read(&y, out, out_len, err, sizeof(err)), 0);
        if (quoting[i].value[0] != '\0')
            ck_assert_str_eq(y.key, quoting[i].value);
        else
            ck_assert_ptr_null(y.key);
        hl_api_server_yaml_dispose(&y);
        /* writing it again changes nothing */
        char *again = NULL;
        ck_assert_int_eq(
            hl_yaml_edit_set(out, out_len, PATH("platforms", "api_server", "extra", "key"), &v, &again, &out_len, err, sizeof(err)),
            0);
        ck_assert_str_eq(again, out);
        free(again);
        free(out);
        free(want);
    }
}
END_TEST

START_TEST(quoting_in_lists_and_keys)
{
    /* list items and new keys follow the same rules, in flow lists too */
    const char *items[] = {"no", "8ball", "a, b", "ok"};
    strings_are("a: 1\n", PATH("yes", "on"), items, HL_ARRAY_SIZE(items),
                "a: 1\n\"yes\":\n  \"on\":\n    - \"no\"\n    - \"8ball\"\n    - \"a, b\"\n    - ok\n");
    strings_are("a: []\n", PATH("a"), items, HL_ARRAY_SIZE(items), "a: [\"no\", \"8ball\", \"a, b\", ok]\n");
    /* an existing quoted key is found by its value */
    set_is("\"skills\":\n  'disabled': [a]\n", PATH("skills", "disabled"), hl_yaml_int(1), "\"skills\":\n  'disabled': 1\n");
    /* numbers */
    set_is("a: 1\n", PATH("a"), hl_yaml_float(1e20), "a: 1.0e+20\n");
    set_is("a: 1\n", PATH("a"), hl_yaml_float(0.1), "a: 0.1\n");
    set_is("a: 1\n", PATH("a"), hl_yaml_float(3), "a: 3.0\n");
    set_is("a: 1\n", PATH("a"), hl_yaml_float(INFINITY), "a: .inf\n");
    set_is("a: 1\n", PATH("a"), hl_yaml_int(INT64_MIN), "a: -9223372036854775808\n");
}
END_TEST

/* ---- lists: paths through items, items deleted and appended, keys renamed ---- */

#define K(k) hl_yaml_key(k)
#define I(i) hl_yaml_item(i)
/* A path of steps: STEPS(K("a"), I(0), K("b")) gives the array and its length. */
#define STEPS(...) (const hl_yaml_step_t[]){__VA_ARGS__}, HL_ARRAY_SIZE(((const hl_yaml_step_t[]){__VA_ARGS__}))

static const char PROVIDERS[] = "# providers HermesLink manages\n"
                                "custom_providers:\n"
                                "- name: Local      # LM Studio\n"
                                "  provider_key: lmstudio\n"
                                "  base_url: http://127.0.0.1:1234/v1\n"
                                "  model: qwen3\n"
                                "  models:\n"
                                "    qwen3: {context_length: 32768}\n"
                                "    llama: {}\n"
                                "# between the items\n"
                                "- name: Router\n"
                                "  base_url: 'https://openrouter.ai/api/v1'\n"
                                "  key_env: OPENROUTER_API_KEY\n"
                                "  models:\n"
                                "  - a/b\n"
                                "  - c/d   # cheap\n"
                                "\n"
                                "model:\n"
                                "  default: qwen3\n";

static void set_at_is(const char *in, const hl_yaml_step_t *path, size_t depth, hl_yaml_scalar_t v, const char *want)
{
    char *out = NULL, err[256] = "";
    size_t out_len = 0;
    int ret = hl_yaml_edit_set_at(in, strlen(in), path, depth, &v, &out, &out_len, err, sizeof(err));
    check_out(ret, out, out_len, err, want);
}

static void delete_at_is(const char *in, const hl_yaml_step_t *path, size_t depth, const char *want)
{
    char *out = NULL, err[256] = "";
    size_t out_len = 0;
    int ret = hl_yaml_edit_delete_at(in, strlen(in), path, depth, &out, &out_len, err, sizeof(err));
    check_out(ret, out, out_len, err, want);
}

static void rename_at_is(const char *in, const hl_yaml_step_t *path, size_t depth, const char *key, const char *want)
{
    char *out = NULL, err[256] = "";
    size_t out_len = 0;
    int ret = hl_yaml_edit_rename_at(in, strlen(in), path, depth, key, &out, &out_len, err, sizeof(err));
    check_out(ret, out, out_len, err, want);
}

/* Appends {name: <name>, model: m} (a second key when `name` is not NULL: {model: m} alone otherwise). */
static void append_is(const char *in, const hl_yaml_step_t *path, size_t depth, const char *name, const char *want)
{
    const char *keys[] = {"name", "model"};
    hl_yaml_scalar_t values[] = {hl_yaml_string(name != NULL ? name : ""), hl_yaml_string("m")};
    char *out = NULL, err[256] = "";
    size_t out_len = 0;
    int ret =
        name != NULL
            ? hl_yaml_edit_append_mapping(in, strlen(in), path, depth, keys, values, 2, &out, &out_len, err, sizeof(err))
            : hl_yaml_edit_append_mapping(in, strlen(in), path, depth, keys + 1, values + 1, 1, &out, &out_len, err, sizeof(err));
    check_out(ret, out, out_len, err, want);
}

/* The providers fixture with `old` replaced by `new` (exactly once). */
static char *providers(const char *old, const char *new)
{
    return replaced(PROVIDERS, old, new);
}

START_TEST(list_items_set)
{
    char *want = providers("  model: qwen3\n", "  model: qwen3.5\n");
    set_at_is(PROVIDERS, STEPS(K("custom_providers"), I(0), K("model")), hl_yaml_string("qwen3.5"), want);
    free(want);
    /* the first key of an item, on the dash's line: the comment after the value stays */
    want = providers("- name: Local      # LM Studio\n", "- name: LM Studio      # LM Studio\n");
    set_at_is(PROVIDERS, STEPS(K("custom_providers"), I(0), K("name")), hl_yaml_string("LM Studio"), want);
    free(want);
    want = providers("  base_url: 'https://openrouter.ai/api/v1'\n", "  base_url: \"https://openrouter.ai/api/v2\"\n");
    set_at_is(PROVIDERS, STEPS(K("custom_providers"), I(1), K("base_url")), hl_yaml_string("https://openrouter.ai/api/v2"), want);
    free(want);
    /* a new key at the end of the item, at its keys' column */
    want = providers("  - c/d   # cheap\n", "  - c/d   # cheap\n  api_mode: chat_completions\n");
    set_at_is(PROVIDERS, STEPS(K("custom_providers"), I(1), K("api_mode")), hl_yaml_string("chat_completions"), want);
    free(want);
    want = providers("    llama: {}\n", "    llama: {}\n  context_length: 8192\n");
    set_at_is(PROVIDERS, STEPS(K("custom_providers"), I(0), K("context_length")), hl_yaml_int(8192), want);
    free(want);
    /* deeper: a flow mapping in the item, an empty {} that becomes a block */
    want = providers("    qwen3: {context_length: 32768}\n", "    qwen3: {context_length: 32768, reasoning_effort: high}\n");
    set_at_is(PROVIDERS, STEPS(K("custom_providers"), I(0), K("models"), K("qwen3"), K("reasoning_effort")), hl_yaml_string("high"),
              want);
    free(want);
    want = providers("    llama: {}\n", "    llama:\n      reasoning_effort: low\n");
    set_at_is(PROVIDERS, STEPS(K("custom_providers"), I(0), K("models"), K("llama"), K("reasoning_effort")), hl_yaml_string("low"),
              want);
    free(want);
    /* the same value: the same text */
    set_at_is(PROVIDERS, STEPS(K("custom_providers"), I(1), K("key_env")), hl_yaml_string("OPENROUTER_API_KEY"), PROVIDERS);
    /* a list in an item */
    char *out = NULL, err[256] = "";
    size_t out_len = 0;
    want = providers("  - a/b\n  - c/d   # cheap\n", "  - x/y\n  - a/b\n");
    int ret = hl_yaml_edit_set_strings_at(PROVIDERS, strlen(PROVIDERS), STEPS(K("custom_providers"), I(1), K("models")),
                                          (const char *const[]){"x/y", "a/b"}, 2, &out, &out_len, err, sizeof(err));
    check_out(ret, out, out_len, err, want);
    free(want);
    /* items of a flow list, and of a list of lists */
    set_at_is("l: [{a: 1}, {a: 2}]\n", STEPS(K("l"), I(1), K("a")), hl_yaml_int(3), "l: [{a: 1}, {a: 3}]\n");
    set_at_is("l: [{a: 1}]\n", STEPS(K("l"), I(0), K("b")), hl_yaml_bool(true), "l: [{a: 1, b: true}]\n");
    set_at_is("l:\n- - {a: 1}\n", STEPS(K("l"), I(0), I(0), K("a")), hl_yaml_int(2), "l:\n- - {a: 2}\n");
    /* an item mapping whose keys are indented by 4 after the dash */
    set_at_is("l:\n  -   a: 1\n      b: 2\n", STEPS(K("l"), I(0), K("c")), hl_yaml_int(3),
              "l:\n  -   a: 1\n      b: 2\n      c: 3\n");
}
END_TEST

START_TEST(list_items_delete)
{
    /* a key after the first: its line */
    char *want = providers("  base_url: 'https://openrouter.ai/api/v1'\n", "");
    delete_at_is(PROVIDERS, STEPS(K("custom_providers"), I(1), K("base_url")), want);
    free(want);
    want = providers("  models:\n  - a/b\n  - c/d   # cheap\n", "");
    delete_at_is(PROVIDERS, STEPS(K("custom_providers"), I(1), K("models")), want);
    free(want);
    /* the first key, on the dash's line: the next key moves up next to the dash */
    want = providers("- name: Local      # LM Studio\n  provider_key: lmstudio\n", "- provider_key: lmstudio\n");
    delete_at_is(PROVIDERS, STEPS(K("custom_providers"), I(0), K("name")), want);
    free(want);
    /* … unless a comment line comes first: then the dash keeps a line of its own */
    delete_at_is("l:\n- a: 1\n  # about b\n  b: 2\n", STEPS(K("l"), I(0), K("a")), "l:\n-\n  # about b\n  b: 2\n");
    /* a first key with a block value */
    delete_at_is("l:\n- a:\n    x: 1\n  b: 2\n", STEPS(K("l"), I(0), K("a")), "l:\n- b: 2\n");
    /* the only key: the item stays a mapping */
    delete_at_is("l:\n- a: 1  # c\n- b: 2\n", STEPS(K("l"), I(0), K("a")), "l:\n- {}\n- b: 2\n");
    /* whole items: from the dash's line to the last content line; comment lines between items stay */
    want = providers("- name: Local      # LM Studio\n  provider_key: lmstudio\n  base_url: http://127.0.0.1:1234/v1\n"
                     "  model: qwen3\n  models:\n    qwen3: {context_length: 32768}\n    llama: {}\n",
                     "");
    delete_at_is(PROVIDERS, STEPS(K("custom_providers"), I(0)), want);
    char *both = replaced(want,
                          "- name: Router\n  base_url: 'https://openrouter.ai/api/v1'\n  key_env: OPENROUTER_API_KEY\n"
                          "  models:\n  - a/b\n  - c/d   # cheap\n",
                          "");
    free(want);
    /* the last item: the list becomes [] (its comment line stays) */
    char *empty = replaced(both, "custom_providers:\n", "custom_providers: []\n");
    free(both);
    char *once = NULL, err[256] = "";
    size_t once_len = 0;
    ck_assert_int_eq(hl_yaml_edit_delete_at(PROVIDERS, strlen(PROVIDERS), STEPS(K("custom_providers"), I(1)), &once, &once_len, err,
                                            sizeof(err)),
                     0);
    delete_at_is(once, STEPS(K("custom_providers"), I(0)), empty);
    free(once);
    free(empty);
    want = providers("- name: Router\n  base_url: 'https://openrouter.ai/api/v1'\n  key_env: OPENROUTER_API_KEY\n"
                     "  models:\n  - a/b\n  - c/d   # cheap\n",
                     "");
    delete_at_is(PROVIDERS, STEPS(K("custom_providers"), I(1)), want);
    free(want);
    /* strings in a list, flow lists */
    delete_at_is("l:\n  - a\n  - b\n  - c\nz: 1\n", STEPS(K("l"), I(1)), "l:\n  - a\n  - c\nz: 1\n");
    delete_at_is("l:\n  - a\nz: 1\n", STEPS(K("l"), I(0)), "l: []\nz: 1\n");
    delete_at_is("l: [a, {b: 1}, c]\n", STEPS(K("l"), I(1)), "l: [a, c]\n");
    delete_at_is("l: [a, b]\n", STEPS(K("l"), I(0)), "l: [b]\n");
    delete_at_is("l: [a]\n", STEPS(K("l"), I(0)), "l: []\n");
    /* nothing there: the same text */
    delete_at_is(PROVIDERS, STEPS(K("custom_providers"), I(2)), PROVIDERS);
    delete_at_is(PROVIDERS, STEPS(K("custom_providers"), I(7), K("name")), PROVIDERS);
    delete_at_is(PROVIDERS, STEPS(K("nothing"), I(0)), PROVIDERS);
    delete_at_is(PROVIDERS, STEPS(K("custom_providers"), I(0), K("api_key")), PROVIDERS);
    delete_at_is(PROVIDERS, STEPS(K("model"), I(0)), PROVIDERS);
    /* the only item of a list in an item */
    delete_at_is("l:\n- x:\n  - only\n  y: 1\n", STEPS(K("l"), I(0), K("x"), I(0)), "l:\n- x: []\n  y: 1\n");
    /* CRLF */
    delete_at_is("l:\r\n- a: 1\r\n  b: 2\r\n- c: 3\r\n", STEPS(K("l"), I(0)), "l:\r\n- c: 3\r\n");
    delete_at_is("l:\r\n- a: 1\r\n  b: 2\r\n", STEPS(K("l"), I(0), K("a")), "l:\r\n- b: 2\r\n");
}
END_TEST

START_TEST(list_keys_renamed)
{
    char *want = providers("    qwen3: {context_length: 32768}\n", "    qwen3.5: {context_length: 32768}\n");
    rename_at_is(PROVIDERS, STEPS(K("custom_providers"), I(0), K("models"), K("qwen3")), "qwen3.5", want);
    free(want);
    want = providers("    llama: {}\n", "    \"null\": {}\n");
    rename_at_is(PROVIDERS, STEPS(K("custom_providers"), I(0), K("models"), K("llama")), "null", want);
    free(want);
    rename_at_is("a: {b: 1, c: 2}\n", STEPS(K("a"), K("c")), "d", "a: {b: 1, d: 2}\n");
    rename_at_is("'a b': 1  # c\n", STEPS(K("a b")), "x", "x: 1  # c\n");
    rename_at_is("a: 1\n", STEPS(K("a")), "a", "a: 1\n");
    char *out = NULL, err[256] = "";
    size_t out_len = 0;
    ck_assert_int_eq(hl_yaml_edit_rename_at(PROVIDERS, strlen(PROVIDERS),
                                            STEPS(K("custom_providers"), I(0), K("models"), K("qwen3")), "llama", &out, &out_len,
                                            err, sizeof(err)),
                     -EEXIST);
    ck_assert_str_eq(err, "config.yaml: custom_providers[0].models.qwen3: the new key is already in the mapping");
    ck_assert_ptr_null(out);
    ck_assert_int_eq(hl_yaml_edit_rename_at(PROVIDERS, strlen(PROVIDERS), STEPS(K("custom_providers"), I(0), K("models"), K("gpt")),
                                            "x", &out, &out_len, err, sizeof(err)),
                     -ENOENT);
    ck_assert_int_eq(hl_yaml_edit_rename_at(PROVIDERS, strlen(PROVIDERS), STEPS(K("custom_providers"), I(3), K("model")), "x", &out,
                                            &out_len, err, sizeof(err)),
                     -ENOENT);
    ck_assert_ptr_null(out);
}
END_TEST

START_TEST(list_items_appended)
{
    /* after the last item's last content line, keys aligned with the items' */
    char *want = providers("  - c/d   # cheap\n", "  - c/d   # cheap\n- name: New\n  model: m\n");
    append_is(PROVIDERS, STEPS(K("custom_providers")), "New", want);
    free(want);
    append_is("l:\n  -   a: 1\n      b: 2\nz: 1\n", STEPS(K("l")), "x",
              "l:\n  -   a: 1\n      b: 2\n  -   name: x\n      model: m\nz: 1\n");
    append_is("l:\n- a\n- b\n", STEPS(K("l")), NULL, "l:\n- a\n- b\n- model: m\n");
    append_is("l:\n- a\n- b", STEPS(K("l")), NULL, "l:\n- a\n- b\n- model: m\n");
    append_is("l:\r\n- a: 1\r\n", STEPS(K("l")), "yes", "l:\r\n- a: 1\r\n- name: \"yes\"\r\n  model: m\r\n");
    /* a flow list */
    append_is("l: [{a: 1}]\n", STEPS(K("l")), "x", "l: [{a: 1}, {name: x, model: m}]\n");
    /* no list yet: a block list of one item, under a missing, null or [] key */
    append_is("a: 1\n", STEPS(K("custom_providers")), "x", "a: 1\ncustom_providers:\n  - name: x\n    model: m\n");
    append_is("k:\n- z\na: 1\n", STEPS(K("custom_providers")), "x", "k:\n- z\na: 1\ncustom_providers:\n- name: x\n  model: m\n");
    append_is("custom_providers:   # none yet\nz: 1\n", STEPS(K("custom_providers")), "x",
              "custom_providers:   # none yet\n  - name: x\n    model: m\nz: 1\n");
    append_is("custom_providers: []\nz: 1\n", STEPS(K("custom_providers")), "x",
              "custom_providers:\n  - name: x\n    model: m\nz: 1\n");
    append_is("custom_providers: ~\n", STEPS(K("custom_providers")), "x", "custom_providers:\n  - name: x\n    model: m\n");
    append_is("", STEPS(K("p"), K("l")), "x", "p:\n  l:\n    - name: x\n      model: m\n");
    append_is("p: {}\n", STEPS(K("p"), K("l")), "x", "p:\n  l:\n    - name: x\n      model: m\n");
    append_is("p: {a: 1}\n", STEPS(K("p"), K("l")), "x", "p: {a: 1, l: [{name: x, model: m}]}\n");
    /* into a list inside an item */
    append_is("l:\n- m:\n  - a: 1\n", STEPS(K("l"), I(0), K("m")), "x", "l:\n- m:\n  - a: 1\n  - name: x\n    model: m\n");
}
END_TEST

/* An edit on a path of steps that must fail with `code` and a message holding `msg`, the text untouched. */
static void refused_at(const char *in, const hl_yaml_step_t *path, size_t depth, int op, int code, const char *msg)
{
    char *out = (char *)"untouched", err[256] = "";
    size_t out_len = 7;
    hl_yaml_scalar_t v = hl_yaml_int(7);
    const char *key = "k";
    int ret;
    switch (op) {
    case 0:
        ret = hl_yaml_edit_set_at(in, strlen(in), path, depth, &v, &out, &out_len, err, sizeof(err));
        break;
    case 1:
        ret = hl_yaml_edit_delete_at(in, strlen(in), path, depth, &out, &out_len, err, sizeof(err));
        break;
    case 2:
        ret = hl_yaml_edit_rename_at(in, strlen(in), path, depth, "renamed", &out, &out_len, err, sizeof(err));
        break;
    default:
        ret = hl_yaml_edit_append_mapping(in, strlen(in), path, depth, &key, &v, 1, &out, &out_len, err, sizeof(err));
    }
    ck_assert_msg(ret == code, "op %d: %d, want %d (%s) for: %.60s", op, ret, code, err, in);
    ck_assert_ptr_null(out);
    ck_assert_uint_eq(out_len, 0);
    ck_assert_msg(strstr(err, msg) != NULL, "message \"%s\" lacks \"%s\"", err, msg);
}

enum { SET, DEL, REN, APP };

START_TEST(list_refusals)
{
    /* items are never made */
    refused_at(PROVIDERS, STEPS(K("custom_providers"), I(2), K("name")), SET, -ENOENT,
               "config.yaml: custom_providers[2]: the list has no such item");
    refused_at(PROVIDERS, STEPS(K("nothing"), I(0), K("name")), SET, -ENOENT, "config.yaml: nothing[0]: the list has no such item");
    refused_at("a: ~\n", STEPS(K("a"), I(0), K("name")), SET, -ENOTDIR, "config.yaml: a: its value is not a list");
    refused_at(PROVIDERS, STEPS(K("model"), I(0), K("x")), SET, -ENOTDIR, "config.yaml: model: its value is not a list");
    refused_at("l:\n- text\n", STEPS(K("l"), I(0), K("x")), SET, -ENOTDIR, "config.yaml: l[0]: its value is not a mapping");
    refused_at("l:\n-\n", STEPS(K("l"), I(0), K("x")), SET, -ENOTDIR, "config.yaml: l[0]: its value is not a mapping");
    refused_at(PROVIDERS, STEPS(K("model")), APP, -ENOTDIR, "config.yaml: model: its value is not a list");
    refused_at("a: text\n", STEPS(K("a")), APP, -ENOTDIR, "config.yaml: a: its value is not a list");
    /* bad paths */
    refused_at(PROVIDERS, STEPS(I(0), K("name")), SET, -EINVAL, "config.yaml: the path must start with a key");
    refused_at(PROVIDERS, STEPS(K("custom_providers"), I(0)), SET, -EINVAL, "config.yaml: the path must end with a key");
    refused_at(PROVIDERS, STEPS(K("custom_providers"), I(0)), REN, -EINVAL, "config.yaml: the path must end with a key");
    refused_at(PROVIDERS, STEPS(K("custom_providers"), I(0)), APP, -EINVAL, "config.yaml: the path must end with a key");
    /* shapes left alone */
    refused_at("l:\n-\n  a: 1\n- b: 2\n", STEPS(K("l"), I(0)), DEL, -ENOTSUP,
               "config.yaml: l[0]: the item does not start on its dash's line");
    refused_at("l:\n- &x {a: 1}\n- *x\n", STEPS(K("l"), I(0)), DEL, -ENOTSUP, "config.yaml: l[0]: the item has an anchor or alias");
    refused_at("l:\n- &x {a: 1}\n- *x\n", STEPS(K("l"), I(1), K("a")), SET, -ENOTSUP, "config.yaml: l[1]: the value is an alias");
    refused_at("l: &y\n- a: 1\n", STEPS(K("l"), I(0), K("a")), SET, -ENOTSUP,
               "config.yaml: l: a list on the path has an anchor or a tag");
    refused_at("l: &y\n- a: 1\n", STEPS(K("l")), APP, -ENOTSUP, "config.yaml: l: the list has an anchor, alias or tag");
    refused_at("l:\n- - a\n  - b\n", STEPS(K("l"), I(0), I(0)), DEL, -ENOTSUP, "the item does not start on its dash's line");
}
END_TEST

/* ---- robustness ---- */

/* Keys added at the end of a block collection go past the lines that still belong to it by indentation — a `? `
 * complex key after a comment (found by fuzz_yaml_edit: the new key went before them and took them over), a deeper
 * line of a list's last item — and the comments before a line that does not belong stay with it. */
START_TEST(added_after_everything_the_collection_holds)
{
    hl_yaml_step_t path[2] = {hl_yaml_key("platform_toolsets"), hl_yaml_key("api_server")};
    set_at_is("a:\n    b:\n     c: 0\n#\n    ? \n", path, 2, hl_yaml_null(),
              "a:\n    b:\n     c: 0\n#\n    ? \nplatform_toolsets:\n    api_server: null\n");
    hl_yaml_step_t nested[2] = {hl_yaml_key("a"), hl_yaml_key("z")};
    set_at_is("a:\n  b: 1\n  # about c\n  ? c\n  : 2\n# about d\nd: 3\n", nested, 2, hl_yaml_int(4),
              "a:\n  b: 1\n  # about c\n  ? c\n  : 2\n  z: 4\n# about d\nd: 3\n");
}
END_TEST

START_TEST(mutated_inputs_give_an_error_or_valid_yaml)
{
    /* the fixture with a few bytes changed, edited on several paths: a known error, or a result that is itself
     * editable YAML holding the value; never a crash (ASan/UBSan builds) */
    static const char pool[] = " :-#\n[]{}'\"&*!|>\t?,%@`~\\x";
    static const char *const paths[][3] = {{"skills", "disabled", NULL},    {"model", "default", NULL},
                                           {"approvals", "deny", NULL},     {"honcho", "x", "y"},
                                           {"unknown_block", "text", NULL}, {"new", NULL, NULL}};
    unsigned seed = 10;
    size_t len = strlen(FIXTURE), ok = 0;
    char *text = malloc(len + 1);
    for (int round = 0; round < 1500; ++round) {
        memcpy(text, FIXTURE, len + 1);
        int changes = 1 + rand_r(&seed) % 3;
        for (int i = 0; i < changes; ++i)
            text[rand_r(&seed) % len] = pool[rand_r(&seed) % (sizeof(pool) - 1)];
        const char *const *path = paths[rand_r(&seed) % HL_ARRAY_SIZE(paths)];
        size_t depth = path[2] != NULL ? 3 : path[1] != NULL ? 2 : 1;
        char *out = NULL, err[256] = "";
        size_t out_len = 0;
        hl_yaml_scalar_t v = hl_yaml_string("yes: #1");
        int op = rand_r(&seed) % 3, ret;
        if (op == 0)
            ret = hl_yaml_edit_set(text, len, path, depth, &v, &out, &out_len, err, sizeof(err));
        else if (op == 1)
            ret = hl_yaml_edit_set_strings(text, len, path, depth, (const char *const[]){"a", "no"}, 2, &out, &out_len, err,
                                           sizeof(err));
        else
            ret = hl_yaml_edit_delete(text, len, path, depth, &out, &out_len, err, sizeof(err));
        ck_assert_msg(ret == 0 || ret == -EINVAL || ret == -ENOTSUP || ret == -ENOTDIR, "%d for:\n%s", ret, text);
        if (ret != 0) {
            ck_assert_ptr_null(out);
            ck_assert_msg(err[0] != '\0', "no message for %d", ret);
            continue;
        }
        ++ok;
        /* the result is valid YAML: another edit of it parses it */
        char *again = NULL;
        ret = hl_yaml_edit_delete(out, out_len, PATH("zz_not_there"), &again, &out_len, err, sizeof(err));
        ck_assert_msg(ret == 0, "%d (%s) after an edit of:\n%s\ngiving:\n%s", ret, err, text, out);
        ck_assert_str_eq(again, out);
        free(again);
        free(out);
    }
    ck_assert_uint_gt(ok, 100);
    free(text);
}
END_TEST

START_TEST(mutated_lists_give_an_error_or_valid_yaml)
{
    /* the providers fixture with a few bytes changed, edited through list items: a known error, or a result that parses
     * and is itself editable; never a crash (ASan/UBSan builds) */
    static const char pool[] = " :-#\n[]{}'\"&*!|>\t?,%@`~\\x";
    const hl_yaml_step_t p0[] = {K("custom_providers"), I(0), K("model")};
    const hl_yaml_step_t p1[] = {K("custom_providers"), I(1)};
    const hl_yaml_step_t p2[] = {K("custom_providers"), I(0), K("name")};
    const hl_yaml_step_t p3[] = {K("custom_providers"), I(0), K("models"), K("qwen3")};
    const hl_yaml_step_t p4[] = {K("custom_providers")};
    const hl_yaml_step_t p5[] = {K("custom_providers"), I(1), K("models")};
    const struct {
        const hl_yaml_step_t *steps;
        size_t depth;
    } paths[] = {{p0, 3}, {p1, 2}, {p2, 3}, {p3, 4}, {p4, 1}, {p5, 3}};
    unsigned seed = 11;
    size_t len = strlen(PROVIDERS), ok = 0;
    char *text = malloc(len + 1);
    for (int round = 0; round < 1500; ++round) {
        memcpy(text, PROVIDERS, len + 1);
        int changes = 1 + rand_r(&seed) % 3;
        for (int i = 0; i < changes; ++i)
            text[rand_r(&seed) % len] = pool[rand_r(&seed) % (sizeof(pool) - 1)];
        size_t which = rand_r(&seed) % HL_ARRAY_SIZE(paths);
        const hl_yaml_step_t *path = paths[which].steps;
        size_t depth = paths[which].depth;
        char *out = NULL, err[256] = "";
        size_t out_len = 0;
        hl_yaml_scalar_t v = hl_yaml_string("yes: #1");
        const char *key = "k";
        int op = rand_r(&seed) % 5, ret;
        if (op == 0)
            ret = hl_yaml_edit_set_at(text, len, path, depth, &v, &out, &out_len, err, sizeof(err));
        else if (op == 1)
            ret = hl_yaml_edit_set_strings_at(text, len, path, depth, (const char *const[]){"a", "no"}, 2, &out, &out_len, err,
                                              sizeof(err));
        else if (op == 2)
            ret = hl_yaml_edit_delete_at(text, len, path, depth, &out, &out_len, err, sizeof(err));
        else if (op == 3)
            ret = hl_yaml_edit_rename_at(text, len, path, depth, "new: key", &out, &out_len, err, sizeof(err));
        else
            ret = hl_yaml_edit_append_mapping(text, len, path, depth, &key, &v, 1, &out, &out_len, err, sizeof(err));
        ck_assert_msg(ret == 0 || ret == -EINVAL || ret == -ENOTSUP || ret == -ENOTDIR || ret == -ENOENT || ret == -EEXIST,
                      "%d for:\n%s", ret, text);
        if (ret != 0) {
            ck_assert_ptr_null(out);
            ck_assert_msg(err[0] != '\0', "no message for %d", ret);
            continue;
        }
        ++ok;
        char *again = NULL;
        ret = hl_yaml_edit_delete(out, out_len, PATH("zz_not_there"), &again, &out_len, err, sizeof(err));
        ck_assert_msg(ret == 0, "%d (%s) after an edit of:\n%s\ngiving:\n%s", ret, err, text, out);
        ck_assert_str_eq(again, out);
        free(again);
        free(out);
    }
    ck_assert_uint_gt(ok, 100);
    free(text);
}
END_TEST

Suite *suite_hermes_yaml_edit(void)
{
    Suite *s = suite_create("hermes_yaml_edit");
    TCase *fixture = tcase_create("fixture");
    tcase_add_test(fixture, set_scalars_in_place);
    tcase_add_test(fixture, set_same_value_changes_nothing);
    tcase_add_test(fixture, set_new_keys_and_parents);
    tcase_add_test(fixture, set_lists);
    tcase_add_test(fixture, delete_keys);
    suite_add_tcase(s, fixture);

    TCase *shapes = tcase_create("shapes");
    tcase_add_test(shapes, flow_mappings);
    tcase_add_test(shapes, line_endings_and_empty_files);
    tcase_add_test(shapes, indentation_follows_the_file);
    tcase_add_test(shapes, block_scalars_keep_their_lines);
    suite_add_tcase(s, shapes);

    TCase *refusals = tcase_create("refusals");
    tcase_set_timeout(refusals, 30);
    tcase_add_test(refusals, invalid_yaml_is_refused);
    tcase_add_test(refusals, aliases_and_odd_shapes_are_refused);
    tcase_add_test(refusals, bad_paths_and_values);
    tcase_add_test(refusals, sizes_are_bounded);
    tcase_add_test(refusals, flow_entry_next_to_an_empty_key);
    suite_add_tcase(s, refusals);

    TCase *quotes = tcase_create("quoting");
    tcase_add_test(quotes, quoting_round_trips);
    tcase_add_test(quotes, quoting_in_lists_and_keys);
    suite_add_tcase(s, quotes);

    TCase *lists = tcase_create("lists");
    tcase_add_test(lists, list_items_set);
    tcase_add_test(lists, list_items_delete);
    tcase_add_test(lists, list_keys_renamed);
    tcase_add_test(lists, list_items_appended);
    tcase_add_test(lists, list_refusals);
    tcase_add_test(lists, added_after_everything_the_collection_holds);
    suite_add_tcase(s, lists);

    TCase *robust = tcase_create("robustness");
    tcase_set_timeout(robust, 60);
    tcase_add_test(robust, mutated_inputs_give_an_error_or_valid_yaml);
    tcase_add_test(robust, mutated_lists_give_an_error_or_valid_yaml);
    suite_add_tcase(s, robust);
    return s;
}
