/*
 * sd_notify(3) by hand (hl/sd_notify.h): one datagram per state change, on a socket opened for it and closed after.
 */
#include "hl/sd_notify.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* taken once at start-up on the main thread, read-only afterwards */
static char *notify_socket;
static int notify_taken;

void hl_sd_notify_init(void)
{
    if (notify_taken)
        return;
    notify_taken = 1;
    const char *v = getenv("NOTIFY_SOCKET");
    if (v != NULL && *v != '\0')
        notify_socket = hl_strdup(v);
    unsetenv("NOTIFY_SOCKET");
}

void hl_sd_notify_restore_env(void)
{
    if (notify_socket != NULL)
        setenv("NOTIFY_SOCKET", notify_socket, 1);
}

int hl_sd_notify(const char *state)
{
    if (notify_socket == NULL)
        return 0;
    int r = hl_sd_notify_to(notify_socket, state);
    return r == 0 ? 1 : r;
}

int hl_sd_notify_to(const char *socket_name, const char *state)
{
    if (socket_name == NULL || state == NULL || (socket_name[0] != '/' && socket_name[0] != '@'))
        return -EINVAL;
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof(addr));
    addr.sun_family = AF_UNIX;
    size_t len = strlen(socket_name);
    /* a path needs its terminating NUL inside sun_path; an abstract name is exactly its bytes after the leading NUL */
    if (len + (socket_name[0] == '/') > sizeof(addr.sun_path) || len < 2)
        return -ENAMETOOLONG;
    memcpy(addr.sun_path, socket_name, len);
    if (socket_name[0] == '@')
        addr.sun_path[0] = '\0';
    socklen_t alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (socket_name[0] == '/'));
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    ssize_t n = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&addr, alen);
    int ret = n < 0 ? -errno : 0;
    close(fd);
    return ret;
}
