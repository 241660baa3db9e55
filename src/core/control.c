/*
 * The control socket (HERMESLINK_HOME/control.sock, 0600): its address, line framing, and the CLI's client. The server
 * is the daemon's (src/daemon/control_server.c).
 */
#include "hl/control.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "hl/fsutil.h"

#define MAX_REQUEST 65536

int hl_control_addr(const char *home, struct sockaddr_un *sa, char **path_out)
{
    char *path = hl_path_join(home, "control.sock");
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sa->sun_path)) {
        free(path);
        return -ENAMETOOLONG;
    }
    memcpy(sa->sun_path, path, strlen(path) + 1);
    *path_out = path;
    return 0;
}

void hl_control_set_timeouts(int fd, int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

char *hl_control_read_line(int fd)
{
    size_t cap = 1024, len = 0;
    char *buf = hl_malloc(cap);
    for (;;) {
        if (len + 1 >= cap) {
            if (cap >= MAX_REQUEST)
                goto Error;
            cap *= 2;
            buf = hl_realloc(buf, cap);
        }
        ssize_t n = read(fd, buf + len, cap - len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        char *nl = memchr(buf + len, '\n', (size_t)n);
        len += (size_t)n;
        if (nl != NULL) {
            len = (size_t)(nl - buf);
            break;
        }
    }
    if (len == 0)
        goto Error;
    buf[len] = '\0';
    return buf;
Error:
    free(buf);
    return NULL;
}

int hl_control_write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

json_t *hl_control_call(const char *home, json_t *request, int timeout_ms)
{
    struct sockaddr_un sa;
    char *path;
    if (hl_control_addr(home, &sa, &path) != 0)
        return NULL;
    free(path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return NULL;
    json_t *reply = NULL;
    hl_control_set_timeouts(fd, timeout_ms);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
        goto Exit;
    char *text = json_dumps(request, JSON_COMPACT);
    char *line = hl_asprintf("%s\n", text);
    int ok = hl_control_write_all(fd, line, strlen(line)) == 0;
    free(line);
    free(text);
    if (!ok)
        goto Exit;
    char *answer = hl_control_read_line(fd);
    if (answer != NULL) {
        reply = json_loads(answer, 0, NULL);
        free(answer);
    }
Exit:
    close(fd);
    return reply;
}
