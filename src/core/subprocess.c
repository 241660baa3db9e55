/*
 * Short helper commands with a deadline (hl/subprocess.h).
 */
#include "hl/subprocess.h"

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

extern char **environ;

char *hl_find_executable(const char *name)
{
    const char *path = getenv("PATH");
    if (name == NULL || *name == '\0' || strchr(name, '/') != NULL || path == NULL)
        return NULL;
    for (const char *p = path;;) {
        const char *end = strchr(p, ':');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        /* an empty entry means the current directory: never for a daemon that chdir'd to / */
        if (len > 0 && p[0] == '/') {
            char *cand = hl_asprintf("%.*s/%s", (int)len, p, name);
            struct stat st;
            if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) && access(cand, X_OK) == 0)
                return cand;
            free(cand);
        }
        if (end == NULL)
            return NULL;
        p = end + 1;
    }
}

void hl_spawnattr_clean(posix_spawnattr_t *attr, bool own_group)
{
    posix_spawnattr_init(attr);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(attr, &none);
    posix_spawnattr_setsigdefault(attr, &all);
    short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
    if (own_group) {
        posix_spawnattr_setpgroup(attr, 0);
        flags |= POSIX_SPAWN_SETPGROUP;
    }
    posix_spawnattr_setflags(attr, flags);
}

int hl_run_quiet(char *const argv[], int timeout_ms)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    /* nothing else of ours: sockets, eventfds and the pid file's lock stay in the daemon */
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    /* the daemon's threads block the signals its main thread waits for: the command gets a clean slate */
    posix_spawnattr_t attr;
    hl_spawnattr_clean(&attr, false);
    pid_t pid;
    int ret = posix_spawn(&pid, argv[0], &fa, &attr, argv, environ);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    if (ret != 0)
        return -ret;
    /* a few milliseconds between polls: these commands are rare and short, and a pidfd buys nothing here */
    for (int waited = 0;; waited += 5) {
        int status;
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        if (r < 0 && errno != EINTR)
            return -errno;
        if (waited >= timeout_ms) {
            kill(pid, SIGKILL);
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
            return HL_RUN_TIMED_OUT;
        }
        struct timespec ts = {0, 5 * 1000000};
        nanosleep(&ts, NULL);
    }
}
