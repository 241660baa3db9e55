/*
 * The updater's child processes (`hermes version`, `hermes update --check`, `hermes update`): started with
 * posix_spawn, descriptors 0-2 only, stdout and stderr on one non-blocking pipe the actor's wait hook watches, in a
 * process group of their own so that stopping one stops what it started. Never waited for in a blocking way except
 * for the short grace of a stop.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hl/clock.h"
#include "hl/common.h"
#include "hl/fsutil.h"
#include "hl/subprocess.h"
#include "updater_internal.h"

extern char **environ;

/* the longest line kept whole; a longer one is cut (the status cuts further) */
#define PART_MAX 8192

int upd_proc_spawn(upd_proc_t *p, char *const argv[], const char *extra_env, uint64_t timeout_ms)
{
    memset(p, 0, sizeof(*p));
    hl_pipe_lines_init(&p->out, -1, PART_MAX);
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return -errno;
    /* the environment: the daemon's, plus one variable (replacing its old value) */
    size_t n = 0;
    while (environ[n] != NULL)
        ++n;
    char **envp = hl_calloc(n + 2, sizeof(*envp));
    size_t k = 0;
    size_t name_len = extra_env != NULL ? (size_t)(strchr(extra_env, '=') - extra_env) + 1 : 0;
    for (size_t i = 0; i < n; ++i)
        if (extra_env == NULL || strncmp(environ[i], extra_env, name_len) != 0)
            envp[k++] = environ[i];
    if (extra_env != NULL)
        envp[k++] = (char *)extra_env;
    envp[k] = NULL;

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    posix_spawnattr_t attr;
    hl_spawnattr_clean(&attr, true);
    pid_t pid;
    int ret = posix_spawn(&pid, argv[0], &fa, &attr, argv, envp);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    free(envp);
    close(fds[1]);
    if (ret != 0) {
        close(fds[0]);
        return -ret;
    }
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    p->out.fd = fds[0];
    p->pid = pid;
    p->status = -1;
    p->deadline = hl_monotonic_ms() + timeout_ms;
    return 0;
}

bool upd_proc_poll(upd_proc_t *p, void (*line)(void *, const char *, size_t), void *data)
{
    if (p->pid <= 0)
        return true;
    hl_pipe_lines_drain(&p->out, line, data);
    if (!p->reaped) {
        int status = 0;
        pid_t r = waitpid(p->pid, &status, WNOHANG);
        if (r == p->pid || (r < 0 && errno == ECHILD)) {
            p->reaped = true;
            p->status = r == p->pid ? status : -1;
        }
    }
    if (!p->reaped && hl_monotonic_ms() >= p->deadline) {
        p->timed_out = true;
        upd_proc_stop(p);
        return true;
    }
    if (p->reaped && p->out.fd >= 0) {
        /* exited, but something it started may hold the pipe: what is there now is all we wait for */
        hl_pipe_lines_drain(&p->out, line, data);
        if (p->out.fd >= 0 && hl_monotonic_ms() >= p->deadline) {
            close(p->out.fd);
            p->out.fd = -1;
        }
    }
    return p->reaped && p->out.fd < 0;
}

void upd_proc_stop(upd_proc_t *p)
{
    if (p->pid > 0 && !p->reaped) {
        kill(-p->pid, SIGTERM);
        int status = 0;
        for (int i = 0; i < 40; ++i) { /* 2 s of grace */
            pid_t r = waitpid(p->pid, &status, WNOHANG);
            if (r == p->pid || (r < 0 && errno == ECHILD)) {
                p->reaped = true;
                p->status = r == p->pid ? status : -1;
                break;
            }
            nanosleep(&(struct timespec){.tv_nsec = 50 * 1000 * 1000}, NULL);
        }
        if (!p->reaped) {
            kill(-p->pid, SIGKILL);
            p->status = waitpid(p->pid, &status, 0) == p->pid ? status : -1;
            p->reaped = true;
        }
    }
    if (p->pid > 0)
        kill(-p->pid, SIGKILL); /* whatever else of its group is left */
    hl_pipe_lines_close(&p->out);
}

void upd_proc_dispose(upd_proc_t *p)
{
    hl_pipe_lines_close(&p->out);
    memset(p, 0, sizeof(*p));
    hl_pipe_lines_init(&p->out, -1, PART_MAX);
}
