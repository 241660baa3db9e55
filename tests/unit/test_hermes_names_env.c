/*
 * Hermes's naming rules and `.env` edits (src/actors/hermes_profiles.c, hermes_dotenv_edit.c): new profile names as
 * Hermes accepts them, the key_env rule of GAPS §A 15, and one key of a `.env` set with every other byte kept — read
 * back by the same parser Hermes's API-server resolution uses.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "hl/hermes_read.h"

START_TEST(new_profile_names)
{
    static const char *const OK[] = {"work", "a", "0day", "my-profile_2",
                                     "x234567890123456789012345678901234567890123456789012345678901234"};
    for (size_t i = 0; i < sizeof(OK) / sizeof(OK[0]); ++i)
        ck_assert_msg(hl_hermes_new_profile_name_problem(OK[i]) == NULL, "%s refused", OK[i]);
    static const char *const BAD[] = {
        "",       "Work",    "-x",      "_x",     "a.b",
        "a b",    "a/b",     "..",      "é",      "x2345678901234567890123456789012345678901234567890123456789012345",
        "hermes", "default", "test",    "tmp",    "root",
        "sudo",   "chat",    "gateway", "profile"};
    for (size_t i = 0; i < sizeof(BAD) / sizeof(BAD[0]); ++i)
        ck_assert_msg(hl_hermes_new_profile_name_problem(BAD[i]) != NULL, "%s accepted", BAD[i]);
    ck_assert(strstr(hl_hermes_new_profile_name_problem("sudo"), "reserved") != NULL);
}
END_TEST

START_TEST(key_env_names)
{
    ck_assert(hl_hermes_valid_key_env("OPENROUTER_API_KEY"));
    ck_assert(hl_hermes_valid_key_env("HERMES_MY_PROVIDER_2_API_KEY"));
    static const char *const BAD[] = {"PATH",       "API_SERVER_KEY", "_API_KEY",    "openai_api_key",
                                      "LD_PRELOAD", "X_API_KEY2",     "A-B_API_KEY", ""};
    for (size_t i = 0; i < sizeof(BAD) / sizeof(BAD[0]); ++i)
        ck_assert_msg(!hl_hermes_valid_key_env(BAD[i]), "%s accepted", BAD[i]);
    ck_assert(!hl_hermes_valid_key_env(NULL));
}
END_TEST

/* Sets KEY in `before` and checks the exact result, then that the parser reads the value back. */
static void check_set(const char *before, const char *key, const char *value, const char *want)
{
    size_t len = 0;
    char *out = hl_dotenv_set(before, strlen(before), key, value, &len);
    ck_assert_uint_eq(len, strlen(out));
    ck_assert_msg(strcmp(out, want) == 0, "got:\n%s\nwant:\n%s", out, want);
    hl_dotenv_t env;
    memset(&env, 0, sizeof(env));
    hl_dotenv_parse(&env, out, len);
    ck_assert_str_eq(hl_dotenv_get(&env, key), value);
    hl_dotenv_dispose(&env);
    free(out);
}

START_TEST(dotenv_set_keeps_everything_else)
{
    /* replaced in place, comments and other keys untouched */
    check_set("# keys\nA=1\nOPENAI_API_KEY=old\nB='x y' # note\n", "OPENAI_API_KEY", "sk-new",
              "# keys\nA=1\nOPENAI_API_KEY=\"sk-new\"\nB='x y' # note\n");
    /* export form and a repeated key: one line, at the first one's place */
    check_set("export K=1\nZ=2\nK=3\n", "K", "v", "K=\"v\"\nZ=2\n");
    /* a quoted value over several lines goes whole */
    check_set("K=\"line1\nline2\"\nZ=2\n", "K", "v", "K=\"v\"\nZ=2\n");
    /* appended, with a newline before it when the file lacks one; exactly one at the end */
    check_set("A=1", "K", "v", "A=1\nK=\"v\"\n");
    check_set("A=1\n\n\n", "K", "v", "A=1\n\n\nK=\"v\"\n"); /* every byte before it kept */
    check_set("", "K", "v", "K=\"v\"\n");
    /* escapes the parser reads back */
    check_set("", "K", "a\"b\\c\nd", "K=\"a\\\"b\\\\c\\nd\"\n");
    /* a key that only starts like ours is another key */
    check_set("KEY2=1\n", "KEY", "v", "KEY2=1\nKEY=\"v\"\n");
    /* found by fuzz/fuzz_dotenv_set.c: a quote that never closes (or is followed by more than a comment) is no value
       over several lines; the reader resumes on the next line, so the lines below are other keys and stay */
    check_set("K=\"open\nB=1\nK2=2\n", "K", "v", "K=\"v\"\nB=1\nK2=2\n");
    check_set("K=\"x\nB=1\n\" junk\nC=3\n", "K", "v", "K=\"v\"\nB=1\n\" junk\nC=3\n");
    check_set("K='a\nb' # fine\nB=1\n", "K", "v", "K=\"v\"\nB=1\n");
    /* a line inside another key's quoted value is that value's, even when it reads like our key */
    check_set("Q='x\nK=old'\nK=1\n", "K", "v", "Q='x\nK=old'\nK=\"v\"\n");
    check_set("Q=\"x\nK=old\"\n", "K", "v", "Q=\"x\nK=old\"\nK=\"v\"\n");
    /* quotes that one statement opens and a later line closes: replacing that line would pair them up differently (here
       Q's value would swallow the new K line), so nothing is written */
    size_t len = 7;
    ck_assert_ptr_null(hl_dotenv_set("Q='a\nK='b' c\nZ='\n", 17, "K", "v", &len));
    ck_assert_uint_eq(len, 0);
    /* a last line without a newline, kept below the key's: the text still ends with one */
    check_set("K=1\nB=2", "K", "v", "K=\"v\"\nB=2\n");
}
END_TEST

START_TEST(dotenv_keys)
{
    ck_assert(hl_dotenv_valid_key("A_1"));
    ck_assert(hl_dotenv_valid_key("_x"));
    ck_assert(!hl_dotenv_valid_key("1A"));
    ck_assert(!hl_dotenv_valid_key("A-B"));
    ck_assert(!hl_dotenv_valid_key(""));
    ck_assert(!hl_dotenv_valid_key(NULL));
}
END_TEST

Suite *suite_hermes_names_env(void)
{
    Suite *s = suite_create("hermes_names_env");
    TCase *tc = tcase_create("rules");
    tcase_add_test(tc, new_profile_names);
    tcase_add_test(tc, key_env_names);
    tcase_add_test(tc, dotenv_set_keeps_everything_else);
    tcase_add_test(tc, dotenv_keys);
    suite_add_tcase(s, tc);
    return s;
}
