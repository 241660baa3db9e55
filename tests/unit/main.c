/*
 * Runs every unit suite. Add a suite: write tests/unit/test_<name>.c with `Suite *suite_<name>(void)` and list it here.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "unit_util.h"

Suite *suite_router(void);
Suite *suite_config(void);
Suite *suite_clock_ids(void);
Suite *suite_logread(void);
Suite *suite_mime(void);
Suite *suite_negotiate(void);
Suite *suite_fsutil_pidfile(void);
Suite *suite_tokens(void);
Suite *suite_token_table(void);
Suite *suite_db_actor(void);
Suite *suite_qr(void);
Suite *suite_sse_hub(void);
Suite *suite_store(void);
Suite *suite_hermes_files(void);
Suite *suite_hermes_memory(void);
Suite *suite_hermes_models(void);
Suite *suite_hermes_skills(void);
Suite *suite_sse_parser(void);
Suite *suite_pairing_addr(void);
Suite *suite_forwarded(void);
Suite *suite_netaddr(void);
Suite *suite_keyed_counts(void);
Suite *suite_config_edge(void);
Suite *suite_hermes_yaml_edit(void);
Suite *suite_file_replace(void);
Suite *suite_stats_range(void);
Suite *suite_hermes_yaml_json(void);
Suite *suite_hermes_names_env(void);
Suite *suite_hermes_settings(void);
Suite *suite_updater(void);
Suite *suite_autostart(void);
Suite *suite_api_docs(void);
Suite *suite_node_home(void);
Suite *suite_web_client_url(void);
Suite *suite_pipe_lines(void);
Suite *suite_runproxy_events(void);
Suite *suite_request_query(void);

int main(void)
{
    char root[] = "/tmp/hl-unit-XXXXXX";
    if (mkdtemp(root) == NULL) {
        perror("mkdtemp");
        return EXIT_FAILURE;
    }
    setenv(UT_TMP_ENV, root, 1);
    SRunner *sr = srunner_create(suite_router());
    srunner_add_suite(sr, suite_config());
    srunner_add_suite(sr, suite_api_docs());
    srunner_add_suite(sr, suite_clock_ids());
    srunner_add_suite(sr, suite_logread());
    srunner_add_suite(sr, suite_mime());
    srunner_add_suite(sr, suite_negotiate());
    srunner_add_suite(sr, suite_fsutil_pidfile());
    srunner_add_suite(sr, suite_tokens());
    srunner_add_suite(sr, suite_token_table());
    srunner_add_suite(sr, suite_db_actor());
    srunner_add_suite(sr, suite_qr());
    srunner_add_suite(sr, suite_sse_hub());
    srunner_add_suite(sr, suite_store());
    srunner_add_suite(sr, suite_hermes_files());
    srunner_add_suite(sr, suite_hermes_memory());
    srunner_add_suite(sr, suite_hermes_models());
    srunner_add_suite(sr, suite_hermes_skills());
    srunner_add_suite(sr, suite_sse_parser());
    srunner_add_suite(sr, suite_pairing_addr());
    srunner_add_suite(sr, suite_forwarded());
    srunner_add_suite(sr, suite_netaddr());
    srunner_add_suite(sr, suite_keyed_counts());
    srunner_add_suite(sr, suite_config_edge());
    srunner_add_suite(sr, suite_hermes_yaml_edit());
    srunner_add_suite(sr, suite_file_replace());
    srunner_add_suite(sr, suite_stats_range());
    srunner_add_suite(sr, suite_hermes_yaml_json());
    srunner_add_suite(sr, suite_pipe_lines());
    srunner_add_suite(sr, suite_hermes_names_env());
    srunner_add_suite(sr, suite_hermes_settings());
    srunner_add_suite(sr, suite_updater());
    srunner_add_suite(sr, suite_autostart());
    srunner_add_suite(sr, suite_node_home());
    srunner_add_suite(sr, suite_web_client_url());
    srunner_add_suite(sr, suite_runproxy_events());
    srunner_add_suite(sr, suite_request_query());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    nftw(root, ut_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
