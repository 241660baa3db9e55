/*
 * Runs every integration suite against the real binary. Add a suite: write tests/integration/test_<name>.c with
 * `Suite *suite_<name>(void)` and list it in SUITES (the slowest first, roughly: parallel runners take them in order). Select with
 * Check's CK_RUN_SUITE / CK_RUN_CASE; CK_FORK=no to debug. Several processes given the same HLT_SUITE_QUEUE file (holding
 * 0) share the suites between them (scripts/run-integration.sh).
 */
#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <curl/curl.h>

#include "harness.h"
#include "hl/common.h"

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
Suite *suite_clock_jumps(void);
Suite *suite_kill9_loop(void);
Suite *suite_syscall_faults(void);
Suite *suite_upstream_faults(void);
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
Suite *suite_logs_deliver(void);
Suite *suite_updates(void);
Suite *suite_statistics(void);
Suite *suite_new_user(void);
Suite *suite_api_docs(void);
Suite *suite_web_app(void);
Suite *suite_install(void);
Suite *suite_node_import(void);
Suite *suite_autostart(void);

/* clang-format off */
#define SUITE(n) {#n, suite_##n}
/* clang-format on */
static const struct {
    const char *name; /* as suite_create names it */
    Suite *(*make)(void);
} SUITES[] = {
    SUITE(profile_memory),
    SUITE(profile_skills_create),
    SUITE(agent_runs),
    SUITE(profiles),
    SUITE(edge_limits),
    SUITE(updates),
    SUITE(profile_settings),
    SUITE(model_configs),
    SUITE(agent_errors),
    SUITE(upstream_faults),
    SUITE(sse),
    SUITE(pairing),
    SUITE(profile_catalog),
    SUITE(logs_deliver),
    SUITE(reset),
    SUITE(auth),
    SUITE(edge_config),
    SUITE(install),
    SUITE(node_import),
    SUITE(blobs),
    SUITE(cli),
    SUITE(fake_upstream),
    SUITE(devices),
    SUITE(new_user),
    SUITE(nginx_front),
    SUITE(durability),
    SUITE(clock_jumps),
    SUITE(kill9_loop),
    SUITE(syscall_faults),
    SUITE(stream_auth),
    SUITE(autostart),
    SUITE(conversations),
    SUITE(actor),
    SUITE(messages),
    SUITE(shutdown),
    SUITE(statistics),
    SUITE(fd_limit),
    SUITE(hardening),
    SUITE(cron),
    SUITE(status_logs),
    SUITE(cors_errors),
    SUITE(api_docs),
    SUITE(web_app),
    SUITE(routes),
    SUITE(bodies),
    SUITE(http_framing),
};

/* The next suite to run: in order, or — with HLT_SUITE_QUEUE naming a file shared by several processes of this runner —
 * the next one no process has taken yet (the file holds the next index; flock serialises the takers). -1 when done. */
static long next_suite(int queue_fd, long *local)
{
    if (queue_fd < 0)
        return *local < (long)HL_ARRAY_SIZE(SUITES) ? (*local)++ : -1;
    if (flock(queue_fd, LOCK_EX) != 0)
        return -1;
    char buf[32] = "";
    ssize_t n = pread(queue_fd, buf, sizeof(buf) - 1, 0);
    long i = n > 0 ? strtol(buf, NULL, 10) : 0;
    if (i < (long)HL_ARRAY_SIZE(SUITES)) {
        int len = snprintf(buf, sizeof(buf), "%ld\n", i + 1);
        if (pwrite(queue_fd, buf, (size_t)len, 0) != len || ftruncate(queue_fd, len) != 0)
            i = -1;
    } else {
        i = -1;
    }
    flock(queue_fd, LOCK_UN);
    return i;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_ALL);
    const char *queue = getenv("HLT_SUITE_QUEUE");
    int queue_fd = queue != NULL && queue[0] != '\0' ? open(queue, O_RDWR | O_CLOEXEC) : -1;
    if (queue != NULL && queue[0] != '\0' && queue_fd < 0) {
        fprintf(stderr, "HLT_SUITE_QUEUE %s cannot be opened\n", queue);
        return EXIT_FAILURE;
    }
    /* one runner per suite, so that each suite's checks and time are reported on their own */
    int failed = 0;
    long local = 0, i;
    while ((i = next_suite(queue_fd, &local)) >= 0) {
        const char *only = getenv("CK_RUN_SUITE");
        if (only != NULL && only[0] != '\0' && strcmp(only, SUITES[i].name) != 0)
            continue;
        long started = hlt_now_ms();
        SRunner *sr = srunner_create(SUITES[i].make());
        srunner_run_all(sr, CK_NORMAL);
        int f = srunner_ntests_failed(sr);
        failed += f;
        srunner_free(sr);
        printf("--- suite %s: %s in %.1f s\n", SUITES[i].name, f == 0 ? "passed" : "FAILED",
               (double)(hlt_now_ms() - started) / 1000.0);
        fflush(stdout);
    }
    if (queue_fd >= 0)
        close(queue_fd);
    int late = hlt_late_failures();
    if (late > 0)
        fprintf(stderr, "%d failure(s) outside tests (daemon teardown), see above\n", late);
    curl_global_cleanup();
    return failed == 0 && late == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
