/* A network namespace of the test's own, for tests that must bind the wildcard address or a LAN address (harness.h). */
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

/* Writes `text` to a /proc/self file (user namespace maps). */
static void write_proc(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    ck_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
    ck_assert_msg(write(fd, text, strlen(text)) == (ssize_t)strlen(text), "write %s: %s", path, strerror(errno));
    close(fd);
}

/* ioctl on an interface request; the test fails with `what` when the kernel refuses. */
static void if_ioctl(int fd, unsigned long request, struct ifreq *ifr, const char *what)
{
    ck_assert_msg(ioctl(fd, request, ifr) == 0, "%s (%s): %s", what, ifr->ifr_name, strerror(errno));
}

struct in_addr hlt_private_network(void)
{
    uid_t uid = geteuid();
    gid_t gid = getegid();
    int flags = CLONE_NEWNET | (uid != 0 ? CLONE_NEWUSER : 0);
    ck_assert_msg(unshare(flags) == 0,
                  "cannot enter a network namespace of the test's own (unshare: %s); this test binds the wildcard "
                  "address and must not do so on the machine's interfaces",
                  strerror(errno));
    if (uid != 0) {
        /* the same ids inside, so files and SO_PEERCRED checks look as they do outside */
        char map[64];
        write_proc("/proc/self/setgroups", "deny");
        snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)uid, (unsigned)uid);
        write_proc("/proc/self/uid_map", map);
        snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)gid, (unsigned)gid);
        write_proc("/proc/self/gid_map", map);
    }
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ck_assert(fd >= 0);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
    if_ioctl(fd, SIOCGIFFLAGS, &ifr, "read the loopback's flags");
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    if_ioctl(fd, SIOCSIFFLAGS, &ifr, "bring the loopback up");
    /* the stand-in LAN address, as an alias of the loopback (the namespace has no other device) */
    struct in_addr lan;
    ck_assert(inet_pton(AF_INET, HLT_PRIVATE_LAN_ADDR, &lan) == 1);
    memset(&ifr, 0, sizeof(ifr));
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo:lan");
    struct sockaddr_in *sa = (struct sockaddr_in *)(void *)&ifr.ifr_addr;
    sa->sin_family = AF_INET;
    sa->sin_addr = lan;
    if_ioctl(fd, SIOCSIFADDR, &ifr, "add the stand-in LAN address");
    sa->sin_addr.s_addr = htonl(0xffffffffu);
    if_ioctl(fd, SIOCSIFNETMASK, &ifr, "set its netmask");
    close(fd);
    return lan;
}
