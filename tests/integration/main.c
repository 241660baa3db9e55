/*
 * Runs every integration suite against the real binary. Add a suite: write tests/integration/test_<name>.c with
 * `Suite *suite_<name>(void)` and list it below. Select with Check's CK_RUN_SUITE / CK_RUN_CASE; CK_FORK=no to debug.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include <curl/curl.h>

#include "harness.h"

Suite *suite_routes(void);
Suite *suite_cors_errors(void);
Suite *suite_bodies(void);
Suite *suite_actor(void);
Suite *suite_reset(void);
Suite *suite_shutdown(void);
Suite *suite_cli(void);
Suite *suite_auth(void);
Suite *suite_pairing(void);
Suite *suite_devices(void);
Suite *suite_status_logs(void);
Suite *suite_conversations(void);
Suite *suite_messages(void);
Suite *suite_agent_runs(void);
Suite *suite_agent_errors(void);
Suite *suite_blobs(void);
Suite *suite_sse(void);
Suite *suite_stream_auth(void);
Suite *suite_fd_limit(void);
Suite *suite_edge_limits(void);
Suite *suite_http_framing(void);
Suite *suite_durability(void);
Suite *suite_fake_upstream(void);
Suite *suite_cron(void);
Suite *suite_hardening(void);
Suite *suite_nginx_front(void);
Suite *suite_edge_config(void);
Suite *suite_model_configs(void);
Suite *suite_profiles(void);
Suite *suite_profile_settings(void);
Suite *suite_profile_memory(void);
Suite *suite_profile_skills_create(void);
Suite *suite_profile_catalog(void);
Suite *suite_statistics(void);

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_ALL);
    SRunner *sr = srunner_create(suite_routes());
    srunner_add_suite(sr, suite_cors_errors());
    srunner_add_suite(sr, suite_bodies());
    srunner_add_suite(sr, suite_actor());
    srunner_add_suite(sr, suite_reset());
    srunner_add_suite(sr, suite_shutdown());
    srunner_add_suite(sr, suite_cli());
    srunner_add_suite(sr, suite_auth());
    srunner_add_suite(sr, suite_pairing());
    srunner_add_suite(sr, suite_devices());
    srunner_add_suite(sr, suite_status_logs());
    srunner_add_suite(sr, suite_conversations());
    srunner_add_suite(sr, suite_messages());
    srunner_add_suite(sr, suite_agent_runs());
    srunner_add_suite(sr, suite_agent_errors());
    srunner_add_suite(sr, suite_blobs());
    srunner_add_suite(sr, suite_sse());
    srunner_add_suite(sr, suite_stream_auth());
    srunner_add_suite(sr, suite_fd_limit());
    srunner_add_suite(sr, suite_edge_limits());
    srunner_add_suite(sr, suite_http_framing());
    srunner_add_suite(sr, suite_durability());
    srunner_add_suite(sr, suite_fake_upstream());
    srunner_add_suite(sr, suite_cron());
    srunner_add_suite(sr, suite_hardening());
    srunner_add_suite(sr, suite_nginx_front());
    srunner_add_suite(sr, suite_edge_config());
    srunner_add_suite(sr, suite_model_configs());
    srunner_add_suite(sr, suite_profiles());
    srunner_add_suite(sr, suite_profile_settings());
    srunner_add_suite(sr, suite_profile_memory());
    srunner_add_suite(sr, suite_profile_skills_create());
    srunner_add_suite(sr, suite_profile_catalog());
    srunner_add_suite(sr, suite_statistics());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    int late = hlt_late_failures();
    if (late > 0)
        fprintf(stderr, "%d failure(s) outside tests (daemon teardown), see above\n", late);
    curl_global_cleanup();
    return failed == 0 && late == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
