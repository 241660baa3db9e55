/*
 * The Node home reader of `hermeslink import` (src/core/node_parse.c, node_home.c): id and hash validators, the
 * credentials and conversation parsers (normalisation, refusals with the file named), and the whole-home walk (names,
 * symlinks, blob sizes).
 */
#include <errno.h>
#include <jansson.h>

#include "hl/common.h"
#include "hl/node_home.h"
#include "unit_util.h"

#define HEX32 "0123456789abcdef0123456789abcdef"
#define HASH "AbCdEf0123456789abcdef0123456789abcdef0123456789abcdef0123456789"
#define CONV "conv_" HEX32

START_TEST(test_ids)
{
    ck_assert(hl_node_id_valid("conv_", CONV));
    ck_assert(hl_node_id_valid("blob_", "blob_" HEX32));
    ck_assert(!hl_node_id_valid("conv_", "conv_0123456789ABCDEF0123456789abcdef"));
    ck_assert(!hl_node_id_valid("conv_", "conv_" HEX32 "0"));
    ck_assert(!hl_node_id_valid("conv_", "conv_../../../../etc/passwd/xxxxx"));
    ck_assert(!hl_node_id_valid("conv_", "msg_" HEX32));
    ck_assert(!hl_node_id_valid("conv_", NULL));
    ck_assert(hl_node_hash_valid(HASH));
    ck_assert(!hl_node_hash_valid("zz" HEX32 "0123456789abcdef0123456789abcd"));
    ck_assert(!hl_node_hash_valid(HEX32));
}
END_TEST

static const char DEVICE[] = "{\"id\":\"dev_" HEX32 "\",\"label\":\"Phone\",\"platform\":\"ios\",\"model\":null,"
                             "\"scope\":\"admin\",\"app_instance_hash\":null,\"access_token_hash\":\"" HASH "\","
                             "\"access_expires_at\":\"2099-01-01T00:00:00.000Z\",\"refresh_token_hash\":\"" HASH "\","
                             "\"refresh_expires_at\":\"2099-01-02T00:00:00.000Z\",\"created_at\":\"2025-01-01T00:00:00.000Z\","
                             "\"updated_at\":\"2025-01-01T00:00:00.000Z\",\"last_seen_at\":null,"
                             "\"revoked_at\":\"2025-01-03T00:00:00.000Z\",\"app_hidden_at\":null}";

START_TEST(test_credentials)
{
    char err[256];
    json_t *devices = json_array();
    char *text = hl_asprintf("{\"devices\":[%s]}", DEVICE);
    ck_assert_int_eq(hl_node_parse_credentials(text, devices, err, sizeof(err)), 0);
    free(text);
    ck_assert_int_eq(json_array_size(devices), 1);
    json_t *d = json_array_get(devices, 0);
    /* hashes lower-cased, times in epoch ms, nulls kept */
    ck_assert_str_eq(json_string_value(json_object_get(d, "access_token_hash")),
                     "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789");
    ck_assert_int_eq(json_integer_value(json_object_get(d, "created_at")), 1735689600000LL);
    ck_assert_int_eq(json_integer_value(json_object_get(d, "revoked_at")), 1735862400000LL);
    ck_assert(json_is_null(json_object_get(d, "model")));
    ck_assert(json_is_null(json_object_get(d, "last_seen_at")));
    json_decref(devices);

    static const char *const bad[] = {
        "{\"devices\":[", "[]", "{\"devices\":[{\"id\":\"dev_../x\"}]}",
        "{\"devices\":[{\"id\":\"dev_" HEX32 "\",\"access_token_hash\":\"short\",\"refresh_token_hash\":\"" HASH "\"}]}",
        "{\"devices\":[{\"id\":\"dev_" HEX32 "\",\"access_token_hash\":\"" HASH "\",\"refresh_token_hash\":\"" HASH
        "\",\"access_expires_at\":\"soon\",\"refresh_expires_at\":\"2099-01-02T00:00:00.000Z\",\"created_at\":"
        "\"2025-01-01T00:00:00.000Z\"}]}"};
    for (size_t i = 0; i < HL_ARRAY_SIZE(bad); ++i) {
        devices = json_array();
        err[0] = '\0';
        ck_assert_msg(hl_node_parse_credentials(bad[i], devices, err, sizeof(err)) == -EINVAL, "accepted %s", bad[i]);
        ck_assert_msg(err[0] != '\0', "no reason for %s", bad[i]);
        json_decref(devices);
    }
}
END_TEST

#define MANIFEST(id, extra)                                                                                                        \
    "{\"id\":\"" id "\",\"kind\":\"chat\",\"title\":\"T\",\"status\":\"active\",\"last_event_seq\":1,"                             \
    "\"created_at\":\"2025-02-01T09:00:00.000Z\",\"updated_at\":\"2025-02-01T09:00:05.000Z\"" extra "}"
#define MSG(n, extra)                                                                                                              \
    "{\"id\":\"msg_" HEX32 "\",\"conversation_id\":\"" CONV "\",\"role\":\"assistant\",\"status\":\"" n "\","                      \
    "\"created_at\":\"2025-02-01T09:00:00.000Z\",\"parts\":[{\"type\":\"text\",\"text\":\"a\"},{\"type\":\"text\","                \
    "\"text\":\"b\"}]" extra "}"
#define RUN(status)                                                                                                                \
    "{\"id\":\"run_" HEX32 "\",\"trigger_message_id\":\"msg_" HEX32 "\",\"assistant_message_id\":\"msg_" HEX32                     \
    "\",\"status\":\"" status "\",\"started_at\":\"2025-02-01T09:00:00.000Z\",\"usage\":{\"input_tokens\":3,\"output_tokens\":4}}"
#define EVENT(seq) "{\"type\":\"message.created\",\"payload\":{},\"seq\":" #seq ",\"created_at\":\"2025-02-01T09:00:00.000Z\"}"

START_TEST(test_conversation)
{
    char err[256];
    json_t *c = NULL;
    ck_assert_int_eq(hl_node_parse_conversation(CONV, MANIFEST(CONV, ""),
                                                "{\"messages\":[" MSG("streaming", "") "],\"runs\":[" RUN("running") "]}",
                                                "[" EVENT(1) "," EVENT(4) "]", &c, err, sizeof(err)),
                     0);
    json_t *conv = json_object_get(c, "conversation"), *m = json_array_get(json_object_get(c, "messages"), 0);
    json_t *r = json_array_get(json_object_get(c, "runs"), 0);
    /* the counter stays ahead of the imported events */
    ck_assert_int_eq(json_integer_value(json_object_get(conv, "last_event_seq")), 4);
    ck_assert_str_eq(json_string_value(json_object_get(m, "text")), "ab");
    /* unfinished work is imported as failed */
    ck_assert_str_eq(json_string_value(json_object_get(m, "status")), "failed");
    ck_assert_str_eq(json_string_value(json_object_get(r, "status")), "failed");
    ck_assert_int_eq(json_integer_value(json_object_get(r, "total_tokens")), 7);
    ck_assert_int_eq(json_array_size(json_object_get(c, "events")), 2);
    json_decref(c);

    /* manifest only */
    ck_assert_int_eq(hl_node_parse_conversation(CONV, MANIFEST(CONV, ""), NULL, NULL, &c, err, sizeof(err)), 0);
    json_decref(c);

    static const struct {
        const char *manifest, *snapshot, *events, *file;
    } bad[] = {
        {MANIFEST("../../etc", ""), NULL, NULL, "manifest.json"},
        {MANIFEST("conv_ffffffffffffffffffffffffffffffff", ""), NULL, NULL, "manifest.json"},
        {MANIFEST(CONV, ",\"status\":\"gone\""), NULL, NULL, "manifest.json"},
        {"{\"id\":", NULL, NULL, "manifest.json"},
        {MANIFEST(CONV, ""), "{\"messages\":[" MSG("completed", ",\"attachments\":[\"../blob\"]") "]}", NULL, "snapshot.json"},
        {MANIFEST(CONV, ""), "{\"messages\":[" MSG("weird", "") "]}", NULL, "snapshot.json"},
        {MANIFEST(CONV, ""), "{\"runs\":[{\"id\":\"run_x\"}]}", NULL, "snapshot.json"},
        {MANIFEST(CONV, ""), NULL, "[" EVENT(2) "," EVENT(2) "]", "events.json"},
        {MANIFEST(CONV, ""), NULL, "{}", "events.json"},
    };
    for (size_t i = 0; i < HL_ARRAY_SIZE(bad); ++i) {
        c = NULL;
        err[0] = '\0';
        ck_assert_msg(hl_node_parse_conversation(CONV, bad[i].manifest, bad[i].snapshot, bad[i].events, &c, err, sizeof(err)) ==
                          -EINVAL,
                      "case %zu accepted", i);
        ck_assert_msg(c == NULL, "case %zu gave a result", i);
        ck_assert_msg(strstr(err, bad[i].file) != NULL, "case %zu: \"%s\" does not name %s", i, err, bad[i].file);
    }
}
END_TEST

static void mkdirs(const char *dir, const char *rel)
{
    char *p = ut_path(dir, rel);
    char *cmd = hl_asprintf("mkdir -p '%s'", p);
    ck_assert_int_eq(system(cmd), 0);
    free(cmd);
    free(p);
}

static void put(const char *dir, const char *rel, const char *text)
{
    char *p = ut_path(dir, rel);
    ut_write_str(p, text);
    free(p);
}

START_TEST(test_home_walk)
{
    char *dir = ut_mkdtemp(), err[512];
    hl_node_home_t h;
    ck_assert(!hl_node_home_detect(dir));
    mkdirs(dir, "conversations/" CONV);
    mkdirs(dir, "blobs");
    put(dir, "conversations/" CONV "/manifest.json", MANIFEST(CONV, ""));
    put(dir, "blobs/blob_" HEX32, "abc");
    put(dir, "blobs/blob_" HEX32 ".json",
        "{\"id\":\"blob_" HEX32 "\",\"size\":3,\"mime\":\"text/plain\",\"filename\":\"a.txt\","
        "\"created_at\":\"2025-02-01T09:00:00.000Z\",\"conversation_ids\":[\"" CONV "\"]}");
    ck_assert(hl_node_home_detect(dir));
    ck_assert_int_eq(hl_node_home_load(dir, &h, err, sizeof(err)), 0);
    ck_assert_int_eq(json_array_size(h.conversations), 1);
    ck_assert_int_eq(json_array_size(h.blobs), 1);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(h.blobs, 0), "path")), "blobs/blob_" HEX32);
    ck_assert(h.identity == NULL);
    hl_node_home_dispose(&h);

    /* a blob whose size disagrees with its manifest */
    put(dir, "blobs/blob_" HEX32, "abcd");
    ck_assert_int_eq(hl_node_home_load(dir, &h, err, sizeof(err)), -EINVAL);
    ck_assert_msg(strstr(err, "blobs/blob_" HEX32) != NULL, "%s", err);
    put(dir, "blobs/blob_" HEX32, "abc");

    /* a symlinked file is not followed */
    char *target = ut_path(dir, "elsewhere.json"), *link = ut_path(dir, "credentials.json");
    ut_write_str(target, "{\"devices\":[]}");
    ck_assert_int_eq(symlink(target, link), 0);
    ck_assert_int_eq(hl_node_home_load(dir, &h, err, sizeof(err)), -EINVAL);
    ck_assert_msg(strstr(err, "credentials.json") != NULL, "%s", err);
    unlink(link);
    free(target);
    free(link);

    /* a symlinked conversation folder is not followed */
    char *real = ut_path(dir, "real-conv"), *linked = ut_path(dir, "conversations/conv_ffffffffffffffffffffffffffffffff");
    ck_assert_int_eq(mkdir(real, 0700), 0);
    ck_assert_int_eq(symlink(real, linked), 0);
    ck_assert_int_eq(hl_node_home_load(dir, &h, err, sizeof(err)), -EINVAL);
    ck_assert_msg(strstr(err, "conversations/conv_ffffffffffffffffffffffffffffffff") != NULL, "%s", err);
    unlink(linked);
    free(real);
    free(linked);

    /* a folder name the Node version never writes */
    mkdirs(dir, "conversations/notes");
    ck_assert_int_eq(hl_node_home_load(dir, &h, err, sizeof(err)), -EINVAL);
    ck_assert_msg(strstr(err, "conversations/notes") != NULL, "%s", err);
    ut_rm_rf(dir);
}
END_TEST

/* Found by fuzz/fuzz_node_home.c: a blob manifest without a created_at string crashed the import (NULL to strlen). */
START_TEST(test_blob_without_created_at)
{
    char *dir = ut_mkdtemp(), err[512] = "";
    hl_node_home_t h;
    mkdirs(dir, "blobs");
    put(dir, "blobs/blob_" HEX32, "abc");
    const char *const bad[] = {"{\"id\":\"blob_" HEX32 "\",\"size\":3,\"conversation_ids\":[]}",
                               "{\"id\":\"blob_" HEX32 "\",\"size\":3,\"created_at\":7,\"conversation_ids\":[]}"};
    for (size_t i = 0; i < HL_ARRAY_SIZE(bad); ++i) {
        put(dir, "blobs/blob_" HEX32 ".json", bad[i]);
        ck_assert_int_eq(hl_node_home_load(dir, &h, err, sizeof(err)), -EINVAL);
        ck_assert_msg(strstr(err, "corrupt") != NULL, "%s", err);
    }
    ut_rm_rf(dir);
}
END_TEST

Suite *suite_node_home(void)
{
    Suite *s = suite_create("node_home");
    TCase *tc = tcase_create("node_home");
    tcase_add_test(tc, test_ids);
    tcase_add_test(tc, test_credentials);
    tcase_add_test(tc, test_conversation);
    tcase_add_test(tc, test_home_walk);
    tcase_add_test(tc, test_blob_without_created_at);
    suite_add_tcase(s, tc);
    return s;
}
