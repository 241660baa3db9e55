#include "hl/daemon.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <urcu.h>

#include "hl/app.h"
#include "hl/auth.h"
#include "hl/pairing.h"
#include "hl/runproxy.h"
#include "hl/sse.h"
#include "hl/store.h"
#include "hl/db_schema.h"
#include "hl/token_table.h"
#include "hl/clock.h"
#include "hl/control.h"
#include "hl/fsutil.h"
#include "hl/log.h"
#include "hl/paths.h"
#include "hl/pidfile.h"
#include "hl/routes.h"
#include "hl/server.h"
#include "hl/snapshot.h"
#include "hl/system.h"

hl_app_t hl_app;

static void report_ready(int fd, const char *fmt, ...) HL_PRINTF(2, 3);

static void report_ready(int fd, const char *fmt, ...)
{
    if (fd < 0)
        return;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n > 0 && write(fd, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1) < 0)
        perror("ready pipe");
    close(fd);
}

static rlim_t raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 0;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    return rl.rlim_cur;
}

static int worker_count(int configured)
{
    if (configured > 0)
        return configured;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static void block_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int hl_daemon_run(const hl_daemon_options_t *opts)
{
    char err[512] = "";
    int exit_code = 1, pid_fd = -1, ret;
    hl_server_t *server = NULL;
    hl_router_t *router = NULL;
    int log_open = 0, store_started = 0, auth_started = 0, pairing_started = 0, runproxy_started = 0, system_started = 0,
        control_started = 0;
    sigset_t sigs;
    block_signals(&sigs); /* before any thread exists, so every thread inherits the mask and sigwait gets them */
    rcu_register_thread();

    memset(&hl_app, 0, sizeof(hl_app));
    hl_app.tls_port = -1;
    hl_app.started_at_ms = hl_now_ms();
    const char *tm = getenv("HERMESLINK_TEST_MODE");
    hl_app.test_mode = tm != NULL && strcmp(tm, "1") == 0;
    hl_config_defaults(&hl_app.config);

    if ((hl_app.home = hl_resolve_home()) == NULL || (hl_app.hermes_home = hl_resolve_hermes_home()) == NULL) {
        snprintf(err, sizeof(err), "cannot resolve the home directory (set HERMESLINK_HOME)");
        goto Exit;
    }
    if ((ret = hl_ensure_home(hl_app.home)) != 0) {
        snprintf(err, sizeof(err), "cannot create %s: %s", hl_app.home, strerror(-ret));
        goto Exit;
    }
    pid_t holder = 0;
    if ((pid_fd = hl_pidfile_acquire(hl_app.home, &holder)) < 0) {
        if (pid_fd == -EEXIST)
            snprintf(err, sizeof(err), "Hermes Link is already running (PID %d).", (int)holder);
        else
            snprintf(err, sizeof(err), "cannot create the pid file: %s", strerror(-pid_fd));
        goto Exit;
    }
    if (hl_config_load(&hl_app.config, hl_app.home, err, sizeof(err)) != 0)
        goto Exit;

    /* command-line overrides for this run only */
    const char *listen = opts->listen != NULL ? opts->listen : getenv("HERMESLINK_LISTEN_HOST");
    hl_app.listen_host = listen != NULL && *listen != '\0' ? listen : "0.0.0.0";
    int port = opts->port >= 0 ? opts->port : hl_app.config.port;
    int tls_port = opts->tls_port != -2 ? opts->tls_port : hl_app.config.tls_port;
    if (tls_port == 0 && opts->tls_port == -2)
        tls_port = -1; /* tlsPort 0 in config disables TLS */

    char *logs_dir = hl_path_join(hl_app.home, "logs");
    ret = hl_log_open(logs_dir, hl_log_level_from_name(hl_app.config.log_level), opts->foreground);
    free(logs_dir);
    if (ret != 0) {
        snprintf(err, sizeof(err), "cannot open the log file: %s", strerror(-ret));
        goto Exit;
    }
    log_open = 1;
    rlim_t nofile = raise_nofile();

    if (hl_identity_ensure(hl_app.home, &hl_app.identity, err, sizeof(err)) != 0)
        goto Exit;
    if (tls_port >= 0 && hl_tls_cert_ensure(hl_app.home, &hl_app.tls, err, sizeof(err)) != 0)
        goto Exit;
    hl_app.db_path = hl_path_join(hl_app.home, "link.db");
    if (hl_db_migrate(hl_app.db_path, err, sizeof(err)) != 0)
        goto Exit;
    hl_app.env = hl_detect_environment();

    hl_server_config_t scfg = {.listen_host = hl_app.listen_host,
                               .port = port,
                               .tls_port = tls_port,
                               .workers = worker_count(hl_app.config.workers),
                               .tls_cert_path = hl_app.tls.cert_path,
                               .tls_key_path = hl_app.tls.key_path};
    if (hl_server_bind(&server, &scfg, err, sizeof(err)) != 0)
        goto Exit;
    hl_app.port = hl_server_port(server);
    hl_app.tls_port = hl_server_tls_port(server);

    if ((ret = hl_log_start_thread()) != 0) {
        snprintf(err, sizeof(err), "cannot start the logger thread");
        goto Exit;
    }
    char *blobs_dir = hl_path_join(hl_app.home, "blobs");
    ret = hl_store_init(&hl_app.store, hl_app.db_path, blobs_dir);
    free(blobs_dir);
    if (ret != 0) {
        snprintf(err, sizeof(err), "cannot prepare the store");
        goto Exit;
    }
    if (hl_runproxy_init(&hl_app.runproxy, hl_app.store) != 0) {
        snprintf(err, sizeof(err), "cannot prepare the runproxy actor");
        goto Exit;
    }
    hl_sse_attach_store(hl_app.store);
    if (hl_store_start(hl_app.store) != 0) {
        snprintf(err, sizeof(err), "cannot start the store actor");
        goto Exit;
    }
    store_started = 1;
    hl_token_table_init();
    if (hl_auth_actor_init(&hl_app.auth) != 0 || hl_actor_start(&hl_app.auth.actor) != 0) {
        snprintf(err, sizeof(err), "cannot start the auth actor");
        goto Exit;
    }
    auth_started = 1;
    if (hl_pairing_actor_init(&hl_app.pairing) != 0 || hl_actor_start(&hl_app.pairing.actor) != 0) {
        snprintf(err, sizeof(err), "cannot start the pairing actor");
        goto Exit;
    }
    pairing_started = 1;
    if (hl_actor_start(hl_runproxy_actor(hl_app.runproxy)) != 0) {
        snprintf(err, sizeof(err), "cannot start the runproxy actor");
        goto Exit;
    }
    runproxy_started = 1;
    if (hl_system_actor_init(&hl_app.system) != 0 || hl_actor_start(&hl_app.system) != 0) {
        snprintf(err, sizeof(err), "cannot start the system actor");
        goto Exit;
    }
    system_started = 1;

    router = hl_routes_build(hl_app.test_mode);
    hl_dispatch_set_router(router);
    if (hl_server_run(server, err, sizeof(err)) != 0)
        goto Exit;
    if ((ret = hl_control_start(hl_app.home)) != 0) {
        snprintf(err, sizeof(err), "cannot open the control socket: %s", strerror(-ret));
        goto Exit;
    }
    control_started = 1;

    hl_log(HL_LOG_INFO, "Hermes Link started",
           json_pack("{s:s, s:i, s:i, s:s, s:i, s:I, s:b}", "version", HL_VERSION, "port", hl_app.port, "tls_port", hl_app.tls_port,
                     "listen_host", hl_app.listen_host, "workers", scfg.workers, "nofile_limit", (json_int_t)nofile, "test_mode",
                     hl_app.test_mode));
    printf("Hermes Link running on port %d\n", hl_app.port);
    if (hl_app.tls_port >= 0)
        printf("Hermes Link TLS on port %d\n", hl_app.tls_port);
    fflush(stdout);
    report_ready(opts->ready_fd, "ok %d %d\n", hl_app.port, hl_app.tls_port);

    int sig = 0;
    while (sigwait(&sigs, &sig) == 0 && sig == SIGHUP)
        ; /* no reload yet: config changes need a restart, as documented */
    hl_log(HL_LOG_INFO, "Hermes Link stopping", json_pack("{s:s}", "signal", sig == SIGINT ? "SIGINT" : "SIGTERM"));
    exit_code = 0;

Exit:
    if (exit_code != 0) {
        if (log_open)
            hl_log(HL_LOG_ERROR, err, NULL);
        else
            fprintf(stderr, "%s\n", err);
        if (log_open && !opts->foreground)
            fprintf(stderr, "%s\n", err);
        report_ready(opts->ready_fd, "error %s\n", err);
    }
    if (control_started)
        hl_control_stop();
    /* workers first (they finish in-flight requests, whose actors still run), then actors in reverse start order */
    if (server != NULL)
        hl_server_shutdown(server);
    if (system_started)
        hl_actor_stop(&hl_app.system);
    if (runproxy_started)
        hl_actor_stop(
            hl_runproxy_actor(hl_app.runproxy)); /* before the store: what the store hands it later is freed with its mailbox */
    if (pairing_started)
        hl_actor_stop(&hl_app.pairing.actor); /* before auth: a claim in flight still forwards to auth */
    if (auth_started)
        hl_actor_stop(&hl_app.auth.actor);
    if (store_started)
        hl_store_stop(hl_app.store);
    if (server != NULL)
        hl_server_free(server);
    if (system_started)
        hl_actor_dispose(&hl_app.system);
    hl_runproxy_dispose(hl_app.runproxy);
    if (pairing_started)
        hl_db_actor_dispose(&hl_app.pairing);
    if (auth_started)
        hl_db_actor_dispose(&hl_app.auth);
    hl_store_dispose(hl_app.store);
    hl_token_table_destroy();
    hl_router_free(router);
    hl_snapshot_clear();
    rcu_barrier();
    if (exit_code == 0)
        hl_log(HL_LOG_INFO, "Hermes Link stopped", NULL);
    hl_log_stop_thread();
    if (log_open)
        hl_log_close();
    if (pid_fd >= 0)
        hl_pidfile_release(hl_app.home, pid_fd);
    hl_tls_cert_dispose(&hl_app.tls);
    hl_identity_dispose(&hl_app.identity);
    hl_config_dispose(&hl_app.config);
    free(hl_app.db_path);
    free(hl_app.home);
    free(hl_app.hermes_home);
    rcu_unregister_thread();
    return exit_code;
}
