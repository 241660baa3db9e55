#include "hl/daemon.h"

#include <errno.h>
#include <stdatomic.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <urcu.h>

#include "hl/auth.h"
#include "hl/hermes_files.h"
#include "hl/hermes_manage.h"
#include "hl/pairing.h"
#include "hl/runproxy.h"
#include "hl/sse.h"
#include "hl/stats.h"
#include "hl/store.h"
#include "hl/store_import.h"
#include "hl/token_table.h"
#include "hl/clock.h"
#include "hl/control_server.h"
#include "hl/db_schema.h"
#include "hl/link.h"
#include "hl/fsutil.h"
#include "hl/log.h"
#include "hl/memory.h"
#include "hl/netaddr.h"
#include "hl/paths.h"
#include "hl/pidfile.h"
#include "hl/routes.h"
#include "hl/sd_notify.h"
#include "hl/server.h"
#include "hl/snapshot.h"
#include "hl/system.h"
#include "hl/updater.h"

/* The daemon's own state: the service facts it hands out, and the parts it starts and stops. Main thread only. */
typedef struct st_daemon_t {
    char *home, *hermes_home, *db_path;
    hl_config_t config;
    hl_identity_t identity;
    hl_tls_cert_t tls;
    hl_environment_t env;
    hl_link_t link;
    hl_device_counts_t device_counts;
    hl_store_t *store;
    hl_auth_t *auth;
    hl_pairing_t *pairing;
    hl_hermes_t *hermes;
    hl_runproxy_t *runproxy;
    hl_stats_t *stats;
    hl_system_t *system;
    hl_updater_t *updater;
} daemon_t;

static daemon_t dm;

/* ---- the actor registry: prepared in order, started in order, stopped and freed in reverse ---- */

/* True when the environment variable is set to "1". */
static bool env_is_1(const char *name)
{
    const char *v = getenv(name);
    return v != NULL && strcmp(v, "1") == 0;
}

static int store_init(daemon_t *d)
{
    char *blobs_dir = hl_path_join(d->home, "blobs");
    int ret = hl_store_init(&d->store, d->db_path, blobs_dir);
    free(blobs_dir);
    return ret;
}
static int store_start(daemon_t *d)
{
    return hl_store_start(d->store);
}
static void store_stop(daemon_t *d)
{
    hl_store_stop(d->store);
}
static void store_dispose(daemon_t *d)
{
    hl_store_dispose(d->store);
    d->store = NULL;
}

static int auth_init(daemon_t *d)
{
    return hl_auth_init(&d->auth, &d->link, &d->device_counts);
}
static int auth_start(daemon_t *d)
{
    hl_token_table_init(); /* the table the auth actor fills as it starts */
    return hl_actor_start(hl_auth_actor(d->auth));
}
static void auth_stop(daemon_t *d)
{
    hl_actor_stop(hl_auth_actor(d->auth));
}
static void auth_dispose(daemon_t *d)
{
    hl_auth_dispose(d->auth);
    d->auth = NULL;
}

static int pairing_init(daemon_t *d)
{
    return hl_pairing_init(&d->pairing, &d->link, d->auth);
}
static int pairing_start(daemon_t *d)
{
    return hl_actor_start(hl_pairing_actor(d->pairing));
}
static void pairing_stop(daemon_t *d)
{
    hl_actor_stop(hl_pairing_actor(d->pairing)); /* before auth (stopped after it): a claim in flight still forwards to auth */
}
static void pairing_dispose(daemon_t *d)
{
    hl_pairing_dispose(d->pairing);
    d->pairing = NULL;
}

static int hermes_init(daemon_t *d)
{
    int ret = hl_hermes_init(&d->hermes, &d->link);
    if (ret == 0)
        hl_hermes_set_store(d->hermes, d->store); /* a deleted profile's conversations go with it */
    return ret;
}
static int hermes_start(daemon_t *d)
{
    return hl_actor_start(hl_hermes_actor(d->hermes));
}
static void hermes_stop(daemon_t *d)
{
    hl_actor_stop(hl_hermes_actor(d->hermes));
}
static void hermes_dispose(daemon_t *d)
{
    hl_hermes_dispose(d->hermes);
    d->hermes = NULL;
}

static int runproxy_init(daemon_t *d)
{
    return hl_runproxy_init(&d->runproxy, &d->link, d->store, d->hermes); /* observes the store's commits */
}
static int runproxy_start(daemon_t *d)
{
    return hl_actor_start(hl_runproxy_actor(d->runproxy));
}
static void runproxy_stop(daemon_t *d)
{
    hl_actor_stop(hl_runproxy_actor(d->runproxy)); /* before the store: what the store hands it later is freed */
}
static void runproxy_dispose(daemon_t *d)
{
    hl_runproxy_dispose(d->runproxy);
    d->runproxy = NULL;
}

/* first in, last out: the store hands it every run that ends until the store itself has stopped */
static int stats_init(daemon_t *d)
{
    return hl_stats_init(&d->stats, d->db_path);
}
static int stats_start(daemon_t *d)
{
    hl_stats_observe(d->stats, d->store); /* the store is prepared (every part is before any starts), not started */
    return hl_actor_start(hl_stats_actor(d->stats));
}
static void stats_stop(daemon_t *d)
{
    hl_actor_stop(hl_stats_actor(d->stats));
}
static void stats_dispose(daemon_t *d)
{
    hl_stats_dispose(d->stats);
    d->stats = NULL;
}

static int system_init(daemon_t *d)
{
    int ret = hl_system_init(&d->system, &d->link, &d->device_counts);
    if (ret == 0)
        hl_system_set_hermes(d->system, d->hermes); /* the profile count of the status report */
    return ret;
}
static int system_start(daemon_t *d)
{
    return hl_actor_start(hl_system_actor(d->system));
}
static void system_stop(daemon_t *d)
{
    hl_actor_stop(hl_system_actor(d->system));
}
static void system_dispose(daemon_t *d)
{
    hl_system_dispose(d->system);
    d->system = NULL;
}

/* the Link version a feed check found goes into the published system status */
static void update_available(void *data, const char *version)
{
    hl_system_set_update_available(data, version);
}

/* a self-update installed a new binary: the main thread stops everything and re-executes it (reexec below) */
static atomic_bool restart_requested;
static char restart_exe[4096];

static void restart_self(void *data, const char *exe)
{
    (void)data;
    snprintf(restart_exe, sizeof(restart_exe), "%s", exe);
    atomic_store(&restart_requested, true);
    kill(getpid(), SIGHUP); /* the main thread's sigwait */
}

static int updater_init(daemon_t *d)
{
    int ret = hl_updater_init(&d->updater, &d->link);
    if (ret == 0) {
        hl_updater_observe_available(d->updater, update_available, d->system);
        hl_updater_on_restart(d->updater, restart_self, NULL);
    }
    return ret;
}
static int updater_start(daemon_t *d)
{
    return hl_actor_start(hl_updater_actor(d->updater));
}
static void updater_stop(daemon_t *d)
{
    hl_actor_stop(hl_updater_actor(d->updater)); /* a running hermes update is stopped and recorded as failed */
}
static void updater_dispose(daemon_t *d)
{
    hl_updater_dispose(d->updater);
    d->updater = NULL;
}

typedef struct st_part_t {
    const char *name;
    int (*init)(daemon_t *d);
    int (*start)(daemon_t *d);
    void (*stop)(daemon_t *d);
    void (*dispose)(daemon_t *d);
} part_t;

static const part_t PARTS[] = {
    {"stats", stats_init, stats_start, stats_stop, stats_dispose},
    {"store", store_init, store_start, store_stop, store_dispose},
    {"auth", auth_init, auth_start, auth_stop, auth_dispose},
    {"pairing", pairing_init, pairing_start, pairing_stop, pairing_dispose},
    {"hermes", hermes_init, hermes_start, hermes_stop, hermes_dispose},
    {"runproxy", runproxy_init, runproxy_start, runproxy_stop, runproxy_dispose},
    {"system", system_init, system_start, system_stop, system_dispose},
    {"updater", updater_init, updater_start, updater_stop, updater_dispose},
};

/* how long the re-executed binary has to answer before the watchdog puts the old one back */
#define RESTART_HEALTH_TIMEOUT_S "20"
#define MEMORY_RELEASE_S 30 /* how often the idle main thread returns freed memory to the system */

/*
 * Re-executes the freshly installed binary in this process (same pid, same stdio) with the ports and listen host this
 * process served, after a watchdog running the previous binary was forked to check that it answers (and to roll back
 * and restart the old binary if it does not: src/cli/update_watchdog.c). Returns only when exec failed.
 */
static void reexec(const char *exe, int port, int tls_port, const char *listen, const char *probe_host, int foreground)
{
    char p[16], t[16], pid[16];
    snprintf(p, sizeof(p), "%d", port);
    snprintf(t, sizeof(t), "%d", tls_port);
    snprintf(pid, sizeof(pid), "%d", (int)getpid());
    char previous[4200];
    snprintf(previous, sizeof(previous), "%s.previous", exe);
    sigset_t none;
    sigemptyset(&none);
    pid_t w = fork();
    if (w == 0) {
        pthread_sigmask(SIG_SETMASK, &none, NULL);
        char *argv[] = {previous, "__update-watchdog", pid,         (char *)probe_host,       p,
                        t,        (char *)listen,      (char *)exe, RESTART_HEALTH_TIMEOUT_S, NULL};
        execv(previous, argv);
        _exit(127);
    }
    if (w < 0)
        fprintf(stderr, "cannot start the update watchdog: %s\n", strerror(errno));
    char *argv[] = {(char *)exe, "run", "--port", p, "--tls-port", t, "--listen", (char *)listen, foreground ? NULL : "--detached",
                    NULL};
    hl_sd_notify_restore_env(); /* for the new image only: the watchdog forked above is not the service */
    execv(exe, argv);
    fprintf(stderr, "cannot run the new binary: %s\n", strerror(errno));
}

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

/* The allocator for a long-lived server (tests/RELIABILITY.md, "Soak"): glibc gives each new thread its own arena up
 * to 8 per core, and the daemon's ~20 threads (workers, actors, readers) would each keep freed pages of their own; one
 * per core (at least two) is as many as can allocate at once, and in the soak used no more CPU per request than four.
 * Blocks of 128 KiB and more (upload and blob buffers, large answers) get their own mappings, so they never leave
 * holes in the arenas. MALLOC_ARENA_MAX / MALLOC_MMAP_THRESHOLD_ in the environment still decide when set. SQLite's
 * heap (its nine connections' page caches, which otherwise fill as link.db grows, up to 2 MB each) is capped at
 * SQLITE_HEAP_LIMIT in all: past it the connections recycle cache pages. */
#define MMAP_THRESHOLD (128 * 1024)
#define SQLITE_HEAP_LIMIT (8LL * 1024 * 1024)
static void tune_allocator(void)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int arenas = getenv("MALLOC_ARENA_MAX") != NULL ? 0 : cores >= 2 && cores <= 128 ? (int)cores : 2;
    (void)hl_memory_tune(arenas, getenv("MALLOC_MMAP_THRESHOLD_") != NULL ? 0 : MMAP_THRESHOLD);
    (void)hl_memory_limit_sqlite(SQLITE_HEAP_LIMIT);
}

/* The main thread's life while serving: wait for SIGTERM/SIGINT (or a SIGHUP that asks for the re-exec), and every
 * MEMORY_RELEASE_S seconds hand the free pages the allocator's arenas keep back to the system. Returns the signal. */
static int wait_for_stop(const sigset_t *sigs)
{
    const struct timespec period = {.tv_sec = MEMORY_RELEASE_S};
    for (;;) {
        int sig = sigtimedwait(sigs, NULL, &period);
        if (sig < 0) {
            if (errno == EAGAIN)
                (void)hl_memory_release();
            else if (errno != EINTR)
                return SIGTERM;
            continue;
        }
        if (sig != SIGHUP || atomic_load(&restart_requested))
            return sig;
        /* no reload yet: config changes need a restart, as documented */
    }
}

int hl_daemon_run(const hl_daemon_options_t *opts)
{
    int restart_port = -1, restart_tls_port = -1;
    const char *restart_listen = NULL, *restart_probe = NULL;
    char err[512] = "";
    int exit_code = 1, pid_fd = -1, ret;
    hl_server_t *server = NULL;
    hl_router_t *router = NULL;
    int log_open = 0, control_started = 0;
    size_t num_init = 0, num_started = 0;
    sigset_t sigs;
    block_signals(&sigs); /* before any thread exists, so every thread inherits the mask and sigwait gets them */
    tune_allocator();     /* likewise: glibc reads the arena cap when a thread first allocates */
    hl_sd_notify_init();  /* likewise: it changes the environment */
    umask(077);           /* the CLI sets it too; the files of the home are private whoever calls this */
    /* an allocation jansson cannot make aborts (hl_fatal) like every other: no JSON value silently goes missing */
    json_set_alloc_funcs(hl_malloc, free);
    rcu_register_thread();

    memset(&dm, 0, sizeof(dm));
    dm.link.config = &dm.config;
    dm.link.identity = &dm.identity;
    dm.link.tls = &dm.tls;
    dm.link.env = &dm.env;
    dm.link.tls_port = -1;
    dm.link.started_at_ms = hl_now_ms();
    dm.link.test_mode = env_is_1("HERMESLINK_TEST_MODE");
    hl_config_defaults(&dm.config);

    if ((dm.home = hl_resolve_home()) == NULL || (dm.hermes_home = hl_resolve_hermes_home()) == NULL) {
        snprintf(err, sizeof(err), "cannot resolve the home directory (set HERMESLINK_HOME)");
        goto Exit;
    }
    if ((ret = hl_ensure_home(dm.home)) != 0) {
        snprintf(err, sizeof(err), "cannot create %s: %s", dm.home, strerror(-ret));
        goto Exit;
    }
    pid_t holder = 0;
    if ((pid_fd = hl_pidfile_acquire(dm.home, &holder)) < 0) {
        if (pid_fd == -EEXIST)
            snprintf(err, sizeof(err), "Hermes Link is already running (PID %d).", (int)holder);
        else
            snprintf(err, sizeof(err), "cannot create the pid file: %s", strerror(-pid_fd));
        goto Exit;
    }
    if (hl_config_load(&dm.config, dm.home, err, sizeof(err)) != 0)
        goto Exit;

    /* command-line overrides for this run only */
    const char *listen = opts->listen != NULL ? opts->listen : getenv("HERMESLINK_LISTEN_HOST");
    dm.link.listen_host = listen != NULL && *listen != '\0' ? listen : "0.0.0.0";
    dm.link.start_flags.port = opts->port;
    dm.link.start_flags.tls_port = opts->tls_port;
    dm.link.start_flags.listen = listen != NULL && *listen != '\0' ? listen : NULL;
    int port = opts->port >= 0 ? opts->port : dm.config.port;
    int tls_port = opts->tls_port != -2 ? opts->tls_port : dm.config.tls_port;
    if (tls_port == 0 && opts->tls_port == -2)
        tls_port = -1; /* tlsPort 0 in config disables TLS */

    char *logs_dir = hl_path_join(dm.home, "logs");
    ret = hl_log_open(logs_dir, hl_log_level_from_name(dm.config.log_level), opts->foreground);
    free(logs_dir);
    if (ret != 0) {
        snprintf(err, sizeof(err), "cannot open the log file: %s", strerror(-ret));
        goto Exit;
    }
    log_open = 1;
    rlim_t nofile = raise_nofile();

    if (hl_identity_ensure(dm.home, &dm.identity, err, sizeof(err)) != 0)
        goto Exit;
    if (tls_port >= 0 && hl_tls_cert_ensure(dm.home, &dm.tls, err, sizeof(err)) != 0)
        goto Exit;
    dm.db_path = hl_path_join(dm.home, "link.db");
    dm.link.home = dm.home;
    dm.link.hermes_home = dm.hermes_home;
    dm.link.db_path = dm.db_path;
    /* a home shared with the Node HermesLink: its link.db (same name) moves to link.node.db for `import`, untouched */
    if (hl_node_db_set_aside(dm.home, err, sizeof(err)) != 0)
        goto Exit;
    if (hl_db_migrate(dm.db_path, err, sizeof(err)) != 0)
        goto Exit;
    dm.env = hl_detect_environment();

    /* lanPlainHttp false: the plain port on loopback only (the listen host itself when it already is loopback) */
    const char *plain_host = dm.link.plain_host =
        dm.config.lan_plain_http || hl_host_is_loopback(dm.link.listen_host) ? dm.link.listen_host : "127.0.0.1";
    hl_server_config_t scfg = {.listen_host = dm.link.listen_host,
                               .plain_host = plain_host,
                               .no_plain_http2 = !dm.config.plain_http2,
                               .port = port,
                               .tls_port = tls_port,
                               .workers = worker_count(dm.config.workers),
                               .tls_cert_path = dm.tls.cert_path,
                               .tls_key_path = dm.tls.key_path,
                               .max_connections = dm.config.max_connections,
                               .max_connections_per_address = dm.config.max_connections_per_address,
                               .trusted_proxies = dm.config.trusted_proxies,
                               .num_trusted_proxies = dm.config.num_trusted_proxies,
                               .max_body_bytes_per_address = (uint64_t)dm.config.max_body_mib_per_address << 20,
                               .count_loopback = dm.link.test_mode && env_is_1("HERMESLINK_TEST_LOOPBACK_COUNTS")};
    hl_sse_set_max_streams_per_device(dm.config.max_streams_per_device);
    if (hl_server_bind(&server, &scfg, err, sizeof(err)) != 0)
        goto Exit;
    dm.link.port = hl_server_port(server);
    dm.link.tls_port = hl_server_tls_port(server);

    if ((ret = hl_log_start_thread()) != 0) {
        snprintf(err, sizeof(err), "cannot start the logger thread");
        goto Exit;
    }
    /* every part is prepared before any starts, so that observers are registered before the store commits anything */
    for (; num_init < HL_ARRAY_SIZE(PARTS); ++num_init) {
        if (PARTS[num_init].init(&dm) != 0) {
            snprintf(err, sizeof(err), "cannot prepare the %s actor", PARTS[num_init].name);
            goto Exit;
        }
    }
    hl_sse_attach_store(dm.store);
    hl_sse_attach_runproxy(dm.runproxy);
    hl_sse_attach_hermes(dm.hermes);
    hl_sse_attach_updater(dm.updater);
    for (; num_started < HL_ARRAY_SIZE(PARTS); ++num_started) {
        if (PARTS[num_started].start(&dm) != 0) {
            snprintf(err, sizeof(err), "cannot start the %s actor", PARTS[num_started].name);
            goto Exit;
        }
    }

    hl_routes_deps_t deps = {.link = &dm.link,
                             .store = dm.store,
                             .auth = dm.auth,
                             .pairing = dm.pairing,
                             .system = dm.system,
                             .runproxy = dm.runproxy,
                             .hermes = dm.hermes,
                             .updater = dm.updater,
                             .stats = dm.stats};
    router = hl_routes_build(&deps);
    hl_dispatch_set_router(router);
    hl_dispatch_set_trusted_proxies(&dm.config);
    if (hl_server_run(server, err, sizeof(err)) != 0)
        goto Exit;
    hl_control_set_system(dm.system);
    hl_control_set_import(dm.auth, dm.store, &dm.device_counts);
    if ((ret = hl_control_start(&dm.link, dm.pairing)) != 0) {
        snprintf(err, sizeof(err), "cannot open the control socket: %s", strerror(-ret));
        goto Exit;
    }
    control_started = 1;

    hl_log(HL_LOG_INFO, "Hermes Link started",
           json_pack("{s:s, s:i, s:i, s:s, s:s, s:b, s:i, s:I, s:b}", "version", HL_VERSION, "port", dm.link.port, "tls_port",
                     dm.link.tls_port, "listen_host", dm.link.listen_host, "plain_host", plain_host, "plain_http2",
                     dm.config.plain_http2, "workers", scfg.workers, "nofile_limit", (json_int_t)nofile, "test_mode",
                     dm.link.test_mode));
    if (dm.link.tls_port < 0 && !dm.config.lan_plain_http)
        hl_log(HL_LOG_WARN,
               "LAN devices cannot reach Hermes Link: lanPlainHttp is false and TLS is disabled, so it listens on "
               "loopback only (enable TLS with tlsPort, or set lanPlainHttp to true)",
               json_pack("{s:s, s:i}", "plain_host", plain_host, "port", dm.link.port));
    printf("Hermes Link running on port %d\n", dm.link.port);
    if (dm.link.tls_port >= 0)
        printf("Hermes Link TLS on port %d\n", dm.link.tls_port);
    fflush(stdout);
    report_ready(opts->ready_fd, "ok %d %d\n", dm.link.port, dm.link.tls_port);
    char state[128];
    snprintf(state, sizeof(state), "READY=1\nSTATUS=Serving on port %d", dm.link.port);
    (void)hl_sd_notify(state);

    int sig = wait_for_stop(&sigs);
    if (atomic_load(&restart_requested)) {
        /* same pid after the exec: still the service's main process, which says READY=1 again once it listens */
        (void)hl_sd_notify("RELOADING=1\nSTATUS=Restarting with its new binary");
        printf("Hermes Link restarting with its new binary\n");
        fflush(stdout);
        hl_log(HL_LOG_INFO, "Hermes Link restarting with its new binary", NULL);
        /* what the re-executed process is told to serve: this one's bound ports, not a "0" that would pick others */
        restart_port = dm.link.port;
        restart_tls_port = dm.link.tls_port;
        restart_listen = dm.link.listen_host;
        restart_probe = strcmp(plain_host, "0.0.0.0") == 0 ? "127.0.0.1" : strcmp(plain_host, "::") == 0 ? "::1" : plain_host;
    } else {
        (void)hl_sd_notify("STOPPING=1\nSTATUS=Stopping");
        printf("Hermes Link stopping (%s)\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
        fflush(stdout);
        hl_log(HL_LOG_INFO, "Hermes Link stopping", json_pack("{s:s}", "signal", sig == SIGINT ? "SIGINT" : "SIGTERM"));
    }
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
        char failed[600];
        snprintf(failed, sizeof(failed), "STATUS=Failed to start: %s", err);
        (void)hl_sd_notify(failed);
    }
    if (control_started)
        hl_control_stop();
    /* workers first (they finish in-flight requests, whose actors still run), then actors in reverse start order */
    if (server != NULL)
        hl_server_shutdown(server);
    for (size_t k = num_started; k-- > 0;)
        PARTS[k].stop(&dm);
    if (server != NULL)
        hl_server_free(server);
    for (size_t k = num_init; k-- > 0;)
        PARTS[k].dispose(&dm);
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
        hl_pidfile_release(dm.home, pid_fd);
    hl_tls_cert_dispose(&dm.tls);
    hl_identity_dispose(&dm.identity);
    hl_config_dispose(&dm.config);
    free(dm.db_path);
    free(dm.home);
    free(dm.hermes_home);
    rcu_unregister_thread();
    if (exit_code == 0 && restart_listen != NULL) {
        reexec(restart_exe, restart_port, restart_tls_port, restart_listen, restart_probe, opts->foreground);
        exit_code = 1; /* exec failed: the watchdog sees this process end and restores the old binary */
    }
    return exit_code;
}
